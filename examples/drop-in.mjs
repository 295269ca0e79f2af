// Drop-in: a paipa pipeline inserted into an existing stream.pipeline chain.
//
// The chain was: gzipped NDJSON file -> gunzip -> lines -> ... -> NDJSON -> gzip -> file.
// `p.stream()` is one Duplex (items in, outputs out), so it goes in the middle as it is:
// backpressure and errors travel through it like through any other stream.
//
// With `ordered: true` the concurrent steps still emit in input order, so the output file
// keeps the input's line order. The gzipped input is made at run time from the shipped data
// file, in a temporary directory that is removed at the end.

import assert from 'node:assert/strict';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { Pipeline } from 'paipa';

const dataPath = fileURLToPath(new URL('./data/orders.ndjson', import.meta.url));
const dir = await mkdtemp(join(tmpdir(), 'paipa-drop-in-'));
const inputPath = join(dir, 'orders.ndjson.gz');
const outputPath = join(dir, 'order-totals.ndjson.gz');

/** The chain's existing line splitter: bytes in, one line (a string) per object out. */
function lineSplitter() {
  const decoder = new StringDecoder('utf8'); // a character may straddle two chunks
  let rest = '';
  return new Transform({
    readableObjectMode: true,
    transform(chunk, _encoding, callback) {
      const lines = (rest + decoder.write(chunk)).split('\n');
      rest = lines.pop();
      for (const line of lines) if (line !== '') this.push(line);
      callback();
    },
    flush(callback) {
      rest += decoder.end();
      if (rest !== '') this.push(rest);
      callback();
    },
  });
}

function ndjsonSerializer() {
  return new Transform({
    writableObjectMode: true,
    transform(item, _encoding, callback) {
      callback(null, `${JSON.stringify(item)}\n`);
    },
  });
}

// The part that was added: parse (dropping lines that are not JSON), then an async step.
function parse(line) {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

async function orderTotal(order) {
  await sleep(Math.random()); // stands for some I/O
  return { id: order.id, total: order.quantity * order.unitPrice, currency: order.currency };
}

try {
  await pipeline(createReadStream(dataPath), zlib.createGzip(), createWriteStream(inputPath));

  const p = new Pipeline([parse, [orderTotal, 4]], { ordered: true });
  await pipeline(
    createReadStream(inputPath),
    zlib.createGunzip(),
    lineSplitter(),
    p.stream(),
    ndjsonSerializer(),
    zlib.createGzip(),
    createWriteStream(outputPath),
  );
  const [parsed] = p.stats();

  // Read the output back and check it: every record present, ids in input order.
  const records = [];
  for await (const line of createReadStream(outputPath)
    .pipe(zlib.createGunzip())
    .pipe(lineSplitter())) {
    records.push(JSON.parse(line));
  }
  assert.equal(records.length, parsed.out);
  assert.ok(
    records.every((r, i) => i === 0 || r.id > records[i - 1].id),
    'output is in input order',
  );

  const kb = async (path) => `${((await stat(path)).size / 1024).toFixed(1)} KB`;
  console.log(`lines in:      ${parsed.in} (${await kb(inputPath)} gzipped)`);
  console.log(`not JSON:      ${parsed.skipped} (dropped)`);
  console.log(`records out:   ${parsed.out} (${await kb(outputPath)} gzipped)`);
  console.log(`verified:      ${records.length} records read back, ids in input order`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
