import { Pipeline, Step } from '../../src';
import { range, watchdog } from '../support/helpers';

/** A Step class that logs its hooks, tagged with which object (generation) ran them. */
function logged(failWhen: (n: number, objectId: number) => boolean) {
  const events: string[] = [];
  let made = 0;
  class Logged extends Step<number, number> {
    readonly id = made++;
    async stepInitialize() {
      events.push('stepInitialize');
      this.shared.pool = 'pool';
    }
    async initialize() {
      events.push(`initialize #${this.id}`);
    }
    async start() {
      events.push(`start #${this.id}`);
    }
    async process(n: number) {
      events.push(`process ${n} #${this.id} ${String(this.shared.pool)}`);
      if (failWhen(n, this.id)) throw new Error(`failed ${n} on #${this.id}`);
      return n;
    }
    async shutdown() {
      events.push(`shutdown #${this.id}`);
    }
    async stepShutdown() {
      events.push('stepShutdown');
    }
  }
  return { Logged, events, made: () => made };
}

describe('restart', () => {
  test('a failing instance is shut down and replaced before its item is retried on the fresh one', async () => {
    const { Logged, events } = logged((n, id) => n === 2 && id === 0);
    const p = new Pipeline([[Logged, 1, { maxRetries: 1, restart: { max: 1, withinMs: 10_000 } }]]);
    p.putAll([1, 2, 3]);
    const result = await watchdog(p.run(), 2000, 'run');
    expect(result.count).toBe(3);
    expect(result.steps[0].restarts).toBe(1);
    expect(events).toEqual([
      'stepInitialize',
      'initialize #0',
      'start #0',
      'process 1 #0 pool',
      'process 2 #0 pool',
      'shutdown #0',
      'initialize #1',
      'start #1',
      'process 2 #1 pool', // the retry, on the fresh object, with the same shared state
      'process 3 #1 pool',
      'shutdown #1',
      'stepShutdown',
    ]);
  });

  test('without retries the item goes to onItemError after the restart', async () => {
    const { Logged, events } = logged((n, id) => n === 1 && id === 0);
    const dead: unknown[] = [];
    const p = new Pipeline([[Logged, 1, { restart: { max: 5, withinMs: 10_000 } }]], {
      onItemError: (_e, item) => void dead.push(item),
    });
    p.putAll([1, 2]);
    const result = await watchdog(p.run(), 2000, 'run');
    expect(dead).toEqual([1]);
    expect(result.steps[0]).toMatchObject({ restarts: 1, failed: 1, out: 1 });
    expect(events.indexOf('start #1')).toBeLessThan(events.indexOf('process 2 #1 pool'));
  });

  test('one restart more than the budget fails the run with the last error', async () => {
    const { Logged, events, made } = logged(() => true);
    const p = new Pipeline([
      [Logged, 1, { maxRetries: 10, restart: { max: 2, withinMs: 60_000 } }],
    ]);
    p.put(7);
    const err = (await watchdog(
      p.run().catch((e: unknown) => e),
      2000,
      'run',
    )) as Error;
    expect(err.message).toBe('failed 7 on #2');
    expect(made()).toBe(3); // the original and two replacements
    // hooks exactly once per object made; stepInitialize/stepShutdown once
    for (const id of [0, 1, 2]) {
      expect(events.filter((e) => e === `initialize #${id}`)).toHaveLength(1);
      expect(events.filter((e) => e === `shutdown #${id}`)).toHaveLength(1);
    }
    expect(events.filter((e) => e === 'stepInitialize')).toHaveLength(1);
    expect(events.filter((e) => e === 'stepShutdown')).toHaveLength(1);
  });

  test('a replacement whose initialize() throws fails the run with that error', async () => {
    const boom = new Error('cannot reconnect');
    let initializations = 0;
    class Flaky extends Step<number, number> {
      async initialize() {
        if (initializations++ === 1) throw boom;
      }
      async process(): Promise<number> {
        throw new Error('broken');
      }
    }
    const p = new Pipeline([[Flaky, 1, { maxRetries: 1, restart: { max: 3, withinMs: 1000 } }]]);
    p.put(1);
    await expect(watchdog(p.run(), 2000, 'run')).rejects.toBe(boom);
  });

  test('a failure that fails the run is reported at once, without a restart first', async () => {
    const { Logged, events } = logged((n) => n === 1);
    const p = new Pipeline([[Logged, 1, { restart: { max: 5, withinMs: 10_000 } }]]);
    p.put(1);
    const err = (await watchdog(
      p.run().catch((e: unknown) => e),
      2000,
      'run',
    )) as Error;
    expect(err.message).toBe('failed 1 on #0');
    expect(events).not.toContain('initialize #1');
    expect(events.filter((e) => e.startsWith('shutdown'))).toEqual(['shutdown #0']);
  });

  test('SkipEntry does not restart the instance', async () => {
    const { Logged } = logged(() => false);
    class Skipping extends Logged {
      async process(n: number): Promise<number> {
        if (n === 1) {
          const { SkipEntry } = await import('../../src');
          throw new SkipEntry();
        }
        return super.process(n);
      }
    }
    const p = new Pipeline([[Skipping, 1, { restart: { max: 1, withinMs: 1000 } }]]);
    p.putAll(range(3));
    const result = await p.run();
    expect(result.steps[0]).toMatchObject({ restarts: 0, skipped: 1, out: 2 });
  });
});
