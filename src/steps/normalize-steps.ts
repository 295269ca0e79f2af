import { describe, invalidArg, outOfRange } from '../errors/errors';
import { isStepClass, type StepClass } from './step';
import { definitionKind, type StreamFactory } from './step-kinds';
import { FLOW_KEYS, planFlow, type FlowPlan } from '../flow/flow-options';
import { workerSlots, type StepResources } from '../workers/worker-runtime';
import { isWorkerStep, type WorkerStep } from '../workers/worker-step';
import type { IterStepFunction, RetryDelay, StepFunction, StepOptions } from '../types';
import {
  checkBoolean,
  checkInteger,
  checkKnownKeys,
  checkPlainObject,
  checkRetryDelay,
} from '../util/validate';

/** The step list, checked and resolved into one record per step (defaults applied). */
export interface StepPlan {
  /** Position in the pipeline (0-based). */
  position: number;
  kind: 'func' | 'class' | 'iter' | 'stream';
  name: string;
  concurrency: number;
  highWaterMark: number;
  ordered: boolean;
  maxRetries: number;
  retryDelay: RetryDelay;
  /** The step's options object as given (a `Step` subclass receives it in `initialize`). */
  options: Record<string, unknown>;
  fn?: StepFunction;
  ctor?: StepClass;
  iterFn?: IterStepFunction;
  factory?: StreamFactory;
  /** Flow control: keyBy, rateLimit, timeout, restart (each undefined when not set). */
  flow: FlowPlan;
  /** A worker step's definition: `concurrency` is its number of threads. */
  worker?: WorkerStep;
  /**
   * Items the function-step runner may hold at once, when that is not `concurrency`: a worker
   * step's threads take their items in batches (see `workerSlots`).
   */
  slots?: number;
  /** Per-run resources the stage starts and stops with the run (set by `buildStages`). */
  resources?: StepResources;
}

export interface StepDefaults {
  highWaterMark: number;
  ordered: boolean;
  maxRetries: number;
  retryDelay: RetryDelay;
}

const ENGINE_STEP_KEYS = [
  'name',
  'highWaterMark',
  'ordered',
  'maxRetries',
  'retryDelay',
  ...FLOW_KEYS,
] as const;

/**
 * Accepts `step`, `[step]`, `[step, n]` and `[step, n, options]` where `step` is a function,
 * a `Step` subclass or a `funcStep`/`iterStep`/`streamStep` definition. Every mistake is a
 * TypeError (or RangeError for numbers) that starts with `steps[i]`.
 */
export function planSteps(steps: unknown, defaults: StepDefaults): StepPlan[] {
  if (!Array.isArray(steps)) {
    throw invalidArg(`Expected \`steps\` to be an array of steps, got ${describe(steps)}`);
  }
  if (steps.length === 0) {
    throw invalidArg('Expected `steps` to hold at least one step, got an empty array');
  }
  return steps.map((spec, position) => planStep(spec, position, defaults));
}

function planStep(spec: unknown, position: number, defaults: StepDefaults): StepPlan {
  const where = `steps[${position}]`;
  let step: unknown = spec;
  let concurrency: unknown = 1;
  let options: unknown = {};
  if (Array.isArray(spec)) {
    if (spec.length < 1 || spec.length > 3) {
      throw invalidArg(
        `${where}: expected [step, concurrency?, options?], got an array of ${spec.length} elements`,
      );
    }
    [step, concurrency = 1, options = {}] = spec;
  }
  checkInteger(`${where} concurrency`, concurrency, 1);
  checkPlainObject(`${where} options`, options);
  const opts = options as Record<string, unknown> & StepOptions;

  const base = resolveKind(step, where);
  if (base.kind === 'class' && (concurrency as number) > MAX_CLASS_INSTANCES) {
    throw outOfRange(
      `Expected \`${where} concurrency\` of a Step class to be at most ${MAX_CLASS_INSTANCES} (each instance is made and initialized up front), got ${concurrency as number}`,
    );
  }
  if (base.kind !== 'class') checkKnownKeys(`${where} options`, opts, ENGINE_STEP_KEYS);
  if (opts.name !== undefined && (typeof opts.name !== 'string' || opts.name === '')) {
    throw invalidArg(
      `Expected \`${where} options.name\` to be a non-empty string, got ${describe(opts.name)}`,
    );
  }
  const highWaterMark =
    opts.highWaterMark === undefined ? defaults.highWaterMark : opts.highWaterMark;
  checkInteger(`${where} options.highWaterMark`, highWaterMark, 1);
  checkBoolean(`${where} options.ordered`, opts.ordered);
  const maxRetries = opts.maxRetries === undefined ? defaults.maxRetries : opts.maxRetries;
  checkInteger(`${where} options.maxRetries`, maxRetries, 0);
  checkRetryDelay(`${where} options.retryDelay`, opts.retryDelay);

  const ordered = opts.ordered ?? defaults.ordered;
  if (ordered && (concurrency as number) > 1 && (base.kind === 'iter' || base.kind === 'stream')) {
    throw invalidArg(
      `${where}: ${base.kind === 'iter' ? 'an iterStep' : 'a streamStep'} with concurrency ${concurrency as number} cannot keep input order; ` +
        'use concurrency 1, `ordered: false` for this step, or a function step',
    );
  }
  const name = opts.name ?? base.name ?? `step${position}`;
  const flow = planFlow(`${where} (${name})`, base.kind, opts);
  return {
    ...base,
    position,
    name,
    flow,
    concurrency: concurrency as number,
    highWaterMark: highWaterMark as number,
    ordered,
    maxRetries: maxRetries as number,
    retryDelay: opts.retryDelay ?? defaults.retryDelay,
    options: opts,
    ...(base.worker && { slots: workerSlots(concurrency as number, base.worker.batchSize) }),
  };
}

type StepBase = Pick<StepPlan, 'kind' | 'fn' | 'ctor' | 'iterFn' | 'factory' | 'worker'> & {
  name?: string;
};

/** Above this, a class step is refused: its instances are all made (and initialized) up front. */
export const MAX_CLASS_INSTANCES = 100_000;

function resolveKind(step: unknown, where: string): StepBase {
  if (isStepClass(step)) {
    if (typeof step.prototype.process !== 'function') {
      throw invalidArg(`${where}: class ${step.name} extends Step but has no process() method`);
    }
    return { kind: 'class', ctor: step, name: step.name || undefined };
  }
  if (isWorkerStep(step)) return { kind: 'func', worker: step, name: step.name };
  const defined = definitionKind(step);
  if (defined === 'func') {
    const d = step as { fn: StepFunction; name?: string };
    return { kind: 'func', fn: d.fn, name: d.name };
  }
  if (defined === 'iter') {
    const d = step as { fn: IterStepFunction; name?: string };
    return { kind: 'iter', iterFn: d.fn, name: d.name };
  }
  if (defined === 'stream') {
    const d = step as { factory: StreamFactory; name?: string };
    return { kind: 'stream', factory: d.factory, name: d.name };
  }
  if (typeof step === 'function') {
    const tag = Object.prototype.toString.call(step);
    if (tag === '[object GeneratorFunction]' || tag === '[object AsyncGeneratorFunction]') {
      const name = step.name || 'fn';
      throw invalidArg(
        `${where}: ${name} is a generator function; wrap it in iterStep(${name}) to consume the items as an iterable (or use a plain function for one output per item)`,
      );
    }
    if (/^class[\s{]/.test(Function.prototype.toString.call(step))) {
      throw invalidArg(
        `${where}: class ${step.name} does not extend Step; extend Step or pass a function`,
      );
    }
    return { kind: 'func', fn: step as StepFunction, name: step.name || undefined };
  }
  throw invalidArg(
    `${where}: expected a function, a Step subclass, or funcStep()/iterStep()/streamStep()/workerStep(), got ${describe(step)}`,
  );
}
