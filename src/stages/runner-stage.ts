import { Duplex } from 'readable-stream';
import { constructedInOrder } from '../util/construct-in-order';
import { AbortError, unlimitedController } from '../errors/errors';
import type { StepPlan } from '../steps/normalize-steps';
import { PENDING, StepRunner, type RunnerHost } from './step-runner';
import type { ItemErrorHandler } from '../types';
import { unlinkReadableBuffer } from '../util/unlinked-buffer';
import { Batch } from '../ingest/batch';
import type { AckTracker } from '../delivery/ack-tracker';
import { Tracked, type Origins } from '../delivery/tracked';

/** What a stage needs from its pipeline besides its own plans. */
export interface StageHooks {
  onItemError?: ItemErrorHandler;
  /** Present while acknowledgements are on: items may travel in envelopes (see delivery/). */
  tracker?: AckTracker | null;
  /**
   * The stage's input comes from the `Source` in `Batch`es (first stage of run(), start() and
   * for await): its writable buffer then holds one chunk, see `Batch` for the bound.
   */
  batchedInput?: boolean;
  /**
   * With `batchedInput`: the Source's next items available now (see `Source.takeReady`), taken
   * when a batch is done so that a run of sync steps does not pay a stream hop per batch.
   */
  takeInput?: () => unknown[] | null;
}

/**
 * Batches taken straight from the Source per write at most; then the write is acknowledged
 * and the stream flow brings the next, so other streams of the process get their turn.
 */
const DIRECT_BATCHES = 64;

type Callback = (err?: Error | null) => void;

/**
 * The stage of function and `Step`-class steps: one Duplex hosting a `StepRunner` (a step's
 * `concurrency` instances), or a chain of concurrency-1 runners.
 *
 * Fan-out: `_write` hands each item to an idle instance and only then acknowledges the write, so
 * a busy stage stops accepting input and the upstream buffers fill: that is the rate limit.
 * A slow instance never stalls the others, because items go to whichever instance is idle.
 * Merge: results are pushed as they complete (or in input order, see `StepRunner`); when
 * `push()` reports a full readable buffer no new item starts until `_read`.
 *
 * Fusion: consecutive concurrency-1 steps share one stage (one stream hop instead of several,
 * which is most of the per-item cost of cheap steps). Between two runners of the chain sits a
 * queue bounded by the next step's highWaterMark, so each step still has its own instance, its
 * own buffer and its own figures, and an async step still overlaps with the steps around it.
 *
 * Bound: the stage holds at most its writable buffer (first step's highWaterMark), each
 * runner's in-flight items and inner queue, and its readable buffer (last step's highWaterMark
 * plus the results of calls already running). See `itemBound`.
 *
 * Teardown: `_destroy` aborts `ctx.signal`, cancels retry timers and runs the shutdown hooks
 * exactly once; it never waits for in-flight work, whose late results are dropped.
 */
export class RunnerStage extends Duplex {
  readonly runners: StepRunner[];
  /** The first error of a shutdown hook, if any. */
  shutdownError: unknown = undefined;
  readonly #abort = unlimitedController();
  /** queues[i] holds outputs of runner i waiting for runner i + 1. */
  readonly #queues: unknown[][];
  #pendingItem: unknown = undefined;
  /** A batch being handed to runner 0; its write is acknowledged once every item is taken. */
  #pendingBatch: unknown[] | null = null;
  #batchIndex = 0;
  /** Batches taken straight from the Source during the current write. */
  #directBatches = 0;
  readonly #takeInput: (() => unknown[] | null) | null;
  /** Acknowledgements are on: an envelope is taken apart once per stage (see `#feed`). */
  readonly #tracked: boolean;
  /** The next stage when it is a RunnerStage too: outputs may skip the stream hop to it. */
  #next: RunnerStage | null = null;
  #pendingCb: Callback | null = null;
  #finalCb: Callback | null = null;
  #completed = false;
  #pumping = false;
  /** Items waiting in the inner queues, summed. */
  #queued = 0;
  readonly #hosts: RunnerHost[] = [];
  /** Resolves once every step's start-up hooks ran (a failing hook fails the stage instead). */
  readonly initialized: Promise<void>;
  #initialize!: () => void;

  constructor(plans: readonly StepPlan[], hooks: StageHooks = {}) {
    const first = plans[0];
    const last = plans[plans.length - 1];
    super({
      objectMode: true,
      writableHighWaterMark: hooks.batchedInput ? 1 : first.highWaterMark,
      readableHighWaterMark: last.highWaterMark,
    });
    unlinkReadableBuffer(this);
    this.#takeInput = (hooks.batchedInput && hooks.takeInput) || null;
    this.initialized = new Promise<void>((resolve) => (this.#initialize = resolve));
    this.#tracked = (hooks.tracker ?? null) !== null;
    this.runners = plans.map((plan) => new StepRunner(plan, hooks.tracker ?? null));
    this.#queues = plans.slice(1).map(() => []);
    this.runners.forEach((runner, i) => {
      const isLast = i === plans.length - 1;
      const host: RunnerHost = {
        output: isLast ? (value) => this.#emit(value) : (value) => this.#handOn(i, value),
        // The common case (nothing waiting anywhere) must cost next to nothing per item.
        released: () => {
          if (this.#pendingCb !== null || this.#queued > 0 || this.#finalCb !== null) this.#pump();
        },
        fail: (err) => this.destroy(err),
        stopped: false,
        signal: this.#abort.signal,
        onItemError: hooks.onItemError,
      };
      this.#hosts.push(host);
      runner.attach(host);
      runner.counters.queued =
        i === 0 ? () => this.#inputQueued() : () => this.#queues[i - 1].length;
    });
  }

  /**
   * Makes `next` (the stage this one is piped to) take this stage's outputs straight from
   * its last step whenever nothing waits between the two: this stage's readable buffer and
   * `next`'s writable buffer are empty and its first step can take the item now. That skips a
   * push, a 'data' event, a write and the write's tick per item; otherwise (and always for the
   * end of the stream) the output goes through the pipe as before, behind what waits there.
   */
  linkTo(next: RunnerStage): void {
    this.#next = next;
  }

  /** The last step's output: to the next stage directly, or pushed (false: no room). */
  #emit(value: unknown): boolean {
    const next = this.#next;
    if (next !== null && this.readableLength === 0 && next.#takesNow()) {
      next.#takeNow(value);
      // Never false: that would block this stage until a _read that no push() asked for.
      return true;
    }
    return this.push(value);
  }

  /** True when an item may enter now without overtaking one written before it. */
  #takesNow(): boolean {
    return (
      this.writableLength === 0 &&
      this.#finalCb === null &&
      !this.#hosts[0].stopped &&
      (this as unknown as { _writableState: { constructed: boolean } })._writableState
        .constructed &&
      this.#intake()
    );
  }

  /** An item handed over by the previous stage (see `linkTo`), as if written and taken at once. */
  #takeNow(value: unknown): void {
    this.#feed(0, value);
    if (this.#queued > 0) this.#pump();
  }

  /**
   * Whether a new input may start: the first step can take it, and the stage's own output is
   * not refused. While the consumer refuses outputs, input stays in the stage's writable side
   * instead of filling the queues between fused steps, where each item would cost two more
   * hand-overs (the queues still fill while a step inside is busy).
   */
  #intake(): boolean {
    return this.runners[0].canAccept() && !this.runners[this.runners.length - 1].blocked;
  }

  /** Passes runner i's output to runner i + 1, or queues it; false when the queue is full. */
  #handOn(i: number, value: unknown): boolean {
    const next = this.runners[i + 1];
    const queue = this.#queues[i];
    if (queue.length === 0 && next.canAccept()) {
      this.#feed(i + 1, value);
      return true;
    }
    queue.push(value);
    this.#queued++;
    return queue.length < next.plan.highWaterMark;
  }

  /**
   * Gives `value` to runner i (which can accept it) and carries its output on down the chain
   * for as long as each step returns a plain value: one loop instead of a call per step into
   * `output()`, `#handOn` and `released()`. What each step sees and counts is unchanged (see
   * `StepRunner.take`); an output that cannot go on at once is queued exactly as `#handOn`
   * would, and a full queue or a refused `push()` blocks the step that emitted it.
   *
   * Under acknowledgements an item's envelope is taken apart once here, the fused steps run on
   * the bare value, and the output is wrapped once, with the same origins, where it leaves the
   * loop. The origins are the same at every step of the loop: a function step maps one item to
   * one output.
   */
  #feed(i: number, value: unknown): void {
    let origins: Origins | null = null;
    // The envelope of `value` while there is one: only the input's, before the first step.
    let envelope: Tracked | null = null;
    if (this.#tracked && value instanceof Tracked) {
      envelope = value;
      origins = value.origins;
      value = value.value;
    }
    const runners = this.runners;
    const last = runners.length - 1;
    let runner = runners[i];
    for (;;) {
      const out = origins === null ? runner.take(value) : runner.takeBare(value, origins, envelope);
      if (out === PENDING || out === undefined || out === null) return;
      if (i === last) {
        if (!this.#emit(origins === null ? out : new Tracked(out, origins))) runner.blocked = true;
        return;
      }
      const queue = this.#queues[i];
      const next = runners[i + 1];
      if (queue.length > 0 || !next.canAccept()) {
        queue.push(origins === null ? out : new Tracked(out, origins));
        this.#queued++;
        if (queue.length >= next.plan.highWaterMark) runner.blocked = true;
        return;
      }
      i++;
      runner = next;
      value = out;
      envelope = null;
    }
  }

  _construct(callback: Callback): void {
    if (this.runners.every((r) => r.plan.kind !== 'class' && !r.plan.resources)) {
      this.#initialize();
      constructedInOrder(this as never, callback);
      return;
    }
    // Runners set up one after another: a pipeline's steps initialize in order.
    this.runners
      .reduce((prev, runner) => prev.then(() => runner.setUp()), Promise.resolve())
      .then(() => {
        this.#initialize();
        constructedInOrder(this as never, callback);
      }, callback);
  }

  /** Items waiting for runner 0: the writable buffer (a batch counts its items), and what is
   * left of the batch being taken. */
  #inputQueued(): number {
    const batch = this.#pendingBatch;
    let n = batch === null ? 0 : batch.length - this.#batchIndex;
    // writableBuffer lists the chunks not yet handed to _write (at most one with batches).
    // (After a teardown the list may hold cleared entries.)
    const waiting = (this as unknown as { writableBuffer: ({ chunk: unknown } | null)[] })
      .writableBuffer;
    for (const entry of waiting) {
      if (entry !== null) n += entry.chunk instanceof Batch ? entry.chunk.items.length : 1;
    }
    // A single item held until an instance is free is still waiting too.
    if (batch === null && this.#pendingCb !== null) n++;
    return n;
  }

  override _write(chunk: unknown, _enc: string, callback: Callback): void {
    if (chunk instanceof Batch) {
      this.#pendingBatch = chunk.items;
      this.#batchIndex = 0;
      this.#directBatches = 0;
      this.#pendingCb = callback;
      this.#pump();
      return;
    }
    if (this.#intake()) {
      this.#feed(0, chunk);
      // Steps that finished in place did not call released(): items queued inside may go on.
      if (this.#queued > 0) this.#pump();
      callback();
    } else {
      this.#pendingItem = chunk;
      this.#pendingCb = callback;
    }
  }

  override _read(): void {
    this.runners[this.runners.length - 1].blocked = false;
    this.#pump();
  }

  override _final(callback: Callback): void {
    this.#finalCb = callback;
    this.#pump();
  }

  /** Moves work forward after any change: inner queues, then a waiting write, then the end. */
  #pump(): void {
    // Re-entrant calls (a runner finishing synchronously inside accept) are folded into the
    // running loop, which repeats until nothing moves.
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      let moved = true;
      while (moved && !this.destroyed) {
        moved = false;
        for (let i = this.#queues.length - 1; i >= 0; i--) {
          const queue = this.#queues[i];
          const next = this.runners[i + 1];
          while (queue.length > 0 && next.canAccept()) {
            this.#queued--;
            this.#feed(i + 1, queue.shift());
            moved = true;
          }
          if (queue.length < next.plan.highWaterMark && this.runners[i].blocked) {
            this.runners[i].blocked = false;
            moved = true;
          }
        }
        const batch = this.#pendingBatch;
        if (batch !== null && this.#intake()) {
          const host = this.#hosts[0];
          while (this.#batchIndex < batch.length && this.#intake() && !host.stopped) {
            const item = batch[this.#batchIndex];
            batch[this.#batchIndex++] = undefined;
            this.#feed(0, item);
          }
          moved = true;
          if (this.#batchIndex === batch.length && this.#pendingCb !== null) {
            const more =
              this.#takeInput !== null && this.#directBatches < DIRECT_BATCHES
                ? this.#takeInput()
                : null;
            // Taking runs the source's iterator (user code): the run may be torn down in it.
            const cb = this.#pendingCb as Callback | null;
            if (cb === null) break;
            if (more !== null) {
              this.#directBatches++;
              this.#pendingBatch = more;
              this.#batchIndex = 0;
              continue;
            }
            this.#pendingCb = null;
            this.#pendingBatch = null;
            cb();
          }
        } else if (this.#pendingCb !== null && this.#intake()) {
          const cb = this.#pendingCb;
          const item = this.#pendingItem;
          this.#pendingCb = null;
          this.#pendingItem = undefined;
          this.#feed(0, item);
          cb();
          moved = true;
        }
      }
    } finally {
      this.#pumping = false;
    }
    this.#maybeEnd();
  }

  #maybeEnd(): void {
    if (this.#finalCb === null || this.#pendingCb !== null) return;
    if (this.#queued > 0 || this.runners.some((r) => r.inFlight > 0)) return;
    const cb = this.#finalCb;
    this.#finalCb = null;
    this.#completed = true;
    const now = performance.now();
    for (const r of this.runners) r.counters.endedAt = now;
    this.push(null);
    cb();
  }

  override _destroy(err: Error | null, callback: (error: Error | null) => void): void {
    for (const host of this.#hosts) host.stopped = true;
    if (!this.#completed) this.#abort.abort(err ?? new AbortError('The pipeline was torn down'));
    this.#pendingCb = null;
    this.#pendingBatch = null;
    this.#finalCb = null;
    for (const queue of this.#queues) queue.length = 0;
    this.#queued = 0;
    // Every runner shuts down even if an earlier one's hook fails; the first failure is kept.
    Promise.allSettled(this.runners.map((r) => r.shutDown(this.#completed))).then((results) => {
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        // After a clean end the stream machinery has already reported success; the pipeline
        // looks here once every stream has closed.
        this.shutdownError = failed.reason;
        callback(err ?? failed.reason);
      } else {
        callback(err);
      }
    });
  }
}
