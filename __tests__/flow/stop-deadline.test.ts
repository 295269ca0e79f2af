import { AbortError, PaipaError, Pipeline } from '../../src';
import type { StepContext } from '../../src';
import { deferred, delay, watchdog } from '../support/helpers';

describe('stop({ timeoutMs })', () => {
  test('a pipeline that has not drained by the deadline is torn down and stop() rejects with an AbortError', async () => {
    const gate = deferred();
    let signal: AbortSignal | undefined;
    const p = new Pipeline([
      async (n: number, ctx: StepContext) => {
        signal = ctx.signal;
        await gate.promise;
        return n;
      },
    ]);
    p.start();
    p.put(1);
    p.put(2);
    await delay(10);
    const t = performance.now();
    const err = (await watchdog(
      p.stop({ timeoutMs: 50 }).catch((e: unknown) => e),
      2000,
      'stop',
    )) as AbortError;
    expect(performance.now() - t).toBeGreaterThanOrEqual(45);
    expect(err).toBeInstanceOf(AbortError);
    expect((err.cause as PaipaError).code).toBe('ERR_PAIPA_TIMEOUT');
    expect((err.cause as PaipaError).message).toMatch(/50 ms/);
    expect(signal?.aborted).toBe(true);
    expect(p.alive).toBe(false);
    gate.resolve();
  });

  test('a pipeline that drains before the deadline resolves as stop() does, leaving no timer', async () => {
    const p = new Pipeline([
      async (n: number) => {
        await delay(5);
        return n;
      },
    ]);
    p.start();
    p.put(1);
    p.put(2);
    const result = await watchdog(p.stop({ timeoutMs: 5000 }), 2000, 'stop');
    expect(result.count).toBe(2);
    // the global leak check fails this test if the 5 s deadline timer is still alive
  });

  test.each([
    [{ timeoutMs: -1 }, RangeError, /stop\(\) options\.timeoutMs.*from 0.*-1/],
    [{ timeoutMs: 'soon' }, TypeError, /stop\(\) options\.timeoutMs.*"soon"/],
    [{ deadline: 5 }, TypeError, /Unknown option `deadline` in stop\(\) options/],
  ])('stop(%p) is refused with a message naming the option', async (options, type, message) => {
    const p = new Pipeline([(n: number) => n]);
    p.start();
    await expect(p.stop(options as never)).rejects.toThrow(type);
    await expect(p.stop(options as never)).rejects.toThrow(message);
    await p.stop();
  });
});
