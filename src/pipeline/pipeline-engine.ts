import type { Duplex } from 'node:stream';
import { pipeline as streamPipeline } from 'readable-stream';
import { AbortError, describe, invalidArg, isPrematureClose, PaipaError } from '../errors/errors';
import { buildStages, stageCounters, type Stage } from '../stages/build-stages';
import { AckTracker } from '../delivery/ack-tracker';
import { SOURCE_ACK, Tracked, type Origins } from '../delivery/tracked';
import { FirstError } from '../errors/first-error';
import { toError } from '../util/thenable';
import { batchLength } from '../ingest/batch';
import { Source } from '../ingest/source';
import { itemBound } from './item-bound';
import { planSteps, type StepPlan } from '../steps/normalize-steps';
import { checkReporters } from '../observe/reporters';
import { ReportingObserver, RunObservers, type RunObserver } from '../observe/run-observers';
import { ProgressDisplay } from '../observe/progress';
import { renderDot, renderMermaid, type DiagramStep } from '../observe/diagram';
import { joinStages } from '../output/join-stages';
import { OutputIterator } from '../output/output-iterator';
import { CountingSink, IteratorSink, OutputTally, type OutputSink } from '../output/sinks';
import { StepCounters } from '../observe/step-counters';
import type { RunResult, StepStats } from '../types';
import {
  checkBoolean,
  checkInteger,
  checkKnownKeys,
  checkOptionalFunction,
  checkPlainObject,
  checkProgress,
  checkRetryDelay,
  checkSignal,
} from '../util/validate';
import { whenClosed } from '../util/when-closed';
import { RunnerStage } from '../stages/runner-stage';
import type { PipelineOptions } from './pipeline-options';

const PIPELINE_KEYS = [
  'highWaterMark',
  'ordered',
  'maxRetries',
  'retryDelay',
  'signal',
  'onItemError',
  'onMeta',
  'onFail',
  'reporters',
  'reportEvery',
  'progress',
  'total',
  'onAck',
  'onCheckpoint',
  'checkpointEvery',
] as const;

type Mode = 'run' | 'start' | 'iterate' | 'stream';
const MODE_NAMES: Record<Mode, string> = {
  run: 'run()',
  start: 'start()',
  iterate: 'for await',
  stream: 'stream()',
};

const asyncDispose: typeof Symbol.asyncDispose =
  (Symbol as { asyncDispose?: typeof Symbol.asyncDispose }).asyncDispose ??
  (Symbol.for('nodejs.asyncDispose') as typeof Symbol.asyncDispose);

/**
 * A list of steps, each with its own number of parallel instances, joined by bounded
 * streams. Feed it with `put`/`putAll`/`putIterable`, then consume it one of four ways:
 * `run()` (one batch), `start()`…`stop()` (continuous), `for await` (iterate the outputs) or
 * `stream()` (a Duplex for `stream.pipeline`). A pipeline runs once.
 *
 * Errors: the first error from any step, the source or the sink rejects (or errors the stream
 * or the loop) with that very error object, marked with `err.paipa = { step, instance }`; every
 * stream is destroyed, `ctx.signal` is aborted and the shutdown hooks run before it settles.
 *
 * @example
 * const p = new Pipeline([[download, 4], parse, [store, 2]]);
 * p.putIterable(urls);
 * const { count } = await p.run();
 */
export class PipelineEngine<I = any, O = any> implements AsyncIterable<O> {
  readonly #plans: StepPlan[];
  /** Items per chunk from the Source to the first stage (1: one by one). */
  readonly #sourceBatch: number;
  readonly #options: PipelineOptions & { highWaterMark: number };
  #source: Source | null = null;
  #hasInput = false;
  #inputClosedBy: string | null = null;
  #mode: Mode | null = null;
  #stages: Stage[] = [];
  #state: 'idle' | 'running' | 'ended' | 'failed' = 'idle';
  #tally: OutputTally | null = null;
  #startedAt = 0;
  #completion: Promise<RunResult> | null = null;
  #observers: RunObservers | null = null;
  /** Destroys every stream of the running pipeline with an error (abort, stop deadline). */
  #tearDown: ((err: Error) => void) | null = null;
  /** Set when the consumer itself ended the run early (a `break`): not a failure. */
  #cancelled = false;
  /** Acknowledgement bookkeeping of the run; null while acknowledgements are off. */
  #tracker: AckTracker | null = null;
  /** The run's first error, known at the moment it happens (before the run settles). */
  #failure: Error | null = null;
  /** ready()/send() calls waiting while the run fails: rejected with the failure. */
  readonly #failureListeners = new Set<(err: Error) => void>();
  /** Resolves once every step's start-up hooks ran (continuous mode). */
  #initialized: Promise<unknown> | null = null;
  #isInitialized = false;

  constructor(steps: readonly unknown[], options: PipelineOptions = {}) {
    checkPlainObject('options', options);
    checkKnownKeys('Pipeline options', options, PIPELINE_KEYS);
    const highWaterMark = options.highWaterMark === undefined ? 16 : options.highWaterMark;
    checkInteger('options.highWaterMark', highWaterMark, 1);
    const maxRetries = options.maxRetries === undefined ? 0 : options.maxRetries;
    checkInteger('options.maxRetries', maxRetries, 0);
    checkBoolean('options.ordered', options.ordered);
    checkRetryDelay('options.retryDelay', options.retryDelay);
    checkSignal('options.signal', options.signal);
    checkOptionalFunction('options.onItemError', options.onItemError);
    checkOptionalFunction('options.onMeta', options.onMeta);
    checkOptionalFunction('options.onFail', options.onFail);
    if (options.reporters !== undefined) checkReporters('options.reporters', options.reporters);
    if (options.reportEvery !== undefined)
      checkInteger('options.reportEvery', options.reportEvery, 1);
    checkProgress('options.progress', options.progress);
    if (options.total !== undefined) checkInteger('options.total', options.total, 0);
    checkOptionalFunction('options.onAck', options.onAck);
    checkOptionalFunction('options.onCheckpoint', options.onCheckpoint);
    if (options.checkpointEvery !== undefined)
      checkInteger('options.checkpointEvery', options.checkpointEvery, 1);
    this.#options = { ...options, highWaterMark };
    this.#plans = planSteps(steps, {
      highWaterMark,
      maxRetries,
      ordered: options.ordered ?? false,
      retryDelay: options.retryDelay ?? 0,
    });
    // A first stage of function or class steps takes the Source's items in batches (one
    // stream hop per batch; see ingest/batch.ts). Iterator and stream steps take them one by one.
    const first = this.#plans[0];
    this.#sourceBatch =
      first && (first.kind === 'func' || first.kind === 'class')
        ? batchLength(highWaterMark, first.highWaterMark)
        : 1;
  }

  /** True while the pipeline runs; false before it starts and once it has ended or failed. */
  get alive(): boolean {
    return this.#state === 'running';
  }

  /**
   * The most items this pipeline holds at once (see `itemBound` in the README's "Rate
   * limiting"): it depends on the steps' highWaterMarks and concurrency, not on the input size.
   */
  get maxItemsInside(): number {
    return itemBound(this.#plans, this.#options.highWaterMark);
  }

  /** False once the pipeline has failed. */
  get ok(): boolean {
    return this.#state !== 'failed';
  }

  /**
   * Adds one item. Returns false when the input buffer is at its high-water mark (the item is
   * still taken; back off, or use `putIterable`/`stream()` for exact backpressure).
   * Throws a TypeError for `null`/`undefined` and an error after `finish()`, after `run()` began,
   * and in `stream()` mode.
   */
  put(item: I): boolean {
    if (item === null || item === undefined) {
      throw invalidArg(
        `put() needs an item; got ${describe(item)}, which cannot travel through a stream`,
      );
    }
    return this.#input('put()').add(item);
  }

  /** Adds every item of a (sync) iterable now. */
  putAll(items: Iterable<I>): this {
    if (items === null || typeof (items as Iterable<I>)?.[Symbol.iterator] !== 'function') {
      throw invalidArg(`putAll() needs an iterable, got ${describe(items)}`);
    }
    this.#input('putAll()');
    for (const item of items) this.put(item);
    return this;
  }

  /**
   * Attaches a lazy source, sync or async: it is pulled only as the pipeline has room, and
   * the input ends when it does. Its errors fail the pipeline; teardown calls its `return()`.
   */
  putIterable(items: Iterable<I> | AsyncIterable<I>): this {
    const isIterable =
      items !== null &&
      items !== undefined &&
      (typeof (items as AsyncIterable<I>)[Symbol.asyncIterator] === 'function' ||
        typeof (items as Iterable<I>)[Symbol.iterator] === 'function');
    if (!isIterable) {
      throw invalidArg(`putIterable() needs an iterable or async iterable, got ${describe(items)}`);
    }
    if (typeof (items as { [SOURCE_ACK]?: unknown })[SOURCE_ACK] === 'function') {
      // Continuous mode, already running: its acknowledgements are asked for from now on.
      const why = 'putIterable() of a source with a [SOURCE_ACK] method';
      const refusal = this.#tracker?.refusal;
      if (refusal) throw this.#stateError(why, refusal.message);
      this.#tracker?.require(why);
    }
    this.#input('putIterable()').attach(items);
    this.#inputClosedBy = 'putIterable()';
    return this;
  }

  /** Sends a control entry through every step's `processMeta`; it is reported to `onMeta`. */
  putMeta(value: unknown): this {
    this.#input('putMeta()').addMeta(value);
    return this;
  }

  /** Ends the input: the pipeline finishes once every item put so far has passed every step. */
  finish(): this {
    if (this.#mode === 'stream')
      throw this.#stateError(
        'finish()',
        'in stream() mode the input is the stream: call end() on it',
      );
    this.#closeInput('finish()');
    return this;
  }

  /**
   * Runs one batch: finishes the input itself, resolves with the `RunResult` once every item
   * has passed every step and every stream has closed; rejects with the first error.
   */
  async run(): Promise<RunResult> {
    this.#claimBatch('run', 'run()');
    const tally = new OutputTally(this.#options.onMeta);
    return this.#execute(tally, new CountingSink(tally));
  }

  /** Starts continuous mode: keep feeding with `put()`, then `await stop()`. */
  start(): this {
    this.#claim('start', 'start()');
    const tally = new OutputTally(this.#options.onMeta);
    this.#completion = this.#execute(tally, new CountingSink(tally));
    // The failure is reported by stop(), onFail and `ok`; never as an unhandled rejection.
    this.#completion.catch(() => {});
    this.#initialized = Promise.all(
      this.#stages.map((stage) => (stage instanceof RunnerStage ? stage.initialized : undefined)),
    ).then(() => {
      this.#isInitialized = true;
    });
    return this;
  }

  /**
   * Continuous mode: resolves once `put()` would return true (the input has room) and, the
   * first time, once every step's start-up hooks ran. Rejects with the pipeline's failure if it
   * fails meanwhile (a `stepInitialize()` that throws included). Use it to push back on the
   * producer (an HTTP server answering 503) instead of `put()`'s boolean, which also turns
   * false on a short burst the pipeline absorbs.
   * Before `start()` and after `stop()` it rejects with `ERR_PAIPA_STATE`; once the pipeline
   * has failed, with `ERR_PAIPA_FAILED` whose `cause` is the failure.
   */
  ready(): Promise<void> {
    try {
      this.#checkContinuous('ready()');
    } catch (err) {
      return Promise.reject(err);
    }
    const source = this.#source!;
    // The common case costs no promise chain: initialized, and room in the input.
    if (this.#isInitialized && source.hasRoom) return Promise.resolve();
    return this.#untilFailure(
      this.#initialized!.then(() => new Promise<void>((resolve) => source.onRoom(resolve))),
    );
  }

  /**
   * Continuous mode: waits for room (as `ready()`), puts the item and resolves once it is done
   * (see the README's "Delivery guarantees": every output derived from it was handed on, or it
   * was dropped or dead-lettered). Rejects with the pipeline's failure if the run fails first.
   * Before `start()`, after `stop()` and in the other modes it rejects with `ERR_PAIPA_STATE`.
   */
  async send(item: I): Promise<void> {
    if (item === null || item === undefined) {
      throw invalidArg(
        `send() needs an item; got ${describe(item)}, which cannot travel through a stream`,
      );
    }
    this.#checkContinuous('send()');
    this.#checkSendable();
    await this.ready();
    this.#checkSendable();
    const tracker = this.#tracker!;
    let done: Promise<void> | undefined;
    this.#input('send()').addTracked(item, (origin) => (done = tracker.wait(origin)));
    return done;
  }

  /** send() needs every step to say which inputs its outputs come from (see cannotTrack). */
  #checkSendable(): void {
    const refusal = this.#tracker?.refusal;
    if (refusal) throw new PaipaError('ERR_PAIPA_STATE', refusal.message, { cause: refusal });
  }

  /** ready()/send() are for continuous mode, while the input is open and the run alive. */
  #checkContinuous(method: string): void {
    if (this.#failure !== null) throw this.#failedError(method);
    if (this.#mode !== 'start') {
      throw this.#stateError(
        method,
        this.#mode === null
          ? `${method} works in continuous mode: call start() first`
          : `${method} works in continuous mode, and the pipeline was used with ${MODE_NAMES[this.#mode]}`,
      );
    }
    if (this.#inputClosedBy !== null) {
      throw this.#stateError(method, `the input was already ended by ${this.#inputClosedBy}`);
    }
  }

  /** `promise`, or the run's failure if that comes first. */
  #untilFailure<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#failureListeners.add(reject);
      promise.then(
        (value) => {
          this.#failureListeners.delete(reject);
          resolve(value);
        },
        (err: unknown) => {
          this.#failureListeners.delete(reject);
          reject(err);
        },
      );
    });
  }

  #failedError(method: string): PaipaError {
    return new PaipaError(
      'ERR_PAIPA_FAILED',
      `${method} is not possible: the pipeline failed (${this.#failure?.message})`,
      { cause: this.#failure },
    );
  }

  /**
   * Finishes the input of a started pipeline and resolves once it drained (rejects on failure).
   * With `timeoutMs`, a pipeline that has not drained by then is torn down and `stop()` rejects
   * with an `AbortError` whose `cause` says the deadline passed; items not finished by then are
   * dropped, as in any failed run.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<RunResult> {
    checkPlainObject('stop() options', options);
    checkKnownKeys('stop() options', options, ['timeoutMs']);
    const { timeoutMs } = options;
    if (timeoutMs !== undefined) checkInteger('stop() options.timeoutMs', timeoutMs, 0);
    if (this.#mode !== 'start' || this.#completion === null) {
      throw this.#stateError('stop()', 'stop() ends continuous mode; call start() first');
    }
    if (this.#inputClosedBy === null) this.#closeInput('stop()');
    this.#source?.finish();
    if (timeoutMs === undefined || this.#state !== 'running') return this.#completion;
    const deadline = setTimeout(() => {
      const cause = new PaipaError(
        'ERR_PAIPA_TIMEOUT',
        `stop(): the pipeline had not drained ${timeoutMs} ms after stop() was called`,
      );
      this.#tearDown?.(new AbortError('The pipeline was stopped at its deadline', { cause }));
    }, timeoutMs);
    try {
      return await this.#completion;
    } finally {
      clearTimeout(deadline);
    }
  }

  async [asyncDispose](): Promise<void> {
    if (this.#mode === 'start' && this.#state === 'running') await this.stop();
  }

  /**
   * Items given to the pipeline (put, putAll, or pulled from a putIterable source) and not yet
   * taken by the first step: the input queue, which `stats()` rows do not show. Always 0 in
   * stream() mode, where the stream's own buffers hold the input.
   */
  get inputQueued(): number {
    const source = this.#source;
    return source === null ? 0 : source.queued + source.bufferedItems;
  }

  /** Figures per step, readable at any time (zeros before the pipeline starts). */
  stats(): StepStats[] {
    if (this.#stages.length > 0) return stageCounters(this.#stages).map((c) => c.snapshot());
    return this.#plans.map((p) => new StepCounters(p.name, p.concurrency).snapshot());
  }

  /**
   * Iterates the outputs of the last step (batch mode: the input is finished for you).
   * Breaking out early tears the pipeline down and closes a lazy source; a failure is thrown
   * from the loop as the very error object.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<O> {
    let sink: IteratorSink | null = null;
    return new OutputIterator<O>(
      () => {
        this.#claimBatch('iterate', 'for await');
        const tally = new OutputTally(this.#options.onMeta);
        sink = new IteratorSink(tally, this.#options.highWaterMark);
        const completion = this.#execute(tally, sink);
        completion.catch(() => {});
        const tracker = this.#tracker;
        return { sink, completion, delivery: tracker && iterationDelivery(tracker, this.#source!) };
      },
      () => {
        // The consumer left early: our own teardown, not a failure. What it had not finished
        // is never acknowledged.
        this.#tracker?.close(new PaipaError('ERR_PAIPA_STATE', 'The loop was left early'));
        this.#cancelled = true;
        if (sink !== null) this.#stages[this.#stages.length - 1]?.destroy();
      },
    );
  }

  /**
   * The pipeline as one Duplex (writable side: items in; readable side: outputs), for use in
   * `stream.pipeline(source, p.stream(), sink)`. Backpressure and errors propagate as with
   * any stream; `put()` is not available in this mode.
   */
  stream(): Duplex {
    if (this.#mode === null && this.#hasInput) {
      throw this.#stateError(
        'stream()',
        'its input is the stream itself, but put()/putIterable() was already used',
      );
    }
    this.#claim('stream', 'stream()');
    this.#inputClosedBy = 'stream()';
    const tally = new OutputTally(this.#options.onMeta);
    this.#tally = tally;
    const { onAck, onCheckpoint, checkpointEvery } = this.#options;
    let tracker: AckTracker | null = null;
    let duplex: Duplex | null = null;
    if (onAck !== undefined || onCheckpoint !== undefined) {
      tracker = this.#tracker = new AckTracker({
        onAck,
        onCheckpoint,
        checkpointEvery: checkpointEvery ?? 1000,
        fail: (err) => duplex?.destroy(toError(err)),
        wantedBy: onAck !== undefined ? 'options.onAck' : 'options.onCheckpoint',
      });
      tracker.begin();
    }
    this.#stages = buildStages(this.#plans, { onItemError: this.#options.onItemError, tracker });
    markSink(this.#stages);
    this.#begin();
    // One of Node's own object-mode Duplexes (see join-stages.ts), so the type is what it is.
    duplex = joinStages(this.#stages, tally, { ...this.#options, tracker }, (err) => {
      if (err) this.#failed(err);
      // Every output was read by now ('end'): the last checkpoint; a throwing one fails it.
      else if (tracker !== null) {
        const checkpointErr = tracker.finish();
        if (checkpointErr) {
          this.#settle(checkpointErr);
          duplex?.destroy(checkpointErr);
          return;
        }
      }
      this.#settle(err);
    });
    return duplex;
  }

  #input(method: string): Source {
    if (this.#failure !== null) throw this.#failedError(method);
    if (this.#mode === 'stream') {
      throw this.#stateError(method, 'in stream() mode write to the stream returned by stream()');
    }
    if (this.#mode === 'run' || this.#mode === 'iterate') {
      throw this.#stateError(
        method,
        `${this.#mode === 'run' ? 'run()' : 'for await'} already took the batch; for continuous input use start(), put() and stop()`,
      );
    }
    if (this.#inputClosedBy !== null) {
      throw this.#stateError(method, `the input was already ended by ${this.#inputClosedBy}`);
    }
    this.#hasInput = true;
    return (this.#source ??= new Source(this.#options.highWaterMark, this.#sourceBatch));
  }

  #closeInput(by: string): void {
    if (this.#inputClosedBy === null) this.#inputClosedBy = by;
    (this.#source ??= new Source(this.#options.highWaterMark, this.#sourceBatch)).finish();
  }

  /** Takes the pipeline for one way of running: a pipeline runs once. */
  #claim(mode: Mode, method: string): void {
    if (this.#mode !== null) {
      throw this.#stateError(
        method,
        `the pipeline was already used with ${MODE_NAMES[this.#mode]}`,
      );
    }
    this.#mode = mode;
  }

  /** run() and for await: one batch, which needs input and ends it. */
  #claimBatch(mode: 'run' | 'iterate', method: string): void {
    if (this.#mode === null && !this.#hasInput) {
      throw new PaipaError(
        'ERR_PAIPA_NO_INPUT',
        `${method} has no input: call put(), putAll() or putIterable() first (or start() for continuous mode)`,
      );
    }
    this.#claim(mode, method);
    this.#closeInput(method);
  }

  #stateError(method: string, why: string): PaipaError {
    return new PaipaError('ERR_PAIPA_STATE', `${method} is not possible: ${why}`);
  }

  #begin(): void {
    this.#state = 'running';
    this.#startedAt = performance.now();
    this.#observers = this.#makeObservers();
    this.#observers.start(
      () => this.stats(),
      () => this.inputQueued,
      () => stageCounters(this.#stages),
    );
  }

  #makeObservers(): RunObservers {
    const { reporters, reportEvery, progress, total } = this.#options;
    const observers: RunObserver[] = [];
    if (reporters && reporters.length > 0) {
      observers.push(new ReportingObserver(reporters, reportEvery ?? 5000));
    }
    if (progress) {
      observers.push(
        new ProgressDisplay({
          stream: progress === true ? process.stderr : progress,
          total: total ?? this.#knownTotal(),
          intervalMs: reportEvery ?? 1000,
        }),
      );
    }
    return new RunObservers(observers);
  }

  /**
   * The number of items the run will see, when it is known before it begins: the input was
   * all given (put/putAll, then ended) and no lazy source is attached. In continuous mode the
   * input is still open at start(), so there is no total unless the `total` option gives one.
   */
  #knownTotal(): number | undefined {
    const source = this.#source;
    if (source === null || source.hasLazyInput || this.#inputClosedBy === null) return undefined;
    return source.given;
  }

  /**
   * The pipeline's structure as a Mermaid flowchart (renders on GitHub in a mermaid code
   * block): input, each step fanned out to its instances and merged back, queue bounds on the
   * edges, and with `{ stats: true }` the live figures.
   */
  toMermaid(options: { stats?: boolean } = {}): string {
    return renderMermaid(this.#diagramSteps(), options.stats ? this.stats() : undefined);
  }

  /** The same picture in Graphviz DOT (`dot -Tsvg pipeline.dot > pipeline.svg`). */
  toDot(options: { stats?: boolean } = {}): string {
    return renderDot(this.#diagramSteps(), options.stats ? this.stats() : undefined);
  }

  #diagramSteps(): DiagramStep[] {
    return this.#plans.map(({ name, kind, concurrency, highWaterMark, ordered }) => ({
      name,
      kind,
      concurrency,
      highWaterMark,
      ordered,
    }));
  }

  #execute(tally: OutputTally, sink: OutputSink): Promise<RunResult> {
    const source = (this.#source ??= new Source(this.#options.highWaterMark, this.#sourceBatch));
    this.#tally = tally;
    const tracker = this.#startTracking(source);
    this.#stages = buildStages(this.#plans, {
      onItemError: this.#options.onItemError,
      batchedInput: this.#sourceBatch > 1,
      takeInput: () => source.takeReady(),
      tracker,
    });
    markSink(this.#stages);
    this.#begin();
    const signal = this.#options.signal;
    // The sink takes the last stage's outputs directly (see OutputSink): no stream after it.
    const last = this.#stages[this.#stages.length - 1];
    sink.attach(last);
    if (tracker !== null && sink instanceof CountingSink) handOffCounted(last, tracker);
    const streams = [source, ...this.#stages];
    // A shutdown hook failing after a clean end makes its stage emit 'error' once pipeline()
    // has let go of it; the run reads it from `shutdownError` instead (#shutdownError).
    for (const stage of this.#stages) stage.on('error', () => {});
    const errors = new FirstError();
    errors.watch(streams as never, (err) => this.#failed(errors.first ?? err));
    return new Promise<RunResult>((resolve, reject) => {
      // Every stream still open is destroyed: the source alone may have ended already (all
      // items handed on), and destroying an ended stream reports nothing to pipeline().
      const tearDown = (err: Error) => {
        for (const stream of streams) if (!stream.destroyed) stream.destroy(err);
      };
      this.#tearDown = tearDown;
      tracker?.setFail((err) => tearDown(toError(err)));
      const onAbort = () => tearDown(new AbortError(undefined, { cause: signal?.reason }));
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      streamPipeline(streams as never, (err?: Error | null) => {
        void whenClosed(streams as never)
          // An async onMeta still settling counts as the sink still writing.
          .then(() => sink.settled())
          // So does an acknowledgement still settling (a broker's ack): its failure fails the run.
          .then(() => (this.#mode !== 'iterate' ? tracker?.drained() : undefined))
          .then(
            () => undefined,
            (metaErr: unknown) => toError(metaErr),
          )
          .then((metaErr) => {
            // Listened to until every stream closed: pipeline() may call back before the last
            // stage has flushed (it watches that stage's writable side only), and an abort
            // must still reach a flush that hangs.
            signal?.removeEventListener('abort', onAbort);
            this.#tearDown = null;
            // The error that happened first, not the one the stream machinery heard of first.
            // pipeline() reports success once the last stage's writable side finished; a stage
            // that failed after that (an iterator step throwing at its end) still fails the run.
            err = errors.first ?? err;
            err ??= metaErr ?? this.#shutdownError();
            // Every input is done by now: the last checkpoint reports the last seq.
            // (A for await loop may still hold outputs: its iterator ends the tracker instead.)
            if (!err && tracker !== null && this.#mode !== 'iterate') err = tracker.finish();
            if (err) this.#failed(err);
            return err;
          })
          // A broker source flushes its acknowledgements and closes its connections before
          // the run settles (SOURCE_END); its failure fails a run that had succeeded.
          // Under acknowledgements a for await loop may still hold outputs whose acks are to
          // come: its iterator calls the hook once it has taken the last (iterationDelivery).
          .then(async (err) => {
            const loopEnds = this.#mode === 'iterate' && tracker !== null && !err;
            const endErr = loopEnds ? undefined : await source.end(err ?? undefined);
            if (!err && endErr) {
              err = endErr;
              this.#failed(err);
            }
            const result = this.#settle(err);
            if (err) reject(err);
            else resolve(result!);
          });
      });
    });
  }

  /**
   * Turns acknowledgements on for this run when something asks for them: `onAck`,
   * `onCheckpoint` or a source with a `[SOURCE_ACK]` method (every item, or that source's
   * items, travels in an envelope), or continuous mode, for `send()`. There, with nothing else
   * asking, the steps are made ready to carry envelopes but only send()'s own items get one:
   * `put()`'s items travel bare, so a pipeline fed by `put()` alone pays (almost) nothing, and a
   * step that cannot be tracked turns `send()` off instead of failing the run.
   */
  #startTracking(source: Source): AckTracker | null {
    const { onAck, onCheckpoint, checkpointEvery } = this.#options;
    const asked = onAck !== undefined || onCheckpoint !== undefined;
    if (!asked && !source.wantsAcks && this.#mode !== 'start') return null;
    const tracker = new AckTracker({
      onAck,
      onCheckpoint,
      checkpointEvery: checkpointEvery ?? 1000,
      // Replaced by the run's teardown once it exists (#execute).
      fail: () => {},
      wantedBy: asked
        ? onAck !== undefined
          ? 'options.onAck'
          : 'options.onCheckpoint'
        : source.wantsAcks
          ? 'putIterable() of a source with a [SOURCE_ACK] method'
          : 'send()',
      optional: !asked && !source.wantsAcks,
    });
    this.#tracker = tracker;
    source.track(tracker, asked);
    tracker.begin();
    return tracker;
  }

  /** The run's first error: nothing more is acknowledged, waiting send()/ready() reject. */
  #failed(err: Error): void {
    if (this.#cancelled && isPrematureClose(err)) return;
    this.#failure = err;
    this.#tracker?.close(err);
    for (const reject of this.#failureListeners) reject(err);
    this.#failureListeners.clear();
  }

  /** A shutdown hook's failure surfaces after the data has flowed: it still fails the run. */
  #shutdownError(): Error | undefined {
    for (const stage of this.#stages) {
      if (stage instanceof RunnerStage && stage.shutdownError !== undefined) {
        return stage.shutdownError as Error;
      }
    }
    return undefined;
  }

  /** Records the outcome once; returns the result on success. */
  #settle(err: Error | null | undefined): RunResult | undefined {
    if (this.#state !== 'running') return undefined;
    const failed = !!err && !(this.#cancelled && isPrematureClose(err));
    const durationMs = performance.now() - this.#startedAt;
    const steps = this.stats();
    // Items stored by a sink step count as handled, as in paipa's `pipeline.count`.
    const count = (this.#tally?.count ?? 0) + (steps.at(-1)?.stored ?? 0);
    const inputQueued = this.inputQueued;
    this.#state = failed ? 'failed' : 'ended';
    // Observers count what was taken from the input (a sink step emits nothing).
    this.#observers?.stop(steps, {
      ok: !failed,
      count: this.#source?.count ?? steps[0]?.in ?? 0,
      durationMs,
      error: failed ? err : undefined,
    });
    if (failed) {
      try {
        this.#options.onFail?.(err);
      } catch {
        // onFail is a notification; the error itself still reaches the caller
      }
      return undefined;
    }
    return {
      ok: true,
      count,
      metaCount: this.#tally?.metaCount ?? 0,
      durationMs,
      steps,
      inputQueued,
    };
  }
}

/**
 * run() and start(): an output is handed on once the counting sink took it, so its origins are
 * released right after (the sink sees the bare value, as without acknowledgements).
 */
function handOffCounted(last: Stage, tracker: AckTracker): void {
  const take = last.push.bind(last) as (chunk: unknown) => boolean;
  last.push = (chunk: unknown) => {
    if (!(chunk instanceof Tracked)) return take(chunk);
    const more = take(chunk.value);
    tracker.release(chunk.origins);
    return more;
  };
}

/**
 * for await: an output is handed on once the loop asks for the next one (its body finished
 * with it); a `break` or a throw in the body leaves it unacknowledged.
 */
function iterationDelivery(tracker: AckTracker, source: Source) {
  let taken: Origins | null = null;
  return {
    unwrap(chunk: unknown): unknown {
      if (!(chunk instanceof Tracked)) return chunk;
      taken = chunk.origins;
      return chunk.value;
    },
    next(): void {
      if (taken === null) return;
      const origins = taken;
      taken = null;
      tracker.release(origins);
    },
    end: async () => {
      await tracker.drained();
      const err = tracker.finish();
      const endErr = await source.end(err);
      return err ?? endErr;
    },
  };
}

/** The last step is the sink: an item it emits nothing for was stored there, not skipped. */
function markSink(stages: readonly Stage[]): void {
  const counters = stageCounters(stages);
  if (counters.length > 0) counters[counters.length - 1].sink = true;
}
