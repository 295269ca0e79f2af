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

  test('a source with a batch length buffers one batch, so put() still reports room by items', () => {
    const source = new Source(3, 3);
    expect(source.readableHighWaterMark).toBe(1);
    expect([source.add(1), source.add(2), source.add(3)]).toEqual([true, true, false]);
    source.destroy();
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
