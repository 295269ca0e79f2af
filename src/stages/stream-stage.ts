import { Duplex, finished } from 'readable-stream';
import { constructedInOrder } from '../util/construct-in-order';
import {
  AbortError,
  annotateError,
  describe,
  invalidArg,
  unlimitedController,
} from '../errors/errors';
import type { AckTracker } from '../delivery/ack-tracker';
import { ACCEPTS_TRACKED, Tracked } from '../delivery/tracked';
import { IterInstance } from './iter-instance';
import { TrackedStream, untrackableError, whyUntrackable } from './track-stream';
import { ACCEPTS_META, isMeta } from '../ingest/meta';
import type { StepPlan } from '../steps/normalize-steps';
import { StepCounters } from '../observe/step-counters';
import { toError } from '../util/thenable';
import type { StepContext } from '../types';
import { unlinkReadableBuffer } from '../util/unlinked-buffer';

type InstanceStream = Duplex | NodeJS.ReadWriteStream;

/**
 * The stage of an iterator or stream step: `concurrency` instance Duplexes behind one Duplex.
 *
 * Fan-out: `_write` hands each item to the next instance (round-robin from the last one used)
 * whose `write()` still reports room; when all are full the write is acknowledged only after
 * one of them drains, so upstream backpressure is exact. Merge: every instance is read in
 * paused mode on `readable` and its outputs are pushed as they come; a full readable side stops
 * all reads until `_read`. The stage ends when every instance has ended.
 *
 * Meta entries do not enter user code (an iterator or a foreign stream cannot tell them from
 * items): they pass around the instances, after every item written before them was handed on.
 * Steps marked `ACCEPTS_META` (e.g. `timedChunk`) get each entry in every instance instead, in
 * order with the items, and the stage passes it on once all instances have.
 *
 * Teardown: `_destroy` aborts `ctx.signal`, destroys every instance and waits for each to close.
 */
export class StreamStage extends Duplex {
  readonly counters: StepCounters;
  readonly #plan: StepPlan;
  readonly #abort = unlimitedController();
  #instances: InstanceStream[] = [];
  #needDrain: boolean[] = [];
  #next = 0;
  #ended = 0;
  #blocked = false;
  #completed = false;
  #pendingItem: unknown = undefined;
  #pendingCb: ((err?: Error | null) => void) | null = null;
  readonly #metaAware: boolean;
  /** Meta entries broadcast to every instance: how many instances have yet to pass each on. */
  readonly #metaAwaiting = new Map<unknown, number>();
  /** parked[i]: the meta entry instance i let through and that others have yet to. */
  #parked: unknown[] = [];

  readonly #tracker: AckTracker | null;
  /** Acknowledgements are on and this is a foreign stream step (not `ACCEPTS_TRACKED`). */
  readonly #tracksForeign: boolean;
  /**
   * Then, per instance, what it is given instead of the stage's envelopes (see
   * track-stream.ts). Null otherwise: items are written as they are.
   */
  #foreign: Pick<TrackedStream, 'toWrite' | 'unwritten'>[] | null = null;

  constructor(plan: StepPlan, tracker: AckTracker | null = null) {
    super({
      objectMode: true,
      readableHighWaterMark: plan.highWaterMark,
      writableHighWaterMark: plan.highWaterMark,
    });
    unlinkReadableBuffer(this);
    this.#plan = plan;
    this.#tracker = tracker;
    this.#metaAware = plan.kind === 'stream' && ACCEPTS_META in plan.factory!;
    this.#tracksForeign =
      tracker !== null && plan.kind === 'stream' && !(ACCEPTS_TRACKED in plan.factory!);
    this.counters = new StepCounters(plan.name, plan.concurrency);
    this.counters.queued = () => this.writableLength + (this.#pendingCb ? 1 : 0);
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  _construct(callback: (err?: Error | null) => void): void {
    try {
      for (let index = 0; index < this.#plan.concurrency; index++) {
        const instance = this.#makeInstance(index);
        // Attached first: a stream refused below is still destroyed with the stage.
        this.#attach(instance, index);
        if (this.#tracksForeign) this.#track(instance, index);
      }
      constructedInOrder(this as never, callback);
    } catch (err) {
      callback(
        annotateError(err as Error, { step: this.#plan.name, instance: this.#instances.length }),
      );
    }
  }

  #makeInstance(index: number): InstanceStream {
    const plan = this.#plan;
    const ctx: StepContext = Object.freeze({ signal: this.#abort.signal, index, name: plan.name });
    if (plan.kind === 'iter') {
      return new IterInstance(plan.iterFn!, ctx, plan.highWaterMark, this.#tracker);
    }
    const stream = plan.factory!(ctx);
    if (!isDuplexLike(stream)) {
      throw invalidArg(
        `steps[${plan.position}] (${plan.name}): the streamStep factory must return a Duplex stream, got ${describe(stream)}`,
      );
    }
    return stream;
  }

  /** A foreign stream under acknowledgements: attributed, or refused with the reason. */
  #track(stream: InstanceStream, index: number): void {
    const tracker = this.#tracker!;
    this.#foreign ??= [];
    const why = whyUntrackable(stream);
    if (why === undefined) {
      this.#foreign[index] = new TrackedStream(stream as Duplex, tracker);
      return;
    }
    // Throws when acknowledgements were asked for; otherwise (on only for send()) send() is
    // refused from now on and the stream gets bare values.
    tracker.cannotTrack(untrackableError(this.#plan, why, tracker.wantedBy));
    this.#foreign[index] = BARE;
  }

  #attach(instance: InstanceStream, index: number): void {
    // An instance destroyed with an error fails the stage at that moment (its 'error' event
    // comes a tick later), so the run knows which error came first.
    const destroy = (instance as Duplex).destroy.bind(instance);
    (instance as Duplex).destroy = (err?: Error) => {
      if (err && !this.destroyed && !this.#completed) {
        this.destroy(annotateError(err, { step: this.#plan.name, instance: index }));
      }
      return destroy(err);
    };
    this.#instances.push(instance);
    this.#needDrain.push(false);
    instance.on('drain', () => {
      this.#needDrain[index] = false;
      this.#flushPending();
    });
    instance.on('readable', () => this.#readFrom(index));
    instance.on('end', () => {
      if (++this.#ended === this.#instances.length) {
        this.#completed = true;
        this.counters.endedAt = performance.now();
        this.push(null);
      }
    });
    // `finished` reports an error, and also a close before the end (a destroy without error),
    // which must fail the run rather than silently lose the instance's items.
    finished(instance as Duplex, (err) => {
      if (err && !this.destroyed && !this.#completed) {
        this.destroy(annotateError(err, { step: this.#plan.name, instance: index }));
      }
    });
  }

  override _write(chunk: unknown, _enc: string, callback: (err?: Error | null) => void): void {
    if (this.counters.startedAt === 0) this.counters.startedAt = performance.now();
    if (isMeta(chunk)) {
      this.counters.meta++;
      if (!this.#metaAware) {
        if (!this.push(chunk)) this.#blocked = true;
      } else {
        // Every instance must see the entry (each may hold a partial batch to flush); it is
        // passed on once, when the last instance has let it through (see #readFrom).
        this.#metaAwaiting.set(chunk, this.#instances.length);
        for (let index = 0; index < this.#instances.length; index++) this.#write(index, chunk);
      }
      callback();
      return;
    }
    if (this.#send(chunk)) {
      callback();
    } else {
      this.#pendingItem = chunk;
      this.#pendingCb = callback;
    }
  }

  /** Writes to the first instance with room, round-robin; false when every one is full. */
  #send(chunk: unknown): boolean {
    const n = this.#instances.length;
    for (let k = 0; k < n; k++) {
      const index = (this.#next + k) % n;
      if (!this.#needDrain[index]) {
        this.#next = (index + 1) % n;
        if (!isMeta(chunk)) this.counters.in++;
        if (!this.#write(index, chunk)) this.#needDrain[index] = true;
        return true;
      }
    }
    return false;
  }

  /**
   * Writes to one instance. A stream may throw from write() (a byte stream given an object):
   * that fails the stage like an emitted error would, instead of escaping into the caller.
   */
  #write(index: number, chunk: unknown): boolean {
    const foreign = this.#foreign?.[index];
    try {
      if (foreign !== undefined) chunk = foreign.toWrite(chunk);
      return this.#instances[index].write(chunk as never);
    } catch (err) {
      foreign?.unwritten();
      this.destroy(annotateError(toError(err), { step: this.#plan.name, instance: index }));
      return true;
    }
  }

  #flushPending(): void {
    const cb = this.#pendingCb;
    if (cb === null || this.destroyed) return;
    // Taken out before the write: a write runs user code, which may tear the stage down.
    this.#pendingCb = null;
    if (this.#send(this.#pendingItem)) {
      this.#pendingItem = undefined;
      if (!this.destroyed) cb();
    } else if (!this.destroyed) {
      this.#pendingCb = cb;
    }
  }

  #readFrom(index: number): void {
    if (this.#blocked || this.destroyed || this.#parked[index] !== undefined) return;
    const instance = this.#instances[index];
    let chunk: unknown;
    while ((chunk = instance.read()) !== null) {
      if (chunk === undefined) {
        this.counters.skipped++;
        continue;
      }
      if (!isMeta(chunk)) {
        this.counters.out++;
      } else if (this.#metaAware) {
        const awaiting = (this.#metaAwaiting.get(chunk) ?? 1) - 1;
        if (awaiting > 0) {
          // A barrier: what this instance emits after the entry waits until every other
          // instance has let the entry through too, so the entry keeps its place.
          this.#metaAwaiting.set(chunk, awaiting);
          this.#parked[index] = chunk;
          return;
        }
        this.#metaAwaiting.delete(chunk);
        this.#release(chunk);
      }
      if (!this.push(chunk)) {
        this.#blocked = true;
        return;
      }
    }
  }

  /** Lets the instances parked behind a meta entry go on, once that entry is passed on. */
  #release(meta: unknown): void {
    const parked = this.#parked.flatMap((m, i) => (m === meta ? [i] : []));
    for (const i of parked) this.#parked[i] = undefined;
    if (parked.length > 0) process.nextTick(() => parked.forEach((i) => this.#readFrom(i)));
  }

  override _read(): void {
    this.#blocked = false;
    for (let index = 0; index < this.#instances.length; index++) {
      this.#readFrom(index);
      if (this.#blocked) return;
    }
  }

  override _final(callback: (err?: Error | null) => void): void {
    for (const instance of this.#instances) instance.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (error: Error | null) => void): void {
    if (!this.#completed) this.#abort.abort(err ?? new AbortError('The pipeline was torn down'));
    if (!this.counters.endedAt) this.counters.endedAt = performance.now();
    this.#pendingCb = null;
    const open = this.#instances.filter((s) => !(s as Duplex).closed);
    if (open.length === 0) {
      callback(err);
      return;
    }
    let waiting = open.length;
    const closed = () => {
      if (--waiting === 0) callback(err);
    };
    for (const instance of open) {
      instance.once('close', closed);
      (instance as Duplex).destroy();
    }
  }
}

/** An untrackable stream while acknowledgements are only on for send(): values, no envelopes. */
const BARE: Pick<TrackedStream, 'toWrite' | 'unwritten'> = {
  toWrite: (chunk) => (chunk instanceof Tracked ? chunk.value : chunk),
  unwritten: () => {},
};

function isDuplexLike(value: unknown): value is InstanceStream {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as Duplex).write === 'function' &&
    typeof (value as Duplex).read === 'function' &&
    typeof (value as Duplex).on === 'function' &&
    typeof (value as Duplex).destroy === 'function'
  );
}
