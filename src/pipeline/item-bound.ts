import type { StepPlan } from '../steps/normalize-steps';

/**
 * The most items a pipeline holds at once, counted from the moment the source hands an item
 * over until the consumer takes the output (the formula the README states and a test checks).
 * With h = a step's highWaterMark and n = its concurrency:
 *
 * - the source's buffer: H (the pipeline's highWaterMark); the consumer's: H for run() and
 *   stream(), 2H for a `for await` loop (its hand-off holds H outputs beyond the stream's
 *   buffer, so a fast loop finds one ready): 3H in all, counting the larger;
 * - a function or class step: its writable buffer (h), n items in flight, and its readable
 *   buffer, which may overshoot h by the n results of calls already running: 2h + 2n;
 *   for a worker step n counts every item sent to or waiting for its threads
 *   (threads × 2 batches × batchSize);
 *   ordered mode adds up to h finished items waiting for an earlier one; `keyBy` adds up to h
 *   items waiting for their key, `rateLimit` alone one item waiting for the window;
 * - an iterator step: the stage's two buffers (2h) and, per instance, its writable buffer (h),
 *   one item being handed over and its readable buffer (h): 2h + n(2h + 1);
 * - a stream step: as an iterator step, counting the user's streams with the step's h
 *   (their real buffers are whatever those streams were built with).
 *
 * The bound depends only on the configuration, never on the number of items: a source of any
 * length runs in flat memory.
 */
export function itemBound(plans: readonly StepPlan[], pipelineHighWaterMark: number): number {
  let total = 3 * pipelineHighWaterMark;
  for (const { kind, highWaterMark: h, concurrency, slots, ordered, flow } of plans) {
    // A worker step holds its threads' batches: `slots` items in flight instead of n.
    const n = slots ?? concurrency;
    if (kind === 'func' || kind === 'class') {
      const waiting = flow.keyBy ? h : flow.rateLimit ? 1 : 0;
      total += 2 * h + 2 * n + (ordered && n > 1 ? h : 0) + waiting;
    } else {
      total += 2 * h + n * (2 * h + 1);
    }
  }
  return total;
}
