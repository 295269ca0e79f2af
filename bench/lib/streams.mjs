// Stream building blocks, written the way the Node docs show them. Shared by the contenders
// that feed a library through `stream.pipeline`, so their sinks are identical. The same blocks
// are made from another stream implementation (readable-stream@4) with `streamBlocks`.
import * as core from 'node:stream';

/** `mapTransform` and `tallySink` built from a module's `Transform` and `Writable`. */
export function streamBlocks({ Transform, Writable }) {
  /** An objectMode Transform applying a sync function. */
  const mapTransform = (fn) =>
    new Transform({
      objectMode: true,
      transform(chunk, _encoding, callback) {
        callback(null, fn(chunk));
      },
    });

  /**
   * The sink: a Writable feeding the tally with `pick(chunk)`. With `slowEvery`, every
   * slowEvery-th item holds the write for 1 ms (a consumer slower than the pipeline).
   */
  const tallySink = (tally, { pick = (chunk) => chunk, slowEvery = 0 } = {}) =>
    new Writable({
      objectMode: true,
      write(chunk, _encoding, callback) {
        tally.add(pick(chunk));
        if (slowEvery > 0 && tally.count % slowEvery === 0) setTimeout(callback, 1);
        else callback();
      },
    });

  return { mapTransform, tallySink };
}

export const { mapTransform, tallySink } = streamBlocks(core);
