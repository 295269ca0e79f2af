// Scenario 2: parallel I/O. 20,000 items through an async step that waits 1 ms at
// concurrency 32, then a sync step, then a sink. Order is free. A hand-written promise pool is the floor:
// it is what the code looks like with no library at all.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expectedOf, range, sleep } from '../lib/workload.mjs';
import { mapTransform, tallySink } from '../lib/streams.mjs';

const CONCURRENCY = 32;
const fetchOne = async (x) => {
  await sleep(1);
  return x + 1;
};
const finish = (x) => x * 2;
const outputOf = (i) => finish(i + 1);

/** The callback form the callback-style libraries document. */
const callbackFetch = (x, callback) => fetchOne(x).then((y) => callback(null, y), callback);

export const contenders = [
  {
    name: 'hand-written promise pool',
    role: 'limit',
    load: async () => async (n, tally) => {
      const items = range(n);
      const worker = async () => {
        for (const x of items) tally.add(finish(await fetchOne(x)));
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    },
  },
  {
    name: 'Readable.map({concurrency})',
    role: 'core',
    load: async () => async (n, tally) => {
      const outputs = Readable.from(range(n))
        .map(fetchOne, { concurrency: CONCURRENCY })
        .map(finish);
      for await (const y of outputs) tally.add(y);
    },
  },
  {
    name: 'through2-concurrent',
    role: 'peer',
    load: async () => {
      const { default: through2Concurrent } = await import('through2-concurrent');
      return (n, tally) =>
        pipeline(
          Readable.from(range(n)),
          through2Concurrent.obj({ maxConcurrency: CONCURRENCY }, (x, _encoding, callback) =>
            callbackFetch(x, callback),
          ),
          mapTransform(finish),
          tallySink(tally),
        );
    },
  },
  {
    name: 'parallel-transform (unordered)',
    role: 'peer',
    load: async () => {
      const { default: parallelTransform } = await import('parallel-transform');
      return (n, tally) =>
        pipeline(
          Readable.from(range(n)),
          parallelTransform(CONCURRENCY, { ordered: false }, callbackFetch),
          mapTransform(finish),
          tallySink(tally),
        );
    },
  },
  {
    name: 'streaming-iterables transform',
    role: 'peer',
    load: async () => {
      const {
        consume,
        map,
        pipeline: iterPipeline,
        tap,
        transform,
      } = await import('streaming-iterables');
      return (n, tally) =>
        iterPipeline(
          () => range(n),
          transform(CONCURRENCY, fetchOne),
          map(finish),
          tap((y) => tally.add(y)),
          consume,
        );
    },
  },
  {
    // As users write it: the parallel step, the sync step, then a sink step that takes each
    // output (it emits nothing, so the tally it fills is what gets checked).
    name: 'paipa Pipeline run()',
    role: 'paipa',
    reference: true,
    load: async () => {
      const { paipa } = await import('../lib/paipa.mjs');
      return async (n, tally) => {
        const sink = (y) => {
          tally.add(y);
        };
        const p = new paipa.Pipeline([[fetchOne, CONCURRENCY], finish, sink]);
        p.putIterable(range(n));
        await p.run();
      };
    },
  },
];

export default {
  id: 's2',
  title: 'Parallel I/O',
  what: 'Items through an async step waiting 1 ms (setTimeout) at concurrency 32, then a sync step, then a sink; any order',
  metric: 'time',
  cases: { full: [{ n: 20_000 }], quick: [{ n: 2_000 }] },
  warmup: { full: 1_000, quick: 200 },
  rounds: { full: 5, quick: 1 },
  expected: ({ n }) => expectedOf(n, outputOf),
  notes: [
    'Readable.map keeps input order (it has no unordered mode): a slow item holds back the outputs behind it.',
    'paipa combinePipeline is not a contender here: it composes generator steps in one thread, with no concurrency.',
  ],
  contenders,
};
