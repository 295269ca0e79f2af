import type { Duplex } from 'readable-stream';
import { MetaEntry } from '../../src/ingest/meta';
import { Pipeline } from '../../src/chain/typed-pipeline';
import { Step } from '../../src/steps/step';
import { timedChunk } from '../../src/steps/timed-chunk';
import type { StepContext } from '../../src/types';
import { collect, delay, range, watchdog } from '../support/helpers';

/** A sink that records chunks and meta values in the order it sees them. */
function recorder() {
  const events: unknown[] = [];
  class Record extends Step {
    process(chunk: unknown) {
      events.push(chunk);
      return chunk;
    }
    processMeta(meta: unknown) {
      events.push(`meta:${String(meta)}`);
      return meta;
    }
  }
  return { events, Record };
}

/** One instance of the step, outside any pipeline, for stream-level checks. */
function instance(size: number, timeout: number, maxWait?: number): Duplex {
  const ctx: StepContext = { signal: new AbortController().signal, index: 0, name: 'timedChunk' };
  const options = maxWait === undefined ? { size, timeout } : { size, timeout, maxWait };
  return timedChunk(options).factory(ctx) as unknown as Duplex;
}

function readAll(stream: Duplex): unknown[] {
  const out: unknown[] = [];
  let chunk: unknown;
  while ((chunk = stream.read()) !== null) out.push(chunk);
  return out;
}

describe('timedChunk in a pipeline', () => {
  test('a batch comes out in full chunks of `size`', async () => {
    const p = new Pipeline([[timedChunk({ size: 5, timeout: 500 }), 1]]);
    p.putAll(range(10));
    expect(await collect(p)).toEqual([
      [0, 1, 2, 3, 4],
      [5, 6, 7, 8, 9],
    ]);
  });

  test('the partial chunk left at the end of the input is flushed', async () => {
    const p = new Pipeline([[timedChunk({ size: 5, timeout: 10_000 }), 1]]);
    p.putAll(range(7));
    expect(await watchdog(collect(p))).toEqual([
      [0, 1, 2, 3, 4],
      [5, 6],
    ]);
  });

  test('the step is named timedChunk in stats', async () => {
    const p = new Pipeline([[timedChunk({ size: 2, timeout: 500 }), 1]]);
    p.putAll(range(4));
    const result = await p.run();
    expect(result.steps[0]).toMatchObject({ name: 'timedChunk', in: 4, out: 2 });
  });

  test('continuous mode: a partial chunk is flushed once the input has been idle for `timeout`', async () => {
    const { events, Record } = recorder();
    const p = new Pipeline([[timedChunk({ size: 5, timeout: 40 }), 1], Record]);
    p.start();
    p.put(1);
    await delay(120);
    expect(events).toEqual([[1]]);
    p.put(2);
    await delay(120);
    expect(events).toEqual([[1], [2]]);
    const result = await p.stop();
    expect(events).toEqual([[1], [2]]);
    expect(result.count).toBe(2);
  });

  test('each new item restarts the idle clock, so a steady trickle still fills one chunk', async () => {
    const { events, Record } = recorder();
    const p = new Pipeline([[timedChunk({ size: 10, timeout: 200 }), 1], Record]);
    p.start();
    for (const n of [1, 2, 3]) {
      p.put(n);
      await delay(40);
    }
    expect(events).toEqual([]);
    await p.stop();
    expect(events).toEqual([[1, 2, 3]]);
  });

  test('a meta entry flushes the partial chunk first and keeps its place', async () => {
    const { events, Record } = recorder();
    const onMeta = jest.fn();
    const p = new Pipeline([[timedChunk({ size: 5, timeout: 10_000 }), 1], Record], { onMeta });
    p.putAll([0, 1, 2]);
    p.putMeta('M');
    p.putAll([3, 4, 5, 6, 7]);
    p.putMeta('N');
    const result = await watchdog(p.run());
    expect(events).toEqual([[0, 1, 2], 'meta:M', [3, 4, 5, 6, 7], 'meta:N']);
    expect(onMeta.mock.calls).toEqual([['M'], ['N']]);
    expect(result).toMatchObject({ count: 2, metaCount: 2 });
  });

  test('an error downstream tears the step down and clears a pending timer', async () => {
    const boom = new Error('store failed');
    const seen: unknown[] = [];
    const p = new Pipeline([
      [timedChunk({ size: 2, timeout: 10_000 }), 1],
      async (chunk: number[]) => {
        seen.push(chunk);
        await delay(20);
        throw boom;
      },
    ]);
    p.start();
    p.putAll([0, 1, 2]);
    // [0, 1] reaches the failing step; [2] waits on a 10 s timer. The input stays open, so
    // only the teardown (not the end of the input) can clear that timer.
    await delay(80);
    expect(p.ok).toBe(false);
    await expect(watchdog(p.stop())).rejects.toBe(boom);
    expect(seen).toEqual([[0, 1]]);
    // the leak check (afterEach) fails the test if the 10 s timer is still alive
  });

  test('with concurrency 2 each instance keeps its own chunk', async () => {
    const p = new Pipeline([[timedChunk<number>({ size: 5, timeout: 500 }), 2]]);
    p.putAll(range(10));
    const chunks = (await collect(p)) as number[][];
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    for (const c of chunks) {
      expect(c.length).toBeGreaterThan(0);
      expect(c.length).toBeLessThanOrEqual(5);
      expect([...c].sort((a, b) => a - b)).toEqual(c); // each instance sees its items in order
    }
    expect(chunks.flat().sort((a, b) => a - b)).toEqual(range(10));
  });
});

describe('timedChunk with concurrency 2 and meta entries', () => {
  test('a meta entry flushes every instance before it is passed on, once', async () => {
    const { events, Record } = recorder();
    const onMeta = jest.fn();
    const p = new Pipeline([[timedChunk<number>({ size: 100, timeout: 10_000 }), 2], Record], {
      onMeta,
    });
    p.putAll(range(6));
    p.putMeta('M');
    p.putAll([6, 7]);
    const result = await watchdog(p.run());
    const at = events.indexOf('meta:M');
    expect(at).toBeGreaterThan(0);
    // every item put before the meta entry comes out before it, whichever instance held it
    expect((events.slice(0, at) as number[][]).flat().sort((a, b) => a - b)).toEqual(range(6));
    expect(onMeta).toHaveBeenCalledTimes(1);
    expect(result.metaCount).toBe(1);
  });
});

describe('timedChunk as a stream', () => {
  test('meta entries pass through unchanged, right after the flushed chunk', () => {
    const s = instance(3, 10_000);
    const meta = new MetaEntry({ tag: 1 });
    s.write(1);
    s.write(meta);
    s.write(meta);
    expect(readAll(s)).toEqual([[1], meta, meta]);
    expect(readAll(s)[0]).toBeUndefined();
    s.destroy();
  });

  test('destroying an instance with a partial chunk clears its timer', async () => {
    const s = instance(5, 10_000);
    s.write(1);
    s.destroy();
    await new Promise((resolve) => s.once('close', resolve));
    expect(s.destroyed).toBe(true);
  });

  test('a chunk that times out while the readable side is full waits for room', async () => {
    const s = instance(10, 10);
    for (let n = 0; n < 4; n++) {
      s.write(n);
      await delay(40);
    }
    expect(s.readableLength).toBe(4); // readable side full: four single-item chunks
    s.write(4);
    await delay(40);
    expect(s.readableLength).toBe(4); // timed out, but held back: the consumer is not reading
    expect(readAll(s)).toEqual([[0], [1], [2], [3], [4]]);
    s.end();
    await new Promise((resolve) => s.once('finish', resolve));
    s.destroy();
  });
});

describe('timedChunk options are checked eagerly', () => {
  test.each([
    [{ size: 0, timeout: 1 }, RangeError, /`timedChunk options.size`.*got 0 \(number\)/],
    [{ size: 1.5, timeout: 1 }, RangeError, /`timedChunk options.size`.*got 1.5/],
    [{ size: '5', timeout: 1 }, TypeError, /`timedChunk options.size`.*got "5" \(string\)/],
    [{ timeout: 1 }, TypeError, /`timedChunk options.size`.*got undefined/],
    [{ size: 1, timeout: 0 }, RangeError, /`timedChunk options.timeout`.*> 0.*got 0 \(number\)/],
    [{ size: 1, timeout: NaN }, RangeError, /`timedChunk options.timeout`.*got NaN/],
    [{ size: 1, timeout: 2 ** 31 }, RangeError, /`timedChunk options.timeout`/],
    [{ size: 1, timeout: '5' }, TypeError, /`timedChunk options.timeout`.*got "5" \(string\)/],
    [{ size: 1, timeout: 1, sise: 2 }, TypeError, /Unknown option `sise` in timedChunk options/],
    [undefined, TypeError, /`timedChunk options`.*got undefined/],
  ])('%p is rejected', (options, type, message) => {
    const call = () => timedChunk(options as never);
    expect(call).toThrow(type);
    expect(call).toThrow(message);
  });
});

describe('timedChunk maxWait under a trickle', () => {
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  /** Writes one item every `everyMs` for `forMs`, collecting what comes out and when. */
  function trickle(stream: Duplex, everyMs: number, forMs: number) {
    const out: { at: number; chunk: unknown[] }[] = [];
    let n = 0;
    for (let at = 0; at < forMs; at += everyMs) {
      stream.write(n++);
      jest.advanceTimersByTime(everyMs);
      for (const chunk of readAll(stream))
        out.push({ at: at + everyMs, chunk: chunk as unknown[] });
    }
    return out;
  }

  test('without maxWait a trickle faster than `timeout` keeps one chunk open (kept behaviour)', () => {
    const stream = instance(100, 500);
    const out = trickle(stream, 200, 8000); // 5 items a second for 8 s
    expect(out).toEqual([]);
    stream.destroy();
  });

  test('with maxWait a chunk leaves maxWait ms after its first item, however it is fed', () => {
    const stream = instance(100, 500, 2000);
    const out = trickle(stream, 200, 8000);
    expect(out.map((o) => o.at)).toEqual([2000, 4000, 6000, 8000]);
    expect(out.map((o) => o.chunk.length)).toEqual([10, 10, 10, 10]);
    expect(out.flatMap((o) => o.chunk)).toEqual(range(40));
    stream.destroy();
  });

  test('the idle timeout still fires first when the input pauses', () => {
    const stream = instance(100, 300, 2000);
    stream.write('a');
    jest.advanceTimersByTime(299);
    expect(readAll(stream)).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(readAll(stream)).toEqual([['a']]);
    jest.advanceTimersByTime(5000);
    expect(readAll(stream)).toEqual([]);
    stream.destroy();
  });

  test('a full chunk resets the maxWait clock for the next one', () => {
    const stream = instance(3, 10_000, 1000);
    for (const n of [1, 2, 3, 4]) stream.write(n);
    expect(readAll(stream)).toEqual([[1, 2, 3]]);
    jest.advanceTimersByTime(999);
    expect(readAll(stream)).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(readAll(stream)).toEqual([[4]]);
    stream.destroy();
  });

  test('maxWait is validated like timeout', () => {
    expect(() => timedChunk({ size: 1, timeout: 10, maxWait: 0 })).toThrow(RangeError);
    expect(() => timedChunk({ size: 1, timeout: 10, maxWait: 0 })).toThrow(/options\.maxWait/);
    expect(() => timedChunk({ size: 1, timeout: 10, maxWait: '5' as never })).toThrow(TypeError);
  });
});
