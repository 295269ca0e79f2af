// Scenario 3: ordered parallel I/O. Each item waits 0, 1 or 2 ms (a fixed pseudo-random
// choice per item, the same in every run) at concurrency 16, and the outputs must come out
// in input order: a slow item holds back the fast ones behind it, which is what ordered
// fan-out has to buffer well.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expectedOf, range, sleep } from '../lib/workload.mjs';
import { tallySink } from '../lib/streams.mjs';

const CONCURRENCY = 16;
/** 0, 1 or 2 ms, decided by a hash of the item so every run and contender waits the same. */
export const delayOf = (i) => (Math.imul(i ^ 0x5bd1e995, 0x85ebca6b) >>> 8) % 3;
const outputOf = (i) => i * 3 + 1;
/** A 0 ms item resolves without a timer: setTimeout(0) would be a 1 ms wait in Node. */
const fetchOne = async (i) => {
  const ms = delayOf(i);
  if (ms > 0) await sleep(ms);
  return outputOf(i);
};
const callbackFetch = (x, callback) => fetchOne(x).then((y) => callback(null, y), callback);

export const contenders = [
  {
    // The floor: 16 workers never wait for order; a reorder buffer releases outputs in order.
    name: 'promise pool + reorder buffer',
    role: 'limit',
    load: async () => async (n, tally) => {
      const done = new Map();
      let next = 0;
      let index = 0;
      const items = range(n);
      const worker = async () => {
        for (const x of items) {
          const at = index++;
          done.set(at, await fetchOne(x));
          for (; done.has(next); next++) {
            tally.add(done.get(next));
            done.delete(next);
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    },
  },
  {
    name: 'Readable.map({concurrency})',
    role: 'core',
    load: async () => async (n, tally) => {
      for await (const y of Readable.from(range(n)).map(fetchOne, { concurrency: CONCURRENCY })) {
        tally.add(y);
      }
    },
  },
  {
    name: 'parallel-transform (ordered)',
    role: 'peer',
    load: async () => {
      const { default: parallelTransform } = await import('parallel-transform');
      return (n, tally) =>
        pipeline(
          Readable.from(range(n)),
          parallelTransform(CONCURRENCY, callbackFetch),
          tallySink(tally),
        );
    },
  },
  {
    name: 'streaming-iterables parallelMap',
    role: 'peer',
    load: async () => {
      const { parallelMap } = await import('streaming-iterables');
      return async (n, tally) => {
        for await (const y of parallelMap(CONCURRENCY, fetchOne, range(n))) tally.add(y);
      };
    },
  },
  {
    name: 'paipa ordered: true',
    role: 'paipa',
    reference: true,
    load: async () => {
      const { paipa } = await import('../lib/paipa.mjs');
      return async (n, tally) => {
        const p = new paipa.Pipeline([[fetchOne, CONCURRENCY]], { ordered: true });
        p.putIterable(range(n));
        for await (const y of p) tally.add(y);
      };
    },
  },
];

export default {
  id: 's3',
  title: 'Ordered parallel I/O',
  what: 'Items through an async step waiting 0, 1 or 2 ms (fixed per item; 0 ms means no timer) at concurrency 16; outputs in input order',
  metric: 'time',
  cases: { full: [{ n: 20_000 }], quick: [{ n: 2_000 }] },
  warmup: { full: 1_000, quick: 200 },
  rounds: { full: 5, quick: 1 },
  expectAt: outputOf,
  expected: ({ n }) => expectedOf(n, outputOf),
  notes: [
    'paipa combinePipeline is not a contender here: it composes generator steps in one thread, with no concurrency.',
  ],
  contenders,
};
