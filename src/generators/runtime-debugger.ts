import { getHeapStatistics } from 'node:v8';
import {
  checkReporters,
  LoggingReporter,
  publishReport,
  type Reporter,
  type ReportRow,
} from '../observe/reporters';
import { checkInteger, checkKnownKeys, checkPlainObject } from '../util/validate';

/** Options of a `PipelineRuntimeDebugger`. */
export interface RuntimeDebuggerOptions {
  /** Who receives the reports (default: one `LoggingReporter` on stderr). */
  reporters?: Reporter[];
  /** Time between periodic reports in ms, an integer >= 1 (default 5000). */
  interval?: number;
}

/**
 * Measures each stage of a generator pipeline: pass it as `combinePipeline(source, steps,
 * { debugger })`. Every run (each iteration of the combined iterable, or each call of the
 * factory form) is measured on its own and shown to every reporter every `interval` ms and
 * once at its end: when exhausted, stopped early (`break`, `return()`) or failed. A run that
 * is never iterated reports nothing. The timer is unref'd, so it never keeps the process alive.
 *
 * Rows (kind `'generator'`): `source` then one per step, with `count` (items the stage
 * emitted), `runtimeMs`, `throughput` (count per second of runtime), `cpuUserMs`,
 * `cpuSystemMs` and `heapDeltaBytes` (V8 `heapUsed` growth, may be negative). Figures are
 * exclusive: a stage's time is measured around its `next()` calls (and the step call that
 * made it), minus the time its upstream stage spent answering those calls. This assumes
 * steps read their input only while being iterated, as generators do; a step that reads
 * ahead in the background gets its upstream's time too, and negative times are clamped at 0.
 * CPU and heap figures are process-wide, so other work running meanwhile counts too.
 * The first 1024 pulls of the pipeline's output are measured, then one in 64, whose figures
 * count 64 times: counts stay exact; times, CPU and heap are estimates past that (unbiased,
 * closer the longer the run), and measuring costs little on long runs.
 *
 * A sync pipeline blocks the event loop, so its periodic reports come from the next item
 * pulled after the interval has elapsed rather than from the timer.
 *
 * Throws eagerly: a RangeError for an `interval` below 1 or not an integer, a TypeError for
 * a non-number `interval`, a `reporters` that is not an array of objects with `show()`, or
 * an unknown option. Reporter failures never break the pipeline (see `publishReport`).
 *
 * @example
 * const debug = new PipelineRuntimeDebugger({ interval: 10_000 });
 * for (const row of combinePipeline(readRows(), [parse, enrich], { debugger: debug })) save(row);
 */
export class PipelineRuntimeDebugger {
  readonly reporters: readonly Reporter[];
  readonly interval: number;

  constructor(options: RuntimeDebuggerOptions = {}) {
    checkPlainObject('PipelineRuntimeDebugger options', options);
    checkKnownKeys('PipelineRuntimeDebugger options', options, ['reporters', 'interval']);
    this.interval =
      options.interval === undefined ? 5000 : checkInteger('interval', options.interval, 1);
    this.reporters =
      options.reporters === undefined
        ? [new LoggingReporter()]
        : checkReporters('reporters', options.reporters);
  }
}

/**
 * Wall time, CPU time and heap at one instant. Reading CPU time and heap costs a few
 * microseconds, far more than a cheap step, so two things keep the figures true:
 * - Not every pull is measured: the first EXACT_PULLS pulls of the pipeline's output are, then
 *   one in SAMPLE_EVERY, whose figures count SAMPLE_EVERY times (`weight`). Pulls in between
 *   only count items.
 * - The time spent taking marks is kept (`overheadMs`, the running total when the mark was
 *   taken) and taken out of every window it falls in, so a stage is not charged for the
 *   measuring of the stages it pulls from.
 */
interface Mark {
  ms: number;
  cpu: NodeJS.CpuUsage;
  heap: number;
  weight: number;
  overheadMs: number;
}

const SAMPLE_EVERY = 64;
const EXACT_PULLS = 1024;

type Figure = 'ms' | 'user' | 'system' | 'heap';

class Figures {
  ms = 0;
  user = 0;
  system = 0;
  heap = 0;

  addSince(start: Mark, end: Mark): void {
    const weight = start.weight;
    this.ms += (end.ms - start.ms - (end.overheadMs - start.overheadMs)) * weight;
    this.user += (end.cpu.user - start.cpu.user) * weight;
    this.system += (end.cpu.system - start.cpu.system) * weight;
    this.heap += (end.heap - start.heap) * weight;
  }
}

/**
 * One stage's inclusive figures. `total` covers every measured call; `pulled` only the
 * `next`/`return` calls, which the downstream stage makes from inside its own measured calls,
 * so the downstream's exclusive figures are its `total` minus this stage's `pulled`.
 */
class StageMeter {
  count = 0;
  readonly total = new Figures();
  readonly pulled = new Figures();
  constructor(readonly name: string) {}
}

type Outcome = { ok: true; result: IteratorResult<unknown> } | { ok: false };
type Method = 'next' | 'return';
/** Called before each call; the function it returns is called once the call has settled. */
type Observe = (method: Method) => (outcome: Outcome) => void;
type AnyIterator = Iterator<unknown> | AsyncIterator<unknown>;
/** A tap's fast path: when `skip()` says so, a `next` call is only counted, not measured. */
interface Quiet {
  skip(): boolean;
  counted(result: IteratorResult<unknown>): void;
}

/**
 * Calls `next`/`return` of an iterator and tells `observe` how each call went: at once for a
 * sync iterator, on settlement for an async one. Values and errors pass through untouched.
 */
abstract class Tap {
  readonly #inner: AnyIterator;
  readonly #observe: Observe;
  readonly #quiet: Quiet | undefined;

  constructor(inner: AnyIterator, observe: Observe, quiet?: Quiet) {
    this.#inner = inner;
    this.#observe = observe;
    this.#quiet = quiet;
  }

  next(): unknown {
    const quiet = this.#quiet;
    if (quiet !== undefined && quiet.skip()) {
      // Not measured: only counted, with as little as possible between the caller and the step.
      const result = this.#inner.next();
      if (typeof (result as PromiseLike<unknown>).then !== 'function') {
        quiet.counted(result as IteratorResult<unknown>);
        return result;
      }
      return (result as Promise<IteratorResult<unknown>>).then((value) => {
        quiet.counted(value);
        return value;
      });
    }
    return this.#call('next', () => this.#inner.next());
  }

  return(value?: unknown): unknown {
    const inner = this.#inner;
    return this.#call('return', () => (inner.return ? inner.return(value) : this.closed(value)));
  }

  /** What `return()` gives for an inner iterator that has none (`return` is optional). */
  protected abstract closed(value: unknown): unknown;

  #call(method: Method, call: () => unknown): unknown {
    const settled = this.#observe(method);
    let result: unknown;
    try {
      result = call();
    } catch (error) {
      settled({ ok: false });
      throw error;
    }
    if (typeof (result as PromiseLike<unknown> | undefined)?.then !== 'function') {
      settled({ ok: true, result: result as IteratorResult<unknown> });
      return result;
    }
    return Promise.resolve(result as PromiseLike<IteratorResult<unknown>>).then(
      (value) => {
        settled({ ok: true, result: value });
        return value;
      },
      (error: unknown) => {
        settled({ ok: false });
        throw error;
      },
    );
  }
}

class SyncTap extends Tap {
  protected closed(value: unknown): IteratorResult<unknown> {
    return { done: true, value };
  }

  [Symbol.iterator](): this {
    return this;
  }
}

class AsyncTap extends Tap {
  protected closed(value: unknown): Promise<IteratorResult<unknown>> {
    return Promise.resolve({ done: true, value });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

function tap(
  items: Iterable<unknown> | AsyncIterable<unknown>,
  async: boolean,
  observe: Observe,
  quiet?: Quiet,
): Tap {
  return async
    ? new AsyncTap((items as AsyncIterable<unknown>)[Symbol.asyncIterator](), observe, quiet)
    : new SyncTap((items as Iterable<unknown>)[Symbol.iterator](), observe, quiet);
}

/** Measures one run of a combined pipeline and reports on it. Used by `combinePipeline`. */
export class RunTracker {
  readonly #meters: StageMeter[];
  readonly #debugger: PipelineRuntimeDebugger;
  #state: 'idle' | 'running' | 'ended' = 'idle';
  #startedAt: number | undefined;
  #lastShownAt = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Pulls of the pipeline's output so far. */
  #pulls = 0;
  /** Whether the current pull of the output is measured (see `watch`). */
  #measuring = true;
  #weight = 1;
  readonly #quiet: Quiet;

  /** Time spent taking marks so far, in ms. */
  #overheadMs = 0;

  /** Opens a window: the costly reads come first, the clock last, so they fall outside it. */
  #mark(): Mark {
    const t0 = performance.now();
    const cpu = process.cpuUsage();
    const heap = getHeapStatistics().used_heap_size;
    const ms = performance.now();
    this.#overheadMs += ms - t0;
    return { ms, cpu, heap, weight: this.#weight, overheadMs: this.#overheadMs };
  }

  /** Closes a window: the clock first, then the costly reads, which again fall outside it. */
  #endMark(start: Mark): Mark {
    const ms = performance.now();
    const overheadMs = this.#overheadMs;
    const cpu = process.cpuUsage();
    const heap = getHeapStatistics().used_heap_size;
    this.#overheadMs += performance.now() - ms;
    return { ms, cpu, heap, weight: start.weight, overheadMs };
  }

  /** `names[0]` is the source, then one name per step. */
  constructor(debug: PipelineRuntimeDebugger, names: readonly string[]) {
    this.#debugger = debug;
    this.#meters = names.map((name) => new StageMeter(name));
    this.#quiet = { skip: () => !this.#measuring, counted: () => {} };
  }

  /** Runs `fn` (the source factory or a step call) and counts its time for `stage`. */
  measure<R>(stage: number, fn: () => R): R {
    const start = this.#mark();
    try {
      return fn();
    } finally {
      this.#meters[stage].total.addSince(start, this.#endMark(start));
    }
  }

  /** Wraps a stage's output so that every `next`/`return` call is measured and counted. */
  probe<T extends Iterable<unknown> | AsyncIterable<unknown>>(
    stage: number,
    items: T,
    async: boolean,
  ): T {
    const meter = this.#meters[stage];
    const quiet: Quiet = {
      skip: this.#quiet.skip,
      counted: (result) => {
        if (!result.done) meter.count++;
      },
    };
    return tap(
      items,
      async,
      (method) => {
        const start = this.#mark();
        return (outcome) => {
          const end = this.#endMark(start);
          meter.total.addSince(start, end);
          meter.pulled.addSince(start, end);
          if (method === 'next' && outcome.ok && !outcome.result.done) meter.count++;
        };
      },
      quiet,
    ) as unknown as T;
  }

  /** Wraps the pipeline's output: starts the run on the first pull, ends it on the last. */
  watch<T extends Iterable<unknown> | AsyncIterable<unknown>>(items: T, async: boolean): T {
    return tap(items, async, (method) => {
      if (method === 'next') {
        this.#begin();
        // Each pull of the output pulls every stage; measuring one pull in SAMPLE_EVERY (after
        // the first EXACT_PULLS), counted SAMPLE_EVERY times, keeps the figures unbiased and
        // the cost low. A `return()` is always measured.
        const n = ++this.#pulls;
        this.#measuring = n <= EXACT_PULLS || n % SAMPLE_EVERY === 0;
        this.#weight = n <= EXACT_PULLS ? 1 : SAMPLE_EVERY;
      } else {
        this.#measuring = true;
        this.#weight = 1;
      }
      return (outcome) => {
        if (method === 'return' || !outcome.ok || outcome.result.done) {
          this.#end();
        } else if (performance.now() - this.#lastShownAt >= this.#debugger.interval) {
          this.#show(false); // a sync pipeline blocks the timer: report from the pull
        }
      };
    }) as unknown as T;
  }

  #begin(): void {
    if (this.#state !== 'idle') return;
    this.#state = 'running';
    this.#startedAt = this.#lastShownAt = performance.now();
    this.#schedule();
  }

  #end(): void {
    if (this.#state === 'ended') return;
    this.#state = 'ended';
    clearTimeout(this.#timer);
    this.#show(true);
  }

  /** The next periodic report is due one interval after the last report, whoever made it. */
  #schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#show(false), this.#debugger.interval);
    this.#timer.unref();
  }

  #show(final: boolean): void {
    const now = performance.now();
    this.#lastShownAt = now;
    if (!final) this.#schedule();
    const elapsedMs = this.#startedAt === undefined ? 0 : now - this.#startedAt;
    publishReport(this.#debugger.reporters, {
      kind: 'generator',
      final,
      elapsedMs: round(elapsedMs, 3),
      steps: this.#meters.map((meter, i) => row(meter, this.#meters[i - 1])),
    });
  }
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function row(meter: StageMeter, upstream: StageMeter | undefined): ReportRow {
  const own = (figure: Figure): number =>
    meter.total[figure] - (upstream ? upstream.pulled[figure] : 0);
  const ownClamped = (figure: Figure): number => Math.max(0, own(figure));
  const runtimeMs = ownClamped('ms');
  return {
    name: meter.name,
    count: meter.count,
    runtimeMs: round(runtimeMs, 3),
    throughput: runtimeMs > 0 ? round(meter.count / (runtimeMs / 1000), 1) : 0,
    cpuUserMs: round(ownClamped('user') / 1000, 3),
    cpuSystemMs: round(ownClamped('system') / 1000, 3),
    heapDeltaBytes: own('heap'),
  };
}
