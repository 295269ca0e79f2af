/**
 * Randomized pipelines (fast-check): random shapes of every step kind, random sizes, buffers,
 * order, retries and dead letters, random faults (about one run in five has one; most are fatal),
 * aborts and early `break`s; fast-check's scheduler decides when each paused async step, the
 * async source and a slow consumer resume, so completions interleave in every order.
 *
 * The pipeline builder, the reference model and every check live in
 * scripts/random-pipeline.cjs, shared with the soak run (scripts/soak.mjs); a run passes when
 * it reports no problem. On failure fast-check prints the seed, the path and the shrunk
 * counterexample: paste the spec into a named regression test below.
 */
import { Transform } from 'node:stream';
import fc from 'fast-check';
import * as lib from '../../src';
import {
  INPUTS,
  KNOWN_BUGS,
  MODES,
  OPS,
  STEP_KINDS,
  WORKER_KIND,
  normalizeStep,
  runSpec,
  type FaultSpec,
  type Spec,
  type StepSpec,
} from '../../scripts/random-pipeline.cjs';
import { delay, watchdog } from '../support/helpers';
import { trackThreads } from '../support/threads';

const stepArb: fc.Arbitrary<StepSpec> = fc
  .record({
    kind: fc.constantFrom(...STEP_KINDS, WORKER_KIND),
    concurrency: fc.integer({ min: 1, max: 8 }),
    highWaterMark: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
    ordered: fc.boolean(),
    op: fc.constantFrom(...OPS),
    keyBy: fc.option(fc.integer({ min: 1, max: 10 }), { freq: 4, nil: undefined }),
    timeout: fc.option(fc.constant(true), { freq: 9, nil: undefined }),
    restart: fc.option(fc.constant(true), { freq: 2, nil: undefined }),
  })
  .map(normalizeStep);

const faultArb = fc.record({
  step: fc.nat(5),
  pick: fc.nat(1000),
  times: fc.constantFrom(1, 2, 3, 99),
  how: fc.nat(1),
});

function specArb(options: { kinds?: readonly StepSpec['kind'][]; maxItems?: number } = {}) {
  const maxItems = options.maxItems ?? 300;
  const kinds: readonly StepSpec['kind'][] = options.kinds ?? STEP_KINDS;
  return fc
    .record({
      steps: fc.array(
        stepArb.filter((s) => kinds.includes(s.kind)),
        { minLength: 1, maxLength: 6 },
      ),
      items: fc.integer({ min: 0, max: maxItems }),
      input: fc.constantFrom(...INPUTS),
      mode: fc.constantFrom(...MODES),
      highWaterMark: fc.integer({ min: 1, max: 8 }),
      ordered: fc.boolean(),
      maxRetries: fc.integer({ min: 0, max: 2 }),
      deadLetter: fc.boolean(),
      faults: fc.oneof(
        { weight: 4, arbitrary: fc.constant<FaultSpec[]>([]) },
        { weight: 1, arbitrary: fc.array(faultArb, { minLength: 1, maxLength: 2 }) },
      ),
      sourceFault: fc.option(fc.record({ at: fc.nat(maxItems) }), { freq: 20, nil: null }),
      abortAt: fc.option(fc.nat(maxItems), { freq: 20, nil: null }),
      breakAfter: fc.option(fc.nat(maxItems), { freq: 10, nil: null }),
      slowConsumer: fc.boolean(),
      acks: fc.boolean(),
    })
    .map((spec): Spec => ({
      ...spec,
      breakAfter: spec.mode === 'iterate' ? spec.breakAfter : null,
    }));
}

/** Runs a spec with fast-check's scheduler in charge of every pause. */
async function check(spec: Spec, s: fc.Scheduler): Promise<string[]> {
  const threads = trackThreads();
  try {
    const { problems } = await runSpec(spec, lib, {
      pause: (label) => s.schedule(Promise.resolve(label), label),
      waitFor: (promise) => s.waitFor(promise),
      // Worker threads take tens of milliseconds to start on a busy machine.
      timeoutMs: spec.steps.some((step) => step.kind === WORKER_KIND) ? 10_000 : 2000,
      threadsRunning: () => threads.running().length,
    });
    return problems;
  } finally {
    threads.stop();
  }
}

/** Same spec, no scheduler: pauses are plain event-loop turns (for the regression tests). */
async function checkPlain(spec: Spec): Promise<string[]> {
  const { problems } = await runSpec(spec, lib, {
    pause: () => new Promise((resolve) => setImmediate(resolve)),
    waitFor: (promise) => promise,
    timeoutMs: 2000,
  });
  return problems;
}

describe('randomized pipelines', () => {
  test('any shape, any mode, with faults, aborts and breaks: every promise holds', async () => {
    await fc.assert(
      fc.asyncProperty(specArb(), fc.scheduler(), async (spec, s) => {
        expect(await check(spec, s)).toEqual([]);
      }),
      { numRuns: 700 },
    );
  }, 120_000);

  test('with worker steps among the others: every promise holds, no thread outlives its run', async () => {
    await fc.assert(
      fc.asyncProperty(
        specArb({ kinds: ['sync', 'async', 'iter', WORKER_KIND], maxItems: 200 }).filter((spec) =>
          spec.steps.some((step) => step.kind === WORKER_KIND),
        ),
        fc.scheduler(),
        async (spec, s) => {
          expect(await check(spec, s)).toEqual([]);
        },
      ),
      { numRuns: 30 },
    );
  }, 120_000);

  test('function and class steps only: items inside never exceed maxItemsInside', async () => {
    await fc.assert(
      fc.asyncProperty(
        specArb({ kinds: ['sync', 'async', 'class'] }).map((spec) => ({
          ...spec,
          input: spec.input === 'array' ? ('sync' as const) : spec.input,
          mode: spec.mode === 'stream' ? ('iterate' as const) : spec.mode,
          slowConsumer: true,
        })),
        fc.scheduler(),
        async (spec, s) => {
          expect(await check(spec, s)).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  }, 120_000);

  test('acknowledgements: acked inputs were given, once each, all on success, after their outputs', async () => {
    await fc.assert(
      fc.asyncProperty(
        // 'stream' steps are foreign Transforms (core streams): attributed like iterator steps.
        specArb({ kinds: ['sync', 'async', 'class', 'iter', 'stream'] }).map((spec) => ({
          ...spec,
          mode: spec.mode === 'stream' ? ('run' as const) : spec.mode,
          acks: true,
        })),
        fc.scheduler(),
        async (spec, s) => {
          expect(await check(spec, s)).toEqual([]);
        },
      ),
      { numRuns: 400 },
    );
  }, 120_000);
});

/** Runs `fn` with one of the runner's workarounds for a known bug switched off. */
async function withoutWorkaround<T>(bug: keyof typeof KNOWN_BUGS, fn: () => Promise<T>) {
  const saved = KNOWN_BUGS[bug];
  KNOWN_BUGS[bug] = false;
  try {
    return await fn();
  } finally {
    KNOWN_BUGS[bug] = saved;
  }
}

/** Replays a spec with fast-check's scheduler releasing the paused tasks in a given order. */
async function replay(spec: Spec, order: number[]): Promise<string[]> {
  const s = fc.schedulerFor(order);
  const { problems } = await runSpec(spec, lib, {
    pause: (label) => s.schedule(Promise.resolve(label), label),
    waitFor: (promise) => s.waitFor(promise),
    timeoutMs: 2000,
  });
  return problems;
}

const base: Spec = {
  steps: [],
  items: 0,
  input: 'async',
  mode: 'iterate',
  highWaterMark: 1,
  ordered: false,
  maxRetries: 0,
  deadLetter: false,
  faults: [],
  sourceFault: null,
  abortAt: null,
  breakAfter: null,
  slowConsumer: false,
};
const step = (kind: StepSpec['kind'], more: Partial<StepSpec> = {}): StepSpec => ({
  kind,
  concurrency: 1,
  highWaterMark: undefined,
  ordered: false,
  op: 'id',
  ...more,
});

describe('regressions (counterexamples found by the properties)', () => {
  // Found by the acknowledgement property (fast-check seed 1225051882): a stage whose
  // _construct is async (a Step class) wrote a chunk that arrived just after construction ahead
  // of one buffered during it, so an ordered pipeline emitted [1, 0]. Fails without
  // util/construct-in-order.ts, with acknowledgements on or off.
  test('a write arriving as a stage finishes constructing stays behind the buffered ones', async () => {
    const spec: Spec = {
      ...base,
      steps: [step('sync', { concurrency: 2, ordered: true }), step('class')],
      items: 2,
      input: 'async',
      mode: 'run',
      highWaterMark: 2,
      acks: true,
    };
    expect(await replay({ ...spec, acks: false }, [1, 2, 4, 3, 5, 6])).toEqual([]);
    expect(await replay(spec, [1, 2, 4, 3, 5, 6])).toEqual([]);
  });

  // Found by the soak (seed 4150): a class step with `restart` replaced its failing instance
  // before failing the run, so a later error of another step was reported instead.
  test('a fatal failure in a step with restart is the error reported, not a later one', async () => {
    const spec: Spec = {
      ...base,
      steps: [
        step('sync', { concurrency: 2, highWaterMark: 8, timeout: true }),
        step('iter', { concurrency: 7, op: 'filter' }),
        step('class', { concurrency: 6, highWaterMark: 8, restart: true }),
        step('sync', { concurrency: 4, ordered: true, op: 'scale' }),
        step('stream', { concurrency: 2, op: 'dup' }),
        step('sync', { concurrency: 2, highWaterMark: 7, op: 'scale' }),
      ],
      items: 189,
      input: 'array',
      mode: 'stream',
      ordered: true,
      faults: [
        { step: 2, pick: 707, times: 3, how: 0 },
        { step: 0, pick: 148, times: 99, how: 0 },
      ],
      acks: true,
    };
    expect(await checkPlain(spec)).toEqual([]);
  });

  test('an empty input through one step of each kind', async () => {
    for (const kind of STEP_KINDS) {
      expect(await checkPlain({ ...base, steps: [step(kind, { concurrency: 2 })] })).toEqual([]);
    }
  });

  // Bug: /tmp/paipa-bugs/stream-write-after-destroy-masks-error.md (seed -1347565536).
  test('a stream step failing while the upstream still writes reports its own error', async () => {
    const spec: Spec = {
      ...base,
      steps: [step('sync'), step('stream', { highWaterMark: 1 })],
      items: 34,
      mode: 'stream',
      faults: [{ step: 3, pick: 408, times: 1, how: 0 }],
    };
    const problems = await withoutWorkaround('streamWriteAfterDestroy', () =>
      replay(spec, [1, 3, 2, 4, 5]),
    );
    expect(problems).toEqual([]);
  });

  // Bug: /tmp/paipa-bugs/stream-write-after-destroy-masks-error.md, second symptom
  // (seed -2090891415).
  test('an abort before a later source error is reported as the abort in stream()', async () => {
    const spec: Spec = {
      ...base,
      steps: [step('sync')],
      items: 6,
      mode: 'stream',
      sourceFault: { at: 6 },
      abortAt: 5,
    };
    const problems = await withoutWorkaround('streamWriteAfterDestroy', () =>
      replay(spec, [1, 2, 3, 4, 5, 6, 7]),
    );
    expect(problems).toEqual([]);
  });

  // Bug: /tmp/paipa-bugs/for-await-exceeds-max-items-inside.md (seed 424994446).
  test('for await with a slow body stays within maxItemsInside', async () => {
    const spec: Spec = {
      ...base,
      steps: [step('sync')],
      items: 19,
      input: 'sync',
      highWaterMark: 4,
      slowConsumer: true,
    };
    const order = Array.from({ length: 19 }, (_, i) => i + 1);
    const problems = await withoutWorkaround('forAwaitExceedsBound', () => replay(spec, order));
    expect(problems).toEqual([]);
  });

  // Bug: /tmp/paipa-bugs/first-error-loses-to-later-error-during-async-shutdown.md
  // (soak seeds 8577, 15581, 17834).
  test('the first error wins over a later source error while shutdown hooks run', async () => {
    const first = new Error('first: the step');
    const later = new Error('later: the source');
    const order: string[] = [];
    class Failing extends lib.Step {
      process(n: number) {
        if (n === 3) {
          order.push('step throws');
          throw first;
        }
        return n;
      }
      async shutdown() {
        await delay(20);
      }
    }
    async function* source() {
      for (let i = 0; ; i++) {
        if (i === 8) {
          order.push('source throws');
          throw later;
        }
        await delay(1);
        yield i;
      }
    }
    const p = new lib.Pipeline([Failing]);
    p.putIterable(source());
    const err = await watchdog(p.run().catch((e: unknown) => e));
    // The step's error tears the run down at once: the source may never get to fail.
    expect(order[0]).toBe('step throws');
    expect(err).toBe(first);
  });

  // Bug: /tmp/paipa-bugs/first-error-loses-to-later-error-during-async-shutdown.md, second
  // symptom (seed -1257450443).
  test('a step error raised before an abort is the one reported', async () => {
    const spec: Spec = {
      ...base,
      steps: [step('async', { concurrency: 2 }), step('iter'), step('sync')],
      items: 5,
      input: 'array',
      mode: 'run',
      highWaterMark: 2,
      faults: [{ step: 1, pick: 0, times: 1, how: 0 }],
      abortAt: 4,
    };
    const problems = await withoutWorkaround('firstErrorLosesDuringShutdown', () =>
      replay(spec, [1, 3, 4, 5, 2, 6]),
    );
    expect(problems).toEqual([]);
  });

  // Bug: /tmp/paipa-bugs/abort-inside-stream-step-uncaught.md (soak seeds 3249, 5625, ...).
  test('a stream step that aborts its pipeline from inside transform()', async () => {
    const controller = new AbortController();
    // The engine's listeners on the step's stream would throw out of emit() as an uncaught
    // exception; catching them at the emit keeps the failure inside this test.
    const thrownByListeners: unknown[] = [];
    let seen = 0;
    const p = new lib.Pipeline(
      [
        [
          lib.streamStep(() => {
            const t = new Transform({
              objectMode: true,
              highWaterMark: 1,
              transform(n: number, _e, cb) {
                if (seen++ === 10) controller.abort();
                setImmediate(() => cb(null, n));
              },
            });
            const emit = t.emit.bind(t);
            t.emit = (event: string | symbol, ...args: unknown[]) => {
              try {
                return emit(event, ...args);
              } catch (err) {
                thrownByListeners.push(err);
                return true;
              }
            };
            return t;
          }),
          2,
        ],
      ],
      { signal: controller.signal, highWaterMark: 1 },
    );
    p.putAll(Array.from({ length: 50 }, (_, i) => i));
    await expect(watchdog(p.run())).rejects.toMatchObject({ name: 'AbortError' });
    expect(thrownByListeners).toEqual([]);
  });
});
