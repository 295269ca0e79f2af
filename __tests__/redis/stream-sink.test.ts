import { Pipeline } from '../../src';
import { redisStreamSink, redisStreamSource, type RedisStreamEntry } from '../../src/redis';
import { watchdog } from '../support/helpers';
import { addEntries, commandCalls, useRedisServer } from './redis-test-server';

jest.setTimeout(30_000);

const redis = useRedisServer();
const url = () => redis.server().url;
const admin = () => redis.admin();

describe('redisStreamSink', () => {
  test('adds each item to the stream with XADD and emits nothing', async () => {
    const stream = redis.name('out');
    const result = await watchdog(
      new Pipeline([(n: number) => ({ n }), redisStreamSink({ url: url(), stream })])
        .putAll([1, 2, 3])
        .run(),
      10_000,
    );
    const entries = (await admin().xRange(stream, '-', '+'))!;
    expect(entries.map((e) => e.message)).toEqual([
      { data: '{"n":1}' },
      { data: '{"n":2}' },
      { data: '{"n":3}' },
    ]);
    expect(result.count).toBe(3); // stored, like any sink step
    expect(result.steps.at(-1)).toMatchObject({ name: `redisStreamSink(${stream})`, failed: 0 });
  });

  test("writes a source entry's own fields, so a stream can be copied through steps", async () => {
    const from = redis.name('in');
    const to = redis.name('copy');
    await addEntries(admin(), from, 5, (i) => ({ n: String(i), kind: 'order' }));
    const source = redisStreamSource({ url: url(), stream: from, group: 'g', endWhenIdleMs: 100 });
    await watchdog(
      new Pipeline([(e: RedisStreamEntry) => e, redisStreamSink({ url: url(), stream: to })])
        .putIterable(source)
        .run(),
      10_000,
    );
    const copied = (await admin().xRange(to, '-', '+'))!;
    expect(copied.map((e) => e.message)).toEqual(
      [0, 1, 2, 3, 4].map((i) => ({ n: String(i), kind: 'order' })),
    );
  });

  test('uses toFields, turning numbers into strings', async () => {
    const stream = redis.name('out');
    await watchdog(
      new Pipeline([
        redisStreamSink({
          url: url(),
          stream,
          toFields: (x: { id: number }) => ({ id: x.id, twice: x.id * 2 }),
        }),
      ])
        .putAll([{ id: 4 }])
        .run(),
      10_000,
    );
    expect((await admin().xRange(stream, '-', '+'))!.map((e) => e.message)).toEqual([
      { id: '4', twice: '8' },
    ]);
  });

  test('fails the item, naming the field, when toFields returns a value that is no string or number', async () => {
    const stream = redis.name('out');
    const run = new Pipeline([
      redisStreamSink({ url: url(), stream, toFields: () => ({ nested: { a: 1 } }) as never }),
    ])
      .putAll([1])
      .run();
    await expect(watchdog(run, 10_000)).rejects.toThrow(
      /field `nested` must be a string or a number, got/,
    );
  });

  test('trims the stream to about maxLen entries', async () => {
    const stream = redis.name('out');
    await watchdog(
      new Pipeline([redisStreamSink({ url: url(), stream, maxLen: 100 })])
        .putAll(Array.from({ length: 2000 }, (_, i) => i))
        .run(),
      20_000,
    );
    const length = await admin().xLen(stream);
    expect(length).toBeGreaterThanOrEqual(100);
    expect(length).toBeLessThan(2000);
  });

  test('sends one XADD per item and closes its connection at the end', async () => {
    const stream = redis.name('out');
    const before = await commandCalls(admin(), 'xadd');
    await watchdog(
      new Pipeline([redisStreamSink({ url: url(), stream, concurrency: 16 })])
        .putAll(Array.from({ length: 500 }, (_, i) => i))
        .run(),
      20_000,
    );
    expect((await commandCalls(admin(), 'xadd')) - before).toBe(500);
    const clients = (await admin().clientList()).length;
    expect(clients).toBe(1); // only the admin client is left: the sink closed its connection
  });

  test('is a step of `concurrency` instances (64 by default)', () => {
    const [, concurrency, options] = redisStreamSink({ url: 'redis://x', stream: 's' });
    expect(concurrency).toBe(64);
    expect(options).toEqual({ name: 'redisStreamSink(s)' });
  });

  test.each([
    [{ stream: 's' }, /exactly one of `url`/],
    [
      { url: 'redis://x', stream: 's', maxLen: 0 },
      /`redisStreamSink\(\) maxLen` to be an integer from 1 and up, got 0/,
    ],
    [
      { url: 'redis://x', stream: 's', toFields: 'data' },
      /`toFields` to be a function, got "data"/,
    ],
    [
      { url: 'redis://x', stream: 's', concurrency: -1 },
      /`redisStreamSink\(\) concurrency` to be an integer from 1 and up, got -1/,
    ],
    [{ url: 'redis://x' }, /`stream` to be a non-empty string, got undefined/],
  ])('refuses bad options at once, naming the option: %p', (options, message) => {
    expect(() => redisStreamSink(options as never)).toThrow(message);
  });
});
