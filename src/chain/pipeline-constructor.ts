/**
 * The type of `Pipeline` as a value: construct signatures that chain the step types of
 * step-types.ts, so that `new Pipeline([...])` knows its input and output types and a step that
 * cannot take what the step before it emits is a compile error at that step. Types only.
 */
import type { PipelineEngine as Pipeline } from '../pipeline/pipeline-engine';
import type { PipelineOptions } from '../pipeline/pipeline-options';
import type { PipelineBuilder } from './pipeline-builder';
import type { FuncStep, IterStep, StreamStep } from '../steps/step-kinds';
import type { WorkerStep } from '../workers/worker-step';
import type { StepContext, StepFunction } from '../types';
import type {
  StepClassSpec,
  StepKind,
  IsAny,
  IsUnknown,
  StepInput,
  StepOutput,
  CheckedSteps,
  StepsInput,
  StepsOutput,
} from './step-types';

// ---------------------------------------------------------------------------------------------
// The construct signatures: a ladder over step lists of 1 to 10 steps, one for stated types and
// one for everything else.
//
// Ladder. Element k has its own type parameter Sk, inferred as the element is written (the
// arrow function, the tuple), and the items between elements k and k+1 are a type parameter Ak
// that defaults to StepOutput<Sk>. Element k does not infer Ak (the raw inference would keep
// `undefined`, promises and the `unknown` of generic helpers); only a typed parameter of
// element k+1 can. Element k+1 must be `S(k+1) & Takes<Ak>`, so an untyped arrow function there
// gets `Ak` as its parameter type; TypeScript fixes Ak only when that arrow needs it, after
// inferring Sk from the element before, even when that one is an untyped arrow too, so
// contextual types run down the whole chain. The links are checked by `CheckedSteps`, under
// `NoInfer` so that the check never steers inference.
//
// Stated types. `new Pipeline<I, O>(steps)` takes any step list and trusts the types given.
//
// Everything else: step lists whose length is not known (not checked) and tuples of more than
// ten steps (checked, without contextual types). For one to ten steps it never matches and is
// there for its error message: when no signature matches, TypeScript reports the last one's
// error, and this one names the mismatched element. It must not match them, because overloads
// are first tried with the subtype relation, which the ladder may fail for reasons that do not
// matter (an element taking `any`), and the first match wins. For the same reason `Steps`
// defaults to `never`: while TypeScript skips an untyped arrow function it infers nothing from
// the list, and a default that fitted would match and fix that arrow's parameter as `any`.
//
// `I` and `O` are never inferred: given as type arguments they replace the inferred types, and
// `class X extends Pipeline<I, O>` works (every signature then returns `Pipeline<I, O>`, as
// TypeScript requires of a base class).

/** Default of `I`/`O`: "infer from the steps" (a brand that no item type has). */
interface FromSteps {
  readonly 'paipa: infer from the steps': never;
}
type Either<Given, Inferred> =
  IsAny<Given> extends true ? Given : [Given] extends [FromSteps] ? Inferred : Given;

/**
 * What element k+1 must look like, given `A` (what element k emits): only function and class
 * steps carry `A`, which is what gives an untyped arrow function its parameter type; wrappers
 * are checked by `CheckedSteps`. (Were `A` in every member, a wrapper would infer nonsense
 * into it: `iterStep`'s `fn` would be matched against `funcStep`'s `fn`.)
 */
type TakesKind<A> =
  StepFunction<A, any> | StepClassSpec<A, any> | FuncStep | IterStep | StreamStep | WorkerStep;
type Takes<A> =
  | TakesKind<A>
  | readonly [TakesKind<A>]
  | readonly [TakesKind<A>, number]
  | readonly [TakesKind<A>, number, object];
/**
 * What the first element must look like, for contextual typing only (`CheckedSteps` checks it):
 * a tuple is read as a tuple, and an untyped parameter of a first-step function is `unknown`
 * (its type is the pipeline's input, which only the author knows: annotate it, or state it
 * with `Pipeline.from<I>()`); `ctx` is a `StepContext`.
 */
type FirstKind =
  // `Function` lets a function with a typed parameter through; the signature after it types `ctx`.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  Function | ((item: unknown, ctx: StepContext) => unknown) | Exclude<StepKind, StepFunction>;
type FirstStep = FirstKind | readonly [FirstKind, number?, object?];

type LadderCovered = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10;

/**
 * In a compile error for a step list of one to ten steps where no link is at fault: see the
 * error of the signature for that many steps (for instance the concurrency is not a number).
 */
export interface NoStepListSignature {
  'paipa: this step list fits no signature of Pipeline; see the other overloads': never;
}

type FallbackCheck<Steps extends readonly unknown[]> = number extends Steps['length']
  ? unknown
  : Steps['length'] extends LadderCovered
    ? CheckedSteps<Steps> & NoStepListSignature
    : CheckedSteps<Steps>;

/** `T` when `I` was given as a type argument; inferred, `I` is `unknown`, and nothing fits. */
type Stated<I, T> = IsUnknown<I> extends true ? never : T;

/**
 * The type of `Pipeline` as a value: `new Pipeline(steps, options?)` infers the input type from
 * the first step and the output type from the last, checks every step against the one before it
 * and gives untyped arrow functions the type of the items they receive. Also `Pipeline.from<I>()`,
 * the typed builder.
 */
export interface PipelineConstructor {
  new <I = FromSteps, O = FromSteps, S1 = unknown>(
    steps: readonly [S1 & FirstStep] & NoInfer<CheckedSteps<[S1]>>,
    options?: PipelineOptions,
  ): Pipeline<Either<I, StepInput<S1>>, Either<O, StepOutput<S1>>>;
  new <I = FromSteps, O = FromSteps, S1 = unknown, S2 = unknown, A1 = StepOutput<S1>>(
    steps: readonly [S1 & FirstStep, S2 & Takes<A1>] & NoInfer<CheckedSteps<[S1, S2]>>,
    options?: PipelineOptions,
  ): Pipeline<Either<I, StepInput<S1>>, Either<O, StepOutput<S2>>>;
  new <
    I = FromSteps,
    O = FromSteps,
    S1 = unknown,
    S2 = unknown,
    S3 = unknown,
    A1 = StepOutput<S1>,
    A2 = StepOutput<S2>,
  >(
    steps: readonly [S1 & FirstStep, S2 & Takes<A1>, S3 & Takes<A2>] &
      NoInfer<CheckedSteps<[S1, S2, S3]>>,
    options?: PipelineOptions,
  ): Pipeline<Either<I, StepInput<S1>>, Either<O, StepOutput<S3>>>;
  new <
    I = FromSteps,
    O = FromSteps,
    S1 = unknown,
    S2 = unknown,
    S3 = unknown,
    S4 = unknown,
    A1 = StepOutput<S1>,
    A2 = StepOutput<S2>,
    A3 = StepOutput<S3>,
  >(
    steps: readonly [S1 & FirstStep, S2 & Takes<A1>, S3 & Takes<A2>, S4 & Takes<A3>] &
      NoInfer<CheckedSteps<[S1, S2, S3, S4]>>,
    options?: PipelineOptions,
  ): Pipeline<Either<I, StepInput<S1>>, Either<O, StepOutput<S4>>>;
  new <
    I = FromSteps,
    O = FromSteps,
    S1 = unknown,
    S2 = unknown,
    S3 = unknown,
    S4 = unknown,
    S5 = unknown,
    A1 = StepOutput<S1>,
    A2 = StepOutput<S2>,
    A3 = StepOutput<S3>,
    A4 = StepOutput<S4>,
  >(
    steps: readonly [
      S1 & FirstStep,
      S2 & Takes<A1>,
      S3 & Takes<A2>,
      S4 & Takes<A3>,
      S5 & Takes<A4>,
    ] &
      NoInfer<CheckedSteps<[S1, S2, S3, S4, S5]>>,
    options?: PipelineOptions,
  ): Pipeline<Either<I, StepInput<S1>>, Either<O, StepOutput<S5>>>;
  new <
    I = FromSteps,
    O = FromSteps,
    S1 = unknown,
    S2 = unknown,
    S3 = unknown,
    S4 = unknown,
    S5 = unknown,
    S6 = unknown,
    A1 = StepOutput<S1>,
    A2 = StepOutput<S2>,
    A3 = StepOutput<S3>,
    A4 = StepOutput<S4>,
    A5 = StepOutput<S5>,
  >(
    steps: readonly [
      S1 & FirstStep,
      S2 & Takes<A1>,
      S3 & Takes<A2>,
      S4 & Takes<A3>,
      S5 & Takes<A4>,
      S6 & Takes<A5>,
    ] &
      NoInfer<CheckedSteps<[S1, S2, S3, S4, S5, S6]>>,
    options?: PipelineOptions,
  ): Pipeline<Either<I, StepInput<S1>>, Either<O, StepOutput<S6>>>;
  new <
    I = FromSteps,
    O = FromSteps,
    S1 = unknown,
    S2 = unknown,
    S3 = unknown,
    S4 = unknown,
    S5 = unknown,
    S6 = unknown,
    S7 = unknown,
    A1 = StepOutput<S1>,
    A2 = StepOutput<S2>,
    A3 = StepOutput<S3>,
    A4 = StepOutput<S4>,
    A5 = StepOutput<S5>,
    A6 = StepOutput<S6>,
  >(
    steps: readonly [
      S1 & FirstStep,
      S2 & Takes<A1>,
      S3 & Takes<A2>,
      S4 & Takes<A3>,
      S5 & Takes<A4>,
      S6 & Takes<A5>,
      S7 & Takes<A6>,
    ] &
      NoInfer<CheckedSteps<[S1, S2, S3, S4, S5, S6, S7]>>,
    options?: PipelineOptions,
  ): Pipeline<Either<I, StepInput<S1>>, Either<O, StepOutput<S7>>>;
  new <
    I = FromSteps,
    O = FromSteps,
    S1 = unknown,
    S2 = unknown,
    S3 = unknown,
    S4 = unknown,
    S5 = unknown,
    S6 = unknown,
    S7 = unknown,
    S8 = unknown,
    A1 = StepOutput<S1>,
    A2 = StepOutput<S2>,
    A3 = StepOutput<S3>,
    A4 = StepOutput<S4>,
    A5 = StepOutput<S5>,
    A6 = StepOutput<S6>,
    A7 = StepOutput<S7>,
  >(
    steps: readonly [
      S1 & FirstStep,
      S2 & Takes<A1>,
      S3 & Takes<A2>,
      S4 & Takes<A3>,
      S5 & Takes<A4>,
      S6 & Takes<A5>,
      S7 & Takes<A6>,
      S8 & Takes<A7>,
    ] &
      NoInfer<CheckedSteps<[S1, S2, S3, S4, S5, S6, S7, S8]>>,
    options?: PipelineOptions,
  ): Pipeline<Either<I, StepInput<S1>>, Either<O, StepOutput<S8>>>;
  new <
    I = FromSteps,
    O = FromSteps,
    S1 = unknown,
    S2 = unknown,
    S3 = unknown,
    S4 = unknown,
    S5 = unknown,
    S6 = unknown,
    S7 = unknown,
    S8 = unknown,
    S9 = unknown,
    A1 = StepOutput<S1>,
    A2 = StepOutput<S2>,
    A3 = StepOutput<S3>,
    A4 = StepOutput<S4>,
    A5 = StepOutput<S5>,
    A6 = StepOutput<S6>,
    A7 = StepOutput<S7>,
    A8 = StepOutput<S8>,
  >(
    steps: readonly [
      S1 & FirstStep,
      S2 & Takes<A1>,
      S3 & Takes<A2>,
      S4 & Takes<A3>,
      S5 & Takes<A4>,
      S6 & Takes<A5>,
      S7 & Takes<A6>,
      S8 & Takes<A7>,
      S9 & Takes<A8>,
    ] &
      NoInfer<CheckedSteps<[S1, S2, S3, S4, S5, S6, S7, S8, S9]>>,
    options?: PipelineOptions,
  ): Pipeline<Either<I, StepInput<S1>>, Either<O, StepOutput<S9>>>;
  new <
    I = FromSteps,
    O = FromSteps,
    S1 = unknown,
    S2 = unknown,
    S3 = unknown,
    S4 = unknown,
    S5 = unknown,
    S6 = unknown,
    S7 = unknown,
    S8 = unknown,
    S9 = unknown,
    S10 = unknown,
    A1 = StepOutput<S1>,
    A2 = StepOutput<S2>,
    A3 = StepOutput<S3>,
    A4 = StepOutput<S4>,
    A5 = StepOutput<S5>,
    A6 = StepOutput<S6>,
    A7 = StepOutput<S7>,
    A8 = StepOutput<S8>,
    A9 = StepOutput<S9>,
  >(
    steps: readonly [
      S1 & FirstStep,
      S2 & Takes<A1>,
      S3 & Takes<A2>,
      S4 & Takes<A3>,
      S5 & Takes<A4>,
      S6 & Takes<A5>,
      S7 & Takes<A6>,
      S8 & Takes<A7>,
      S9 & Takes<A8>,
      S10 & Takes<A9>,
    ] &
      NoInfer<CheckedSteps<[S1, S2, S3, S4, S5, S6, S7, S8, S9, S10]>>,
    options?: PipelineOptions,
  ): Pipeline<Either<I, StepInput<S1>>, Either<O, StepOutput<S10>>>;
  /** Stated types: `new Pipeline<I, O>(steps)` takes any step list and trusts `I` and `O`. */
  new <I, O>(steps: Stated<I, readonly unknown[]>, options?: PipelineOptions): Pipeline<I, O>;
  new <I = FromSteps, O = FromSteps, const Steps extends readonly unknown[] = never>(
    steps: Steps & FallbackCheck<Steps>,
    options?: PipelineOptions,
  ): Pipeline<Either<I, StepsInput<Steps>>, Either<O, StepsOutput<Steps>>>;

  readonly prototype: Pipeline<any, any>;

  /**
   * Starts a typed builder for a pipeline whose input is `I`: each `.pipe(step, concurrency?,
   * options?)` adds a step that must take what the previous one emits (a compile error at that
   * call otherwise), and `.build(options?)` makes the pipeline, exactly as
   * `new Pipeline([...steps], options)` would.
   *
   * @example
   * const p = Pipeline.from<string>()
   *   .pipe(download, 4)
   *   .pipe((page) => page.links)
   *   .pipe(iterStep(flatten))
   *   .pipe(StoreLinks, 2, { table: 'links' })
   *   .build({ ordered: true });
   */
  from<I>(): PipelineBuilder<I, I>;
}
