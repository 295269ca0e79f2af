import { isSkip } from '../errors/errors';
import type { AckTracker } from '../delivery/ack-tracker';
import { Tracked, type Origin } from '../delivery/tracked';
import type { StepPlan } from '../steps/normalize-steps';
import type { ItemErrorHandler, StepContext } from '../types';
import { isThenable } from '../util/thenable';

type Call = (item: unknown, ctx: StepContext) => unknown;

/**
 * Function and class steps under acknowledgements, without touching the runner's hot path:
 * the call itself is wrapped. It unwraps the envelope, calls the step, and wraps a result in a
 * NEW envelope with the same origins (the origins' reference moves to the output). A skip
 * (`undefined`, `null`, `SkipEntry`) releases them: the input is done for this step; a
 * `SkipEntry` still reaches the runner, which counts it as with acknowledgements off.
 *
 * A result that arrives once the call's `ctx.signal` is aborted (its timeout passed, or the run
 * is torn down) is dropped by the runner, so it must not release anything: a retry of the same
 * item may still be running, and a torn-down run acks nothing. A throw is left to the runner
 * (retry, dead letter or failure), which keeps the envelope and calls again with it.
 */
export function trackCall(call: Call, tracker: AckTracker): Call {
  return (item, ctx) => {
    if (!(item instanceof Tracked)) return call(item, ctx);
    let result: unknown;
    try {
      result = call(item.value, ctx);
    } catch (err) {
      if (isSkip(err)) releaseSkipped(tracker, item, ctx);
      throw err;
    }
    if (!isThenable(result)) return settle(tracker, item, result, ctx);
    return settleLater(tracker, item, result, ctx);
  };
}

/**
 * The result promise of a call on `input`'s value, as the runner gets it under acknowledgements:
 * it resolves to a new envelope, or to a skip once `input`'s origins are released.
 */
export function settleLater(
  tracker: AckTracker,
  input: Tracked,
  result: PromiseLike<unknown>,
  ctx: StepContext,
): Promise<unknown> {
  // Promise.resolve: a thenable's then() need not return a chained promise (a worker step's
  // ticket does not); for a native promise it is the same promise.
  return Promise.resolve(result).then(
    (value) => settle(tracker, input, value, ctx),
    (err: unknown) => {
      if (isSkip(err)) releaseSkipped(tracker, input, ctx);
      throw err;
    },
  );
}

function settle(tracker: AckTracker, input: Tracked, value: unknown, ctx: StepContext): unknown {
  if (value === undefined || value === null) {
    releaseSkipped(tracker, input, ctx);
    return value;
  }
  return new Tracked(value, input.origins);
}

/**
 * The input is done for this step: a skip. A `SkipEntry` is thrown on to the runner after this,
 * which counts it as skipped (never as stored by a last step), exactly as with acknowledgements
 * off.
 */
function releaseSkipped(tracker: AckTracker, input: Tracked, ctx: StepContext): void {
  if (!ctx.signal.aborted) tracker.release(input.origins);
}

/** A dead letter is done once the handler settled: its origins are released then. */
export function trackItemError(handler: ItemErrorHandler, tracker: AckTracker): ItemErrorHandler {
  return (error, item, stepName) => {
    if (!(item instanceof Tracked)) return handler(error, item, stepName);
    const origins = item.origins;
    const inputs = Array.isArray(origins)
      ? origins.map((o: Origin) => o.item)
      : [(origins as Origin).item];
    const handled = handler(error, item.value, stepName, inputs);
    if (isThenable(handled)) {
      return Promise.resolve(handled).then(() => tracker.release(item.origins));
    }
    tracker.release(item.origins);
    return handled;
  };
}

/** The plan a function or class step runs with under acknowledgements (keyBy sees the value). */
export function trackPlan(plan: StepPlan): StepPlan {
  const keyBy = plan.flow.keyBy;
  if (keyBy === undefined) return plan;
  return {
    ...plan,
    flow: {
      ...plan.flow,
      keyBy: (item: unknown) => keyBy(item instanceof Tracked ? item.value : item),
    },
  };
}
