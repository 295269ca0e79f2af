// Scenario 9: object records, the workload users bring. ~100-byte records from a lazy
// generator; each of 3 steps builds a new object with a spread (as application code does);
// a sink takes each record. Time and peak RSS: allocation per item and how long each object
// stays reachable show up here, not in S1's small integers.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expectedOf } from '../lib/workload.mjs';
import { mapTransform, streamBlocks, tallySink } from '../lib/streams.mjs';

/** A fresh ~100-byte record per item: 3 fields plus a 60-character string of its own. */
function* records(n) {
  for (let i = 0; i < n; i++) yield { id: i, kind: 'record', text: `item-${i}-`.padEnd(60, 'x') };
}
const measure = (r) => ({ ...r, length: r.text.length });
const flag = (r) => ({ ...r, even: (r.id & 1) === 0 });
const score = (r) => ({ ...r, score: (r.id % 97) + r.length + (r.even ? 1 : 0) });
const pick = (r) => r.id + r.score;
const outputOf = (i) => i + (i % 97) + 60 + (i % 2 === 0 ? 1 : 0);

export const contenders = [
  {
    name: 'plain loop',
    role: 'limit',
    load: async () => (n, tally) => {
      for (const r of records(n)) tally.add(pick(score(flag(measure(r)))));
    },
  },
  {
    name: 'Node core Transforms',
    role: 'core',
    load: async () => (n, tally) =>
      pipeline(
        Readable.from(records(n)),
        mapTransform(measure),
        mapTransform(flag),
        mapTransform(score),
        tallySink(tally, { pick }),
      ),
  },
  {
    name: 'readable-stream@4 Transforms',
    role: 'peer',
    load: async () => {
      const blocks = streamBlocks(await import('readable-stream'));
      const map = blocks.mapTransform;
      const sink = (tally) => blocks.tallySink(tally, { pick });
      return (n, tally) =>
        pipeline(Readable.from(records(n)), map(measure), map(flag), map(score), sink(tally));
    },
  },
  {
    name: 'stream-chain',
    role: 'peer',
    load: async () => {
      const { default: chain } = await import('stream-chain');
      return (n, tally) =>
        pipeline(
          Readable.from(records(n)),
          chain([measure, flag, score]),
          tallySink(tally, { pick }),
        );
    },
  },
  {
    name: 'streaming-iterables',
    role: 'peer',
    load: async () => {
      const { consume, map, pipeline: iterPipeline, tap } = await import('streaming-iterables');
      return (n, tally) =>
        iterPipeline(
          () => records(n),
          map(measure),
          map(flag),
          map(score),
          tap((r) => tally.add(pick(r))),
          consume,
        );
    },
  },
  {
    // The sink is the last step, as the README shows it: a function that returns nothing.
    name: 'paipa run() with a sink step',
    role: 'paipa',
    reference: true,
    load: async () => {
      const { paipa } = await import('../lib/paipa.mjs');
      return async (n, tally) => {
        const sink = (r) => {
          tally.add(pick(r));
        };
        const p = new paipa.Pipeline([measure, flag, score, sink]);
        p.putIterable(records(n));
        await p.run();
      };
    },
  },
  {
    name: 'paipa for await',
    role: 'paipa',
    load: async () => {
      const { paipa } = await import('../lib/paipa.mjs');
      return async (n, tally) => {
        const p = new paipa.Pipeline([measure, flag, score]);
        p.putIterable(records(n));
        for await (const r of p) tally.add(pick(r));
      };
    },
  },
  {
    name: 'paipa stream() in stream.pipeline',
    role: 'paipa',
    load: async () => {
      const { paipa } = await import('../lib/paipa.mjs');
      return (n, tally) =>
        pipeline(
          Readable.from(records(n)),
          new paipa.Pipeline([measure, flag, score]).stream(),
          tallySink(tally, { pick }),
        );
    },
  },
];

export default {
  id: 's9',
  title: 'Object records',
  what: '~100-byte records from a lazy generator through 3 steps that each build a new object with a spread, then a sink; time and peak RSS',
  metric: 'time',
  cases: { full: [{ n: 1_000_000 }], quick: [{ n: 20_000 }] },
  warmup: { full: 20_000, quick: 2_000 },
  rounds: { full: 3, quick: 1 },
  expected: ({ n }) => expectedOf(n, outputOf),
  contenders,
};
