import { formatWhole } from './number-format';
import type { StepStats } from '../types';

/**
 * The text of the progress display, as pure functions of the figures: the same words on a
 * terminal and in a CI log, and testable without a stream or a clock.
 */

/** `12000` -> `12,000` (rounded: counts and rates read better without decimals). */
export function formatCount(value: number): string {
  return formatWhole(value);
}

/** `850 ms`, `12.6 s`, `3 min 05 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${formatCount(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
}

/** Items per second; 0 before any time has passed. */
export function rate(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : 0;
}

/**
 * How far the run is, counted at the first step: items it has taken in and is no longer
 * working on. Unlike the last step's output, this is comparable with the input total even
 * when later steps filter, batch or fan out items.
 */
export function itemsDone(steps: readonly StepStats[]): number {
  const first = steps[0];
  return first ? Math.max(0, first.in - first.busy) : 0;
}

/**
 * `12,000/50,000 (24%)`, or `12,000 items` when the total is not known (continuous mode: a
 * total taken before the input is all given would read `22,187/0 (100%)`).
 */
export function formatHeadline(done: number, total: number | undefined): string {
  if (total === undefined) return `${formatCount(done)} items`;
  const percent = total > 0 ? Math.min(100, Math.floor((done * 100) / total)) : 100;
  return `${formatCount(done)}/${formatCount(total)} (${percent}%)`;
}

/** `12,010 in, 12,000 out` plus stored items, failures and retries when there are any. */
function formatFigures(step: StepStats): string {
  let text = `${formatCount(step.in)} in, ${formatCount(step.out)} out`;
  if (step.stored > 0) text += `, ${formatCount(step.stored)} stored`;
  if (step.failed > 0) text += `, ${formatCount(step.failed)} failed`;
  if (step.abandoned > 0) text += `, ${formatCount(step.abandoned)} abandoned`;
  if (step.retried > 0) text += `, ${formatCount(step.retried)} retried`;
  return text;
}

/** `parse 12,010 in, 12,000 out`: a step's part of a log line. */
export function formatStep(step: StepStats): string {
  return `${step.name} ${formatFigures(step)}`;
}

/** One line per step on a terminal: where the work is (busy) and where it waits (queued). */
export function formatStepDetail(step: StepStats): string {
  const width = step.concurrency > 1 ? ` ×${step.concurrency}` : '';
  return (
    `${step.name}${width} | ${formatFigures(step)} | ` +
    `${formatCount(step.busy)} busy, ${formatCount(step.queued)} queued | ` +
    `${formatCount(step.recentThroughput)}/s`
  );
}

/** Every step on one line, `in→out`, for pipelines too long for a line per step. */
export function formatCompact(steps: readonly StepStats[]): string {
  return steps
    .map((s) => `${s.name} ${formatCount(s.in)}→${formatCount(s.out + s.stored)}`)
    .join(' › ');
}

/** `, 120 waiting for input`: the input queue, when there is one. */
export function formatInputQueue(inputQueued: number): string {
  return inputQueued > 0 ? `, ${formatCount(inputQueued)} waiting` : '';
}

/**
 * A periodic line for logs: `[paipa] 12,000/50,000 (24%) 3,950 items/s | parse ...`. The rate
 * is the recent one (about the last 10 s), which stays meaningful in a long-running pipeline.
 */
export function formatProgressLine(
  title: string,
  steps: readonly StepStats[],
  total: number | undefined,
  itemsPerSecond: number,
  inputQueued = 0,
): string {
  const done = itemsDone(steps);
  const head = `[${title}] ${formatHeadline(done, total)}${formatInputQueue(inputQueued)} ${formatCount(itemsPerSecond)} items/s`;
  return [head, ...steps.map(formatStep)].join(' | ');
}

/** What the run came to, as `stop()` reports it. */
export interface ProgressOutcome {
  ok: boolean;
  /** Items that came out of the last step. */
  count: number;
  durationMs: number;
  /** The failure, when `ok` is false. */
  error?: unknown;
}

/** `[paipa] done: 50,000 items in 12.6 s (3,968 items/s)` or `[paipa] failed after ...`. */
export function formatSummary(title: string, outcome: ProgressOutcome): string {
  const count = formatCount(outcome.count);
  if (!outcome.ok) return `[${title}] failed after ${count} items: ${errorText(outcome.error)}`;
  const speed = formatCount(rate(outcome.count, outcome.durationMs));
  return `[${title}] done: ${count} items in ${formatDuration(outcome.durationMs)} (${speed} items/s)`;
}

/** The first line of the message: a stack or a multi-line message would break the log line. */
function errorText(error: unknown): string {
  const text =
    error instanceof Error ? error.message : error === undefined ? 'unknown error' : String(error);
  return text.split('\n', 1)[0];
}
