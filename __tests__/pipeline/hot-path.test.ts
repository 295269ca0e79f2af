/**
 * The hot path of function steps: a call that returns a plain value finishes in place and its
 * output goes straight on to the next step of the stage (`StepRunner.take`, `RunnerStage`). Every
 * other case (a promise, a throw, a skip, a teardown during the call) must behave exactly as
 * on the general path.
 */
import { Pipeline } from '../../src';
import { RunnerStage } from '../../src/stages/runner-stage';
import { delay, range, watchdog } from '../support/helpers';

describe('function steps finishing in place', () => {
  test('a fused chain where one step is sometimes async keeps input order and counts', async () => {
    const seen: number[] = [];
    const p = new Pipeline(
      [
        (n: number) => n + 1,
        (n: number) => (n % 3 === 0 ? delay(0).then(() => n * 2) : n * 2),
        (n: number) => (seen.push(n), n),
      ],
      { highWaterMark: 4 },
    );
    p.putIterable(range(300));
    const result = await watchdog(p.run());
    expect(seen).toEqual(range(300).map((n) => (n + 1) * 2));
    expect(result.steps.map((s) => [s.in, s.out])).toEqual([
      [300, 300],
      [300, 300],
      [300, 300],
    ]);
  });

  test('a sync throw is retried and the output keeps its place', async () => {
    let failures = 0;
    const seen: number[] = [];
    const p = new Pipeline(
      [
        (n: number) => {
          if (n % 10 === 5 && failures++ % 2 === 0) throw new Error(`flaky ${n}`);
          return n;
        },
        (n: number) => (seen.push(n), n),
      ],
      { maxRetries: 1, highWaterMark: 3 },
    );
    p.putIterable(range(50));
    const result = await watchdog(p.run());
    expect(seen).toEqual(range(50));
    expect(result.steps[0].retried).toBe(5);
    expect(result.steps[0].out).toBe(50);
  });

  test('a skip in the middle is counted as skipped there, nothing from the last step as stored', async () => {
    const p = new Pipeline([(n: number) => (n % 2 === 0 ? n : null), (n: number) => void n]);
    p.putIterable(range(20));
    const result = await watchdog(p.run());
    expect(result.steps.map((s) => [s.in, s.out, s.skipped, s.stored])).toEqual([
      [20, 10, 10, 0],
      [10, 0, 0, 10],
    ]);
    expect(result.count).toBe(10);
  });

  test('a step that aborts the run during its call has its result dropped', async () => {
    const controller = new AbortController();
    const after: number[] = [];
    const p = new Pipeline(
      [
        (n: number) => {
          if (n === 7) controller.abort(new Error('stop here'));
          return n;
        },
        (n: number) => (after.push(n), n),
      ],
      { signal: controller.signal },
    );
    p.putIterable(range(100));
    await expect(watchdog(p.run())).rejects.toMatchObject({ name: 'AbortError' });
    expect(after).toEqual(range(7));
  });

  test('while the loop holds back, input waits before the first step, not in the queues between steps', async () => {
    const p = new Pipeline([(n: number) => n + 1, (n: number) => n * 2, (n: number) => n - 1], {
      highWaterMark: 4,
    });
    p.putIterable(range(100));
    const iterator = p[Symbol.asyncIterator]();
    const first = await iterator.next();
    expect(first.value).toBe(1);
    await delay(5);
    const queued = p.stats().map((s) => s.queued);
    expect(queued[1]).toBe(0);
    expect(queued[2]).toBe(0);
    expect(queued[0]).toBeGreaterThan(0);
    let count = 1;
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) count++;
    expect(count).toBe(100);
  });

  test.each([48, 50])(
    'a source that throws after %i items, as the first stage takes its next batch, fails the run with its error',
    async (count) => {
      function* failing() {
        for (let i = 0; i < count; i++) yield i;
        throw new Error('source broke');
      }
      const seen: number[] = [];
      const p = new Pipeline([(n: number) => n + 1, (n: number) => (seen.push(n), n)], {
        highWaterMark: 4,
      });
      p.putIterable(failing());
      await expect(watchdog(p.run())).rejects.toThrow('source broke');
      expect(seen).toEqual(range(seen.length, 1));
      expect(seen.length).toBeLessThanOrEqual(count);
    },
  );

  test('a full last buffer stops the chain and resumes it without losing or repeating items', async () => {
    const p = new Pipeline([(n: number) => n * 3, (n: number) => n + 1], { highWaterMark: 2 });
    p.putIterable(range(500));
    const out: number[] = [];
    for await (const x of p) {
      out.push(x as number);
      if (out.length % 50 === 0) await delay(1);
    }
    expect(out).toEqual(range(500).map((n) => n * 3 + 1));
  });
});

describe('outputs handed from one stage of function steps to the next', () => {
  test('a parallel step hands its outputs to a free next step without pushing them', async () => {
    const pushes = jest.spyOn(RunnerStage.prototype, 'push');
    try {
      const seen: number[] = [];
      const p = new Pipeline([[async (n: number) => n + 1, 4], (n: number) => (seen.push(n), n)]);
      p.putIterable(range(200));
      const result = await watchdog(p.run());
      expect(result.count).toBe(200);
      expect(seen.slice().sort((a, b) => a - b)).toEqual(range(200, 1));
      // The last stage's outputs go to the sink (its own push); only the end is pushed here.
      expect(pushes.mock.calls.filter(([chunk]) => chunk !== null)).toHaveLength(0);
    } finally {
      pushes.mockRestore();
    }
  });

  test('outputs keep input order when the next step is sometimes slow (ordered)', async () => {
    const pushes = jest.spyOn(RunnerStage.prototype, 'push');
    try {
      const p = new Pipeline(
        [
          [async (n: number) => (n % 7 === 0 ? delay(2).then(() => n) : n), 4],
          (n: number) => (n % 25 === 0 ? delay(3).then(() => n) : n),
        ],
        { ordered: true, highWaterMark: 3 },
      );
      p.putIterable(range(300));
      const out: number[] = [];
      for await (const x of p) out.push(x as number);
      expect(out).toEqual(range(300));
      // While the next step was busy, outputs went through the stream between the stages.
      expect(pushes.mock.calls.filter(([chunk]) => chunk !== null).length).toBeGreaterThan(0);
    } finally {
      pushes.mockRestore();
    }
  });
});
