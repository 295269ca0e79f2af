import { MemoryReporter, Pipeline, SkipEntry, type StepStats } from '../../src';
import { RecentRate } from '../../src/observe/recent-rate';
import { deferred, delay, range, watchdog } from '../support/helpers';

/** Every item that entered a one-to-one step is accounted for exactly once. */
function balances(s: StepStats): boolean {
  return s.in === s.out + s.stored + s.skipped + s.failed + s.abandoned + s.busy;
}

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('a sink step', () => {
  test('items a last step returns nothing for are counted as stored, and in count', async () => {
    const saved: number[] = [];
    const store = (n: number) => {
      saved.push(n);
    };
    const p = new Pipeline([(n: number) => n * 2, store]);
    p.putAll(range(20));
    const result = await p.run();
    expect(saved).toHaveLength(20);
    expect(result.count).toBe(20);
    expect(result.steps[1]).toMatchObject({ in: 20, out: 0, stored: 20, skipped: 0 });
    expect(result.steps[1].throughput).toBeGreaterThan(0);
    expect(result.steps[0]).toMatchObject({ in: 20, out: 20, stored: 0 });
  });

  test('SkipEntry thrown in the last step is still a skip, left out of count', async () => {
    const p = new Pipeline([
      (n: number) => {
        if (n % 2) throw new SkipEntry();
      },
    ]);
    p.putAll(range(10));
    const result = await p.run();
    expect(result.count).toBe(5);
    expect(result.steps[0]).toMatchObject({ in: 10, stored: 5, skipped: 5 });
  });

  test('an earlier step that returns nothing skips the item', async () => {
    const p = new Pipeline([(n: number) => (n < 3 ? n : undefined), (n: number) => n]);
    p.putAll(range(10));
    const result = await p.run();
    expect(result.count).toBe(3);
    expect(result.steps[0]).toMatchObject({ in: 10, out: 3, skipped: 7, stored: 0 });
  });
});

describe('figures balance whatever the outcome', () => {
  test('a failed run counts the item that failed it', async () => {
    const boom = new Error('boom');
    const p = new Pipeline([
      (n: number) => {
        if (n === 50) throw boom;
        return n;
      },
    ]);
    p.putAll(range(100));
    await expect(p.run()).rejects.toBe(boom);
    const [step] = p.stats();
    expect(step.failed).toBe(1);
    expect(step.in).toBe(51);
    expect(balances(step)).toBe(true);
  });

  test('an aborted run counts the items still inside as abandoned', async () => {
    const controller = new AbortController();
    const started = deferred();
    const never = deferred();
    let calls = 0;
    const p = new Pipeline(
      [
        [
          async (n: number) => {
            if (++calls === 4) started.resolve();
            await never.promise;
            return n;
          },
          4,
        ],
        (n: number) => n,
      ],
      { signal: controller.signal },
    );
    p.putAll(range(20));
    const run = p.run();
    await watchdog(started.promise, 2000, 'four calls started');
    controller.abort();
    await expect(watchdog(run, 2000, 'aborted run')).rejects.toMatchObject({ name: 'AbortError' });
    const [first, second] = p.stats();
    expect(first).toMatchObject({ in: 4, abandoned: 4, busy: 0 });
    expect(balances(first)).toBe(true);
    expect(balances(second)).toBe(true);
  });

  test('items waiting behind keyBy when the run is torn down count as abandoned', async () => {
    const controller = new AbortController();
    const started = deferred();
    const never = deferred();
    const p = new Pipeline(
      [
        [
          async (n: number) => {
            started.resolve();
            await never.promise;
            return n;
          },
          2,
          { keyBy: () => 'one key' },
        ],
      ],
      { signal: controller.signal },
    );
    p.putAll(range(6));
    const run = p.run();
    await watchdog(started.promise, 2000, 'first call');
    await delay(10);
    controller.abort();
    await expect(watchdog(run, 2000, 'aborted run')).rejects.toMatchObject({ name: 'AbortError' });
    const [step] = p.stats();
    expect(step.in).toBeGreaterThan(1);
    expect(step.abandoned).toBe(step.in);
    expect(balances(step)).toBe(true);
  });

  test('a loop broken off early leaves every step balanced', async () => {
    const p = new Pipeline([[async (n: number) => (await delay(1), n), 3], (n: number) => n + 1]);
    p.putAll(range(100));
    let seen = 0;
    for await (const n of p) {
      void n;
      if (++seen === 10) break;
    }
    const steps = p.stats();
    expect(steps[0].in).toBeGreaterThanOrEqual(10);
    for (const step of steps) expect(balances(step)).toBe(true);
  });
});

describe('busyMs', () => {
  test('equals the time measured inside a sync step, within 5%, past the exact-timing phase', async () => {
    let measured = 0;
    const costs = range(3000).map((i) => 0.02 + ((i * 7919) % 97) / 400); // 0.02..0.26 ms
    const step = (i: number) => {
      const t0 = performance.now();
      spin(costs[i]);
      measured += performance.now() - t0;
      return i;
    };
    const p = new Pipeline([step]);
    p.putAll(range(3000));
    const { steps } = await p.run();
    expect(Math.abs(steps[0].busyMs - measured) / measured).toBeLessThan(0.05);
  });

  test('equals the time measured inside an async step with several instances, within 5%', async () => {
    let measured = 0;
    const step = async (i: number) => {
      const t0 = performance.now();
      await delay(1 + (i % 3));
      spin(0.2);
      measured += performance.now() - t0;
      return i;
    };
    const p = new Pipeline([[step, 4]]);
    p.putAll(range(200));
    const { steps } = await p.run();
    expect(Math.abs(steps[0].busyMs - measured) / measured).toBeLessThan(0.05);
  });
});

describe('the input queue', () => {
  test('counts items given and not yet taken by the first step, in stats and reports', async () => {
    const gate = deferred();
    const memory = new MemoryReporter();
    const p = new Pipeline([async (n: number) => (await gate.promise, n)], {
      highWaterMark: 4,
      reporters: [memory],
      reportEvery: 100_000,
    });
    p.start();
    for (const n of range(50)) p.put(n);
    await delay(20);
    const [first] = p.stats();
    expect(p.inputQueued).toBeGreaterThan(0);
    expect(p.inputQueued + first.queued + first.in).toBe(50);
    gate.resolve();
    const result = await watchdog(p.stop(), 2000, 'stop()');
    expect(result.inputQueued).toBe(0);
    expect(result.count).toBe(50);
    expect(memory.reports.at(-1)).toMatchObject({ final: true, inputQueued: 0 });
  });
});

describe('recentThroughput', () => {
  test('is the rate over about the last 10 s of readings, not since the start', () => {
    const rate = new RecentRate();
    // 1,000 items/s for 60 s, then 100 items/s: each read one second apart.
    let count = 0;
    let now = 0;
    for (let s = 1; s <= 60; s++) rate.read((now = s * 1000), (count += 1000), 1);
    let last = 0;
    for (let s = 61; s <= 80; s++) last = rate.read((now = s * 1000), (count += 100), 1);
    expect(now).toBe(80_000);
    expect(last).toBeCloseTo(100, 0);
  });

  test('falls back to the start while the run is younger than the window', () => {
    const rate = new RecentRate();
    expect(rate.read(1000, 0, 1000)).toBe(0);
    expect(rate.read(3000, 400, 1000)).toBe(200);
    expect(rate.read(5000, 800, 1000)).toBe(200);
  });

  test('is 0 before counting began', () => {
    expect(new RecentRate().read(5000, 10, 0)).toBe(0);
  });

  test('appears in stats next to the lifetime figure', async () => {
    const p = new Pipeline([(n: number) => n]);
    p.putAll(range(10));
    const { steps } = await p.run();
    expect(steps[0].recentThroughput).toBeGreaterThan(0);
    expect(steps[0].throughput).toBeGreaterThan(0);
  });
});
