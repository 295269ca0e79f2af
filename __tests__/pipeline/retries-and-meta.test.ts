import { Pipeline, SkipEntry, Step, iterStep } from '../../src';
import { collect, delay, range, watchdog } from '../support/helpers';

describe('retries', () => {
  test('an item whose process throws is retried up to maxRetries more times', async () => {
    let calls = 0;
    const p = new Pipeline(
      [
        (n: number) => {
          calls++;
          if (calls < 3) throw new Error('flaky');
          return n;
        },
      ],
      { maxRetries: 2 },
    );
    p.put(7);
    const result = await p.run();
    expect(result.count).toBe(1);
    expect(calls).toBe(3);
    expect(result.steps[0].retried).toBe(2);
  });

  test('when retries run out the pipeline fails with the last error', async () => {
    const errors: Error[] = [];
    const p = new Pipeline(
      [
        () => {
          const err = new Error(`attempt ${errors.length}`);
          errors.push(err);
          throw err;
        },
      ],
      { maxRetries: 2 },
    );
    p.put(1);
    const err = await p.run().catch((e: unknown) => e);
    expect(errors).toHaveLength(3);
    expect(err).toBe(errors[2]);
  });

  test('retryDelay as a function of the attempt gives a backoff', async () => {
    const delays: number[] = [];
    const times: number[] = [];
    const p = new Pipeline(
      [
        (n: number) => {
          times.push(performance.now());
          if (times.length < 3) throw new Error('again');
          return n;
        },
      ],
      {
        maxRetries: 2,
        retryDelay: (attempt) => {
          delays.push(attempt);
          return attempt * 10;
        },
      },
    );
    p.put(1);
    await p.run();
    expect(delays).toEqual([1, 2]);
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(9);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(19);
  });

  test('per-step maxRetries overrides the pipeline default', async () => {
    let calls = 0;
    const p = new Pipeline(
      [
        [
          () => {
            calls++;
            throw new Error('always');
          },
          1,
          { maxRetries: 3 },
        ],
      ],
      { maxRetries: 0 },
    );
    p.put(1);
    await expect(p.run()).rejects.toThrow('always');
    expect(calls).toBe(4);
  });

  test('onItemError receives an item whose retries ran out and the pipeline goes on', async () => {
    const deadLetters: Array<[unknown, unknown, string]> = [];
    const p = new Pipeline(
      [
        function check(n: number) {
          if (n === 3) throw new Error(`bad ${n}`);
          return n;
        },
      ],
      { maxRetries: 1, onItemError: (err, item, step) => void deadLetters.push([err, item, step]) },
    );
    p.putAll(range(6));
    const result = await p.run();
    expect(result.count).toBe(5);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0][1]).toBe(3);
    expect(deadLetters[0][2]).toBe('check');
    expect(result.steps[0]).toMatchObject({ in: 6, out: 5, failed: 1, retried: 1 });
  });

  test('an async onItemError is awaited before the instance takes the next item', async () => {
    const order: string[] = [];
    const p = new Pipeline(
      [
        (n: number) => {
          order.push(`process ${n}`);
          if (n === 0) throw new Error('x');
          return n;
        },
      ],
      {
        onItemError: async () => {
          await delay(5);
          order.push('dead letter');
        },
      },
    );
    p.putAll([0, 1]);
    await p.run();
    expect(order).toEqual(['process 0', 'dead letter', 'process 1']);
  });

  test('an onItemError that throws fails the pipeline with its error', async () => {
    const handlerError = new Error('dead letter queue down');
    const p = new Pipeline(
      [
        () => {
          throw new Error('item error');
        },
      ],
      {
        onItemError: () => {
          throw handlerError;
        },
      },
    );
    p.put(1);
    await expect(p.run()).rejects.toBe(handlerError);
  });

  test('SkipEntry is never retried', async () => {
    let calls = 0;
    const p = new Pipeline(
      [
        () => {
          calls++;
          throw new SkipEntry();
        },
      ],
      { maxRetries: 5 },
    );
    p.put(1);
    expect((await p.run()).count).toBe(0);
    expect(calls).toBe(1);
  });

  test('a pending retry timer is cancelled by teardown', async () => {
    const boom = new Error('boom');
    const p = new Pipeline([
      [
        (n: number) => {
          if (n === 0) throw new Error('retry me much later');
          return n;
        },
        2,
        { maxRetries: 1, retryDelay: 10_000 },
      ],
      async () => {
        await delay(1);
        throw boom;
      },
    ]);
    p.putAll([0, 1]);
    await expect(watchdog(p.run(), 1000)).rejects.toBe(boom);
    // the leak check after this test fails if the 10 s retry timer is still pending
  });
});

describe('meta entries', () => {
  test('meta processing with 3 instances counts 3 items and 3 metas', async () => {
    const metas: unknown[] = [];
    class Checker extends Step<string, string> {
      process(entry: string) {
        if (typeof entry !== 'string') throw new TypeError('item expected');
        return entry;
      }
      processMeta(meta: unknown) {
        if (typeof meta !== 'number') throw new TypeError('meta expected');
        metas.push(meta);
        return meta;
      }
    }
    const onMeta = jest.fn();
    const p = new Pipeline([[Checker, 3]], { maxRetries: 0, onMeta });
    p.put('str');
    p.putMeta(123);
    p.putMeta(243);
    p.put('str');
    p.putMeta(325);
    p.put('str');
    p.finish();
    const result = await p.run();
    expect(result.count).toBe(3);
    expect(result.metaCount).toBe(3);
    expect(metas.sort()).toEqual([123, 243, 325]);
    expect(onMeta.mock.calls.map((c) => c[0]).sort()).toEqual([123, 243, 325]);
  });

  test('each meta entry is handled by exactly one instance of each step', async () => {
    const handled = jest.fn();
    class S extends Step {
      process(n: number) {
        return n;
      }
      processMeta(meta: unknown) {
        handled(this.index, meta);
        return undefined;
      }
    }
    const p = new Pipeline([
      [S, 4],
      [S, 2],
    ]);
    p.putMeta('flush');
    p.put(1);
    await p.run();
    expect(handled).toHaveBeenCalledTimes(2);
  });

  test('processMeta can replace the meta value, and SkipEntry drops it', async () => {
    class Rename extends Step {
      process(n: number) {
        return n;
      }
      processMeta(meta: unknown) {
        if (meta === 'drop') throw new SkipEntry();
        return `${String(meta)}!`;
      }
    }
    const onMeta = jest.fn();
    const p = new Pipeline([Rename], { onMeta });
    p.putMeta('a');
    p.putMeta('drop');
    const result = await p.run();
    expect(onMeta.mock.calls).toEqual([['a!']]);
    expect(result.metaCount).toBe(1);
  });

  test('meta entries pass function and iterator steps and never appear among the outputs', async () => {
    const onMeta = jest.fn();
    const p = new Pipeline(
      [
        (n: number) => n,
        iterStep(async function* (items: AsyncIterable<number>) {
          for await (const n of items) yield n;
        }),
      ],
      { onMeta },
    );
    p.put(1);
    p.putMeta({ marker: true });
    p.put(2);
    expect(await collect(p)).toEqual([1, 2]);
    expect(onMeta).toHaveBeenCalledWith({ marker: true });
  });

  test('in an ordered step a meta entry keeps its place among the items', async () => {
    const seen: unknown[] = [];
    const p = new Pipeline(
      [
        [async (n: number) => (await delay(10 - n), n), 4, { ordered: true }],
        (n: number) => (seen.push(n), n),
      ],
      { onMeta: (m) => void seen.push(m) },
    );
    p.putAll([1, 2]);
    p.putMeta('M');
    p.putAll([3, 4]);
    await p.run();
    expect(seen).toEqual([1, 2, 'M', 3, 4]);
  });

  test('an error thrown by processMeta fails the pipeline with it', async () => {
    const boom = new Error('meta failed');
    class S extends Step {
      process(n: number) {
        return n;
      }
      processMeta() {
        throw boom;
      }
    }
    const p = new Pipeline([S]);
    p.putMeta(1);
    await expect(p.run()).rejects.toBe(boom);
  });
});
