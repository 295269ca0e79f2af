/** Promise-or-value helpers: the hot path stays synchronous for steps that are. */

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Streams want an Error to destroy with; a thrown primitive is kept as the cause. */
export function toError(err: unknown): Error {
  if (err !== null && typeof err === 'object') return err as Error;
  return new Error(`A step threw a non-error value: ${String(err)}`, { cause: err });
}
