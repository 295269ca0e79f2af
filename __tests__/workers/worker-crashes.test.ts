import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PaipaError, Pipeline, errorOrigin, workerStep } from '../../src';
import { range, watchdog } from '../support/helpers';
import { trackThreads } from '../support/threads';

const fixture = (name: string) => join(__dirname, 'fixtures', name);

let tracker: ReturnType<typeof trackThreads>;
let dir: string;
beforeEach(() => {
  tracker = trackThreads();
  dir = mkdtempSync(join(tmpdir(), 'paipa-crash-'));
});
afterEach(() => {
  tracker.stop();
  rmSync(dir, { recursive: true, force: true });
});

const crashing = (name: string, extra = {}) =>
  workerStep<number, number>(fixture('crash.mjs'), {
    export: name,
    setupOptions: { dir },
    ...extra,
  });

describe('a worker thread that dies', () => {
  test('is replaced, and its items succeed on retry', async () => {
    const out: number[] = [];
    const p = new Pipeline(
      [[crashing('crashOnce'), 2, { maxRetries: 1 }], (n: number) => void out.push(n)],
      { ordered: true },
    );
    p.putIterable(range(20));
    const { steps } = await watchdog(p.run(), 15_000, 'run');
    expect(out).toEqual(range(20).map((n) => n * 10));
    expect(steps[0].restarts).toBe(1);
    expect(steps[0].retried).toBeGreaterThanOrEqual(1);
    // Two threads at the start, one replacement; all gone at the end.
    expect(tracker.threads).toHaveLength(3);
    expect(tracker.threads.filter((t) => t.exitCode === 7)).toHaveLength(1);
    expect(tracker.running()).toEqual([]);
  });

  test('fails the run with ERR_PAIPA_WORKER_EXITED naming step, thread and exit code once retries run out', async () => {
    const p = new Pipeline([[crashing('crashAlways'), 2, { maxRetries: 2 }]]);
    p.putIterable(range(20));
    const err = await watchdog(p.run(), 15_000, 'run').catch((e) => e);
    expect(err).toBeInstanceOf(PaipaError);
    expect(err.code).toBe('ERR_PAIPA_WORKER_EXITED');
    expect(err.message).toMatch(
      /^Worker step "crashAlways": thread [01] exited with code 3 while it held \d+ items?/,
    );
    expect(errorOrigin(err)).toEqual({ step: 'crashAlways', instance: expect.any(Number) });
    // Each attempt at item 5 killed a thread: the first try and two retries.
    expect(tracker.threads.filter((t) => t.exitCode === 3)).toHaveLength(3);
    expect(tracker.running()).toEqual([]);
  });

  test('sends the items it held to onItemError when retries run out, and the run goes on', async () => {
    const letters: { err: any; item: unknown }[] = [];
    const out: number[] = [];
    const p = new Pipeline(
      [[crashing('crashAlways', { batchSize: 1 }), 1], (n: number) => void out.push(n)],
      { onItemError: (err, item) => void letters.push({ err, item }) },
    );
    p.putIterable(range(10));
    const { steps } = await watchdog(p.run(), 15_000, 'run');
    expect(letters.map((l) => l.item)).toContain(5);
    expect(letters.every((l) => l.err.code === 'ERR_PAIPA_WORKER_EXITED')).toBe(true);
    expect(out.length + letters.length).toBe(10);
    expect(steps[0].restarts).toBeGreaterThanOrEqual(1);
    expect(tracker.running()).toEqual([]);
  });

  test('of an unhandled rejection after its call returned is replaced like a crash', async () => {
    const out: number[] = [];
    const p = new Pipeline(
      [
        // One item per batch, so the run is still going when the thread dies.
        [crashing('rejectLaterOnce', { batchSize: 1 }), 1, { maxRetries: 3 }],
        (n: number) => void out.push(n),
      ],
      { ordered: true },
    );
    p.putIterable(range(300));
    const { steps } = await watchdog(p.run(), 15_000, 'run');
    expect(out).toEqual(range(300).map((n) => n * 10));
    expect(steps[0].restarts).toBe(1);
  });

  test('of running out of memory under resourceLimits fails the run with the cause', async () => {
    const p = new Pipeline([
      [crashing('exhaustMemory', { resourceLimits: { maxOldGenerationSizeMb: 24 } }), 1],
    ]);
    p.putIterable(range(10));
    const err = await watchdog(p.run(), 20_000, 'run').catch((e) => e);
    expect(err.code).toBe('ERR_PAIPA_WORKER_EXITED');
    expect(err.cause?.code).toBe('ERR_WORKER_OUT_OF_MEMORY');
    expect(err.message).toMatch(/thread 0 exited with code \d+ while it held/);
    expect(tracker.running()).toEqual([]);
  }, 30_000);
});

test('a thread that dies in teardown() fails the run with ERR_PAIPA_WORKER_EXITED', async () => {
  const p = new Pipeline([[workerStep(fixture('exits-in-teardown.mjs')), 2]]);
  p.putIterable(range(10));
  const err = await watchdog(p.run(), 15_000, 'run').catch((e) => e);
  expect(err.code).toBe('ERR_PAIPA_WORKER_EXITED');
  expect(err.message).toMatch(/thread [01] exited with code 9 during teardown\(\)/);
  expect(tracker.running()).toEqual([]);
});
