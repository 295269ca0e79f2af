/**
 * The Source hands items to a first stage of function or class steps in batches (one stream
 * hop per batch). A batch is one chunk to the stream machinery, so the bound on items inside
 * must still count the items it carries.
 */
import { Pipeline } from '../../src';
import { Batch } from '../../src/ingest/batch';
import { MetaEntry } from '../../src/ingest/meta';
import { Source } from '../../src/ingest/source';
import { delay, range, trackedSource, watchdog } from '../support/helpers';

/** Reads every chunk a Source pushes until it ends. */
async function chunksOf(source: Source): Promise<unknown[]> {
  const chunks: unknown[] = [];
  source.on('data', (chunk: unknown) => chunks.push(chunk));
  await new Promise((resolve) => source.once('end', resolve));
  return chunks;
}

describe('batches from the Source to the first stage', () => {
  test('a source with a batch length pushes batches no longer than it, in input order', async () => {
    const source = new Source(16, 4);
    source.attach(range(10));
    const chunks = await watchdog(chunksOf(source));
    expect(chunks.map((c) => (c instanceof Batch ? c.items : c))).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    expect(source.count).toBe(10);
  });

  test('a source with a batch length reads no batch ahead, so put() still reports room by items', () => {
    const source = new Source(3, 3);
    expect(source.readableHighWaterMark).toBe(0);
    expect([source.add(1), source.add(2), source.add(3)]).toEqual([true, true, false]);
    source.destroy();
  });

  test('takeReady hands the next items in order, at most a batch, and none while a pushed chunk is unread', () => {
    const source = new Source(16, 4);
    source.attach(range(10));
    source.pause();
    source.read(0);
    expect(source.readableLength).toBe(1);
    expect(source.takeReady()).toBeNull();
    const first = source.read() as Batch;
    expect(first.items).toEqual([0, 1, 2, 3]);
    expect(source.takeReady()).toEqual([4, 5, 6, 7]);
    expect(source.takeReady()).toEqual([8, 9]);
    expect(source.takeReady()).toBeNull();
    expect(source.count).toBe(10);
    source.destroy();
  });

  test('takeReady gives nothing to a source without batches', () => {
    const source = new Source(16, 1);
    source.add(1);
    expect(source.takeReady()).toBeNull();
    expect(source.queued).toBe(1);
    source.destroy();
  });

  test('a sync run takes most batches straight from the Source, fewer than one push per batch', async () => {
    const p = new Pipeline([(n: number) => n + 1, (n: number) => n * 2], { highWaterMark: 4 });
    p.putIterable(range(4000));
    const pushes = jest.spyOn(Source.prototype, 'push');
    try {
      const result = await p.run();
      expect(result.count).toBe(4000);
      // 1000 batches; a write takes up to 65 of them (itself and 64 taken straight).
      expect(pushes.mock.calls.length).toBeLessThan(100);
      expect(pushes.mock.calls.length).toBeGreaterThanOrEqual(Math.ceil(1000 / 65));
    } finally {
      pushes.mockRestore();
    }
  });

  test('meta entries keep their place among items taken straight from the Source', async () => {
    const order: unknown[] = [];
    const p = new Pipeline([(n: number) => n, (n: number) => (order.push(n), n)], {
      highWaterMark: 2,
      onMeta: (m) => void order.push(`m${String(m)}`),
    });
    for (let i = 0; i < 30; i++) {
      p.put(i);
      if (i % 7 === 0) p.putMeta(i);
    }
    const result = await p.run();
    expect(result.count).toBe(30);
    const expected: unknown[] = [];
    for (let i = 0; i < 30; i++) {
      expected.push(i);
      if (i % 7 === 0) expected.push(`m${i}`);
    }
    expect(order).toEqual(expected);
  });

  test('meta entries keep their place inside a batch', async () => {
    const source = new Source(16, 8);
    source.add(1);
    source.addMeta('m');
    source.add(2);
    source.finish();
    const [batch] = await watchdog(chunksOf(source));
    const items = (batch as Batch).items;
    expect(items[0]).toBe(1);
    expect(items[1]).toBeInstanceOf(MetaEntry);
    expect((items[1] as MetaEntry).value).toBe('m');
    expect(items[2]).toBe(2);
    expect(source.count).toBe(2);
  });

  test('every item of every batch passes every step exactly once', async () => {
    const seen: number[] = [];
    const p = new Pipeline([(n: number) => n * 2, (n: number) => (seen.push(n), n)], {
      highWaterMark: 5,
    });
    p.putIterable(range(1003));
    const result = await p.run();
    expect(result.count).toBe(1003);
    expect(seen).toEqual(range(1003).map((n) => n * 2));
    expect(result.steps.map((s) => [s.in, s.out])).toEqual([
      [1003, 1003],
      [1003, 1003],
    ]);
  });

  test('items pulled but not yet out stay within maxItemsInside when a slow first step meets batches', async () => {
    const source = trackedSource(400);
    const p = new Pipeline(
      [[async (n: number) => (n % 20 === 0 ? delay(2).then(() => n) : n), 3, { highWaterMark: 3 }]],
      { highWaterMark: 7 },
    );
    p.putIterable(source.iterable);
    let taken = 0;
    let maxAhead = 0;
    for await (const _ of p) {
      taken++;
      maxAhead = Math.max(maxAhead, source.state.pulled - taken);
      if (taken % 50 === 0) await delay(1);
    }
    expect(taken).toBe(400);
    expect(maxAhead).toBeGreaterThan(0);
    expect(maxAhead).toBeLessThanOrEqual(p.maxItemsInside);
  });
});
