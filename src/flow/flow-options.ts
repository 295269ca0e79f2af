import { describe, invalidArg, outOfRange } from '../errors/errors';
import { checkInteger, checkKnownKeys, checkPlainObject } from '../util/validate';

/** `rateLimit` of a step: at most `limit` calls start in any window of `intervalMs` ms. */
export interface RateLimit {
  limit: number;
  intervalMs: number;
}

/** `restart` of a class step: at most `max` instance restarts within any `withinMs` ms. */
export interface RestartPolicy {
  max: number;
  withinMs: number;
}

/** The flow-control options of one step, checked; absent ones are undefined. */
export interface FlowPlan {
  keyBy?: (item: any) => unknown;
  rateLimit?: RateLimit;
  timeout?: number;
  restart?: RestartPolicy;
}

/** Step options that belong to flow control (see `planFlow`). */
export const FLOW_KEYS = ['keyBy', 'rateLimit', 'timeout', 'restart'] as const;

/**
 * Checks the flow-control options of the step at `where` (e.g. `steps[2] (fetch)`), eagerly,
 * with messages that name the step, the option, the range and the value received.
 */
export function planFlow(where: string, kind: string, options: Record<string, unknown>): FlowPlan {
  const flow: FlowPlan = {};
  const runsCalls = kind === 'func' || kind === 'class';
  const forCalls = (key: string) => {
    if (!runsCalls) {
      throw invalidArg(
        `${where}: \`${key}\` applies to function and class steps (one call per item), not to ${kind === 'iter' ? 'an iterStep' : 'a streamStep'}`,
      );
    }
  };
  if (options.keyBy !== undefined) {
    forCalls('keyBy');
    if (typeof options.keyBy !== 'function') {
      throw invalidArg(
        `Expected \`${where} options.keyBy\` to be a function of the item, got ${describe(options.keyBy)}`,
      );
    }
    flow.keyBy = options.keyBy as (item: unknown) => unknown;
  }
  if (options.rateLimit !== undefined) {
    forCalls('rateLimit');
    const name = `${where} options.rateLimit`;
    const { limit, intervalMs } = checkedObject(name, options.rateLimit, ['limit', 'intervalMs']);
    checkInteger(`${name}.limit`, limit, 1);
    checkPositiveMs(`${name}.intervalMs`, intervalMs);
    flow.rateLimit = { limit: limit as number, intervalMs: intervalMs as number };
  }
  if (options.timeout !== undefined) {
    forCalls('timeout');
    checkPositiveMs(`${where} options.timeout`, options.timeout);
    flow.timeout = options.timeout as number;
  }
  if (options.restart !== undefined) {
    if (kind !== 'class') {
      throw invalidArg(
        `${where}: \`restart\` applies to Step classes (an instance with state to replace); a function step has none`,
      );
    }
    const name = `${where} options.restart`;
    const { max, withinMs } = checkedObject(name, options.restart, ['max', 'withinMs']);
    checkInteger(`${name}.max`, max, 0);
    checkPositiveMs(`${name}.withinMs`, withinMs);
    flow.restart = { max: max as number, withinMs: withinMs as number };
  }
  return flow;
}

/** An options object with no key but `known`. */
function checkedObject(name: string, value: unknown, known: string[]): Record<string, unknown> {
  checkPlainObject(name, value);
  checkKnownKeys(name, value as object, known);
  return value as Record<string, unknown>;
}

/** A duration in ms: a finite number above 0, and at most what a timer can wait (~24.8 days). */
function checkPositiveMs(name: string, value: unknown): void {
  if (typeof value !== 'number' || !(value > 0) || value > MAX_TIMER_MS) {
    const msg = `Expected \`${name}\` to be a number of milliseconds above 0 and at most ${MAX_TIMER_MS}, got ${describe(value)}`;
    throw typeof value === 'number' ? outOfRange(msg) : invalidArg(msg);
  }
}

/** setTimeout's largest delay: longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;
