/** The inputs an item derives from: one origin (the usual case, no array), or several. */
export type Origins = Origin | readonly Origin[];

/**
 * An item on its way through the pipeline with the inputs it derives from. Envelopes are made
 * at the source and by the steps' wrappers, never changed afterwards: a result is always a new
 * envelope, so a late result of a call that timed out cannot alter what a retry carries.
 * They exist only while acknowledgements are on; otherwise items travel bare.
 */
export class Tracked {
  constructor(
    readonly value: unknown,
    readonly origins: Origins,
  ) {}
}

/**
 * One input given to the pipeline, while acknowledgements are on. `refs` counts the things
 * that still stand between it and "done": one per live item derived from it (an envelope in a
 * buffer, a call running, a retry waiting) and one per iterator step that has it as the input
 * it pulled last. It is done when `refs` reaches 0; it is never touched again after that.
 *
 * An origin is also the envelope of its own item as the source gives it (value: the item,
 * origins: itself): one object per input instead of two, on the hot path.
 */
export class Origin extends Tracked {
  refs = 1;
  done = false;
  /** `send()`'s promise, settled when the input is done or the run fails. */
  waiter: { resolve: () => void; reject: (err: unknown) => void } | null = null;

  constructor(
    readonly seq: number,
    item: unknown,
    /** The source's own acknowledgement (see `SOURCE_ACK`), if it asked for one. */
    readonly notify: ((item: unknown, seq: number) => unknown) | null,
  ) {
    super(item, null as never);
    (this as { origins: Origins }).origins = this;
  }

  /** The input as it was given. */
  get item(): unknown {
    return this.value;
  }
}

/**
 * The method by which a source receives acknowledgements for its own items: an iterable given
 * to `putIterable()` that has a function under this key is called with `(item, seq)` once each
 * item it yielded is done (see the README's "Delivery guarantees"). A registered symbol, so a
 * connector can implement it without importing paipa: `Symbol.for('paipa.ack')`.
 */
export const SOURCE_ACK: unique symbol = Symbol.for('paipa.ack') as never;

/**
 * The method by which a source learns that the run reading it has ended: an iterable given to
 * `putIterable()` that has a function under this key is called once with the run's error
 * (`undefined` on success) after the last acknowledgement it will ever get was given, and the
 * run settles only once the returned promise has. A broker source flushes its acknowledgements
 * and closes its connections there; entries it handed out and never saw acknowledged stay with
 * the broker. A throw (or rejection) fails a run that had succeeded, and is ignored when the run
 * failed already. `Symbol.for('paipa.end')`.
 */
export const SOURCE_END: unique symbol = Symbol.for('paipa.end') as never;

/**
 * Marks a stream-step factory whose streams understand envelopes: the stage writes `Tracked`
 * items into them and they emit `Tracked` outputs carrying the origins of what they hold
 * (e.g. `timedChunk`: a batch carries its members' origins). Other stream steps get bare
 * values and are watched from outside (stages/track-stream.ts).
 */
export const ACCEPTS_TRACKED = Symbol('paipa.acceptsTracked');

/** Every origin of a list of `Origins`, flat; one origin stays a single origin. */
export function joinOrigins(list: readonly Origins[]): Origins {
  if (list.length === 1) return list[0];
  const all: Origin[] = [];
  for (const origins of list) {
    if (Array.isArray(origins)) for (const o of origins as Origin[]) all.push(o);
    else all.push(origins as Origin);
  }
  return all;
}
