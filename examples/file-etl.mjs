// File ETL: the main paipa demo (`npm run demo`).
//
// Reads an NDJSON file of orders and writes them, validated and priced in USD, as batches of
// 100 to examples/out/. Each stage of the job is one step with its own parallelism:
//
//   file bytes -> splitLines (iterStep) -> validateOrder -> [priceInUsd x 8] -> batchesOf100
//              (iterStep) -> WriteBatches (Step subclass: opens the file before the first item
//              and closes it after the last, on success and on failure alike)
//
// The file is read lazily with putIterable(): at most a few buffers of it are in memory at
// any time, whatever its size. Invalid rows are dropped by returning undefined.
//
// Usage: node examples/file-etl.mjs [input.ndjson] [output.ndjson]

import { mkdir, open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pipeline, Step, iterStep } from 'paipa';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const inputPath = args[0] ?? here('./data/orders.ndjson');
const outputPath = args[1] ?? here('./out/orders-batches.ndjson');

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

const COUNTRIES = new Set(['CA', 'CH', 'DE', 'ES', 'FR', 'GB', 'IT', 'JP', 'NL', 'PL', 'SE', 'US']);
const dropped = new Map(); // reason -> count

/** One line in, an order out, or undefined (the row is dropped) with the reason tallied. */
function validateOrder(line) {
  let order;
  try {
    order = JSON.parse(line);
  } catch {
    return drop('malformed JSON');
  }
  if (!Number.isInteger(order.id) || order.id < 1) return drop('id');
  if (typeof order.customer !== 'string' || order.customer === '') return drop('customer');
  if (typeof order.sku !== 'string' || !/^SKU-\d{4}$/.test(order.sku)) return drop('sku');
  if (!Number.isInteger(order.quantity) || order.quantity < 1) return drop('quantity');
  if (typeof order.unitPrice !== 'number' || !(order.unitPrice > 0)) return drop('unit price');
  if (!COUNTRIES.has(order.country)) return drop('country');
  return order;
}

function drop(reason) {
  dropped.set(reason, (dropped.get(reason) ?? 0) + 1);
  return undefined;
}

/** A stand-in for a remote exchange-rate service: each lookup takes 1-4 ms. */
const rateService = {
  usdPer: {
    USD: 1,
    EUR: 1.08,
    GBP: 1.27,
    CAD: 0.73,
    JPY: 0.0064,
    CHF: 1.12,
    SEK: 0.095,
    PLN: 0.25,
  },
  async usdRate(currency, signal) {
    await sleep(1 + Math.random() * 3, undefined, { signal });
    const rate = this.usdPer[currency];
    if (rate === undefined) throw new Error(`no exchange rate for ${currency}`);
    return rate;
  },
};

/** Async enrichment: 8 instances wait on the service at once. */
async function priceInUsd(order, { signal }) {
  const rate = await rateService.usdRate(order.currency, signal);
  return { ...order, totalUsd: Math.round(order.quantity * order.unitPrice * rate * 100) / 100 };
}

async function* batchesOf100(orders) {
  let batch = [];
  for await (const order of orders) {
    batch.push(order);
    if (batch.length === 100) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

/** The sink: one output line per batch. The file is shared by the step's instances. */
class WriteBatches extends Step {
  async stepInitialize() {
    await mkdir(dirname(this.options.path), { recursive: true });
    this.shared.file = await open(this.options.path, 'w');
  }

  async process(batch) {
    const number = ++this.options.totals.batches;
    await this.shared.file.write(`${JSON.stringify({ batch: number, orders: batch })}\n`);
    this.options.totals.rows += batch.length;
  }

  async stepShutdown() {
    await this.shared.file?.close();
  }
}

const totals = { rows: 0, batches: 0 };
const pipeline = new Pipeline(
  [
    iterStep(splitLines),
    validateOrder,
    [priceInUsd, 8],
    iterStep(batchesOf100),
    [WriteBatches, 1, { path: outputPath, totals }],
  ],
  { progress: true, reportEvery: 250 },
); // live progress on stderr: a bar on a terminal, lines in a log

// `node examples/file-etl.mjs --diagram` prints the pipeline's structure (it is in the README).
if (process.argv.includes('--diagram')) {
  console.log(pipeline.toMermaid());
  process.exit(0);
}

const started = performance.now();
pipeline.putIterable(createReadStream(inputPath, { encoding: 'utf8' }));
const { steps } = await pipeline.run();
const seconds = (performance.now() - started) / 1000;

const [lines, valid] = steps;
const reasons = [...dropped].map(([reason, n]) => `${reason} ${n}`).join(', ');
console.log(`rows read:     ${lines.out}`);
console.log(`valid:         ${valid.out} (dropped ${valid.skipped}: ${reasons || 'none'})`);
console.log(`rows written:  ${totals.rows}`);
console.log(`batches:       ${totals.batches}`);
console.log(`time:          ${seconds.toFixed(2)} s`);
console.log(`output:        ${relative(process.cwd(), outputPath)}`);
