// Scenario 5: teardown. 16 instances busy with 50 ms tasks when item 100 throws. The run must
// reject at once with that error (not after the in-flight tasks finish), start no new task,
// and leave nothing behind that keeps the process alive. Tasks that ignore ctx.signal still
// hold their own 50 ms timers, so the process may outlive the rejection by up to 50 ms; tasks
// that honour the signal let it exit at once.
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { range, sleep } from '../lib/workload.mjs';

const CONCURRENCY = 16;
const TASK_MS = 50;
const FAILING_ITEM = 100;

/**
 * A task list that records when item 100 throws and how many tasks start after it.
 * `wait(signal)` is the task's I/O: ignoring the signal or honouring it.
 */
function instrumentedTask(wait) {
  const boom = new Error(`item ${FAILING_ITEM} failed`);
  const probe = { boom, thrownAt: 0, startedAfterThrow: 0 };
  probe.task = async (x, signal) => {
    if (probe.thrownAt > 0) probe.startedAfterThrow++;
    if (x === FAILING_ITEM) {
      probe.thrownAt = performance.now();
      throw boom;
    }
    await wait(signal);
    return x;
  };
  return probe;
}

const ignoring = () => sleep(TASK_MS);
const honouring = (signal) => delay(TASK_MS, undefined, { signal });

/** Runs `consume` (expected to reject with probe.boom) and reports the teardown figures. */
async function measure(probe, consume) {
  try {
    await consume();
  } catch (err) {
    const rejectedAt = performance.now();
    return {
      rejected: true,
      sameError: err === probe.boom,
      rejectMs: rejectedAt - probe.thrownAt,
      startedAfterThrow: probe.startedAfterThrow,
    };
  }
  return { rejected: false };
}

const paipaContender = (name, wait) => ({
  name,
  role: 'paipa',
  reference: wait === ignoring,
  load: async () => {
    const { paipa } = await import('../lib/paipa.mjs');
    return (n) => {
      const probe = instrumentedTask(wait);
      const p = new paipa.Pipeline([[(x, ctx) => probe.task(x, ctx.signal), CONCURRENCY]]);
      p.putIterable(range(n));
      return measure(probe, () => p.run());
    };
  },
});

const coreContender = (name, wait) => ({
  name,
  role: 'core',
  load: async () => (n) => {
    const probe = instrumentedTask(wait);
    const outputs = Readable.from(range(n)).map((x, { signal }) => probe.task(x, signal), {
      concurrency: CONCURRENCY,
    });
    return measure(probe, () => outputs.toArray());
  },
});

export const contenders = [
  paipaContender('paipa run(), tasks ignore ctx.signal', ignoring),
  paipaContender('paipa run(), tasks honour ctx.signal', honouring),
  coreContender('Readable.map, tasks ignore signal', ignoring),
  coreContender('Readable.map, tasks honour signal', honouring),
];

export default {
  id: 's5',
  title: 'Teardown',
  what: `${CONCURRENCY} instances busy with ${TASK_MS} ms tasks, item ${FAILING_ITEM} throws: time from the throw to the rejection, and from the rejection to the process exiting by itself`,
  metric: 'teardown',
  taskMs: TASK_MS,
  cases: { full: [{ n: 10_000 }], quick: [{ n: 10_000 }] },
  warmup: { full: 0, quick: 0 },
  rounds: { full: 5, quick: 1 },
  notes: [
    `With tasks that ignore ctx.signal, the process lives on until their own ${TASK_MS} ms timers end (the Timeout handles in the table): they are the tasks', not the engine's.`,
  ],
  /** A teardown run passes when it rejected with the very error thrown. */
  verify: (result) => {
    if (!result.figures?.rejected) return 'run() resolved instead of rejecting';
    if (!result.figures.sameError) return 'rejected with a different error than the one thrown';
    return null;
  },
  contenders,
};
