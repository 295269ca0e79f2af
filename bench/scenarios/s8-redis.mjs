// Scenario 8: Redis Streams. Entries of a stream read by a consumer group through paipa/redis
// (redisStreamSource → one step → acknowledged), against a real redis-server the scenario
// starts for itself (setup) and stops at the end (teardown). Two kinds of step: a cheap one
// (the read and acknowledgement are the work) and one of about 200 µs of CPU per entry, where
// a second consumer process should nearly double the rate. The stream is filled before the
// timed run (in load()), so the time is the consumers' alone: from the first read to the
// last acknowledgement.
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { expectedOf } from '../lib/workload.mjs';
import { mixRounds } from '../workers/hash.mjs';
import { GROUP, ROUNDS, SOURCE_OPTIONS, stepFor, streamName } from '../workers/redis-work.mjs';

const require = createRequire(import.meta.url);
const { redisServerPath, startRedisServer } = require('../../scripts/redis-server.cjs');
const CONSUMER = fileURLToPath(new URL('../workers/redis-consumer.mjs', import.meta.url));
const URL_VARIABLE = 'PAIPA_BENCH_REDIS_URL';

/** A client of the scenario's server for filling and checking streams (no per-command timer). */
async function adminClient() {
  const { createClient } = require('redis');
  const url = process.env[URL_VARIABLE];
  if (!url) throw new Error(`${URL_VARIABLE} is not set: S8 runs from bench/run.mjs`);
  const client = createClient({ url, commandOptions: { timeout: 0 } });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/**
 * Untimed: empties the server (one child at a time uses it), then fills one stream per run
 * of this child: the warm-up's, then the timed run's, entries `{ n: i }`.
 * @returns a function giving, run after run, the stream to read and the admin client
 */
async function fillStreams(sizes) {
  const admin = await adminClient();
  await admin.flushAll();
  for (const [run, size] of sizes.entries()) {
    for (let start = 0; start < size; start += 1_000) {
      const multi = admin.multi();
      for (let i = start; i < Math.min(size, start + 1_000); i++) {
        multi.xAdd(streamName(run), '*', { n: String(i) });
      }
      await multi.exec();
    }
  }
  let run = 0;
  return {
    admin,
    next: async (n) => {
      const stream = streamName(run++);
      const length = await admin.xLen(stream);
      if (length !== n) throw new Error(`${stream} holds ${length} entries, expected ${n}`);
      return stream;
    },
    // The last run of this child closes the client, so the child can exit by itself.
    last: () => run === sizes.length,
  };
}

/** After a run: what is still pending in the group (must be 0). */
async function afterRun(streams, stream, acked) {
  const { pending } = await streams.admin.xPending(stream, GROUP);
  if (streams.last()) await streams.admin.close();
  return { pending: Number(pending), acked };
}

const sizesOf = (testCase, warmup) => (warmup > 0 ? [warmup, testCase.n] : [testCase.n]);

/** One consumer in this process: redisStreamSource → step → tally; closed at the n-th output. */
function inProcess(coalesceAcks) {
  return async (testCase, { warmup }) => {
    const { paipa, loadPaipaRedis } = await import('../lib/paipa.mjs');
    const { redisStreamSource } = loadPaipaRedis();
    const streams = await fillStreams(sizesOf(testCase, warmup));
    return async (n, tally) => {
      const stream = await streams.next(n);
      const source = redisStreamSource({
        url: process.env[URL_VARIABLE],
        stream,
        group: GROUP,
        consumer: 'c1',
        coalesceAcks,
        ...SOURCE_OPTIONS,
      });
      const p = new paipa.Pipeline([
        stepFor(testCase.work),
        (h) => {
          tally.add(h);
          if (tally.count === n) void source.close();
        },
      ]);
      p.putIterable(source);
      await p.run();
      return afterRun(streams, stream, source.stats.acked);
    };
  };
}

/** Forks `count` consumer processes and resolves once each has loaded paipa and node-redis. */
async function startConsumers(count) {
  const children = Array.from({ length: count }, () =>
    fork(CONSUMER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  await Promise.all(
    children.map(
      (child, i) =>
        new Promise((resolve, reject) => {
          child.once('message', resolve);
          child.once('error', reject);
          child.once('exit', (code) => reject(new Error(`consumer c${i + 1} exited with ${code}`)));
        }),
    ),
  );
  for (const child of children) child.removeAllListeners();
  return children;
}

/**
 * `processes` consumer processes in one group (bench/workers/redis-consumer.mjs), started in
 * load() (untimed). Once they have done n entries between them, each is told to close its
 * source, and sends back its outputs. After the last run they are let go (disconnected), and
 * exit by themselves.
 */
function forked(processes) {
  return async (testCase, { warmup }) => {
    const streams = await fillStreams(sizesOf(testCase, warmup));
    const children = await startConsumers(processes);
    return async (n, tally) => {
      const stream = await streams.next(n);
      const done = new Array(processes).fill(0);
      let closing = false;
      const results = await Promise.all(
        children.map(
          (child, i) =>
            new Promise((resolve, reject) => {
              const onMessage = (message) => {
                if (message.done !== undefined) {
                  done[i] = message.done;
                  if (!closing && done.reduce((a, b) => a + b, 0) >= n) {
                    closing = true;
                    for (const c of children) c.send('close');
                  }
                  return;
                }
                child.off('message', onMessage);
                child.off('exit', onExit);
                if (message.error) reject(new Error(`consumer c${i + 1}: ${message.error}`));
                else resolve(message);
              };
              const onExit = (code, signal) =>
                reject(new Error(`consumer c${i + 1} exited with ${code ?? signal}`));
              child.on('message', onMessage);
              child.once('exit', onExit);
              child.send({
                run: {
                  url: process.env[URL_VARIABLE],
                  stream,
                  group: GROUP,
                  consumer: `c${i + 1}`,
                  work: testCase.work,
                },
              });
            }),
        ),
      );
      let acked = 0;
      for (const { outputs, stats } of results) {
        for (const h of outputs) tally.add(h);
        acked += stats.acked;
      }
      if (streams.last()) for (const child of children) child.disconnect();
      // How the entries were shared out between the processes, for the results file.
      const shares = results.map((r) => r.outputs.length);
      return { ...(await afterRun(streams, stream, acked)), shares };
    };
  };
}

/**
 * The floor: node-redis by hand, no library: XREADGROUP 100 entries, run the step on each,
 * XACK the batch without waiting for the reply before the next read.
 */
function byHand() {
  return async (testCase, { warmup }) => {
    const { createClient } = require('redis');
    const streams = await fillStreams(sizesOf(testCase, warmup));
    const step = stepFor(testCase.work);
    return async (n, tally) => {
      const stream = await streams.next(n);
      const client = createClient({ url: process.env[URL_VARIABLE] });
      await client.connect();
      const acks = [];
      try {
        await client.xGroupCreate(stream, GROUP, '0');
        while (tally.count < n) {
          const reply = await client.xReadGroup(
            GROUP,
            'c1',
            { key: stream, id: '>' },
            { COUNT: 100, BLOCK: 1000 },
          );
          const messages = reply?.[0]?.messages ?? [];
          for (const m of messages) tally.add(step({ fields: m.message }));
          if (messages.length > 0) {
            acks.push(
              client.xAck(
                stream,
                GROUP,
                messages.map((m) => m.id),
              ),
            );
          }
        }
        const acked = (await Promise.all(acks)).reduce((a, b) => a + b, 0);
        return await afterRun(streams, stream, acked);
      } finally {
        await client.close();
      }
    };
  };
}

export const contenders = [
  { name: 'node-redis by hand (XREADGROUP 100, XACK per read)', role: 'limit', load: byHand() },
  {
    name: 'paipa redisStreamSource, coalesced acks',
    role: 'paipa',
    reference: true,
    load: inProcess(true),
  },
  { name: 'paipa redisStreamSource, per-entry acks', role: 'paipa', load: inProcess(false) },
  { name: 'paipa, 1 consumer process (forked)', role: 'paipa', load: forked(1) },
  { name: 'paipa, 2 consumer processes (forked)', role: 'paipa', load: forked(2) },
];

/** Starts the scenario's redis-server, or says why the scenario is skipped. */
async function setup() {
  if (redisServerPath() === null) {
    return { skip: 'redis-server is not installed (apt-get install redis-server)' };
  }
  const server = await startRedisServer();
  return {
    env: { [URL_VARIABLE]: server.url },
    teardown: () => server.stop(),
  };
}

export default {
  id: 's8',
  title: 'Redis Streams',
  what: 'Entries of a Redis stream read by a consumer group (redisStreamSource), through one step, acknowledged (XACK); a cheap step, and one of about 200 µs of CPU per entry, with 1 or 2 consumer processes; against a local redis-server',
  metric: 'throughput',
  cases: {
    full: [
      { n: 100_000, work: 'cheap', label: '100,000 entries, cheap step' },
      { n: 20_000, work: 'cpu', label: '20,000 entries × ~200 µs CPU' },
    ],
    quick: [
      { n: 3_000, work: 'cheap', label: '3,000 entries, cheap step' },
      { n: 500, work: 'cpu', label: '500 entries × ~200 µs CPU' },
    ],
  },
  warmup: { full: 2_000, quick: 200 },
  rounds: { full: 3, quick: 1 },
  setup,
  expected: ({ n, work }) => expectedOf(n, (i) => mixRounds(i, ROUNDS[work])),
  /** Right outputs, and every entry acknowledged: nothing left pending in the group. */
  verify(result, testCase) {
    const { expected, n } = testCase;
    if (result.count !== expected.count) {
      return `wrong count: ${result.count} outputs, expected ${expected.count}`;
    }
    if (result.checksum !== expected.checksum) {
      return `wrong checksum: ${result.checksum}, expected ${expected.checksum}`;
    }
    if (result.figures?.pending !== 0) return `${result.figures?.pending} entries left pending`;
    if (result.figures?.acked !== n) return `${result.figures?.acked} entries acked, expected ${n}`;
    return null;
  },
  notes: [
    'Each run reads a stream filled before the timed part; the redis-server (no persistence) runs on the same machine and shares its cores with the consumers.',
    'The consumer processes of the forked contenders are started before the timed run (a worker fleet is long-lived); their time counts from the run being sent to them (each then connects, as the in-process contenders do) to the last acknowledgement.',
    'node-redis by hand: one XREADGROUP of 100 entries at a time, the step on each, one XACK per read sent without waiting for its reply; no bound on what is held, no claiming, no dead letters.',
  ],
  contenders,
};
