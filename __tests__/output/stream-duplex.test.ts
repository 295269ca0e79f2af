/**
 * `p.stream()` is one of Node's own object-mode Duplexes: every API that existing stream code
 * uses on a Duplex works on it (found missing when it was a pumpify object).
 */
import * as nodeStream from 'node:stream';
import {
  Duplex,
  finished,
  isErrored,
  Readable,
  Writable,
  promises as streamPromises,
} from 'node:stream';
import { finished as finishedPromise } from 'node:stream/promises';
import { Pipeline, Step } from '../../src';
import { range, watchdog } from '../support/helpers';

class Boom extends Error {}

/** stream.compose exists since Node 16.9 but @types/node 20 does not declare it. */
const { compose } = nodeStream as unknown as { compose: (...streams: unknown[]) => Duplex };

const double = (n: number) => n * 2;

/** Writes the items and ends the writable side. */
function feed(duplex: Duplex, items: readonly number[]): void {
  for (const n of items) duplex.write(n);
  duplex.end();
}

describe('stream() is a Node object-mode Duplex', () => {
  test('it is an instance of node:stream Duplex in object mode on both sides', () => {
    const duplex = new Pipeline([double]).stream();
    expect(duplex).toBeInstanceOf(Duplex);
    expect(duplex.readableObjectMode).toBe(true);
    expect(duplex.writableObjectMode).toBe(true);
    duplex.destroy();
  });

  test('its highWaterMark is the pipeline highWaterMark, counted in items', () => {
    const duplex = new Pipeline([double], { highWaterMark: 3 }).stream();
    expect(duplex.readableHighWaterMark).toBe(3);
    expect(duplex.writableHighWaterMark).toBe(3);
    duplex.destroy();
  });

  test('stream.compose with Readable.from treats it as an object stream', async () => {
    const composed = compose(Readable.from([1, 2, 3]), new Pipeline([double]).stream());
    expect(await watchdog(composed.toArray())).toEqual([2, 4, 6]);
  });

  test('stream.pipeline carries items through it into a Writable', async () => {
    const out: number[] = [];
    await watchdog(
      streamPromises.pipeline(
        Readable.from(range(100)),
        new Pipeline([double, [async (n: number) => n + 1, 4]], { ordered: true }).stream(),
        new Writable({
          objectMode: true,
          write(n: number, _enc, cb) {
            out.push(n);
            cb();
          },
        }),
      ),
    );
    expect(out).toEqual(range(100).map((n) => n * 2 + 1));
  });

  test('Readable.from reads its outputs as an async iterable', async () => {
    const duplex = new Pipeline([double]).stream();
    feed(duplex, [1, 2, 3]);
    expect(await watchdog(Readable.from(duplex).toArray())).toEqual([2, 4, 6]);
  });

  test('toArray collects every output', async () => {
    const duplex = new Pipeline([double]).stream();
    feed(duplex, range(20));
    expect(await watchdog(duplex.toArray())).toEqual(range(20).map(double));
  });

  test('the iterator helpers map and filter apply to its outputs', async () => {
    const duplex = new Pipeline([double]).stream();
    feed(duplex, range(10));
    const outputs = await watchdog(
      duplex
        .map((n: number) => n + 1)
        .filter((n: number) => n % 3 === 0)
        .toArray(),
    );
    expect(outputs).toEqual([3, 9, 15]);
  });

  test('for await over the Duplex yields the outputs in order for a concurrency-1 step', async () => {
    const duplex = new Pipeline([double]).stream();
    feed(duplex, range(50));
    const out: number[] = [];
    for await (const n of duplex) out.push(n as number);
    expect(out).toEqual(range(50).map(double));
  });

  test('finished() reports a clean end once both sides are done and it closed', async () => {
    const duplex = new Pipeline([double]).stream();
    duplex.resume();
    feed(duplex, [1, 2]);
    const err = await watchdog(new Promise((resolve) => finished(duplex, resolve)));
    expect(err).toBeUndefined();
    expect(duplex.closed).toBe(true);
    expect(duplex.errored).toBeNull();
  });

  test('finished() rejects with the very error a step threw, after every shutdown hook ran', async () => {
    const boom = new Boom();
    const shutdown = jest.fn();
    class S extends Step {
      process(n: number) {
        if (n === 3) throw boom;
        return n;
      }
      shutdown() {
        shutdown();
      }
    }
    const duplex = new Pipeline([[S, 2]]).stream();
    duplex.resume();
    feed(duplex, range(10));
    await expect(watchdog(finishedPromise(duplex))).rejects.toBe(boom);
    expect(shutdown).toHaveBeenCalledTimes(2);
  });

  test('closed and errored tell a failed stream apart from a live one', async () => {
    const boom = new Boom();
    const duplex = new Pipeline([
      (n: number) => {
        if (n === 1) throw boom;
        return n;
      },
    ]).stream();
    expect(duplex.closed).toBe(false);
    expect(duplex.errored).toBeNull();
    const closed = new Promise((resolve) => duplex.once('close', resolve));
    duplex.on('error', () => {});
    duplex.write(1);
    await watchdog(closed);
    expect(duplex.closed).toBe(true);
    expect(duplex.errored).toBe(boom);
    expect(isErrored(duplex)).toBe(true);
  });
});
