/**
 * Types that follow the data through a `Pipeline`: what a step spec is, what goes into and
 * comes out of each kind of step, and the construct signatures that chain them, so that
 * `new Pipeline([...])` knows its input and output types and a step that cannot take what the
 * step before it emits is a compile error at that step. Types only: nothing here exists at
 * runtime.
 */
import type { Step } from '../steps/step';
import type { FuncStep, IterStep, StreamStep } from '../steps/step-kinds';
import type { WorkerStep } from '../workers/worker-step';
import type { StepContext, StepFunction, StepOptions, StepResult } from '../types';

/**
 * A `Step` subclass whose instances take `I` and emit `O`. `process` is matched as a function
 * property, so its parameter is checked strictly (a method would be checked bivariantly and
 * let a `number` step follow one that emits `number | string`).
 */
export type StepClassSpec<I = any, O = any> = new () => Step<any, any, any> & {
  process: (item: I, ctx: StepContext) => StepResult<O> | PromiseLike<StepResult<O>>;
};

/**
 * One step without its concurrency and options: a function, a `Step` subclass or a wrapper.
 * A stream step's input type is a phantom the compiler cannot check structurally (and is
 * `unknown` for some helpers), so it is checked by `CheckedSteps`/`pipe()` instead of here.
 */
export type StepKind<I = any, O = any> =
  | StepFunction<I, O>
  | StepClassSpec<I, O>
  | FuncStep<I, O>
  | IterStep<I, O>
  | StreamStep<any, O>
  | WorkerStep<I, O>;

/**
 * One element of a pipeline's step list, taking items of type `I` and emitting `O`: a step, or
 * `[step]`, `[step, concurrency]`, `[step, concurrency, options]`. A `Step` subclass may take
 * options of its own besides the engine's. `StepSpec` alone (`any` in, `any` out) types a step
 * list built at runtime.
 *
 * @example
 * const steps: StepSpec[] = [parse, ...(dedupe ? [dedupeStep] : []), [store, 4]];
 */
export type StepSpec<I = any, O = any> =
  | StepKind<I, O>
  | readonly [StepKind<I, O>]
  | readonly [StepKind<I, O>, number]
  | readonly [Exclude<StepKind<I, O>, StepClassSpec>, number, StepOptions]
  | readonly [StepClassSpec<I, O>, number, StepOptions & Record<string, any>];

// ---------------------------------------------------------------------------------------------
// What a step takes and emits. A spec written in place is inferred as exactly what it is (the
// arrow function, the tuple); these read the data types off it.

type KindOf<S> = S extends readonly [infer K, ...unknown[]] ? K : S;
export type IsAny<T> = 0 extends 1 & T ? true : false;
export type IsUnknown<T> = IsAny<T> extends true ? false : unknown extends T ? true : false;
/** Emitting `undefined`/`null` (or nothing) means "drop this item": it never reaches the next step. */
type Emitted<T> = Exclude<T, null | undefined | void>;
/**
 * Iterator and stream steps made from generic helpers (`iterStep(chunk(3))`, `iterStep(flatten)`,
 * `timedChunk(...)`) come out as `unknown` or `unknown[]`: TypeScript cannot instantiate a
 * generic function from a position in a list. Read as `any`, they pass whatever they get on
 * instead of failing the step after them.
 */
type Loose<T> =
  IsUnknown<T> extends true
    ? any
    : T extends readonly (infer E)[]
      ? IsUnknown<E> extends true
        ? any[]
        : T
      : T;

/**
 * The type of the items a step spec takes (`any` for a step whose input type is unknown).
 *
 * @example
 * type In = StepInput<[(row: Row) => string, 4]>; // Row
 */
export type StepInput<S> =
  IsUnknown<S> extends true
    ? any
    : KindOf<S> extends infer K
      ? K extends FuncStep<infer I, any> | WorkerStep<infer I, any>
        ? I
        : K extends IterStep<infer I, any> | StreamStep<infer I, any>
          ? Loose<I>
          : K extends new () => { process(item: infer I, ...rest: any[]): any }
            ? I
            : K extends (item: infer I, ...rest: any[]) => any
              ? I
              : never
      : never;

/**
 * The type of the items a step spec emits: a promise is awaited, and `undefined`/`null` are
 * left out because they drop the item (a step that only ever drops emits `never`).
 *
 * @example
 * type Out = StepOutput<async (n: number) => (n > 0 ? String(n) : undefined)>; // string
 */
export type StepOutput<S> =
  IsUnknown<S> extends true
    ? any
    : KindOf<S> extends infer K
      ? K extends FuncStep<any, infer O> | WorkerStep<any, infer O>
        ? Emitted<Awaited<O>>
        : K extends IterStep<any, infer O> | StreamStep<any, infer O>
          ? Loose<O>
          : K extends new () => { process(...args: any[]): infer R }
            ? Emitted<Awaited<R>>
            : K extends (...args: any[]) => infer R
              ? Emitted<Awaited<R>>
              : never
      : never;

// ---------------------------------------------------------------------------------------------
// The checks. Each element of the step list is compared with the one before it; a failure turns
// the type that element must have into one of these markers, so the compiler error points at
// that element and names the position (0-based, as in the runtime's `steps[i]` messages).

/**
 * In a compile error: the step at `Position` (its index in the step list, or `'pipe()'` in the
 * builder) takes `Expects`, but the step before it emits `Emits`, which is not assignable to it.
 */
export interface StepMismatch<Position extends number | string, Emits, Expects> {
  'paipa: this step cannot take what the step before it emits': {
    step: Position;
    previousStepEmits: Emits;
    thisStepExpects: Expects;
  };
}

/** In a compile error: the element at `Position` is not a step spec. */
export interface NotAStep<Position extends number> {
  'paipa: expected a function, a Step subclass, funcStep/iterStep/streamStep, or [step, concurrency?, options?]': Position;
}

/** In a compile error: the options of the step at `Position` do not fit it. */
export interface StepOptionsMismatch<Position extends number, Expected> {
  'paipa: these options do not fit this step': { step: Position; expected: Expected };
}

/** A step spec's shape; its options are read by `OptionsCheck`, for a message that says so. */
type SpecShape =
  | StepKind
  | readonly [StepKind]
  | readonly [StepKind, number]
  | readonly [StepKind, number, object];

type ClassOptions<K> = K extends new () => { options: infer O } ? O : never;
type OptionsCheck<S, At extends number> = S extends readonly [infer K, any, infer Given]
  ? K extends StepClassSpec
    ? [Given] extends [ClassOptions<K> & StepOptions]
      ? unknown
      : StepOptionsMismatch<At, ClassOptions<K> & StepOptions>
    : [Exclude<keyof Given, keyof StepOptions>] extends [never]
      ? unknown
      : StepOptionsMismatch<At, StepOptions>
  : unknown;

/**
 * What element `At` must also be, given the element before it: `unknown` when it fits. An
 * element not inferred yet (`unknown`) fits, so that the check stays out of the way while the
 * compiler is still working out the types of untyped arrow functions.
 */
type LinkCheck<Prev, S, At extends number> =
  IsUnknown<S> extends true
    ? unknown
    : [S] extends [SpecShape]
      ? (At extends 0
          ? unknown
          : [StepOutput<Prev>] extends [StepInput<S>]
            ? unknown
            : StepMismatch<At, StepOutput<Prev>, StepInput<S>>) &
          OptionsCheck<S, At>
      : NotAStep<At>;

/**
 * What `builder.pipe(step)` requires of `step` besides its shape, when the builder's items are
 * `O`: `unknown` when it fits.
 */
export type PipeCheck<O, S> =
  IsUnknown<S> extends true
    ? unknown
    : [O] extends [StepInput<S>]
      ? unknown
      : StepMismatch<'pipe()', O, StepInput<S>>;

/** The options `pipe(step, n, options)` accepts: the engine's, and a `Step` subclass's own. */
export type StepOptionsFor<S> = S extends StepClassSpec
  ? StepOptions & ClassOptions<S>
  : StepOptions;

type CheckLinks<
  Steps extends readonly unknown[],
  Prev = unknown,
  Done extends unknown[] = [],
> = Steps extends readonly [infer S, ...infer Rest]
  ? CheckLinks<Rest, S, [...Done, LinkCheck<Prev, S, Done['length']>]>
  : Done;

/**
 * The step list as it must be, element by element: `unknown` where an element fits, a marker
 * type where it does not. A list whose length is not known (an array, not a tuple) is not
 * checked.
 */
export type CheckedSteps<Steps extends readonly unknown[]> = number extends Steps['length']
  ? unknown
  : Readonly<CheckLinks<Steps>>;

type Last<Steps extends readonly unknown[]> = Steps extends readonly [...unknown[], infer L]
  ? L
  : never;

/** The input type of a step list (`any` for a list whose length is not known). */
export type StepsInput<Steps extends readonly unknown[]> = [Steps] extends [never]
  ? any
  : number extends Steps['length']
    ? any
    : Steps extends readonly [infer First, ...unknown[]]
      ? StepInput<First>
      : never;

/** The output type of a step list (`any` for a list whose length is not known). */
export type StepsOutput<Steps extends readonly unknown[]> = [Steps] extends [never]
  ? any
  : number extends Steps['length']
    ? any
    : StepOutput<Last<Steps>>;
