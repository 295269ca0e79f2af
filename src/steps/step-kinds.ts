import { checkFunction, checkStepName } from '../util/validate';
import type { IterStepFunction, StepContext, StepFunction } from '../types';

/**
 * Wrappers that say how a value is to be run as a step. A bare function is a function step
 * and a `Step` subclass is a class step, so only iterator and stream steps need a wrapper;
 * `funcStep` exists to name a function step or make its kind explicit.
 *
 * The `I`/`O` parameters are phantom types: they let the pipeline's types follow the data.
 */

const kind = Symbol('paipa.stepKind');

export interface FuncStep<I = any, O = any> {
  readonly [kind]: 'func';
  readonly fn: StepFunction<I, O>;
  readonly name?: string;
}

export interface IterStep<I = any, O = any> {
  readonly [kind]: 'iter';
  readonly fn: IterStepFunction<I, O>;
  readonly name?: string;
}

/**
 * Makes the Duplex for one instance of a stream step: a Node core stream, a readable-stream
 * one, or anything else with the stream interface (typed loosely so that all of them fit).
 */
export type StreamFactory = (ctx: StepContext) => NodeJS.ReadWriteStream;

export interface StreamStep<I = any, O = any> {
  readonly [kind]: 'stream';
  readonly factory: StreamFactory;
  readonly name?: string;
  /** Phantom: the item types the stream consumes and produces. */
  readonly __types?: [I, O];
}

export type StepDefinition = FuncStep | IterStep | StreamStep;

/**
 * A function step, made explicit: `(item, ctx) => output | Promise<output>`.
 * Returning `undefined`/`null` or throwing `SkipEntry` emits nothing for the item.
 *
 * @example
 * new Pipeline([[funcStep(download, 'download'), 4]]);
 */
export function funcStep<I, O>(fn: StepFunction<I, O>, name?: string): FuncStep<I, O> {
  checkFunction('funcStep(fn)', fn);
  checkStepName('funcStep(fn, name)', name);
  return { [kind]: 'func', fn, name: name ?? (fn.name || undefined) };
}

/**
 * An iterator step: `fn(items, ctx)` receives the items reaching this instance as an async
 * iterable and returns (or is a generator of) any number of outputs. Use it to chunk, flatten,
 * window or aggregate. With concurrency n, each instance gets its own share of the items.
 * If `fn` throws, or its iterable throws, the pipeline fails with that error.
 *
 * @example
 * const pairs = iterStep(async function* (items: AsyncIterable<number>) {
 *   let prev: number | undefined;
 *   for await (const n of items) { if (prev !== undefined) yield [prev, n]; prev = n; }
 * });
 */
export function iterStep<I, O>(fn: IterStepFunction<I, O>, name?: string): IterStep<I, O> {
  checkFunction('iterStep(fn)', fn);
  checkStepName('iterStep(fn, name)', name);
  return { [kind]: 'iter', fn, name: name ?? (fn.name || undefined) };
}

/**
 * A stream step: `factory(ctx)` returns a fresh Duplex (object or byte mode) per instance,
 * so existing stream code drops into a pipeline. Its errors fail the pipeline; teardown
 * destroys it.
 *
 * @example
 * new Pipeline([[streamStep(() => zlib.createGzip()), 1]]);
 */
export function streamStep<I = any, O = any>(
  factory: StreamFactory,
  name?: string,
): StreamStep<I, O> {
  checkFunction('streamStep(factory)', factory);
  checkStepName('streamStep(factory, name)', name);
  return { [kind]: 'stream', factory, name: name ?? (factory.name || undefined) };
}

export function definitionKind(value: unknown): StepDefinition[typeof kind] | undefined {
  return value !== null && typeof value === 'object' && kind in value
    ? (value as StepDefinition)[kind]
    : undefined;
}
