import type { StepStats } from '../types';
import { RecentRate } from './recent-rate';

const EXACT_CALLS = 1024;
/** Mean distance between timed calls once sampling; strides are drawn from 1..2*MEAN-1. */
const MEAN_STRIDE = 32;
/**
 * Calls costing less than this on average (ms) are sampled: two clock reads (~40 ns each) would
 * add more than a few percent to them. Costlier calls are all timed, so their `busyMs` is exact.
 */
const CHEAP_CALL_MS = 0.002;
/**
 * A call-duration listener (a metrics histogram, ~1 µs a record) hears about one timed call per
 * this much measured work (ms), so listening costs at most a few percent of the step's time.
 */
const LISTEN_BUDGET_MS = 0.025;

/**
 * Live figures of one step, updated by its stage on the hot path (plain field increments, no
 * allocation) and turned into a `StepStats` snapshot on demand.
 */
export class StepCounters {
  in = 0;
  out = 0;
  skipped = 0;
  retried = 0;
  failed = 0;
  restarts = 0;
  busy = 0;
  busyMs = 0;
  meta = 0;
  /** Items the pipeline's last step took and emitted nothing for (a sink stored them). */
  stored = 0;
  /** Items that were inside the step when the run was torn down; their results were dropped. */
  abandoned = 0;
  /** True for the last step of a pipeline: emitting nothing there means "stored", not "skipped". */
  sink = false;
  queued: () => number = () => 0;
  startedAt = 0;
  endedAt = 0;

  #calls = 0;
  #sampling = false;
  #nextTimed = 0;
  #weight = 1;
  #seed = 0x9e3779b9;
  readonly #recent = new RecentRate();

  /**
   * Whether to time this call. The first EXACT_CALLS calls are all timed; after that, a step
   * whose calls cost CHEAP_CALL_MS or more on average keeps timing every call (`busyMs` exact),
   * and a cheaper one is sampled: one call in MEAN_STRIDE on average, at random strides, each
   * sample standing for the calls up to the next one. Random strides keep the estimate
   * unbiased when a step's cost follows the item count (a flush every 32nd item), which a
   * fixed stride would hit or miss every time. The choice is checked again every EXACT_CALLS
   * calls, so a step whose cost changes switches over.
   */
  shouldTime(): boolean {
    const n = ++this.#calls;
    if (n <= EXACT_CALLS) {
      if ((n & (n - 1)) === 0) this.#paceListener(n);
      return true;
    }
    if (!this.#sampling) {
      if ((n & (EXACT_CALLS - 1)) === 0 && this.busyMs < n * CHEAP_CALL_MS) {
        this.#sampling = true;
        this.#nextTimed = n;
      } else {
        return true;
      }
    }
    if (n < this.#nextTimed) return false;
    if ((n & ~(EXACT_CALLS - 1)) !== ((n - this.#weight) & ~(EXACT_CALLS - 1))) {
      this.#paceListener(n);
      // Crossed an EXACT_CALLS boundary since the last sample: are calls still cheap?
      if (this.busyMs >= n * CHEAP_CALL_MS) {
        this.#sampling = false;
        this.#weight = 1;
        return true;
      }
    }
    // xorshift32: cheap, and enough to break any periodicity of the items.
    let x = this.#seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#seed = x >>> 0;
    const stride = 1 + (this.#seed % (2 * MEAN_STRIDE - 1));
    this.#weight = stride;
    this.#nextTimed = n + stride;
    return true;
  }

  /**
   * Set by a metrics reporter: receives the durations of a share of the timed calls, every
   * `#listenEvery`-th one, paced so that it hears of about one call per LISTEN_BUDGET_MS of
   * measured work: every call of a step costing 25 µs or more, a regular sample of cheaper ones.
   */
  onCallTimed: ((ms: number) => void) | null = null;
  #listenEvery = 1;
  #sinceHeard = 0;

  addBusy(ms: number): void {
    this.busyMs += this.#sampling ? ms * this.#weight : ms;
    if (this.onCallTimed !== null && ++this.#sinceHeard >= this.#listenEvery) {
      this.#sinceHeard = 0;
      this.onCallTimed(ms);
    }
  }

  /** Sets how many timed calls go by per call the listener hears of, from the mean cost so far. */
  #paceListener(calls: number): void {
    // No call has finished yet: nothing to go by, keep hearing every call.
    if (this.busyMs === 0) return;
    const meanMs = this.busyMs / calls;
    this.#listenEvery =
      meanMs >= LISTEN_BUDGET_MS ? 1 : Math.ceil(LISTEN_BUDGET_MS / Math.max(meanMs, 1e-6));
    if (this.#sampling)
      this.#listenEvery = Math.max(1, Math.round(this.#listenEvery / MEAN_STRIDE));
  }

  constructor(
    readonly name: string,
    readonly concurrency: number,
  ) {}

  /** Items the step is done with and passed on or stored: what its throughput counts. */
  get handled(): number {
    return this.out + this.stored;
  }

  snapshot(): StepStats {
    const now = this.endedAt || performance.now();
    const seconds = this.startedAt ? (now - this.startedAt) / 1000 : 0;
    const handled = this.handled;
    return {
      name: this.name,
      concurrency: this.concurrency,
      in: this.in,
      out: this.out,
      stored: this.stored,
      skipped: this.skipped,
      retried: this.retried,
      failed: this.failed,
      abandoned: this.abandoned,
      restarts: this.restarts,
      busy: this.busy,
      queued: this.queued(),
      busyMs: Math.round(this.busyMs * 1000) / 1000,
      throughput: seconds > 0 ? Math.round((handled / seconds) * 10) / 10 : 0,
      recentThroughput: Math.round(this.#recent.read(now, handled, this.startedAt) * 10) / 10,
      meta: this.meta,
    };
  }
}
