import type { StepContext, StepResult } from '../types';

/**
 * Base class for steps with state and lifecycle hooks. One object is made per parallel
 * instance (`new YourStep()`, no arguments); the engine then sets `index`, `shared` and
 * `name` before any hook runs.
 *
 * Hook order for a step with n instances:
 * `stepInitialize()` once (on instance 0), `initialize(options)` on each instance, `start()` on
 * each instance, then `process()` calls, then `shutdown()` on each instance that was
 * initialized, and `stepShutdown()` once (on instance 0) after the last `shutdown()`. The
 * shutdown hooks run exactly once on success and on failure alike. Any hook may be async; a
 * hook that throws fails the pipeline with that error.
 *
 * @example
 * class StoreDatabase extends Step<Row, void, { table: string }> {
 *   async stepInitialize() { this.shared.pool = await createPool(); }
 *   async process(row: Row) { await this.shared.pool.insert(this.options.table, row); }
 *   async stepShutdown() { await this.shared.pool.close(); }
 * }
 * new Pipeline([[StoreDatabase, 2, { table: 'rows' }]]);
 */
export abstract class Step<I = any, O = any, Options extends object = Record<string, any>> {
  /** Which parallel instance this object is (0-based). */
  index = 0;
  /** One object shared by all instances of this step (e.g. a connection pool). */
  shared: Record<string, any> = {};
  /** The step's name in stats and errors. */
  name = '';
  /** The options object given in the step definition (`{}` when none), as given. */
  options: Options = {} as Options;

  /** Handles one item. Return `undefined`/`null` or throw `SkipEntry` to emit nothing. */
  abstract process(item: I, ctx: StepContext): StepResult<O> | PromiseLike<StepResult<O>>;

  /**
   * Handles a meta entry (see `Pipeline.putMeta`). Called on one instance per step. Return a
   * replacement value, or `undefined` to pass the entry on unchanged.
   */
  processMeta(meta: unknown): unknown {
    return meta;
  }

  /** Once per step, before any instance is initialized. */
  stepInitialize(): void | Promise<void> {}
  /** Once per instance, with the step's options object. */
  initialize(_options: Options): void | Promise<void> {}
  /** When the instance begins, after every instance is initialized. */
  start(): void | Promise<void> {}
  /** When the instance ends, on success or failure. */
  shutdown(): void | Promise<void> {}
  /** Once per step, after the last instance's `shutdown()`. */
  stepShutdown(): void | Promise<void> {}
}

/** A `Step` subclass (the constructor, not an instance). */
export type StepClass<I = any, O = any, Options extends object = any> = new () => Step<
  I,
  O,
  Options
>;

export function isStepClass(value: unknown): value is StepClass {
  return typeof value === 'function' && value.prototype instanceof Step;
}
