import { setMaxListeners } from 'node:events';
/**
 * Error types and helpers. One error class with a `code` for the library's own failures
 * (state misuse, no input, abort); argument mistakes are `TypeError`/`RangeError` with a
 * `code` too, so callers can branch on `err.code` without string matching.
 */

/** Codes carried by errors this library creates. */
export type PaipaErrorCode =
  | 'ERR_PAIPA_INVALID_ARG'
  | 'ERR_PAIPA_STATE'
  | 'ERR_PAIPA_NO_INPUT'
  | 'ERR_PAIPA_TIMEOUT'
  | 'ERR_PAIPA_FAILED'
  | 'ERR_PAIPA_WORKER_LOAD'
  | 'ERR_PAIPA_WORKER_EXITED'
  | 'ERR_PAIPA_REDIS'
  | 'ABORT_ERR';

/**
 * An error raised by the pipeline itself (not by a step). `code` tells which kind:
 * `ERR_PAIPA_STATE` (a method called at the wrong time, e.g. `put()` after `finish()`),
 * `ERR_PAIPA_NO_INPUT` (`run()` with nothing to run), `ERR_PAIPA_TIMEOUT` (a step call that
 * did not settle within the step's `timeout`), `ERR_PAIPA_FAILED` (`put()`, `send()` or
 * `ready()` on a pipeline that has failed: `cause` is the failure), `ABORT_ERR` (see
 * `AbortError`), `ERR_PAIPA_WORKER_LOAD` (a worker step's module failed to load or lacks the
 * export), `ERR_PAIPA_WORKER_EXITED` (a worker step's thread died and the items' retries ran
 * out) and `ERR_PAIPA_REDIS` (`paipa/redis`: Redis unreachable at start, or away for longer
 * than `reconnectLimitMs`; the message names the address).
 *
 * @example
 * try {
 *   await p.run();
 * } catch (err) {
 *   if (err instanceof PaipaError && err.code === 'ERR_PAIPA_NO_INPUT') console.log('nothing to do');
 *   else throw err;
 * }
 */
export class PaipaError extends Error {
  readonly code: PaipaErrorCode;
  constructor(code: PaipaErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PaipaError';
    this.code = code;
  }
}

/**
 * The controller behind a stage's `ctx.signal`. Every instance of a step may hand the signal
 * to something that listens on it (timers, fetch): with more than ten instances Node would
 * warn of a listener leak although nothing leaks, so the signal has no listener limit.
 */
export function unlimitedController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/**
 * Raised when a pipeline is aborted through `options.signal` (same name and code as Node's).
 * The abort reason is its `cause`.
 *
 * @example
 * const p = new Pipeline(steps, { signal: AbortSignal.timeout(60_000) });
 * p.putIterable(jobs);
 * await p.run().catch((err) => {
 *   if (err instanceof AbortError) console.log('gave up after a minute:', err.cause);
 *   else throw err;
 * });
 */
export class AbortError extends PaipaError {
  constructor(message = 'The pipeline was aborted', options?: { cause?: unknown }) {
    super('ABORT_ERR', message, options);
    this.name = 'AbortError';
  }
}

/**
 * Throw `new SkipEntry()` (or the class itself) from a step to emit nothing for the current
 * item. It is counted as skipped, never as a failure, and never retried.
 *
 * @example
 * const evensOnly = (n: number) => { if (n % 2) throw new SkipEntry(); return n; };
 */
export class SkipEntry extends Error {
  constructor(message = 'entry skipped') {
    super(message);
    this.name = 'SkipEntry';
  }
}

export function isSkip(err: unknown): boolean {
  return err === SkipEntry || err instanceof SkipEntry;
}

/** Where a step error came from; set on the error object as `err.paipa`. */
export interface ErrorOrigin {
  /** The step's name (function or class name, or the `name` option). */
  step: string;
  /** Which parallel instance of the step raised it (0-based); -1 for the step's `keyBy`. */
  instance: number;
}

/**
 * Marks an error with the step that raised it, keeping the object's identity: callers get
 * back the very object the step threw. The first annotation wins, so an error re-raised by a
 * later stage still names the step where it started. Primitives and frozen objects cannot
 * carry the mark and are returned unchanged.
 */
export function annotateError<E>(err: E, origin: ErrorOrigin): E {
  if (err !== null && typeof err === 'object' && !('paipa' in err)) {
    try {
      Object.defineProperty(err, 'paipa', {
        value: origin,
        enumerable: false,
        configurable: true,
        writable: true,
      });
    } catch {
      // frozen or exotic object: identity matters more than the annotation
    }
  }
  return err;
}

/**
 * Which step (and which of its instances) raised an error that failed a pipeline; `undefined`
 * for errors that did not come from a step. The error object itself is the one the step threw.
 *
 * @example
 * await p.run().catch((err) => {
 *   console.error(`step ${errorOrigin(err)?.step} failed:`, err);
 * });
 */
export function errorOrigin(err: unknown): ErrorOrigin | undefined {
  if (err !== null && typeof err === 'object' && 'paipa' in err) {
    return (err as { paipa: ErrorOrigin }).paipa;
  }
  return undefined;
}

export function invalidArg(message: string): TypeError {
  const err = new TypeError(message) as TypeError & { code: PaipaErrorCode };
  err.code = 'ERR_PAIPA_INVALID_ARG';
  return err;
}

export function outOfRange(message: string): RangeError {
  const err = new RangeError(message) as RangeError & { code: PaipaErrorCode };
  err.code = 'ERR_PAIPA_INVALID_ARG';
  return err;
}

/** Node's streams report a stream closed before its end with this code. */
export function isPrematureClose(err: unknown): boolean {
  return (
    err !== null &&
    typeof err === 'object' &&
    ((err as { code?: unknown }).code === 'ERR_STREAM_PREMATURE_CLOSE' ||
      (err as { message?: unknown }).message === 'premature close')
  );
}

/** Describes a value for an error message: type and a short rendering. */
export function describe(value: unknown): string {
  if (typeof value === 'function') return `function ${value.name || '(anonymous)'}`;
  if (typeof value === 'string') return `"${value}" (string)`;
  if (value === null) return 'null';
  if (typeof value === 'object') {
    try {
      const json = JSON.stringify(value);
      return `${json && json.length > 60 ? json.slice(0, 57) + '...' : json} (${Array.isArray(value) ? 'array' : 'object'})`;
    } catch {
      return `[${Object.prototype.toString.call(value)}]`;
    }
  }
  return `${String(value)} (${typeof value})`;
}
