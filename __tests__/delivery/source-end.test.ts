import { Pipeline, SOURCE_ACK, SOURCE_END } from '../../src';
import { deferred, watchdog } from '../support/helpers';

/** A source of `n` numbers that logs its acknowledgements and its end. */
function loggingSource(n: number, onEnd?: (err: unknown) => unknown) {
  const log: string[] = [];
  const source = {
    *[Symbol.iterator]() {
      for (let i = 0; i < n; i++) yield i;
    },
    [SOURCE_ACK](item: number) {
      log.push(`ack ${item}`);
    },
    [SOURCE_END](err: unknown) {
      log.push(`end ${err === undefined ? 'ok' : (err as Error).message}`);
      return onEnd?.(err);
    },
  };
  return { source, log };
}

describe('SOURCE_END', () => {
  test('is called once, with undefined, after the last acknowledgement of a successful run', async () => {
    const { source, log } = loggingSource(3);
    await watchdog(new Pipeline([(n: number) => n]).putIterable(source).run());
    expect(log).toEqual(['ack 0', 'ack 1', 'ack 2', 'end ok']);
  });

  test('holds the run open until the promise it returns settles', async () => {
    const closing = deferred();
    const { source } = loggingSource(2, () => closing.promise);
    let settled = false;
    const run = new Pipeline([(n: number) => n])
      .putIterable(source)
      .run()
      .then(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false);
    closing.resolve();
    await watchdog(run);
    expect(settled).toBe(true);
  });

  test("is called with the run's error when the run fails, and nothing in flight is acknowledged", async () => {
    const { source, log } = loggingSource(10);
    const run = new Pipeline([
      (n: number) => {
        if (n === 3) throw new Error('boom');
        return n;
      },
    ])
      .putIterable(source)
      .run();
    await expect(watchdog(run)).rejects.toThrow('boom');
    expect(log).toEqual(['ack 0', 'ack 1', 'ack 2', 'end boom']);
  });

  test('fails a successful run when it rejects', async () => {
    const { source } = loggingSource(2, () => Promise.reject(new Error('cannot close')));
    await expect(
      watchdog(new Pipeline([(n: number) => n]).putIterable(source).run()),
    ).rejects.toThrow('cannot close');
  });

  test('does not replace the error of a failed run when it throws too', async () => {
    const { source } = loggingSource(5, () => {
      throw new Error('end failed');
    });
    const run = new Pipeline([
      () => {
        throw new Error('first');
      },
    ])
      .putIterable(source)
      .run();
    await expect(watchdog(run)).rejects.toThrow('first');
  });

  test('comes after the for await loop took the last output, not when the streams close', async () => {
    const { source, log } = loggingSource(3);
    const p = new Pipeline([(n: number) => n]).putIterable(source);
    for await (const n of p) log.push(`loop ${n}`);
    expect(log.at(-1)).toBe('end ok');
    expect(log.filter((l) => l.startsWith('ack'))).toHaveLength(3);
    expect(log.indexOf('end ok')).toBeGreaterThan(log.indexOf('loop 2'));
  });

  test('is called when a for await loop is left early', async () => {
    const { source, log } = loggingSource(100);
    const p = new Pipeline([(n: number) => n]).putIterable(source);
    for await (const n of p) if (n === 1) break;
    expect(log.filter((l) => l.startsWith('end'))).toHaveLength(1);
  });
});

describe("onItemError's inputs", () => {
  test('are the pipeline inputs a failed item derives from while acknowledgements are on', async () => {
    const calls: unknown[][] = [];
    await watchdog(
      new Pipeline(
        [
          (s: string) => s.toUpperCase(),
          (s: string) => {
            if (s === 'B') throw new Error('no b');
            return s;
          },
        ],
        {
          onAck: () => {},
          onItemError: (_err, item, step, inputs) => void calls.push([item, step, inputs]),
        },
      )
        .putAll(['a', 'b', 'c'])
        .run(),
    );
    expect(calls).toEqual([['B', 'step1', ['b']]]);
  });

  test('are undefined while acknowledgements are off', async () => {
    const calls: unknown[][] = [];
    await watchdog(
      new Pipeline(
        [
          (s: string) => {
            throw new Error(s);
          },
        ],
        { onItemError: (...args) => void calls.push(args.slice(1)) },
      )
        .putAll(['a'])
        .run(),
    );
    expect(calls).toEqual([['a', 'step0']]);
  });
});
