/**
 * Fault matrix: one fault injected per case, at a chosen place and moment, in every output mode
 * and at several concurrencies. Each case proves the promise "never hang, never lose the error":
 *
 * - the run settles exactly once (run()/for-await reject once, onFail is called once, the
 *   stream.pipeline callback fires once);
 * - with the very error object that was injected (an AbortError for the hang + abort cases, a
 *   premature-close error only for a stream destroyed without an error);
 * - only after every Step instance that was initialized ran shutdown() exactly once (and
 *   stepShutdown() once), every stream-step instance emitted 'close' and the lazy source was
 *   exhausted, failed by itself, or closed (return() called / stream destroyed); in stream()
 *   mode the settlement checked is the Duplex's 'close' (stream.pipeline does not wait for a
 *   middle stream to close when another one failed, which is Node's behaviour);
 * - within 2 s (watchdog), with no leaked timer or socket (the global leak check).
 *
 * The pipeline is three steps; the faulty step takes the place named by the location and the
 * two others are fillers chosen so that every case has a tracked Step class and a tracked stream
 * step besides the fault: [class, stream, class/func] around a fault at the source or the sink.
 * Every step of a case runs at the case's concurrency, with highWaterMark 2 so backpressure is
 * in play from the first items.
 *
 * Timing, counted in the order items reach the faulty place (not by their values, which
 * unordered steps reorder): `before` = the first item (or a start-up hook, or before any item
 * for onMeta), `mid` = item N/2, `last` = item N-1, `flush` = after the last item (a stream's
 * flush/final, an iterStep after its loop, the source's final next()), `after` = after every
 * item has passed (shutdown hook, a meta entry put after the items).
 *
 * Flow control: the faults of function and class steps (throw, reject, hangAbort, onItemError)
 * run once more at concurrency 2 with `keyBy` and a `timeout` that never fires on the faulty
 * step, and `restart` on a faulty class step (its failing instance is replaced before the run
 * fails), through the runner's dispatch and timed-call paths: the same promises must hold.
 *
 * Left out, because they cannot happen or would test something else:
 * - `flush` for function/class steps: they have no flush; their end is covered by `last`.
 * - `after` for anything but shutdown() and onMeta: once the last item has passed and the
 *   streams have flushed, nothing else of a source, step or sink runs.
 * - cbErr and flushThrow at the source: a lazy source has no callback or flush; its errors are
 *   a throw, a rejection or a destroyed Readable (destroyErr/destroyNoErr), all covered.
 * - hangAbort with `after` (a shutdown hook that never settles): the run waits for shutdown
 *   hooks by contract, and by then the signal is no longer watched (see RELIABILITY.md).
 * - hangAbort in a stream() sink on the last item: by then the pipeline's Duplex has handed on
 *   its last output and ended; a sink stuck after that is outside the pipeline its signal governs.
 * - Sink faults in run(): run() has no user sink; its end is onMeta, covered as its own kind.
 * - Sink faults in for-await other than a throw in the loop body: a loop body has no callback,
 *   no destroy and no flush; a loop body that awaits forever is the consumer's own hang.
 * - A sync throw in a stream() sink's write(): Node streams do not catch it (it would be an
 *   uncaught exception in any stream pipeline); cbErr/destroyErr are the stream way to fail.
 * - onMeta in stream() mode: put()/putMeta() are not available there, so no meta entry exists.
 * - Hook and onItemError faults at the source or sink: those are properties of steps.
 * - reject in a for-await body: the same as a throw there once it reaches the loop.
 */
import { Readable as CoreReadable, Transform, Writable, pipeline } from 'node:stream';
import { AbortError, Pipeline, Step, iterStep, streamStep } from '../../src';
import { nextTurn, watchdog } from '../support/helpers';

const N = 20;
const HWM = 2;

type Kind =
  | 'throw'
  | 'reject'
  | 'cbErr'
  | 'destroyErr'
  | 'destroyNoErr'
  | 'hangAbort'
  | 'flushThrow'
  | 'iterThrow'
  | 'initialize'
  | 'start'
  | 'shutdown'
  | 'onItemError'
  | 'onMeta';
type Location = 'source' | 'first' | 'middle' | 'last' | 'sink';
type Timing = 'before' | 'mid' | 'last' | 'flush' | 'after';
type Mode = 'run' | 'iterate' | 'stream';

const KINDS: Kind[] = [
  'throw',
  'reject',
  'cbErr',
  'destroyErr',
  'destroyNoErr',
  'hangAbort',
  'flushThrow',
  'iterThrow',
  'initialize',
  'start',
  'shutdown',
  'onItemError',
  'onMeta',
];
const LOCATIONS: Location[] = ['source', 'first', 'middle', 'last', 'sink'];
const TIMINGS: Timing[] = ['before', 'mid', 'last', 'flush', 'after'];
const CONCURRENCIES = [1, 2, 8];
const MODES: Mode[] = ['run', 'iterate', 'stream'];

const STEP_AT: Partial<Record<Location, number>> = { first: 0, middle: 1, last: 2 };
const ITEM_TIMINGS: Timing[] = ['before', 'mid', 'last'];
const STREAM_KINDS: Kind[] = ['cbErr', 'destroyErr', 'destroyNoErr', 'flushThrow'];

/** The timings at which a kind of fault can happen at a location (empty: not meaningful). */
function timingsFor(kind: Kind, location: Location, mode: Mode): Timing[] {
  if (location === 'source') {
    if (['throw', 'reject', 'destroyErr', 'destroyNoErr', 'hangAbort'].includes(kind)) {
      return [...ITEM_TIMINGS, 'flush'];
    }
    return [];
  }
  if (location === 'sink') {
    if (mode === 'stream') {
      if (kind === 'flushThrow') return ['flush'];
      if (['cbErr', 'destroyErr', 'destroyNoErr'].includes(kind)) return ITEM_TIMINGS;
      if (kind === 'hangAbort') return ['before', 'mid'];
      return [];
    }
    if (kind === 'onMeta') return ['before', 'mid', 'after'];
    if (kind === 'throw' && mode === 'iterate') return ITEM_TIMINGS;
    return [];
  }
  switch (kind) {
    case 'throw':
    case 'reject':
    case 'onItemError':
      return ITEM_TIMINGS;
    case 'cbErr':
    case 'destroyErr':
    case 'destroyNoErr':
    case 'hangAbort':
    case 'iterThrow':
      return [...ITEM_TIMINGS, 'flush'];
    case 'flushThrow':
      return ['flush'];
    case 'initialize':
    case 'start':
      return ['before'];
    case 'shutdown':
      return ['after'];
    default:
      return [];
  }
}

interface Case {
  kind: Kind;
  location: Location;
  timing: Timing;
  concurrency: number;
  mode: Mode;
  /** The faulty step runs with flow-control options (keyBy, timeout, restart). */
  flow?: true;
}

const FLOW_KINDS: Kind[] = ['throw', 'reject', 'hangAbort', 'onItemError'];

function buildMatrix(): Case[] {
  const cases: Case[] = [];
  for (const kind of KINDS)
    for (const location of LOCATIONS)
      for (const mode of MODES) {
        const timings = timingsFor(kind, location, mode);
        for (const timing of TIMINGS) {
          if (!timings.includes(timing)) continue;
          for (const concurrency of CONCURRENCIES) {
            cases.push({ kind, location, timing, concurrency, mode });
          }
          const runner = !(kind === 'hangAbort' && timing === 'flush');
          if (FLOW_KINDS.includes(kind) && STEP_AT[location] !== undefined && runner) {
            cases.push({ kind, location, timing, concurrency: 2, mode, flow: true });
          }
        }
      }
  return cases;
}

class Boom extends Error {}

/** What the test knows about every hook call, stream and the source, to check teardown. */
class Tracker {
  instances: { initialized: boolean; shutdowns: number }[] = [];
  stepInits = 0;
  stepShutdowns = 0;
  streams: { closed: boolean }[] = [];
  source = { finished: false, failed: false, closed: false };

  trackStream<S extends NodeJS.EventEmitter>(stream: S): S {
    const entry = { closed: false };
    this.streams.push(entry);
    stream.once('close', () => (entry.closed = true));
    return stream;
  }

  /** Teardown state, as plain data: compared to what a finished teardown must look like. */
  snapshot() {
    return {
      shutdownsPerInstance: this.instances.map((i) => `${i.initialized ? 1 : 0}:${i.shutdowns}`),
      stepHooks: `${this.stepInits}:${this.stepShutdowns}`,
      openStreams: this.streams.filter((s) => !s.closed).length,
      sourceDone: this.source.finished || this.source.failed || this.source.closed,
    };
  }

  expected() {
    return {
      shutdownsPerInstance: this.instances.map(
        (i) => `${i.initialized ? 1 : 0}:${i.initialized ? 1 : 0}`,
      ),
      stepHooks: `${this.stepInits}:${this.stepInits}`,
      openStreams: 0,
      sourceDone: true,
    };
  }
}

/** Fires once, at the arrival index the timing names. */
function trigger(timing: Timing) {
  const at = timing === 'before' ? 0 : timing === 'mid' ? N / 2 : timing === 'last' ? N - 1 : N;
  let arrivals = 0;
  let fired = false;
  return {
    /** Counts one arrival; true when the fault fires now. */
    arrive(): boolean {
      if (fired || arrivals++ !== at) return false;
      fired = true;
      return true;
    },
    /** True once, at the end of the data, when the timing is `flush`. */
    atEnd(): boolean {
      if (fired || timing !== 'flush') return false;
      fired = true;
      return true;
    },
  };
}

interface Fault {
  kind: Kind;
  timing: Timing;
  error: Boom;
  abort: () => void;
}

const never = () => new Promise<never>(() => {});

/** A Step class whose every instance and step hook is counted; `fault` makes one of them fail. */
function trackedClass(t: Tracker, concurrency: number, fault?: Fault) {
  const fire = fault ? trigger(fault.timing) : null;
  const failing = concurrency - 1;
  return class Tracked extends Step<number, number> {
    #record = { initialized: false, shutdowns: 0 };
    constructor() {
      super();
      t.instances.push(this.#record);
    }
    stepInitialize() {
      t.stepInits++;
    }
    initialize() {
      if (fault?.kind === 'initialize' && this.index === failing) throw fault.error;
      this.#record.initialized = true;
    }
    start() {
      if (fault?.kind === 'start' && this.index === failing) throw fault.error;
    }
    async process(n: number) {
      await Promise.resolve();
      if (fault?.kind === 'reject' && fire!.arrive()) throw fault.error;
      return n;
    }
    shutdown() {
      this.#record.shutdowns++;
      if (fault?.kind === 'shutdown' && this.index === failing) throw fault.error;
    }
    stepShutdown() {
      t.stepShutdowns++;
    }
  };
}

/** A pass-through stream step; `fault` makes one instance fail in transform or flush. */
function trackedStream(t: Tracker, fault?: Fault) {
  const fire = fault ? trigger(fault.timing) : null;
  const inject = (stream: Transform, cb: (err?: Error | null) => void) => {
    switch (fault!.kind) {
      case 'cbErr':
        return cb(fault!.error);
      case 'destroyErr':
        return stream.destroy(fault!.error);
      case 'destroyNoErr':
        return stream.destroy();
      case 'flushThrow':
        throw fault!.error;
      case 'hangAbort':
        setImmediate(fault!.abort);
        return;
    }
  };
  return streamStep(
    () =>
      t.trackStream(
        new Transform({
          objectMode: true,
          highWaterMark: HWM,
          transform(n: number, _enc, cb) {
            if (fire?.arrive()) inject(this, cb);
            else cb(null, n);
          },
          flush(cb) {
            if (fire?.atEnd()) inject(this, cb);
            else cb();
          },
        }),
      ),
    'stream',
  );
}

function faultyStep(c: Case, t: Tracker, fault: Fault): unknown {
  const step = faultyStepPlain(c, t, fault) as unknown[];
  if (!c.flow) return step;
  const options: Record<string, unknown> = { keyBy: (n: number) => n % 3, timeout: 60_000 };
  if (c.kind === 'reject') options.restart = { max: 5, withinMs: 60_000 };
  return [...step, options];
}

function faultyStepPlain(c: Case, t: Tracker, fault: Fault): unknown {
  const fire = trigger(c.timing);
  switch (c.kind) {
    case 'throw':
      return [
        function throwing(n: number) {
          if (fire.arrive()) throw fault.error;
          return n;
        },
        c.concurrency,
      ];
    case 'onItemError':
      return [
        function failing(n: number) {
          if (fire.arrive()) throw new Error('the item error that onItemError gets');
          return n;
        },
        c.concurrency,
      ];
    case 'hangAbort':
      if (c.timing === 'flush') return [trackedStream(t, fault), c.concurrency];
      return [
        async function hanging(n: number) {
          if (!fire.arrive()) return n;
          setImmediate(fault.abort);
          return never();
        },
        c.concurrency,
      ];
    case 'iterThrow':
      return [
        iterStep(async function* iter(items: AsyncIterable<number>) {
          for await (const n of items) {
            if (fire.arrive()) throw fault.error;
            yield n;
          }
          if (fire.atEnd()) throw fault.error;
        }),
        c.concurrency,
      ];
    case 'reject':
    case 'initialize':
    case 'start':
    case 'shutdown':
      return [trackedClass(t, c.concurrency, fault), c.concurrency];
    default:
      if (STREAM_KINDS.includes(c.kind)) return [trackedStream(t, fault), c.concurrency];
      throw new Error(`no faulty step for ${c.kind}`);
  }
}

function buildSteps(c: Case, t: Tracker, fault: Fault): unknown[] {
  const filler = (kind: 'class' | 'stream' | 'func'): unknown => {
    if (kind === 'class') return [trackedClass(t, c.concurrency), c.concurrency];
    if (kind === 'stream') return [trackedStream(t), c.concurrency];
    return [(n: number) => n, c.concurrency];
  };
  const at = STEP_AT[c.location];
  if (at === undefined) return [filler('class'), filler('stream'), filler('func')];
  const fillers: ('class' | 'stream')[][] = [
    ['stream', 'class'],
    ['class', 'stream'],
    ['class', 'stream'],
  ];
  const [a, b] = fillers[at];
  const steps = [filler(a), filler(b)];
  steps.splice(at, 0, faultyStep(c, t, fault));
  return steps;
}

/** The input: a tracked lazy source, clean or faulty; a Readable for the stream kinds. */
function makeSource(
  c: Case,
  t: Tracker,
  fault: Fault | null,
): Iterable<number> | AsyncIterable<number> | CoreReadable {
  const fire = fault ? trigger(fault.timing) : null;
  const state = t.source;
  if (fault && (fault.kind === 'destroyErr' || fault.kind === 'destroyNoErr')) {
    let i = 0;
    const readable = new CoreReadable({
      objectMode: true,
      highWaterMark: HWM,
      read() {
        if (i < N ? fire!.arrive() : fire!.atEnd()) {
          state.failed = true;
          if (fault.kind === 'destroyErr') this.destroy(fault.error);
          else this.destroy();
        } else if (i < N) this.push(i++);
        else {
          state.finished = true;
          this.push(null);
        }
      },
    });
    readable.once('close', () => (state.closed = true));
    return readable;
  }
  let i = 0;
  const next = (): IteratorResult<number> | Promise<IteratorResult<number>> => {
    if (fault && (i < N ? fire!.arrive() : fire!.atEnd())) {
      state.failed = true;
      if (fault.kind === 'throw') throw fault.error;
      if (fault.kind === 'reject') return Promise.reject(fault.error);
      setImmediate(fault.abort);
      return never();
    }
    if (i < N) return { done: false, value: i++ };
    state.finished = true;
    return { done: true, value: undefined };
  };
  const ret = () => {
    state.closed = true;
    return { done: true as const, value: undefined };
  };
  if (fault === null || fault.kind === 'throw') {
    return {
      [Symbol.iterator]: () => ({ next: next as () => IteratorResult<number>, return: ret }),
    };
  }
  return {
    [Symbol.asyncIterator]: () => ({
      next: async () => next(),
      return: async () => ret(),
    }),
  };
}

/** The stream() consumer's downstream Writable, clean or faulty. */
function makeSink(c: Case, out: number[], fault: Fault | null): Writable {
  const fire = fault ? trigger(fault.timing) : null;
  const inject = (sink: Writable, cb: (err?: Error | null) => void) => {
    switch (fault!.kind) {
      case 'cbErr':
        return cb(fault!.error);
      case 'destroyErr':
        return sink.destroy(fault!.error);
      case 'destroyNoErr':
        return sink.destroy();
      case 'flushThrow':
        throw fault!.error;
      case 'hangAbort':
        setImmediate(fault!.abort);
        return;
    }
  };
  return new Writable({
    objectMode: true,
    highWaterMark: HWM,
    write(n: number, _enc, cb) {
      if (fire?.arrive()) return inject(this, cb);
      out.push(n);
      cb();
    },
    final(cb) {
      if (fire?.atEnd()) inject(this, cb);
      else cb();
    },
  });
}

function feedForMeta(p: Pipeline, timing: Timing) {
  const items = Array.from({ length: N }, (_, i) => i);
  if (timing === 'before') p.putMeta('m');
  p.putAll(items.slice(0, N / 2));
  if (timing === 'mid') p.putMeta('m');
  p.putAll(items.slice(N / 2));
  if (timing === 'after') p.putMeta('m');
}

interface Outcome {
  settlements: number;
  error: unknown;
  teardown: ReturnType<Tracker['snapshot']>;
  outputs: number[];
}

async function runCase(
  c: Case,
  t: Tracker,
  watchdogMs: number,
): Promise<{ outcome: Outcome; fault: Fault; onFail: jest.Mock }> {
  const controller = new AbortController();
  const fault: Fault = {
    kind: c.kind,
    timing: c.timing,
    error: new Boom(`${c.kind} at ${c.location} (${c.timing})`),
    abort: () => controller.abort(),
  };
  const onFail = jest.fn();
  const handlers =
    c.kind === 'onItemError'
      ? {
          onItemError: () => {
            throw fault.error;
          },
        }
      : c.kind === 'onMeta'
        ? {
            onMeta: () => {
              throw fault.error;
            },
          }
        : {};
  const p = new Pipeline(buildSteps(c, t, fault), {
    highWaterMark: HWM,
    signal: controller.signal,
    onFail,
    ...handlers,
  });
  const sourceFault = c.location === 'source' ? fault : null;
  const sinkFault = c.location === 'sink' ? fault : null;
  const outputs: number[] = [];
  let settlements = 0;
  let error: unknown;
  let teardown: ReturnType<Tracker['snapshot']> | undefined;
  const settle = (err: unknown) => {
    settlements++;
    if (settlements === 1) {
      error = err;
      teardown = t.snapshot();
    }
  };

  if (c.mode === 'stream') {
    const source = makeSource(c, t, sourceFault);
    const upstream =
      source instanceof CoreReadable
        ? source
        : CoreReadable.from(source, { objectMode: true, highWaterMark: HWM });
    // stream.pipeline does not wait for a middle stream to close when another stream failed
    // (Node's behaviour), so the pipeline's own settlement in this mode is its Duplex's
    // 'close': teardown is checked there, the error is the one the callback reports.
    const duplex = p.stream();
    const called = new Promise<void>((resolve) =>
      pipeline(upstream, duplex, makeSink(c, outputs, sinkFault), (err) => {
        settlements++;
        if (settlements === 1) error = err;
        resolve();
      }),
    );
    const closed = new Promise<void>((resolve) =>
      duplex.once('close', () => {
        teardown = t.snapshot();
        resolve();
      }),
    );
    await watchdog(Promise.all([called, closed]), watchdogMs, `${c.mode} settles`);
  } else {
    if (c.kind === 'onMeta') {
      feedForMeta(p, c.timing);
      t.source.finished = true;
    } else {
      p.putIterable(makeSource(c, t, sourceFault) as Iterable<number>);
    }
    const done =
      c.mode === 'run'
        ? p.run()
        : (async () => {
            const fire = sinkFault ? trigger(c.timing) : null;
            for await (const n of p) {
              if (fire?.arrive()) throw fault.error;
              outputs.push(n);
            }
          })();
    await watchdog(
      done.then(
        () => settle(undefined),
        (err) => settle(err),
      ),
      watchdogMs,
      `${c.mode} settles`,
    );
  }
  // A second settlement would come within a few turns of the first.
  for (let i = 0; i < 3; i++) await nextTurn();
  return { outcome: { settlements, error, teardown: teardown!, outputs }, fault, onFail };
}

const matrix = buildMatrix();
const name = (c: Case) =>
  `${c.kind} at ${c.location} (${c.timing}), concurrency ${c.concurrency}, ${c.mode}()${c.flow ? ', with flow control' : ''}`;

/**
 * Cases that fail because of an open engine bug, each named by its file in /tmp/paipa-bugs/.
 * They run as `test.failing`: when the bug is fixed, that test fails and is to be made normal.
 */
function knownBug(_c: Case): string | null {
  // No open engine bug: every case is a normal test. (Fixed: stream-duplex-never-closes.md.)
  return null;
}

/** What a case must observe, as one object so that a failure shows every difference at once. */
async function observe(c: Case, watchdogMs: number) {
  const t = new Tracker();
  const { outcome, fault, onFail } = await runCase(c, t, watchdogMs);
  const err = outcome.error;
  const classify = (e: unknown) =>
    e === fault.error
      ? 'the injected error'
      : e instanceof AbortError
        ? 'AbortError'
        : (e as { code?: string } | undefined)?.code === 'ERR_STREAM_PREMATURE_CLOSE'
          ? 'premature close'
          : `other: ${String(e)}`;
  const expectedError =
    c.kind === 'hangAbort'
      ? 'AbortError'
      : c.kind === 'destroyNoErr'
        ? 'premature close'
        : 'the injected error';
  // A loop body that throws is the consumer leaving, not the pipeline failing; a stream() sink
  // that fails on the last item or in final() may do so after the pipeline itself completed.
  const consumerLeft = c.mode === 'iterate' && c.location === 'sink' && c.kind === 'throw';
  const maybeAfterEnd =
    c.mode === 'stream' && c.location === 'sink' && (c.timing === 'last' || c.timing === 'flush');
  const onFailCalls = onFail.mock.calls.length;
  const onFailOk = consumerLeft
    ? onFailCalls === 0
    : (maybeAfterEnd && onFailCalls === 0) ||
      (onFailCalls === 1 &&
        // two streams destroyed without an error each make their own premature-close error
        (onFail.mock.calls[0][0] === err || classify(onFail.mock.calls[0][0]) === classify(err)));
  return {
    observed: {
      settlements: outcome.settlements,
      error: classify(err),
      teardown: outcome.teardown,
      duplicates: outcome.outputs.length - new Set(outcome.outputs).size,
      onFailOk,
    },
    expected: {
      settlements: 1,
      error: expectedError,
      teardown: t.expected(),
      duplicates: 0,
      onFailOk: true,
    },
  };
}

describe('fault matrix', () => {
  test('covers every kind, location, timing, concurrency and mode', () => {
    for (const axis of ['kind', 'location', 'timing', 'concurrency', 'mode'] as const) {
      const seen = new Set(matrix.map((c) => c[axis]));
      const all = {
        kind: KINDS,
        location: LOCATIONS,
        timing: TIMINGS,
        concurrency: CONCURRENCIES,
        mode: MODES,
      }[axis];
      expect([...seen].sort()).toEqual([...all].sort());
    }
    expect(matrix.length).toBeGreaterThan(900);
  });

  const sound = matrix.filter((c) => knownBug(c) === null);
  test.each(sound.map((c) => [name(c), c] as const))('%s', async (_name, c) => {
    const { observed, expected } = await observe(c, 2000);
    expect(observed).toEqual(expected);
  });

  // Open engine bugs (see knownBug); none at the moment.
  const buggy = matrix.filter((c) => knownBug(c) !== null);
  if (buggy.length > 0) {
    test.failing.each(buggy.map((c) => [name(c), knownBug(c), c] as const))(
      '%s [bug: /tmp/paipa-bugs/%s]',
      async (_name, _bug, c) => {
        const { observed, expected } = await observe(c, 2000);
        expect(observed).toEqual(expected);
      },
    );
  }
});
