import type { Readable } from 'readable-stream';
import { isMeta } from '../ingest/meta';
import { isThenable, toError } from '../util/thenable';

/**
 * Counts outputs and takes meta entries out of the stream (reporting them to `onMeta`). Every
 * mode ends in one of the sinks below, which use it.
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

/** What a sink needs of the last stage: its own Readable, and `_read` to ask for more. */
type LastStage = Readable & { _read(size: number): void };

/**
 * The end of a pipeline, bound straight to the last stage: the stage's outputs are handed to
 * `accept` as it pushes them, without going through its readable buffer and a Writable after
 * it. That stream hop (a write, its callback, a 'data' event and the pipe's bookkeeping per
 * item) cost more than the whole step on cheap steps.
 *
 * How it stays a stream: the stage's `push(chunk)` returns what `accept` returns, so a sink
 * without room blocks the stage exactly as a full readable buffer would, and `wantMore()`
 * unblocks it as `read()` would (it calls the stage's `_read`). `push(null)` goes to the stage
 * itself, which is flowing with an empty buffer, so it ends and closes as before; the run
 * settles on its 'close' as on every other stream's.
 */
export abstract class OutputSink {
  /** The sink refused an output (or a meta entry is settling): the stage waits. */
  protected blocked = false;
  #stage: LastStage | null = null;
  /** onMeta promises not settled yet: the run settles only after them. */
  readonly #pendingMeta = new Set<PromiseLike<unknown>>();
  #ended = false;

  constructor(protected readonly tally: OutputTally) {}

  /** Takes the last stage's outputs from now on. */
  attach(stage: Readable): void {
    const last = stage as LastStage;
    this.#stage = last;
    const push = last.push.bind(last);
    last.push = (chunk: unknown) => {
      if (chunk !== null) return this.#take(chunk);
      const result = push(null);
      this.#end();
      return result;
    };
    last.once('close', () => this.#end());
    // Flowing with no 'data' listener: nothing is ever buffered, and push(null) ends it at once.
    last.resume();
  }

  /** True once no more outputs will come (the last stage ended or was torn down). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Resolves once every onMeta promise settled; rejects with the first that failed. */
  settled(): Promise<unknown> {
    return this.#pendingMeta.size === 0 ? Promise.resolve() : Promise.all(this.#pendingMeta);
  }

  /** Lets a blocked stage go on. */
  protected wantMore(): void {
    if (!this.blocked || this.#pendingMeta.size > 0) return;
    this.blocked = false;
    const stage = this.#stage;
    if (stage !== null && !stage.destroyed) stage._read(0);
  }

  /** Takes one output; returns false when no more should come until `wantMore()`. */
  protected abstract accept(chunk: unknown): boolean;

  /** Called once, when no more outputs will come. */
  protected onEnd(): void {}

  /** Ends the stream the way a failing consumer does: the whole run fails with `err`. */
  protected fail(err: unknown): void {
    this.#stage?.destroy(toError(err));
  }

  #take(chunk: unknown): boolean {
    let taken: unknown;
    try {
      taken = this.tally.take(chunk);
    } catch (err) {
      this.fail(err);
      return false;
    }
    if (taken === true) {
      if (this.accept(chunk)) return true;
      this.blocked = true;
      return false;
    }
    if (!isThenable(taken)) return true;
    // A meta entry whose onMeta is async: later outputs wait until it settles, as they did
    // behind a Writable's callback.
    this.#pendingMeta.add(taken);
    this.blocked = true;
    taken.then(
      () => {
        this.#pendingMeta.delete(taken);
        this.wantMore();
      },
      (err: unknown) => this.fail(err),
    );
    return false;
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.onEnd();
  }
}

/** Sink for `run()` and continuous mode: outputs are counted and let go. */
export class CountingSink extends OutputSink {
  protected accept(): boolean {
    return true;
  }
}

/**
 * Sink for `for await`: a hand-off between the last stage and the iterator's `next()`. It
 * holds up to `highWaterMark` outputs, so a fast loop finds one ready; when full, the stage
 * waits until the loop has taken half of them (one wake-up per half buffer, not per item).
 */
export class IteratorSink extends OutputSink {
  #buffer: unknown[] = [];
  #head = 0;
  #waiter: (() => void) | null = null;
  readonly #limit: number;
  readonly #resumeAt: number;

  constructor(tally: OutputTally, highWaterMark: number) {
    super(tally);
    this.#limit = highWaterMark;
    this.#resumeAt = Math.floor(highWaterMark / 2);
  }

  protected accept(chunk: unknown): boolean {
    this.#buffer.push(chunk);
    this.#wake();
    return this.#buffer.length - this.#head < this.#limit;
  }

  protected override onEnd(): void {
    this.#wake();
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

  /** Takes the oldest output; call only when `buffered > 0`. */
  takeOutput(): unknown {
    const value = this.#buffer[this.#head];
    this.#buffer[this.#head++] = undefined;
    if (this.#head === this.#buffer.length) {
      this.#buffer = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#buffer.length) {
      // A loop that never quite catches up: compact, or the array grows with the item count.
      this.#buffer = this.#buffer.slice(this.#head);
      this.#head = 0;
    }
    if (this.blocked && this.#buffer.length - this.#head <= this.#resumeAt) this.wantMore();
    return value;
  }

  /** Calls `fn` once, at the next output or at the end. */
  onChange(fn: () => void): void {
    this.#waiter = fn;
  }
}
