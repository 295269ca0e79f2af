import { annotateError, describe, isSkip, outOfRange, PaipaError } from '../errors/errors';
import { RestartBudget } from '../flow/restart-budget';
import { SlidingWindow } from '../flow/sliding-window';
import { isMeta, MetaEntry } from '../ingest/meta';
import type { StepPlan } from '../steps/normalize-steps';
import type { Step } from '../steps/step';
import { StepCounters } from '../observe/step-counters';
import { isThenable, toError } from '../util/thenable';
import type { ItemErrorHandler, StepContext } from '../types';
import type { AckTracker } from '../delivery/ack-tracker';
import { Tracked, type Origins } from '../delivery/tracked';
import { settleLater, trackCall } from './track-calls';

/** One parallel instance of a function or class step: a processing slot of capacity one. */
interface Instance {
  readonly ctx: StepContext;
  /** What every path but `takeBare` calls: under acknowledgements it takes and gives envelopes. */
  call: (item: unknown, ctx: StepContext) => unknown;
  /** The step itself, on bare values (see `takeBare`). */
  bare: (item: unknown, ctx: StepContext) => unknown;
  step?: Step;
  initialized: boolean;
  /** Bumped when a restart replaces the `Step` object: a retry may then go to this instance. */
  generation: number;
  /** The running call's timeout timer and per-call signal (`timeout` only). */
  callTimer?: NodeJS.Timeout;
  callAbort?: AbortController;
}

/**
 * An item (or meta entry) the runner holds without running it: a retry waiting for an
 * instance other than the one that failed it, or (with `keyBy`/`rateLimit`) an accepted item
 * waiting for its key, an instance or the rate limit.
 */
interface Job {
  readonly item: unknown;
  readonly slot: Slot | null;
  readonly key: unknown;
  attempt: number;
  /** The instance (at that generation) that failed this item last: not the one to retry on. */
  avoid: Instance | null;
  avoidGeneration: number;
  /** True once the item has started: it holds its key until it ends. */
  started: boolean;
}

const NO_KEY = Symbol('no key');

/**
 * What `StepRunner.take` returns when the item did not finish within the call: its result is a
 * promise, it threw (retry, dead letter or failure), or it is a meta entry. The runner then
 * emits it through `RunnerHost.output` as any other item.
 */
export const PENDING: unique symbol = Symbol('pending');

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
  /** Items in flight at most: `concurrency`, or a worker step's batched slots. */
  readonly #slots: number;
  /** False for a worker step: its threads report their own busy time (see BatchDispatcher). */
  readonly #timed: boolean;
  #window: Slot[] = [];
  #windowHead = 0;

  // Flow control. Retries wait in #retries (ready) or on a timer; each holds one unit of the
  // step's capacity (#reserved), so items running + retries waiting <= concurrency. With keyBy
  // or rateLimit, accepted items wait in #parked (at most highWaterMark of them) until their
  // key is free, an instance is idle and the rate limit lets them start.
  readonly #gated: boolean;
  readonly #parkLimit: number;
  #retries: Job[] = [];
  #parked: Job[] = [];
  #reserved = 0;
  readonly #keyHolders = new Map<unknown, Job>();
  readonly #window$: SlidingWindow | null;
  #rateTimer: NodeJS.Timeout | undefined = undefined;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #budget: RestartBudget | null;
  readonly #restarting = new Set<Promise<void>>();
  #dispatching = false;
  #dispatchAgain = false;
  /** No keyBy, rateLimit, timeout or ordered window: `take` may finish an item in place. */
  readonly #direct: boolean;

  /** Present while acknowledgements are on: every call is wrapped (see track-calls.ts). */
  readonly #tracker: AckTracker | null;

  constructor(plan: StepPlan, tracker: AckTracker | null = null) {
    this.plan = plan;
    this.#tracker = tracker;
    this.counters = new StepCounters(plan.name, plan.concurrency);
    this.#slots = plan.slots ?? plan.concurrency;
    this.#timed = plan.worker === undefined;
    this.#ordered = plan.ordered && this.#slots > 1;
    this.#windowLimit = this.#slots + plan.highWaterMark;
    const { keyBy, rateLimit, restart } = plan.flow;
    this.#gated = keyBy !== undefined || rateLimit !== undefined;
    this.#parkLimit = keyBy !== undefined ? plan.highWaterMark : 1;
    this.#window$ = rateLimit ? new SlidingWindow(rateLimit.limit, rateLimit.intervalMs) : null;
    this.#budget = restart ? new RestartBudget(restart.max, restart.withinMs) : null;
    this.#direct = !this.#gated && !this.#ordered && plan.flow.timeout === undefined;
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
    const fn = this.plan.fn!;
    const instance: Instance = {
      ctx,
      call: this.#tracker ? trackCall(fn, this.#tracker) : fn,
      bare: fn,
      initialized: this.plan.kind !== 'class',
      generation: 0,
    };
    this.#instances.push(instance);
    return instance;
  }

  canAccept(): boolean {
    if (this.blocked) return false;
    if (this.#ordered && this.#window.length - this.#windowHead >= this.#windowLimit) return false;
    // With keyBy an item may wait for its key without holding an instance, up to #parkLimit;
    // with rateLimit alone it waits (at most one) for the next start the window allows.
    if (this.#gated) return this.#parked.length < this.#parkLimit && this.#freeCapacity() > 0;
    return this.#freeCapacity() > 0;
  }

  /** Instances that may take a new item: idle or not yet made, less those retries hold. */
  #freeCapacity(): number {
    return this.#idle.length + this.#slots - this.#instances.length - this.#reserved;
  }

  /** Hands an item or meta entry to an idle instance; call only when `canAccept()`. */
  accept(chunk: unknown): void {
    this.inFlight++;
    const slot = this.#ordered ? this.#openSlot() : null;
    const counters = this.counters;
    if (counters.startedAt === 0) counters.startedAt = performance.now();
    if (this.#gated) {
      this.#acceptGated(chunk, slot);
      return;
    }
    const instance = this.#idle.pop() ?? this.#newInstance();
    if (isMeta(chunk)) {
      this.#handleMeta(instance, chunk, slot);
      return;
    }
    counters.in++;
    counters.busy++;
    this.#attempt(instance, chunk, slot, 0, null);
  }

  /**
   * `accept` for the hot path: a call that returns a plain value finishes here and its output
   * is returned to the host instead of going through `output()` (a skip returns `undefined` or
   * `null`); anything else (a promise, a throw, a meta entry, a flow-controlled step) takes
   * the general path and returns PENDING. The bookkeeping is `accept`'s and `#done`'s; the
   * host passes the output on and offers the next item itself, so `released()` is not called.
   * Call only when `canAccept()`.
   */
  take(chunk: unknown): unknown {
    if (!this.#direct || chunk instanceof MetaEntry) {
      this.accept(chunk);
      return PENDING;
    }
    const counters = this.counters;
    if (counters.startedAt === 0) counters.startedAt = performance.now();
    const instance = this.#idle.pop() ?? this.#newInstance();
    this.inFlight++;
    counters.in++;
    counters.busy++;
    const t0 = this.#timed && counters.shouldTime() ? performance.now() : -1;
    let result: unknown;
    try {
      result = instance.call(chunk, instance.ctx);
    } catch (err) {
      if (t0 >= 0) counters.addBusy(performance.now() - t0);
      this.#failed(instance, chunk, null, 0, err, null);
      return PENDING;
    }
    if (isThenable(result)) {
      this.#settleLater(instance, chunk, result, t0);
      return PENDING;
    }
    if (t0 >= 0) counters.addBusy(performance.now() - t0);
    // A teardown during the call: the result is dropped, as #done drops late results.
    if (this.#host.stopped) return PENDING;
    // A retry waiting for this instance runs once this output has been emitted (#done's order).
    if (this.#retries.length > 0) {
      this.#done(instance, null, result, null);
      return PENDING;
    }
    counters.busy--;
    if (result !== undefined && result !== null) counters.out++;
    else if (counters.sink) counters.stored++;
    else counters.skipped++;
    this.inFlight--;
    this.#idle.push(instance);
    return result;
  }

  /**
   * `take` under acknowledgements, for an item whose envelope the stage took apart (`value`
   * and its `origins`): the step runs on the bare value and a plain result comes back bare, so
   * that the stage wraps it once after its last fused step instead of once per step. A skip
   * releases the origins here, as `trackCall` does. Whatever leaves the fused loop (a promise,
   * a throw, an output behind a waiting retry, a flow-controlled step) goes in an envelope:
   * `input` while the stage still has the one it took apart, else a new one.
   *
   * A method of its own rather than `take` with an optional `origins`: that one method made
   * `run()` on S1 13% slower (162 -> 183 ms per 1M items, medians of 7, same process).
   */
  takeBare(value: unknown, origins: Origins, input: Tracked | null): unknown {
    if (!this.#direct) {
      this.accept(input ?? new Tracked(value, origins));
      return PENDING;
    }
    const counters = this.counters;
    if (counters.startedAt === 0) counters.startedAt = performance.now();
    const instance = this.#idle.pop() ?? this.#newInstance();
    this.inFlight++;
    counters.in++;
    counters.busy++;
    const t0 = this.#timed && counters.shouldTime() ? performance.now() : -1;
    let result: unknown;
    try {
      result = instance.bare(value, instance.ctx);
    } catch (err) {
      if (t0 >= 0) counters.addBusy(performance.now() - t0);
      // A SkipEntry ends the item like a skip; #failed counts it and frees the instance.
      if (isSkip(err) && !this.#host.stopped) this.#tracker!.release(origins);
      this.#failed(instance, input ?? new Tracked(value, origins), null, 0, err, null);
      return PENDING;
    }
    if (isThenable(result)) {
      const envelope = input ?? new Tracked(value, origins);
      const settled = settleLater(this.#tracker!, envelope, result, instance.ctx);
      this.#settleLater(instance, envelope, settled, t0);
      return PENDING;
    }
    if (t0 >= 0) counters.addBusy(performance.now() - t0);
    // Teardown sets `stopped` before it aborts the signals: a torn-down run acks nothing.
    if (this.#host.stopped) return PENDING;
    const skipped = result === undefined || result === null;
    if (skipped) {
      this.#tracker!.release(origins);
      // An acknowledgement that throws tears the run down synchronously: the item is then
      // counted as abandoned by shutDown(), never as stored or skipped too.
      if (this.#host.stopped) return PENDING;
    }
    if (this.#retries.length > 0) {
      this.#done(instance, null, skipped ? result : new Tracked(result, origins), null);
      return PENDING;
    }
    counters.busy--;
    if (!skipped) counters.out++;
    else if (counters.sink) counters.stored++;
    else counters.skipped++;
    this.inFlight--;
    this.#idle.push(instance);
    return result;
  }

  #settleLater(instance: Instance, item: unknown, result: PromiseLike<unknown>, t0: number): void {
    result.then(
      (value) => {
        if (t0 >= 0) this.counters.addBusy(performance.now() - t0);
        this.#done(instance, null, value, null);
      },
      (err) => {
        if (t0 >= 0) this.counters.addBusy(performance.now() - t0);
        this.#failed(instance, item, null, 0, err, null);
      },
    );
  }

  #acceptGated(chunk: unknown, slot: Slot | null): void {
    let key: unknown = NO_KEY;
    if (!isMeta(chunk)) {
      this.counters.in++;
      const keyBy = this.plan.flow.keyBy;
      if (keyBy !== undefined) {
        try {
          key = keyBy(chunk);
        } catch (err) {
          this.#host.fail(toError(annotateError(err, { step: this.plan.name, instance: -1 })));
          return;
        }
      }
    }
    this.#parked.push({
      item: chunk,
      slot,
      key,
      attempt: 0,
      avoid: null,
      avoidGeneration: 0,
      started: false,
    });
    this.#dispatch();
  }

  /**
   * Starts whatever waits and can start now: ready retries first (each on an instance other
   * than the one that failed it), then parked items in input order (one at a time per key).
   * Re-entrant calls (a call that settles synchronously) fold into the running loop.
   */
  #dispatch(): void {
    if (this.#dispatching) {
      this.#dispatchAgain = true;
      return;
    }
    this.#dispatching = true;
    try {
      do {
        this.#dispatchAgain = false;
        this.#dispatchRetries();
        this.#dispatchParked();
      } while (this.#dispatchAgain && !this.#host.stopped);
    } finally {
      this.#dispatching = false;
    }
  }

  #dispatchRetries(): void {
    const retries = this.#retries;
    for (let i = 0; i < retries.length && !this.#host.stopped;) {
      const job = retries[i];
      const instance = this.#takeInstance(job);
      if (instance === null) {
        i++;
        continue;
      }
      if (!this.#rateAllows()) {
        this.#idle.push(instance);
        return;
      }
      retries.splice(i, 1);
      this.#reserved--;
      this.#attempt(instance, job.item, job.slot, job.attempt, job);
    }
  }

  #dispatchParked(): void {
    const parked = this.#parked;
    // Keys seen in this pass: a later item of a key must not pass an earlier one still waiting.
    let seen: Set<unknown> | null = null;
    for (let i = 0; i < parked.length && !this.#host.stopped;) {
      const job = parked[i];
      const isItem = job.key !== NO_KEY || !isMeta(job.item);
      if (job.key !== NO_KEY && (this.#keyHolders.has(job.key) || seen?.has(job.key))) {
        (seen ??= new Set()).add(job.key);
        i++;
        continue;
      }
      if (this.#freeCapacity() <= 0) return;
      if (isItem && !this.#rateAllows()) return;
      parked.splice(i, 1);
      const instance = this.#idle.pop() ?? this.#newInstance();
      if (!isItem) {
        this.#handleMeta(instance, job.item as MetaEntry, job.slot);
        continue;
      }
      if (job.key !== NO_KEY) this.#keyHolders.set(job.key, job);
      job.started = true;
      this.counters.busy++;
      this.#attempt(instance, job.item, job.slot, 0, job);
      // A new item was accepted room ago: the host may offer the next one.
      this.#host.released();
    }
  }

  /** An idle instance (or a new one) for this retry that is not the one that failed it. */
  #takeInstance(job: Job): Instance | null {
    const idle = this.#idle;
    for (let k = idle.length - 1; k >= 0; k--) {
      const candidate = idle[k];
      if (candidate !== job.avoid || candidate.generation !== job.avoidGeneration) {
        idle.splice(k, 1);
        return candidate;
      }
    }
    return this.#instances.length < this.#slots ? this.#newInstance() : null;
  }

  /**
   * Whether the rate limit lets a call start now; if so the start is recorded. If not, one
   * timer is armed for the moment it will, which dispatches again and asks the host for input.
   */
  #rateAllows(): boolean {
    const window = this.#window$;
    if (window === null) return true;
    const now = performance.now();
    const wait = window.waitMs(now);
    if (wait === 0) {
      window.take(now);
      return true;
    }
    if (this.#rateTimer === undefined) {
      this.#rateTimer = setTimeout(() => {
        this.#rateTimer = undefined;
        if (this.#host.stopped) return;
        this.#dispatch();
        this.#host.released();
      }, Math.ceil(wait));
    }
    return false;
  }

  #openSlot(): Slot {
    const slot: Slot = { done: false, value: undefined };
    this.#window.push(slot);
    return slot;
  }

  #attempt(
    instance: Instance,
    item: unknown,
    slot: Slot | null,
    attempt: number,
    job: Job | null,
  ): void {
    if (this.plan.flow.timeout !== undefined) {
      this.#attemptTimed(instance, item, slot, attempt, job, this.plan.flow.timeout);
      return;
    }
    // Reading the clock costs more than a cheap step itself, so busy time is sampled.
    const t0 = this.#timed && this.counters.shouldTime() ? performance.now() : -1;
    let result: unknown;
    try {
      result = instance.call(item, instance.ctx);
    } catch (err) {
      if (t0 >= 0) this.counters.addBusy(performance.now() - t0);
      this.#failed(instance, item, slot, attempt, err, job);
      return;
    }
    if (isThenable(result)) {
      result.then(
        (value) => {
          if (t0 >= 0) this.counters.addBusy(performance.now() - t0);
          this.#done(instance, slot, value, job);
        },
        (err) => {
          if (t0 >= 0) this.counters.addBusy(performance.now() - t0);
          this.#failed(instance, item, slot, attempt, err, job);
        },
      );
    } else {
      if (t0 >= 0) this.counters.addBusy(performance.now() - t0);
      this.#done(instance, slot, result, job);
    }
  }

  /**
   * A call with a deadline: its `ctx.signal` is its own (aborted at the deadline, and at
   * teardown), and a result that comes after the deadline is dropped, never counted. A call
   * that ignores its signal keeps running in the background; its instance takes the next item.
   */
  #attemptTimed(
    instance: Instance,
    item: unknown,
    slot: Slot | null,
    attempt: number,
    job: Job | null,
    timeout: number,
  ): void {
    const controller = new AbortController();
    instance.callAbort = controller;
    const ctx: StepContext = Object.freeze({
      signal: controller.signal,
      index: instance.ctx.index,
      name: this.plan.name,
    });
    const t0 = performance.now();
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(instance.callTimer);
      instance.callTimer = undefined;
      instance.callAbort = undefined;
      this.counters.addBusy(performance.now() - t0);
      return true;
    };
    let result: unknown;
    try {
      result = instance.call(item, ctx);
    } catch (err) {
      settle();
      this.#failed(instance, item, slot, attempt, err, job);
      return;
    }
    if (!isThenable(result)) {
      settle();
      this.#done(instance, slot, result, job);
      return;
    }
    instance.callTimer = setTimeout(() => {
      if (!settle()) return;
      const err = new PaipaError(
        'ERR_PAIPA_TIMEOUT',
        `Step ${this.plan.name} (steps[${this.plan.position}]) did not settle within its timeout of ${timeout} ms`,
      );
      controller.abort(err);
      this.#failed(instance, item, slot, attempt, err, job);
    }, timeout);
    result.then(
      (value) => {
        if (settle()) this.#done(instance, slot, value, job);
      },
      (err) => {
        if (settle()) this.#failed(instance, item, slot, attempt, err, job);
      },
    );
  }

  #done(
    instance: Instance,
    slot: Slot | null,
    value: unknown,
    job: Job | null,
    skip = false,
  ): void {
    if (this.#host.stopped) return;
    const counters = this.counters;
    counters.busy--;
    if (value !== undefined && value !== null) counters.out++;
    else if (counters.sink && !skip) counters.stored++;
    else counters.skipped++;
    if (job !== null) this.#ended(job);
    if (slot === null && this.#slots > 1) {
      // Unordered with several instances: the instance takes its next item before this result
      // travels on, so an I/O-bound step starts its next call as early as a promise pool would.
      // The item stays counted in flight until it is emitted, so the stage cannot end before.
      this.#makeIdle(instance);
      this.#host.released();
      this.#emit(slot, value);
      this.inFlight--;
      this.#host.released();
      return;
    }
    this.#emit(slot, value);
    this.#release(instance);
  }

  /** An item ended (output, skip or dead letter): its key is free for the next of that key. */
  #ended(job: Job): void {
    if (job.key !== NO_KEY && this.#keyHolders.get(job.key) === job) {
      this.#keyHolders.delete(job.key);
    }
  }

  #failed(
    instance: Instance,
    item: unknown,
    slot: Slot | null,
    attempt: number,
    err: unknown,
    job: Job | null,
  ): void {
    if (this.#host.stopped) return;
    if (isSkip(err)) {
      this.#done(instance, slot, undefined, job, true);
      return;
    }
    // A restart only serves an item that goes on (a retry or a dead letter). A failure that
    // fails the run is reported at once: restarting first would let a later error win.
    const goesOn = attempt < this.plan.maxRetries || this.#host.onItemError !== undefined;
    if (this.#budget !== null && instance.step !== undefined && goesOn) {
      this.#restart(instance, err, () =>
        this.#afterFailure(instance, item, slot, attempt, err, job),
      );
      return;
    }
    this.#afterFailure(instance, item, slot, attempt, err, job);
  }

  /** After a failure (and the instance's restart, if any): a retry, a dead letter or the end. */
  #afterFailure(
    instance: Instance,
    item: unknown,
    slot: Slot | null,
    attempt: number,
    err: unknown,
    job: Job | null,
  ): void {
    const plan = this.plan;
    if (attempt < plan.maxRetries) {
      this.#retry(instance, item, slot, attempt + 1, job);
      return;
    }
    if (job !== null) this.#ended(job);
    annotateError(err, { step: plan.name, instance: instance.ctx.index });
    const onItemError = this.#host.onItemError;
    if (!onItemError) {
      this.#failRun(err);
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

  /**
   * Schedules retry number `attempt`. The failing instance is freed at once; the retry holds
   * one unit of capacity meanwhile and, in a step with several instances, runs on an instance
   * other than the one that failed it (waiting for one when all the others are busy), so a
   * broken instance cannot spend an item's retries on itself.
   */
  #retry(instance: Instance, item: unknown, slot: Slot | null, attempt: number, job: Job | null) {
    this.counters.retried++;
    let delay: number;
    try {
      delay = retryDelayFor(this.plan, attempt);
    } catch (delayErr) {
      this.#failRun(delayErr);
      return;
    }
    const retry: Job = job ?? {
      item,
      slot,
      key: NO_KEY,
      attempt,
      avoid: null,
      avoidGeneration: 0,
      started: true,
    };
    retry.attempt = attempt;
    retry.avoid = this.#slots > 1 ? instance : null;
    retry.avoidGeneration = instance.generation;
    this.#reserved++;
    this.#idle.push(instance);
    if (delay > 0) {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        if (this.#host.stopped) return;
        this.#retries.push(retry);
        this.#dispatch();
      }, delay);
      this.#timers.add(timer);
    } else {
      this.#retries.push(retry);
    }
    this.#dispatch();
  }

  /**
   * Replaces a class instance whose `process()` failed: its `shutdown()` runs, a fresh object
   * of the class takes its place (same index, same `shared`) through `initialize()` and
   * `start()`, and only then does the item go on to its retry or dead letter. More restarts
   * than the budget allows fail the run with the error that asked for the last one.
   */
  #restart(instance: Instance, err: unknown, then: () => void): void {
    const index = instance.ctx.index;
    if (!this.#budget!.spend(performance.now())) {
      this.#failRun(annotateError(err, { step: this.plan.name, instance: index }));
      return;
    }
    this.counters.restarts++;
    const plan = this.plan;
    const old = instance.step!;
    const replaced = (async () => {
      instance.initialized = false;
      await this.#guardAsync(() => old.shutdown(), index);
      if (this.#host.stopped) return;
      const fresh = this.#makeStep(instance);
      instance.generation++;
      await this.#guardAsync(() => fresh.initialize(plan.options), index);
      instance.initialized = true;
      await this.#guardAsync(() => fresh.start(), index);
    })();
    this.#restarting.add(replaced);
    replaced.then(
      () => {
        this.#restarting.delete(replaced);
        if (!this.#host.stopped) then();
      },
      (hookErr) => {
        this.#restarting.delete(replaced);
        this.#host.fail(toError(hookErr));
      },
    );
  }

  /** The item's failure fails the run: it is counted as failed, so the figures balance. */
  #failRun(err: unknown): void {
    this.counters.failed++;
    this.counters.busy--;
    this.#host.fail(toError(err));
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
    this.#makeIdle(instance);
    this.#host.released();
  }

  #makeIdle(instance: Instance): void {
    this.#idle.push(instance);
    if (this.#retries.length > 0 || this.#parked.length > 0) this.#dispatch();
  }

  /** A new object of the step's class for this instance, sharing `shared` with the others. */
  #makeStep(instance: Instance): Step {
    const plan = this.plan;
    const Ctor = plan.ctor!;
    const step = this.#guard(() => new Ctor(), instance.ctx.index);
    step.index = instance.ctx.index;
    step.name = plan.name;
    step.options = plan.options;
    const other = this.#instances.find((i) => i !== instance && i.step !== undefined);
    step.shared = (other ?? this.#instances[0]).step?.shared ?? step.shared;
    instance.step = step;
    const call: Instance['call'] = (item, ctx) => step.process(item, ctx);
    instance.bare = call;
    instance.call = this.#tracker ? trackCall(call, this.#tracker) : call;
    return step;
  }

  /** Starts the step's resources, or makes the class instances and runs their start-up hooks. */
  async setUp(): Promise<void> {
    const plan = this.plan;
    if (plan.resources) {
      const host = this.#host;
      await plan.resources.start({ fail: (err) => host.fail(err), counters: this.counters });
    }
    if (plan.kind !== 'class') return;
    for (const instance of this.#instances) this.#makeStep(instance);
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

  /**
   * Cancels retry timers and runs each shutdown hook exactly once (initialized instances only);
   * stops the step's resources (`completed`: the stage ended normally).
   */
  async shutDown(completed = false): Promise<void> {
    // Items still inside at teardown never finish (late results are dropped): count them, with
    // the items waiting for their turn behind keyBy or rateLimit.
    let waiting = 0;
    for (const job of this.#parked) if (!job.started && !isMeta(job.item)) waiting++;
    this.counters.abandoned += this.counters.busy + waiting;
    this.counters.busy = 0;
    if (!this.counters.endedAt) this.counters.endedAt = performance.now();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    if (this.plan.resources) await this.plan.resources.stop(completed);
    clearTimeout(this.#rateTimer);
    this.#rateTimer = undefined;
    this.#retries = [];
    this.#parked = [];
    const reason = this.#host?.signal.reason;
    for (const instance of this.#instances) {
      clearTimeout(instance.callTimer);
      instance.callAbort?.abort(reason);
    }
    if (this.plan.kind !== 'class') return;
    // An instance being restarted finishes its replacement first, so its fresh object is shut
    // down like every other (hooks exactly once per object made).
    while (this.#restarting.size > 0) await Promise.allSettled([...this.#restarting]);
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
