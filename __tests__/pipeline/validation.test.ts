import { Pipeline, Step, funcStep, iterStep, streamStep } from '../../src';

const fn = (n: number) => n;
class Good extends Step {
  process(n: number) {
    return n;
  }
}

describe('step definitions are checked at construction', () => {
  test.each([
    ['concurrency 0', [[fn, 0]], /steps\[0\] concurrency.*integer from 1 and up, got 0 \(number\)/],
    ['a negative concurrency', [fn, [fn, -2]], /steps\[1\] concurrency.*got -2/],
    ['a fractional concurrency', [[fn, 1.5]], /steps\[0\] concurrency.*got 1.5/],
    ['a string concurrency', [[fn, '4']], /steps\[0\] concurrency.*got "4" \(string\)/],
    [
      'a value that is not a step',
      [fn, 42],
      /steps\[1\]: expected a function, a Step subclass.*got 42 \(number\)/,
    ],
    ['null as a step', [null], /steps\[0\]: expected a function.*got null/],
    [
      'a class that does not extend Step',
      [class Foo {}],
      /steps\[0\]: class Foo does not extend Step/,
    ],
    [
      'an unknown step option on a function step',
      [[fn, 1, { highWatermark: 3 }]],
      /Unknown option `highWatermark` in steps\[0\] options/,
    ],
    [
      'a step highWaterMark below 1',
      [[fn, 1, { highWaterMark: 0 }]],
      /steps\[0\] options.highWaterMark.*got 0/,
    ],
    [
      'a negative maxRetries',
      [[fn, 1, { maxRetries: -1 }]],
      /steps\[0\] options.maxRetries.*got -1/,
    ],
    ['a bad retryDelay', [[fn, 1, { retryDelay: -5 }]], /steps\[0\] options.retryDelay.*got -5/],
    ['an empty name', [[fn, 1, { name: '' }]], /steps\[0\] options.name.*non-empty string/],
    ['a non-object options', [[fn, 1, 'fast']], /steps\[0\] options.*options object, got "fast"/],
    [
      'a tuple of four',
      [[fn, 1, {}, 1]],
      /steps\[0\]: expected \[step, concurrency\?, options\?\]/,
    ],
    [
      'an ordered iterStep with concurrency > 1',
      [[iterStep(async function* () {}), 2, { ordered: true }]],
      /steps\[0\]: an iterStep with concurrency 2 cannot keep input order/,
    ],
  ])('%s is a TypeError or RangeError naming the step and the value', (_label, steps, message) => {
    expect(() => new Pipeline(steps as never)).toThrow(message);
  });

  test('errors for bad numbers are RangeErrors, for bad types TypeErrors, both with a code', () => {
    const range = (() => {
      try {
        new Pipeline([[fn, 0]]);
      } catch (e) {
        return e;
      }
    })();
    const type = (() => {
      try {
        new Pipeline([42] as never);
      } catch (e) {
        return e;
      }
    })();
    expect(range).toBeInstanceOf(RangeError);
    expect(type).toBeInstanceOf(TypeError);
    expect(range).toMatchObject({ code: 'ERR_PAIPA_INVALID_ARG' });
    expect(type).toMatchObject({ code: 'ERR_PAIPA_INVALID_ARG' });
  });

  test('a Step class may take any options: they are its own', () => {
    expect(() => new Pipeline([[Good, 2, { table: 'x', batch: 10 }]])).not.toThrow();
  });

  test('an empty step list or a non-array is a TypeError', () => {
    expect(() => new Pipeline([])).toThrow(/at least one step/);
    expect(() => new Pipeline(fn as never)).toThrow(/`steps` to be an array/);
  });

  test('funcStep, iterStep and streamStep reject non-functions eagerly', () => {
    expect(() => funcStep(3 as never)).toThrow(
      /`funcStep\(fn\)` to be a function, got 3 \(number\)/,
    );
    expect(() => iterStep('x' as never)).toThrow(/`iterStep\(fn\)` to be a function/);
    expect(() => streamStep({} as never)).toThrow(/`streamStep\(factory\)` to be a function/);
  });
});

describe('pipeline options are checked at construction', () => {
  test.each([
    [
      'highWaterMark 0',
      { highWaterMark: 0 },
      /options.highWaterMark.*integer from 1 and up, got 0/,
    ],
    ['an unknown option', { concurency: 3 }, /Unknown option `concurency` in Pipeline options/],
    ['a string maxRetries', { maxRetries: '2' }, /options.maxRetries.*got "2"/],
    ['a non-boolean ordered', { ordered: 'yes' }, /options.ordered.*boolean/],
    ['a signal that is not an AbortSignal', { signal: {} }, /options.signal.*AbortSignal/],
    ['a non-function onItemError', { onItemError: 'log' }, /options.onItemError.*function/],
    ['a non-function onMeta', { onMeta: 1 }, /options.onMeta.*function/],
    ['a non-function onFail', { onFail: null }, /options.onFail.*function/],
    ['options that are not an object', 'fast', /`options` to be an options object/],
  ])('%s is rejected with a message naming it', (_label, options, message) => {
    expect(() => new Pipeline([fn], options as never)).toThrow(message);
  });
});

describe('inputs are checked when given', () => {
  test('put(null) and put(undefined) are TypeErrors', () => {
    const p = new Pipeline([fn]);
    expect(() => p.put(null as never)).toThrow(TypeError);
    expect(() => p.put(undefined as never)).toThrow(/cannot travel through a stream/);
  });

  test('putAll and putIterable reject values that are not iterable', () => {
    const p = new Pipeline([fn]);
    expect(() => p.putAll(5 as never)).toThrow(/putAll\(\) needs an iterable, got 5 \(number\)/);
    expect(() => p.putIterable({} as never)).toThrow(
      /putIterable\(\) needs an iterable or async iterable/,
    );
    expect(() => p.putIterable(null as never)).toThrow(TypeError);
  });
});
