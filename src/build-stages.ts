import type { StepPlan } from './normalize-steps';
import { StepCounters } from './step-counters';
import { StreamStage } from './stream-stage';
import { WorkerStage, type StageHooks } from './worker-stage';

export type Stage = WorkerStage | StreamStage;

/**
 * Turns the plans into stream stages: iterator and stream steps get a `StreamStage` each;
 * function and class steps get a `WorkerStage`, where a run of consecutive concurrency-1 steps
 * shares one stage (see `WorkerStage` on fusion).
 */
export function buildStages(plans: readonly StepPlan[], hooks: StageHooks): Stage[] {
  const stages: Stage[] = [];
  let chain: StepPlan[] = [];
  const flush = () => {
    if (chain.length > 0) stages.push(new WorkerStage(chain, hooks));
    chain = [];
  };
  for (const plan of plans) {
    if (plan.kind === 'iter' || plan.kind === 'stream') {
      flush();
      stages.push(new StreamStage(plan));
    } else if (plan.concurrency === 1) {
      chain.push(plan);
    } else {
      flush();
      stages.push(new WorkerStage([plan], hooks));
    }
  }
  flush();
  return stages;
}

/** The live figures of every step, in pipeline order. */
export function stageCounters(stages: readonly Stage[]): StepCounters[] {
  return stages.flatMap((s) =>
    s instanceof WorkerStage ? s.runners.map((r) => r.counters) : [s.counters],
  );
}
