import { AckTracker } from '../../src/delivery/ack-tracker';
import { Origin } from '../../src/delivery/tracked';
import { MetaEntry } from '../../src/ingest/meta';
import { Source } from '../../src/ingest/source';

function tracker() {
  return new AckTracker({ checkpointEvery: 1000, fail: () => {}, optional: true });
}

/** Everything the source has ready, read out as the first stage would. */
function readAll(source: Source): unknown[] {
  const out: unknown[] = [];
  let chunk: unknown;
  while ((chunk = source.read()) !== null) out.push(chunk);
  return out;
}

describe('Source under acknowledgements', () => {
  test('tracking only send(): put() items stay bare and take their seq, send() items get an origin', () => {
    const source = new Source(16);
    const t = tracker();
    source.add('before start');
    source.track(t, false);
    source.add('put');
    source.addMeta('meta');
    let sent: Origin | undefined;
    source.addTracked('sent', (origin) => (sent = origin));
    const items = readAll(source);
    expect(items.slice(0, 2)).toEqual(['before start', 'put']);
    expect(items[2]).toBeInstanceOf(MetaEntry);
    expect(items[3]).toBe(sent);
    expect(sent).toBeInstanceOf(Origin);
    expect(sent!.seq).toBe(2);
    expect(t.given).toBe(3);
    source.destroy();
  });

  test('tracking everything: every item given gets an origin, in the order given', () => {
    const source = new Source(16);
    const t = tracker();
    source.add('a');
    source.track(t, true);
    source.add('b');
    const items = readAll(source) as Origin[];
    expect(items.map((o) => [o.item, o.seq])).toEqual([
      ['a', 0],
      ['b', 1],
    ]);
    source.destroy();
  });
});
