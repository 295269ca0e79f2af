// Resumable ETL into SQLite: killed at any moment, run again, every valid row is in the table
// exactly once.
//
//   NDJSON lines -> parse -> validate -> [enrich x 8] -> timedChunk(500 rows, 50 ms)
//                -> upsert the batch by id (better-sqlite3, one transaction per batch)
//
// onCheckpoint(seq) says "every line up to this one is done": its rows are in the table, or
// it was invalid and dropped. The checkpoint is saved in the same database, and a new run
// skips the lines up to it. Lines after the checkpoint may have been stored already (their
// acks came out of order); the upsert by id makes storing them again harmless.
//
// Usage: node examples/resumable-etl.mjs [--db file.sqlite] [--input file.ndjson] [--rows N]
//   Without --input, a file of --rows rows (default 200,000; about 1 in 40 invalid) is made
//   next to the database on the first run. Prints "checkpoint <line>" as it goes.

import { createReadStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Pipeline, timedChunk } from 'paipa';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const dbPath = arg('db', here('./out/etl.sqlite'));
const rows = Number(arg('rows', '200000'));
const inputPath = arg('input', join(dirname(dbPath), 'events.ndjson'));
mkdirSync(dirname(dbPath), { recursive: true });

/** Line i of the generated file: every 40th is broken JSON, every 37th has a negative amount. */
export function makeLine(i) {
  if (i % 40 === 39) return `{"id": ${i}, "amount": `;
  const amount = i % 37 === 36 ? -1 : (i * 7919) % 10_000;
  return JSON.stringify({ id: i, user: `u${i % 1000}`, amount, at: 1_700_000_000 + i });
}

if (!existsSync(inputPath)) {
  const lines = [];
  for (let i = 0; i < rows; i++) lines.push(makeLine(i));
  writeFileSync(inputPath, `${lines.join('\n')}\n`);
}

const db = new Database(dbPath);
db.pragma('journal_mode = WAL');
db.exec(`
  CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, user TEXT NOT NULL, amount INTEGER NOT NULL, at INTEGER NOT NULL,
    tier TEXT NOT NULL, writes INTEGER NOT NULL DEFAULT 1
  );
  CREATE TABLE IF NOT EXISTS checkpoint (job TEXT PRIMARY KEY, line INTEGER NOT NULL);
`);
const upsert = db.prepare(`
  INSERT INTO events (id, user, amount, at, tier) VALUES (@id, @user, @amount, @at, @tier)
  ON CONFLICT(id) DO UPDATE SET user = excluded.user, amount = excluded.amount,
    at = excluded.at, tier = excluded.tier, writes = writes + 1
`);
const insertBatch = db.transaction((batch) => {
  for (const row of batch) upsert.run(row);
});
const saveCheckpoint = db.prepare(
  `INSERT INTO checkpoint (job, line) VALUES ('events', ?)
   ON CONFLICT(job) DO UPDATE SET line = excluded.line`,
);
const saved = db.prepare(`SELECT line FROM checkpoint WHERE job = 'events'`).get();
// The pipeline's seq 0 is the first line after the checkpoint.
const offset = saved === undefined ? 0 : saved.line + 1;
if (offset > 0) console.log(`resuming after line ${saved.line}`);

/** The file's lines from `offset` on, read lazily. */
async function* linesFrom(path, skip) {
  let n = 0;
  for await (const line of createInterface({
    input: createReadStream(path),
    crlfDelay: Infinity,
  })) {
    if (n++ >= skip && line.trim() !== '') yield line;
  }
}

const parse = (line) => {
  try {
    return JSON.parse(line);
  } catch {
    return undefined; // a broken line is dropped (and acknowledged as done)
  }
};
const validate = (row) =>
  Number.isInteger(row.id) && typeof row.user === 'string' && row.amount >= 0 ? row : undefined;
/** Stands for a lookup in another service: async, one at a time per instance. */
const enrich = async (row) => {
  await new Promise((resolve) => setImmediate(resolve));
  return { ...row, tier: row.amount >= 5000 ? 'gold' : 'basic' };
};
const store = (batch) => {
  insertBatch(batch);
  return batch.length;
};

const p = new Pipeline(
  [parse, validate, [enrich, 8], timedChunk({ size: 500, timeout: 50 }), store],
  {
    checkpointEvery: 100,
    onCheckpoint: (seq) => {
      saveCheckpoint.run(offset + seq);
      console.log(`checkpoint ${offset + seq}`);
    },
  },
);
p.putIterable(linesFrom(inputPath, offset));
const { count } = await p.run();
const { stored } = db.prepare('SELECT count(*) AS stored FROM events').get();
console.log(`batches:  ${count}`);
console.log(`stored:   ${stored}`);
db.close();
