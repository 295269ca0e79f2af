import { Duplex } from 'readable-stream';
import { AbortError, annotateError, isSkip } from './errors';
import { isMeta, MetaEntry } from './meta';
import type { StepPlan } from './normalize-steps';
import type { Step } from './step';
import { StepCounters } from './step-counters';
import { isThenable, toError } from './thenable';
import type { ItemErrorHandler, StepContext } from './types';

/** What a stage needs from its pipeline besides its own plan. */
export interface StageHooks {
  onItemError?: ItemErrorHandler;
}

/** One parallel instance of a function or class step: a processing slot of capacity one. */
interface Worker {
  readonly ctx: StepContext;
  readonly call: (item: unknown, ctx: StepContext) => unknown;
  readonly step?: Step;
  initialized: boolean;
  retryTimer?: NodeJS.Timeout;
}

/** An output slot for ordered mode: filled when its item completes, emitted in slot order. */
interface Slot {
  done: boolean;
  value: unknown;
}

/**
 * The stage of a function or `Step`-class step: one Duplex holding `concurrency` workers.
 *
 * Fan-out: `_write` hands each item to an idle worker and only then acknowledges the write, so
 * a busy stage stops accepting input and the upstream buffers fill: that is the rate limit.
 * A slow worker never stalls the others, because items go to whichever worker is idle.
 * Merge: each result is pushed as it completes (unordered) or through a window of slots in
 * input order (ordered). When `push()` reports a full readable buffer, no new item is started
 * until `_read` is called; items already running still deliver (at most `concurrency`).
 *
 * Bound: the stage holds at most `highWaterMark` items in its writable buffer, one pending
 * write, `concurrency` items in flight, and `highWaterMark + concurrency` outputs in its readable
 * buffer; in ordered mode the window of dispatched-but-unemitted items is capped at
 * `concurrency + highWaterMark`.
 *
 * Teardown: `_destroy` aborts `ctx.signal`, cancels retry timers and runs the shutdown hooks
 * exactly once; it never waits for in-flight work, whose late results are dropped.
 */
export class WorkerStage extends Duplex {
  readonly counters: StepCounters;
  /** The first error of a shutdown hook, if any. */
  shutdownError: unknown = undefined;
  readonly #plan: StepPlan;
  readonly #hooks: StageHooks;
  readonly #abort = new AbortController();
  #workers: Worker[] = [];
  #idle: Worker[] = [];
  #pendingItem: unknown = undefined;
  #pendingCb: ((err?: Error | null) => void) | null = null;
  #finalCb: ((err?: Error | null) => void) | null = null;
  #blocked = false;
  #inFlight = 0;
  #stepInitialized = false;
  #completed = false;
  readonly #ordered: boolean;
  readonly #windowLimit: number;
  #window: Slot[] = [];
  #windowHead = 0;

  constructor(plan: StepPlan, hooks: StageHooks = {}) {
    super({
      objectMode: true,
      readableHighWaterMark: plan.highWaterMark,
      writableHighWaterMark: plan.highWaterMark,
    });
    this.#plan = plan;
    this.#hooks = hooks;
    this.#ordered = plan.ordered && plan.concurrency > 1;
    this.#windowLimit = plan.concurrency + plan.highWaterMark;
    this.counters = new StepCounters(plan.name, plan.concurrency);
    this.counters.queued = () => this.writableLength + (this.#pendingCb ? 1 : 0);
    this.#createWorkers();
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  #createWorkers(): void {
    const plan = this.#plan;
    const shared: Record<string, unknown> = {};
    for (let index = 0; index < plan.concurrency; index++) {
      const ctx: StepContext = Object.freeze({
        signal: this.#abort.signal,
        index,
        name: plan.name,
      });
      let worker: Worker;
      if (plan.kind === 'class') {
        // Constructed in _construct so that a throwing constructor fails the run, not `new Pipeline`.
        worker = { ctx, call: notReady, initialized: false };
      } else {
        worker = { ctx, call: plan.fn!, initialized: true };
      }
      this.#workers.push(worker);
    }
    // Idle is a stack: a lightly loaded stage keeps reusing the same (warm) worker.
    this.#idle = this.#workers.slice().reverse();
    this.#shared = shared;
  }

  #shared: Record<string, unknown> = {};

  _construct(callback: (err?: Error | null) => void): void {
    if (this.#plan.kind !== 'class') {
      callback();
      return;
    }
    this.#setUpClassWorkers().then(
      () => callback(),
      (err) => callback(err),
    );
  }

  async #setUpClassWorkers(): Promise<void> {
    const plan = this.#plan;
    const Ctor = plan.ctor!;
    const steps: Step[] = [];
    for (const [index, worker] of this.#workers.entries()) {
      const step = this.#guard(() => new Ctor(), index);
      step.index = index;
      step.shared = this.#shared;
      step.name = plan.name;
      step.options = plan.options;
      steps.push(step);
      (worker as { step?: Step }).step = step;
      (worker as { call: Worker['call'] }).call = (item, ctx) => step.process(item, ctx);
    }
    await this.#guardAsync(() => steps[0].stepInitialize(), 0);
    this.#stepInitialized = true;
    await this.#allInstances(async (worker, index) => {
      await this.#guardAsync(() => worker.step!.initialize(plan.options), index);
      worker.initialized = true;
    });
    await this.#allInstances((worker, index) =>
      this.#guardAsync(() => worker.step!.start(), index),
    );
  }

  /** Runs a hook on every instance concurrently; waits for all, then throws the first failure. */
  async #allInstances(hook: (worker: Worker, index: number) => Promise<void>): Promise<void> {
    const results = await Promise.allSettled(this.#workers.map(hook));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  #guard<T>(fn: () => T, instance: number): T {
    try {
      return fn();
    } catch (err) {
      throw annotateError(err, { step: this.#plan.name, instance });
    }
  }

  async #guardAsync(fn: () => unknown, instance: number): Promise<void> {
    try {
      await fn();
    } catch (err) {
      throw annotateError(err, { step: this.#plan.name, instance });
    }
  }

  override _write(chunk: unknown, _enc: string, callback: (err?: Error | null) => void): void {
    if (this.#canDispatch()) {
      this.#dispatch(chunk);
      callback();
    } else {
      this.#pendingItem = chunk;
      this.#pendingCb = callback;
    }
  }

  override _read(): void {
    this.#blocked = false;
    this.#pump();
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#finalCb = callback;
    this.#pump();
  }

  #canDispatch(): boolean {
    return (
      this.#idle.length > 0 &&
      !this.#blocked &&
      (!this.#ordered || this.#window.length - this.#windowHead < this.#windowLimit)
    );
  }

  /** Moves the stage forward after any state change: start a waiting item, or finish. */
  #pump(): void {
    if (this.#pendingCb !== null && this.#canDispatch()) {
      const cb = this.#pendingCb;
      const item = this.#pendingItem;
      this.#pendingCb = null;
      this.#pendingItem = undefined;
      this.#dispatch(item);
      cb();
    }
    if (this.#finalCb !== null && this.#inFlight === 0 && this.#pendingCb === null) {
      const cb = this.#finalCb;
      this.#finalCb = null;
      this.#completed = true;
      this.counters.endedAt = performance.now();
      this.push(null);
      cb();
    }
  }

  #dispatch(chunk: unknown): void {
    const worker = this.#idle.pop()!;
    this.#inFlight++;
    const slot = this.#ordered ? this.#openSlot() : null;
    if (this.counters.startedAt === 0) this.counters.startedAt = performance.now();
    if (isMeta(chunk)) {
      this.#handleMeta(worker, chunk, slot);
      return;
    }
    this.counters.in++;
    this.counters.busy++;
    this.#attempt(worker, chunk, slot, 0);
  }

  #openSlot(): Slot {
    const slot: Slot = { done: false, value: undefined };
    this.#window.push(slot);
    return slot;
  }

  #attempt(worker: Worker, item: unknown, slot: Slot | null, attempt: number): void {
    const t0 = performance.now();
    let result: unknown;
    try {
      result = worker.call(item, worker.ctx);
    } catch (err) {
      this.counters.busyMs += performance.now() - t0;
      this.#failed(worker, item, slot, attempt, err);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (value) => {
          this.counters.busyMs += performance.now() - t0;
          this.#done(worker, slot, value);
        },
        (err) => {
          this.counters.busyMs += performance.now() - t0;
          this.#failed(worker, item, slot, attempt, err);
        },
      );
    } else {
      this.counters.busyMs += performance.now() - t0;
      this.#done(worker, slot, result);
    }
  }

  #done(worker: Worker, slot: Slot | null, value: unknown): void {
    // A result that arrives after teardown belongs to nobody: drop it.
    if (this.destroyed) return;
    this.counters.busy--;
    if (value === undefined || value === null) this.counters.skipped++;
    this.#emit(slot, value);
    this.#release(worker);
  }

  #failed(worker: Worker, item: unknown, slot: Slot | null, attempt: number, err: unknown): void {
    if (this.destroyed) return;
    if (isSkip(err)) {
      this.#done(worker, slot, undefined);
      return;
    }
    const plan = this.#plan;
    if (attempt < plan.maxRetries) {
      this.counters.retried++;
      const delay =
        typeof plan.retryDelay === 'function' ? plan.retryDelay(attempt + 1) : plan.retryDelay;
      if (delay > 0) {
        worker.retryTimer = setTimeout(() => {
          worker.retryTimer = undefined;
          this.#attempt(worker, item, slot, attempt + 1);
        }, delay);
      } else {
        this.#attempt(worker, item, slot, attempt + 1);
      }
      return;
    }
    annotateError(err, { step: plan.name, instance: worker.ctx.index });
    const onItemError = this.#hooks.onItemError;
    if (!onItemError) {
      this.destroy(toError(err));
      return;
    }
    // Dead letter: the handler takes the item and the pipeline goes on; a throwing handler fails it.
    this.counters.failed++;
    let handled: unknown;
    try {
      handled = onItemError(err, item, plan.name);
    } catch (handlerErr) {
      this.destroy(toError(handlerErr));
      return;
    }
    const finish = () => {
      if (this.destroyed) return;
      this.counters.busy--;
      this.#emit(slot, undefined);
      this.#release(worker);
    };
    if (isThenable(handled)) {
      handled.then(finish, (handlerErr) => this.destroy(toError(handlerErr)));
    } else {
      finish();
    }
  }

  #handleMeta(worker: Worker, meta: MetaEntry, slot: Slot | null): void {
    this.counters.meta++;
    const pass = (replacement: unknown) => {
      if (this.destroyed) return;
      this.#emit(slot, replacement === undefined ? meta : new MetaEntry(replacement));
      this.#release(worker);
    };
    if (!worker.step) {
      pass(undefined);
      return;
    }
    // As in paipa, a processMeta that throws SkipEntry drops the entry; any other error fails.
    const fail = (err: unknown) => {
      if (isSkip(err)) {
        this.#emit(slot, undefined);
        this.#release(worker);
      } else {
        this.destroy(
          toError(annotateError(err, { step: this.#plan.name, instance: worker.ctx.index })),
        );
      }
    };
    let result: unknown;
    try {
      result = worker.step.processMeta(meta.value);
    } catch (err) {
      fail(err);
      return;
    }
    if (isThenable(result)) {
      result.then(pass, (err) => {
        if (!this.destroyed) fail(err);
      });
    } else {
      pass(result === meta.value ? undefined : result);
    }
  }

  #emit(slot: Slot | null, value: unknown): void {
    if (slot === null) {
      this.#push(value);
      return;
    }
    slot.done = true;
    slot.value = value;
    const window = this.#window;
    while (this.#windowHead < window.length && window[this.#windowHead].done) {
      const head = window[this.#windowHead];
      window[this.#windowHead++] = undefined as unknown as Slot;
      this.#push(head.value);
    }
    // Compact now and then so the window array does not grow with the item count.
    if (this.#windowHead > 1024 && this.#windowHead * 2 > window.length) {
      this.#window = window.slice(this.#windowHead);
      this.#windowHead = 0;
    }
  }

  #push(value: unknown): void {
    if (value === undefined || value === null) return;
    if (!isMeta(value)) this.counters.out++;
    if (!this.push(value)) this.#blocked = true;
  }

  #release(worker: Worker): void {
    this.#inFlight--;
    this.#idle.push(worker);
    this.#pump();
  }

  override _destroy(err: Error | null, callback: (error: Error | null) => void): void {
    if (!this.#completed) this.#abort.abort(err ?? new AbortError('The pipeline was torn down'));
    if (!this.counters.endedAt) this.counters.endedAt = performance.now();
    this.counters.busy = 0;
    for (const worker of this.#workers) clearTimeout(worker.retryTimer);
    this.#pendingCb = null;
    this.#finalCb = null;
    this.#shutDown().then(
      () => callback(err),
      (hookErr) => {
        // After a clean end the pipeline has already reported success to the stream machinery;
        // keep the hook's error where the pipeline looks for it once every stream has closed.
        this.shutdownError = hookErr;
        callback(err ?? hookErr);
      },
    );
  }

  /** Runs `shutdown()` on each initialized instance, then `stepShutdown()`: each exactly once. */
  async #shutDown(): Promise<void> {
    if (this.#plan.kind !== 'class') return;
    const initialized = this.#workers.filter((w) => w.initialized && w.step);
    const results = await Promise.allSettled(
      initialized.map((w) => this.#guardAsync(() => w.step!.shutdown(), w.ctx.index)),
    );
    let first = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
    if (this.#stepInitialized) {
      this.#stepInitialized = false;
      try {
        await this.#guardAsync(() => this.#workers[0].step!.stepShutdown(), 0);
      } catch (err) {
        first ??= err;
      }
    }
    for (const w of this.#workers) w.initialized = false;
    if (first !== undefined) throw first;
  }
}

function notReady(): never {
  throw new Error('step instance used before its initialization finished');
}
