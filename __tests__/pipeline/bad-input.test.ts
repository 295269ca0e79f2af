/**
 * Bad input, beyond what validation.test.ts covers: wrong types and out-of-range numbers for
 * every option and step form, null/undefined items, step values that are not steps, stream
 * factories and iterator functions that return the wrong thing, sources that are not iterators,
 * and consumer-side hooks that throw. Each must give an error that names what is wrong, at the
 * earliest moment it can be known (construction, the put call, or the run's start), and
 * nothing may hang: every run here has a 2 s watchdog.
 *
 * Left out: a stream() sink whose write() throws synchronously. Node's streams do not catch
 * that throw in any pipeline (it is an uncaught exception and Node's own pipeline never calls
 * back), so it is a broken Writable rather than bad input to this library.
 */
import { Readable, Transform, Writable } from 'node:stream';
import { runInThisContext } from 'node:vm';
import { Pipeline, Step, funcStep, iterStep, streamStep } from '../../src';
import { collect, watchdog } from '../support/helpers';

const fn = (n: number) => n;
class Good extends Step {
  process(n: number) {
    return n;
  }
}
const gen = iterStep(async function* (items: AsyncIterable<number>) {
  yield* items;
});
const passThrough = streamStep(
  () => new Transform({ objectMode: true, transform: (c, _e, cb) => cb(null, c) }),
);

/** The error thrown by `f`, or a failure if it did not throw. */
function thrown(f: () => unknown): Error & { code?: string } {
  try {
    f();
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

/** Runs a one-item batch through `steps` and returns the rejection (2 s watchdog). */
async function runRejection(steps: unknown[], items: unknown[] = [1]): Promise<Error> {
  const p = new Pipeline(steps);
  p.putAll(items);
  return watchdog(p.run(), 2000, 'run').then(
    () => {
      throw new Error('expected the run to fail');
    },
    (err: Error) => err,
  );
}

describe('numbers: wrong types and out-of-range values are rejected at construction', () => {
  test.each([
    [
      'options.highWaterMark NaN',
      [fn],
      { highWaterMark: NaN },
      RangeError,
      /options.highWaterMark.*got NaN/,
    ],
    [
      'options.highWaterMark Infinity',
      [fn],
      { highWaterMark: Infinity },
      RangeError,
      /options.highWaterMark.*got Infinity/,
    ],
    [
      'options.highWaterMark 1.5',
      [fn],
      { highWaterMark: 1.5 },
      RangeError,
      /options.highWaterMark.*got 1.5/,
    ],
    [
      'options.highWaterMark "2"',
      [fn],
      { highWaterMark: '2' },
      TypeError,
      /options.highWaterMark.*got "2" \(string\)/,
    ],
    [
      'options.highWaterMark true',
      [fn],
      { highWaterMark: true },
      TypeError,
      /options.highWaterMark.*got true \(boolean\)/,
    ],
    [
      'options.maxRetries Infinity',
      [fn],
      { maxRetries: Infinity },
      RangeError,
      /options.maxRetries.*got Infinity/,
    ],
    [
      'options.maxRetries NaN',
      [fn],
      { maxRetries: NaN },
      RangeError,
      /options.maxRetries.*got NaN/,
    ],
    [
      'options.maxRetries 0.5',
      [fn],
      { maxRetries: 0.5 },
      RangeError,
      /options.maxRetries.*got 0.5/,
    ],
    ['options.retryDelay NaN', [fn], { retryDelay: NaN }, TypeError, /options.retryDelay.*got NaN/],
    [
      'options.retryDelay Infinity',
      [fn],
      { retryDelay: Infinity },
      TypeError,
      /options.retryDelay.*got Infinity/,
    ],
    ['options.retryDelay "5"', [fn], { retryDelay: '5' }, TypeError, /options.retryDelay.*got "5"/],
    ['options.retryDelay -1', [fn], { retryDelay: -1 }, TypeError, /options.retryDelay.*got -1/],
    [
      'concurrency Infinity',
      [[fn, Infinity]],
      {},
      RangeError,
      /steps\[0\] concurrency.*got Infinity/,
    ],
    ['concurrency NaN', [[fn, NaN]], {}, RangeError, /steps\[0\] concurrency.*got NaN/],
    ['concurrency null', [[fn, null]], {}, TypeError, /steps\[0\] concurrency.*got null/],
    ['concurrency true', [[fn, true]], {}, TypeError, /steps\[0\] concurrency.*got true/],
    [
      'step highWaterMark 1.5',
      [[fn, 1, { highWaterMark: 1.5 }]],
      {},
      RangeError,
      /steps\[0\] options.highWaterMark.*got 1.5/,
    ],
    [
      'step highWaterMark NaN',
      [fn, [fn, 1, { highWaterMark: NaN }]],
      {},
      RangeError,
      /steps\[1\] options.highWaterMark.*got NaN/,
    ],
    [
      'step maxRetries "1"',
      [[fn, 1, { maxRetries: '1' }]],
      {},
      TypeError,
      /steps\[0\] options.maxRetries.*got "1"/,
    ],
    [
      'step maxRetries 1.5',
      [[fn, 1, { maxRetries: 1.5 }]],
      {},
      RangeError,
      /steps\[0\] options.maxRetries.*got 1.5/,
    ],
    [
      'step retryDelay "fast"',
      [[fn, 1, { retryDelay: 'fast' }]],
      {},
      TypeError,
      /steps\[0\] options.retryDelay.*got "fast"/,
    ],
  ])('%s', (_label, steps, options, errorClass, message) => {
    const err = thrown(() => new Pipeline(steps as never, options as never));
    expect(err).toBeInstanceOf(errorClass);
    expect(err.code).toBe('ERR_PAIPA_INVALID_ARG');
    expect(err.message).toMatch(message);
  });

  // Bug: /tmp/paipa-bugs/huge-concurrency-allocates-eagerly.md. A concurrency no machine can
  // honour should be refused at construction, or cost nothing until items need it.
  test('a huge concurrency is refused at construction or costs nothing for a small batch', async () => {
    let p: Pipeline;
    try {
      p = new Pipeline([[fn, 1_000_000]]);
    } catch (err) {
      expect(err).toBeInstanceOf(RangeError);
      return;
    }
    p.putAll([1, 2, 3]);
    const started = performance.now();
    await watchdog(p.run(), 2000, 'run');
    expect(performance.now() - started).toBeLessThan(150);
  });

  // Bug: /tmp/paipa-bugs/bad-input-messages.md (null taken as "use the default").
  test.each([
    ['options.highWaterMark null', { highWaterMark: null }],
    ['options.maxRetries null', { maxRetries: null }],
  ])('%s is rejected like any other non-number', (_label, options) => {
    expect(() => new Pipeline([fn], options as never)).toThrow(/to be an integer/);
  });
});

describe('step values and options: the message names the step and what it got', () => {
  test.each([
    ['undefined', [undefined], /steps\[0\]: expected a function.*got undefined/],
    ['a string', [fn, 'parse'], /steps\[1\]: expected a function.*got "parse" \(string\)/],
    ['a plain object', [{}], /steps\[0\]: expected a function.*got \{\} \(object\)/],
    [
      'an object with a process() method',
      [{ process: fn }],
      /steps\[0\]: expected a function, a Step subclass/,
    ],
    [
      'a Step instance instead of the class',
      [new Good()],
      /steps\[0\]: expected a function, a Step subclass/,
    ],
    ['a promise of a function', [Promise.resolve(fn)], /steps\[0\]: expected a function/],
    [
      'an empty tuple',
      [[]],
      /steps\[0\]: expected \[step, concurrency\?, options\?\], got an array of 0/,
    ],
    ['null options', [[fn, 1, null]], /steps\[0\] options.*options object, got null/],
    ['array options', [[fn, 1, []]], /steps\[0\] options.*options object, got \[\] \(array\)/],
    [
      'a number as name',
      [[fn, 1, { name: 42 }]],
      /steps\[0\] options.name.*non-empty string, got 42/,
    ],
    [
      'a string as ordered',
      [[fn, 1, { ordered: 'yes' }]],
      /steps\[0\] options.ordered.*boolean, got "yes"/,
    ],
    [
      'an unknown option on an iterStep',
      [[gen, 1, { batch: 3 }]],
      /Unknown option `batch` in steps\[0\] options/,
    ],
    [
      'an unknown option on a streamStep',
      [[passThrough, 1, { objectMode: true }]],
      /Unknown option `objectMode` in steps\[0\] options/,
    ],
    [
      'an ordered streamStep with concurrency 2',
      [[passThrough, 2, { ordered: true }]],
      /steps\[0\]: an? streamStep with concurrency 2 cannot keep input order/,
    ],
  ])('%s', (_label, steps, message) => {
    const err = thrown(() => new Pipeline(steps as never));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.code).toBe('ERR_PAIPA_INVALID_ARG');
    expect(err.message).toMatch(message);
  });

  test('ordered: true for the whole pipeline with a concurrent iterStep names the step', () => {
    expect(() => new Pipeline([fn, [gen, 3]], { ordered: true })).toThrow(
      /steps\[1\]: an iterStep with concurrency 3 cannot keep input order/,
    );
  });

  test.each([
    ['a Set of steps', new Set([fn]), /`steps` to be an array of steps/],
    ['undefined steps', undefined, /`steps` to be an array of steps, got undefined/],
    ['a single function', fn, /`steps` to be an array of steps, got function fn/],
  ])('%s', (_label, steps, message) => {
    expect(() => new Pipeline(steps as never)).toThrow(message);
  });

  test.each([
    ['null options', null, /`options` to be an options object, got null/],
    ['array options', [], /`options` to be an options object, got \[\] \(array\)/],
  ])('pipeline %s', (_label, options, message) => {
    expect(() => new Pipeline([fn], options as never)).toThrow(message);
  });

  // Bug: /tmp/paipa-bugs/generator-function-as-step.md. A generator function is a function, so
  // it runs as a function step and its generator objects become the outputs.
  test.each([
    [
      'an async generator function',
      async function* parse(items: AsyncIterable<number>) {
        yield* items;
      },
    ],
    [
      'a generator function',
      function* parse(items: Iterable<number>) {
        yield* items;
      },
    ],
  ])('%s given without iterStep() is refused, pointing to iterStep()', (_label, step) => {
    expect(() => new Pipeline([step as never])).toThrow(/steps\[0\].*iterStep/);
  });

  // Bug: /tmp/paipa-bugs/class-without-process.md. Found only when the first item arrives.
  test('a Step subclass without process() is refused at construction', () => {
    class NoProcess extends (Step as unknown as new () => object) {}
    expect(() => new Pipeline([NoProcess as never])).toThrow(/steps\[0\].*NoProcess.*process/);
  });

  // Bug: /tmp/paipa-bugs/bad-input-messages.md (wrapper names are not checked).
  test.each([
    ['funcStep(fn, 42)', () => funcStep(fn, 42 as never)],
    ["iterStep(fn, '')", () => iterStep(async function* () {}, '')],
    ['streamStep(factory, {})', () => streamStep(() => new Transform(), {} as never)],
  ])('%s: a name that is not a non-empty string is refused', (_label, make) => {
    expect(make).toThrow(/name/);
  });
});

describe('inputs: null, undefined and non-iterables are refused when given', () => {
  test('putAll with a null inside refuses it, naming null', () => {
    const p = new Pipeline([fn]);
    expect(() => p.putAll([1, null as never, 3])).toThrow(/put\(\) needs an item; got null/);
  });

  test.each([
    [
      'putAll(null)',
      (p: Pipeline) => p.putAll(null as never),
      /putAll\(\) needs an iterable, got null/,
    ],
    [
      'putAll({})',
      (p: Pipeline) => p.putAll({} as never),
      /putAll\(\) needs an iterable, got \{\}/,
    ],
    [
      'putIterable(promise)',
      (p: Pipeline) => p.putIterable(Promise.resolve([1]) as never),
      /putIterable\(\) needs an iterable or async iterable/,
    ],
    [
      'putIterable with a non-function Symbol.iterator',
      (p: Pipeline) => p.putIterable({ [Symbol.iterator]: 5 } as never),
      /putIterable\(\) needs an iterable or async iterable/,
    ],
    [
      'putIterable(42)',
      (p: Pipeline) => p.putIterable(42 as never),
      /putIterable\(\) needs an iterable or async iterable, got 42 \(number\)/,
    ],
  ])('%s', (_label, call, message) => {
    const err = thrown(() => call(new Pipeline([fn])));
    expect(err).toBeInstanceOf(TypeError);
    expect(err.code).toBe('ERR_PAIPA_INVALID_ARG');
    expect(err.message).toMatch(message);
  });

  test.each([
    [
      'putIterable twice',
      (p: Pipeline) => p.putIterable([1]).putIterable([2]),
      /already ended by putIterable\(\)/,
    ],
    [
      'putMeta after finish()',
      (p: Pipeline) => p.put(1).valueOf() && p.finish().putMeta('m'),
      /putMeta\(\) is not possible: the input was already ended by finish\(\)/,
    ],
    [
      'putAll after finish()',
      (p: Pipeline) => p.finish().putAll([1]),
      /putAll\(\) is not possible/,
    ],
    [
      'finish() in stream() mode',
      (p: Pipeline) => (p.stream().destroy(), p.finish()),
      /call end\(\) on it/,
    ],
  ])('%s is a state error saying why', (_label, call, message) => {
    const err = thrown(() => call(new Pipeline([fn])));
    expect(err.code).toBe('ERR_PAIPA_STATE');
    expect(err.message).toMatch(message);
  });

  test('null and undefined yielded by an iterStep are skipped, not taken as the end', async () => {
    const p = new Pipeline([
      iterStep(function* () {
        yield* [1, null, 2, undefined, 3];
      }),
    ]);
    p.put(0);
    expect(await watchdog(collect(p))).toEqual([1, 2, 3]);
  });

  test('null and undefined returned by a function step drop the item (documented skip)', async () => {
    const p = new Pipeline([(n: number) => (n === 1 ? null : n === 2 ? undefined : n)]);
    p.putAll([0, 1, 2, 3]);
    expect(await watchdog(collect(p))).toEqual([0, 3]);
  });
});

describe('wrong things returned at run time: the run fails at once, naming the step', () => {
  test.each([
    ['an object', () => ({})],
    ['null', () => null],
    ['a promise of a stream', async () => new Transform({ objectMode: true })],
    ['a Readable only', () => Readable.from([1])],
    ['a Writable only', () => new Writable({ write: (_c, _e, cb) => cb() })],
  ])('a streamStep factory returning %s', async (_label, factory) => {
    const err = await runRejection([fn, streamStep(factory as never, 'wrapper')]);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(
      /steps\[1\] \(wrapper\): the streamStep factory must return a Duplex stream, got/,
    );
  });

  test('a streamStep factory that throws fails the run with that error, marked with the step', async () => {
    const boom = new Error('cannot open');
    const err = await runRejection([
      streamStep(() => {
        throw boom;
      }, 'opener'),
    ]);
    expect(err).toBe(boom);
    expect((err as { paipa?: unknown }).paipa).toMatchObject({ step: 'opener' });
  });

  test.each([
    ['a number', () => 5],
    ['a promise of an array (an async function, not an async generator)', async () => [1]],
    ['undefined', () => undefined],
  ])('an iterStep function returning %s', async (_label, body) => {
    const err = await runRejection([iterStep(body as never, 'batcher')]);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toMatch(
      /iterStep batcher: the function must return an iterable or async iterable/,
    );
  });

  test('a Step subclass whose constructor throws fails the run with that error', async () => {
    const boom = new Error('no config');
    class NeedsConfig extends Step {
      constructor() {
        super();
        throw boom;
      }
      process(n: number) {
        return n;
      }
    }
    expect(await runRejection([NeedsConfig])).toBe(boom);
  });

  test('a source whose next() returns a rejected promise fails the run with that error', async () => {
    const boom = new Error('db down');
    const p = new Pipeline([fn]);
    p.putIterable({ [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(boom) }) });
    await expect(watchdog(p.run())).rejects.toBe(boom);
  });

  // Bug: /tmp/paipa-bugs/bad-input-messages.md (source protocol errors). The iterator method
  // is called by putIterable(), so a non-iterator could be refused there, naming the source.
  test('an iterable whose [Symbol.iterator]() returns no iterator is refused by putIterable()', () => {
    const p = new Pipeline([fn]);
    expect(() => p.putIterable({ [Symbol.iterator]: () => 5 } as never)).toThrow(
      /putIterable\(\).*iterator.*got 5/,
    );
  });

  test('a source whose next() returns a non-object says so', async () => {
    const p = new Pipeline([fn]);
    p.putIterable({ [Symbol.iterator]: () => ({ next: () => 5 }) } as never);
    await expect(watchdog(p.run())).rejects.toThrow(/next\(\).*5 \(number\)/);
  });

  // Bug: /tmp/paipa-bugs/stream-write-throws-hangs.md. A byte-mode stream (zlib, a file
  // stream...) given objects throws from write(); the throw escapes as an uncaught exception and
  // run() never settles.
  test('a byte-mode stream step given objects fails the run instead of hanging', async () => {
    const p = new Pipeline([
      streamStep(() => new Transform({ transform: (c, _e, cb) => cb(null, c) }), 'gzip-like'),
    ]);
    p.putAll([{ id: 1 }]);
    const { uncaught, result } = await catchUncaught(() =>
      watchdog(p.run(), 1000, 'run').then(
        () => 'resolved',
        (err: Error) => err.message,
      ),
    );
    expect(uncaught).toEqual([]);
    expect(result).toMatch(/gzip-like|chunk/);
  });
});

describe('consumer-side hooks that throw', () => {
  test('an onFail that throws does not replace the error, nor escape as uncaught', async () => {
    const boom = new Error('step failed');
    const p = new Pipeline(
      [
        () => {
          throw boom;
        },
      ],
      {
        onFail: () => {
          throw new Error('the notification failed too');
        },
      },
    );
    p.put(1);
    await expect(watchdog(p.run())).rejects.toBe(boom);
  });

  test('an async onMeta that rejects fails the run with its error', async () => {
    const boom = new Error('meta sink down');
    const p = new Pipeline([fn], { onMeta: () => Promise.reject(boom) });
    p.put(1);
    p.putMeta('checkpoint');
    await expect(watchdog(p.run())).rejects.toBe(boom);
  });

  test('an async onItemError that rejects fails the run with its error', async () => {
    const boom = new Error('dead-letter queue down');
    const p = new Pipeline(
      [
        (n: number) => {
          if (n === 2) throw new Error('bad item');
          return n;
        },
      ],
      { onItemError: () => Promise.reject(boom) },
    );
    p.putAll([1, 2, 3]);
    await expect(watchdog(p.run())).rejects.toBe(boom);
  });

  // Bug: /tmp/paipa-bugs/retry-delay-throws.md. The throw escapes the step runner as an
  // uncaught exception and the run never settles.
  test('a retryDelay function that throws fails the run with its error', async () => {
    const boom = new Error('bad backoff');
    let calls = 0;
    const p = new Pipeline(
      [
        () => {
          if (calls++ === 0) throw new Error('transient');
          return 1;
        },
      ],
      {
        maxRetries: 2,
        retryDelay: () => {
          throw boom;
        },
      },
    );
    p.put(1);
    const { uncaught, result } = await catchUncaught(() =>
      watchdog(p.run(), 1000).then(
        () => 'resolved',
        (err: unknown) => err,
      ),
    );
    expect(uncaught).toEqual([]);
    expect(result).toBe(boom);
  });
});

const realProcess = runInThisContext('process') as NodeJS.Process;

/**
 * Runs `fn` with the real process's uncaught-exception listeners (jest's) replaced by one that
 * collects the errors, so a test can assert there were none instead of crashing the suite.
 */
async function catchUncaught<T>(fn: () => Promise<T>): Promise<{ uncaught: unknown[]; result: T }> {
  const uncaught: unknown[] = [];
  const saved = realProcess.listeners('uncaughtException');
  const collectError = (err: unknown) => uncaught.push(err);
  realProcess.removeAllListeners('uncaughtException');
  realProcess.on('uncaughtException', collectError);
  try {
    const result = await fn();
    return { uncaught, result };
  } finally {
    realProcess.removeListener('uncaughtException', collectError);
    for (const listener of saved) realProcess.on('uncaughtException', listener);
  }
}
