import { AbortError, Pipeline } from '../../src';
import { delay, range, watchdog } from '../support/helpers';

/**
 * The most start times (sorted) in any window of `intervalMs`. The test reads the clock inside
 * the step, a few microseconds after the limiter did, so two starts the limiter spaced exactly
 * `intervalMs` apart can read a hair closer: callers pass the interval less 1 ms.
 */
function maxInAnyWindow(starts: number[], intervalMs: number): number {
  let max = 0;
  for (let i = 0, j = 0; j < starts.length; j++) {
    while (starts[j] - starts[i] >= intervalMs) i++;
    max = Math.max(max, j - i + 1);
  }
  return max;
}

describe('rateLimit', () => {
  test('50 calls a second, measured over 5 s, is within 5% of the limit and never above it', async () => {
    const starts: number[] = [];
    const p = new Pipeline([
      [
        (n: number) => {
          starts.push(performance.now());
          return n;
        },
        4,
        { rateLimit: { limit: 50, intervalMs: 1000 } },
      ],
    ]);
    p.putAll(range(300)); // more than 5 s can start: the input is plentiful
    const run = p.run();
    const t0 = performance.now();
    await delay(5000);
    const inFiveSeconds = starts.filter((t) => t - t0 < 5000).length;
    // 50 in the first instant, then 50 at each of t = 1, 2, 3, 4 s: 250 in [0, 5 s).
    expect(inFiveSeconds).toBeGreaterThanOrEqual(250 * 0.95);
    expect(inFiveSeconds).toBeLessThanOrEqual(250);
    expect(maxInAnyWindow(starts, 999)).toBeLessThanOrEqual(50);
    expect((await watchdog(run, 3000, 'run')).count).toBe(300);
  }, 15_000);

  test('retries count against the limit', async () => {
    const starts: number[] = [];
    const attempts = new Map<number, number>();
    const p = new Pipeline([
      [
        (n: number) => {
          starts.push(performance.now());
          const a = (attempts.get(n) ?? 0) + 1;
          attempts.set(n, a);
          if (a === 1) throw new Error('first attempt fails');
          return n;
        },
        2,
        { rateLimit: { limit: 5, intervalMs: 100 }, maxRetries: 1 },
      ],
    ]);
    p.putAll(range(10));
    const result = await watchdog(p.run(), 5000, 'run');
    expect(result.count).toBe(10);
    expect(starts).toHaveLength(20);
    expect(result.steps[0].retried).toBe(10);
    expect(maxInAnyWindow(starts, 99)).toBeLessThanOrEqual(5);
    // 20 starts at 5 per 100 ms take at least 300 ms from the first to the last
    expect(starts[19] - starts[0]).toBeGreaterThanOrEqual(295);
  });

  test('waiting for the window holds back the input', async () => {
    let pulled = 0;
    function* source() {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield i;
      }
    }
    const controller = new AbortController();
    const p = new Pipeline(
      [[(n: number) => n, 2, { rateLimit: { limit: 2, intervalMs: 60_000 } }]],
      {
        highWaterMark: 4,
        signal: controller.signal,
      },
    );
    p.putIterable(source());
    const run = p.run();
    await delay(50);
    expect(pulled).toBeLessThanOrEqual(p.maxItemsInside);
    controller.abort();
    await expect(run).rejects.toBeInstanceOf(AbortError);
  });

  test('an abort while items wait for the window ends the run at once, with no timer left', async () => {
    const controller = new AbortController();
    const step = jest.fn((n: number) => n);
    const p = new Pipeline([[step, 1, { rateLimit: { limit: 1, intervalMs: 10_000 } }]], {
      signal: controller.signal,
    });
    p.putAll(range(5));
    const run = p.run();
    await delay(20);
    const t = performance.now();
    controller.abort(new Error('enough'));
    const err = await watchdog(
      run.catch((e: unknown) => e),
      1000,
      'run',
    );
    expect(err).toBeInstanceOf(AbortError);
    expect(performance.now() - t).toBeLessThan(500);
    expect(step).toHaveBeenCalledTimes(1);
    // the global leak check (afterEach) fails this test if the 10 s window timer is still alive
  });
});
