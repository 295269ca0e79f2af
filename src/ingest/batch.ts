/**
 * Several items travelling as one chunk from the `Source` to a first stage that runs function
 * or class steps: one stream hop (a push, a 'data' event, a write and its callback) for up to
 * `highWaterMark` items instead of one per item. Both sides of that hop hold at most one batch
 * (the Source's readable highWaterMark is 0, the stage's writable one 1 chunk), and a batch is
 * never longer than the smaller of the two highWaterMarks in items, so the buffers still hold
 * no more items than `itemBound` counts. Once the stage has taken a batch it takes the next
 * ones straight from the Source (`Source.takeReady`, up to 64 per write), still one at a time.
 */
export class Batch {
  constructor(readonly items: unknown[]) {}
}

/** The batch length for a source feeding a first step with highWaterMark `h` (1: no batches). */
export function batchLength(pipelineHighWaterMark: number, firstStepHighWaterMark: number): number {
  return Math.min(pipelineHighWaterMark, firstStepHighWaterMark);
}
