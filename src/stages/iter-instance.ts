import { Duplex } from 'readable-stream';
import { AbortError, describe, invalidArg } from '../errors/errors';
import { isThenable, toError } from '../util/thenable';
import type { IterStepFunction, StepContext } from '../types';
import { unlinkReadableBuffer } from '../util/unlinked-buffer';
import type { AckTracker } from '../delivery/ack-tracker';
import { Attribution } from '../delivery/attribution';
import { Tracked } from '../delivery/tracked';

type Callback = (err?: Error | null) => void;

/**
 * One instance of an iterator step as a Duplex: writes feed an async iterable that the user's
 * function consumes, and what the function yields is read out on demand.
 *
 * Why not `Duplex.from(generatorFn)`: its teardown awaits the generator's `return()`, which
 * never settles while the generator is parked awaiting its next input, so a failure elsewhere
 * in the pipeline would hang the whole teardown. Here teardown rejects the parked input read
 * (the user's loop sees an AbortError, its `finally` runs), asks the output iterator to
 * `return()` without waiting, and closes at once.
 *
 * Bound: one item handed over at a time plus the writable buffer (`highWaterMark`); the
 * readable side pulls one output per `_read` until `push()` reports a full buffer.
 */
export class IterInstance extends Duplex {
  #held: { chunk: unknown; cb: Callback } | null = null;
  #inputEnded = false;
  #waiting: { resolve: (r: IteratorResult<unknown>) => void; reject: (e: unknown) => void } | null =
    null;
  #output: Iterator<unknown> | AsyncIterator<unknown> | null = null;
  #outputIsAsync = false;
  #pulling = false;
  /** Set when the function stopped iterating before its input ended (e.g. a `take`). */
  #discarding = false;

  /** Acknowledgements (only with a tracker): which inputs each output is attributed to. */
  readonly #attribution: Attribution | null;

  constructor(
    private readonly fn: IterStepFunction,
    private readonly ctx: StepContext,
    highWaterMark: number,
    private readonly tracker: AckTracker | null = null,
  ) {
    super({ objectMode: true, highWaterMark });
    unlinkReadableBuffer(this);
    this.#attribution = tracker && new Attribution(tracker);
  }

  /** The async iterable the user's function consumes: one pending read at a time. */
  #input(): AsyncIterable<unknown> {
    const next = (): Promise<IteratorResult<unknown>> => {
      if (this.destroyed) return Promise.reject(new AbortError('The pipeline was torn down'));
      const held = this.#held;
      if (held !== null) {
        this.#held = null;
        held.cb();
        return Promise.resolve({ done: false, value: this.#pulled(held.chunk) });
      }
      if (this.#inputEnded) return Promise.resolve({ done: true, value: undefined });
      return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
    };
    return { [Symbol.asyncIterator]: () => ({ next }) };
  }

  #start(): void {
    let output: Iterable<unknown> | AsyncIterable<unknown>;
    try {
      output = this.fn(this.#input(), this.ctx);
    } catch (err) {
      this.destroy(toError(err));
      return;
    }
    const asyncIt = (output as AsyncIterable<unknown>)?.[Symbol.asyncIterator];
    const syncIt = (output as Iterable<unknown>)?.[Symbol.iterator];
    if (typeof asyncIt === 'function') {
      this.#output = asyncIt.call(output);
      this.#outputIsAsync = true;
    } else if (typeof syncIt === 'function') {
      this.#output = syncIt.call(output);
    } else {
      const hint = isThenable(output)
        ? ': it returned a Promise, so write it as an async generator (async function*)'
        : '';
      this.destroy(
        invalidArg(
          `iterStep ${this.ctx.name}: the function must return an iterable or async iterable, got ${describe(output)}${hint}`,
        ),
      );
    }
  }

  override _write(chunk: unknown, _enc: string, callback: Callback): void {
    // Once the function no longer reads, later input is acknowledged and dropped, so that
    // upstream keeps flowing to its end instead of stalling on a reader that is gone.
    if (this.#discarding) {
      // Dropped unread, like a filtered item: done for this step.
      if (chunk instanceof Tracked) this.tracker?.release(chunk.origins);
      callback();
      return;
    }
    const waiting = this.#waiting;
    if (waiting !== null) {
      this.#waiting = null;
      waiting.resolve({ done: false, value: this.#pulled(chunk) });
      callback();
    } else {
      this.#held = { chunk, cb: callback };
    }
  }

  override _final(callback: Callback): void {
    this.#inputEnded = true;
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.resolve({ done: true, value: undefined });
    callback();
  }

  override _read(): void {
    if (this.#output === null) {
      if (this.destroyed) return;
      this.#start();
      if (this.#output === null) return;
    }
    if (this.#pulling) return;
    if (this.#outputIsAsync) this.#pullAsync();
    else this.#pullSync();
  }

  #pullSync(): void {
    const output = this.#output as Iterator<unknown>;
    for (;;) {
      let result: IteratorResult<unknown>;
      try {
        result = output.next();
      } catch (err) {
        this.destroy(toError(err));
        return;
      }
      if (!this.#deliver(result)) return;
    }
  }

  #pullAsync(): void {
    this.#pulling = true;
    let next: Promise<IteratorResult<unknown>>;
    try {
      next = (this.#output as AsyncIterator<unknown>).next();
    } catch (err) {
      this.destroy(toError(err));
      return;
    }
    next.then(
      (result) => {
        this.#pulling = false;
        if (this.destroyed) return;
        if (this.#deliver(result)) this.#pullAsync();
      },
      (err) => {
        this.#pulling = false;
        if (!this.destroyed) this.destroy(toError(err));
      },
    );
  }

  /** Pushes one output; true when the reader wants more. */
  #deliver(result: IteratorResult<unknown>): boolean {
    if (result.done) {
      this.#output = null;
      this.#discarding = true;
      const held = this.#held;
      this.#held = null;
      if (this.#attribution !== null) {
        this.#attribution.end();
        // One left unread is dropped, like a filtered item: done for this step.
        if (held?.chunk instanceof Tracked) this.tracker!.release(held.chunk.origins);
      }
      held?.cb();
      this.push(null);
      return false;
    }
    // null would end an object stream and undefined carries nothing: both are skipped.
    if (result.value === null || result.value === undefined) return true;
    if (this.#attribution !== null) return this.push(this.#attribution.attribute(result.value));
    return this.push(result.value);
  }

  /** The user's function takes `chunk`: it is pulled, and becomes the latest input. */
  #pulled(chunk: unknown): unknown {
    const attribution = this.#attribution;
    if (attribution === null) return chunk;
    if (!(chunk instanceof Tracked)) {
      attribution.pulled(null);
      return chunk;
    }
    attribution.pulled(chunk.origins);
    return chunk.value;
  }

  override _destroy(err: Error | null, callback: (error: Error | null) => void): void {
    const waiting = this.#waiting;
    this.#waiting = null;
    this.#held = null;
    waiting?.reject(err ?? new AbortError('The pipeline was torn down'));
    const output = this.#output;
    this.#output = null;
    if (output && typeof output.return === 'function') {
      try {
        const r = output.return();
        if (isThenable(r)) r.then(undefined, () => {});
      } catch {
        // a failing return() must not mask the teardown's cause
      }
    }
    callback(err);
  }
}
