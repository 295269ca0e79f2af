import {
  attachReporters,
  publishReport,
  type LiveRun,
  type Report,
  type Reporter,
  type ReportRow,
} from './reporters';
import type { StepCounters } from './step-counters';
import type { StepStats } from '../types';

/** How a run ended, for the final report and the progress summary. */
export interface RunOutcome {
  ok: boolean;
  count: number;
  durationMs: number;
  error?: unknown;
}

/** Something that watches a run: started with a reader of the live figures, stopped once. */
export interface RunObserver {
  /**
   * `readInput` gives the input queue (items given to the pipeline, not yet in the first step);
   * `counters` the steps' live counters, for observers that listen to call durations.
   */
  start(
    read: () => StepStats[],
    readInput?: () => number,
    counters?: () => readonly StepCounters[],
  ): void;
  stop(final: StepStats[], outcome: RunOutcome): void;
}

/**
 * Publishes a stream pipeline's figures to reporters: every `intervalMs` while it runs (an
 * unref'd timer, so reporting never keeps a process alive) and once when it ends, whatever
 * the outcome. Reporter failures are isolated by `publishReport`.
 */
export class ReportingObserver implements RunObserver {
  #timer: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #readInput: () => number = () => 0;

  constructor(
    private readonly reporters: readonly Reporter[],
    private readonly intervalMs: number,
  ) {}

  #detach: (() => void)[] = [];

  start(
    read: () => StepStats[],
    readInput?: () => number,
    counters?: () => readonly StepCounters[],
  ): void {
    this.#startedAt = performance.now();
    if (readInput) this.#readInput = readInput;
    const run: LiveRun = {
      stats: read,
      inputQueued: this.#readInput,
      onCallDuration: (listener) => {
        (counters?.() ?? []).forEach((c, i) => {
          c.onCallTimed = (ms) => listener(i, ms);
        });
      },
    };
    this.#detach = attachReporters(this.reporters, run);
    this.#timer = setInterval(() => this.#publish(read(), false), this.intervalMs);
    this.#timer.unref();
  }

  stop(final: StepStats[]): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#publish(final, true);
    const detach = this.#detach;
    this.#detach = [];
    for (const undo of detach) {
      try {
        undo();
      } catch {
        // a reporter's cleanup must not fail the run that has just ended
      }
    }
  }

  #publish(steps: StepStats[], final: boolean): void {
    const report: Report = {
      kind: 'pipeline',
      final,
      elapsedMs: Math.round(performance.now() - this.#startedAt),
      steps: steps as unknown as ReportRow[],
      inputQueued: this.#readInput(),
    };
    publishReport(this.reporters, report);
  }
}

/** Starts and stops several observers as one; each stops exactly once. */
export class RunObservers {
  #stopped = false;
  constructor(private readonly observers: readonly RunObserver[]) {}

  start(
    read: () => StepStats[],
    readInput?: () => number,
    counters?: () => readonly StepCounters[],
  ): void {
    for (const o of this.observers) o.start(read, readInput, counters);
  }

  stop(final: StepStats[], outcome: RunOutcome): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const o of this.observers) o.stop(final, outcome);
  }
}
