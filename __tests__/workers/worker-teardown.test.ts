import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pipeline, workerStep } from '../../src';
import { range, watchdog } from '../support/helpers';
import { trackThreads } from '../support/threads';

const fixture = (name: string) => join(__dirname, 'fixtures', name);

let tracker: ReturnType<typeof trackThreads>;
let dir: string;
let log: string;
beforeEach(() => {
  tracker = trackThreads();
  dir = mkdtempSync(join(tmpdir(), 'paipa-teardown-'));
  log = join(dir, 'log');
});
afterEach(() => {
  tracker.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** 20 ms of work per item in the threads, 50 items per batch: a second per batch. */
const spin = () =>
  workerStep<number, number>(fixture('square.mjs'), {
    export: 'spin',
    batchSize: 50,
    setupOptions: { log },
  });
const logged = (what: string) =>
  readFileSync(log, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith(what)).length;

class Boom extends Error {}

describe('worker step teardown', () => {
  test('a failure elsewhere ends every thread before the run settles, without waiting for in-flight work', async () => {
    const p = new Pipeline([
      [spin(), 2],
      (n: number) => {
        if (n === 3) throw new Boom('later step failed');
        return n;
      },
    ]);
    p.putIterable(range(1000));
    const startedAt = Date.now();
    const err = await watchdog(p.run(), 10_000, 'run').catch((e) => e);
    expect(err).toBeInstanceOf(Boom);
    expect(tracker.threads).toHaveLength(2);
    expect(tracker.running()).toEqual([]);
    // Batches of a second each were in flight: they were abandoned, not waited for.
    expect(Date.now() - startedAt).toBeLessThan(3000);
    expect(logged('setup')).toBe(2);
    expect(logged('teardown')).toBe(0);
  });

  test('an abort through options.signal ends every thread before the run settles', async () => {
    const controller = new AbortController();
    const p = new Pipeline([[spin(), 2]], { signal: controller.signal });
    p.putIterable(range(1000));
    const run = p.run();
    setTimeout(() => controller.abort(new Error('enough')), 200);
    const err = await watchdog(run, 10_000, 'run').catch((e) => e);
    expect(err.name).toBe('AbortError');
    expect(tracker.running()).toEqual([]);
  });

  test('breaking out of for await ends every thread', async () => {
    const p = new Pipeline([[workerStep<number, number>(fixture('square.mjs')), 2]]);
    p.putIterable(range(100_000));
    let seen = 0;
    await watchdog(
      (async () => {
        for await (const _ of p) {
          if (++seen === 10) break;
        }
      })(),
      10_000,
      'for await',
    );
    expect(seen).toBe(10);
    await watchdog(
      (async () => {
        while (tracker.running().length > 0) await new Promise((r) => setTimeout(r, 5));
      })(),
      5_000,
      'threads to exit after break',
    );
    expect(tracker.threads).toHaveLength(2);
  });

  test('stop() in continuous mode runs teardown in every thread and ends them', async () => {
    const p = new Pipeline([
      [workerStep<number, number>(fixture('square.mjs'), { setupOptions: { log } }), 2],
    ]);
    p.start();
    for (const n of range(50)) p.put(n);
    const result = await watchdog(p.stop(), 10_000, 'stop');
    expect(result.steps[0]).toMatchObject({ in: 50, out: 50 });
    expect(logged('teardown')).toBe(2);
    expect(tracker.running()).toEqual([]);
  });

  test('a run that ends normally lets the threads finish teardown before it settles', async () => {
    const p = new Pipeline([[spin(), 2]]);
    p.putIterable(range(4));
    await watchdog(p.run(), 10_000, 'run');
    expect(logged('setup')).toBe(2);
    expect(logged('teardown')).toBe(2);
    expect(tracker.threads.every((t) => t.exited)).toBe(true);
  });
});
