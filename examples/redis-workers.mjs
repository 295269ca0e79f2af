// Many processes, one job: worker processes share a Redis stream through a consumer group, one
// of them is killed with SIGKILL mid-run, and still every order gets its output.
//
//   producer ──XADD──▶ orders ──▶ worker-1 ┐
//                         (group │ worker-2 ├─ redisStreamSource → bill → redisStreamSink ──▶ orders:billed
//                       billing) └ worker-3 ┘
//
// The killed worker's unacknowledged orders stay pending in the group; after claimIdleMs the
// other workers claim them (XAUTOCLAIM) and bill them. Delivery is at least once: an order the
// killed worker had billed but not yet acknowledged is billed again, and counted below as a
// duplicate. The example starts its own redis-server (on a free port, in a temporary directory)
// and stops it at the end.
//
// Usage: node examples/redis-workers.mjs [--orders 50000] [--workers 3]
//   (node examples/redis-workers.mjs --worker <url> <name> runs one worker: the example forks
//   itself that way.)
// Needs redis-server (Debian/Ubuntu: apt-get install redis-server); without it, it says so and
// exits with code 0.

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Pipeline } from 'paipa';
import { redisStreamSink, redisStreamSource } from 'paipa/redis';
import { createClient } from 'redis';
import { redisServerPath, startRedisServer } from '../scripts/redis-server.cjs';

const STREAM = 'orders';
const GROUP = 'billing';
const OUTPUT = 'orders:billed';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};

/** One worker process: bills orders until the stream has been idle for endWhenIdleMs. */
async function worker(url, name) {
  const source = redisStreamSource({
    url,
    stream: STREAM,
    group: GROUP,
    consumer: name,
    // A dead worker's orders are claimed once idle this long (a live one renews its own).
    claimIdleMs: 2_000,
    claimEveryMs: 500,
    // A batch job: end once nothing was read or claimed for this long. Longer than
    // claimIdleMs + claimEveryMs, so a killed worker's orders are claimed before the end.
    endWhenIdleMs: 4_000,
  });
  process.once('SIGTERM', () => source.close());

  /** The "work": an order's tax, after a pretend lookup (one turn of the event loop). */
  async function bill(entry) {
    await new Promise((resolve) => setImmediate(resolve));
    const amount = Number(entry.fields.amount);
    return { order: entry.fields.order, amount, tax: Math.round(amount * 0.2), by: name };
  }

  await new Pipeline([[bill, 16], redisStreamSink({ url, stream: OUTPUT, toFields: (b) => b })])
    .putIterable(source)
    .run();
  const { yielded, redelivered, claimed, acked } = source.stats;
  console.log(
    `${name}: billed ${yielded} (${claimed} claimed from others, ${redelivered} redelivered), acknowledged ${acked}`,
  );
}

/** Reads a whole stream in pages of 10,000 entries. */
async function* entriesOf(client, stream) {
  let start = '-';
  for (;;) {
    const page = await client.xRange(stream, start, '+', { COUNT: 10_000 });
    yield* page;
    if (page.length < 10_000) return;
    start = `(${page[page.length - 1].id}`;
  }
}

async function main() {
  const orders = Number(arg('orders', '50000'));
  const workers = Number(arg('workers', '3'));
  if (redisServerPath() === null) {
    console.log(
      'redis-server is not installed (apt-get install redis-server); this example needs it',
    );
    return;
  }
  const startedAt = performance.now();
  const server = await startRedisServer();
  const client = createClient({ url: server.url });
  client.on('error', () => {});
  const children = [];
  try {
    await client.connect();
    console.log(`redis-server on ${server.url}`);

    // The workers first: they create the group (from the stream's start) and wait for orders.
    const exits = [];
    for (let i = 1; i <= workers; i++) {
      const name = `worker-${i}`;
      const child = fork(fileURLToPath(import.meta.url), ['--worker', server.url, name]);
      children.push(child);
      exits.push(
        new Promise((resolve) =>
          child.once('exit', (code, signal) => resolve({ name, code, signal })),
        ),
      );
    }

    // Every worker in the group before the first order: a worker that joins late could find
    // the job done by the others before it read anything.
    for (const deadline = Date.now() + 30_000; ;) {
      const joined = await client.xInfoConsumers(STREAM, GROUP).then(
        (consumers) => consumers.length,
        () => 0, // the group does not exist yet
      );
      if (joined >= workers) break;
      if (Date.now() > deadline) throw new Error(`only ${joined} of ${workers} workers joined`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    // The producer: orders 0..N-1, added in pipelined batches of 1,000.
    for (let start = 0; start < orders; start += 1_000) {
      const batch = client.multi();
      for (let i = start; i < Math.min(orders, start + 1_000); i++) {
        batch.xAdd(STREAM, '*', { order: String(i), amount: String(100 + ((i * 7919) % 10_000)) });
      }
      await batch.exec();
    }
    console.log(`produced ${orders} orders`);

    // Kill worker-2 with SIGKILL once about 40% of the orders are billed, while it holds
    // some: no cleanup, no acks.
    const victim = Math.min(2, workers);
    for (;;) {
      const billed = await client.xLen(OUTPUT);
      const holding = await client.xPendingRange(STREAM, GROUP, '-', '+', 1, {
        consumer: `worker-${victim}`,
      });
      if (
        (billed >= orders * 0.4 && holding.length > 0) ||
        children[victim - 1].exitCode !== null
      ) {
        children[victim - 1].kill('SIGKILL');
        await exits[victim - 1];
        // What it held when it died, still pending in its name: the others claim it.
        const held = await client.xPendingRange(STREAM, GROUP, '-', '+', 100_000, {
          consumer: `worker-${victim}`,
        });
        console.log(
          `killed worker-${victim} (SIGKILL) at ${billed} billed, holding ${held.length} unacknowledged orders`,
        );
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const ended = await Promise.all(exits);
    for (const { name, code, signal } of ended) {
      if (signal !== 'SIGKILL' && code !== 0) throw new Error(`${name} failed (exit ${code})`);
    }

    // The count, from Redis itself.
    const seen = new Map();
    let outputs = 0;
    for await (const { message } of entriesOf(client, OUTPUT)) {
      outputs++;
      seen.set(message.order, (seen.get(message.order) ?? 0) + 1);
    }
    let missing = 0;
    for (let i = 0; i < orders; i++) if (!seen.has(String(i))) missing++;
    const { pending } = await client.xPending(STREAM, GROUP);
    console.log(`orders:          ${orders}`);
    console.log(`outputs:         ${outputs}`);
    console.log(`orders billed:   ${seen.size}`);
    console.log(`missing:         ${missing}`);
    console.log(
      `duplicates:      ${outputs - seen.size} (billed by the killed worker, not yet acknowledged)`,
    );
    console.log(`pending:         ${pending}`);
    console.log(`time:            ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
    if (missing > 0 || Number(pending) > 0) process.exitCode = 1;
  } finally {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await client.close().catch(() => {});
    await server.stop();
    console.log('redis-server stopped');
  }
}

if (process.argv[2] === '--worker') await worker(process.argv[3], process.argv[4]);
else await main();
