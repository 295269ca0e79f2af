// Scenario 6: CPU-bound steps. A pure-computation step (an integer hash mixed about 50 µs per
// item; and a cheap one of about 1 µs) as a function step on the main thread, and as a
// workerStep with 1 and 2 threads. The worker contenders' time includes starting and ending
// their threads; the start-up alone is reported beside it (time to the first output).
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { expectedOf, range } from '../lib/workload.mjs';
import { CHEAP_ROUNDS, HEAVY_ROUNDS, mixRounds } from '../workers/hash.mjs';

const HASH_MODULE = fileURLToPath(new URL('../workers/hash.mjs', import.meta.url));
const roundsOf = (testCase) => (testCase.work === 'heavy' ? HEAVY_ROUNDS : CHEAP_ROUNDS);

/** A pipeline of [hash step, sink step]; the sink step adds to the tally on the main thread. */
function contender(makeStep) {
  return async () => {
    const { paipa } = await import('../lib/paipa.mjs');
    return async (n, tally, testCase) => {
      const startedAt = performance.now();
      let firstOutputMs;
      const sink = (h) => {
        firstOutputMs ??= performance.now() - startedAt;
        tally.add(h);
      };
      const p = new paipa.Pipeline([makeStep(paipa, testCase), sink]);
      p.putIterable(range(n));
      await p.run();
      return { firstOutputMs };
    };
  };
}

const workerContender = (threads) =>
  contender((paipa, testCase) => [
    paipa.workerStep(HASH_MODULE, { export: testCase.work }),
    threads,
  ]);

/**
 * The floor: the input split in halves between 2 raw worker threads, no library, no
 * per-item messaging (results come back 1,000 at a time). What 2 threads can give on this
 * machine at this moment, whatever paipa does.
 */
function byHand(threads) {
  return async () => async (n, tally, testCase) => {
    const rounds = roundsOf(testCase);
    const share = Math.ceil(n / threads);
    const code = `
      const { parentPort, workerData: { from, to, rounds, module } } = require('node:worker_threads');
      import(module).then(({ mixRounds }) => {
        let chunk = [];
        for (let i = from; i < to; i++) {
          chunk.push(mixRounds(i, rounds));
          if (chunk.length === 1000) { parentPort.postMessage(chunk); chunk = []; }
        }
        parentPort.postMessage(chunk);
        parentPort.postMessage('done');
      });`;
    await Promise.all(
      Array.from({ length: threads }, (_, t) => {
        const from = t * share;
        const to = Math.min(n, from + share);
        const worker = new Worker(code, {
          eval: true,
          workerData: {
            from,
            to,
            rounds,
            module: new URL('../workers/hash.mjs', import.meta.url).href,
          },
        });
        return new Promise((resolve, reject) => {
          worker.on('message', (message) => {
            if (message === 'done') worker.terminate().then(resolve, reject);
            else for (const h of message) tally.add(h);
          });
          worker.once('error', reject);
        });
      }),
    );
  };
}

export const contenders = [
  { name: 'worker_threads by hand, 2 threads', role: 'limit', load: byHand(2) },
  {
    name: 'paipa function step (main thread)',
    role: 'paipa',
    reference: true,
    load: contender((_paipa, testCase) => {
      const rounds = roundsOf(testCase);
      return function hash(value) {
        return mixRounds(value, rounds);
      };
    }),
  },
  { name: 'paipa workerStep, 1 thread', role: 'paipa', load: workerContender(1) },
  { name: 'paipa workerStep, 2 threads', role: 'paipa', load: workerContender(2) },
];

export default {
  id: 's6',
  title: 'CPU-bound steps',
  what: 'Items through a pure-computation step (integer hash mixing) on the main thread or on worker threads, then a sink step on the main thread; any order',
  metric: 'cpu',
  cases: {
    full: [
      { n: 100_000, work: 'heavy', label: '100,000 items × ~50 µs' },
      { n: 200_000, work: 'cheap', label: '200,000 items × ~1 µs' },
    ],
    quick: [
      { n: 2_000, work: 'heavy', label: '2,000 items × ~50 µs' },
      { n: 5_000, work: 'cheap', label: '5,000 items × ~1 µs' },
    ],
  },
  warmup: { full: 2_000, quick: 200 },
  rounds: { full: 3, quick: 1 },
  expected: ({ n, work }) => {
    const rounds = work === 'heavy' ? HEAVY_ROUNDS : CHEAP_ROUNDS;
    return expectedOf(n, (i) => mixRounds(i, rounds));
  },
  notes: [
    'The per-item cost is fixed by the number of mixing rounds (calibrated once on the 2-core benchmark machine); the main-thread row shows what it came to in this run.',
    'First output: from run() to the first output reaching the sink; for the worker contenders that is the threads starting (module loaded, setup run) plus one item.',
    'worker_threads by hand: the input split in halves between 2 raw threads that send results back 1,000 at a time; no library, no per-item messaging. It shows what 2 threads could give on the machine during this run.',
  ],
  contenders,
};
