/** Promise-or-value helpers: the hot path stays synchronous for steps that are. */

import { types } from 'node:util';

const objectPrototype = Object.prototype;
const getPrototypeOf = Object.getPrototypeOf;
const hasOwn = Object.hasOwn;
const isProxy = types.isProxy;

/**
 * True when `value` has a callable `then`, as promise resolution decides.
 *
 * Plain objects (prototype `Object.prototype`, no proxy) are answered by an own-property check
 * first: looking up a missing `then` on the records a step returns cost ~90 ns a result (the
 * look-up walks to the prototype for every new object), more than the step itself on S9's
 * records; `hasOwn` and the prototype's check come to a third of that. The answer is the same:
 * such an object's `then` is its own or `Object.prototype`'s.
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  if (value === null) return false;
  if (typeof value !== 'object') {
    return typeof value === 'function' && typeof (value as { then?: unknown }).then === 'function';
  }
  if (
    getPrototypeOf(value) === objectPrototype &&
    !isProxy(value) &&
    !hasOwn(value, 'then') &&
    !('then' in objectPrototype)
  ) {
    return false;
  }
  return typeof (value as { then?: unknown }).then === 'function';
}

/** Streams want an Error to destroy with; a thrown primitive is kept as the cause. */
export function toError(err: unknown): Error {
  if (err !== null && typeof err === 'object') return err as Error;
  return new Error(`A step threw a non-error value: ${String(err)}`, { cause: err });
}
