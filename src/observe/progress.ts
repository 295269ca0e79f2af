import { MultiBar, type SingleBar } from 'cli-progress';
import { describe, invalidArg, outOfRange, PaipaError } from '../errors/errors';
import {
  formatCompact,
  formatCount,
  formatHeadline,
  formatProgressLine,
  formatStepDetail,
  formatSummary,
  itemsDone,
  rate,
  type ProgressOutcome,
} from './progress-format';
import type { StepStats } from '../types';
import { checkFunction, checkInteger, checkKnownKeys, checkPlainObject } from '../util/validate';

export type { ProgressOutcome } from './progress-format';

/** Options of a `ProgressDisplay`. */
export interface ProgressOptions {
  /** Where to draw: a terminal gets live bars, anything else plain log lines. */
  stream: NodeJS.WritableStream;
  /** Items expected, when known: shows a bar and a percentage instead of a counter. */
  total?: number;
  /** Ms between redraws (integer >= 1). */
  intervalMs: number;
  /** Prefix of every line (default `paipa`). */
  title?: string;
}

const KEYS = ['stream', 'total', 'intervalMs', 'title'] as const;
/** Above this many steps a terminal gets one summary line instead of a line per step. */
const MAX_STEP_LINES = 6;
const MAX_DELAY = 2 ** 31 - 1;

/**
 * Live progress of a stream pipeline. On a terminal (`stream.isTTY`) it draws with
 * cli-progress, in place: a headline (a bar with percentage and ETA when the total is known, a
 * counter with throughput otherwise) and one line per step, or a single compact line for
 * pipelines of more than 6 steps. On anything else (a CI log, a file) it writes one plain line
 * per redraw, with no escape codes. `stop()` finishes with a summary line either way.
 *
 * Progress is counted at the first step (items taken in and done with), so it stays comparable
 * with `total` when later steps filter or batch. Timers are unref'd: a display never keeps a
 * process alive, and `stop()` clears them.
 *
 * Throws eagerly from the constructor: a TypeError for a missing `stream`/`intervalMs`, a
 * non-writable stream, an empty `title` or an unknown option; a RangeError for an `intervalMs`
 * or `total` out of range. `start()` throws a PaipaError (`ERR_PAIPA_STATE`) when called twice.
 * A `read` callback that throws skips that redraw: a display never fails a run.
 *
 * @example
 * const display = new ProgressDisplay({ stream: process.stderr, total: urls.length, intervalMs: 200 });
 * display.start(() => pipeline.stats());
 * try {
 *   const { count, durationMs } = await pipeline.run();
 *   display.stop(pipeline.stats(), { ok: true, count, durationMs });
 * } catch (error) {
 *   display.stop(pipeline.stats(), { ok: false, count: 0, durationMs: 0, error });
 * }
 */
export class ProgressDisplay {
  readonly #stream: NodeJS.WritableStream;
  readonly #total: number | undefined;
  readonly #intervalMs: number;
  readonly #title: string;
  #state: 'idle' | 'running' | 'stopped' = 'idle';
  #startedAt = 0;
  #read: () => StepStats[] = () => [];
  #timer: NodeJS.Timeout | undefined;
  #bars: TerminalBars | undefined;

  constructor(options: ProgressOptions) {
    checkPlainObject('ProgressDisplay options', options);
    checkKnownKeys('ProgressDisplay options', options, KEYS);
    const { stream, total, intervalMs, title } = options;
    if (stream === null || typeof (stream as { write?: unknown })?.write !== 'function') {
      throw invalidArg(
        `Expected \`ProgressDisplay options.stream\` to be a writable stream, got ${describe(stream)}`,
      );
    }
    checkInteger('ProgressDisplay options.intervalMs', intervalMs, 1);
    if (intervalMs > MAX_DELAY) {
      throw outOfRange(
        `Expected \`ProgressDisplay options.intervalMs\` to be at most ${MAX_DELAY}, got ${describe(intervalMs)}`,
      );
    }
    if (total !== undefined) checkInteger('ProgressDisplay options.total', total, 0);
    if (title !== undefined && (typeof title !== 'string' || title === '')) {
      throw invalidArg(
        `Expected \`ProgressDisplay options.title\` to be a non-empty string, got ${describe(title)}`,
      );
    }
    this.#stream = stream;
    this.#total = total;
    this.#intervalMs = intervalMs;
    this.#title = title ?? 'paipa';
  }

  /** Begins redrawing every `intervalMs` from the figures `read()` returns. */
  start(read: () => StepStats[]): void {
    checkFunction('ProgressDisplay.start(read)', read);
    if (this.#state !== 'idle') {
      throw new PaipaError('ERR_PAIPA_STATE', 'ProgressDisplay.start() can only be called once');
    }
    this.#state = 'running';
    this.#read = read;
    this.#startedAt = performance.now();
    if ((this.#stream as { isTTY?: boolean }).isTTY === true) {
      this.#bars = new TerminalBars(this.#stream, this.#intervalMs, this.#total, this.#title);
      this.#bars.draw(this.#safeRead(), 0, () => this.#frame());
    } else {
      this.#timer = setInterval(() => this.#writeLine(), this.#intervalMs);
      this.#timer.unref();
    }
  }

  /**
   * Stops redrawing, draws the final figures and writes the summary line. Calling it again does
   * nothing; calling it without `start()` writes only the summary.
   */
  stop(final: StepStats[], outcome: ProgressOutcome): void {
    if (this.#state === 'stopped') return;
    this.#state = 'stopped';
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#bars?.finish(final, performance.now() - this.#startedAt);
    this.#bars = undefined;
    // The summary names each step's in -> out: the one line left in a log after the bars.
    const steps = final.length > 0 ? ` | ${formatCompact(final)}` : '';
    this.#stream.write(`${formatSummary(this.#title, outcome)}${steps}\n`);
  }

  #frame(): { steps: StepStats[]; elapsedMs: number } {
    return { steps: this.#safeRead(), elapsedMs: performance.now() - this.#startedAt };
  }

  #writeLine(): void {
    const { steps, elapsedMs } = this.#frame();
    this.#stream.write(`${formatProgressLine(this.#title, steps, this.#total, elapsedMs)}\n`);
  }

  #safeRead(): StepStats[] {
    try {
      return this.#read();
    } catch {
      return [];
    }
  }
}

/** The bit of cli-progress's MultiBar that its types leave out: its own redraw timer. */
interface MultiBarTimer {
  timer: NodeJS.Timeout | null;
}

/**
 * The terminal drawing, on cli-progress's MultiBar. MultiBar redraws on its own timer (every
 * `intervalMs`, as `fps` says); we refresh the figures just before each redraw ('update-pre').
 * Its timer is not unref'd by cli-progress, so we unref every one it makes.
 */
class TerminalBars {
  readonly #multi: MultiBar;
  readonly #total: number | undefined;
  readonly #title: string;
  #head: SingleBar | undefined;
  #lines: SingleBar[] = [];

  constructor(
    stream: NodeJS.WritableStream,
    intervalMs: number,
    total: number | undefined,
    title: string,
  ) {
    this.#total = total;
    this.#title = title;
    this.#multi = new MultiBar({
      stream,
      fps: 1000 / intervalMs,
      hideCursor: false,
      gracefulExit: false,
    });
    const unref = () => (this.#multi as unknown as MultiBarTimer).timer?.unref();
    this.#multi.on('start', unref);
    this.#multi.on('update-post', unref);
  }

  /** First draw; `frame` then supplies the figures before each of MultiBar's redraws. */
  draw(
    steps: StepStats[],
    elapsedMs: number,
    frame: () => { steps: StepStats[]; elapsedMs: number },
  ): void {
    const format =
      this.#total === undefined
        ? '{title} {headline} | {rate} items/s | {duration_formatted}'
        : '{title} [{bar}] {headline} | {rate} items/s | ETA {eta_formatted}';
    this.#head = this.#multi.create(this.#total ?? 0, 0, {}, { format });
    const lineCount = steps.length > MAX_STEP_LINES ? 1 : steps.length;
    for (let i = 0; i < lineCount; i++) {
      this.#lines.push(this.#multi.create(0, 0, { text: '' }, { format: '  {text}' }));
    }
    this.#update(steps, elapsedMs);
    this.#multi.on('update-pre', () => {
      const next = frame();
      this.#update(next.steps, next.elapsedMs);
    });
  }

  finish(steps: StepStats[], elapsedMs: number): void {
    this.#multi.removeAllListeners('update-pre');
    this.#update(steps, elapsedMs);
    this.#multi.stop();
  }

  #update(steps: StepStats[], elapsedMs: number): void {
    const done = itemsDone(steps);
    this.#head?.update(done, {
      title: this.#title,
      headline: formatHeadline(done, this.#total),
      rate: formatCount(rate(done, elapsedMs)),
    });
    if (this.#lines.length === 1 && steps.length > MAX_STEP_LINES) {
      this.#lines[0].update(0, { text: formatCompact(steps) });
      return;
    }
    this.#lines.forEach((line, i) => {
      if (steps[i]) line.update(0, { text: formatStepDetail(steps[i]) });
    });
  }
}
