// Runs every example in examples/ as its own process, the way a reader would, and checks the
// figures it prints against figures computed here from the shipped data file.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runExample } from '../support/run-example';

const root = resolve(__dirname, '..', '..');
const dataPath = join(root, 'examples', 'data', 'orders.ndjson');

/** The number printed after `label` (e.g. "rows read:     2000"). */
function figure(stdout: string, label: RegExp): number {
  const match = new RegExp(`${label.source}\\s*(\\d+)`).exec(stdout);
  if (!match) throw new Error(`no ${label.source} figure in:\n${stdout}`);
  return Number(match[1]);
}

/** The data file, judged here independently of the examples' own code. */
function expectedFromData() {
  const lines = readFileSync(dataPath, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '');
  const parsed = lines.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
  const countries = ['CA', 'CH', 'DE', 'ES', 'FR', 'GB', 'IT', 'JP', 'NL', 'PL', 'SE', 'US'];
  const valid = parsed.filter(
    (o) =>
      Number.isInteger(o.id) &&
      (o.id as number) > 0 &&
      typeof o.customer === 'string' &&
      o.customer.length > 0 &&
      typeof o.sku === 'string' &&
      /^SKU-\d{4}$/.test(o.sku) &&
      Number.isInteger(o.quantity) &&
      (o.quantity as number) > 0 &&
      typeof o.unitPrice === 'number' &&
      o.unitPrice > 0 &&
      countries.includes(o.country as string),
  );
  return { lines: lines.length, parsed: parsed.length, validIds: valid.map((o) => o.id as number) };
}

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'index.js')) || !existsSync(join(root, 'dist', 'index.mjs'))) {
    execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore', timeout: 120_000 });
  }
}, 130_000);

test('the file ETL demo writes every valid order, in batches of 100, and reports the counts', async () => {
  const data = expectedFromData();
  const valid = data.validIds.length;
  const batches = Math.ceil(valid / 100);
  expect(data.lines).toBeGreaterThan(valid); // the data file does hold invalid rows

  const dir = mkdtempSync(join(tmpdir(), 'paipa-example-'));
  try {
    const output = join(dir, 'batches.ndjson');
    const { code, stdout, stderr } = await runExample('file-etl.mjs', [dataPath, output]);
    // the demo shows progress on stderr: plain lines when it is not a terminal, then a summary
    expect(stderr).not.toContain(String.fromCharCode(27));
    expect(stderr).toMatch(/done: \d+ items in .* validateOrder 2,000→1,976 .* WriteBatches 20→20/);
    expect(code).toBe(0);
    expect(figure(stdout, /rows read:/)).toBe(data.lines);
    expect(figure(stdout, /valid:/)).toBe(valid);
    expect(figure(stdout, /dropped/)).toBe(data.lines - valid);
    expect(figure(stdout, /rows written:/)).toBe(valid);
    expect(figure(stdout, /batches:/)).toBe(batches);
    expect(stdout).toMatch(/time:\s+\d+\.\d+ s/);

    const written = readFileSync(output, 'utf8')
      .trimEnd()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as { batch: number; orders: { id: number; totalUsd: unknown }[] },
      );
    expect(written).toHaveLength(batches);
    expect(written.map((b) => b.batch)).toEqual(Array.from({ length: batches }, (_, i) => i + 1));
    expect(written.slice(0, -1).every((b) => b.orders.length === 100)).toBe(true);
    const orders = written.flatMap((b) => b.orders);
    expect(orders.map((o) => o.id).sort((a, b) => a - b)).toEqual(data.validIds);
    expect(orders.every((o) => typeof o.totalUsd === 'number')).toBe(true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 40_000);

test('the HTTP example fetches with bounded concurrency, streams a body through p.stream() and exits', async () => {
  let totalScore = 0;
  for (let id = 1; id <= 100; id++) totalScore += (id * 37) % 101;

  const { code, stdout, stderr } = await runExample('http.mjs');
  expect(stderr).toBe('');
  expect(code).toBe(0);
  expect(figure(stdout, /GET \/lookup:/)).toBe(100);
  const peak = figure(stdout, /peak in flight/);
  expect(peak).toBeGreaterThan(1);
  expect(peak).toBeLessThanOrEqual(figure(stdout, /concurrency/));
  expect(figure(stdout, /total score/)).toBe(totalScore);
  expect(stdout).toMatch(/POST \/upper:\s+200 lines in, 200 lines out, in order/);
  expect(stdout).toMatch(/server closed/);
}, 40_000);

test('the drop-in example runs a gzip stream chain with p.stream() in the middle and verifies the output', async () => {
  const data = expectedFromData();

  const { code, stdout, stderr } = await runExample('drop-in.mjs');
  expect(stderr).toBe('');
  expect(code).toBe(0);
  expect(figure(stdout, /lines in:/)).toBe(data.lines);
  expect(figure(stdout, /not JSON:/)).toBe(data.lines - data.parsed);
  expect(figure(stdout, /records out:/)).toBe(data.parsed);
  expect(figure(stdout, /verified:/)).toBe(data.parsed);
}, 40_000);

test('the continuous-mode example feeds a started pipeline in bursts and stop() drains every job', async () => {
  const { code, stdout, stderr } = await runExample('continuous.mjs');
  expect(stderr).toBe('');
  expect(code).toBe(0);
  expect(figure(stdout, /jobs produced:/)).toBe(200);
  expect(figure(stdout, /jobs rendered:/)).toBe(200);
  expect(figure(stdout, /jobs published:/)).toBe(200);
  expect(stdout).toMatch(/alive while fed:\s+true/);
  expect(stdout).toMatch(/alive after stop:\s+false/);
});

test('the generator example reports per-step counts and finds the slow step', async () => {
  const { code, stdout, stderr } = await runExample('generator-debugger.mjs');
  expect(code).toBe(0);
  expect(stderr).toMatch(/paipa generator pipeline: final report/);
  expect(stdout).toMatch(/numbers\s+20000 items/);
  expect(stdout).toMatch(/onlyEven\s+10000 items/);
  expect(stdout).toMatch(/chunk\(100\)\s+100 items/);
  expect(stdout).toMatch(/slowest step:\s+checksum/);
});

test('the metrics example serves OpenTelemetry figures at /metrics that match p.stats()', async () => {
  const { code, stdout, stderr } = await runExample('metrics.mjs', [], { PORT: '0' });
  expect(stderr).toBe('');
  expect(code).toBe(0);
  expect(stdout).toMatch(/metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/);
  expect(figure(stdout, /events stored:/)).toBe(150);
  expect(figure(stdout, /parse received:/)).toBe(150);
  expect(stdout).toMatch(/metrics match stats: yes/);
});

test("the CPU-bound example scores every record on worker threads with the main thread's results", async () => {
  // A small input: the example's figures are its point, the test checks its results.
  const { code, stdout, stderr } = await runExample('cpu-bound.mjs', ['2000']);
  expect(stderr).toBe('');
  expect(code).toBe(0);
  expect(figure(stdout, /records:/)).toBe(2000);
  expect(figure(stdout, /users:/)).toBe(50);
  expect(figure(stdout, /scored in threads:/)).toBe(2000);
  expect(figure(stdout, /thread restarts:/)).toBe(0);
  expect(stdout).toMatch(/speedup:\s+\d+\.\d\dx on \d+ cores/);
  expect(stdout).toMatch(/same results:\s+yes/);
});
