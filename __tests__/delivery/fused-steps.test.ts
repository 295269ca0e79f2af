import { chunk, iterStep, Pipeline, SkipEntry, Step, type PipelineOptions } from '../../src';
import { delay, range, watchdog } from '../support/helpers';

/**
 * Under acknowledgements a stage of function steps takes an item's envelope apart once, runs
 * its steps on the bare value and wraps the output once at the end; whatever leaves that loop
 * early (a promise, a throw, a queue between steps) goes back into an envelope. These tests
 * walk each of those exits with concurrency-1 steps, which share one stage.
 */

const pipeline = (steps: unknown[], options: PipelineOptions = {}) =>
  new Pipeline<any, any>(steps as never, options);

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

/** onAck that records each seq and fails the test on a second ack of the same input. */
function ackRecorder() {
  const acked: number[] = [];
  const seen = new Set<number>();
  return {
    acked,
    onAck: (_item: unknown, seq: number) => {
      if (seen.has(seq)) throw new Error(`input ${seq} acked twice`);
      seen.add(seq);
      acked.push(seq);
    },
  };
}

describe('acknowledgements through a stage of fused steps', () => {
  test('each fused step gets the bare item, and every input is acked once after it was counted', async () => {
    const r = ackRecorder();
    const wrapped: unknown[] = [];
    const seen = (x: unknown) => {
      // An envelope would be an object here.
      if (typeof x !== 'number') wrapped.push(x);
    };
    const counted = new Set<number>();
    const early: number[] = [];
    const p = pipeline(
      [
        (n: number) => (seen(n), n + 1),
        (n: number) => (seen(n), n * 2),
        (n: number) => (seen(n), counted.add(n / 2 - 1), n),
      ],
      {
        onAck: (item, seq) => {
          if (!counted.has(item as number)) early.push(seq);
          r.onAck(item, seq);
        },
      },
    );
    p.putAll(range(500));
    const result = await p.run();
    expect(result.count).toBe(500);
    expect(wrapped).toEqual([]);
    expect(early).toEqual([]);
    expect(sorted(r.acked)).toEqual(range(500));
  });

  test('a sync undefined, null and SkipEntry in the middle step ack the dropped input once', async () => {
    const r = ackRecorder();
    const last = jest.fn((n: number) => n);
    const p = pipeline(
      [
        (n: number) => n,
        (n: number) => {
          if (n % 3 === 0) return undefined;
          if (n % 3 === 1) return null;
          if (n % 5 === 0) throw new SkipEntry();
          return n;
        },
        last,
      ],
      { onAck: r.onAck },
    );
    p.putAll(range(90));
    const result = await p.run();
    const kept = range(90).filter((n) => n % 3 === 2 && n % 5 !== 0);
    expect(last.mock.calls.map(([n]) => n)).toEqual(kept);
    expect(result.count).toBe(kept.length);
    expect(sorted(r.acked)).toEqual(range(90));
  });

  test('the figures of a fused stage are the same with acknowledgements on and off', async () => {
    const steps = () => [
      (n: number) => (n % 4 === 0 ? undefined : n),
      (n: number) => {
        if (n % 5 === 0) throw new SkipEntry();
        return n % 7 === 0 ? Promise.resolve(n) : n;
      },
      (n: number) => n,
    ];
    const figures = async (options: PipelineOptions) => {
      const p = pipeline(steps(), options);
      p.putAll(range(200));
      const { steps: rows, count } = await p.run();
      return {
        count,
        rows: rows.map(({ in: i, out, skipped, stored }) => ({ i, out, skipped, stored })),
      };
    };
    const off = await figures({});
    const on = await figures({ onAck: () => undefined });
    expect(on).toEqual(off);
    expect(off.rows[1].skipped).toBeGreaterThan(0);
  });

  test('a sync throw in a fused step is retried on the same input, which is acked once', async () => {
    const r = ackRecorder();
    const attempts = new Map<number, number>();
    const p = pipeline(
      [
        (n: number) => n * 10,
        (n: number) => {
          const k = (attempts.get(n) ?? 0) + 1;
          attempts.set(n, k);
          if (n % 30 === 0 && k === 1) throw new Error(`flaky ${n}`);
          return n + 1;
        },
        (n: number) => n,
      ],
      { onAck: r.onAck, maxRetries: 1 },
    );
    p.putAll(range(60));
    const result = await p.run();
    expect(result.count).toBe(60);
    expect(result.steps[1].retried).toBe(20);
    expect(attempts.get(30)).toBe(2);
    expect(sorted(r.acked)).toEqual(range(60));
  });

  test('a sync throw dead-lettered from a fused step gives onItemError the bare item and its input, then acks it', async () => {
    const r = ackRecorder();
    const letters: [unknown, readonly unknown[] | undefined][] = [];
    const p = pipeline(
      [
        (n: number) => n * 10,
        (n: number) => {
          if (n % 70 === 0) throw new Error(`bad ${n}`);
          return n;
        },
        (n: number) => n,
      ],
      {
        onAck: r.onAck,
        onItemError: (_err, item, _step, inputs) => {
          letters.push([item, inputs]);
        },
      },
    );
    p.putAll(range(20, 100));
    const result = await p.run();
    expect(result.count).toBe(17);
    expect(letters).toEqual([
      [1050, [105]],
      [1120, [112]],
      [1190, [119]],
    ]);
    expect(sorted(r.acked)).toEqual(range(20));
  });

  test('promises and a busy async step in the middle send items on in envelopes, each acked once', async () => {
    const r = ackRecorder();
    const out: number[] = [];
    const p = pipeline(
      [
        (n: number) => n + 1,
        async (n: number) => {
          if (n % 2 === 0) await delay(1);
          return n * 2;
        },
        (n: number) => (n % 3 === 0 ? Promise.resolve(n) : n),
        (n: number) => (out.push(n), n),
      ],
      { onAck: r.onAck },
    );
    p.putAll(range(200));
    const result = await watchdog(p.run(), 10_000);
    expect(result.count).toBe(200);
    expect(sorted(out)).toEqual(range(200).map((n) => (n + 1) * 2));
    expect(sorted(r.acked)).toEqual(range(200));
  });

  test('a batch carries all its members through fused steps, and a skipped batch acks them all', async () => {
    const r = ackRecorder();
    const p = pipeline(
      [
        iterStep(chunk(4)),
        (batch: number[]) => batch.reduce((a, b) => a + b, 0),
        (sum: number) => (sum % 2 === 0 ? null : sum),
        (sum: number) => sum,
      ],
      { onAck: r.onAck },
    );
    p.putAll(range(40));
    const result = await p.run();
    // Batch sums 6, 22, 38, ...: every one is even, so each batch is dropped at step 3.
    expect(result.count).toBe(0);
    expect(result.steps[2].skipped).toBe(10);
    expect(sorted(r.acked)).toEqual(range(40));
  });

  test('an onAck that throws when a fused step drops an item fails the run with its error, and the item is counted once', async () => {
    const boom = new Error('ack store down');
    const p = pipeline([(n: number) => n, (n: number) => (n === 5 ? undefined : n)], {
      onAck: (_item, seq) => {
        if (seq === 5) throw boom;
      },
    });
    p.putAll(range(50));
    await expect(watchdog(p.run())).rejects.toBe(boom);
    // The teardown inside the ack counts the item as abandoned; the step must not count it again.
    const { busy, stored, skipped, abandoned } = p.stats()[1];
    expect({ busy, endings: stored + skipped + abandoned }).toEqual({ busy: 0, endings: 1 });
  });

  test('in continuous mode, put() items (bare) and send() items (in envelopes) mixed: steps see bare values and every send() settles', async () => {
    const wrapped: unknown[] = [];
    const tries = new Map<number, number>();
    const check = (x: unknown) => {
      if (typeof x !== 'number') wrapped.push(x);
    };
    const p = pipeline(
      [
        (n: number) => (check(n), n),
        (n: number) => {
          check(n);
          const t = (tries.get(n) ?? 0) + 1;
          tries.set(n, t);
          if (n % 7 === 0 && t === 1) throw new Error('flaky');
          if (n % 5 === 0) throw new SkipEntry();
          if (n % 3 === 0) return null;
          return n % 2 ? Promise.resolve(n) : n;
        },
        (n: number) => (check(n), n),
      ],
      { maxRetries: 1 },
    );
    p.start();
    const sends: Promise<void>[] = [];
    for (const n of range(200)) {
      if (n % 2) sends.push(p.send(n));
      else p.put(n);
    }
    await watchdog(Promise.all(sends), 5000);
    const result = await watchdog(p.stop(), 5000);
    expect(wrapped).toEqual([]);
    const kept = range(200).filter((n) => n % 5 !== 0 && n % 3 !== 0);
    expect(result.count).toBe(kept.length);
  });

  test('a class step restarted after a sync throw runs the retry and later items on the fresh object, and every input is acked', async () => {
    const made: Counted[] = [];
    class Counted extends Step<number, number> {
      calls: number[] = [];
      constructor() {
        super();
        made.push(this);
      }
      process(n: number): number | undefined {
        this.calls.push(n);
        if (n === 10 && made.length === 1) throw new Error('broken');
        return n % 4 === 0 ? undefined : n;
      }
    }
    const acked: number[] = [];
    const p = pipeline(
      [(n: number) => n, [Counted, 1, { maxRetries: 1, restart: { max: 1, withinMs: 10_000 } }]],
      { onAck: (_i, s) => void acked.push(s) },
    );
    p.putAll(range(40));
    const result = await watchdog(p.run(), 5000);
    expect(made.length).toBe(2);
    expect(made[0].calls).toEqual(range(11));
    expect(made[1].calls).toEqual(range(30, 10));
    expect(result.steps[1].out).toBe(30);
    expect(result.steps[1].restarts).toBe(1);
    expect([...acked].sort((a, b) => a - b)).toEqual(range(40));
  });

  const dropAfterAbort: [string, () => undefined][] = [
    ['returns undefined', () => undefined],
    [
      'throws SkipEntry',
      () => {
        throw new SkipEntry();
      },
    ],
  ];
  test.each(dropAfterAbort)(
    'a run aborted during a fused call that then %s acks nothing for that item',
    async (_how, drop) => {
      const ac = new AbortController();
      const acked: number[] = [];
      const p = pipeline(
        [
          (n: number) => n,
          (n: number) => {
            if (n !== 3) return n;
            ac.abort();
            return drop();
          },
        ],
        { onAck: (_i, s) => void acked.push(s), signal: ac.signal },
      );
      p.putAll(range(10));
      await expect(watchdog(p.run())).rejects.toThrow();
      expect(acked).not.toContain(3);
    },
  );
});
