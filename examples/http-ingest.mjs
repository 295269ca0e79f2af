// HTTP ingestion with backpressure that reaches the clients (127.0.0.1 only).
//
//   POST /events  ->  await p.send(event)  ->  200 once the event is stored
//                 ->  503 + Retry-After when the pipeline has had no room for 50 ms
//
// `send()` resolves only once the event went through every step (see the README's "Delivery
// guarantees"), so a 200 means stored, and it keeps the pipeline within its memory bound:
// `put()` would accept every event, and its `false` also shows on bursts the pipeline absorbs.
// `ready()` is the overload signal: when it does not resolve within 50 ms, the server answers
// 503 with Retry-After and the client comes back later.
// SIGTERM: stop accepting connections, `await p.stop()` (drains what was accepted), exit 0.
//
// Usage: node examples/http-ingest.mjs            starts the server, drives a load against it
//                                                 with a client that honours 503s, then sends
//                                                 itself SIGTERM
//        node examples/http-ingest.mjs --serve    server only; prints "listening on <port>"

import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pipeline } from 'paipa';

const READY_WAIT_MS = 50;

/** Stands for a database write: 4 connections, 2-4 ms each. */
const stored = new Map();
const store = async (event) => {
  await sleep(2 + (event.id % 3));
  stored.set(event.id, (stored.get(event.id) ?? 0) + 1);
  return event;
};
const validate = (event) =>
  Number.isInteger(event?.id) && typeof event.type === 'string' ? event : undefined;

const p = new Pipeline([validate, [store, 4]], { highWaterMark: 8 });
p.start();
// A database that cannot open fails here, before the server listens.
await p.ready();

/** Resolves true when the pipeline has room within `ms`, false otherwise. */
async function roomWithin(ms) {
  let timer;
  const timeout = new Promise((resolve) => (timer = setTimeout(resolve, ms, false)));
  try {
    return await Promise.race([p.ready().then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const counts = { accepted: 0, refused: 0, invalid: 0 };

const server = http.createServer(async (req, res) => {
  if (req.method !== 'POST' || req.url !== '/events') {
    res.writeHead(404).end();
    return;
  }
  let body = '';
  for await (const chunk of req) body += chunk;
  let event;
  try {
    event = JSON.parse(body);
  } catch {
    counts.invalid++;
    res.writeHead(400).end();
    return;
  }
  if (!(await roomWithin(READY_WAIT_MS))) {
    counts.refused++;
    res.writeHead(503, { 'retry-after': '1' }).end();
    return;
  }
  try {
    await p.send(event);
    counts.accepted++;
    res.writeHead(200).end('stored\n');
  } catch (err) {
    res.writeHead(500).end(`${err.message}\n`);
  }
});

let stopping = false;
process.once('SIGTERM', async () => {
  stopping = true;
  server.close(); // no new connections; those in progress finish
  server.closeIdleConnections?.();
  const { count } = await p.stop();
  const twice = [...stored.values()].filter((n) => n > 1).length;
  console.log(`accepted: ${counts.accepted}`);
  console.log(`refused:  ${counts.refused}`);
  console.log(`stored:   ${stored.size}`);
  console.log(`twice:    ${twice}`);
  console.log(`passed:   ${count}`);
  process.exit(0);
});

await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address();
console.log(`listening on ${port}`);

if (!process.argv.includes('--serve')) {
  // The client: 64 connections posting 2,000 events; a 503 is retried after Retry-After
  // (scaled down to 20 ms per second here, so the demo stays short).
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const post = (event) =>
    new Promise((resolve, reject) => {
      const req = http.request(
        { port, host: '127.0.0.1', method: 'POST', path: '/events', agent },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(event));
    });
  let next = 0;
  let retries = 0;
  const worker = async () => {
    while (next < 2000 && !stopping) {
      const event = { id: next++, type: 'click' };
      for (;;) {
        const res = await post(event);
        if (res.statusCode !== 503) break;
        retries++;
        await sleep(Number(res.headers['retry-after']) * 20);
      }
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  agent.destroy();
  console.log(`retried:  ${retries}`);
  process.kill(process.pid, 'SIGTERM');
}
