// HTTP: paipa on both sides of a small node:http server (127.0.0.1, port 0; no outside network).
//
// 1. Client side: a function step with concurrency 8 calls GET /lookup?id=N (which answers
//    after a short delay), and a `for await` loop aggregates the answers. At most 8 requests
//    are ever in flight: that is the step's concurrency, seen from the server.
// 2. Server side: POST /upper pipes its NDJSON request body through `p.stream()` inside
//    stream.pipeline(req, splitLines, p.stream(), toNdjson, res), so the pipeline's
//    backpressure reaches the socket: a slow pipeline slows the upload, not the memory.
//
// The example starts the server, runs both, prints what it saw, closes the server and exits.

import assert from 'node:assert/strict';
import http from 'node:http';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pipeline } from 'paipa';

const CONCURRENCY = 8;
const USERS = 100;

// --- the server ---------------------------------------------------------------------------

let inFlight = 0;
let peakInFlight = 0;

/** GET /lookup?id=N: a user record, after 10-18 ms. */
async function lookup(url, res) {
  const id = Number(url.searchParams.get('id'));
  if (!Number.isInteger(id) || id < 1) {
    res.writeHead(400).end();
    return;
  }
  peakInFlight = Math.max(peakInFlight, ++inFlight);
  try {
    await sleep(10 + (id % 5) * 2);
  } finally {
    inFlight--;
  }
  const user = { id, name: `user-${id}`, score: (id * 37) % 101 };
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(user));
}

/** Text chunks in, one string per non-empty line out (a line may span chunks). */
async function* splitLines(chunks) {
  let rest = '';
  for await (const chunk of chunks) {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop();
    for (const line of lines) if (line.trim() !== '') yield line;
  }
  if (rest.trim() !== '') yield rest;
}

async function* toNdjson(items) {
  for await (const item of items) yield `${JSON.stringify(item)}\n`;
}

/** POST /upper: NDJSON `{ text }` lines in, `{ text, upper }` lines out, in input order. */
async function upper(req, res) {
  // A pipeline runs once, so each request gets its own.
  const shout = new Pipeline(
    [
      [
        async (line) => {
          const { text } = JSON.parse(line);
          await sleep(1);
          return { text, upper: text.toUpperCase() };
        },
        4,
      ],
    ],
    { ordered: true },
  );
  req.setEncoding('utf8');
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  await pipeline(req, splitLines, shout.stream(), toNdjson, res);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  const handle =
    req.method === 'GET' && url.pathname === '/lookup'
      ? lookup(url, res)
      : req.method === 'POST' && url.pathname === '/upper'
        ? upper(req, res)
        : Promise.resolve(res.writeHead(404).end());
  // stream.pipeline has already destroyed the response on failure; the client sees it.
  handle.catch((err) => console.error(`server: ${req.method} ${url.pathname} failed:`, err));
});

await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${server.address().port}`;

try {
  // --- 1. fan out GET requests, aggregate with for await ----------------------------------

  async function fetchUser(id, { signal }) {
    const res = await fetch(`${base}/lookup?id=${id}`, { signal });
    if (!res.ok) throw new Error(`GET /lookup?id=${id}: HTTP ${res.status}`);
    return res.json();
  }

  const lookups = new Pipeline([[fetchUser, CONCURRENCY]]);
  lookups.putAll(Array.from({ length: USERS }, (_, i) => i + 1));

  const started = performance.now();
  let fetched = 0;
  let totalScore = 0;
  let best = null;
  for await (const user of lookups) {
    fetched++;
    totalScore += user.score;
    if (best === null || user.score > best.score) best = user;
  }
  const seconds = (performance.now() - started) / 1000;
  assert.equal(fetched, USERS);
  assert.ok(peakInFlight <= CONCURRENCY, `server saw ${peakInFlight} requests at once`);

  console.log(
    `GET /lookup:  ${fetched} users fetched in ${seconds.toFixed(2)} s, ` +
      `concurrency ${CONCURRENCY}, peak in flight ${peakInFlight}`,
  );
  console.log(`              total score ${totalScore}, top scorer ${best.name} (${best.score})`);

  // --- 2. stream a request body through p.stream() on the server --------------------------

  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];
  const sent = Array.from({ length: 200 }, (_, i) => ({ text: `${words[i % words.length]} ${i}` }));
  const res = await fetch(`${base}/upper`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: sent.map((item) => JSON.stringify(item)).join('\n'),
  });
  assert.equal(res.status, 200);
  const received = (await res.text())
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));
  assert.deepEqual(
    received,
    sent.map(({ text }) => ({ text, upper: text.toUpperCase() })),
  );

  const first = received[0];
  console.log(
    `POST /upper:  ${sent.length} lines in, ${received.length} lines out, in order ` +
      `("${first.text}" -> "${first.upper}")`,
  );
} finally {
  await new Promise((resolve) => server.close(resolve));
}
console.log('server closed');
