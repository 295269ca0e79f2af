import { describe, invalidArg } from '../errors/errors';
import {
  isAsyncIterable,
  isSyncIterable,
  type AnyIterable,
  type Chunked,
  type ChunkStep,
  type Flattened,
} from './iter-tools';
import { PipelineRuntimeDebugger, RunTracker } from './runtime-debugger';
import { checkKnownKeys, checkPlainObject } from '../util/validate';

/**
 * Generator ("coroutine") pipelines: steps are functions from an iterable of items to an
 * iterable of outputs, composed lazily in one thread, with no buffering between them. Items
 * flow one at a time as the result is pulled. For parallel, bounded stages use `Pipeline`.
 */

/**
 * A generator step: a function of the items (usually a generator function) returning an
 * iterable of outputs, or an object with such a `process(items)` method.
 */
export type GeneratorStep =
  ((items: any) => AnyIterable<unknown>) | { process(items: any): AnyIterable<unknown> };

/** A list of steps; nested lists are flattened in order. */
export type GeneratorSteps = readonly (GeneratorStep | GeneratorSteps)[];

/** Options of `combinePipeline`. */
export interface CombineOptions {
  /** Measures every stage and reports on it (see `PipelineRuntimeDebugger`). */
  debugger?: PipelineRuntimeDebugger;
}

// Types of the overloads. A step is typed as a plain function so that generic helpers such as
// `chunk(3)` are instantiated from their position; `AnyStep` uses a method signature so that a
// step written for either input kind is accepted where the kind is not known statically.
// TypeScript does not chain two generic functions inside one array literal, so after two
// generic helpers in a row (`chunk(2), flatten`) the element type is `unknown`.
type SyncStep<I, O> = (items: Iterable<I>) => Iterable<O>;
type AnyStep<I, O> = { bivariant(items: AnyIterable<I>): AnyIterable<O> }['bivariant'];
type Source<S, P extends unknown[]> = S | ((...args: P) => S);
type Result<P extends unknown[], R> = [P] extends [never] ? R : (...args: P) => R;

// Types of the fallback overload, computed from the step types (used for nested lists,
// `process` objects and more than four steps).
type ElementOf<R> =
  R extends AsyncIterable<infer E> ? E : R extends Iterable<infer E> ? E : unknown;
type Returned<S> = S extends (items: any) => infer R
  ? R
  : S extends { process(items: any): infer R }
    ? R
    : never;
type Flat<S> = S extends readonly [infer Head, ...infer Rest]
  ? [...(Head extends readonly unknown[] ? Flat<Head> : [Head]), ...Flat<Rest>]
  : S extends readonly []
    ? []
    : unknown[];
type Last<L extends unknown[], Fallback> = L extends [...unknown[], infer Tail] ? Tail : Fallback;
type AnyAsync<L> = L extends [infer H, ...infer Rest]
  ? Returned<H> extends AsyncIterable<unknown>
    ? true
    : AnyAsync<Rest>
  : false;
type AllSync<L> = L extends [infer H, ...infer Rest]
  ? Returned<H> extends Iterable<unknown>
    ? AllSync<Rest>
    : false
  : true;
type Items<S> = S extends (...args: any[]) => infer R ? R : S;
type Output<S, L extends unknown[]> = L extends [] ? Items<S> : Returned<Last<L, never>>;
type Kind<S, L extends unknown[], E> =
  Items<S> extends AsyncIterable<unknown>
    ? AsyncIterable<E>
    : AnyAsync<L> extends true
      ? AsyncIterable<E>
      : AllSync<L> extends true
        ? Iterable<E>
        : AnyIterable<E>;
// The fallback follows the items through the flattened list, one step at a time, as the
// runtime does: each step is applied to what the stage before emits (so a generic helper such
// as `chunk(2)` or `flatten` is instantiated for it), and once a stage is async every later
// stage is (a sync step's output is lifted). `Mismatch` marks a step that cannot take what it
// is given: a sync-only step after an async stage, or a wrong element type.
interface Mismatch {
  'each step must accept the items of the one before (a step after an async one gets an AsyncIterable)': never;
}
// TypeScript does not instantiate a generic function inside a conditional type, so the
// generic helpers are recognised by their types and applied here.
type FlattenStep = <S extends AnyIterable<unknown>>(items: S) => Flattened<S>;
type IdentityStep = <S extends AnyIterable<unknown>>(items: S) => S;
type Applied<H, In> = [H] extends [ChunkStep]
  ? Chunked<In>
  : [H] extends [FlattenStep]
    ? Flattened<In>
    : [H] extends [IdentityStep]
      ? In
      : AppliedPlain<H, In>;
type AppliedPlain<H, In> = H extends (items: In) => infer R
  ? R
  : H extends { process(items: In): infer R }
    ? R
    : In extends Iterable<infer E>
      ? // A step written for async input also reads a sync one (`for await` takes both).
        AppliedPlain<H, AsyncIterable<E>>
      : Mismatch;
type Lift<In, R> = R extends Mismatch
  ? Mismatch
  : In extends AsyncIterable<unknown>
    ? AsyncIterable<ElementOf<R>>
    : R extends AsyncIterable<infer E>
      ? AsyncIterable<E>
      : R extends Iterable<infer E>
        ? Iterable<E>
        : Mismatch;
type Flow<In, L> = In extends Mismatch
  ? Mismatch
  : L extends [infer H, ...infer Rest]
    ? Flow<Lift<In, Applied<H, In>>, Rest>
    : In;
type SourceItems<S> =
  Items<S> extends AsyncIterable<infer E>
    ? AsyncIterable<E>
    : Items<S> extends Iterable<infer E>
      ? Iterable<E>
      : AnyIterable<unknown>;
// A step list whose length is not known statically (not a tuple) says nothing about the result.
type Combine<S, L extends unknown[]> = number extends L['length']
  ? AnyIterable<unknown>
  : SourceItems<S> extends Iterable<unknown> | AsyncIterable<unknown>
    ? Flow<SourceItems<S>, L> extends infer R
      ? R extends Mismatch
        ? Mismatch
        : R
      : never
    : Kind<S, L, ElementOf<Output<S, L>>>;
// The fallback must not accept what the typed overloads cover: a flat list of one to four
// functions that failed them has a step whose input does not match the output before it.
type FlatFunctions<S> = S extends readonly []
  ? true
  : S extends readonly [infer Head, ...infer Rest]
    ? Head extends (...args: any[]) => any
      ? FlatFunctions<Rest>
      : false
    : false;
type CoveredByOverloads<S extends readonly unknown[]> = number extends S['length']
  ? false
  : S['length'] extends 1 | 2 | 3 | 4
    ? FlatFunctions<S>
    : false;
// A sync-only step (its parameter does not take an AsyncIterable) after a step that returns an
// AsyncIterable would get an async input at runtime, and fail there: the typed async overloads
// reject it.
type AcceptsAsync<F> = F extends (items: infer I, ...rest: any[]) => any
  ? AsyncIterable<any> extends I
    ? true
    : false
  : true;
type ReturnsAsync<F> = F extends (...args: any[]) => infer R
  ? [R] extends [AsyncIterable<unknown>]
    ? true
    : false
  : false;
type SyncAfterAsync<L, Seen extends boolean = false> = L extends readonly [infer H, ...infer Rest]
  ? Seen extends true
    ? AcceptsAsync<H> extends true
      ? SyncAfterAsync<Rest, true>
      : true
    : SyncAfterAsync<Rest, ReturnsAsync<H>>
  : false;
type AsyncChecked<L, Src> =
  SyncAfterAsync<L, Items<Src> extends AsyncIterable<unknown> ? true : false> extends true
    ? StepTypesDoNotMatch
    : unknown;
interface StepTypesDoNotMatch {
  'each step must accept the items of the one before': never;
}
type Combined<S, Steps> = S extends (...args: infer P) => any
  ? (...args: P) => Combine<S, Flat<Steps>>
  : Combine<S, Flat<Steps>>;

interface StepSpec {
  where: string;
  name: string;
  call: (items: unknown) => unknown;
}

function collectSteps(steps: unknown, where: string, out: StepSpec[]): StepSpec[] {
  if (!Array.isArray(steps)) {
    throw invalidArg(`Expected \`${where}\` to be an array of steps, got ${describe(steps)}`);
  }
  steps.forEach((step: unknown, i) => {
    const at = `${where}[${i}]`;
    if (Array.isArray(step)) {
      collectSteps(step, at, out);
    } else if (typeof step === 'function') {
      out.push({ where: at, name: step.name || at, call: (items) => step(items) });
    } else if (
      step !== null &&
      typeof step === 'object' &&
      typeof (step as { process?: unknown }).process === 'function'
    ) {
      const named = (step as { name?: unknown }).name;
      const name = typeof named === 'string' && named ? named : step.constructor?.name;
      const processor = step as { process(items: unknown): unknown };
      out.push({
        where: at,
        name: name && name !== 'Object' ? name : at,
        call: (items) => processor.process(items),
      });
    } else {
      throw invalidArg(
        `Expected \`${at}\` to be a step (a function of the items, or an object with a process(items) method), got ${describe(step)}`,
      );
    }
  });
  return out;
}

function checkStageOutput(value: unknown, where: string): void {
  if (isAsyncIterable(value) || isSyncIterable(value)) return;
  const hint =
    typeof (value as PromiseLike<unknown> | undefined)?.then === 'function'
      ? '; an async step must be an async generator function (async function*), not an async function'
      : '';
  throw invalidArg(
    `Expected ${where} to return an iterable or async iterable, got ${describe(value)}${hint}`,
  );
}

/**
 * The input of a step after an async stage. Iterating it synchronously (`for...of`, spread,
 * `Array.from`) fails with a message saying why, instead of "is not iterable" or, worse, an
 * empty `Array.from` result.
 */
function asyncInput(items: AsyncIterable<unknown>, where: string): AsyncIterable<unknown> {
  return {
    [Symbol.asyncIterator]: () => items[Symbol.asyncIterator](),
    [Symbol.iterator]: () => {
      throw invalidArg(
        `Step \`${where}\` iterated its input synchronously, but the input is async because an earlier stage is async; read it with for await...of (write the step as an async function*)`,
      );
    },
  } as AsyncIterable<unknown>;
}

/** A sync stage's output after an async stage, as an async iterable; values are not awaited. */
function liftToAsync(items: Iterable<unknown>): AsyncIterable<unknown> {
  return {
    [Symbol.asyncIterator]: () => {
      const iterator = items[Symbol.iterator]();
      return {
        next: async () => iterator.next(),
        return: async (value?: unknown) =>
          iterator.return ? iterator.return(value) : { done: true, value },
      };
    },
  };
}

function assemble(
  open: () => unknown,
  sourceWhere: string,
  sourceName: string,
  steps: StepSpec[],
  debug?: PipelineRuntimeDebugger,
): unknown {
  const run = debug && new RunTracker(debug, [sourceName, ...steps.map((s) => s.name)]);
  let current = run ? run.measure(0, open) : open();
  checkStageOutput(current, sourceWhere);
  let async = isAsyncIterable(current);
  if (run) current = run.probe(0, current as AnyIterable<unknown>, async);
  steps.forEach((step, i) => {
    const input = async ? asyncInput(current as AsyncIterable<unknown>, step.where) : current;
    let output = run ? run.measure(i + 1, () => step.call(input)) : step.call(input);
    checkStageOutput(output, `step \`${step.where}\` (${step.name})`);
    if (isAsyncIterable(output)) async = true;
    else if (async) output = liftToAsync(output as Iterable<unknown>);
    current = run ? run.probe(i + 1, output as AnyIterable<unknown>, async) : output;
  });
  return run ? run.watch(current as AnyIterable<unknown>, async) : current;
}

/**
 * Composes generator steps over a source: `combinePipeline(source, [a, b, c])` is
 * `c(b(a(source)))`, checked up front. Steps are functions `(items) => iterable` (generator
 * functions are the usual kind) or objects with a `process(items)` method; nested arrays of
 * steps are flattened in order. If the source and every step are sync, the result is a sync
 * iterable for a plain `for...of`; otherwise it is an async iterable, and every step after the
 * first async stage receives an async iterable (a sync output there is turned into an async
 * one). Iterate the result once (call the factory form again for another run). Steps are
 * called right away, so a step that reads its input eagerly does so now.
 *
 * If `source` is a function, the result is a function too: each call passes its arguments to
 * `source` and builds a fresh pipeline over what it returns (paipa's iterator-factory form).
 *
 * Errors: a TypeError naming the culprit (`steps[1][0]`, `source`) for a step that is neither
 * a function nor an object with `process`, a source that is neither iterable nor a function,
 * a step or source function that returns something not iterable, or an unknown option. An
 * error thrown while iterating propagates from the result as the very same object.
 *
 * Types: the element type and the kind (sync `Iterable` or `AsyncIterable`) follow the items
 * through the steps, nested lists, `chunk`, `flatten` and `identityStep` included, so an
 * all-sync list of any length gives a sync iterable. A step that cannot take what the step
 * before emits is a compile error, and so is a sync-only step (its parameter an `Iterable`)
 * after an async one, which would fail at run time. For a flat list of up to four function
 * steps, untyped parameters are typed from the step before.
 *
 * @example
 * const evens = combinePipeline(range(100), [function* (xs: Iterable<number>) {
 *   for (const x of xs) if (x % 2 === 0) yield x;
 * }]);
 * let sum = 0;
 * for (const x of evens) sum += x; // 2450
 *
 * const batches = combinePipeline((path: string) => readLines(path), [parse, chunk(100)]);
 * for await (const batch of batches('data.csv')) await store(batch);
 */
export function combinePipeline<T, A, P extends unknown[] = never>(
  source: Source<Iterable<T>, P>,
  steps: [SyncStep<T, A>],
  options?: CombineOptions,
): Result<P, Iterable<A>>;
export function combinePipeline<T, A, B, P extends unknown[] = never>(
  source: Source<Iterable<T>, P>,
  steps: [SyncStep<T, A>, SyncStep<A, B>],
  options?: CombineOptions,
): Result<P, Iterable<B>>;
export function combinePipeline<T, A, B, C, P extends unknown[] = never>(
  source: Source<Iterable<T>, P>,
  steps: [SyncStep<T, A>, SyncStep<A, B>, SyncStep<B, C>],
  options?: CombineOptions,
): Result<P, Iterable<C>>;
export function combinePipeline<T, A, B, C, D, P extends unknown[] = never>(
  source: Source<Iterable<T>, P>,
  steps: [SyncStep<T, A>, SyncStep<A, B>, SyncStep<B, C>, SyncStep<C, D>],
  options?: CombineOptions,
): Result<P, Iterable<D>>;
export function combinePipeline<
  T,
  A,
  const L extends readonly unknown[],
  Src,
  P extends unknown[] = never,
>(
  source: Source<AnyIterable<T>, P> & Src,
  steps: [AnyStep<T, A>] & L & AsyncChecked<L, Src>,
  options?: CombineOptions,
): Result<P, AsyncIterable<A>>;
export function combinePipeline<
  T,
  A,
  B,
  const L extends readonly unknown[],
  Src,
  P extends unknown[] = never,
>(
  source: Source<AnyIterable<T>, P> & Src,
  steps: [AnyStep<T, A>, AnyStep<A, B>] & L & AsyncChecked<L, Src>,
  options?: CombineOptions,
): Result<P, AsyncIterable<B>>;
export function combinePipeline<
  T,
  A,
  B,
  C,
  const L extends readonly unknown[],
  Src,
  P extends unknown[] = never,
>(
  source: Source<AnyIterable<T>, P> & Src,
  steps: [AnyStep<T, A>, AnyStep<A, B>, AnyStep<B, C>] & L & AsyncChecked<L, Src>,
  options?: CombineOptions,
): Result<P, AsyncIterable<C>>;
export function combinePipeline<
  T,
  A,
  B,
  C,
  D,
  const L extends readonly unknown[],
  Src,
  P extends unknown[] = never,
>(
  source: Source<AnyIterable<T>, P> & Src,
  steps: [AnyStep<T, A>, AnyStep<A, B>, AnyStep<B, C>, AnyStep<C, D>] & L & AsyncChecked<L, Src>,
  options?: CombineOptions,
): Result<P, AsyncIterable<D>>;
export function combinePipeline<
  S extends Source<AnyIterable<unknown>, any[]>,
  const Steps extends GeneratorSteps,
>(
  source: S,
  steps: Steps &
    (CoveredByOverloads<Steps> extends true
      ? StepTypesDoNotMatch
      : [Combine<S, Flat<Steps>>] extends [Mismatch]
        ? StepTypesDoNotMatch
        : unknown),
  options?: CombineOptions,
): Combined<S, Steps>;
export function combinePipeline(
  source: unknown,
  steps: GeneratorSteps,
  options: CombineOptions = {},
): unknown {
  const specs = collectSteps(steps, 'steps', []);
  checkPlainObject('combinePipeline options', options);
  checkKnownKeys('combinePipeline options', options, ['debugger']);
  const debug = options.debugger;
  if (debug !== undefined && !(debug instanceof PipelineRuntimeDebugger)) {
    throw invalidArg(
      `Expected \`debugger\` to be a PipelineRuntimeDebugger, got ${describe(debug)}`,
    );
  }
  if (typeof source === 'function') {
    const name = source.name || 'source';
    return function combined(this: unknown, ...args: unknown[]): unknown {
      return assemble(
        () => source.apply(this, args),
        `\`source(...)\` (${name})`,
        name,
        specs,
        debug,
      );
    };
  }
  if (!isAsyncIterable(source) && !isSyncIterable(source)) {
    throw invalidArg(
      `Expected \`source\` to be an iterable, an async iterable or a function returning one, got ${describe(source)}`,
    );
  }
  return assemble(() => source, '`source`', 'source', specs, debug);
}
