import { Pipeline, Step, iterStep, streamStep } from '../../src';
import { PassThrough } from 'node:stream';

class Conn extends Step<number, number> {
  process(n: number) {
    return n;
  }
}
const fetchIt = (n: number) => n;

describe('flow-control options are checked at construction', () => {
  test.each([
    [
      { keyBy: 'id' },
      TypeError,
      /steps\[0\] \(fetchIt\) options\.keyBy.*function of the item.*"id"/,
    ],
    [{ rateLimit: 50 }, TypeError, /steps\[0\] \(fetchIt\) options\.rateLimit.*options object.*50/],
    [
      { rateLimit: { limit: 0, intervalMs: 1000 } },
      RangeError,
      /steps\[0\] \(fetchIt\) options\.rateLimit\.limit.*integer from 1.*got 0/,
    ],
    [
      { rateLimit: { limit: 5, intervalMs: 0 } },
      RangeError,
      /steps\[0\] \(fetchIt\) options\.rateLimit\.intervalMs.*above 0.*got 0/,
    ],
    [
      { rateLimit: { limit: 5, intervalMs: 1000, burst: 2 } },
      TypeError,
      /Unknown option `burst` in steps\[0\] \(fetchIt\) options\.rateLimit/,
    ],
    [{ timeout: -5 }, RangeError, /steps\[0\] \(fetchIt\) options\.timeout.*above 0.*got -5/],
    [{ timeout: Infinity }, RangeError, /options\.timeout.*at most 2147483647.*Infinity/],
    [{ timeout: '1s' }, TypeError, /options\.timeout.*milliseconds.*'1s'|"1s"/],
    [
      { restart: { max: 1, withinMs: 1000 } },
      TypeError,
      /steps\[0\] \(fetchIt\): `restart` applies to Step classes/,
    ],
  ])('a function step with %p is refused', (options, type, message) => {
    const make = () => new Pipeline([[fetchIt, 2, options]] as never);
    expect(make).toThrow(type);
    expect(make).toThrow(message);
  });

  test.each([
    [
      { restart: { max: -1, withinMs: 1000 } },
      RangeError,
      /steps\[0\] \(Conn\) options\.restart\.max.*from 0.*-1/,
    ],
    [
      { restart: { max: 1 } },
      TypeError,
      /steps\[0\] \(Conn\) options\.restart\.withinMs.*undefined/,
    ],
    [{ restart: true }, TypeError, /steps\[0\] \(Conn\) options\.restart.*options object/],
  ])('a class step with %p is refused', (options, type, message) => {
    const make = () => new Pipeline([[Conn, 2, options as never]]);
    expect(make).toThrow(type);
    expect(make).toThrow(message);
  });

  test.each(['keyBy', 'rateLimit', 'timeout'])(
    'an iterStep or streamStep with %s is refused: it has no call per item',
    (key) => {
      const value =
        key === 'keyBy' ? () => 1 : key === 'timeout' ? 10 : { limit: 1, intervalMs: 10 };
      const iter = iterStep(async function* (items: AsyncIterable<number>) {
        yield* items;
      });
      const stream = streamStep(() => new PassThrough({ objectMode: true }));
      expect(() => new Pipeline([[iter, 1, { [key]: value }]] as never)).toThrow(
        new RegExp(
          `steps\\[0\\] .*\`${key}\` applies to function and class steps.*not to an iterStep`,
        ),
      );
      expect(() => new Pipeline([[stream, 1, { [key]: value }]] as never)).toThrow(
        /not to a streamStep/,
      );
    },
  );

  test('valid options are accepted and keyBy adds its waiting places to maxItemsInside', () => {
    const plain = new Pipeline([[fetchIt, 4, { highWaterMark: 8 }]]);
    const keyed = new Pipeline([[fetchIt, 4, { highWaterMark: 8, keyBy: (n: number) => n }]]);
    expect(keyed.maxItemsInside - plain.maxItemsInside).toBe(8);
  });
});
