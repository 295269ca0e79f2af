/**
 * Leak gates: 10,000 small pipelines, one after another, in every mode (run, for-await to the
 * end and with an early break, stream() into a long-lived sink, start/put/stop, failing steps
 * of each kind, aborts), must leave nothing behind:
 *
 * - `process.getActiveResourcesInfo()` back to its baseline (no timer, socket, handle left);
 * - listener counts on the user's long-lived objects back to baseline: an AbortSignal passed as
 *   `options.signal` to every pipeline, and a Writable that every stream() run is piped into;
 * - no 'warning' event (MaxListenersExceededWarning and the like), no unhandledRejection, no
 *   uncaughtException: counted on the real process (jest's sandbox has a copy of `process`
 *   that never sees those events, so the listeners go on the real one, reached through
 *   `vm.runInThisContext`);
 * - the heap after `global.gc()` within 5 MB of the start. That needs `--expose-gc`, which
 *   `npm test` does not pass to jest: without it the check is skipped here and done by the soak
 *   run (`npm run soak`), which runs with `--expose-gc`.
 */
import { getEventListeners } from 'node:events';
import { Readable, Transform, Writable } from 'node:stream';
import { runInThisContext } from 'node:vm';
import { join } from 'node:path';
import { Pipeline, Step, iterStep, streamStep, workerStep } from '../../src';
import { nextTurn } from '../support/helpers';
import { trackThreads } from '../support/threads';

const realProcess = runInThisContext('process') as NodeJS.Process;
const RUNS = 10_000;

class Boom extends Error {}

class Doubler extends Step<number, number> {
  process(n: number) {
    return n * 2;
  }
}

const items = [1, 2, 3, 4, 5];
const passThrough = () =>
  new Transform({ objectMode: true, transform: (n, _enc, cb) => cb(null, n) });
const failOn3 = (n: number) => {
  if (n === 3) throw new Boom('item 3');
  return n;
};

/** One small pipeline; which mode and which fault depends on `i`. */
function runOne(i: number, signal: AbortSignal, sink: Writable): Promise<void> {
  return runOneWith(null, i, signal, sink);
}

/** `runOne` with `first` (if given) as the first step. */
async function runOneWith(
  first: unknown,
  i: number,
  signal: AbortSignal,
  sink: Writable,
): Promise<void> {
  const steps: unknown[] = [
    ...(first === null ? [] : [first]),
    [async (n: number) => n + 1, 2],
    Doubler,
    i % 2
      ? iterStep(async function* (xs: AsyncIterable<number>) {
          for await (const x of xs) yield x;
        })
      : [streamStep(passThrough), 2],
  ];
  switch (i % 8) {
    case 0: {
      const p = new Pipeline(steps, { signal, highWaterMark: 2 });
      p.putAll(items);
      await p.run();
      return;
    }
    case 1: {
      const p = new Pipeline(steps, { signal });
      p.putIterable(Readable.from(items));
      for await (const _ of p);
      return;
    }
    case 2: {
      const p = new Pipeline(steps, { signal });
      p.putIterable(items);
      for await (const _ of p) break;
      return;
    }
    case 3: {
      // stream(): piped into the long-lived sink, which must not keep any listener of ours.
      const duplex = new Pipeline(steps, { signal }).stream();
      const ended = new Promise((resolve) => duplex.once('end', resolve));
      duplex.pipe(sink, { end: false });
      Readable.from(items).pipe(duplex);
      await ended;
      return;
    }
    case 4: {
      const p = new Pipeline(steps, { signal });
      p.start();
      for (const n of items) p.put(n);
      await p.stop();
      return;
    }
    case 5: {
      const p = new Pipeline([failOn3, ...steps], { signal });
      p.putAll(items);
      await p.run().then(
        () => Promise.reject(new Error('expected a failure')),
        (err) => (err instanceof Boom ? undefined : Promise.reject(err)),
      );
      return;
    }
    case 6: {
      // A stream step that fails: the pipeline must still let go of everything.
      const failing = streamStep(
        () =>
          new Transform({
            objectMode: true,
            transform: (n: number, _e, cb) => cb(n === 3 ? new Boom('stream') : null, n),
          }),
      );
      const p = new Pipeline([[failing, 2], ...steps], { signal });
      p.putAll(items);
      await p.run().catch((err) => (err instanceof Boom ? undefined : Promise.reject(err)));
      return;
    }
    default: {
      // Aborted by its own controller after the first output (the shared signal never aborts).
      const own = new AbortController();
      const p = new Pipeline(steps, { signal: own.signal });
      p.putIterable(items);
      await (async () => {
        for await (const _ of p) own.abort();
      })().then(
        () => Promise.reject(new Error('expected an AbortError')),
        (err: Error) => (err.name === 'AbortError' ? undefined : Promise.reject(err)),
      );
      if (getEventListeners(own.signal, 'abort').length !== 0) {
        throw new Error('a listener stayed on an aborted signal');
      }
    }
  }
}

/** Counts of active resources by type (timers, handles, requests). */
function resourceCounts(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

function listenerCounts(emitter: NodeJS.EventEmitter): Record<string, number> {
  return Object.fromEntries(emitter.eventNames().map((n) => [String(n), emitter.listenerCount(n)]));
}

/** Resources that are not at or below their baseline count. */
function grownResources(baseline: Record<string, number>): string[] {
  return Object.entries(resourceCounts())
    .filter(([type, n]) => n > (baseline[type] ?? 0))
    .map(([type, n]) => `${type}: ${baseline[type] ?? 0} -> ${n}`);
}

describe('leak gates', () => {
  test(`${RUNS.toLocaleString('en')} small pipelines in every mode leave nothing behind`, async () => {
    const events = { warning: [] as string[], unhandledRejection: 0, uncaughtException: 0 };
    const onWarning = (w: Error) => events.warning.push(`${w.name}: ${w.message}`);
    const onRejection = () => events.unhandledRejection++;
    const onException = () => events.uncaughtException++;
    realProcess.on('warning', onWarning);
    realProcess.on('unhandledRejection', onRejection);
    realProcess.on('uncaughtException', onException);

    const controller = new AbortController();
    const sink = new Writable({ objectMode: true, write: (_c, _e, cb) => cb() });
    const signalBaseline = getEventListeners(controller.signal, 'abort').length;
    const sinkBaseline = listenerCounts(sink);
    const resourceBaseline = resourceCounts();
    const drifts: string[] = [];
    try {
      for (let i = 0; i < RUNS; i++) {
        await runOne(i, controller.signal, sink);
        if (getEventListeners(controller.signal, 'abort').length !== signalBaseline) {
          drifts.push(`run ${i}: abort listeners on the user's signal did not go back`);
        }
        if (i % 500 === 499) {
          // Teardown of the last run may finish in the next turns.
          await nextTurn();
          const sinkNow = listenerCounts(sink);
          if (JSON.stringify(sinkNow) !== JSON.stringify(sinkBaseline)) {
            drifts.push(`run ${i}: sink listeners ${JSON.stringify(sinkNow)}`);
          }
        }
        if (drifts.length > 5) break;
      }
      for (let k = 0; k < 5; k++) await nextTurn();
    } finally {
      realProcess.off('warning', onWarning);
      realProcess.off('unhandledRejection', onRejection);
      realProcess.off('uncaughtException', onException);
    }
    expect(drifts).toEqual([]);
    expect(grownResources(resourceBaseline)).toEqual([]);
    expect(listenerCounts(sink)).toEqual(sinkBaseline);
    expect(events).toEqual({ warning: [], unhandledRejection: 0, uncaughtException: 0 });
  }, 120_000);

  const gc = (global as { gc?: () => void }).gc;
  const heapTest = gc ? test : test.skip;
  if (!gc) {
    // Visible in the test list as skipped; the soak run (`npm run soak`) checks the heap.
    test.todo(
      'heap within 5 MB after global.gc(): run jest with --expose-gc (done by npm run soak)',
    );
  }
  heapTest(
    'the heap goes back to within 5 MB of its start after global.gc()',
    async () => {
      const controller = new AbortController();
      const sink = new Writable({ objectMode: true, write: (_c, _e, cb) => cb() });
      // Warm-up: let the module and JIT caches settle before the baseline.
      for (let i = 0; i < 400; i++) await runOne(i, controller.signal, sink);
      gc!();
      const before = process.memoryUsage().heapUsed;
      for (let i = 0; i < RUNS; i++) await runOne(i, controller.signal, sink);
      for (let k = 0; k < 5; k++) await nextTurn();
      gc!();
      const grownMb = (process.memoryUsage().heapUsed - before) / 2 ** 20;
      expect(grownMb).toBeLessThan(5);
    },
    120_000,
  );

  test('worker-step pipelines in every mode leave no thread, handle or listener behind', async () => {
    const events = { warning: [] as string[], unhandledRejection: 0, uncaughtException: 0 };
    const onWarning = (w: Error) => events.warning.push(`${w.name}: ${w.message}`);
    const onRejection = () => events.unhandledRejection++;
    const onException = () => events.uncaughtException++;
    realProcess.on('warning', onWarning);
    realProcess.on('unhandledRejection', onRejection);
    realProcess.on('uncaughtException', onException);
    const tracker = trackThreads();
    const square = workerStep<number, number>(
      join(__dirname, '..', 'workers', 'fixtures', 'square.mjs'),
    );
    const controller = new AbortController();
    const sink = new Writable({ objectMode: true, write: (_c, _e, cb) => cb() });
    const signalBaseline = getEventListeners(controller.signal, 'abort').length;
    const sinkBaseline = listenerCounts(sink);
    const resourceBaseline = resourceCounts();
    const stillRunning: string[] = [];
    try {
      // Each mode of runOne, with a worker step of two threads in front: 3 rounds of 8 modes.
      for (let i = 0; i < 24; i++) {
        await runOneWith([square, 2], i, controller.signal, sink);
        const running = tracker.running().length;
        if (running > 0) stillRunning.push(`run ${i} (mode ${i % 8}): ${running} threads`);
      }
      for (let k = 0; k < 5; k++) await nextTurn();
    } finally {
      tracker.stop();
      realProcess.off('warning', onWarning);
      realProcess.off('unhandledRejection', onRejection);
      realProcess.off('uncaughtException', onException);
    }
    expect(stillRunning).toEqual([]);
    expect(tracker.running()).toEqual([]);
    expect(tracker.threads.length).toBe(48);
    expect(getEventListeners(controller.signal, 'abort').length).toBe(signalBaseline);
    expect(grownResources(resourceBaseline)).toEqual([]);
    expect(listenerCounts(sink)).toEqual(sinkBaseline);
    expect(events).toEqual({ warning: [], unhandledRejection: 0, uncaughtException: 0 });
  }, 60_000);
});
