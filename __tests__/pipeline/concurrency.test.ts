import { Pipeline, Step } from '../../src';
import { collect, delay, InFlight, nextTurn, range, trackedSource } from '../support/helpers';

describe('concurrency', () => {
  test('a step never runs more calls at once than its concurrency', async () => {
    const gauge = new InFlight();
    const p = new Pipeline([
      [
        async (n: number) => {
          gauge.enter();
          await delay(n % 3);
          gauge.leave();
          return n;
        },
        4,
      ],
    ]);
    p.putAll(range(200));
    const result = await p.run();
    expect(result.count).toBe(200);
    expect(gauge.max).toBe(4);
  });

  test('concurrency n runs n calls at once when there is enough work', async () => {
    const gauge = new InFlight();
    const p = new Pipeline([
      (n: number) => n,
      [
        async (n: number) => {
          gauge.enter();
          await delay(2);
          gauge.leave();
          return n;
        },
        7,
      ],
    ]);
    p.putAll(range(100));
    await p.run();
    expect(gauge.max).toBe(7);
  });

  test('one slow instance does not stall the others: items go to whichever instance is idle', async () => {
    const byInstance = [0, 0, 0];
    class Counted extends Step<number, number> {
      async process(n: number) {
        byInstance[this.index]++;
        // instance 0 is 20x slower than the others
        await delay(this.index === 0 ? 40 : 2);
        return n;
      }
    }
    const p = new Pipeline([[Counted, 3]]);
    p.putAll(range(60));
    const result = await p.run();
    expect(result.count).toBe(60);
    // Blind round-robin would give each instance 20 items and take 20 x 40 ms.
    expect(byInstance[0]).toBeLessThan(10);
    expect(byInstance[1] + byInstance[2]).toBeGreaterThan(50);
  });

  test('unordered output is emitted as items complete', async () => {
    const p = new Pipeline([[async (n: number) => (await delay((3 - n) * 15), n), 3]]);
    p.putAll([0, 1, 2]);
    expect(await collect(p)).toEqual([2, 1, 0]);
  });

  test('ordered: true emits outputs in input order under reversed delays', async () => {
    const p = new Pipeline([[async (n: number) => (await delay((20 - n) % 7), n), 8]], {
      ordered: true,
    });
    p.putAll(range(20));
    expect(await collect(p)).toEqual(range(20));
  });

  test('ordered as a step option applies to that step only', async () => {
    const p = new Pipeline([
      [async (n: number) => (await delay(n % 2 ? 1 : 12), n), 4, { ordered: true }],
    ]);
    p.putAll(range(12));
    expect(await collect(p)).toEqual(range(12));
  });

  test('ordered output keeps the order when items are skipped', async () => {
    const p = new Pipeline(
      [[async (n: number) => (await delay((10 - n) % 4), n % 3 === 0 ? undefined : n), 5]],
      { ordered: true },
    );
    p.putAll(range(10));
    expect(await collect(p)).toEqual([1, 2, 4, 5, 7, 8]);
  });
});

describe('rate limiting', () => {
  test('items inside the pipeline never exceed the documented bound', async () => {
    const highWaterMark = 4;
    const source = trackedSource(2000);
    let consumed = 0;
    let maxInside = 0;
    const p = new Pipeline(
      [
        [(n: number) => n + 1, 2],
        [async (n: number) => n * 2, 3],
        [
          async (n: number) => {
            maxInside = Math.max(maxInside, source.state.pulled - consumed);
            await nextTurn();
            consumed++;
            return n;
          },
          1,
        ],
      ],
      { highWaterMark },
    );
    p.putIterable(source.iterable);
    const result = await p.run();
    expect(result.count).toBe(2000);
    // 3H for source and consumer, 2h + 2n per step: 12 + (8+4) + (8+6) + (8+2) = 48
    expect(p.maxItemsInside).toBe(48);
    expect(maxInside).toBeGreaterThan(highWaterMark);
    expect(maxInside).toBeLessThanOrEqual(p.maxItemsInside);
  });

  test('a lazy source is pulled only as far as the pipeline has room', async () => {
    const source = trackedSource(3000);
    let processed = 0;
    let maxAhead = 0;
    const p = new Pipeline(
      [
        async () => {
          processed++;
          maxAhead = Math.max(maxAhead, source.state.pulled - processed);
          await nextTurn();
        },
      ],
      { highWaterMark: 2 },
    );
    p.putIterable(source.iterable);
    const result = await p.run();
    expect(result.steps[0].in).toBe(3000);
    expect(maxAhead).toBeLessThanOrEqual(p.maxItemsInside);
    expect(p.maxItemsInside).toBe(3 * 2 + 2 * 2 + 2 * 1);
  });
});

describe('consecutive concurrency-1 steps (one shared stage)', () => {
  test('two async concurrency-1 steps still overlap: the first takes the next item while the second works', async () => {
    let aBusy = false;
    let overlapped = 0;
    const p = new Pipeline([
      async (n: number) => {
        aBusy = true;
        await delay(2);
        aBusy = false;
        return n;
      },
      async (n: number) => {
        await delay(1);
        if (aBusy) overlapped++;
        return n;
      },
    ]);
    p.putAll(range(20));
    expect((await p.run()).count).toBe(20);
    expect(overlapped).toBeGreaterThan(5);
  });

  test('each step keeps its own figures', async () => {
    const p = new Pipeline([
      (n: number) => n + 1,
      (n: number) => (n % 2 ? n : undefined),
      (n: number) => n * 10,
    ]);
    p.putAll(range(10));
    const result = await p.run();
    expect(result.steps.map((s) => [s.in, s.out, s.skipped])).toEqual([
      [10, 10, 0],
      [10, 5, 5],
      [5, 5, 0],
    ]);
  });

  test('an error in the middle step names that step', async () => {
    const boom = new Error('middle');
    const p = new Pipeline([
      function first(n: number) {
        return n;
      },
      function middle(n: number) {
        if (n === 3) throw boom;
        return n;
      },
      function last(n: number) {
        return n;
      },
    ]);
    p.putAll(range(5));
    await expect(p.run()).rejects.toBe(boom);
    expect((boom as Error & { paipa: unknown }).paipa).toEqual({ step: 'middle', instance: 0 });
  });

  test('a slow last step holds the earlier ones back within its buffer', async () => {
    let started = 0;
    let finished = 0;
    let maxGap = 0;
    const p = new Pipeline(
      [
        (n: number) => (started++, n),
        async (n: number) => {
          await nextTurn();
          finished++;
          maxGap = Math.max(maxGap, started - finished);
          return n;
        },
      ],
      { highWaterMark: 3 },
    );
    p.putAll(range(200));
    await p.run();
    // first step's output waits in a queue bounded by the second step's highWaterMark
    expect(maxGap).toBeLessThanOrEqual(3 + 1);
  });
});
