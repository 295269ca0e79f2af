import { Pipeline, chunk, consume, flatten, identityStep, iterStep } from '../../src';
import { collect, fromArray, range } from '../support/helpers';

/** A generator over 0..n-1 that records how far it got and whether it was closed. */
function tracked(n: number) {
  const state = { pulled: 0, closed: false };
  function* gen(): Generator<number> {
    try {
      for (let i = 0; i < n; i++) {
        state.pulled++;
        yield i;
      }
    } finally {
      state.closed = true;
    }
  }
  return { state, items: gen() };
}

async function pipelineOutput<T>(steps: unknown[], input: readonly unknown[]): Promise<T[]> {
  const p = new Pipeline(steps);
  p.putAll(input);
  const out: T[] = [];
  for await (const item of p) out.push(item as T);
  return out;
}

describe('chunk', () => {
  test('chunk(3) of 1..8 gives [[1,2,3],[4,5,6],[7,8]]', () => {
    expect([...chunk(3)([1, 2, 3, 4, 5, 6, 7, 8])]).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8],
    ]);
  });

  test('an async input gives an async iterable of the same chunks', async () => {
    const out = chunk(3)(fromArray([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(Symbol.iterator in out).toBe(false);
    expect(await collect(out)).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8],
    ]);
  });

  test('an input that divides evenly has no trailing empty chunk', () => {
    expect([...chunk(2)([1, 2, 3, 4])]).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  test('an empty input gives no chunk at all', async () => {
    expect([...chunk(2)([])]).toEqual([]);
    expect(await collect(chunk(2)(fromArray([])))).toEqual([]);
  });

  test('every chunk is a fresh array', () => {
    const [a, b] = chunk(1)([1, 2]);
    expect(a).not.toBe(b);
  });

  test('the step is named after its size', () => {
    expect(chunk(3).name).toBe('chunk(3)');
  });

  test('a size below 1 or not an integer is a RangeError thrown at once', () => {
    expect(() => chunk(0)).toThrow(
      new RangeError('Expected `chunk(size)` to be an integer from 1 and up, got 0 (number)'),
    );
    expect(() => chunk(1.5)).toThrow(RangeError);
    expect(() => chunk(NaN)).toThrow(RangeError);
  });

  test('a size that is not a number is a TypeError with a code', () => {
    expect(() => chunk('3' as unknown as number)).toThrow(
      expect.objectContaining({ name: 'TypeError', code: 'ERR_PAIPA_INVALID_ARG' }),
    );
  });

  test('a non-iterable input is a TypeError naming the call', () => {
    expect(() => chunk(2)(5 as unknown as number[])).toThrow(
      'Expected `chunk(size)(items)` to be an iterable or async iterable, got 5 (number)',
    );
  });

  test('stopping early closes the input', () => {
    const { state, items } = tracked(100);
    for (const batch of chunk(10)(items)) {
      expect(batch).toHaveLength(10);
      break;
    }
    expect(state).toEqual({ pulled: 10, closed: true });
  });
});

describe('flatten', () => {
  test('expands arrays and other iterables one level, keeping strings and buffers whole', () => {
    const buf = Buffer.from('hi');
    const items = [[1, 2], [3], 4, 'ab', new String('cd'), buf, new Set([5]), [[6]]];
    expect([...flatten(items)]).toEqual([1, 2, 3, 4, 'ab', new String('cd'), buf, 5, [6]]);
  });

  test('undoes chunk', () => {
    expect([...flatten(chunk(3)(range(10)))]).toEqual(range(10));
  });

  test('an async input expands arrays and async iterables', async () => {
    const out = flatten(fromArray<unknown>([[1, 2], fromArray([3, 4]), 'x', 5]));
    expect(Symbol.iterator in out).toBe(false);
    expect(await collect(out)).toEqual([1, 2, 3, 4, 'x', 5]);
  });

  test('an async iterable item in a sync input is a TypeError naming its index', () => {
    expect(() => [...flatten([[1], fromArray([2])])]).toThrow(
      'flatten cannot expand item 1 of a sync iterable: it is an async iterable; give flatten an async iterable instead',
    );
  });

  test('a non-iterable input is a TypeError', () => {
    expect(() => flatten(null as unknown as number[])).toThrow(TypeError);
  });

  test('stopping early closes the inner iterable and the input', () => {
    const inner = tracked(10);
    let outerClosed = false;
    const outer = (function* () {
      try {
        yield inner.items;
      } finally {
        outerClosed = true;
      }
    })();
    for (const item of flatten(outer)) {
      expect(item).toBe(0);
      break;
    }
    expect(inner.state).toEqual({ pulled: 1, closed: true });
    expect(outerClosed).toBe(true);
  });
});

describe('consume', () => {
  test('drains a sync iterable and returns undefined', () => {
    const { state, items } = tracked(5);
    expect(consume(items)).toBeUndefined();
    expect(state).toEqual({ pulled: 5, closed: true });
  });

  test('advances a sync iterator by n items and leaves it open to go on', () => {
    const { state, items } = tracked(5);
    consume(items, 2);
    expect(state).toEqual({ pulled: 2, closed: false });
    expect([...items]).toEqual([2, 3, 4]);
  });

  test('n = 0 advances nothing', () => {
    const { state, items } = tracked(5);
    consume(items, 0);
    expect(state.pulled).toBe(0);
  });

  test('n beyond the end stops at the end', () => {
    const { state, items } = tracked(3);
    consume(items, 10);
    expect(state).toEqual({ pulled: 3, closed: true });
  });

  test('drains an async iterable and resolves with undefined', async () => {
    const seen: number[] = [];
    const items = (async function* () {
      for (const i of range(4)) {
        seen.push(i);
        yield i;
      }
    })();
    const done = consume(items);
    expect(done).toBeInstanceOf(Promise);
    await expect(done).resolves.toBeUndefined();
    expect(seen).toEqual([0, 1, 2, 3]);
  });

  test('advances an async iterator by n items and leaves it open to go on', async () => {
    const items = fromArray(range(5));
    await consume(items, 3);
    expect(await collect(items)).toEqual([3, 4]);
  });

  test('an error from a sync iterable propagates as the same object', () => {
    const boom = new Error('boom');
    const items = (function* () {
      yield 1;
      throw boom;
    })();
    let thrown: unknown = 'nothing thrown';
    try {
      consume(items);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBe(boom);
  });

  test('an error from an async iterable rejects with the same object', async () => {
    const boom = new Error('boom');
    const items = (async function* () {
      yield 1;
      throw boom;
    })();
    await expect(consume(items)).rejects.toBe(boom);
  });

  test('a negative or fractional n is a RangeError, a non-number n a TypeError', () => {
    expect(() => consume([1], -1)).toThrow(
      new RangeError(
        'Expected `consume(iterable, n)` to be an integer from 0 and up, got -1 (number)',
      ),
    );
    expect(() => consume([1], 0.5)).toThrow(RangeError);
    expect(() => consume([1], '1' as unknown as number)).toThrow(TypeError);
  });

  test('a non-iterable is a TypeError thrown synchronously', () => {
    expect(() => consume(42 as unknown as number[])).toThrow(
      'Expected `consume(iterable)` to be an iterable or async iterable, got 42 (number)',
    );
  });
});

describe('identityStep', () => {
  test('returns a sync input itself', () => {
    const items = [1, 2];
    expect(identityStep(items)).toBe(items);
  });

  test('returns an async input itself', () => {
    const items = fromArray([1, 2]);
    expect(identityStep(items)).toBe(items);
  });

  test('a non-iterable input is a TypeError', () => {
    expect(() => identityStep({} as unknown as number[])).toThrow(
      'Expected `identityStep(items)` to be an iterable or async iterable, got {} (object)',
    );
  });
});

describe('inside iterStep of a stream Pipeline', () => {
  test('chunk(3) batches the items', async () => {
    const out = await pipelineOutput<number[]>([[iterStep(chunk(3)), 1]], [1, 2, 3, 4, 5, 6, 7, 8]);
    expect(out).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8],
    ]);
  });

  test('flatten after chunk gives the items back', async () => {
    const out = await pipelineOutput<number>([iterStep(chunk(4)), iterStep(flatten)], range(10));
    expect(out).toEqual(range(10));
  });

  test('identityStep passes every item through', async () => {
    expect(await pipelineOutput<number>([iterStep(identityStep)], range(5))).toEqual(range(5));
  });

  test('consume skips leading items before the step reads the rest', async () => {
    const skipTwo = iterStep(async function* (items: AsyncIterable<number>) {
      await consume(items, 2);
      yield* items;
    });
    expect(await pipelineOutput<number>([skipTwo], range(5))).toEqual([2, 3, 4]);
  });
});
