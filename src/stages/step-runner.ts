import { annotateError, describe, isSkip, outOfRange } from '../errors/errors';
import { isMeta, MetaEntry } from '../ingest/meta';
import type { StepPlan } from '../steps/normalize-steps';
import type { Step } from '../steps/step';
import { StepCounters } from '../observe/step-counters';
import { isThenable, toError } from '../util/thenable';
import type { ItemErrorHandler, StepContext } from '../types';

/** One parallel instance of a function or class step: a processing slot of capacity one. */
interface Instance {
  readonly ctx: StepContext;
  call: (item: unknown, ctx: StepContext) => unknown;
  step?: Step;
  initialized: boolean;
  retryTimer?: NodeJS.Timeout;
}

/** An output slot for ordered mode: filled when its item completes, emitted in slot order. */
interface Slot {
  done: boolean;
  value: unknown;
}

/** How a runner talks to the stage that hosts it. */
export interface RunnerHost {
  /** Takes one output (an item or a MetaEntry); returns false when no more should be started. */
  output(value: unknown): boolean;
  /** An instance became free: the host may offer more input or finish. */
  released(): void;
  /** Fails the stage (and so the pipeline). */
  fail(err: Error): void;
  /** True once the stage is torn down: late results are dropped. */
  stopped: boolean;
  readonly signal: AbortSignal;
  readonly onItemError?: ItemErrorHandler;
}

/**
 * The semantics of one function or `Step`-class step, free of any stream: `concurrency`
 * instances, hand-out to an idle instance, retries with delay, `SkipEntry`, the dead-letter hook,
 * meta entries, ordered output, lifecycle hooks and figures. A stage hosts one runner, or a
 * chain of concurrency-1 runners (see `RunnerStage`).
 *
 * Invariants: at most `concurrency` items in flight; while `blocked` (the host refused an
 * output) no new item starts; in ordered mode at most `concurrency + highWaterMark` items are
 * between hand-out and emission; every item ends exactly once, as an output, a skip, a dead
 * letter or the run's failure.
 */
export class StepRunner {
  readonly counters: StepCounters;
  readonly plan: StepPlan;
  blocked = false;
  inFlight = 0;
  #host!: RunnerHost;
  #instances: Instance[] = [];
  #idle: Instance[] = [];
  #stepInitialized = false;
  readonly #ordered: boolean;
  readonly #windowLimit: number;
  #window: Slot[] = [];
  #windowHead = 0;

  constructor(plan: StepPlan) {
    this.plan = plan;
    this.counters = new StepCounters(plan.name, plan.concurrency);
    this.#ordered = plan.ordered && plan.concurrency > 1;
    this.#windowLimit = plan.concurrency + plan.highWaterMark;
  }

  attach(host: RunnerHost): void {
    this.#host = host;
    // Class instances are all made in setUp() (their hooks run up front); function instances
    // are made when an item first needs one, so a large concurrency costs nothing unused.
    if (this.plan.kind === 'class') {
      for (let index = 0; index < this.plan.concurrency; index++) this.#newInstance();
      // Idle is a stack: a lightly loaded step keeps reusing the same (warm) instance.
      this.#idle = this.#instances.slice().reverse();
    }
  }

  #newInstance(): Instance {
    const index = this.#instances.length;
    const ctx: StepContext = Object.freeze({
      signal: this.#host.signal,
      index,
      name: this.plan.name,
    });
    const instance: Instance = {
      ctx,
      call: this.plan.fn!,
      initialized: this.plan.kind !== 'class',
    };
    this.#instances.push(instance);
    return instance;
  }

  canAccept(): boolean {
    return (
      (this.#idle.length > 0 || this.#instances.length < this.plan.concurrency) &&
      !this.blocked &&
      (!this.#ordered || this.#window.length - this.#windowHead < this.#windowLimit)
    );
  }

  /** Hands an item or meta entry to an idle instance; call only when `canAccept()`. */
  accept(chunk: unknown): void {
    const instance = this.#idle.pop() ?? this.#newInstance();
    this.inFlight++;
    const slot = this.#ordered ? this.#openSlot() : null;
    const counters = this.counters;
    if (counters.startedAt === 0) counters.startedAt = performance.now();
    if (isMeta(chunk)) {
      this.#handleMeta(instance, chunk, slot);
      return;
    }
    counters.in++;
    counters.busy++;
    this.#attempt(instance, chunk, slot, 0);
  }

  #openSlot(): Slot {
    const slot: Slot = { done: false, value: undefined };
    this.#window.push(slot);
    return slot;
  }

  #attempt(instance: Instance, item: unknown, slot: Slot | null, attempt: number): void {
    // Reading the clock costs more than a cheap step itself, so busy time is sampled.
    const t0 = this.counters.shouldTime() ? performance.now() : -1;
    let result: unknown;
    try {
      result = instance.call(item, instance.ctx);
    } catch (err) {
      if (t0 >= 0) this.counters.addBusy(performance.now() - t0);
      this.#failed(instance, item, slot, attempt, err);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (value) => {
          if (t0 >= 0) this.counters.addBusy(performance.now() - t0);
          this.#done(instance, slot, value);
        },
        (err) => {
          if (t0 >= 0) this.counters.addBusy(performance.now() - t0);
          this.#failed(instance, item, slot, attempt, err);
        },
      );
    } else {
      if (t0 >= 0) this.counters.addBusy(performance.now() - t0);
      this.#done(instance, slot, result);
    }
  }

  #done(instance: Instance, slot: Slot | null, value: unknown): void {
    if (this.#host.stopped) return;
    const counters = this.counters;
    counters.busy--;
    if (value === undefined || value === null) counters.skipped++;
    else counters.out++;
    if (slot === null && this.plan.concurrency > 1) {
      // Unordered with several instances: the instance takes its next item before this result
      // travels on, so an I/O-bound step starts its next call as early as a promise pool would.
      // The item stays counted in flight until it is emitted, so the stage cannot end before.
      this.#idle.push(instance);
      this.#host.released();
      this.#emit(slot, value);
      this.inFlight--;
      this.#host.released();
      return;
    }
    this.#emit(slot, value);
    this.#release(instance);
  }

  #failed(
    instance: Instance,
    item: unknown,
    slot: Slot | null,
    attempt: number,
    err: unknown,
  ): void {
    if (this.#host.stopped) return;
    if (isSkip(err)) {
      this.#done(instance, slot, undefined);
      return;
    }
    const plan = this.plan;
    if (attempt < plan.maxRetries) {
      this.counters.retried++;
      let delay: number;
      try {
        delay = retryDelayFor(plan, attempt + 1);
      } catch (delayErr) {
        this.#host.fail(toError(delayErr));
        return;
      }
      if (delay > 0) {
        instance.retryTimer = setTimeout(() => {
          instance.retryTimer = undefined;
          this.#attempt(instance, item, slot, attempt + 1);
        }, delay);
      } else {
        this.#attempt(instance, item, slot, attempt + 1);
      }
      return;
    }
    annotateError(err, { step: plan.name, instance: instance.ctx.index });
    const onItemError = this.#host.onItemError;
    if (!onItemError) {
      this.#host.fail(toError(err));
      return;
    }
    // Dead letter: the handler takes the item and the step goes on; a throwing handler fails it.
    this.counters.failed++;
    const finish = () => {
      if (this.#host.stopped) return;
      this.counters.busy--;
      this.#emit(slot, undefined);
      this.#release(instance);
    };
    let handled: unknown;
    try {
      handled = onItemError(err, item, plan.name);
    } catch (handlerErr) {
      this.#host.fail(toError(handlerErr));
      return;
    }
    if (isThenable(handled))
      handled.then(finish, (handlerErr) => this.#host.fail(toError(handlerErr)));
    else finish();
  }

  #handleMeta(instance: Instance, meta: MetaEntry, slot: Slot | null): void {
    this.counters.meta++;
    const pass = (replacement: unknown) => {
      if (this.#host.stopped) return;
      this.#emit(slot, replacement === undefined ? meta : new MetaEntry(replacement));
      this.#release(instance);
    };
    if (!instance.step) {
      pass(undefined);
      return;
    }
    // As in paipa, a processMeta that throws SkipEntry drops the entry; any other error fails.
    const fail = (err: unknown) => {
      if (this.#host.stopped) return;
      if (isSkip(err)) {
        this.#emit(slot, undefined);
        this.#release(instance);
      } else {
        this.#host.fail(
          toError(annotateError(err, { step: this.plan.name, instance: instance.ctx.index })),
        );
      }
    };
    let result: unknown;
    try {
      result = instance.step.processMeta(meta.value);
    } catch (err) {
      fail(err);
      return;
    }
    if (isThenable(result)) result.then(pass, fail);
    else pass(result === meta.value ? undefined : result);
  }

  #emit(slot: Slot | null, value: unknown): void {
    if (slot === null) {
      if (value !== undefined && value !== null && !this.#host.output(value)) this.blocked = true;
      return;
    }
    slot.done = true;
    slot.value = value;
    const window = this.#window;
    while (this.#windowHead < window.length && window[this.#windowHead].done) {
      const head = window[this.#windowHead];
      window[this.#windowHead++] = undefined as unknown as Slot;
      if (head.value !== undefined && head.value !== null && !this.#host.output(head.value)) {
        this.blocked = true;
      }
    }
    // Compact now and then so the window array does not grow with the item count.
    if (this.#windowHead > 1024 && this.#windowHead * 2 > window.length) {
      this.#window = window.slice(this.#windowHead);
      this.#windowHead = 0;
    }
  }

  #release(instance: Instance): void {
    this.inFlight--;
    this.#idle.push(instance);
    this.#host.released();
  }

  /** Makes the class instances and runs the start-up hooks in their documented order. */
  async setUp(): Promise<void> {
    const plan = this.plan;
    if (plan.kind !== 'class') return;
    const Ctor = plan.ctor!;
    for (const instance of this.#instances) {
      const step = this.#guard(() => new Ctor(), instance.ctx.index);
      step.index = instance.ctx.index;
      step.name = plan.name;
      step.options = plan.options;
      step.shared = this.#instances[0].step?.shared ?? step.shared;
      instance.step = step;
      instance.call = (item, ctx) => step.process(item, ctx);
    }
    await this.#guardAsync(() => this.#instances[0].step!.stepInitialize(), 0);
    this.#stepInitialized = true;
    await this.#everyInstance(async (instance) => {
      await this.#guardAsync(() => instance.step!.initialize(plan.options), instance.ctx.index);
      instance.initialized = true;
    });
    await this.#everyInstance((instance) =>
      this.#guardAsync(() => instance.step!.start(), instance.ctx.index),
    );
  }

  /** Cancels retry timers and runs each shutdown hook exactly once (initialized instances only). */
  async shutDown(): Promise<void> {
    this.counters.busy = 0;
    if (!this.counters.endedAt) this.counters.endedAt = performance.now();
    for (const instance of this.#instances) clearTimeout(instance.retryTimer);
    if (this.plan.kind !== 'class') return;
    const initialized = this.#instances.filter((instance) => instance.initialized);
    for (const w of initialized) w.initialized = false;
    const results = await Promise.allSettled(
      initialized.map((w) => this.#guardAsync(() => w.step!.shutdown(), w.ctx.index)),
    );
    let first = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
    if (this.#stepInitialized) {
      this.#stepInitialized = false;
      try {
        await this.#guardAsync(() => this.#instances[0].step!.stepShutdown(), 0);
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }

  /** Runs a hook on every instance concurrently; waits for all, then throws the first failure. */
  async #everyInstance(hook: (instance: Instance) => Promise<void>): Promise<void> {
    const results = await Promise.allSettled(this.#instances.map(hook));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  #guard<T>(fn: () => T, instance: number): T {
    try {
      return fn();
    } catch (err) {
      throw annotateError(err, { step: this.plan.name, instance });
    }
  }

  async #guardAsync(fn: () => unknown, instance: number): Promise<void> {
    try {
      await fn();
    } catch (err) {
      throw annotateError(err, { step: this.plan.name, instance });
    }
  }
}

/** The wait before retry number `attempt`; a retryDelay function must give a finite ms >= 0. */
function retryDelayFor(plan: StepPlan, attempt: number): number {
  if (typeof plan.retryDelay !== 'function') return plan.retryDelay;
  const delay = plan.retryDelay(attempt);
  if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0) {
    throw outOfRange(
      `steps[${plan.position}] (${plan.name}): retryDelay(${attempt}) must return a number of milliseconds >= 0, got ${describe(delay)}`,
    );
  }
  return delay;
}
