import { pipelineFrom } from './pipeline-builder';
import type { PipelineConstructor } from './pipeline-constructor';
import { PipelineEngine } from '../pipeline/pipeline-engine';

// The public `Pipeline` is the engine class seen through `PipelineConstructor`:
// a class cannot declare the generic construct signatures that make types follow the data.
// Same object at runtime, so `instanceof Pipeline` and `class X extends Pipeline` work as ever.
Object.defineProperty(PipelineEngine, 'name', { value: 'Pipeline' });
Object.defineProperty(PipelineEngine, 'from', {
  value: pipelineFrom,
  writable: true,
  configurable: true,
});

/**
 * A list of steps, each with its own number of parallel instances, joined by bounded
 * streams. Feed it with `put`/`putAll`/`putIterable`, then consume it one of four ways:
 * `run()` (one batch), `start()`…`stop()` (continuous), `for await` (iterate the outputs) or
 * `stream()` (a Duplex for `stream.pipeline`). A pipeline runs once. Errors: the first error
 * from any step, the source or the sink rejects (or errors the stream or the loop) with that
 * very error object, marked with `err.paipa = { step, instance }`.
 *
 * Types follow the data: the input type is the first step's, the output type is the last
 * step's (a promise awaited, `undefined`/`null` left out since they drop the item); each step
 * must take what the step before it emits, or the compiler reports that element; untyped arrow
 * functions after the first step are typed from the step before them. Steps built from generic
 * helpers (`iterStep(chunk(3))`) pass `any` on. For long chains, `Pipeline.from<I>()` builds the
 * same pipeline one typed `pipe()` at a time.
 *
 * @example
 * const p = new Pipeline([[download, 4], (page) => page.links, [store, 2]]);
 * // download: (url: string) => Promise<Page>, so p is Pipeline<string, ...> and `page` is a Page
 * p.putIterable(urls); // urls must be strings
 * const { count } = await p.run();
 *
 * @example
 * const q = Pipeline.from<string>().pipe(download, 4).pipe((page) => page.links).build();
 */
export const Pipeline = PipelineEngine as unknown as PipelineConstructor;
/** A pipeline taking items of type `I` (`put`) and emitting items of type `O` (`for await`). */
export type Pipeline<I = any, O = any> = PipelineEngine<I, O>;
