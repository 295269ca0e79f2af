import { Pipeline, PaipaError, chunk, iterStep, SkipEntry } from '../../src';
import { redisStreamSource, type RedisStreamEntry } from '../../src/redis';
import { startRedisServer } from '../../scripts/redis-server.cjs';
import { delay, deferred, watchdog } from '../support/helpers';
import { addEntries, commandCalls, pendingCount, useRedisServer } from './redis-test-server';

jest.setTimeout(30_000);

const redis = useRedisServer();
const url = () => redis.server().url;
const admin = () => redis.admin();

/** A source on a fresh stream of `count` entries. */
async function prepared(count: number, options: Record<string, unknown> = {}) {
  const stream = redis.name('orders');
  const ids = await addEntries(admin(), stream, count);
  await admin().xGroupCreate(stream, 'g', '0');
  const source = redisStreamSource({
    url: url(),
    stream,
    group: 'g',
    consumer: 'c1',
    endWhenIdleMs: 200,
    claimIdleMs: 100,
    ...options,
  });
  return { stream, ids, source };
}

/** Reads entries as `consumer` and never acknowledges them: a consumer that then died. */
async function readAndDie(stream: string, consumer: string, count: number) {
  const reply = await admin().xReadGroup('g', consumer, { key: stream, id: '>' }, { COUNT: count });
  return (reply as unknown as { messages: { id: string }[] }[])[0].messages.map((m) => m.id);
}

describe('redisStreamSource', () => {
  test('yields every entry once with its id, stream, fields and a delivery count of 1, and acknowledges each', async () => {
    const { stream, ids, source } = await prepared(500);
    const seen: RedisStreamEntry[] = [];
    await watchdog(
      new Pipeline([(e: RedisStreamEntry) => void seen.push(e)]).putIterable(source).run(),
      20_000,
    );
    expect(seen.map((e) => e.id)).toEqual(ids);
    expect(seen[7]).toEqual({ id: ids[7], stream, fields: { n: '7' }, deliveries: 1 });
    expect(await pendingCount(admin(), stream, 'g')).toBe(0);
    expect(source.stats).toMatchObject({ yielded: 500, acked: 500, redelivered: 0, held: 0 });
  });

  test('creates the group, and the stream, when they do not exist yet', async () => {
    const stream = redis.name('fresh');
    const source = redisStreamSource({ url: url(), stream, group: 'new-group', endWhenIdleMs: 50 });
    await watchdog(new Pipeline([(e: unknown) => e]).putIterable(source).run(), 10_000);
    const groups = await admin().xInfoGroups(stream);
    expect(groups.map((g) => g.name)).toEqual(['new-group']);
  });

  test('names the consumer hostname-pid by default', () => {
    const source = redisStreamSource({ url: url(), stream: 'x', group: 'g' });
    expect(source.consumer).toMatch(new RegExp(`-${process.pid}$`));
  });

  test('acknowledges the entries done before a failure and leaves the ones in flight pending', async () => {
    const { stream, ids, source } = await prepared(300, { count: 20 });
    const done: string[] = [];
    const run = new Pipeline([
      (e: RedisStreamEntry) => {
        if (e.fields.n === '50') throw new Error('boom');
        done.push(e.id);
      },
    ])
      .putIterable(source)
      .run();
    await expect(watchdog(run, 10_000)).rejects.toThrow('boom');
    const pending = await admin().xPendingRange(stream, 'g', '-', '+', 1000);
    const pendingIds = pending.map((p) => p.id);
    expect(done).toEqual(ids.slice(0, 50));
    expect(pendingIds).toContain(ids[50]);
    expect(pendingIds.filter((id) => done.includes(id))).toEqual([]);
    // Nothing was read beyond one read past the entries the pipeline held.
    expect(pendingIds.length).toBeLessThanOrEqual(20 + 50);
  });

  test('reads its own pending entries again first after a restart, with their delivery count raised', async () => {
    const { stream, ids, source } = await prepared(100);
    const held = await readAndDie(stream, 'c1', 5);
    const seen: RedisStreamEntry[] = [];
    await watchdog(
      new Pipeline([(e: RedisStreamEntry) => void seen.push(e)]).putIterable(source).run(),
      20_000,
    );
    expect(seen.slice(0, 5).map((e) => [e.id, e.deliveries])).toEqual(held.map((id) => [id, 2]));
    expect(seen.slice(5).map((e) => e.id)).toEqual(ids.slice(5));
    expect(source.stats).toMatchObject({ redelivered: 5, claimed: 0, acked: 100 });
    expect(await pendingCount(admin(), stream, 'g')).toBe(0);
  });

  test("claims a dead consumer's entries once they have been idle for claimIdleMs", async () => {
    const { stream, source } = await prepared(50, { endWhenIdleMs: 600, claimIdleMs: 100 });
    const deadOnes = await readAndDie(stream, 'dead', 10);
    const seen: RedisStreamEntry[] = [];
    await watchdog(
      new Pipeline([(e: RedisStreamEntry) => void seen.push(e)]).putIterable(source).run(),
      20_000,
    );
    const claimed = seen.filter((e) => deadOnes.includes(e.id));
    expect(claimed).toHaveLength(10);
    expect(claimed.every((e) => e.deliveries === 2)).toBe(true);
    expect(source.stats.claimed).toBe(10);
    expect(seen).toHaveLength(50);
    expect(await pendingCount(admin(), stream, 'g')).toBe(0);
  });

  test('keeps an entry it is still processing from being claimed by another consumer', async () => {
    const { stream, ids, source } = await prepared(3, { claimIdleMs: 150 });
    const slow = deferred();
    const started = deferred();
    const run = new Pipeline([
      async (e: RedisStreamEntry) => {
        if (e.id !== ids[0]) return;
        started.resolve();
        await slow.promise;
      },
    ])
      .putIterable(source)
      .run();
    await started.promise;
    const claimedByOther: string[] = [];
    for (let i = 0; i < 12; i++) {
      await delay(50);
      const reply = await admin().xAutoClaim(stream, 'g', 'other', 150, '0-0');
      claimedByOther.push(...reply.messages.filter((m) => m !== null).map((m) => m!.id));
    }
    slow.resolve();
    await watchdog(run, 10_000);
    expect(claimedByOther).toEqual([]);
    expect(await pendingCount(admin(), stream, 'g')).toBe(0);
  });

  test('writes an entry delivered more than maxDeliveries times to the dead-letter stream and acknowledges it unprocessed', async () => {
    const { stream, ids } = await prepared(4);
    await readAndDie(stream, 'c1', 1);
    // Two more deliveries, as two crashed restarts would have made.
    for (let i = 0; i < 2; i++) {
      await admin().xReadGroup('g', 'c1', { key: stream, id: '0' }, { COUNT: 1 });
    }
    const source = redisStreamSource({
      url: url(),
      stream,
      group: 'g',
      consumer: 'c1',
      maxDeliveries: 3,
      endWhenIdleMs: 200,
    });
    const seen: string[] = [];
    await watchdog(
      new Pipeline([(e: RedisStreamEntry) => void seen.push(e.id)]).putIterable(source).run(),
      20_000,
    );
    expect(seen).toEqual(ids.slice(1));
    const dead = (await admin().xRange(`${stream}:dead`, '-', '+'))!;
    expect(dead).toHaveLength(1);
    expect(dead[0].message).toMatchObject({
      id: ids[0],
      stream,
      deliveries: '4',
      fields: JSON.stringify({ n: '0' }),
    });
    expect(source.stats.deadLettered).toBe(1);
    expect(await pendingCount(admin(), stream, 'g')).toBe(0);
  });

  test('dead-letters just the failing entry from onItemError with deadLetter(), and goes on', async () => {
    const { stream, ids, source } = await prepared(20, { deadLetterStream: 'custom-dead' });
    const seen: string[] = [];
    await watchdog(
      new Pipeline(
        [
          (e: RedisStreamEntry) => {
            if (e.fields.n === '4') throw new Error('bad row');
            seen.push(e.id);
          },
        ],
        { onItemError: (err, _item, _step, inputs) => source.deadLetter(inputs, err) },
      )
        .putIterable(source)
        .run(),
      20_000,
    );
    expect(seen).toHaveLength(19);
    const dead = (await admin().xRange('custom-dead', '-', '+'))!;
    expect(dead.map((d) => [d.message.id, d.message.reason])).toEqual([[ids[4], 'Error: bad row']]);
    expect(await pendingCount(admin(), stream, 'g')).toBe(0);
  });

  test('dead-letters the entry a later step failed on, from the inputs onItemError is given', async () => {
    const { stream, ids, source } = await prepared(10);
    const failed: unknown[] = [];
    await watchdog(
      new Pipeline(
        [
          (e: RedisStreamEntry) => Number(e.fields.n),
          (n: number) => {
            if (n === 7) throw new Error('seven');
            return n;
          },
        ],
        {
          onItemError: (err, item, _step, inputs) => {
            failed.push(item);
            return source.deadLetter(inputs, err);
          },
        },
      )
        .putIterable(source)
        .run(),
      20_000,
    );
    expect(failed).toEqual([7]);
    const dead = (await admin().xRange(`${stream}:dead`, '-', '+'))!;
    expect(dead.map((d) => d.message.id)).toEqual([ids[7]]);
    expect(await pendingCount(admin(), stream, 'g')).toBe(0);
  });

  test('refuses to dead-letter an entry it does not hold', async () => {
    const { source } = await prepared(1);
    await expect(source.deadLetter('1-1')).rejects.toThrow(/not an entry this source holds/);
    await source.close();
  });

  test('holds no more entries than the pipeline can hold plus one read while a step is slow', async () => {
    const { stream, source } = await prepared(400, { count: 10 });
    const p = new Pipeline(
      [[async (e: RedisStreamEntry) => (await delay(2), e), 2], (e: RedisStreamEntry) => e],
      { highWaterMark: 4 },
    );
    let maxPending = 0;
    const run = p.putIterable(source).run();
    let running = true;
    void run.finally(() => (running = false));
    while (running) {
      maxPending = Math.max(maxPending, await pendingCount(admin(), stream, 'g'));
      await delay(10);
    }
    await watchdog(run, 20_000);
    expect(maxPending).toBeGreaterThan(0);
    expect(maxPending).toBeLessThanOrEqual(p.maxItemsInside + 1 + 10);
  });

  test('ends on close(): reading stops, the pipeline drains, acknowledgements are sent, run() resolves', async () => {
    const { stream, source } = await prepared(1000, { endWhenIdleMs: undefined, count: 10 });
    let seen = 0;
    const run = new Pipeline([
      [async (e: RedisStreamEntry) => (await delay(1), e), 4],
      () => {
        if (++seen === 100) void source.close();
      },
    ])
      .putIterable(source)
      .run();
    await watchdog(run, 20_000);
    const stats = source.stats;
    expect(stats.yielded).toBe(seen);
    expect(stats.acked).toBe(seen);
    expect(seen).toBeLessThan(1000);
    expect(await pendingCount(admin(), stream, 'g')).toBe(0);
    await watchdog(source.close(), 1000, 'close() after the end');
  });

  test('returns a read blocked on the server at once when closed', async () => {
    const stream = redis.name('empty');
    const source = redisStreamSource({ url: url(), stream, group: 'g', blockMs: 60_000 });
    const run = new Pipeline([(e: unknown) => e]).putIterable(source).run();
    await delay(300);
    const closed = source.close();
    await watchdog(Promise.all([run, closed]), 5_000, 'a run blocked in a 60 s read');
    expect(source.stats.yielded).toBe(0);
  });

  test('ends promptly on close() whatever the source is doing when it comes', async () => {
    // close() lands after k turns of the event loop: during the connection, the group's
    // creation, the history read, a claim sweep or the blocking read (blockMs 60 s: a read
    // that close() did not end would hold the run for a minute).
    for (let k = 0; k < 25; k++) {
      const source = redisStreamSource({
        url: url(),
        stream: redis.name('idle'),
        group: 'g',
        consumer: 'c',
        blockMs: 60_000,
      });
      const run = new Pipeline([(e: unknown) => e]).putIterable(source).run();
      for (let i = 0; i < k; i++) await new Promise((resolve) => setImmediate(resolve));
      await watchdog(Promise.all([source.close(), run]), 5_000, `close() after ${k} turns`);
    }
  });

  test('rejects an aborted run with an AbortError and leaves what was in flight pending', async () => {
    const { stream, source } = await prepared(200, { endWhenIdleMs: undefined });
    const controller = new AbortController();
    const done: string[] = [];
    const run = new Pipeline(
      [
        async (e: RedisStreamEntry, ctx) => {
          if (done.length === 30) controller.abort();
          if (done.length >= 30) {
            await new Promise<void>((resolve) =>
              ctx.signal.addEventListener('abort', () => resolve()),
            );
            return;
          }
          done.push(e.id);
        },
      ],
      { signal: controller.signal },
    )
      .putIterable(source)
      .run();
    await expect(watchdog(run, 10_000)).rejects.toMatchObject({ name: 'AbortError' });
    const pending = (await admin().xPendingRange(stream, 'g', '-', '+', 1000)).map((p) => p.id);
    expect(pending.length).toBeGreaterThan(0);
    expect(pending.filter((id) => done.includes(id))).toEqual([]);
    expect(source.stats.acked).toBe(done.length);
  });

  test('fails the run at once with an error naming the address when Redis cannot be reached', async () => {
    const other = await startRedisServer();
    const address = other.url;
    await other.stop(); // nothing listens there now
    const source = redisStreamSource({ url: address, stream: 's', group: 'g' });
    const err = await watchdog(
      new Pipeline([(e: unknown) => e])
        .putIterable(source)
        .run()
        .then(
          () => null,
          (e: unknown) => e,
        ),
      10_000,
    );
    expect(err).toBeInstanceOf(PaipaError);
    expect(err).toMatchObject({ code: 'ERR_PAIPA_REDIS' });
    expect((err as Error).message).toContain(`Cannot reach Redis at ${address}`);
  });

  test('reconnects after its connections are killed and finishes the job', async () => {
    const { stream, ids, source } = await prepared(2000, { count: 50, endWhenIdleMs: 500 });
    const seen = new Set<string>();
    let killed = false;
    const run = new Pipeline([
      async (e: RedisStreamEntry) => {
        seen.add(e.id);
        if (seen.size === 500 && !killed) {
          killed = true;
          const me = await admin().clientId();
          const list = await admin().clientList();
          for (const c of list)
            if (Number(c.id) !== me)
              await admin().clientKill({ filter: 'ID', id: Number(c.id) } as never);
        }
      },
    ])
      .putIterable(source)
      .run();
    await watchdog(run, 20_000);
    expect(killed).toBe(true);
    expect(ids.filter((id) => !seen.has(id))).toEqual([]);
    expect(await pendingCount(admin(), stream, 'g')).toBe(0);
  });

  test('fails the run with an error naming the limit when Redis stays away longer than reconnectLimitMs', async () => {
    const other = await startRedisServer();
    try {
      const source = redisStreamSource({
        url: other.url,
        stream: 's',
        group: 'g',
        blockMs: 100,
        reconnectLimitMs: 300,
      });
      const run = new Pipeline([(e: unknown) => e]).putIterable(source).run();
      await delay(300);
      await other.stop();
      const err = await watchdog(
        run.then(
          () => null,
          (e: unknown) => e,
        ),
        10_000,
      );
      expect(err).toMatchObject({ code: 'ERR_PAIPA_REDIS' });
      expect((err as Error).message).toContain(
        `Redis at ${other.url} was unreachable for more than 300 ms`,
      );
    } finally {
      await other.stop();
    }
  });

  test('acknowledges every entry fanned out and batched once all its outputs are handed on', async () => {
    const { stream, source } = await prepared(100);
    const batches: string[][] = [];
    await watchdog(
      new Pipeline([
        iterStep(async function* (entries: AsyncIterable<RedisStreamEntry>) {
          for await (const e of entries) for (let k = 0; k < 3; k++) yield `${e.fields.n}/${k}`;
        }),
        iterStep(chunk(7)),
        (batch: string[]) => void batches.push(batch),
      ])
        .putIterable(source)
        .run(),
      20_000,
    );
    expect(batches.flat()).toHaveLength(300);
    expect(source.stats.acked).toBe(100);
    expect(await pendingCount(admin(), stream, 'g')).toBe(0);
  });

  test('leaves an entry pending while one of its outputs is not handed on when the run fails', async () => {
    const { stream, ids, source } = await prepared(10, { count: 10 });
    const run = new Pipeline([
      iterStep(async function* (entries: AsyncIterable<RedisStreamEntry>) {
        for await (const e of entries)
          for (let k = 0; k < 3; k++) yield [e.fields.n, k] as [string, number];
      }),
      ([n, k]: [string, number]) => {
        if (n === '2' && k === 2) throw new Error('third output of entry 2');
      },
    ])
      .putIterable(source)
      .run();
    await expect(watchdog(run, 10_000)).rejects.toThrow('third output of entry 2');
    const pending = (await admin().xPendingRange(stream, 'g', '-', '+', 100)).map((p) => p.id);
    expect(pending).toContain(ids[2]);
    expect(pending).not.toContain(ids[0]);
  });

  test('hands a redelivered entry to the pipeline alone', async () => {
    const { stream, source } = await prepared(40, { count: 10 });
    const suspects = await readAndDie(stream, 'c1', 3);
    let inside = 0;
    const besideSuspect: number[] = [];
    await watchdog(
      new Pipeline([
        [
          async (e: RedisStreamEntry) => {
            inside++;
            await delay(2);
            if (e.deliveries > 1) besideSuspect.push(inside - 1);
            inside--;
          },
          4,
        ],
      ])
        .putIterable(source)
        .run(),
      20_000,
    );
    expect(besideSuspect).toEqual([0, 0, 0]);
    expect(source.stats.redelivered).toBe(suspects.length);
  });

  test('sends its acknowledgements coalesced, as far fewer XACKs than entries', async () => {
    const { source } = await prepared(1000, { count: 100 });
    const before = await commandCalls(admin(), 'xack');
    await watchdog(new Pipeline([(e: unknown) => e]).putIterable(source).run(), 20_000);
    const calls = (await commandCalls(admin(), 'xack')) - before;
    expect(source.stats.acked).toBe(1000);
    expect(calls).toBeGreaterThan(0);
    expect(calls).toBeLessThanOrEqual(100);
  });

  test('sends one XACK per entry with coalesceAcks: false', async () => {
    const { source } = await prepared(50, { coalesceAcks: false });
    const before = await commandCalls(admin(), 'xack');
    await watchdog(new Pipeline([(e: unknown) => e]).putIterable(source).run(), 20_000);
    expect((await commandCalls(admin(), 'xack')) - before).toBe(50);
  });

  test('takes an existing client, reads on a duplicate of it, and leaves it open', async () => {
    const { stream } = await prepared(10);
    const source = redisStreamSource({ client: admin(), stream, group: 'g', endWhenIdleMs: 100 });
    const seen: string[] = [];
    await watchdog(
      new Pipeline([(e: RedisStreamEntry) => void seen.push(e.id)]).putIterable(source).run(),
      20_000,
    );
    expect(seen).toHaveLength(10);
    expect(admin().isReady).toBe(true);
  });

  test('can be iterated only once', async () => {
    const { source } = await prepared(1);
    await new Pipeline([(e: unknown) => e]).putIterable(source).run();
    expect(() => source[Symbol.asyncIterator]()).toThrow(/can be iterated once/);
  });

  test('filters and skips acknowledge the entries they drop', async () => {
    const { stream, source } = await prepared(60);
    const kept: string[] = [];
    await watchdog(
      new Pipeline([
        (e: RedisStreamEntry) => (Number(e.fields.n) % 3 === 0 ? undefined : e),
        (e: RedisStreamEntry) => {
          if (Number(e.fields.n) % 3 === 1) throw new SkipEntry();
          return e;
        },
        (e: RedisStreamEntry) => void kept.push(e.fields.n),
      ])
        .putIterable(source)
        .run(),
      20_000,
    );
    expect(kept).toHaveLength(20);
    expect(source.stats.acked).toBe(60);
    expect(await pendingCount(admin(), stream, 'g')).toBe(0);
  });

  test.each([
    [{ stream: 's', group: 'g' }, /exactly one of `url`/],
    [
      { url: 'http://x', stream: 's', group: 'g' },
      /`url` to be a redis:\/\/ or rediss:\/\/ address, got "http:\/\/x"/,
    ],
    [{ url: 'redis://x', stream: '', group: 'g' }, /`stream` to be a non-empty string, got ""/],
    [{ url: 'redis://x', stream: 's', group: 7 }, /`group` to be a non-empty string, got 7/],
    [
      { url: 'redis://x', stream: 's', group: 'g', count: 0 },
      /`redisStreamSource\(\) count` to be an integer from 1 and up, got 0/,
    ],
    [
      { url: 'redis://x', stream: 's', group: 'g', maxDeliveries: 1.5 },
      /maxDeliveries` to be an integer from 1 and up, got 1.5/,
    ],
    [
      { url: 'redis://x', stream: 's', group: 'g', coalesceAcks: 'yes' },
      /`coalesceAcks` to be a boolean, got "yes"/,
    ],
    [{ client: {}, stream: 's', group: 'g' }, /`client` to be a node-redis client/],
  ])('refuses bad options at once, naming the option: %p', (options, message) => {
    expect(() => redisStreamSource(options as never)).toThrow(message);
  });
});
