import { Pipeline, Step, errorOrigin } from '../../src';
import { delay, range, watchdog } from '../support/helpers';

/**
 * The case users met: instance 0 of a two-instance step loses its connection after 50 items
 * and fails everything it gets from then on. A retry must go to another instance, so no item
 * spends its retries on the broken one and none reaches the dead-letter hook.
 */
function connectionStep() {
  const log = { processedBy: [0, 0], failedBy: [0, 0], made: 0, shutdowns: 0, initialized: 0 };
  let zeroConnections = 0;
  class Conn extends Step<number, number> {
    broken = false;
    handled = 0;
    async initialize() {
      log.initialized++;
      // Only instance 0's first connection breaks; a fresh one (after a restart) works.
      this.broken = this.index === 0 && zeroConnections++ === 0;
    }
    constructor() {
      super();
      log.made++;
    }
    async process(n: number) {
      await delay(0);
      if (this.broken && this.handled >= 50) {
        log.failedBy[this.index]++;
        throw new Error(`instance ${this.index}: connection lost`);
      }
      this.handled++;
      log.processedBy[this.index]++;
      return n;
    }
    async shutdown() {
      log.shutdowns++;
    }
  }
  return { Conn, log };
}

describe('a retry goes to another instance', () => {
  test('with a broken instance and maxRetries 2, no item reaches the dead-letter hook', async () => {
    const { Conn, log } = connectionStep();
    const deadLetters: unknown[] = [];
    const p = new Pipeline([[Conn, 2, { maxRetries: 2 }]], {
      onItemError: (_err, item) => void deadLetters.push(item),
    });
    p.putAll(range(300));
    const result = await watchdog(p.run(), 10_000, 'run');
    expect(deadLetters).toEqual([]);
    expect(result.count).toBe(300);
    expect(log.processedBy[0] + log.processedBy[1]).toBe(300);
    expect(log.processedBy[0]).toBe(50); // the broken instance did nothing after item 50
    expect(result.steps[0].retried).toBe(log.failedBy[0]);
    expect(result.steps[0].failed).toBe(0);
    expect(result.steps[0].restarts).toBe(0);
  });

  test('with restart, the broken instance is replaced once and nothing is dead-lettered', async () => {
    const { Conn, log } = connectionStep();
    const deadLetters: unknown[] = [];
    const p = new Pipeline([[Conn, 2, { maxRetries: 2, restart: { max: 3, withinMs: 60_000 } }]], {
      onItemError: (_err, item) => void deadLetters.push(item),
    });
    p.putAll(range(300));
    const result = await watchdog(p.run(), 10_000, 'run');
    expect(deadLetters).toEqual([]);
    expect(result.count).toBe(300);
    expect(result.steps[0].restarts).toBe(1);
    expect(log.failedBy[0]).toBe(1);
    expect(log.made).toBe(3); // two instances, one replacement
    expect(log.initialized).toBe(3);
    expect(log.shutdowns).toBe(3); // every object made is shut down exactly once
  });

  test('a retry waits for the other instance while it is busy, then runs there', async () => {
    const where: Array<[number, number]> = [];
    let failedOnce = false;
    const p = new Pipeline([
      [
        async (n: number, ctx) => {
          where.push([n, ctx.index]);
          if (n === 0 && !failedOnce) {
            failedOnce = true;
            throw new Error('once');
          }
          await delay(n === 1 ? 30 : 0);
          return n;
        },
        2,
        { maxRetries: 1 },
      ],
    ]);
    p.putAll([0, 1]);
    const result = await watchdog(p.run(), 2000, 'run');
    expect(result.count).toBe(2);
    const [first, , retry] = where;
    expect(first[0]).toBe(0);
    expect(retry[0]).toBe(0);
    expect(retry[1]).not.toBe(first[1]);
  });

  test('with one instance a retry runs on that instance', async () => {
    const indices: number[] = [];
    let calls = 0;
    const p = new Pipeline([
      [
        (n: number, ctx) => {
          indices.push(ctx.index);
          if (calls++ === 0) throw new Error('once');
          return n;
        },
        1,
        { maxRetries: 1 },
      ],
    ]);
    p.put(1);
    expect((await p.run()).count).toBe(1);
    expect(indices).toEqual([0, 0]);
  });

  test('an item whose retries all fail names the instance of its last attempt', async () => {
    const p = new Pipeline([
      [
        (_n: number, ctx) => {
          throw Object.assign(new Error('always'), { at: ctx.index });
        },
        3,
        { maxRetries: 2 },
      ],
    ]);
    p.put(1);
    const err = (await p.run().catch((e: unknown) => e)) as Error & { at: number };
    expect(err.message).toBe('always');
    expect(errorOrigin(err)).toEqual({ step: 'step0', instance: err.at });
  });
});
