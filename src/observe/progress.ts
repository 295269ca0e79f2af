import { MultiBar, type SingleBar } from 'cli-progress';
import { describe, invalidArg, outOfRange, PaipaError } from '../errors/errors';
import {
  formatCompact,
  formatCount,
  formatHeadline,
  formatInputQueue,
  formatProgressLine,
  formatStepDetail,
  formatSummary,
  itemsDone,
  type ProgressOutcome,
} from './progress-format';
import type { StepStats } from '../types';
import { checkFunction, checkInteger, checkKnownKeys, checkPlainObject } from '../util/validate';
import { RecentRate } from './recent-rate';

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
  /**
   * Where the program writes its own lines (default `process.stdout`). While bars are drawn on
   * a terminal and this is another stream on a terminal too, its writes are passed through line
   * by line with the bars erased before and redrawn after, so they never break a frame.
   */
  programOutput?: NodeJS.WritableStream;
}

const KEYS = ['stream', 'total', 'intervalMs', 'title', 'programOutput'] as const;
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
  #readInput: () => number = () => 0;
  readonly #recent = new RecentRate();
  readonly #programOutput: NodeJS.WritableStream;
  #timer: NodeJS.Timeout | undefined;
  #bars: TerminalBars | undefined;

  constructor(options: ProgressOptions) {
    checkPlainObject('ProgressDisplay options', options);
    checkKnownKeys('ProgressDisplay options', options, KEYS);
    const { stream, total, intervalMs, title, programOutput } = options;
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
    if (
      programOutput !== undefined &&
      (programOutput === null || typeof (programOutput as { write?: unknown }).write !== 'function')
    ) {
      throw invalidArg(
        `Expected \`ProgressDisplay options.programOutput\` to be a writable stream, got ${describe(programOutput)}`,
      );
    }
    this.#programOutput = programOutput ?? process.stdout;
  }

  /** Begins redrawing every `intervalMs` from the figures `read()` returns. */
  start(read: () => StepStats[], readInput?: () => number): void {
    checkFunction('ProgressDisplay.start(read)', read);
    if (readInput !== undefined) checkFunction('ProgressDisplay.start(read, readInput)', readInput);
    if (this.#state !== 'idle') {
      throw new PaipaError('ERR_PAIPA_STATE', 'ProgressDisplay.start() can only be called once');
    }
    this.#state = 'running';
    this.#read = read;
    if (readInput) this.#readInput = readInput;
    this.#startedAt = performance.now();
    if ((this.#stream as { isTTY?: boolean }).isTTY === true) {
      this.#bars = new TerminalBars(
        this.#stream,
        this.#intervalMs,
        this.#total,
        this.#title,
        this.#programOutput,
      );
      this.#bars.draw(() => this.#frame());
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
    this.#bars?.finish({ ...this.#frame(), steps: final });
    this.#bars = undefined;
    // The summary names each step's in -> out: the one line left in a log after the bars.
    const steps = final.length > 0 ? ` | ${formatCompact(final)}` : '';
    this.#stream.write(`${formatSummary(this.#title, outcome)}${steps}\n`);
  }

  #frame(): Frame {
    const now = performance.now();
    let steps: StepStats[] = [];
    let inputQueued = 0;
    try {
      steps = this.#read();
      inputQueued = this.#readInput();
    } catch {
      // a failed read skips this redraw's figures: a display never fails a run
    }
    const itemsPerSecond = this.#recent.read(now, itemsDone(steps), this.#startedAt);
    return { steps, inputQueued, itemsPerSecond };
  }

  #writeLine(): void {
    const { steps, inputQueued, itemsPerSecond } = this.#frame();
    this.#stream.write(
      `${formatProgressLine(this.#title, steps, this.#total, itemsPerSecond, inputQueued)}\n`,
    );
  }
}

/** The figures of one redraw. */
interface Frame {
  steps: StepStats[];
  inputQueued: number;
  /** Items done per second over about the last 10 s. */
  itemsPerSecond: number;
}

/** The bit of cli-progress's Terminal that erases a frame: back to its first line, clear down. */
interface MultiBarTerminal {
  cursorRelativeReset(): void;
  clearBottom(): void;
}

/** The bit of cli-progress's MultiBar that its types leave out: its own redraw timer. */
interface MultiBarTimer {
  timer: NodeJS.Timeout | null;
  terminal: MultiBarTerminal;
}

type Write = NodeJS.WritableStream['write'];

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
  readonly #programOutput: NodeJS.WritableStream;
  readonly #stream: NodeJS.WritableStream;
  #originalWrite: Write | undefined;
  #guardedWrite: Write | undefined;
  /** A line the program began and has not ended yet: written once its newline comes. */
  #partial = '';

  constructor(
    stream: NodeJS.WritableStream,
    intervalMs: number,
    total: number | undefined,
    title: string,
    programOutput: NodeJS.WritableStream,
  ) {
    this.#total = total;
    this.#title = title;
    this.#programOutput = programOutput;
    this.#stream = stream;
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
  draw(frame: () => Frame): void {
    const first = frame();
    const steps = first.steps;
    const format =
      this.#total === undefined
        ? '{title} {headline} | {rate} items/s | {duration_formatted}'
        : '{title} [{bar}] {headline} | {rate} items/s | ETA {eta_formatted}';
    this.#head = this.#multi.create(this.#total ?? 0, 0, {}, { format });
    const lineCount = steps.length > MAX_STEP_LINES ? 1 : steps.length;
    for (let i = 0; i < lineCount; i++) {
      this.#lines.push(this.#multi.create(0, 0, { text: '' }, { format: '  {text}' }));
    }
    this.#update(first);
    this.#multi.on('update-pre', () => this.#update(frame()));
    this.#guardProgramOutput();
  }

  finish(last: Frame): void {
    this.#multi.removeAllListeners('update-pre');
    this.#update(last);
    this.#multi.stop();
    this.#releaseProgramOutput();
  }

  /**
   * The bars are redrawn in place by moving the cursor up over the last frame. A line the
   * program writes to the same terminal meanwhile would be overwritten or would leave a
   * half-erased frame behind, so while the bars are up the program's writes go through here:
   * whole lines are written where the frame was, and the frame is redrawn below them.
   */
  #guardProgramOutput(): void {
    const out = this.#programOutput;
    // Only a program writing to another terminal stream than the bars (stdout vs stderr): on
    // the bars' own stream, their writes could not be told from the program's.
    if ((out as { isTTY?: boolean }).isTTY !== true || out === this.#stream) return;
    const original = out.write;
    const terminal = (this.#multi as unknown as MultiBarTimer).terminal;
    this.#originalWrite = original;
    const guarded = ((chunk: unknown, ...rest: unknown[]): boolean => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString();
      const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      const end = text.lastIndexOf('\n');
      if (end < 0) {
        this.#partial += text;
        callback?.();
        return true;
      }
      const lines = this.#partial + text.slice(0, end + 1);
      this.#partial = text.slice(end + 1);
      terminal.cursorRelativeReset();
      terminal.clearBottom();
      const ok = original.call(out, lines, callback as never);
      // cli-progress redraws only the lines that changed: the erased ones must all be drawn.
      for (const bar of [this.#head, ...this.#lines]) {
        if (bar) (bar as unknown as { lastDrawnString: string | null }).lastDrawnString = null;
      }
      this.#multi.update();
      return ok;
    }) as Write;
    this.#guardedWrite = guarded;
    out.write = guarded;
  }

  #releaseProgramOutput(): void {
    const out = this.#programOutput;
    const original = this.#originalWrite;
    if (original === undefined) return;
    this.#originalWrite = undefined;
    // Someone may have wrapped write after us: then leave theirs in place.
    if (out.write === this.#guardedWrite) out.write = original;
    this.#guardedWrite = undefined;
    // The bars are gone: an unfinished line goes out as it is, below them.
    const partial = this.#partial;
    this.#partial = '';
    if (partial !== '') original.call(out, partial);
  }

  #update({ steps, inputQueued, itemsPerSecond }: Frame): void {
    const done = itemsDone(steps);
    this.#head?.update(done, {
      title: this.#title,
      headline: formatHeadline(done, this.#total) + formatInputQueue(inputQueued),
      rate: formatCount(itemsPerSecond),
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
