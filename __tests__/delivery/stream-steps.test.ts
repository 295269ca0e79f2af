import { Duplex, Transform, type TransformCallback } from 'node:stream';
import { createGzip } from 'node:zlib';
import through2 from 'through2';
import { Pipeline, SOURCE_ACK, streamStep, type PipelineOptions } from '../../src';
import { delay, range, watchdog } from '../support/helpers';

/** Steps typed loosely: these tests are about delivery, not the step types. */
const pipeline = (steps: unknown[], options: PipelineOptions = {}) =>
  new Pipeline<any, any>(steps as never, options);

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

const objectTransform = (
  transform: (this: Transform, x: any, cb: TransformCallback) => void,
  flush?: (this: Transform, cb: TransformCallback) => void,
) =>
  new Transform({
    objectMode: true,
    highWaterMark: 4,
    transform(x, _enc, cb) {
      transform.call(this, x, cb);
    },
    flush,
  });

/**
 * Outputs are recorded by a last sync step (the counting sink takes them right after), behind
 * an async step whose random delays reorder them: an input acked while one of its outputs is
 * still in flight shows as an ack whose input has an output not yet recorded.
 */
function harness(outputsOf: (n: number) => unknown[]) {
  const recorded = new Set<string>();
  const acked: number[] = [];
  const early: number[] = [];
  const onAck = (_item: unknown, seq: number) => {
    acked.push(seq);
    if (outputsOf(seq).some((y) => !recorded.has(JSON.stringify(y)))) early.push(seq);
  };
  const reorder = [async (y: unknown) => (await delay(Math.random() * 3), y), 4];
  const record = (y: unknown) => (recorded.add(JSON.stringify(y)), y);
  return { recorded, acked, early, onAck, reorder, record };
}

describe('acknowledgements through a foreign Duplex (streamStep)', () => {
  test('a core Transform giving three outputs per input acks each input once all three were counted', async () => {
    const h = harness((n) => [n * 10, n * 10 + 1, n * 10 + 2]);
    const fanOut = streamStep(() =>
      objectTransform(function (n: number, cb) {
        this.push(n * 10);
        this.push(n * 10 + 1);
        setImmediate(() => cb(null, n * 10 + 2));
      }),
    );
    const p = pipeline([fanOut, h.reorder, h.record], { onAck: h.onAck });
    p.putAll(range(60));
    const { count } = await watchdog(p.run());
    expect(count).toBe(180);
    expect(sorted(h.acked)).toEqual(range(60));
    expect(h.early).toEqual([]);
  });

  test('a core Transform batching three inputs into one output acks each member once its batch was counted', async () => {
    const batchOf = (n: number) => {
      const first = n - (n % 3);
      return [range(Math.min(3, 100 - first), first)];
    };
    const h = harness(batchOf);
    const batches = streamStep(() => {
      let batch: number[] = [];
      return objectTransform(
        function (n: number, cb) {
          batch.push(n);
          if (batch.length < 3) return cb();
          const full = batch;
          batch = [];
          cb(null, full);
        },
        function (cb) {
          // the last, partial batch (100 = 33 * 3 + 1) is pushed at the end
          cb(null, batch.length > 0 ? batch : undefined);
        },
      );
    });
    const p = pipeline([batches, h.reorder, h.record], { onAck: h.onAck });
    p.putAll(range(100));
    const { count } = await watchdog(p.run());
    expect(count).toBe(34);
    expect(sorted(h.acked)).toEqual(range(100));
    expect(h.early).toEqual([]);
  });

  test('a filtering Transform acks the inputs it drops, and the others after their output', async () => {
    const h = harness((n) => (n % 3 === 0 ? [] : [n]));
    const filter = streamStep(() =>
      objectTransform((n: number, cb) => setImmediate(() => cb(null, n % 3 === 0 ? null : n))),
    );
    const p = pipeline([filter, h.reorder, h.record], { onAck: h.onAck });
    p.putAll(range(90));
    const { count } = await watchdog(p.run());
    expect(count).toBe(60);
    expect(sorted(h.acked)).toEqual(range(90));
    expect(h.early).toEqual([]);
  });

  test('a through2 object-mode Transform with several instances acks every input once, after its outputs', async () => {
    const h = harness((n) => [n * 2, n * 2 + 1]);
    const double = streamStep(() =>
      through2.obj(function (n: number, _enc, cb) {
        this.push(n * 2);
        setImmediate(() => cb(null, n * 2 + 1));
      }),
    );
    const p = pipeline([[double, 3], h.reorder, h.record], { onAck: h.onAck });
    p.putAll(range(80));
    const { count } = await watchdog(p.run());
    expect(count).toBe(160);
    expect(sorted(h.acked)).toEqual(range(80));
    expect(h.early).toEqual([]);
  });

  test('a Duplex of the user’s own (not a Transform) is attributed by what its _write takes and pushes', async () => {
    const h = harness((n) => [n, -n - 1]);
    class Mirror extends Duplex {
      constructor() {
        super({ objectMode: true, highWaterMark: 2 });
      }
      override _write(n: number, _enc: string, cb: (err?: Error | null) => void) {
        this.push(n);
        setImmediate(() => {
          this.push(-n - 1);
          cb();
        });
      }
      override _read() {}
      override _final(cb: (err?: Error | null) => void) {
        this.push(null);
        cb();
      }
    }
    const p = pipeline([[streamStep(() => new Mirror()), 2], h.reorder, h.record], {
      onAck: h.onAck,
    });
    p.putAll(range(50));
    const { count } = await watchdog(p.run());
    expect(count).toBe(100);
    expect(sorted(h.acked)).toEqual(range(50));
    expect(h.early).toEqual([]);
  });

  test('a Duplex that takes its items in batches (_writev only) acks each once, after its output', async () => {
    const h = harness((n) => [n]);
    const batched = streamStep(
      () =>
        new Duplex({
          objectMode: true,
          highWaterMark: 4,
          writev(chunks, cb) {
            for (const { chunk } of chunks) this.push(chunk);
            setImmediate(cb);
          },
          read() {},
          final(cb) {
            this.push(null);
            cb();
          },
        }),
    );
    const p = pipeline([batched, h.reorder, h.record], { onAck: h.onAck });
    p.putAll(range(60));
    const { count } = await watchdog(p.run());
    expect(count).toBe(60);
    expect(sorted(h.acked)).toEqual(range(60));
    expect(h.early).toEqual([]);
  });

  test('meta entries pass around a foreign stream step without a seq, and every item is acked', async () => {
    const acked: number[] = [];
    const metas: unknown[] = [];
    const pass = streamStep(() => objectTransform((n: number, cb) => setImmediate(cb, null, n)));
    const p = pipeline([pass], {
      onAck: (_item, seq) => acked.push(seq),
      onMeta: (m) => void metas.push(m),
    });
    p.putAll(range(5));
    p.putMeta('half');
    p.putAll(range(5, 5));
    await watchdog(p.run());
    expect(sorted(acked)).toEqual(range(10));
    expect(metas).toEqual(['half']);
  });

  test('checkpoints through a foreign Transform grow and end at the last seq', async () => {
    const checkpoints: number[] = [];
    const pass = streamStep(() => objectTransform((n: number, cb) => setImmediate(cb, null, n)));
    const p = pipeline([pass], {
      onCheckpoint: (seq) => checkpoints.push(seq),
      checkpointEvery: 5,
    });
    p.putAll(range(300));
    await watchdog(p.run());
    expect(checkpoints.at(-1)).toBe(299);
    expect(checkpoints).toEqual(sorted(checkpoints));
    expect(new Set(checkpoints).size).toBe(checkpoints.length);
  });

  test('an input still in the stream’s writable buffer is never acked', async () => {
    const acked: number[] = [];
    const callbacks: (() => void)[] = [];
    // Pushes each output at once and calls back only when the test says so: the items behind
    // the one it holds wait in its writable buffer, written but not taken.
    const held = streamStep(() =>
      objectTransform(function (n: number, cb) {
        this.push(n);
        callbacks.push(() => cb());
      }),
    );
    const p = pipeline([held], { onAck: (_item, seq) => acked.push(seq), highWaterMark: 4 });
    p.putAll(range(10));
    const run = p.run();
    await delay(20);
    // Item 0 is taken and its output counted, but the stream has not called back for it.
    expect(p.stats()[0].out).toBe(1);
    expect(acked).toEqual([]);
    callbacks.shift()!();
    await delay(20);
    // Called back: item 0 is done; item 1 is taken and held; items 2.. wait in the buffer.
    expect(p.stats()[0].out).toBe(2);
    expect(acked).toEqual([0]);
    while (acked.length < 10) {
      callbacks.shift()?.();
      await delay(1);
    }
    await watchdog(run);
    expect(acked).toEqual(range(10));
  });

  test('a Transform failing mid-run acks exactly the inputs whose outputs were handed on, and nothing after', async () => {
    const acked: number[] = [];
    const boom = new Error('boom at 500');
    const failing = streamStep(() =>
      objectTransform((n: number, cb) => (n === 500 ? cb(boom) : cb(null, n))),
    );
    const p = pipeline([failing], { onAck: (_item, seq) => acked.push(seq) });
    p.putAll(range(1000));
    await expect(watchdog(p.run())).rejects.toBe(boom);
    const handedOn = p.stats()[0].out;
    expect(handedOn).toBeGreaterThan(0);
    expect(handedOn).toBeLessThanOrEqual(500);
    expect(acked).toEqual(range(handedOn));
    await delay(20);
    expect(acked).toHaveLength(handedOn);
  });

  test('a byte-mode stream step with onAck fails the run with an error naming the step', async () => {
    const gzip = streamStep(() => createGzip(), 'gzip');
    const p = pipeline([gzip], { onAck: () => {} });
    p.putAll([Buffer.from('a'), Buffer.from('b')]);
    const err = await watchdog(p.run()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(/options\.onAck .*steps\[0\] \(gzip\).*byte mode/);
  });

  test('in continuous mode a byte-mode stream step turns send() off, and put() items still flow', async () => {
    const gzip = streamStep(() => createGzip(), 'gzip');
    const p = pipeline([gzip]);
    p.start();
    await delay(10);
    p.put(Buffer.from('abc'));
    const sent = await watchdog(p.send(Buffer.from('d'))).catch((e: unknown) => e);
    expect(sent).toMatchObject({ code: 'ERR_PAIPA_STATE' });
    expect((sent as Error).message).toMatch(/send\(\) .*steps\[0\] \(gzip\)/);
    const result = await watchdog(p.stop());
    expect(result.ok).toBe(true);
    expect(result.count).toBeGreaterThan(0);
  });

  test('in continuous mode a SOURCE_ACK source is refused once a step turned out untrackable', async () => {
    const p = pipeline([streamStep(() => createGzip(), 'gzip')]);
    p.start();
    await delay(10);
    const source = { *[Symbol.iterator]() {}, [SOURCE_ACK]: () => {} };
    expect(() => p.putIterable(source)).toThrow(
      expect.objectContaining({ code: 'ERR_PAIPA_STATE', message: expect.stringMatching(/gzip/) }),
    );
    await watchdog(p.stop());
  });

  test('a lone send() through a foreign Transform resolves once its output was counted, without a next item', async () => {
    const counted: number[] = [];
    const p = pipeline([
      streamStep(() => objectTransform((n: number, cb) => setImmediate(cb, null, n))),
      (n: number) => (counted.push(n), n),
    ]);
    p.start();
    await watchdog(p.send(1));
    expect(counted).toEqual([1]);
    await watchdog(p.send(2));
    expect(counted).toEqual([1, 2]);
    expect((await p.stop()).count).toBe(2);
  });
});
