import { describe, invalidArg } from '../errors/errors';
import { formatDecimal, formatWhole } from './number-format';
import type { StepStats } from '../types';
import { checkKnownKeys, checkPlainObject } from '../util/validate';

/**
 * Reporters receive figures from a running pipeline: periodically and once at the end.
 * Generator pipelines (through `PipelineRuntimeDebugger`) and stream pipelines share the
 * interface, so one reporter serves both.
 */

/** One step's figures: plain JSON-serialisable data whose fields depend on the pipeline kind. */
export interface ReportRow {
  name: string;
  [field: string]: string | number;
}

/** What a reporter receives. Treat it as read-only: every reporter gets the same object. */
export interface Report {
  /** `'generator'` from `combinePipeline`, `'pipeline'` from a stream `Pipeline`. */
  kind: 'pipeline' | 'generator';
  /** True for the one report made when the pipeline ends (done, stopped early or failed). */
  final: boolean;
  /** Time since the pipeline began, in ms. */
  elapsedMs: number;
  /** One row per step, in pipeline order. */
  steps: ReportRow[];
  /**
   * Worker pipelines: items given to the pipeline and not yet taken by the first step (the
   * input queue; a step's own input buffer is its row's `queued`).
   */
  inputQueued?: number;
}

/**
 * Live access to a running worker pipeline, for reporters that pull figures when they are
 * asked (metrics) instead of waiting for the next report.
 */
export interface LiveRun {
  /** The per-step figures now (as `p.stats()`). */
  stats(): StepStats[];
  /** Items given to the pipeline and not yet taken by the first step (as `p.inputQueued`). */
  inputQueued(): number;
  /**
   * Calls `listener(stepIndex, ms)` with call durations of function and class steps: every
   * call of a step costing 25 µs or more, a regular sample of cheaper calls (about one per
   * 25 µs of work), so listening costs a few percent at most. Costs nothing unless a listener
   * is set; one listener per run.
   */
  onCallDuration(listener: (stepIndex: number, ms: number) => void): void;
}

/**
 * Receives reports. `show` may return a promise; it is not awaited, so a slow reporter never
 * slows or hangs the pipeline. A throw or rejection is caught (see `publishReport`).
 */
export interface Reporter {
  show(report: Report): void | Promise<void>;
  /**
   * Optional: called when a worker pipeline starts, before its first report, with live access
   * to its figures. The function it may return is called once the run's final report has been
   * shown. A throw is isolated like one from `show`.
   */
  attach?(run: LiveRun): void | (() => void);
}

/**
 * Keeps every report it is shown, in order. Handy in tests and for inspecting a run.
 *
 * @example
 * const memory = new MemoryReporter();
 * consume(combinePipeline(items, steps, { debugger: new PipelineRuntimeDebugger({ reporters: [memory] }) }));
 * memory.reports.at(-1)?.steps; // the final figures
 */
export class MemoryReporter implements Reporter {
  readonly reports: Report[] = [];

  show(report: Report): void {
    this.reports.push(report);
  }
}

/** Options of a `LoggingReporter`. */
export interface LoggingReporterOptions {
  /** Where the table is written (default `process.stderr`). */
  stream?: NodeJS.WritableStream;
}

/**
 * Writes each report as an aligned text table: a header line (final or periodic, elapsed
 * time), then one line per step with the row's fields as columns. Any row shape is rendered;
 * numbers are formatted from the field name: `...Ms` as milliseconds, `throughput` and
 * `...PerSec` as a rate, `...Bytes` in B/KiB/MiB/GiB (signed for `...Delta...` fields),
 * anything else with thousands separators.
 *
 * Throws a TypeError when `stream` has no `write` method or an option is unknown.
 *
 * @example
 * new PipelineRuntimeDebugger({ reporters: [new LoggingReporter({ stream: process.stdout })] });
 */
export class LoggingReporter implements Reporter {
  readonly #stream: NodeJS.WritableStream;

  constructor(options: LoggingReporterOptions = {}) {
    checkPlainObject('LoggingReporter options', options);
    checkKnownKeys('LoggingReporter options', options, ['stream']);
    const stream = options.stream ?? process.stderr;
    if (typeof (stream as { write?: unknown }).write !== 'function') {
      throw invalidArg(`Expected \`stream\` to be a writable stream, got ${describe(stream)}`);
    }
    this.#stream = stream;
  }

  show(report: Report): void {
    this.#stream.write(formatReport(report));
  }
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 100 ? formatWhole(value) : formatDecimal(value);
}

function formatBytes(value: number, signed: boolean): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let size = Math.abs(value);
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit++;
  }
  const sign = value < 0 ? '-' : signed && value > 0 ? '+' : '';
  return `${sign}${unit === 0 ? formatWhole(size) : size.toFixed(1)} ${units[unit]}`;
}

/** Renders one cell; the unit is guessed from the field name so any row shape reads well. */
export function formatCell(field: string, value: string | number | undefined): string {
  if (typeof value !== 'number') return value ?? '';
  if (/Ms$/.test(field)) return `${formatNumber(value)} ms`;
  if (field === 'throughput' || /PerSec$/.test(field)) return `${formatNumber(value)}/s`;
  if (/Bytes$/.test(field) && Number.isFinite(value)) {
    return formatBytes(value, /delta/i.test(field));
  }
  return formatNumber(value);
}

function formatElapsed(ms: number): string {
  return ms < 1000 ? `${formatNumber(ms)} ms` : `${formatDecimal(ms / 1000)} s`;
}

/**
 * The text a `LoggingReporter` writes for a report: a header line, a column header, and one
 * line per step; numeric columns are right-aligned. Ends with a newline.
 */
export function formatReport(report: Report): string {
  const what = report.kind === 'generator' ? 'generator pipeline' : 'pipeline';
  const when = report.final ? 'final' : 'periodic';
  const input =
    report.inputQueued === undefined ? '' : `, input queue ${formatWhole(report.inputQueued)}`;
  const header = `paipa ${what}: ${when} report after ${formatElapsed(report.elapsedMs)}${input}`;
  const fields = ['name'];
  for (const row of report.steps) {
    for (const field of Object.keys(row)) if (!fields.includes(field)) fields.push(field);
  }
  const numeric = fields.map((f) => report.steps.some((row) => typeof row[f] === 'number'));
  const table = [fields, ...report.steps.map((row) => fields.map((f) => formatCell(f, row[f])))];
  const widths = fields.map((_, col) => Math.max(...table.map((line) => line[col].length)));
  const lines = table.map((line) =>
    line
      .map((cell, col) => (numeric[col] ? cell.padStart(widths[col]) : cell.padEnd(widths[col])))
      .join('  ')
      .trimEnd(),
  );
  return `${[header, ...(report.steps.length > 0 ? lines : ['(no steps)'])].join('\n')}\n`;
}

const warned = new WeakSet<Reporter>();

function warnOnce(reporter: Reporter, error: unknown, method = 'show'): void {
  if (warned.has(reporter)) return;
  warned.add(reporter);
  const name = reporter.constructor?.name || 'reporter';
  const reason = error instanceof Error ? error.message : String(error);
  process.emitWarning(
    `${name}.${method}() failed: ${reason}. The pipeline goes on; later failures of this reporter are not reported.`,
    { type: 'PaipaWarning', code: 'PAIPA_REPORTER_FAILED' },
  );
}

/**
 * Shows a report to every reporter. A reporter that throws or rejects does not stop the
 * others or the pipeline: its first failure is emitted as a process warning
 * (`PAIPA_REPORTER_FAILED`, printed on stderr by Node), later ones are ignored. Promises
 * returned by `show` are not awaited.
 */
export function publishReport(reporters: readonly Reporter[], report: Report): void {
  for (const reporter of reporters) {
    try {
      const shown = reporter.show(report);
      if (shown && typeof shown.then === 'function') {
        shown.then(undefined, (error: unknown) => warnOnce(reporter, error));
      }
    } catch (error) {
      warnOnce(reporter, error);
    }
  }
}

/**
 * Attaches every reporter that has `attach` to a live run; returns the detach functions they
 * gave. A reporter whose `attach` throws is warned about once, like a failing `show`.
 */
export function attachReporters(reporters: readonly Reporter[], run: LiveRun): (() => void)[] {
  const detach: (() => void)[] = [];
  for (const reporter of reporters) {
    if (typeof reporter.attach !== 'function') continue;
    try {
      const undo = reporter.attach(run);
      if (typeof undo === 'function') detach.push(undo);
    } catch (error) {
      warnOnce(reporter, error, 'attach');
    }
  }
  return detach;
}

/** Checks a `reporters` option: an array of objects with a `show(report)` method. */
export function checkReporters(name: string, value: unknown): Reporter[] {
  if (!Array.isArray(value)) {
    throw invalidArg(`Expected \`${name}\` to be an array of reporters, got ${describe(value)}`);
  }
  value.forEach((reporter: unknown, i) => {
    if (
      reporter === null ||
      typeof reporter !== 'object' ||
      typeof (reporter as Reporter).show !== 'function'
    ) {
      throw invalidArg(
        `Expected \`${name}[${i}]\` to be a reporter (an object with a show(report) method), got ${describe(reporter)}`,
      );
    }
  });
  return value as Reporter[];
}
