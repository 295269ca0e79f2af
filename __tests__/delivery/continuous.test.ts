import { iterStep, PaipaError, Pipeline, SOURCE_ACK, Step, type PipelineOptions } from '../../src';
import { deferred, delay, range, watchdog } from '../support/helpers';

const pipeline = (steps: unknown[], options: PipelineOptions = {}) =>
  new Pipeline<any, any>(steps as never, options);

describe('send() and ready() in continuous mode', () => {
  test('send() resolves only after the last step saw its item', async () => {
    const seen: number[] = [];
    const gate = deferred();
    const p = pipeline([
      async (n: number) => {
        await gate.promise;
        return n;
      },
      (n: number) => {
        seen.push(n);
        return n;
      },
    ]);
    p.start();
    let resolved = false;
    const sent = p.send(1).then(() => (resolved = true));
    await delay(5);
    expect(resolved).toBe(false);
    gate.resolve();
    await watchdog(sent);
    expect(seen).toEqual([1]);
    expect((await p.stop()).count).toBe(1);
  });

  test('send() resolves for an item a step drops, and for a dead letter', async () => {
    const p = pipeline(
      [
        (n: number) => (n === 1 ? null : n),
        (n: number) => {
          if (n === 2) throw new Error('bad');
          return n;
        },
      ],
      { onItemError: () => {} },
    );
    p.start();
    await watchdog(Promise.all([p.send(1), p.send(2), p.send(3)]));
    expect((await p.stop()).count).toBe(1);
  });

  test('send() rejects with the pipeline error when the run fails first', async () => {
    const boom = new Error('boom');
    const p = pipeline([
      async (n: number) => {
        await delay(2);
        if (n === 2) throw boom;
        return n;
      },
    ]);
    p.start();
    const first = p.send(1);
    const second = p.send(2);
    await expect(first).resolves.toBeUndefined();
    await expect(second).rejects.toBe(boom);
    await expect(p.stop()).rejects.toBe(boom);
  });

  test('put(), send() and ready() after a failure throw ERR_PAIPA_FAILED with the failure as cause', async () => {
    const boom = new Error('boom');
    const p = pipeline([
      (n: number) => {
        if (n === 1) throw boom;
        return n;
      },
    ]);
    p.start();
    p.put(1);
    await expect(p.stop()).rejects.toBe(boom);
    expect(() => p.put(2)).toThrow(
      expect.objectContaining({ code: 'ERR_PAIPA_FAILED', cause: boom }),
    );
    await expect(p.send(2)).rejects.toMatchObject({ code: 'ERR_PAIPA_FAILED', cause: boom });
    await expect(p.ready()).rejects.toMatchObject({ code: 'ERR_PAIPA_FAILED', cause: boom });
  });

  test('put() throws as soon as the pipeline has failed, before stop() is called', async () => {
    const boom = new Error('boom');
    const failed = deferred<unknown>();
    const p = pipeline(
      [
        (n: number) => {
          if (n === 1) throw boom;
          return n;
        },
      ],
      { onFail: failed.resolve },
    );
    p.start();
    p.put(1);
    await watchdog(failed.promise);
    expect(p.alive).toBe(false);
    let thrown: unknown;
    try {
      p.put(2);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(PaipaError);
    expect((thrown as PaipaError).cause).toBe(boom);
    await expect(p.stop()).rejects.toBe(boom);
  });

  test('ready() waits for the steps to initialize', async () => {
    const init = deferred();
    class Db extends Step<number, number> {
      async stepInitialize() {
        await init.promise;
      }
      process(n: number) {
        return n;
      }
    }
    const p = pipeline([Db]);
    p.start();
    let ready = false;
    const r = p.ready().then(() => (ready = true));
    await delay(10);
    expect(ready).toBe(false);
    init.resolve();
    await watchdog(r);
    await p.stop();
  });

  test('ready() rejects with the error of a failing stepInitialize()', async () => {
    const cannotOpen = new Error('cannot open the database');
    class Db extends Step<number, number> {
      stepInitialize() {
        throw cannotOpen;
      }
      process(n: number) {
        return n;
      }
    }
    const p = pipeline([Db]);
    p.start();
    await expect(watchdog(p.ready())).rejects.toBe(cannotOpen);
    await expect(p.stop()).rejects.toBe(cannotOpen);
  });

  test('ready() waits while the input is full and resolves once it has room', async () => {
    const gate = deferred();
    const p = pipeline([async (n: number) => (await gate.promise, n)], { highWaterMark: 2 });
    p.start();
    await p.ready();
    // More than the pipeline holds: the rest waits in the input queue.
    for (const n of range(p.maxItemsInside + 10)) p.put(n);
    let ready = false;
    const r = p.ready().then(() => (ready = true));
    await delay(10);
    expect(ready).toBe(false);
    gate.resolve();
    await watchdog(r);
    await p.stop();
  });

  test('ready() does not report full while the pipeline keeps up with a steady rate', async () => {
    const p = pipeline([[async (n: number) => (await delay(1), n), 8]]);
    p.start();
    await p.ready();
    let waited = 0;
    for (const n of range(300)) {
      let atOnce = false;
      const r = p.ready().then(() => (atOnce = true));
      await Promise.resolve();
      await Promise.resolve();
      if (!atOnce) waited++;
      await r;
      p.put(n);
      if (n % 4 === 3) await delay(2);
    }
    expect(waited).toBe(0);
    expect((await p.stop()).count).toBe(300);
  });

  test('send() and ready() before start(), after stop() and in other modes are state errors', async () => {
    const idle = pipeline([(n: number) => n]);
    await expect(idle.send(1)).rejects.toMatchObject({ code: 'ERR_PAIPA_STATE' });
    await expect(idle.ready()).rejects.toMatchObject({ code: 'ERR_PAIPA_STATE' });
    const stopped = pipeline([(n: number) => n]);
    stopped.start();
    await stopped.stop();
    await expect(stopped.send(1)).rejects.toMatchObject({ code: 'ERR_PAIPA_STATE' });
    await expect(stopped.ready()).rejects.toMatchObject({ code: 'ERR_PAIPA_STATE' });
    const batch = pipeline([(n: number) => n]);
    batch.put(1);
    const run = batch.run();
    await expect(batch.send(2)).rejects.toMatchObject({ code: 'ERR_PAIPA_STATE' });
    await expect(batch.ready()).rejects.toMatchObject({ code: 'ERR_PAIPA_STATE' });
    await run;
  });

  test('a throwing onAck rejects the send() waiting for that item and fails the run', async () => {
    const ackFailed = new Error('ack failed');
    const p = pipeline([(n: number) => n], {
      onAck: () => {
        throw ackFailed;
      },
    });
    p.start();
    await expect(watchdog(p.send(1))).rejects.toBe(ackFailed);
    await expect(p.stop()).rejects.toBe(ackFailed);
    expect(() => p.put(2)).toThrow(expect.objectContaining({ cause: ackFailed }));
  });

  test('send() of null is a TypeError', async () => {
    const p = pipeline([(n: number) => n]);
    p.start();
    await expect(p.send(null)).rejects.toBeInstanceOf(TypeError);
    await p.stop();
  });

  test('seq counts put, putAll and send together, in the order given', async () => {
    const acked = new Map<number, unknown>();
    const p = pipeline([(n: string) => n], { onAck: (item, seq) => acked.set(seq, item) });
    p.put('a');
    p.start();
    p.putAll(['b', 'c']);
    await p.send('d');
    await p.stop();
    expect([...acked.entries()].sort(([a], [b]) => a - b)).toEqual([
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
      [3, 'd'],
    ]);
  });
});

describe('continuous mode without onAck/onCheckpoint: only send() items are tracked', () => {
  test('put() items travel bare but take their seq: a SOURCE_ACK source attached after them is told seqs counting them', async () => {
    const told: [unknown, number][] = [];
    const source = {
      *[Symbol.iterator]() {
        yield* ['x', 'y'];
      },
      [SOURCE_ACK](item: unknown, seq: number) {
        told.push([item, seq]);
      },
    };
    const p = pipeline([(s: string) => s]);
    p.put('a');
    p.start();
    p.putMeta('not counted');
    p.put('b');
    await p.send('c');
    p.putIterable(source);
    const result = await watchdog(p.stop());
    expect(result.count).toBe(5);
    expect(told.sort(([, a], [, b]) => a - b)).toEqual([
      ['x', 3],
      ['y', 4],
    ]);
  });

  test('send() resolves once its own item is done while put() items given before it are still inside', async () => {
    const gate = deferred();
    const p = pipeline([[async (n: number) => (n < 0 && (await gate.promise), n), 2]]);
    p.start();
    p.put(-1);
    await watchdog(p.send(5));
    expect(p.stats()[0].out).toBe(1);
    gate.resolve();
    expect((await watchdog(p.stop())).count).toBe(2);
  });
});

describe('a source that receives acknowledgements (SOURCE_ACK)', () => {
  test('an iterable with a [SOURCE_ACK] method is told of each of its items once, when done', async () => {
    const told: [unknown, number][] = [];
    const source = {
      *[Symbol.iterator]() {
        yield* ['x', 'y', 'z'];
      },
      [SOURCE_ACK](item: unknown, seq: number) {
        told.push([item, seq]);
      },
    };
    const p = pipeline([
      (s: string) => s.toUpperCase(),
      iterStep(async function* (it: AsyncIterable<string>) {
        for await (const s of it) if (s !== 'Y') yield s;
      }),
    ]);
    p.put('w');
    p.putIterable(source);
    expect((await p.run()).count).toBe(3);
    expect(told.sort(([, a], [, b]) => a - b)).toEqual([
      ['x', 1],
      ['y', 2],
      ['z', 3],
    ]);
  });

  test('a source whose acknowledgement rejects fails the run with that error', async () => {
    const brokerDown = new Error('broker down');
    const source = {
      *[Symbol.iterator]() {
        yield* [1, 2, 3];
      },
      [SOURCE_ACK]: (_item: unknown, seq: number) =>
        seq === 1 ? Promise.reject(brokerDown) : Promise.resolve(),
    };
    const p = pipeline([(n: number) => n]);
    p.putIterable(source);
    await expect(watchdog(p.run())).rejects.toBe(brokerDown);
  });

  test('SOURCE_ACK is the registered symbol paipa.ack', () => {
    expect(SOURCE_ACK).toBe(Symbol.for('paipa.ack'));
  });
});
