/** Shared types of the public API. */

/** What a step sees besides the item: cancellation, which instance it is, and its name. */
export interface StepContext {
  /** Aborted when the pipeline is torn down early (failure, abort, early `break`, destroy). */
  readonly signal: AbortSignal;
  /** Which parallel instance of the step this is (0-based). */
  readonly index: number;
  /** The step's name, as used in stats, errors and diagrams. */
  readonly name: string;
}

/** A step's result: `undefined`/`null` (or a thrown `SkipEntry`) emits nothing for the item. */
export type StepResult<O> = O | null | undefined | void;

/** A plain (possibly async) function step. */
export type StepFunction<I = any, O = any> = (
  item: I,
  ctx: StepContext,
) => StepResult<O> | PromiseLike<StepResult<O>>;

/** An iterator step: consumes the items reaching it and yields any number of outputs. */
export type IterStepFunction<I = any, O = any> = (
  items: AsyncIterable<I>,
  ctx: StepContext,
) => Iterable<O> | AsyncIterable<O>;

/** Delay before retry number `attempt` (1 for the first retry). */
export type RetryDelay = number | ((attempt: number) => number);

/** Options every step accepts; a `Step` subclass receives the whole object in `initialize()`. */
export interface StepOptions {
  /** Name in stats, errors and diagrams (default: the function or class name). */
  name?: string;
  /** Bound of the step's stream buffers (default: the pipeline's). */
  highWaterMark?: number;
  /** Emit this step's outputs in input order (default: the pipeline's `ordered`). */
  ordered?: boolean;
  /** Extra attempts for an item whose processing throws (default: the pipeline's). */
  maxRetries?: number;
  /** Wait before a retry, in ms, or a function of the attempt number (default: the pipeline's). */
  retryDelay?: RetryDelay;
  /**
   * Function and class steps: items with the same key are processed one at a time, in input
   * order; items of different keys run in parallel up to the step's concurrency. Up to
   * `highWaterMark` items may wait for a busy key; when they all do, the step holds back its
   * input. A throw fails the run like a step error.
   */
  keyBy?: (item: any) => unknown;
  /**
   * Function and class steps: at most `limit` calls start in any window of `intervalMs` ms,
   * across all instances, retries included (a sliding window). Waiting holds back the input.
   */
  rateLimit?: { limit: number; intervalMs: number };
  /**
   * Function and class steps: a call that has not settled within this many ms fails with a
   * `PaipaError` of code `ERR_PAIPA_TIMEOUT` (retries and `onItemError` apply); its
   * `ctx.signal` is aborted, and a late result is dropped.
   */
  timeout?: number;
  /**
   * Class steps: an instance whose `process()` throws is replaced (its `shutdown()`, then a
   * fresh object's `initialize()` and `start()`) before the item is retried or dead-lettered.
   * More than `max` restarts within `withinMs` ms fail the run with the last error.
   */
  restart?: { max: number; withinMs: number };
}

/** Per-step figures, as plain JSON-serialisable data. */
export interface StepStats {
  name: string;
  concurrency: number;
  /** Items that entered the step. */
  in: number;
  /** Items the step emitted. */
  out: number;
  /**
   * Items the pipeline's last step took and emitted nothing for: a sink (a step that writes,
   * stores or sends its items and returns nothing) handled them. Always 0 for the other steps.
   */
  stored: number;
  /**
   * Items for which the step emitted nothing: returned undefined/null (except in the last
   * step, see `stored`) or threw `SkipEntry` (in any step).
   */
  skipped: number;
  /** Retry attempts made. */
  retried: number;
  /**
   * Items whose retries ran out: those that went to `onItemError`, and the one that failed the
   * run when there is no `onItemError`.
   */
  failed: number;
  /**
   * Items that were inside the step when the run was torn down early (a failure elsewhere, an
   * abort, a `break`): their results, if any, were dropped.
   */
  abandoned: number;
  /** Instances replaced after a failure (`restart` option); a worker step's threads replaced after a crash. */
  restarts: number;
  /** Items being processed right now. */
  busy: number;
  /** Items waiting in the step's input buffer. */
  queued: number;
  /** Total time spent inside the step's function, summed over instances (ms). */
  busyMs: number;
  /** Items emitted or stored (`out + stored`) per second since the step began. */
  throughput: number;
  /**
   * Items emitted or stored per second over about the last 10 s: the figure to watch in a
   * long-running pipeline. Measured between readings of the figures (reporters, progress and
   * metrics read them regularly); when nothing read them for longer, since the last reading.
   */
  recentThroughput: number;
  /** Meta entries that passed the step. */
  meta: number;
}

/** What `run()` and `stop()` resolve with. */
export interface RunResult {
  ok: true;
  /**
   * Items the last step handled: those that came out of it plus those it stored (a sink step
   * that returns nothing), like paipa's `pipeline.count`.
   */
  count: number;
  /** Meta entries that reached the end of the pipeline. */
  metaCount: number;
  /** Wall time of the run in ms. */
  durationMs: number;
  /** Figures per step, in pipeline order. */
  steps: StepStats[];
  /** Items given to the pipeline and not yet taken by the first step (0 after a full run). */
  inputQueued: number;
}

/**
 * Called with an item whose retries ran out; the pipeline goes on without it. While
 * acknowledgements are on (`onAck`, `onCheckpoint`, a `SOURCE_ACK` source such as
 * `redisStreamSource`), `inputs` holds the pipeline inputs the item derives from (e.g. the
 * broker entries to dead-letter); otherwise it is `undefined`.
 */
export type ItemErrorHandler = (
  error: unknown,
  item: unknown,
  stepName: string,
  inputs?: readonly unknown[],
) => unknown;
