import { PassThrough, Transform } from 'readable-stream';
import {
  Pipeline,
  SkipEntry,
  Step,
  funcStep,
  iterStep,
  streamStep,
  type StepContext,
} from '../../src';
import { collect, delay, range } from '../support/helpers';

describe('function steps', () => {
  test('a sync function step maps every item', async () => {
    const p = new Pipeline([(n: number) => n * 2]);
    p.putAll([1, 2, 3]);
    expect(await collect(p)).toEqual([2, 4, 6]);
  });

  test('an async function step maps every item', async () => {
    const p = new Pipeline([async (n: number) => (await delay(1), n + 1)]);
    p.putAll([1, 2, 3]);
    expect(await collect(p)).toEqual([2, 3, 4]);
  });

  test('returning undefined or null emits nothing and counts the item as skipped', async () => {
    const p = new Pipeline([
      (n: number) => (n % 3 === 0 ? undefined : n % 3 === 1 ? null : n),
      (n: number) => n,
    ]);
    p.putAll(range(9));
    const result = await p.run();
    expect(result.count).toBe(3);
    expect(result.steps[0]).toMatchObject({ in: 9, out: 3, skipped: 6 });
  });

  test('throwing SkipEntry (an instance or the class) emits nothing and is not a failure', async () => {
    const p = new Pipeline([
      (n: number) => {
        if (n === 1) throw new SkipEntry();
        if (n === 2) throw SkipEntry;
        return n;
      },
    ]);
    p.putAll([0, 1, 2, 3]);
    expect(await collect(p)).toEqual([0, 3]);
  });

  test('funcStep names the step and behaves like the bare function', async () => {
    const p = new Pipeline([funcStep((n: number) => n + 1, 'increment')]);
    p.putAll([1]);
    const result = await p.run();
    expect(result.steps[0].name).toBe('increment');
    expect(result.count).toBe(1);
  });

  test('a step is named after its function unless a name option is given', () => {
    function parse(x: string) {
      return x;
    }
    const p = new Pipeline([parse, [parse, 1, { name: 'again' }], (x: string) => x]);
    expect(p.stats().map((s) => s.name)).toEqual(['parse', 'again', 'step2']);
  });

  test('ctx carries the instance index, the step name and a signal', async () => {
    const seen: StepContext[] = [];
    const p = new Pipeline([
      [
        funcStep(async (n: number, ctx: StepContext) => {
          seen.push(ctx);
          await delay(5);
          return n;
        }, 'work'),
        3,
      ],
    ]);
    p.putAll(range(6));
    await p.run();
    expect(new Set(seen.map((c) => c.index))).toEqual(new Set([0, 1, 2]));
    expect(seen.every((c) => c.name === 'work' && c.signal.aborted === false)).toBe(true);
  });
});

describe('Step classes', () => {
  test('hooks run in order: stepInitialize once, initialize and start per instance, then shutdowns', async () => {
    const calls: string[] = [];
    class Store extends Step<number, number, { table: string }> {
      stepInitialize() {
        calls.push(`stepInitialize:${this.index}`);
      }
      initialize(options: { table: string }) {
        calls.push(`initialize:${this.index}:${options.table}`);
      }
      start() {
        calls.push(`start:${this.index}`);
      }
      process(n: number) {
        return n;
      }
      shutdown() {
        calls.push(`shutdown:${this.index}`);
      }
      stepShutdown() {
        calls.push(`stepShutdown:${this.index}`);
      }
    }
    const p = new Pipeline([[Store, 2, { table: 't' }]]);
    p.putAll(range(4));
    await p.run();
    expect(calls).toEqual([
      'stepInitialize:0',
      'initialize:0:t',
      'initialize:1:t',
      'start:0',
      'start:1',
      'shutdown:0',
      'shutdown:1',
      'stepShutdown:0',
    ]);
  });

  test('initialize receives the step options object as given, and this.options holds it', async () => {
    const options = { table: 'x', nested: { a: 1 } };
    const received: unknown[] = [];
    class S extends Step {
      initialize(o: unknown) {
        received.push(o, this.options);
      }
      process(n: number) {
        return n;
      }
    }
    const p = new Pipeline([[S, 1, options]]);
    p.put(1);
    await p.run();
    expect(received[0]).toBe(options);
    expect(received[1]).toBe(options);
  });

  test('instances share one this.shared object and have distinct indexes', async () => {
    const shareds = new Set<object>();
    const indexes = new Set<number>();
    class S extends Step {
      start() {
        shareds.add(this.shared);
        indexes.add(this.index);
      }
      process(n: number) {
        return n;
      }
    }
    const p = new Pipeline([[S, 4]]);
    p.put(1);
    await p.run();
    expect(shareds.size).toBe(1);
    expect([...indexes].sort()).toEqual([0, 1, 2, 3]);
  });

  test('async hooks are awaited before the first item is processed', async () => {
    let ready = false;
    class S extends Step {
      async stepInitialize() {
        await delay(10);
        this.shared.ready = true;
      }
      async start() {
        await delay(5);
        ready = this.shared.ready === true;
      }
      process(n: number) {
        if (!ready) throw new Error('processed before start finished');
        return n;
      }
    }
    const p = new Pipeline([S]);
    p.putAll([1, 2]);
    expect((await p.run()).count).toBe(2);
  });

  test('a Step class as the last step returning nothing is a sink', async () => {
    const stored: number[] = [];
    class Sink extends Step<number, void> {
      process(n: number) {
        stored.push(n);
      }
    }
    const p = new Pipeline([Sink]);
    p.putAll([1, 2, 3]);
    const result = await p.run();
    expect(stored).toEqual([1, 2, 3]);
    expect(result.count).toBe(3);
    expect(result.steps[0]).toMatchObject({ in: 3, out: 0, stored: 3, skipped: 0 });
  });
});

describe('iterator steps', () => {
  test('an iterator step can emit fewer outputs than inputs', async () => {
    const pairs = iterStep(async function* (items: AsyncIterable<number>) {
      let batch: number[] = [];
      for await (const n of items) {
        batch.push(n);
        if (batch.length === 2) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length) yield batch;
    });
    const p = new Pipeline([pairs]);
    p.putAll(range(5));
    expect(await collect(p)).toEqual([[0, 1], [2, 3], [4]]);
  });

  test('an iterator step can emit more outputs than inputs, from a sync generator', async () => {
    const p = new Pipeline([
      iterStep(async function* (items: AsyncIterable<number[]>) {
        for await (const list of items) yield* list;
      }),
    ]);
    p.putAll([[1, 2], [3], [4, 5, 6]]);
    expect(await collect(p)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test('parallel iterator instances each get a share of the items and nothing is lost', async () => {
    const seenBy = new Map<number, number>();
    const p = new Pipeline([
      [
        iterStep(async function* (items: AsyncIterable<number>, ctx: StepContext) {
          for await (const n of items) {
            seenBy.set(ctx.index, (seenBy.get(ctx.index) ?? 0) + 1);
            await delay(1);
            yield n;
          }
        }),
        3,
      ],
    ]);
    p.putAll(range(60));
    const out = await collect(p);
    expect(out.sort((a, b) => a - b)).toEqual(range(60));
    expect(seenBy.size).toBe(3);
  });
});

describe('stream steps', () => {
  test('a stream step runs a Duplex made by its factory', async () => {
    const made: number[] = [];
    const double = streamStep((ctx) => {
      made.push(ctx.index);
      return new Transform({
        objectMode: true,
        transform(n: number, _enc, cb) {
          cb(null, n * 2);
        },
      });
    });
    const p = new Pipeline([[double, 2]]);
    p.putAll(range(10));
    const out = await collect(p);
    expect(out.sort((a, b) => a - b)).toEqual(range(10).map((n) => n * 2));
    expect(made.sort()).toEqual([0, 1]);
  });

  test('a byte stream (zlib) drops into a pipeline', async () => {
    const zlib = await import('node:zlib');
    const text = 'hello '.repeat(1000);
    const p = new Pipeline([
      streamStep(() => zlib.createGzip()),
      streamStep(() => zlib.createGunzip()),
    ]);
    p.put(Buffer.from(text));
    const chunks = (await collect(p)) as Buffer[];
    expect(Buffer.concat(chunks).toString()).toBe(text);
  });

  test('a factory returning something that is not a stream fails the run with a TypeError naming the step', async () => {
    const p = new Pipeline([(n: number) => n, streamStep(() => ({}) as never, 'broken')]);
    p.put(1);
    await expect(p.run()).rejects.toThrow(/steps\[1\] \(broken\).*must return a Duplex stream/);
  });

  test('a node core PassThrough works as a stream step', async () => {
    const { PassThrough: CorePassThrough } = await import('node:stream');
    const p = new Pipeline([
      streamStep(() => new CorePassThrough({ objectMode: true })),
      (n: number) => n + 1,
    ]);
    p.putAll([1, 2]);
    expect(await collect(p)).toEqual([2, 3]);
  });

  test('a readable-stream PassThrough keeps object identity', async () => {
    const obj = { a: 1 };
    const p = new Pipeline([streamStep(() => new PassThrough({ objectMode: true }))]);
    p.put(obj);
    const [out] = await collect(p);
    expect(out).toBe(obj);
  });
});
