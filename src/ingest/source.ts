import { Readable } from 'readable-stream';
import { annotateError, describe, invalidArg } from '../errors/errors';
import { unlinkReadableBuffer } from '../util/unlinked-buffer';
import { Batch } from './batch';
import { MetaEntry } from './meta';
import { isThenable, toError } from '../util/thenable';
import type { AckTracker } from '../delivery/ack-tracker';
import { SOURCE_ACK, SOURCE_END, type Origin } from '../delivery/tracked';

type AnyIterator = Iterator<unknown> | AsyncIterator<unknown>;

/** No item is available right now. */
const NONE: unique symbol = Symbol('none');

/** The name errors of the input carry in `err.paipa.step`. */
export const SOURCE_NAME = 'source';

/**
 * The pipeline's input as a Readable: first the items given with `put()`/`putMeta()` (held in
 * order, as the caller chose to hand them over eagerly), then an attached lazy iterable, which
 * is pulled only when the first stage asks for more (`_read`), so a lazy source of any length
 * runs in bounded memory. The stream ends once the input is finished and everything is handed on.
 */
export class Source extends Readable {
  #queue: unknown[] = [];
  #head = 0;
  #iterator: AnyIterator | null = null;
  #async = false;
  #pulling = false;
  #finished = false;
  #wanted = false;
  #ended = false;
  #lazy = false;
  /** Items (not meta entries) handed to the pipeline so far. */
  count = 0;
  /** Items given eagerly with put()/putAll(). */
  given = 0;

  /** Acknowledgements (null while they are off): items are put in envelopes as they are given. */
  #tracker: AckTracker | null = null;
  /**
   * Every item given gets an envelope (onAck, onCheckpoint); false while acknowledgements are
   * on only for `send()`: then only send()'s items and a SOURCE_ACK source's items get one, the
   * others travel bare and only take their seq.
   */
  #trackAll = false;
  /** The lazy source's own acknowledgement method (see SOURCE_ACK). */
  #notify: ((item: unknown, seq: number) => unknown) | null = null;
  /** The lazy source's end hook (see SOURCE_END), called once by `end()`. */
  #onEnd: ((err: Error | undefined) => unknown) | null = null;
  /** Waiting for room (ready()/send()): called once the queue is below the high-water mark. */
  #roomWaiters: (() => void)[] = [];

  /** Items per chunk pushed (see `Batch`); 1: items travel one by one. */
  readonly #batchLength: number;
  readonly #highWaterMark: number;

  /**
   * @param batchLength items per chunk when the first stage takes batches; 1 otherwise. With
   * batches the readable highWaterMark is 0: a batch is made only when the stage asks for one
   * (no batch read ahead), so the stage can take the next items itself (`takeReady`) instead
   * of finding them already pushed.
   */
  constructor(highWaterMark: number, batchLength = 1) {
    super({ objectMode: true, highWaterMark: batchLength > 1 ? 0 : highWaterMark });
    this.#batchLength = batchLength;
    this.#highWaterMark = highWaterMark;
    unlinkReadableBuffer(this);
  }

  /** Queues an item; returns false when the pipeline has no room right now (advisory). */
  add(item: unknown): boolean {
    if (!(item instanceof MetaEntry)) {
      this.given++;
      const tracker = this.#tracker;
      if (tracker !== null) {
        if (this.#trackAll) item = tracker.origin(item);
        else tracker.skip();
      }
    }
    this.#queue.push(item);
    if (this.#wanted) this.#flush();
    return this.#queue.length - this.#head < this.#highWaterMark;
  }

  /**
   * Queues an item under acknowledgements (`send()`); `watch` sees its origin before the item
   * can move, since a synchronous pipeline may finish it inside this call.
   */
  addTracked(item: unknown, watch: (origin: Origin) => void): Origin {
    const origin = this.#tracker!.origin(item);
    watch(origin);
    this.given++;
    this.#queue.push(origin);
    if (this.#wanted) this.#flush();
    return origin;
  }

  /**
   * Turns acknowledgements on: from now on every item given takes a seq, and travels in an
   * envelope when `all` (or when send() or a SOURCE_ACK source gave it); items already queued
   * get theirs now, in the order they were given.
   */
  track(tracker: AckTracker, all: boolean): void {
    this.#tracker = tracker;
    this.#trackAll = all;
    for (let i = this.#head; i < this.#queue.length; i++) {
      const item = this.#queue[i];
      if (item instanceof MetaEntry) continue;
      if (all) this.#queue[i] = tracker.origin(item);
      else tracker.skip();
    }
  }

  /** True when the attached iterable asked for acknowledgements (SOURCE_ACK). */
  get wantsAcks(): boolean {
    return this.#notify !== null;
  }

  /** True when an item added now would be within the high-water mark (what put() returns). */
  get hasRoom(): boolean {
    return this.#queue.length - this.#head < this.#highWaterMark;
  }

  /** Calls `fn` once the queue has room (at once if it has). */
  onRoom(fn: () => void): void {
    if (this.hasRoom) fn();
    else this.#roomWaiters.push(fn);
  }

  #wakeRoomWaiters(): void {
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const fn of waiters) fn();
  }

  addMeta(value: unknown): void {
    this.add(new MetaEntry(value));
  }

  /** Attaches a lazy iterable; the input is finished when it is exhausted. */
  attach(iterable: Iterable<unknown> | AsyncIterable<unknown>): void {
    const asyncIt = (iterable as AsyncIterable<unknown>)[Symbol.asyncIterator];
    this.#async = typeof asyncIt === 'function';
    const iterator: unknown = this.#async
      ? (iterable as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      : (iterable as Iterable<unknown>)[Symbol.iterator]();
    if (
      iterator === null ||
      typeof iterator !== 'object' ||
      typeof (iterator as AnyIterator).next !== 'function'
    ) {
      const method = this.#async ? '[Symbol.asyncIterator]()' : '[Symbol.iterator]()';
      throw invalidArg(
        `putIterable(): ${method} must return an iterator, got ${describe(iterator)}`,
      );
    }
    this.#iterator = iterator as AnyIterator;
    const ack = (iterable as { [SOURCE_ACK]?: unknown })[SOURCE_ACK];
    if (typeof ack === 'function') {
      this.#notify = (item, seq) =>
        (ack as (i: unknown, s: number) => unknown).call(iterable, item, seq);
    }
    const end = (iterable as { [SOURCE_END]?: unknown })[SOURCE_END];
    if (typeof end === 'function') {
      this.#onEnd = (err) => (end as (e: Error | undefined) => unknown).call(iterable, err);
    }
    this.#finished = true;
    this.#lazy = true;
    if (this.#wanted) this.#flush();
  }

  /**
   * Tells the attached iterable that the run has ended (SOURCE_END), once; resolves with the
   * hook's own error, if it threw or rejected.
   */
  async end(err: Error | undefined): Promise<Error | undefined> {
    const onEnd = this.#onEnd;
    this.#onEnd = null;
    if (onEnd === null) return undefined;
    try {
      await onEnd(err);
      return undefined;
    } catch (endErr) {
      return toError(annotateError(endErr, { step: SOURCE_NAME, instance: 0 }));
    }
  }

  finish(): void {
    this.#finished = true;
    if (this.#wanted) this.#flush();
  }

  /** True once a lazy iterable was attached: the total is not known in advance. */
  get hasLazyInput(): boolean {
    return this.#lazy;
  }

  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Items pushed and not yet read by the first stage (a batch counts its items). */
  get bufferedItems(): number {
    if (this.#batchLength === 1) return this.readableLength;
    // The buffer holds at most one chunk here (highWaterMark 1), read out of the stream state.
    let n = 0;
    const buffer = (this as unknown as { _readableState: { buffer: unknown } })._readableState
      .buffer as { head?: { data: unknown; next: unknown } | null } | unknown[];
    const count = (chunk: unknown) => (n += chunk instanceof Batch ? chunk.items.length : 1);
    if (Array.isArray(buffer)) buffer.forEach(count);
    else
      for (let node = buffer.head ?? null; node !== null; node = node.next as typeof node)
        count(node.data);
    return n;
  }

  override _read(): void {
    this.#wanted = true;
    this.#flush();
  }

  #flush(): void {
    while (this.#wanted && !this.destroyed) {
      const first = this.#nextReady();
      if (first !== NONE) {
        if (this.#batchLength === 1) {
          this.#deliver(first);
          continue;
        }
        const items = [first];
        while (items.length < this.#batchLength) {
          const more = this.#nextReady();
          if (more === NONE) break;
          items.push(more);
        }
        this.#deliver(items.length === 1 ? items[0] : new Batch(items));
        continue;
      }
      if (this.destroyed) return;
      if (this.#iterator !== null) {
        this.#pullAsync();
        return;
      }
      if (this.#finished && !this.#ended) {
        this.#ended = true;
        this.push(null);
      }
      return;
    }
  }

  /** The next item available now (queued, or from a sync iterator), counted; NONE if none. */
  #nextReady(): unknown {
    if (this.#head < this.#queue.length) {
      const item = this.#queue[this.#head];
      this.#queue[this.#head++] = undefined;
      if (this.#head === this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      }
      if (!(item instanceof MetaEntry)) this.count++;
      return item;
    }
    if (this.#iterator === null || this.#async) return NONE;
    const iterator = this.#iterator as Iterator<unknown>;
    let result: IteratorResult<unknown>;
    try {
      result = iterator.next();
    } catch (err) {
      this.#iterator = null;
      this.#fail(err);
      return NONE;
    }
    return this.#valueOf(result);
  }

  /**
   * The next items available right now (up to a batch), handed straight to a first stage that
   * has finished its batch, instead of one more push, 'data' event, write and their ticks (see
   * `RunnerStage`). Null when none is ready, or when a chunk already pushed is still unread: it
   * comes first. The stage takes one such batch at a time, so what waits for the first step is
   * still at most one batch, as with the stream hop.
   */
  takeReady(): unknown[] | null {
    if (this.#batchLength === 1 || this.#pulling || this.destroyed || this.readableLength > 0) {
      return null;
    }
    const first = this.#nextReady();
    if (first === NONE) return null;
    const items = [first];
    while (items.length < this.#batchLength) {
      const more = this.#nextReady();
      if (more === NONE) break;
      items.push(more);
    }
    if (this.#roomWaiters.length > 0 && this.hasRoom) this.#wakeRoomWaiters();
    return items;
  }

  #deliver(chunk: unknown): void {
    this.#wanted = this.push(chunk);
    if (this.#roomWaiters.length > 0 && this.hasRoom) this.#wakeRoomWaiters();
  }

  #pullAsync(): void {
    if (this.#pulling) return;
    this.#pulling = true;
    let next: unknown;
    try {
      next = (this.#iterator as AsyncIterator<unknown>).next();
    } catch (err) {
      this.#iterator = null;
      this.#fail(err);
      return;
    }
    if (!isThenable(next)) {
      this.#pulling = false;
      this.#take(next as IteratorResult<unknown>);
      if (this.#wanted) this.#flush();
      return;
    }
    next.then(
      (result) => {
        this.#pulling = false;
        if (this.destroyed) return;
        this.#take(result as IteratorResult<unknown>);
        if (this.#wanted) this.#flush();
      },
      (err) => {
        this.#pulling = false;
        this.#iterator = null;
        this.#fail(err);
      },
    );
  }

  /** The item of an iterator result, counted; NONE at the end or on a bad result. */
  #valueOf(result: IteratorResult<unknown>): unknown {
    if (result === null || typeof result !== 'object') {
      this.#fail(
        invalidArg(`The source's next() returned ${describe(result)}, not an iterator result`),
      );
      return NONE;
    }
    if (result.done) {
      this.#iterator = null;
      return NONE;
    }
    if (result.value === null || result.value === undefined) {
      this.#fail(
        invalidArg(
          `The source yielded ${describe(result.value)} after ${this.count} items; null and undefined cannot travel through a pipeline`,
        ),
      );
      return NONE;
    }
    this.count++;
    const tracker = this.#tracker;
    if (tracker === null) return result.value;
    if (this.#trackAll || this.#notify !== null) return tracker.origin(result.value, this.#notify);
    tracker.skip();
    return result.value;
  }

  #take(result: IteratorResult<unknown>): void {
    const item = this.#valueOf(result);
    if (item !== NONE) this.#deliver(item);
  }

  #fail(err: unknown): void {
    if (this.destroyed) return;
    this.destroy(toError(annotateError(err, { step: SOURCE_NAME, instance: 0 })));
  }

  override _destroy(err: Error | null, callback: (error: Error | null) => void): void {
    // Close a lazy source that was not exhausted (generators run their `finally`). An async
    // `return()` is not awaited: it queues behind a pending `next()` that may never settle.
    const iterator = this.#iterator;
    this.#iterator = null;
    this.#queue = [];
    if (iterator && typeof iterator.return === 'function') {
      try {
        const r = iterator.return();
        if (isThenable(r)) r.then(undefined, () => {});
      } catch {
        // a throwing return() must not mask the error that caused the teardown
      }
    }
    callback(err);
  }
}
