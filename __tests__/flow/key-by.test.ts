import { Pipeline, errorOrigin } from '../../src';
import { deferred, delay, range, watchdog } from '../support/helpers';

/** A step that records, per key, when each item starts and ends, with a random short delay. */
function keyedRecorder(keys: number) {
  const running = new Map<number, number>();
  const order = new Map<number, number[]>();
  let overlaps = 0;
  let maxParallel = 0;
  let parallel = 0;
  const step = async (n: number) => {
    const key = n % keys;
    if (running.get(key)) overlaps++;
    running.set(key, 1);
    parallel++;
    maxParallel = Math.max(maxParallel, parallel);
    (order.get(key) ?? order.set(key, []).get(key)!).push(n);
    await delay(Math.random() < 0.5 ? 0 : 2);
    parallel--;
    running.set(key, 0);
    return n;
  };
  return { step, order, stats: () => ({ overlaps, maxParallel }) };
}

describe('keyBy', () => {
  test.each([3, 1000])(
    'with %i keys at concurrency 8, a key never runs twice at once and keeps input order',
    async (keys) => {
      const { step, order, stats } = keyedRecorder(keys);
      const p = new Pipeline([[step, 8, { keyBy: (n: number) => n % keys }]]);
      const n = keys === 3 ? 600 : 2000;
      p.putAll(range(n));
      const result = await watchdog(p.run(), 20_000, 'run');
      expect(result.count).toBe(n);
      expect(stats().overlaps).toBe(0);
      for (const [key, items] of order) {
        expect(items).toEqual(range(items.length).map((i) => key + i * keys));
      }
      expect(stats().maxParallel).toBeLessThanOrEqual(8);
      expect(stats().maxParallel).toBeGreaterThan(1);
    },
  );

  test('a held hot key does not stall the other keys', async () => {
    const gate = deferred();
    const done: number[] = [];
    const p = new Pipeline([
      [
        async (n: number) => {
          if (n % 20 === 0) await gate.promise; // the hot key: every 20th item
          done.push(n);
          return n;
        },
        4,
        { keyBy: (n: number) => (n % 20 === 0 ? 'hot' : n % 7), highWaterMark: 16 },
      ],
    ]);
    p.putAll(range(100)); // 5 hot items: they fit in the 16 waiting places
    const run = p.run();
    const others = range(100).filter((n) => n % 20 !== 0);
    await watchdog(
      (async () => {
        while (done.length < others.length) await delay(5);
      })(),
      5000,
      'the other keys',
    );
    expect(done.sort((a, b) => a - b)).toEqual(others);
    gate.resolve();
    const result = await watchdog(run, 5000, 'run');
    expect(result.count).toBe(100);
    expect(done.slice(others.length)).toEqual([0, 20, 40, 60, 80]);
  });

  test('when every waiting place holds a busy key, the step holds back its input', async () => {
    const gate = deferred();
    let pulled = 0;
    function* source() {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield i;
      }
    }
    const p = new Pipeline(
      [
        [
          async (n: number) => {
            await gate.promise;
            return n;
          },
          4,
          { keyBy: () => 'one key' },
        ],
      ],
      { highWaterMark: 4 },
    );
    p.putIterable(source());
    const run = p.run();
    await delay(50);
    expect(pulled).toBeLessThanOrEqual(p.maxItemsInside);
    expect(pulled).toBeLessThan(60);
    gate.resolve();
    expect((await watchdog(run, 10_000, 'run')).count).toBe(1000);
  });

  test('items inside never exceed maxItemsInside under a hot key', async () => {
    let pulled = 0;
    let emitted = 0;
    let maxInside = 0;
    function* source() {
      for (let i = 0; i < 3000; i++) {
        pulled++;
        maxInside = Math.max(maxInside, pulled - emitted);
        yield i;
      }
    }
    const p = new Pipeline([
      [
        async (n: number) => {
          await delay(n % 3 === 0 ? 1 : 0);
          return n;
        },
        8,
        { keyBy: (n: number) => (n % 3 === 0 ? 'hot' : n % 50) },
      ],
      (n: number) => {
        emitted++;
        return n;
      },
    ]);
    p.putIterable(source());
    const result = await watchdog(p.run(), 20_000, 'run');
    expect(result.count).toBe(3000);
    expect(maxInside).toBeLessThanOrEqual(p.maxItemsInside);
  });

  test('with ordered: true the outputs keep the global input order', async () => {
    const p = new Pipeline([
      [
        async (n: number) => {
          await delay((n * 7) % 3);
          return n;
        },
        6,
        { keyBy: (n: number) => n % 5, ordered: true },
      ],
    ]);
    p.putAll(range(300));
    const out: number[] = [];
    for await (const n of p) out.push(n);
    expect(out).toEqual(range(300));
  });

  test("a throwing keyBy fails the run with that error, marked with the step's name", async () => {
    const boom = new Error('no key');
    const step = jest.fn((n: number) => n);
    const p = new Pipeline([
      [
        step,
        2,
        {
          name: 'keyed',
          keyBy: (n: number) => {
            if (n === 3) throw boom;
            return n;
          },
        },
      ],
    ]);
    p.putAll(range(10));
    await expect(p.run()).rejects.toBe(boom);
    expect(errorOrigin(boom)).toEqual({ step: 'keyed', instance: -1 });
    expect(step).not.toHaveBeenCalledWith(3, expect.anything());
  });

  test('meta entries pass a keyed step in their place', async () => {
    const metas: unknown[] = [];
    const p = new Pipeline([[(n: number) => n, 3, { keyBy: (n: number) => n % 2 }]], {
      onMeta: (m) => void metas.push(m),
    });
    p.putAll([1, 2]);
    p.putMeta('checkpoint');
    p.putAll([3, 4]);
    const result = await p.run();
    expect(result.count).toBe(4);
    expect(metas).toEqual(['checkpoint']);
  });

  test('a keyed item that fails is retried before the next item of its key starts', async () => {
    const seen: string[] = [];
    let failed = false;
    const p = new Pipeline([
      [
        async (n: number) => {
          seen.push(`start ${n}`);
          await delay(1);
          if (n === 0 && !failed) {
            failed = true;
            throw new Error('once');
          }
          seen.push(`end ${n}`);
          return n;
        },
        4,
        { keyBy: () => 'k', maxRetries: 1 },
      ],
    ]);
    p.putAll([0, 1, 2]);
    expect((await p.run()).count).toBe(3);
    expect(seen).toEqual(['start 0', 'start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  });
});
