import type { PipeCheck, StepKind, StepOptionsFor, StepOutput } from './step-types';
import { describe, invalidArg } from '../errors/errors';
import type { PipelineEngine as Pipeline } from '../pipeline/pipeline-engine';
import type { PipelineOptions } from '../pipeline/pipeline-options';

/** What `Pipeline.from` is called on: `Pipeline` itself or a subclass of it. */
type PipelineClass = new (steps: readonly unknown[], options?: PipelineOptions) => Pipeline;

/**
 * A typed, step-by-step way to write a pipeline's step list, for long chains: each `pipe()`
 * adds one step, typed from the items the step before it emits, and `build()` makes the
 * pipeline. The result is exactly the pipeline `new Pipeline([...steps], options)` makes: the
 * builder only collects the list (see `steps`), and the step list is validated by `build()`,
 * with the same errors (`steps[i]` is the i-th `pipe()` call, from 0).
 *
 * A builder is immutable: `pipe()` returns a new one, so a common prefix can be shared, and
 * `build()` can be called again for a fresh pipeline (a pipeline runs once).
 *
 * @example
 * const p = Pipeline.from<string>() // the input: URLs
 *   .pipe(download, 4) // (url: string) => Promise<Page>
 *   .pipe((page) => page.links) // page: Page, emits string[]
 *   .pipe(iterStep(flatten)) // emits the links one by one (typed `any`: a generic helper)
 *   .pipe(StoreLinks, 2, { table: 'links' }) // a Step subclass with options of its own
 *   .build({ ordered: true }); // Pipeline<string, ...>
 * p.putIterable(urls);
 * await p.run();
 */
export class PipelineBuilder<I, O> {
  readonly #Pipeline: PipelineClass;
  readonly #steps: readonly unknown[];

  /** Use `Pipeline.from<I>()`. */
  constructor(pipelineClass: PipelineClass, steps: readonly unknown[] = []) {
    this.#Pipeline = pipelineClass;
    this.#steps = steps;
  }

  /**
   * A new builder with one more step: `step` must take the items the previous step emits (the
   * builder's input for the first one), or this call is a compile error. `concurrency` and
   * `options` are those of `[step, concurrency, options]` in a step list; a `Step` subclass's
   * options are typed from its `Options` parameter. Nothing is checked until `build()`.
   */
  pipe<S extends StepKind<O, any>>(
    step: S & NoInfer<PipeCheck<O, S>>,
    concurrency?: number,
    options?: NoInfer<StepOptionsFor<S>>,
  ): PipelineBuilder<I, StepOutput<S>> {
    const spec =
      options !== undefined
        ? [step, concurrency, options]
        : concurrency !== undefined
          ? [step, concurrency]
          : step;
    return new PipelineBuilder<I, StepOutput<S>>(this.#Pipeline, [...this.#steps, spec]);
  }

  /**
   * The step list so far, as `new Pipeline(steps)` takes it: each step alone, or
   * `[step, concurrency]`/`[step, concurrency, options]` when `pipe()` got them.
   */
  get steps(): readonly unknown[] {
    return [...this.#steps];
  }

  /**
   * Makes the pipeline: `new Pipeline(steps, options)` (or the subclass `from` was called on).
   * Throws what that constructor throws, for example when no step was added.
   */
  build(options?: PipelineOptions): Pipeline<I, O> {
    return new this.#Pipeline(this.#steps, options) as Pipeline<I, O>;
  }
}

/**
 * `Pipeline.from<I>()`: a builder whose steps will make an instance of the class it is called
 * on (`Pipeline` or a subclass).
 */
export function pipelineFrom<I>(this: unknown): PipelineBuilder<I, I> {
  if (typeof this !== 'function') {
    throw invalidArg(
      `Pipeline.from() must be called on Pipeline (Pipeline.from<T>()), not detached from it; got this = ${describe(this)}`,
    );
  }
  return new PipelineBuilder<I, I>(this as PipelineClass);
}
