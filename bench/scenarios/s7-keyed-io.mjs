// Scenario 7: keyed parallel I/O. 20,000 items of 1 ms async work at concurrency 16, with
// `keyBy` over 100 balanced keys (item i has key i % 100): items of one key must run one at a
// time and in input order, other keys in parallel. The same step without keyBy is the floor:
// what the key bookkeeping costs is the difference. The harness checks per-key order itself
// (a key starting while it runs, or out of input order, counts as misordered).
import { expectedOf, range, sleep } from '../lib/workload.mjs';

const CONCURRENCY = 16;
const KEYS = 100;
const outputOf = (i) => i + 1;

/** The step, with a per-key order check around it that reports into the tally. */
function keyedStep(tally) {
  const running = new Uint8Array(KEYS);
  const last = new Int32Array(KEYS).fill(-1);
  return async (x) => {
    const key = x % KEYS;
    if (running[key] === 1 || last[key] > x) tally.misordered++;
    running[key] = 1;
    last[key] = x;
    await sleep(1);
    running[key] = 0;
    return x + 1;
  };
}

export const contenders = [
  {
    name: 'paipa without keyBy',
    role: 'limit',
    load: async () => {
      const { paipa } = await import('../lib/paipa.mjs');
      return async (n, tally) => {
        const fetchOne = async (x) => {
          await sleep(1);
          return x + 1;
        };
        const p = new paipa.Pipeline([
          [fetchOne, CONCURRENCY],
          (y) => {
            tally.add(y);
            return y;
          },
        ]);
        p.putIterable(range(n));
        return { reportedCount: (await p.run()).count };
      };
    },
  },
  {
    name: 'paipa keyBy (100 keys)',
    role: 'paipa',
    reference: true,
    load: async () => {
      const { paipa } = await import('../lib/paipa.mjs');
      return async (n, tally) => {
        const p = new paipa.Pipeline([
          [keyedStep(tally), CONCURRENCY, { keyBy: (x) => x % KEYS }],
          (y) => {
            tally.add(y);
            return y;
          },
        ]);
        p.putIterable(range(n));
        return { reportedCount: (await p.run()).count };
      };
    },
  },
];

export default {
  id: 's7',
  title: 'Keyed parallel I/O',
  what: 'Items through an async step waiting 1 ms at concurrency 16 with keyBy over 100 balanced keys; per-key order checked',
  metric: 'time',
  cases: { full: [{ n: 20_000 }], quick: [{ n: 2_000 }] },
  warmup: { full: 1_000, quick: 200 },
  rounds: { full: 5, quick: 1 },
  expected: ({ n }) => expectedOf(n, outputOf),
  notes: [
    'Items arrive in key order 0, 1, …, 99, 0, 1, …: with 16 calls in flight no two share a key, so this measures the bookkeeping, not waiting.',
  ],
  contenders,
};
