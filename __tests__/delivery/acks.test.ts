import {
  chunk,
  flatten,
  iterStep,
  Pipeline,
  SkipEntry,
  Step,
  timedChunk,
  type PipelineOptions,
} from '../../src';
import { deferred, delay, range, watchdog } from '../support/helpers';

/** Records acks and checks each input is acked at most once. */
function recorder() {
  const acked: number[] = [];
  const items: unknown[] = [];
  const checkpoints: number[] = [];
  return {
    acked,
    items,
    checkpoints,
    onAck: (item: unknown, seq: number) => {
      acked.push(seq);
      items.push(item);
    },
    onCheckpoint: (seq: number) => checkpoints.push(seq),
    get options(): PipelineOptions {
      return { onAck: this.onAck };
    },
  };
}

/** Steps typed loosely: these tests are about delivery, not the step types. */
const pipeline = (steps: unknown[], options: PipelineOptions = {}) =>
  new Pipeline<any, any>(steps as never, options);

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

describe('acknowledgements: run()', () => {
  test('every input of a successful run is acked exactly once, with its item and seq', async () => {
    const r = recorder();
    const p = pipeline([[async (n: number) => n * 2, 4], (n: number) => n + 1], r.options);
    p.putAll(range(100, 1000));
    const result = await p.run();
    expect(result.count).toBe(100);
    expect(sorted(r.acked)).toEqual(range(100));
    expect(r.items.map((item, i) => (item as number) - 1000 === r.acked[i])).not.toContain(false);
  });

  test('skips, nulls, SkipEntry and a filter ack the dropped inputs', async () => {
    const r = recorder();
    const p = pipeline(
      [
        (n: number) => (n % 3 === 0 ? undefined : n),
        (n: number) => (n % 3 === 1 ? null : n),
        async (n: number) => {
          if (n % 5 === 0) throw new SkipEntry();
          return n;
        },
        iterStep(async function* (items: AsyncIterable<number>) {
          for await (const n of items) if (n % 7 !== 0) yield n;
        }),
      ],
      r.options,
    );
    p.putAll(range(60));
    await p.run();
    expect(sorted(r.acked)).toEqual(range(60));
  });

  test('dead letters are acked once the handler settled; retries ack once', async () => {
    const r = recorder();
    const attempts = new Map<number, number>();
    const letters: number[] = [];
    const p = pipeline(
      [
        [
          async (n: number) => {
            attempts.set(n, (attempts.get(n) ?? 0) + 1);
            if (n % 4 === 0) throw new Error(`bad ${n}`);
            if (n % 4 === 1 && attempts.get(n)! < 2) throw new Error('flaky');
            return n;
          },
          3,
        ],
      ],
      {
        ...r.options,
        maxRetries: 2,
        onItemError: async (_err, item) => {
          await delay(1);
          letters.push(item as number);
        },
      },
    );
    p.putAll(range(20));
    const result = await p.run();
    expect(result.count).toBe(15);
    expect(sorted(letters)).toEqual([0, 4, 8, 12, 16]);
    expect(sorted(r.acked)).toEqual(range(20));
  });

  test('fan-out: an input flattened into several outputs is acked after the last one is counted', async () => {
    const events: string[] = [];
    const p = pipeline(
      [
        (n: number) => [n, n, n],
        iterStep(flatten),
        async (n: number) => {
          await delay(1);
          events.push(`out${n}`);
          return n;
        },
      ],
      { onAck: (item) => events.push(`ack${item as number}`) },
    );
    p.putAll([1, 2]);
    await p.run();
    expect(events.filter((e) => e === 'ack1')).toHaveLength(1);
    expect(events.indexOf('ack1')).toBeGreaterThan(events.lastIndexOf('out1'));
    expect(events.indexOf('ack2')).toBeGreaterThan(events.lastIndexOf('out2'));
  });

  test('fan-in: chunk and timedChunk batches ack each member once the batch is counted', async () => {
    const r = recorder();
    const batches: number[][] = [];
    const p = pipeline(
      [
        iterStep(chunk(4)),
        iterStep(flatten),
        timedChunk({ size: 3, timeout: 5 }),
        (b: number[]) => {
          batches.push(b);
          return b;
        },
      ],
      r.options,
    );
    p.putAll(range(10));
    await p.run();
    expect(batches.flat()).toEqual(range(10));
    expect(sorted(r.acked)).toEqual(range(10));
  });

  test('an input is not acked before the output derived from it was counted', async () => {
    const counted = new Set<number>();
    const early: number[] = [];
    const p = pipeline(
      [
        [async (n: number) => (await delay(n % 3), n), 4],
        iterStep(chunk(3)),
        [async (b: number[]) => (await delay(1), b), 2],
        (b: number[]) => {
          for (const n of b) counted.add(n);
          return b;
        },
      ],
      { onAck: (item) => (counted.has(item as number) ? undefined : early.push(item as number)) },
    );
    p.putAll(range(30));
    await p.run();
    expect(early).toEqual([]);
  });

  test('meta entries are not acked and do not take a seq', async () => {
    const r = recorder();
    const p = pipeline([(n: number) => n], r.options);
    p.put(10);
    p.putMeta('m');
    p.put(11);
    await p.run();
    expect(sorted(r.acked)).toEqual([0, 1]);
    expect(r.items).toEqual(expect.arrayContaining([10, 11]));
  });

  test('checkpoints only grow and the last one is the last seq', async () => {
    const r = recorder();
    const p = pipeline([[async (n: number) => (await delay(n % 5 === 0 ? 8 : 0), n), 8]], {
      onCheckpoint: r.onCheckpoint,
      checkpointEvery: 2,
    });
    p.putAll(range(300));
    await p.run();
    expect(r.checkpoints.length).toBeGreaterThan(1);
    expect(r.checkpoints).toEqual(sorted(r.checkpoints));
    expect(new Set(r.checkpoints).size).toBe(r.checkpoints.length);
    expect(r.checkpoints[r.checkpoints.length - 1]).toBe(299);
  });

  test('a checkpoint never passes an input still running, while later ones are done', async () => {
    const gate = deferred();
    const r = recorder();
    const p = pipeline([[async (n: number) => (n === 3 ? await gate.promise : undefined, n), 4]], {
      onAck: r.onAck,
      onCheckpoint: r.onCheckpoint,
      checkpointEvery: 2,
    });
    p.putAll(range(10));
    const run = p.run();
    await delay(30);
    expect(sorted(r.acked)).toEqual([0, 1, 2, 4, 5, 6, 7, 8, 9]);
    expect(r.checkpoints).toEqual([2]);
    gate.resolve();
    await run;
    expect(r.checkpoints).toEqual([2, 9]);
  });

  test('class steps with keyBy and ordered output ack every input', async () => {
    class Double extends Step<number, number> {
      process(n: number) {
        return n * 2;
      }
    }
    const r = recorder();
    const p = pipeline(
      [
        [Double, 3],
        [
          async (n: number) => (await delay(n % 2), n),
          3,
          { keyBy: (n: number) => n % 4, ordered: true },
        ],
      ],
      r.options,
    );
    p.putAll(range(40));
    await p.run();
    expect(sorted(r.acked)).toEqual(range(40));
  });
});

describe('acknowledgements on failure, abort and break', () => {
  test('inputs in flight when a run fails are never acked, and nothing after', async () => {
    const r = recorder();
    const p = pipeline(
      [
        [
          async (n: number) => {
            if (n === 20) throw new Error('boom');
            await delay(n >= 20 ? 5 : 0);
            return n;
          },
          4,
        ],
      ],
      { ...r.options, ordered: true },
    );
    p.putAll(range(50));
    await expect(p.run()).rejects.toThrow('boom');
    await delay(20);
    expect(r.acked).not.toContain(20);
    expect(Math.max(...r.acked)).toBeLessThan(20);
    expect(new Set(r.acked).size).toBe(r.acked.length);
  });

  test('an aborted run acks nothing that had not finished', async () => {
    const r = recorder();
    const ac = new AbortController();
    const p = pipeline([[async (n: number) => (await delay(2), n), 2]], {
      ...r.options,
      signal: ac.signal,
    });
    p.putAll(range(100));
    setTimeout(() => ac.abort(), 15);
    await expect(p.run()).rejects.toMatchObject({ name: 'AbortError' });
    const count = r.acked.length;
    expect(count).toBeLessThan(100);
    await delay(10);
    expect(r.acked.length).toBe(count);
  });

  test('breaking out of for await leaves the item in the loop body and later ones unacked', async () => {
    const r = recorder();
    const p = pipeline([(n: number) => n], r.options);
    p.putAll(range(20));
    const seen: number[] = [];
    for await (const n of p) {
      seen.push(n as number);
      if (n === 5) break;
    }
    expect(sorted(r.acked)).toEqual(range(5));
  });

  test('for await acks an output once the loop asks for the next, and all at the end', async () => {
    const r = recorder();
    const p = pipeline([(n: number) => n], { ...r.options, onCheckpoint: r.onCheckpoint });
    p.putAll(range(10));
    for await (const n of p) {
      expect(r.acked).not.toContain(n);
    }
    expect(sorted(r.acked)).toEqual(range(10));
    expect(r.checkpoints[r.checkpoints.length - 1]).toBe(9);
  });

  test('a throwing onAck fails the run with its error', async () => {
    const err = new Error('ack failed');
    const p = pipeline([(n: number) => n], {
      onAck: (_item, seq) => {
        if (seq === 3) throw err;
      },
    });
    p.putAll(range(10));
    await expect(p.run()).rejects.toBe(err);
  });

  test('a throwing onCheckpoint fails the run with its error', async () => {
    const err = new Error('checkpoint failed');
    const p = pipeline([(n: number) => n], {
      onCheckpoint: () => {
        throw err;
      },
    });
    p.putAll(range(10));
    await expect(p.run()).rejects.toBe(err);
  });
});

/** The largest seq such that every input up to it was acked (-1: none). */
function completedPrefix(acked: readonly number[]): number {
  const done = new Set(acked);
  let prefix = -1;
  while (done.has(prefix + 1)) prefix++;
  return prefix;
}

describe('the last checkpoint of a run that fails', () => {
  const failingAt500 = (boom: Error) => [
    [
      async (n: number) => {
        if (n === 500) throw boom;
        await delay(n % 7 === 0 ? 2 : 0);
        return n;
      },
      4,
    ],
    (n: number) => n,
  ];

  test('a run failing at item 500 of 1000 reports the largest completed prefix before run() rejects, and nothing after', async () => {
    const r = recorder();
    const boom = new Error('boom at 500');
    const p = pipeline(failingAt500(boom), {
      onAck: r.onAck,
      onCheckpoint: r.onCheckpoint,
      // no periodic call within the run: the one call seen is the last one
      checkpointEvery: 600_000,
      ordered: true,
    });
    p.putAll(range(1000));
    const err = await watchdog(p.run()).catch((e: unknown) => e);
    expect(err).toBe(boom);
    const prefix = completedPrefix(r.acked);
    expect(prefix).toBeGreaterThanOrEqual(0);
    expect(prefix).toBeLessThan(500);
    expect(r.checkpoints).toEqual([prefix]);
    await delay(20);
    expect(r.checkpoints).toEqual([prefix]);
    expect(completedPrefix(r.acked)).toBe(prefix);
  });

  test('the last checkpoint of a failed run never includes an input still in flight', async () => {
    const r = recorder();
    const boom = new Error('boom');
    const release = deferred();
    const p = pipeline(
      [
        [
          async (n: number) => {
            if (n === 3) await release.promise; // still running when the run fails
            if (n === 8) throw boom;
            return n;
          },
          4,
        ],
      ],
      { onAck: r.onAck, onCheckpoint: r.onCheckpoint, checkpointEvery: 600_000 },
    );
    p.putAll(range(20));
    await expect(watchdog(p.run())).rejects.toBe(boom);
    release.resolve();
    expect(r.acked).not.toContain(3);
    expect(r.checkpoints).toEqual([2]);
  });

  test('no last checkpoint when the completed prefix did not move since the previous call', async () => {
    const r = recorder();
    const boom = new Error('boom at 0');
    const p = pipeline([(n: number) => (n === 0 ? Promise.reject(boom) : n)], {
      onCheckpoint: r.onCheckpoint,
      checkpointEvery: 600_000,
    });
    p.putAll(range(10));
    await expect(watchdog(p.run())).rejects.toBe(boom);
    expect(r.checkpoints).toEqual([]);
  });

  test('a throwing onCheckpoint at the end of a failed run leaves the run its own error', async () => {
    const boom = new Error('boom at 500');
    let calls = 0;
    const p = pipeline(failingAt500(boom), {
      onCheckpoint: () => {
        calls++;
        throw new Error('the checkpoint store is down');
      },
      checkpointEvery: 600_000,
      ordered: true,
    });
    p.putAll(range(1000));
    await expect(watchdog(p.run())).rejects.toBe(boom);
    expect(calls).toBe(1);
  });

  test('an aborted run reports its completed prefix once more before it rejects', async () => {
    const r = recorder();
    const ac = new AbortController();
    const p = pipeline([[async (n: number) => (await delay(1), n), 2]], {
      onAck: r.onAck,
      onCheckpoint: r.onCheckpoint,
      checkpointEvery: 600_000,
      ordered: true,
      signal: ac.signal,
    });
    p.putAll(range(1000));
    setTimeout(() => ac.abort(), 30);
    await expect(watchdog(p.run())).rejects.toMatchObject({ name: 'AbortError' });
    const prefix = completedPrefix(r.acked);
    expect(prefix).toBeLessThan(999);
    expect(r.checkpoints).toEqual(prefix >= 0 ? [prefix] : []);
  });
});

/** A last step that drops odd items with SkipEntry, in each way a step can throw it. */
const skipOdd = (n: number) => {
  if (n % 2) throw new SkipEntry();
  return n;
};
const skippingLastSteps: [string, unknown][] = [
  ['a sync throw', skipOdd],
  ['an async rejection', async (n: number) => skipOdd(n)],
  ['a sync throw in a keyBy step', [skipOdd, 1, { keyBy: (n: number) => n % 3 }]],
  [
    'an async rejection in a step with a timeout',
    [async (n: number) => skipOdd(n), 2, { timeout: 1000 }],
  ],
];

describe('SkipEntry in the last step under acknowledgements', () => {
  test.each(skippingLastSteps)(
    'thrown as %s, it is counted as skipped (not stored), as with acknowledgements off',
    async (_how, last) => {
      const figures = async (options: PipelineOptions) => {
        const p = pipeline([(n: number) => n, last], options);
        p.putAll(range(20));
        const { count, steps } = await watchdog(p.run());
        return { count, skipped: steps[1].skipped, stored: steps[1].stored };
      };
      const acked: number[] = [];
      expect(await figures({})).toEqual({ count: 10, skipped: 10, stored: 0 });
      expect(await figures({ onAck: (_item, seq) => acked.push(seq) })).toEqual({
        count: 10,
        skipped: 10,
        stored: 0,
      });
      expect(sorted(acked)).toEqual(range(20));
    },
  );
});

describe('acknowledgements: options and step kinds', () => {
  test('checkpointEvery must be an integer >= 1', () => {
    expect(() => pipeline([(n: number) => n], { checkpointEvery: 0 })).toThrow(/checkpointEvery/);
  });

  test('a timed-out call does not ack its input; the retry does, once', async () => {
    const r = recorder();
    let calls = 0;
    const p = pipeline(
      [
        [
          async (n: number) => {
            calls++;
            if (calls === 1) {
              await delay(30);
              return null;
            }
            return n;
          },
          1,
          { timeout: 10 },
        ],
      ],
      { ...r.options, maxRetries: 1 },
    );
    p.putAll([7]);
    await watchdog(p.run());
    await delay(40);
    expect(r.acked).toEqual([0]);
  });
});

describe('acknowledgements in stream() mode', () => {
  test('an output is acked once it is read from the Duplex, every input once', async () => {
    const { Readable, Writable } = await import('node:stream');
    const { pipeline: streamPipeline } = await import('node:stream/promises');
    const r = recorder();
    const read = new Set<number>();
    const early: number[] = [];
    const p = pipeline(
      [[async (n: number) => (await delay(n % 2), n), 3], (n: number) => (n % 4 === 0 ? null : n)],
      {
        onAck: (item, seq) => {
          r.onAck(item, seq);
          if ((item as number) % 4 !== 0 && !read.has(item as number)) early.push(item as number);
        },
        onCheckpoint: r.onCheckpoint,
      },
    );
    await streamPipeline(
      Readable.from(range(40)),
      p.stream(),
      new Writable({
        objectMode: true,
        highWaterMark: 1,
        write(n: number, _enc, cb) {
          read.add(n);
          setImmediate(cb);
        },
      }),
    );
    expect(sorted(r.acked)).toEqual(range(40));
    expect(early).toEqual([]);
    expect(r.checkpoints[r.checkpoints.length - 1]).toBe(39);
  });

  test('outputs not read when the stream is destroyed are never acked', async () => {
    const r = recorder();
    const p = pipeline([(n: number) => n], r.options);
    const duplex = p.stream();
    for (const n of range(10)) duplex.write(n);
    await delay(5);
    const first = duplex.read() as number;
    expect(first).toBe(0);
    duplex.destroy(new Error('consumer gone'));
    await new Promise((resolve) => duplex.once('close', resolve));
    expect(r.acked).toEqual([0]);
  });
});
