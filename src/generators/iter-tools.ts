import { describe, invalidArg } from '../errors/errors';
import { checkInteger } from '../util/validate';

/**
 * Batching helpers for generator pipelines and `iterStep`. Each one keeps the kind of its
 * input: a sync iterable in gives a sync iterable out, an async one an async one, so the same
 * step runs in a plain `for...of` pipeline and in a stream `Pipeline` (whose iterator steps
 * receive an `AsyncIterable`). A value that is both kinds is treated as async.
 */

/** A sync or an async iterable. */
export type AnyIterable<T> = Iterable<T> | AsyncIterable<T>;

/** True for anything with a `Symbol.asyncIterator` method (checked before the sync kind). */
export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    value !== null &&
    value !== undefined &&
    typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
  );
}

/** True for anything with a `Symbol.iterator` method, string primitives included. */
export function isSyncIterable(value: unknown): value is Iterable<unknown> {
  return (
    value !== null &&
    value !== undefined &&
    typeof (value as Iterable<unknown>)[Symbol.iterator] === 'function'
  );
}

function checkIterable(where: string, value: unknown): void {
  if (!isAsyncIterable(value) && !isSyncIterable(value)) {
    throw invalidArg(
      `Expected \`${where}\` to be an iterable or async iterable, got ${describe(value)}`,
    );
  }
}

/** What `chunk(size)` makes of an iterable of `T`: arrays of `T`, of the same kind. */
export type Chunked<S> =
  S extends AsyncIterable<infer T>
    ? AsyncIterableIterator<T[]>
    : S extends Iterable<infer T>
      ? IterableIterator<T[]>
      : never;

/** The step `chunk(size)` returns. A single generic signature so that types flow through it. */
export type ChunkStep = <S extends AnyIterable<unknown>>(items: S) => Chunked<S>;

/**
 * The step `chunk<T>(size)` returns: fixed to items of `T`, so it can be typed where no input
 * tells the compiler what the items are (`iterStep(chunk<Row>(500))`). The async signature
 * comes last: a function type is matched against its last signature, and a worker pipeline's
 * iterator steps receive an `AsyncIterable`.
 */
export interface ChunkOf<T> {
  (items: Iterable<T>): IterableIterator<T[]>;
  (items: AsyncIterable<T>): AsyncIterableIterator<T[]>;
}

/** `flatten` fixed to items of `T` (see `flatten.of`). */
export interface FlattenOf<T> {
  (items: Iterable<T>): IterableIterator<FlatItem<T>>;
  (items: AsyncIterable<T>): AsyncIterableIterator<FlatItem<T>>;
}

/**
 * Groups items into arrays of `size`; the last array holds what is left (never empty).
 * Arrays are fresh objects, never reused.
 *
 * Throws eagerly, when `chunk(size)` is called: a TypeError if `size` is not a number, a
 * RangeError if it is not an integer >= 1. The step throws a TypeError when given something
 * that is not iterable.
 *
 * @example
 * [...chunk(3)([1, 2, 3, 4, 5, 6, 7, 8])]; // [[1, 2, 3], [4, 5, 6], [7, 8]]
 * new Pipeline([[iterStep(chunk(100)), 1], [storeBatch, 4]]);
 */
export function chunk(size: number): ChunkStep;
/** With a type argument: the step takes items of `T` and emits `T[]` (see `ChunkOf`). */
export function chunk<T>(size: number): ChunkOf<T>;
export function chunk(size: number): ChunkStep {
  checkInteger('chunk(size)', size, 1);
  const step = (items: unknown): unknown => {
    if (isAsyncIterable(items)) return chunkAsync(items, size);
    checkIterable('chunk(size)(items)', items);
    return chunkSync(items as Iterable<unknown>, size);
  };
  Object.defineProperty(step, 'name', { value: `chunk(${size})` });
  return step as ChunkStep;
}

function* chunkSync<T>(items: Iterable<T>, size: number): IterableIterator<T[]> {
  let batch: T[] = [];
  for (const item of items) {
    batch.push(item);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

async function* chunkAsync<T>(items: AsyncIterable<T>, size: number): AsyncIterableIterator<T[]> {
  let batch: T[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** One item after `flatten`: the elements of an iterable, or the item itself. */
export type FlatItem<T> = T extends string | ArrayBufferView
  ? T
  : T extends Iterable<infer U>
    ? U
    : T extends AsyncIterable<infer U>
      ? U
      : T;

/** What `flatten` makes of an iterable of `T`, of the same kind. */
export type Flattened<S> =
  S extends AsyncIterable<infer T>
    ? AsyncIterableIterator<FlatItem<T>>
    : S extends Iterable<infer T>
      ? IterableIterator<FlatItem<T>>
      : never;

/**
 * Strings and byte buffers are iterable but are values, not collections: exploding
 * `'abc'` into characters or a Buffer into bytes is never what a pipeline means.
 */
function isAtomic(item: unknown): boolean {
  return typeof item === 'string' || item instanceof String || ArrayBuffer.isView(item);
}

/**
 * The reverse of `chunk`: flattens one level. Each item that is an array or another iterable
 * (Set, Map, generator...) is replaced by its elements; strings, `String` objects and byte
 * buffers (Buffer, typed arrays, DataView) stay whole, and so does anything not iterable, as
 * with `Array.prototype.flat(1)`. On an async input, items that are async iterables are
 * expanded too; on a sync input such an item is a TypeError (it cannot be read synchronously).
 * Like any async generator, the async form awaits elements that are promises.
 * A step itself, not a factory: pass `flatten`, not `flatten()`.
 *
 * @example
 * [...flatten([[1, 2], [3], 4, 'ab'])]; // [1, 2, 3, 4, 'ab']
 * combinePipeline(files, [readLines, chunk(500), store, flatten]);
 */
export const flatten = Object.assign(
  function flatten(items: unknown): unknown {
    if (isAsyncIterable(items)) return flattenAsync(items);
    checkIterable('flatten(items)', items);
    return flattenSync(items as Iterable<unknown>);
  },
  {
    /**
     * `flatten` itself, typed for items of `T`, for where no input tells the compiler what the
     * items are: `iterStep(flatten.of<Row[]>())` takes `Row[]` and emits `Row`.
     */
    of<T>(): FlattenOf<T> {
      return flatten as unknown as FlattenOf<T>;
    },
  },
) as (<S extends AnyIterable<unknown>>(items: S) => Flattened<S>) & {
  of<T>(): FlattenOf<T>;
};

function* flattenSync(items: Iterable<unknown>): IterableIterator<unknown> {
  let index = 0;
  for (const item of items) {
    if (isSyncIterable(item) && !isAtomic(item)) {
      yield* item;
    } else if (isAsyncIterable(item)) {
      throw invalidArg(
        `flatten cannot expand item ${index} of a sync iterable: it is an async iterable; give flatten an async iterable instead`,
      );
    } else {
      yield item;
    }
    index++;
  }
}

async function* flattenAsync(items: AsyncIterable<unknown>): AsyncIterableIterator<unknown> {
  for await (const item of items) {
    if (isAsyncIterable(item)) {
      for await (const inner of item) yield inner;
    } else if (isSyncIterable(item) && !isAtomic(item)) {
      for (const inner of item) yield inner;
    } else {
      yield item;
    }
  }
}

/**
 * Drains an iterable, or advances it by `n` items. Advancing leaves the iterator open (no
 * `return()` call), so a generator can go on from where `consume` stopped; pass the iterator
 * itself (a generator object, not an array, which gives a fresh iterator each time).
 * Resolves (or, for sync input, returns) once done; an error from the iterable propagates (a
 * rejection for an async one). Bad arguments throw synchronously: a TypeError for a
 * non-iterable or a non-number `n`, a RangeError for an `n` that is not an integer >= 0.
 *
 * @example
 * consume(combinePipeline(rows, [validate, store])); // run a sync pipeline for its effects
 * const lines = readLines(file);
 * await consume(lines, 1); // skip the header, then go on with `lines`
 */
export function consume(iterable: AsyncIterable<unknown>, n?: number): Promise<void>;
export function consume(iterable: Iterable<unknown>, n?: number): void;
export function consume(iterable: AnyIterable<unknown>, n?: number): Promise<void> | void;
export function consume(iterable: AnyIterable<unknown>, n?: number): Promise<void> | void {
  const limit = n === undefined ? Infinity : checkInteger('consume(iterable, n)', n, 0);
  if (isAsyncIterable(iterable)) return consumeAsync(iterable[Symbol.asyncIterator](), limit);
  checkIterable('consume(iterable)', iterable);
  const iterator = (iterable as Iterable<unknown>)[Symbol.iterator]();
  for (let i = 0; i < limit && !iterator.next().done; i++);
}

async function consumeAsync(iterator: AsyncIterator<unknown>, limit: number): Promise<void> {
  for (let i = 0; i < limit && !(await iterator.next()).done; i++);
}

/**
 * A step that changes nothing: returns its input as is (same object, same kind). Handy as a
 * placeholder in a step list built from configuration. Throws a TypeError when the input is
 * not iterable.
 *
 * @example
 * combinePipeline(source, [parse, options.dedupe ? dedupe : identityStep, store]);
 */
export function identityStep<S extends AnyIterable<unknown>>(items: S): S {
  checkIterable('identityStep(items)', items);
  return items;
}
