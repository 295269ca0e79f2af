import {
  MemoryReporter,
  PipelineRuntimeDebugger,
  chunk,
  combinePipeline,
  consume,
  flatten,
  identityStep,
  type GeneratorStep,
} from '../../src';
import { collect, fromArray, range } from '../support/helpers';

function* removeOdd(items: Iterable<number>): Generator<number> {
  for (const n of items) if (n % 2 === 0) yield n;
}

/** Removes every second item (keeps the 1st, 3rd, ...). */
function* everySecond<T>(items: Iterable<T>): Generator<T> {
  let keep = true;
  for (const item of items) {
    if (keep) yield item;
    keep = !keep;
  }
}

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return 'nothing thrown';
}

/** Compile-time check: the argument must have type T. */
const expectType = <T>(_value: T): void => undefined;

describe('composition', () => {
  test('removing odd numbers from 0..99 sums to 2450', () => {
    let sum = 0;
    for (const n of combinePipeline(range(100), [removeOdd])) sum += n;
    expect(sum).toBe(2450);
  });

  test('a sync source with sync steps gives a sync iterable', () => {
    const out = combinePipeline(range(3), [removeOdd]);
    expect(Symbol.iterator in out).toBe(true);
    expect(Symbol.asyncIterator in out).toBe(false);
  });

  test('steps run in order, each on the output of the previous one', () => {
    const add = (suffix: string) =>
      function* (items: Iterable<string>) {
        for (const s of items) yield s + suffix;
      };
    expect([...combinePipeline(['>'], [add('a'), add('b'), add('c')])]).toEqual(['>abc']);
  });

  test('nested step lists are flattened in order', () => {
    const tag = (suffix: string) =>
      function* (items: Iterable<string>) {
        for (const s of items) yield s + suffix;
      };
    const out = combinePipeline([''], [[tag('a'), [tag('b')]], tag('c'), [[[tag('d')]]]]);
    expect([...out]).toEqual(['abcd']);
  });

  test('nested step lists with a step that removes every second item turn 1000 items into 500', () => {
    const out = combinePipeline(range(1000), [[identityStep], [[everySecond]]]);
    const items = [...(out as Iterable<number>)];
    expect(items).toHaveLength(500);
    expect(items.slice(0, 3)).toEqual([0, 2, 4]);
  });

  test('an object with a process(items) method is a step, called as a method', () => {
    class Scale {
      constructor(readonly factor: number) {}
      *process(items: Iterable<number>) {
        for (const n of items) yield n * this.factor;
      }
    }
    expect([...combinePipeline([1, 2], [new Scale(10)])]).toEqual([10, 20]);
  });

  test('a step is named by its name property, its class, or else its position', () => {
    const memory = new MemoryReporter();
    class Keep {
      process(items: Iterable<number>) {
        return items;
      }
    }
    const steps = [
      { name: 'custom', process: (items: Iterable<number>) => items },
      new Keep(),
      { process: (items: Iterable<number>) => items },
      [(items: Iterable<number>) => items],
    ];
    const debug = new PipelineRuntimeDebugger({ reporters: [memory] });
    consume(combinePipeline([1], steps, { debugger: debug }));
    expect(memory.reports[0].steps.map((row) => row.name)).toEqual([
      'source',
      'custom',
      'Keep',
      'steps[2]',
      'steps[3][0]',
    ]);
  });

  test('no steps gives the source itself', () => {
    const source = [1, 2];
    expect(combinePipeline(source, [])).toBe(source);
  });

  test('steps are called when the pipeline is combined, with the previous output', () => {
    const source = [1, 2];
    const step = jest.fn((items: Iterable<number>) => items);
    combinePipeline(source, [step]);
    expect(step).toHaveBeenCalledTimes(1);
    expect(step.mock.calls[0][0]).toBe(source);
  });
});

describe('async stages', () => {
  test('an async source gives an async iterable', async () => {
    const out = combinePipeline(fromArray(range(100)), [chunk(10), flatten]);
    expect(Symbol.asyncIterator in out).toBe(true);
    expect(Symbol.iterator in out).toBe(false);
    expect(await collect(out)).toEqual(range(100));
  });

  test('an async step after sync ones makes the result async', async () => {
    async function* double(items: Iterable<number>) {
      for (const n of items) yield n * 2;
    }
    const out = combinePipeline(range(4), [removeOdd, double]);
    expect(await collect(out)).toEqual([0, 4]);
  });

  test('every step after the first async stage receives an async iterable', async () => {
    const inputs: unknown[] = [];
    const spy = (items: unknown) => {
      inputs.push(items);
      return items as AsyncIterable<number>;
    };
    const out = combinePipeline(fromArray([1]), [spy, spy]);
    expect(await collect(out)).toEqual([1]);
    expect(inputs.every((items) => Symbol.asyncIterator in (items as object))).toBe(true);
  });

  test('a sync output after an async stage is lifted, its values not awaited', async () => {
    const value = Promise.resolve(1);
    const out = combinePipeline(fromArray([0]), [() => [value]]);
    const items = await collect(out as AsyncIterable<unknown>);
    expect(items).toHaveLength(1);
    expect(items[0]).toBe(value);
  });

  test('a step that reads an async input synchronously fails with a reason, not an empty result', () => {
    expect(() =>
      // @ts-expect-error the types reject a sync-only step over an async source, too
      combinePipeline(fromArray([1]), [(items: Iterable<number>) => Array.from(items)]),
    ).toThrow(
      'Step `steps[0]` iterated its input synchronously, but the input is async because an earlier stage is async; read it with for await...of (write the step as an async function*)',
    );
  });

  test('a sync generator step after an async stage fails on the first pull with a reason', async () => {
    // @ts-expect-error the types reject a sync-only step after an async stage, too
    const out = combinePipeline(fromArray([1]), [identityStep, removeOdd]);
    await expect(collect(out as unknown as AsyncIterable<number>)).rejects.toThrow(
      /Step `steps\[1\]` iterated its input synchronously/,
    );
  });

  test('stopping a lifted array early is fine although its iterator has no return()', async () => {
    const out = combinePipeline(fromArray([0]), [() => [1, 2, 3]]);
    for await (const item of out as AsyncIterable<number>) {
      expect(item).toBe(1);
      break;
    }
  });

  test('stopping a lifted output early closes it', async () => {
    const { closed, gen } = closable();
    const out = combinePipeline(fromArray([0]), [() => gen()]);
    for await (const item of out as AsyncIterable<number>) {
      expect(item).toBe(0);
      break;
    }
    expect(closed()).toBe(true);
  });
});

/** A generator of 0..99 that tells whether its `finally` ran. */
function closable() {
  let closed = false;
  function* gen(): Generator<number> {
    try {
      for (let i = 0; i < 100; i++) yield i;
    } finally {
      closed = true;
    }
  }
  return { closed: () => closed, gen };
}

describe('the iterator-factory form', () => {
  test('a source function gives a function that passes its arguments to the source', () => {
    const source = jest.fn((from: number, to: number) => range(to).slice(from));
    const evens = combinePipeline(source, [removeOdd]);
    expect(typeof evens).toBe('function');
    expect([...evens(2, 9)]).toEqual([2, 4, 6, 8]);
    expect(source).toHaveBeenCalledWith(2, 9);
  });

  test('each call builds a fresh pipeline', () => {
    const evens = combinePipeline((n: number) => range(n), [removeOdd]);
    const a = evens(5);
    const b = evens(3);
    expect(a).not.toBe(b);
    expect([...a]).toEqual([0, 2, 4]);
    expect([...b]).toEqual([0, 2]);
  });

  test('an async generator function source gives async pipelines', async () => {
    const lines = combinePipeline(
      async function* (n: number) {
        yield* range(n);
      },
      [chunk(2)],
    );
    expect(await collect(lines(3))).toEqual([[0, 1], [2]]);
  });

  test('a source function that returns no iterable fails when called', () => {
    const bad = combinePipeline(() => 5 as unknown as number[], [removeOdd]);
    expect(() => bad()).toThrow(
      'Expected `source(...)` (source) to return an iterable or async iterable, got 5 (number)',
    );
  });
});

describe('errors', () => {
  test('an error thrown inside a step propagates from the result as the same object', () => {
    const boom = new Error('boom');
    const out = combinePipeline(range(5), [
      function* fail(items: Iterable<number>) {
        for (const n of items) {
          if (n === 3) throw boom;
          yield n;
        }
      },
    ]);
    expect(thrownBy(() => [...out])).toBe(boom);
  });

  test('an error thrown inside an async step rejects the iteration with the same object', async () => {
    const boom = new Error('boom');
    const out = combinePipeline(fromArray(range(5)), [
      async function* fail(items: AsyncIterable<number>) {
        for await (const n of items) if (n === 3) throw boom;
        yield 0;
      },
    ]);
    await expect(collect(out)).rejects.toBe(boom);
  });

  test('breaking out of the result calls return() on the source', () => {
    const { closed, gen } = closable();
    for (const n of combinePipeline(gen(), [removeOdd, identityStep])) {
      expect(n).toBe(0);
      break;
    }
    expect(closed()).toBe(true);
  });

  test('breaking out of an async result calls return() on the source', async () => {
    let closed = false;
    const source = (async function* () {
      try {
        yield* range(100);
      } finally {
        closed = true;
      }
    })();
    for await (const batch of combinePipeline(source, [chunk(3)])) {
      expect(batch).toEqual([0, 1, 2]);
      break;
    }
    expect(closed).toBe(true);
  });

  test('steps that are not an array are a TypeError', () => {
    expect(() => combinePipeline([1], removeOdd as unknown as [])).toThrow(
      'Expected `steps` to be an array of steps, got function removeOdd',
    );
  });

  test('a step that is neither a function nor a process object is a TypeError naming its index and value', () => {
    const steps = [removeOdd, [identityStep, 5]] as unknown as GeneratorStep[];
    expect(() => combinePipeline([1], steps)).toThrow(
      expect.objectContaining({
        name: 'TypeError',
        code: 'ERR_PAIPA_INVALID_ARG',
        message:
          'Expected `steps[1][1]` to be a step (a function of the items, or an object with a process(items) method), got 5 (number)',
      }),
    );
  });

  test('a source that is neither iterable nor a function is a TypeError naming its value', () => {
    expect(() => combinePipeline({ a: 1 } as unknown as number[], [removeOdd])).toThrow(
      'Expected `source` to be an iterable, an async iterable or a function returning one, got {"a":1} (object)',
    );
  });

  test('a step that returns no iterable is a TypeError naming the step', () => {
    const steps = [
      identityStep,
      function count() {
        return 3;
      },
    ] as unknown as GeneratorStep[];
    expect(() => combinePipeline([1], steps)).toThrow(
      'Expected step `steps[1]` (count) to return an iterable or async iterable, got 3 (number)',
    );
  });

  test('an async function step (not an async generator) gets a hint', () => {
    const steps = [async (items: Iterable<number>) => [...items]] as unknown as GeneratorStep[];
    expect(() => combinePipeline([1], steps)).toThrow(/must be an async generator function/);
  });

  test('an unknown option or a debugger of the wrong type is a TypeError', () => {
    expect(() => combinePipeline([1], [removeOdd], { debuger: 1 } as object)).toThrow(
      'Unknown option `debuger` in combinePipeline options; expected one of: `debugger`',
    );
    expect(() => combinePipeline([1], [removeOdd], { debugger: {} as never })).toThrow(
      'Expected `debugger` to be a PipelineRuntimeDebugger, got {} (object)',
    );
  });
});

describe('types', () => {
  test('the result type follows the steps and the source kind', () => {
    const sync = combinePipeline(range(3), [removeOdd, chunk(2)]);
    expectType<Iterable<number[]>>(sync);
    const lines = combinePipeline((n: number) => range(n), [removeOdd, chunk(2)]);
    expectType<(n: number) => Iterable<number[]>>(lines);
    const asyncOut = combinePipeline(fromArray(['a']), [chunk(2)]);
    expectType<AsyncIterable<string[]>>(asyncOut);
    const viaProcess = combinePipeline([1], [{ process: (xs: Iterable<number>) => removeOdd(xs) }]);
    expectType<Iterable<number>>(viaProcess);
    const nestedAsync = combinePipeline(
      [1],
      [
        [
          async function* (xs: Iterable<number>) {
            yield* xs;
          },
        ],
      ],
    );
    expectType<AsyncIterable<number>>(nestedAsync);
    // @ts-expect-error an async pipeline is not a sync iterable
    expectType<Iterable<string[]>>(asyncOut);
    // @ts-expect-error a step for numbers does not take strings
    combinePipeline(['a'], [removeOdd]);
    expect(true).toBe(true);
  });
});
