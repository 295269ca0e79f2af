import {
  Readable as CoreReadable,
  Writable as CoreWritable,
  promises as streamPromises,
} from 'node:stream';
import { Pipeline, PaipaError, SkipEntry } from '../../src';
import { collect, delay, range, trackedSource } from '../support/helpers';

describe('batch mode: run()', () => {
  test('run() resolves once every item has passed every step, with counts per step', async () => {
    const odd = (n: number) => {
      if (n % 2) return n;
      throw new SkipEntry(); // in the last step, returning undefined would count as stored
    };
    const p = new Pipeline([[(n: number) => n + 1, 2], odd]);
    p.putAll(range(10));
    const result = await p.run();
    expect(result).toMatchObject({ ok: true, count: 5, metaCount: 0 });
    expect(result.steps.map((s) => [s.name, s.in, s.out])).toEqual([
      ['step0', 10, 10],
      ['odd', 10, 5],
    ]);
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
  });

  test('put, putAll and putIterable feed one batch in call order', async () => {
    const p = new Pipeline([(n: number) => n]);
    p.put(1);
    p.putAll([2, 3]);
    p.putIterable(
      (async function* () {
        yield 4;
        yield 5;
      })(),
    );
    expect(await collect(p)).toEqual([1, 2, 3, 4, 5]);
  });

  test('an empty batch runs and counts zero', async () => {
    const p = new Pipeline([(n: number) => n]);
    p.putAll([]);
    expect((await p.run()).count).toBe(0);
  });

  test('run() with no input at all is an error that explains what to do, not a hang', async () => {
    const p = new Pipeline([(n: number) => n]);
    await expect(p.run()).rejects.toMatchObject({
      code: 'ERR_PAIPA_NO_INPUT',
      message: expect.stringMatching(/put\(\), putAll\(\) or putIterable\(\)/),
    });
  });

  test('put() after run() began is an error pointing to continuous mode', async () => {
    const p = new Pipeline([(n: number) => n]);
    p.put(1);
    const run = p.run();
    expect(() => p.put(2)).toThrow(/start\(\), put\(\) and stop\(\)/);
    await run;
  });

  test('run() twice is an error', async () => {
    const p = new Pipeline([(n: number) => n]);
    p.put(1);
    await p.run();
    await expect(p.run()).rejects.toMatchObject({ code: 'ERR_PAIPA_STATE' });
  });

  test('put() after finish() is an error', () => {
    const p = new Pipeline([(n: number) => n]);
    p.put(1).valueOf();
    p.finish();
    expect(() => p.put(2)).toThrow(/already ended by finish\(\)/);
  });

  test('put() after putIterable() is an error: the iterable ends the input', () => {
    const p = new Pipeline([(n: number) => n]);
    p.putIterable([1]);
    expect(() => p.put(2)).toThrow(/already ended by putIterable\(\)/);
  });

  test('put() returns false once the input buffer reaches the high-water mark', () => {
    const p = new Pipeline([(n: number) => n], { highWaterMark: 2 });
    expect([p.put(1), p.put(2), p.put(3)]).toEqual([true, false, false]);
  });

  test('run() pulls a lazy source of 200,000 items to its end', async () => {
    const source = trackedSource(200_000);
    const p = new Pipeline([(n: number) => n + 1, (n: number) => n * 2]);
    p.putIterable(source.iterable);
    const result = await p.run();
    expect(result.count).toBe(200_000);
    expect(source.state.finished).toBe(true);
  });
});

describe('continuous mode: start() and stop()', () => {
  test('start() runs in the background while put() keeps feeding it, stop() drains and resolves', async () => {
    const seen: number[] = [];
    const p = new Pipeline([async (n: number) => (seen.push(n), n)]);
    p.start();
    expect(p.alive).toBe(true);
    p.put(1);
    await delay(5);
    expect(seen).toEqual([1]);
    p.put(2);
    p.put(3);
    const result = await p.stop();
    expect(result.count).toBe(3);
    expect(seen).toEqual([1, 2, 3]);
    expect(p.alive).toBe(false);
  });

  test('a failure in continuous mode makes alive false and stop() rejects with it', async () => {
    const boom = new Error('boom');
    const p = new Pipeline([
      (n: number) => {
        if (n === 2) throw boom;
        return n;
      },
    ]);
    p.start();
    p.put(1);
    p.put(2);
    await delay(10);
    expect(p.alive).toBe(false);
    expect(p.ok).toBe(false);
    await expect(p.stop()).rejects.toBe(boom);
  });

  test('start() twice is an error', () => {
    const p = new Pipeline([(n: number) => n]);
    p.start();
    expect(() => p.start()).toThrow(/already used with start\(\)/);
    return p.stop();
  });

  test('stop() without start() is an error', async () => {
    const p = new Pipeline([(n: number) => n]);
    await expect(p.stop()).rejects.toThrow(/call start\(\) first/);
  });

  test('await using stops a started pipeline at the end of the block', async () => {
    const seen: number[] = [];
    {
      await using p = new Pipeline([async (n: number) => (await delay(1), seen.push(n), n)]);
      p.start();
      p.putAll([1, 2, 3]);
    }
    expect(seen).toEqual([1, 2, 3]);
  });
});

describe('iteration and stream()', () => {
  test('for await iterates the outputs of the last step', async () => {
    const p = new Pipeline([(s: string) => s.toUpperCase()]);
    p.putAll(['a', 'b']);
    expect(await collect(p)).toEqual(['A', 'B']);
  });

  test('a slow for await body slows the pipeline down (backpressure)', async () => {
    const source = trackedSource(1000);
    const p = new Pipeline([(n: number) => n], { highWaterMark: 2 });
    p.putIterable(source.iterable);
    let taken = 0;
    let maxAhead = 0;
    for await (const _ of p) {
      taken++;
      maxAhead = Math.max(maxAhead, source.state.pulled - taken);
      if (taken % 100 === 0) await delay(1);
    }
    expect(taken).toBe(1000);
    expect(maxAhead).toBeLessThanOrEqual(p.maxItemsInside);
  });

  test('stream() works inside stream.pipeline with items in and outputs out', async () => {
    const p = new Pipeline([[async (n: number) => n * 2, 3], (n: number) => n + 1], {
      ordered: true,
    });
    const out: number[] = [];
    await streamPromises.pipeline(
      CoreReadable.from(range(50)),
      p.stream(),
      new CoreWritable({
        objectMode: true,
        write(n: number, _enc, cb) {
          out.push(n);
          cb();
        },
      }),
    );
    expect(out).toEqual(range(50).map((n) => n * 2 + 1));
  });

  test('stream() applies backpressure to its writer', async () => {
    const p = new Pipeline([(n: number) => n], { highWaterMark: 2 });
    const duplex = p.stream();
    let accepted = 0;
    while (duplex.write(accepted)) accepted++;
    // Nothing reads the outputs, so the writable side must refuse well before 100 items.
    expect(accepted).toBeLessThan(p.maxItemsInside);
    duplex.destroy();
    await delay(1);
  });

  test('put() in stream() mode is an error', () => {
    const p = new Pipeline([(n: number) => n]);
    const duplex = p.stream();
    expect(() => p.put(1)).toThrow(PaipaError);
    duplex.destroy();
  });

  test('stream() after put() is an error', () => {
    const p = new Pipeline([(n: number) => n]);
    p.put(1);
    expect(() => p.stream()).toThrow(/already used/);
  });

  test('meta entries never appear in stream() outputs and reach onMeta', async () => {
    const onMeta = jest.fn();
    const p = new Pipeline([(n: number) => n], { onMeta });
    const duplex = p.stream();
    const outputs: unknown[] = [];
    duplex.on('data', (x: unknown) => outputs.push(x));
    duplex.write(1);
    duplex.end(2);
    await new Promise((resolve) => duplex.on('end', resolve));
    expect(outputs).toEqual([1, 2]);
    expect(onMeta).not.toHaveBeenCalled();
  });
});
