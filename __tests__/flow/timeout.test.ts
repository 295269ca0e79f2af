import { PaipaError, Pipeline, Step, errorOrigin } from '../../src';
import type { StepContext } from '../../src';
import { delay, watchdog } from '../support/helpers';

describe('timeout', () => {
  test('a call that does not settle in time fails the run with ERR_PAIPA_TIMEOUT naming the step and the limit', async () => {
    const p = new Pipeline([[() => new Promise(() => {}), 1, { name: 'hangs', timeout: 30 }]]);
    p.put(1);
    const err = (await watchdog(
      p.run().catch((e: unknown) => e),
      2000,
      'run',
    )) as PaipaError;
    expect(err).toBeInstanceOf(PaipaError);
    expect(err.code).toBe('ERR_PAIPA_TIMEOUT');
    expect(err.message).toMatch(/hangs.*30 ms/);
    expect(errorOrigin(err)).toEqual({ step: 'hangs', instance: 0 });
  });

  test("the call's ctx.signal is aborted at the deadline with the timeout error", async () => {
    let seen: AbortSignal | undefined;
    const p = new Pipeline([
      [
        (_n: number, ctx: StepContext) =>
          new Promise((_, reject) => {
            seen = ctx.signal;
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
          }),
        1,
        { timeout: 20 },
      ],
    ]);
    p.put(1);
    const err = await watchdog(
      p.run().catch((e: unknown) => e),
      2000,
      'run',
    );
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBe(err);
  });

  test('a timed-out call is retried, and its late result is dropped and never counted', async () => {
    let calls = 0;
    const outputs: string[] = [];
    const p = new Pipeline([
      [
        async () => {
          const attempt = ++calls;
          await delay(attempt === 1 ? 80 : 0);
          return `attempt ${attempt}`;
        },
        1,
        { timeout: 30, maxRetries: 1 },
      ],
      (s: string) => {
        outputs.push(s);
        return s;
      },
    ]);
    p.put(1);
    const result = await watchdog(p.run(), 2000, 'run');
    await delay(100); // the first attempt resolves now: nothing may come of it
    expect(outputs).toEqual(['attempt 2']);
    expect(result.count).toBe(1);
    expect(result.steps[0]).toMatchObject({ in: 1, out: 1, retried: 1, failed: 0 });
  });

  test('a timed-out item goes to onItemError when retries run out', async () => {
    const dead: unknown[] = [];
    const p = new Pipeline(
      [[async (n: number) => (n === 2 ? new Promise(() => {}) : n), 2, { timeout: 20 }]],
      {
        onItemError: (err, item) => void dead.push([item, (err as PaipaError).code]),
      },
    );
    p.putAll([1, 2, 3]);
    const result = await watchdog(p.run(), 2000, 'run');
    expect(dead).toEqual([[2, 'ERR_PAIPA_TIMEOUT']]);
    expect(result.count).toBe(2);
    expect(result.steps[0].failed).toBe(1);
  });

  test('a class step with a timeout gets a per-call signal, aborted at teardown too', async () => {
    const signals: AbortSignal[] = [];
    class Slow extends Step<number, number> {
      async process(n: number, ctx: StepContext) {
        signals.push(ctx.signal);
        if (n === 1) throw new Error('fails the run');
        await new Promise((resolve) => setTimeout(resolve, 200));
        return n;
      }
    }
    const p = new Pipeline([[Slow, 2, { timeout: 10_000 }]]);
    p.putAll([2, 1]);
    await expect(watchdog(p.run(), 2000, 'run')).rejects.toThrow('fails the run');
    expect(signals).toHaveLength(2);
    expect(signals[0]).not.toBe(signals[1]);
    expect(signals[0].aborted).toBe(true); // item 2's call was still running at teardown
    await delay(210); // let the abandoned call's own timer run out before the leak check
  });

  test('a sync result under a timeout is emitted at once, with no timer', async () => {
    const p = new Pipeline([[(n: number) => n * 2, 1, { timeout: 5 }]]);
    p.putAll([1, 2, 3]);
    const out: number[] = [];
    for await (const n of p) out.push(n);
    expect(out).toEqual([2, 4, 6]);
  });
});
