// Scenario 4: memory. ~100-byte objects from a lazy generator through 3 steps to a sink, with
// a fast sink and with a slow one (every 1000th item waits 1 ms, so the steps outrun it and
// only backpressure keeps memory bounded). Peak RSS is the figure; runs of 1M and 4M items
// show whether it grows with the input (it must not).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expectedOf, sleep } from '../lib/workload.mjs';
import { mapTransform, tallySink } from '../lib/streams.mjs';

const SLOW_EVERY = 1000;

/** A fresh ~100-byte object per item: 3 fields plus a 60-character string of its own. */
function* records(n) {
  for (let i = 0; i < n; i++) yield { id: i, kind: 'record', text: `item-${i}-`.padEnd(60, 'x') };
}
const reshape = (r) => ({ id: r.id, kind: r.kind, text: r.text, length: r.text.length });
const flag = (r) => {
  r.even = (r.id & 1) === 0;
  return r;
};
const score = (r) => {
  r.score = (r.id % 97) + r.length + (r.even ? 1 : 0);
  return r;
};
const pick = (r) => r.id + r.score;
const outputOf = (i) => i + (i % 97) + 60 + (i % 2 === 0 ? 1 : 0);

/** The async-iteration sink: what a `for await` consumer that is sometimes slow looks like. */
async function drainInto(outputs, tally, slow) {
  for await (const r of outputs) {
    tally.add(pick(r));
    if (slow && tally.count % SLOW_EVERY === 0) await sleep(1);
  }
}

export const contenders = [
  {
    name: 'plain loop',
    role: 'limit',
    load: async () => {
      function* steps(n) {
        for (const r of records(n)) yield score(flag(reshape(r)));
      }
      return (n, tally, { slow }) => drainInto(steps(n), tally, slow);
    },
  },
  {
    name: 'Node core Transforms',
    role: 'core',
    load:
      async () =>
      (n, tally, { slow }) =>
        pipeline(
          Readable.from(records(n)),
          mapTransform(reshape),
          mapTransform(flag),
          mapTransform(score),
          tallySink(tally, { pick, slowEvery: slow ? SLOW_EVERY : 0 }),
        ),
  },
  {
    // The documented sink idiom: the last step is a Step class that takes each item.
    name: 'paipa run() with a sink step',
    role: 'paipa',
    reference: true,
    load: async () => {
      const { paipa } = await import('../lib/paipa.mjs');
      return (n, tally, { slow }) => {
        class Sink extends paipa.Step {
          process(r) {
            tally.add(pick(r));
            if (slow && tally.count % SLOW_EVERY === 0) return sleep(1);
          }
        }
        const p = new paipa.Pipeline([reshape, flag, score, Sink]);
        p.putIterable(records(n));
        // the sink emits nothing (count 0): the tally it filled is what gets checked
        return p.run().then(() => undefined);
      };
    },
  },
  {
    name: 'paipa for await',
    role: 'paipa',
    load: async () => {
      const { paipa } = await import('../lib/paipa.mjs');
      return (n, tally, { slow }) => {
        const p = new paipa.Pipeline([reshape, flag, score]);
        p.putIterable(records(n));
        return drainInto(p, tally, slow);
      };
    },
  },
  {
    name: 'paipa combinePipeline',
    role: 'paipa',
    needs: 'combinePipeline',
    load: async () => {
      const { paipa } = await import('../lib/paipa.mjs');
      const each = (fn) =>
        function* (items) {
          for (const r of items) yield fn(r);
        };
      return (n, tally, { slow }) =>
        drainInto(
          paipa.combinePipeline(records(n), [each(reshape), each(flag), each(score)]),
          tally,
          slow,
        );
    },
  },
];

export default {
  id: 's4',
  title: 'Memory',
  what: '~100-byte objects from a lazy generator through 3 steps to a sink (fast, and slow: every 1000th item waits 1 ms); peak RSS',
  metric: 'memory',
  cases: {
    full: [
      { label: '2M fast sink', n: 2_000_000, slow: false },
      { label: '2M slow sink', n: 2_000_000, slow: true },
      { label: '1M fast sink', n: 1_000_000, slow: false },
      { label: '4M fast sink', n: 4_000_000, slow: false },
    ],
    quick: [
      { label: '100k fast sink', n: 100_000, slow: false },
      { label: '100k slow sink', n: 100_000, slow: true },
      { label: '50k fast sink', n: 50_000, slow: false },
      { label: '200k fast sink', n: 200_000, slow: false },
    ],
  },
  /** Which cases compare peak RSS for the growth check: [small, large]. */
  growth: { full: [2, 3], quick: [2, 3] },
  warmup: { full: 0, quick: 0 },
  rounds: { full: 3, quick: 1 },
  expected: ({ n }) => expectedOf(n, outputOf),
  notes: [
    'paipa stream() is left out here to keep `npm run bench` within 5 minutes; it runs the same stages as paipa for await.',
  ],
  contenders,
};
