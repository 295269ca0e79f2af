import type { StepStats } from '../types';

const EXACT_CALLS = 1024;
const SAMPLE_EVERY = 32;

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
  queued: () => number = () => 0;
  startedAt = 0;
  endedAt = 0;

  #calls = 0;

  /**
   * Whether to time this call. Every call is timed up to EXACT_CALLS, then one in SAMPLE_EVERY,
   * each sample standing for SAMPLE_EVERY calls: `busyMs` stays exact for short runs and
   * unbiased for long ones, at a fraction of the clock reads.
   */
  shouldTime(): boolean {
    const n = ++this.#calls;
    return n <= EXACT_CALLS || (n & (SAMPLE_EVERY - 1)) === 0;
  }

  addBusy(ms: number): void {
    this.busyMs += this.#calls <= EXACT_CALLS ? ms : ms * SAMPLE_EVERY;
  }

  constructor(
    readonly name: string,
    readonly concurrency: number,
  ) {}

  snapshot(): StepStats {
    const now = this.endedAt || performance.now();
    const seconds = this.startedAt ? (now - this.startedAt) / 1000 : 0;
    return {
      name: this.name,
      concurrency: this.concurrency,
      in: this.in,
      out: this.out,
      skipped: this.skipped,
      retried: this.retried,
      failed: this.failed,
      restarts: this.restarts,
      busy: this.busy,
      queued: this.queued(),
      busyMs: Math.round(this.busyMs * 1000) / 1000,
      throughput: seconds > 0 ? Math.round((this.out / seconds) * 10) / 10 : 0,
      meta: this.meta,
    };
  }
}
