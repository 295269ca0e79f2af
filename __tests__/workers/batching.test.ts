import { join } from 'node:path';
import { Pipeline, workerStep } from '../../src';
import { ThreadPool } from '../../src/workers/thread-pool';
import { range, watchdog } from '../support/helpers';

const fixture = join(__dirname, 'fixtures', 'square.mjs');

/** The sizes of the batches sent to the threads during `run`. */
async function batchSizes(run: () => Promise<unknown>): Promise<number[]> {
  const spy = jest.spyOn(ThreadPool.prototype, 'runBatch');
  try {
    await watchdog(run(), 20_000, 'run');
    return spy.mock.calls.map(([items]) => items.length);
  } finally {
    spy.mockRestore();
  }
}

async function runThrough(step: ReturnType<typeof workerStep>, threads: number, n: number) {
  const p = new Pipeline([[step, threads]]);
  p.putIterable(range(n));
  return p.run();
}

describe('batches sent to the threads', () => {
  test('cheap items travel by the hundred, capped at the default batchSize of 256', async () => {
    const sizes = await batchSizes(() => runThrough(workerStep(fixture), 2, 20_000));
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(20_000);
    expect(Math.max(...sizes)).toBe(256);
    // A few small batches at the start (before the first measurement) and at the end.
    expect(sizes.length).toBeLessThan(20_000 / 50);
  });

  test('batchSize caps every batch', async () => {
    const sizes = await batchSizes(() =>
      runThrough(workerStep(fixture, { batchSize: 8 }), 2, 1000),
    );
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(Math.max(...sizes)).toBe(8);
  });

  test('slow items travel one at a time, so the threads share them evenly', async () => {
    // 20 ms per item: a batch of about 4 ms of work is one item.
    const sizes = await batchSizes(() =>
      runThrough(workerStep(fixture, { export: 'spin' }), 2, 20),
    );
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(20);
    expect(sizes.every((s) => s === 1)).toBe(true);
  });
});
