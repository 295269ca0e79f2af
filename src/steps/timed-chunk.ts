import { Transform } from 'readable-stream';
import { describe, invalidArg, outOfRange } from '../errors/errors';
import { ACCEPTS_META, isMeta } from '../ingest/meta';
import { ACCEPTS_TRACKED, joinOrigins, Tracked, type Origins } from '../delivery/tracked';
import { streamStep, type StreamFactory, type StreamStep } from './step-kinds';
import { checkInteger, checkKnownKeys, checkPlainObject } from '../util/validate';

/** Options of `timedChunk`. */
export interface TimedChunkOptions {
  /** Most items per chunk: a chunk is emitted as soon as it holds this many (integer >= 1). */
  size: number;
  /**
   * Ms without a new item after which a partial chunk is emitted (> 0, at most 2^31 - 1). The
   * clock restarts with every item, so under a steady trickle it may never fire: add `maxWait`
   * to bound how long an item can wait.
   */
  timeout: number;
  /**
   * Ms from a chunk's first item after which the chunk is emitted however it is fed (> 0, at
   * most 2^31 - 1; default: no limit, the behaviour of `timeout` alone). Like `groupedWithin`
   * in Akka Streams or Effect, it bounds the wait of every item: under a trickle of 5 items a
   * second, `{ size: 100, timeout: 500, maxWait: 2000 }` emits about 10 items every 2 s.
   */
  maxWait?: number;
}

const KEYS = ['size', 'timeout', 'maxWait'] as const;

/** Node clamps longer delays to 1 ms, which would turn "wait a long time" into "never wait". */
const MAX_TIMEOUT = 2 ** 31 - 1;

/**
 * Items buffered on the writable side. The readable side holds whole chunks, so it is bounded
 * in chunks: a few are enough to keep the next step busy.
 */
const WRITABLE_HIGH_WATER_MARK = 16;
const READABLE_HIGH_WATER_MARK = 4;

/**
 * A step that groups items into arrays of up to `size`, for steps that work best in batches
 * (bulk inserts, batched API calls), without holding a partial batch forever when the input
 * runs slow. A chunk is emitted when it is full; when no new item has arrived for `timeout` ms
 * (the clock restarts with every item, so a trickle of items still fills chunks); when
 * `maxWait` is set, `maxWait` ms after the chunk's first item, however it is fed; before a meta
 * entry, which then follows it, so the entry keeps its place between the items; and at the end
 * of the input. Chunks are fresh arrays, never empty.
 *
 * Use it with concurrency 1 for exact grouping. With concurrency n, each instance keeps its own
 * chunk of the items it receives, and a meta entry flushes only the instance it reaches.
 *
 * Throws eagerly, when `timedChunk()` is called: a TypeError for a missing or non-object
 * options argument, an unknown option key or a non-number `size`/`timeout`/`maxWait`; a
 * RangeError for a `size` that is not an integer >= 1 or a `timeout`/`maxWait` that is not in
 * (0, 2^31 - 1] ms.
 *
 * @example
 * const p = new Pipeline([[timedChunk({ size: 100, timeout: 500 }), 1], [insertRows, 4]]);
 * p.start();
 * socket.on('data', (row) => p.put(row)); // rows reach insertRows in arrays of <= 100,
 * // and a lone row waits at most 500 ms
 *
 * @example
 * // a steady trickle never leaves `timeout` idle: maxWait bounds every row's wait to 2 s
 * timedChunk<Row>({ size: 100, timeout: 500, maxWait: 2000 });
 */
export function timedChunk<T = unknown>(options: TimedChunkOptions): StreamStep<T, T[]> {
  checkPlainObject('timedChunk options', options);
  checkKnownKeys('timedChunk options', options, KEYS);
  const size = checkInteger('timedChunk options.size', options.size, 1);
  const timeout = checkTimeout('timeout', options.timeout);
  const maxWait =
    options.maxWait === undefined ? undefined : checkTimeout('maxWait', options.maxWait);
  const factory: StreamFactory & { [ACCEPTS_META]?: true; [ACCEPTS_TRACKED]?: true } = () =>
    new TimedChunker(size, timeout, maxWait);
  // The stage then writes meta entries into our stream, in order with the items, so a flush
  // can happen at the entry's exact place instead of the entry overtaking the partial chunk.
  factory[ACCEPTS_META] = true;
  // Under acknowledgements each chunk carries the origins of its members (done with the chunk).
  factory[ACCEPTS_TRACKED] = true;
  return streamStep<T, T[]>(factory, 'timedChunk');
}

function checkTimeout(option: 'timeout' | 'maxWait', value: unknown): number {
  if (typeof value !== 'number') {
    throw invalidArg(
      `Expected \`timedChunk options.${option}\` to be a number of milliseconds, got ${describe(value)}`,
    );
  }
  if (!(value > 0 && value <= MAX_TIMEOUT)) {
    throw outOfRange(
      `Expected \`timedChunk options.${option}\` to be a number of milliseconds > 0 and <= ${MAX_TIMEOUT}, got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * One instance of the step. Invariants: the idle timer (and the maxWait timer) is armed only
 * while the partial chunk is non-empty and not yet due; every path that empties the chunk (full, timeout, meta, end)
 * or ends the stream (destroy) disarms it, so no timer outlives the stream.
 *
 * Backpressure: a chunk completed by a write is pushed inside `_transform`, where Transform
 * holds the write back while the readable side is full. A timeout has no write to hold back,
 * so a chunk that times out while the readable side is full is only marked due and pushed from
 * `_read` once there is room; otherwise a stalled consumer plus a slow trickle of items would
 * pile up partial chunks without bound.
 */
class TimedChunker extends Transform {
  readonly #size: number;
  readonly #timeout: number;
  readonly #maxWait: number | undefined;
  #chunk: unknown[] = [];
  /** The members' origins, when items come in envelopes (acknowledgements on). */
  #origins: Origins[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** Armed at a chunk's first item when `maxWait` is set; never refreshed. */
  #maxTimer: NodeJS.Timeout | undefined;
  #due = false;

  constructor(size: number, timeout: number, maxWait: number | undefined) {
    super({
      objectMode: true,
      writableHighWaterMark: WRITABLE_HIGH_WATER_MARK,
      readableHighWaterMark: READABLE_HIGH_WATER_MARK,
    });
    this.#size = size;
    this.#timeout = timeout;
    this.#maxWait = maxWait;
  }

  override _transform(item: unknown, _enc: string, callback: (err?: Error | null) => void): void {
    if (isMeta(item)) {
      this.#emitChunk();
      this.push(item);
    } else if (item instanceof Tracked) {
      this.#chunk.push(item.value);
      this.#origins.push(item.origins);
      if (this.#chunk.length >= this.#size) this.#emitChunk();
      else if (!this.#due) this.#restartTimer();
    } else {
      this.#chunk.push(item);
      if (this.#chunk.length >= this.#size) this.#emitChunk();
      else if (!this.#due) {
        this.#restartTimer();
        if (this.#chunk.length === 1 && this.#maxWait !== undefined) this.#startMaxTimer();
      }
    }
    callback();
  }

  override _read(size: number): void {
    if (this.#due) this.#emitChunk();
    super._read(size);
  }

  override _flush(callback: (err?: Error | null) => void): void {
    this.#emitChunk();
    callback();
  }

  override _destroy(err: Error | null, callback: (error: Error | null) => void): void {
    this.#stopTimer();
    this.#chunk = [];
    callback(err);
  }

  /**
   * `refresh()` re-arms the existing timer in place: cheaper than a new timer per item, which
   * matters on a hot path of thousands of items a second.
   */
  #restartTimer(): void {
    if (this.#timer !== undefined) {
      this.#timer.refresh();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#fire();
    }, this.#timeout);
  }

  #startMaxTimer(): void {
    this.#maxTimer = setTimeout(() => {
      this.#maxTimer = undefined;
      this.#fire();
    }, this.#maxWait);
  }

  /** A timer ran out: emit now, or once the readable side has room (see the class comment). */
  #fire(): void {
    if (this.readableLength >= this.readableHighWaterMark) {
      this.#due = true;
      this.#stopTimer();
    } else {
      this.#emitChunk();
    }
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#maxTimer !== undefined) {
      clearTimeout(this.#maxTimer);
      this.#maxTimer = undefined;
    }
  }

  #emitChunk(): void {
    this.#stopTimer();
    this.#due = false;
    if (this.#chunk.length === 0) return;
    const full = this.#chunk;
    this.#chunk = [];
    if (this.#origins.length === 0) {
      this.push(full);
      return;
    }
    const origins = joinOrigins(this.#origins);
    this.#origins = [];
    this.push(new Tracked(full, origins));
  }
}
