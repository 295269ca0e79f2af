import type { Duplex } from 'readable-stream';
import type { AckTracker } from '../delivery/ack-tracker';
import { Attribution } from '../delivery/attribution';
import { joinOrigins, Tracked, type Origins } from '../delivery/tracked';
import { invalidArg } from '../errors/errors';
import { isMeta } from '../ingest/meta';
import type { StepPlan } from '../steps/normalize-steps';

type Callback = (err?: Error | null) => void;
type Pushes = (chunk: unknown, encoding?: BufferEncoding) => boolean;

/** A written entry that pulls nothing and leaves the latest input alone (a meta entry). */
const PASSES = Symbol('passes');
type Written = Origins | null | typeof PASSES;

/**
 * A foreign Duplex of a stream step (`streamStep(() => new Transform(...))`, through2, a
 * user's own Duplex) under acknowledgements. The stream only ever sees bare values; the stage
 * tells this object what it writes, and this object watches three points of the stream:
 *
 * - its `_write` (and `_writev`): the items the stream's own code takes, in write order (a
 *   Writable hands them over one at a time, in order, or a batch at a time to `_writev`, which
 *   counts as one input made of all of them), which is "pulled" in the attribution rule (see
 *   `Attribution`). An item still waiting in the stream's writable buffer is not
 *   pulled, so an input is never attributed (nor acknowledged) before the stream took it;
 * - its `push()`: each output, at the moment the stream produces it, is wrapped in an envelope
 *   attributed by the rule. At that moment a Transform is still inside the `_transform` of the
 *   input the output comes from (its callback comes after its pushes), so a 1-to-many, a
 *   many-to-1 (a batch pushed when its last member is taken, the rest at `_flush`) and a filter
 *   are attributed exactly, as for an iterator step;
 * - the write callback: the stream is done with the input it took, so the latest input's own
 *   reference goes then (`Attribution.settled`), not at the next pull: a lone `send()` through
 *   a Transform resolves once its outputs are handed on, without waiting for another item.
 *
 * The limit, the same as for stateful iterator steps: a stream that takes an item into state of
 * its own and pushes from it later (calls back before pushing, a `compose()`d chain with buffers
 * inside, a sliding window) may have an input released while its output is still inside.
 * Envelopes sit in the stream's readable buffer, so its readable side must be in object mode.
 */
export class TrackedStream {
  readonly #attribution: Attribution;
  /** What the stage wrote and `_write` has not taken yet, in write order. */
  #written: Written[] = [];
  #head = 0;
  /** Inside the stream's `_write`: a default `_write` calling `_writev` takes one item, not two. */
  #writing = false;

  constructor(stream: Duplex, tracker: AckTracker) {
    this.#attribution = new Attribution(tracker);
    const s = stream as unknown as {
      _write: (chunk: unknown, encoding: string, cb: Callback) => void;
      _writev?: ((chunks: unknown[], cb: Callback) => void) | null;
      push: Pushes;
    };
    const attribution = this.#attribution;
    const write = s._write;
    s._write = (chunk, encoding, cb) => {
      this.#take(1);
      this.#writing = true;
      try {
        write.call(stream, chunk, encoding, (err) => {
          attribution.settled();
          cb(err);
        });
      } finally {
        this.#writing = false;
      }
    };
    const writev = s._writev;
    if (typeof writev === 'function') {
      s._writev = (chunks, cb) => {
        if (this.#writing) return writev.call(stream, chunks, cb);
        this.#take(chunks.length);
        writev.call(stream, chunks, (err) => {
          attribution.settled();
          cb(err);
        });
      };
    }
    const push = s.push;
    s.push = (chunk, encoding) =>
      push.call(
        stream,
        chunk === null || chunk === undefined || isMeta(chunk)
          ? chunk
          : this.#attribution.attribute(chunk),
        encoding,
      );
    // Its readable side ended: no output follows, so what was never attributed is done.
    stream.once('end', () => this.#attribution.end());
  }

  /** What to write into the stream for `chunk` (the stage's item or meta entry). */
  toWrite(chunk: unknown): unknown {
    if (chunk instanceof Tracked) {
      this.#written.push(chunk.origins);
      return chunk.value;
    }
    this.#written.push(isMeta(chunk) ? PASSES : null);
    return chunk;
  }

  /** The write the stage just made threw: the stream never got it. */
  unwritten(): void {
    this.#written.pop();
  }

  /**
   * The stream's code takes the next `n` items written. Several taken at once (`_writev`) are
   * pulled as one input made of all of them: every output until the callback counts for the
   * whole batch, since nothing says which of its items an output comes from.
   */
  #take(n: number): void {
    let taken: Origins[] | null = null;
    let bare = false;
    for (let k = 0; k < n && this.#head < this.#written.length; k++) {
      const entry = this.#written[this.#head];
      this.#written[this.#head++] = null;
      if (this.#head === this.#written.length) {
        this.#written = [];
        this.#head = 0;
      }
      if (entry === PASSES) continue;
      if (entry === null) bare = true;
      else (taken ??= []).push(entry);
    }
    if (taken !== null) this.#attribution.pulled(joinOrigins(taken));
    else if (bare) this.#attribution.pulled(null);
  }
}

/**
 * Why a stream cannot be tracked at all, or undefined when it can: paipa must see what the
 * stream takes (a Node or readable-stream Writable's `_write`) and what it pushes one output at
 * a time (an object-mode readable side: in byte mode reads join and split the pushed chunks).
 */
export function whyUntrackable(stream: unknown): string | undefined {
  const s = stream as {
    _write?: unknown;
    push?: unknown;
    readableObjectMode?: boolean;
    _readableState?: { objectMode?: boolean };
  };
  if (typeof s._write !== 'function' || typeof s.push !== 'function') {
    return 'it is not a Node (or readable-stream) Duplex, so the items it takes and the outputs it pushes cannot be seen';
  }
  const objectMode = s.readableObjectMode ?? s._readableState?.objectMode;
  if (objectMode !== true) {
    return 'its readable side is in byte mode, where reads join and split what it pushes, so no output can be traced to an input';
  }
  return undefined;
}

/** The error for acknowledgements asked of a pipeline whose stream step cannot be tracked. */
export function untrackableError(plan: StepPlan, why: string, wantedBy: string): TypeError {
  return invalidArg(
    `${wantedBy} needs to know which inputs every output comes from; steps[${plan.position}] (${plan.name}) cannot say: ${why}. Write it as an iterStep, or as an object-mode Duplex`,
  );
}
