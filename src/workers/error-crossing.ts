/**
 * Errors thrown in a worker thread, rebuilt on the main thread from the wire format that
 * `thread-entry.cjs` writes (`toWire` there). Structured cloning alone keeps only the message
 * and stack of an Error and drops its own properties; the wire format keeps `name`,
 * `message`, the worker's `stack`, `code`, `cause` (recursively) and every own enumerable
 * property whose value can be cloned.
 */

/** One thrown value as it crosses from a thread. */
export type WireError =
  | { kind: 'skip' }
  | { kind: 'value'; value: unknown }
  | {
      kind: 'error';
      name: string;
      message: string;
      stack?: string;
      props: Record<string, unknown>;
      hasCause: boolean;
      cause?: WireError;
    };

/** Built-in error classes are rebuilt as themselves, so `instanceof TypeError` still holds. */
const BUILT_IN: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** A sentinel standing for a thrown `SkipEntry`: the item is skipped, not failed. */
export const SKIPPED = Symbol('paipa.skipped');

/** The thrown value: an Error as described above, the cloned value, or `SKIPPED`. */
export function fromWire(wire: WireError): unknown {
  if (wire.kind === 'skip') return SKIPPED;
  if (wire.kind === 'value') return wire.value;
  const Ctor = Object.hasOwn(BUILT_IN, wire.name) ? BUILT_IN[wire.name] : Error;
  const err = new Ctor(wire.message);
  if (err.name !== wire.name) hidden(err, 'name', wire.name);
  if (wire.stack !== undefined) hidden(err, 'stack', wire.stack);
  if (wire.hasCause)
    hidden(err, 'cause', fromWire(wire.cause ?? { kind: 'value', value: undefined }));
  Object.assign(err, wire.props);
  return err;
}

/** Defined as V8 defines `stack` and `cause`: own, writable, not enumerable. */
function hidden(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    writable: true,
    configurable: true,
    enumerable: false,
  });
}
