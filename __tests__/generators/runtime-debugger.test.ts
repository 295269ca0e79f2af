import {
  LoggingReporter,
  MemoryReporter,
  PipelineRuntimeDebugger,
  chunk,
  combinePipeline,
  consume,
  type Report,
} from '../../src';
import { range } from '../support/helpers';

function* double(items: Iterable<number>): Generator<number> {
  for (const n of items) yield n * 2;
}

async function* increment(items: AsyncIterable<number>): AsyncGenerator<number> {
  for await (const n of items) yield n + 1;
}

async function* fromArray<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

function debuggerWithMemory(interval?: number) {
  const memory = new MemoryReporter();
  const debug = new PipelineRuntimeDebugger({ reporters: [memory], interval });
  return { memory, debug };
}

const finals = (reports: Report[]) => reports.filter((r) => r.final);
const rowsOf = (report: Report | undefined) =>
  Object.fromEntries((report?.steps ?? []).map((row) => [row.name, row]));
const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('figures', () => {
  test('a debugger over 10 items reports a count of 10 for each step and shows at least once at the end', () => {
    const { memory, debug } = debuggerWithMemory();
    consume(combinePipeline(range(10), [double, double], { debugger: debug }));
    const last = memory.reports.at(-1);
    expect(memory.reports.length).toBeGreaterThanOrEqual(1);
    expect(last?.final).toBe(true);
    expect(last?.kind).toBe('generator');
    expect(last?.steps.map((row) => [row.name, row.count])).toEqual([
      ['source', 10],
      ['double', 10],
      ['double', 10],
    ]);
  });

  test('an async pipeline reports the same counts', async () => {
    const { memory, debug } = debuggerWithMemory();
    await consume(
      combinePipeline(fromArray(range(10)), [increment, chunk(4)], { debugger: debug }),
    );
    expect(finals(memory.reports)).toHaveLength(1);
    expect(memory.reports.at(-1)?.steps.map((row) => row.count)).toEqual([10, 10, 3]);
  });

  test('every row has the documented fields, in order', () => {
    const { memory, debug } = debuggerWithMemory();
    consume(combinePipeline(range(3), [double], { debugger: debug }));
    for (const row of memory.reports[0].steps) {
      expect(Object.keys(row)).toEqual([
        'name',
        'count',
        'runtimeMs',
        'throughput',
        'cpuUserMs',
        'cpuSystemMs',
        'heapDeltaBytes',
      ]);
    }
  });

  test('runtime and CPU time are exclusive: a slow step does not slow the rows around it', () => {
    const { memory, debug } = debuggerWithMemory();
    function* slow(items: Iterable<number>) {
      for (const n of items) {
        busyWait(10);
        yield n;
      }
    }
    consume(combinePipeline(range(5), [slow, double], { debugger: debug }));
    const rows = rowsOf(memory.reports[0]);
    expect(rows.slow.runtimeMs).toBeGreaterThanOrEqual(45);
    expect(rows.double.runtimeMs).toBeLessThan(20);
    expect(rows.source.runtimeMs).toBeLessThan(20);
    // busy-waiting burns CPU; how much of it the OS grants depends on the load, so compare
    expect(rows.slow.cpuUserMs).toBeGreaterThan(5);
    expect(rows.slow.cpuUserMs).toBeGreaterThan(rows.double.cpuUserMs as number);
  });

  test('throughput is the count per second of runtime', () => {
    const { memory, debug } = debuggerWithMemory();
    function* slow(items: Iterable<number>) {
      for (const n of items) {
        busyWait(2);
        yield n;
      }
    }
    consume(combinePipeline(range(10), [slow], { debugger: debug }));
    const row = rowsOf(memory.reports[0]).slow;
    const expected = (row.count as number) / ((row.runtimeMs as number) / 1000);
    expect(row.throughput).toBeCloseTo(expected, 0);
    expect(row.throughput).toBeLessThan(5000);
  });

  test('memory growth is counted for the step that allocates', () => {
    const { memory, debug } = debuggerWithMemory();
    const kept: number[][] = [];
    function* hoard(items: Iterable<number>) {
      for (const n of items) {
        kept.push(new Array(250_000).fill(n));
        yield n;
      }
    }
    consume(combinePipeline(range(4), [hoard], { debugger: debug }));
    expect(kept).toHaveLength(4);
    expect(rowsOf(memory.reports[0]).hoard.heapDeltaBytes).toBeGreaterThan(4_000_000);
  });

  test('the factory form names the source row after the function and measures each call on its own', () => {
    const { memory, debug } = debuggerWithMemory();
    const doubled = combinePipeline(
      function numbers(n: number) {
        return range(n);
      },
      [double],
      { debugger: debug },
    );
    consume(doubled(3));
    consume(doubled(5));
    expect(memory.reports.map((r) => r.steps.map((row) => [row.name, row.count]))).toEqual([
      [
        ['numbers', 3],
        ['double', 3],
      ],
      [
        ['numbers', 5],
        ['double', 5],
      ],
    ]);
  });

  test('a pipeline that is never iterated reports nothing', () => {
    const { memory, debug } = debuggerWithMemory();
    combinePipeline(range(3), [double], { debugger: debug });
    expect(memory.reports).toEqual([]);
  });
});

describe('periodic reports', () => {
  afterEach(() => jest.useRealTimers());

  test('an async pipeline that waits is reported every interval, then once at the end', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    const { memory, debug } = debuggerWithMemory(1000);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const source = (async function* () {
      yield 1;
      await gate;
      yield 2;
    })();
    const done = consume(combinePipeline(source, [increment], { debugger: debug }));
    await Promise.resolve();
    jest.advanceTimersByTime(2500);
    expect(memory.reports.map((r) => r.final)).toEqual([false, false]);
    expect(memory.reports[1].elapsedMs).toBe(2000);
    release();
    await done;
    expect(memory.reports.map((r) => r.final)).toEqual([false, false, true]);
    expect(jest.getTimerCount()).toBe(0);
  });

  test('a sync pipeline, which blocks the timer, is reported from the pull once an interval has passed', () => {
    let now = 0;
    const clock = jest.spyOn(performance, 'now').mockImplementation(() => now);
    try {
      const { memory, debug } = debuggerWithMemory(2500);
      function* tick(items: Iterable<number>) {
        for (const n of items) {
          now += 1000;
          yield n;
        }
      }
      consume(combinePipeline(range(6), [tick], { debugger: debug }));
      expect(memory.reports.map((r) => [r.final, r.elapsedMs])).toEqual([
        [false, 3000],
        [false, 6000],
        [true, 6000],
      ]);
    } finally {
      clock.mockRestore();
    }
  });

  test('the timer starts on the first pull and is cleared at the end', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick', 'queueMicrotask'] });
    const { debug } = debuggerWithMemory(1000);
    const out = combinePipeline(fromArray(range(3)), [increment], { debugger: debug });
    expect(jest.getTimerCount()).toBe(0);
    const iterator = out[Symbol.asyncIterator]();
    await iterator.next();
    expect(jest.getTimerCount()).toBe(1);
    while (!(await iterator.next()).done);
    expect(jest.getTimerCount()).toBe(0);
  });

  test('the timer never keeps the process alive and none is left running', async () => {
    const setTimer = jest.spyOn(global, 'setTimeout');
    try {
      const before = timeouts();
      const { debug } = debuggerWithMemory(60_000);
      const iterator = combinePipeline(fromArray(range(3)), [increment], { debugger: debug })[
        Symbol.asyncIterator
      ]();
      await iterator.next();
      const timer = setTimer.mock.results.at(-1)?.value as NodeJS.Timeout;
      expect(timer.hasRef()).toBe(false);
      expect(timeouts()).toBe(before);
      await iterator.return?.();
      expect(timeouts()).toBe(before);
    } finally {
      setTimer.mockRestore();
    }
  });
});

describe('ends of a run', () => {
  test('breaking out early closes the source and makes a final report', () => {
    const { memory, debug } = debuggerWithMemory();
    let closed = false;
    const source = (function* () {
      try {
        yield* range(100);
      } finally {
        closed = true;
      }
    })();
    for (const n of combinePipeline(source, [double], { debugger: debug })) {
      if (n === 4) break;
    }
    expect(closed).toBe(true);
    expect(finals(memory.reports)).toHaveLength(1);
    expect(rowsOf(memory.reports[0]).double.count).toBe(3);
  });

  test('breaking out of an async pipeline closes the source and makes a final report', async () => {
    const { memory, debug } = debuggerWithMemory();
    let closed = false;
    const source = (async function* () {
      try {
        yield* range(100);
      } finally {
        closed = true;
      }
    })();
    for await (const n of combinePipeline(source, [increment], { debugger: debug })) {
      if (n === 2) break;
    }
    expect(closed).toBe(true);
    expect(memory.reports.map((r) => r.final)).toEqual([true]);
  });

  test('an error inside a step propagates as the same object after a final report', () => {
    const { memory, debug } = debuggerWithMemory();
    const boom = new Error('boom');
    function* fail(items: Iterable<number>) {
      for (const n of items) {
        if (n === 2) throw boom;
        yield n;
      }
    }
    let thrown: unknown;
    try {
      consume(combinePipeline(range(5), [fail], { debugger: debug }));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBe(boom);
    expect(finals(memory.reports)).toHaveLength(1);
    expect(rowsOf(memory.reports[0]).fail.count).toBe(2);
  });

  test('an error inside an async step rejects with the same object after a final report', async () => {
    const { memory, debug } = debuggerWithMemory();
    const boom = new Error('boom');
    async function* fail(items: AsyncIterable<number>) {
      for await (const n of items) if (n === 1) throw boom;
      yield 0;
    }
    await expect(
      consume(combinePipeline(fromArray(range(3)), [fail], { debugger: debug })),
    ).rejects.toBe(boom);
    expect(memory.reports.map((r) => r.final)).toEqual([true]);
  });

  test('closing the result before any pull makes one final report with nothing counted', () => {
    const { memory, debug } = debuggerWithMemory();
    const iterator = combinePipeline(range(5), [double], { debugger: debug })[Symbol.iterator]();
    iterator.return?.();
    iterator.return?.();
    expect(memory.reports).toHaveLength(1);
    expect(memory.reports[0]).toMatchObject({ final: true, elapsedMs: 0 });
    expect(memory.reports[0].steps.map((row) => row.count)).toEqual([0, 0]);
  });

  test('stopping an output whose iterator has no return() still makes a final report', () => {
    const { memory, debug } = debuggerWithMemory();
    const bare = (items: Iterable<number>) => ({
      [Symbol.iterator]: () => {
        const inner = items[Symbol.iterator]();
        return { next: () => inner.next() };
      },
    });
    for (const n of combinePipeline(range(5), [bare], { debugger: debug })) {
      expect(n).toBe(0);
      break;
    }
    expect(memory.reports.map((r) => r.final)).toEqual([true]);
  });
});

describe('async iterators without return()', () => {
  test('closing early still gives a promise and makes a final report', async () => {
    const { memory, debug } = debuggerWithMemory();
    const inner = fromArray(range(5));
    const source = { [Symbol.asyncIterator]: () => ({ next: () => inner.next() }) };
    const iterator = combinePipeline(source, [], { debugger: debug })[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ done: false, value: 0 });
    const closing = iterator.return?.(7);
    expect(closing).toBeInstanceOf(Promise);
    expect(await closing).toEqual({ done: true, value: 7 });
    expect(memory.reports.map((r) => [r.final, r.steps[0].count])).toEqual([[true, 1]]);
  });
});

describe('reporters', () => {
  test('a reporter that throws does not break the pipeline, and the others still get reports', () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const memory = new MemoryReporter();
      const broken = {
        show: jest.fn(() => {
          throw new Error('no');
        }),
      };
      const debug = new PipelineRuntimeDebugger({ reporters: [broken, memory] });
      expect([...combinePipeline(range(3), [double], { debugger: debug })]).toEqual([0, 2, 4]);
      expect(broken.show).toHaveBeenCalledTimes(1);
      expect(memory.reports).toHaveLength(1);
      expect(warn).toHaveBeenCalledTimes(1);
    } finally {
      warn.mockRestore();
    }
  });

  test('the default reporter is one LoggingReporter', () => {
    const debug = new PipelineRuntimeDebugger();
    expect(debug.reporters).toHaveLength(1);
    expect(debug.reporters[0]).toBeInstanceOf(LoggingReporter);
    expect(debug.interval).toBe(5000);
  });
});

describe('options', () => {
  test('an interval below 1 or not an integer is a RangeError naming the option', () => {
    expect(() => new PipelineRuntimeDebugger({ interval: 0 })).toThrow(
      new RangeError('Expected `interval` to be an integer from 1 and up, got 0 (number)'),
    );
    expect(() => new PipelineRuntimeDebugger({ interval: 2.5 })).toThrow(RangeError);
  });

  test('an interval that is not a number is a TypeError', () => {
    expect(() => new PipelineRuntimeDebugger({ interval: '5' as unknown as number })).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_PAIPA_INVALID_ARG' }),
    );
  });

  test('reporters must be an array of objects with show()', () => {
    expect(() => new PipelineRuntimeDebugger({ reporters: new MemoryReporter() as never })).toThrow(
      'Expected `reporters` to be an array of reporters, got {"reports":[]} (object)',
    );
    expect(
      () => new PipelineRuntimeDebugger({ reporters: [new MemoryReporter(), { log: 1 } as never] }),
    ).toThrow(
      'Expected `reporters[1]` to be a reporter (an object with a show(report) method), got {"log":1} (object)',
    );
  });

  test('an unknown option or a non-object is a TypeError', () => {
    expect(() => new PipelineRuntimeDebugger({ intervall: 5 } as object)).toThrow(
      'Unknown option `intervall` in PipelineRuntimeDebugger options; expected one of: `reporters`, `interval`',
    );
    expect(() => new PipelineRuntimeDebugger(5 as never)).toThrow(TypeError);
  });
});

describe('PipelineRuntimeDebugger on long runs (sampled measuring)', () => {
  test('past the first 1024 pulls every item is still counted, and every stage gets a time', () => {
    const { memory, debug } = debuggerWithMemory();
    const out: number[] = [];
    for (const n of combinePipeline(range(5000), [double, double], { debugger: debug })) {
      out.push(n);
    }
    expect(out).toHaveLength(5000);
    const rows = memory.reports.at(-1)!.steps;
    expect(rows.map((r) => r.count)).toEqual([5000, 5000, 5000]);
    for (const row of rows) expect(row.runtimeMs).toBeGreaterThan(0);
  });

  test('an async pipeline is counted the same way', async () => {
    const { memory, debug } = debuggerWithMemory();
    async function* slowly(items: AsyncIterable<number>) {
      for await (const n of items) yield n;
    }
    let seen = 0;
    for await (const n of combinePipeline(fromArray(range(3000)), [slowly, slowly], {
      debugger: debug,
    })) {
      seen += n >= 0 ? 1 : 0;
    }
    expect(seen).toBe(3000);
    expect(memory.reports.at(-1)!.steps.map((r) => r.count)).toEqual([3000, 3000, 3000]);
  });
});
