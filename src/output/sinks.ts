import { Writable } from 'readable-stream';
import { isMeta } from '../ingest/meta';
import { isThenable, toError } from '../util/thenable';

/**
 * The end of a pipeline: counts outputs, takes meta entries out of the stream (reporting them
 * to `onMeta`), and hands items to the consumer. Every mode ends in one of these, so the stream
 * `pipeline()` callback fires only when the last output has been consumed and every stream has
 * closed.
 */
export class OutputTally {
  count = 0;
  metaCount = 0;
  constructor(private readonly onMeta?: (value: unknown) => unknown) {}

  /** Returns true for an item, or settles a meta entry (maybe async) and returns its promise. */
  take(chunk: unknown): true | PromiseLike<unknown> | undefined {
    if (!isMeta(chunk)) {
      this.count++;
      return true;
    }
    this.metaCount++;
    return this.onMeta?.(chunk.value) as PromiseLike<unknown> | undefined;
  }
}

type Callback = (err?: Error | null) => void;

function settleMeta(result: unknown, callback: Callback): void {
  if (isThenable(result))
    result.then(
      () => callback(),
      (err) => callback(toError(err)),
    );
  else callback();
}

/** Sink for `run()` and continuous mode: outputs are counted and let go. */
export function countingSink(tally: OutputTally, highWaterMark: number): Writable {
  return new Writable({
    objectMode: true,
    highWaterMark,
    write(chunk: unknown, _enc: string, callback: Callback) {
      let result: unknown;
      try {
        result = tally.take(chunk);
      } catch (err) {
        callback(toError(err));
        return;
      }
      if (result === true) callback();
      else settleMeta(result, callback);
    },
  });
}

/**
 * Sink for `for await`: a hand-off between the stream's writes and the iterator's `next()`.
 * It holds up to `highWaterMark` outputs; a write beyond that is acknowledged only when the
 * consumer takes one, so a slow loop body slows the whole pipeline down.
 */
export class IteratorSink extends Writable {
  #buffer: unknown[] = [];
  #head = 0;
  #heldCallback: Callback | null = null;
  #waiter: (() => void) | null = null;
  readonly #limit: number;

  constructor(
    private readonly tally: OutputTally,
    highWaterMark: number,
  ) {
    super({ objectMode: true, highWaterMark });
    this.#limit = highWaterMark;
    // 'finish' ends the iteration; wake a consumer waiting for the next output.
    this.on('finish', () => this.#wake());
  }

  override _write(chunk: unknown, _enc: string, callback: Callback): void {
    let result: unknown;
    try {
      result = this.tally.take(chunk);
    } catch (err) {
      callback(toError(err));
      return;
    }
    if (result !== true) {
      settleMeta(result, callback);
      return;
    }
    // Up to highWaterMark outputs wait here for the consumer, so a fast loop finds one ready
    // without a round trip to the stream; beyond that the write waits (the Writable's own
    // buffer then fills: `itemBound` counts both).
    this.#buffer.push(chunk);
    if (this.buffered >= this.#limit) {
      // Held before waking the consumer: a waiting consumer takes the output at once, which
      // releases the held callback exactly once.
      this.#heldCallback = callback;
      this.#wake();
    } else {
      this.#wake();
      callback();
    }
  }

  override _destroy(err: Error | null, callback: (error: Error | null) => void): void {
    this.#heldCallback = null;
    this.#wake();
    callback(err);
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.();
  }

  /** Outputs ready to be taken. */
  get buffered(): number {
    return this.#buffer.length - this.#head;
  }

  /** True once no more outputs will come (the stream finished or was torn down). */
  get ended(): boolean {
    return this.writableFinished || this.destroyed;
  }

  /** Takes the oldest output; call only when `buffered > 0`. */
  takeOutput(): unknown {
    const value = this.#buffer[this.#head];
    this.#buffer[this.#head++] = undefined;
    if (this.#head === this.#buffer.length) {
      this.#buffer = [];
      this.#head = 0;
    }
    const held = this.#heldCallback;
    this.#heldCallback = null;
    held?.();
    return value;
  }

  /** Calls `fn` once, at the next output or at the end. */
  onChange(fn: () => void): void {
    this.#waiter = fn;
  }
}
