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
 * Wall time (`runtimeMs`) is measured on every call; CPU time and heap, which cost about a
 * microsecond each to read, on one call in 16, counted 16 times: estimates, exact in the long
 * run. Measuring then costs well under a microsecond per item and stage.
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
 * Wall time at one instant, and CPU time and heap when this mark is a sampled one. Reading CPU
 * time and heap costs about a microsecond each, far more than a cheap step; wall time costs
 * tens of nanoseconds. So every call gets wall time; the first EXACT_MARKS calls of a run get
 * CPU and heap too, and after that one call in CPU_SAMPLE_EVERY, counted that many times.
 */
interface Mark {
  ms: number;
  cpu?: NodeJS.CpuUsage;
  heap?: number;
  /** How many calls a full mark stands for: 1 while exact, CPU_SAMPLE_EVERY once sampling. */
  weight?: number;
}

const CPU_SAMPLE_EVERY = 16;
/** The first calls of a run are all measured in full, so short runs get exact figures. */
const EXACT_MARKS = 4096;

/** The end mark of a call: full exactly when its start mark was. */
function endMark(start: Mark): Mark {
  return start.cpu === undefined ? { ms: performance.now() } : fullMark(start.weight ?? 1);
}

function fullMark(weight: number): Mark {
  return {
    ms: performance.now(),
    cpu: process.cpuUsage(),
    heap: getHeapStatistics().used_heap_size,
    weight,
  };
}

type Figure = 'ms' | 'user' | 'system' | 'heap';

class Figures {
  ms = 0;
  user = 0;
  system = 0;
  heap = 0;

  addSince(start: Mark, end: Mark): void {
    this.ms += end.ms - start.ms;
    if (start.cpu === undefined || end.cpu === undefined) return;
    const weight = start.weight ?? 1;
    this.user += (end.cpu.user - start.cpu.user) * weight;
    this.system += (end.cpu.system - start.cpu.system) * weight;
    this.heap += (end.heap! - start.heap!) * weight;
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

/**
 * Calls `next`/`return` of an iterator and tells `observe` how each call went: at once for a
 * sync iterator, on settlement for an async one. Values and errors pass through untouched.
 */
abstract class Tap {
  readonly #inner: AnyIterator;
  readonly #observe: Observe;

  constructor(inner: AnyIterator, observe: Observe) {
    this.#inner = inner;
    this.#observe = observe;
  }

  next(): unknown {
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
): Tap {
  return async
    ? new AsyncTap((items as AsyncIterable<unknown>)[Symbol.asyncIterator](), observe)
    : new SyncTap((items as Iterable<unknown>)[Symbol.iterator](), observe);
}

/** Measures one run of a combined pipeline and reports on it. Used by `combinePipeline`. */
export class RunTracker {
  readonly #meters: StageMeter[];
  readonly #debugger: PipelineRuntimeDebugger;
  #state: 'idle' | 'running' | 'ended' = 'idle';
  #startedAt: number | undefined;
  #lastShownAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #marks = 0;

  /** A start mark: full (CPU and heap too) while exact, then for one call in CPU_SAMPLE_EVERY. */
  #mark(): Mark {
    const n = ++this.#marks;
    if (n <= EXACT_MARKS) return fullMark(1);
    if ((n & (CPU_SAMPLE_EVERY - 1)) !== 0) return { ms: performance.now() };
    return fullMark(CPU_SAMPLE_EVERY);
  }

  /** `names[0]` is the source, then one name per step. */
  constructor(debug: PipelineRuntimeDebugger, names: readonly string[]) {
    this.#debugger = debug;
    this.#meters = names.map((name) => new StageMeter(name));
  }

  /** Runs `fn` (the source factory or a step call) and counts its time for `stage`. */
  measure<R>(stage: number, fn: () => R): R {
    const start = this.#mark();
    try {
      return fn();
    } finally {
      this.#meters[stage].total.addSince(start, endMark(start));
    }
  }

  /** Wraps a stage's output so that every `next`/`return` call is measured and counted. */
  probe<T extends Iterable<unknown> | AsyncIterable<unknown>>(
    stage: number,
    items: T,
    async: boolean,
  ): T {
    const meter = this.#meters[stage];
    return tap(items, async, (method) => {
      const start = this.#mark();
      return (outcome) => {
        const end = endMark(start);
        meter.total.addSince(start, end);
        meter.pulled.addSince(start, end);
        if (method === 'next' && outcome.ok && !outcome.result.done) meter.count++;
      };
    }) as unknown as T;
  }

  /** Wraps the pipeline's output: starts the run on the first pull, ends it on the last. */
  watch<T extends Iterable<unknown> | AsyncIterable<unknown>>(items: T, async: boolean): T {
    return tap(items, async, (method) => {
      if (method === 'next') this.#begin();
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
