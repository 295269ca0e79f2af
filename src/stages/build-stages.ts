import type { AckTracker } from '../delivery/ack-tracker';
import type { StepPlan } from '../steps/normalize-steps';
import { StepCounters } from '../observe/step-counters';
import { StreamStage } from './stream-stage';
import { RunnerStage, type StageHooks } from './runner-stage';
import { trackItemError, trackPlan } from './track-calls';
import { WorkerRuntime } from '../workers/worker-runtime';

export type Stage = RunnerStage | StreamStage;

/** What the stages of a run need from the pipeline. */
export interface BuildOptions {
  onItemError?: StageHooks['onItemError'];
  /** The first stage takes the Source's items in batches (see `Batch`). */
  batchedInput?: boolean;
  /** The Source's items available now (see `StageHooks.takeInput`). */
  takeInput?: StageHooks['takeInput'];
  /** Present while acknowledgements are on: items travel in envelopes (see delivery/). */
  tracker?: AckTracker | null;
}

/**
 * Turns the plans into stream stages: iterator and stream steps get a `StreamStage` each;
 * function and class steps get a `RunnerStage`, where a run of consecutive concurrency-1 steps
 * shares one stage (see `RunnerStage` on fusion).
 *
 * With a tracker, items travel in envelopes: a stage of function and class steps takes one
 * apart once and runs its steps on the bare value (see `RunnerStage`), and every other call
 * is wrapped (see track-calls.ts).
 */
export function buildStages(plans: readonly StepPlan[], options: BuildOptions): Stage[] {
  const tracker = options.tracker ?? null;
  const hooks: StageHooks =
    tracker === null
      ? {
          onItemError: options.onItemError,
          batchedInput: options.batchedInput,
          takeInput: options.takeInput,
        }
      : {
          onItemError: options.onItemError && trackItemError(options.onItemError, tracker),
          batchedInput: options.batchedInput,
          takeInput: options.takeInput,
          tracker,
        };
  const stages: Stage[] = [];
  let chain: StepPlan[] = [];
  // Only the first stage can take batches from the Source.
  const hooksAt = (): StageHooks =>
    stages.length === 0 ? hooks : { ...hooks, batchedInput: false, takeInput: undefined };
  const flush = () => {
    if (chain.length > 0) stages.push(new RunnerStage(chain, hooksAt()));
    chain = [];
  };
  for (const given of plans) {
    const plan = tracker === null ? given : trackPlan(given);
    if (plan.worker) {
      // A worker step gets its own stage, and threads of its own for this run only.
      flush();
      const runtime = new WorkerRuntime(plan.worker, plan.name, plan.concurrency);
      stages.push(
        new RunnerStage([{ ...plan, fn: runtime.submit, resources: runtime }], hooksAt()),
      );
    } else if (plan.kind === 'iter' || plan.kind === 'stream') {
      flush();
      stages.push(new StreamStage(plan, tracker));
    } else if (plan.concurrency === 1) {
      chain.push(plan);
    } else {
      flush();
      stages.push(new RunnerStage([plan], hooksAt()));
    }
  }
  flush();
  for (let i = 0; i + 1 < stages.length; i++) {
    const [stage, next] = [stages[i], stages[i + 1]];
    if (stage instanceof RunnerStage && next instanceof RunnerStage) stage.linkTo(next);
  }
  return stages;
}

/** The live figures of every step, in pipeline order. */
export function stageCounters(stages: readonly Stage[]): StepCounters[] {
  return stages.flatMap((s) =>
    s instanceof RunnerStage ? s.runners.map((r) => r.counters) : [s.counters],
  );
}
