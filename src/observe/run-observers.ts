import { publishReport, type Report, type Reporter, type ReportRow } from './reporters';
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
  /** `readInput` gives the input queue: items given to the pipeline, not yet in the first step. */
  start(read: () => StepStats[], readInput?: () => number): void;
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

  start(read: () => StepStats[], readInput?: () => number): void {
    this.#startedAt = performance.now();
    if (readInput) this.#readInput = readInput;
    this.#timer = setInterval(() => this.#publish(read(), false), this.intervalMs);
    this.#timer.unref();
  }

  stop(final: StepStats[]): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#publish(final, true);
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

  start(read: () => StepStats[], readInput?: () => number): void {
    for (const o of this.observers) o.start(read, readInput);
  }

  stop(final: StepStats[], outcome: RunOutcome): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const o of this.observers) o.stop(final, outcome);
  }
}
