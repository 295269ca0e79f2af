import { iterStep, Pipeline, Step } from '../../src';
import { collect, range } from '../support/helpers';

const double = (n: number) => n * 2;
const odd = (n: number) => (n % 2 ? n : undefined);
class Describe extends Step<number, string, { prefix: string }> {
  process(n: number) {
    return `${this.options.prefix}${n}`;
  }
}

describe('Pipeline.from<I>(): a typed way to write the step list', () => {
  test('pipe() collects exactly the step list the array form would have', () => {
    const pairs = iterStep(async function* (items: AsyncIterable<string>) {
      for await (const s of items) yield [s, s];
    });
    const builder = Pipeline.from<number>()
      .pipe(double)
      .pipe(odd, 3)
      .pipe(Describe, undefined, { prefix: '#' })
      .pipe(pairs, 1, { name: 'pairs' });
    expect(builder.steps).toEqual([
      double,
      [odd, 3],
      [Describe, undefined, { prefix: '#' }],
      [pairs, 1, { name: 'pairs' }],
    ]);
  });

  test('build() makes the same pipeline as new Pipeline(steps, options)', async () => {
    const builder = Pipeline.from<number>()
      .pipe(double, 2)
      .pipe(Describe, 3, { prefix: 'n=', name: 'describe' });
    const built = builder.build({ ordered: true, highWaterMark: 4 });
    const direct = new Pipeline(
      [
        [double, 2],
        [Describe, 3, { prefix: 'n=', name: 'describe' }],
      ],
      { ordered: true, highWaterMark: 4 },
    );
    expect(built).toBeInstanceOf(Pipeline);
    expect(built.stats()).toEqual(direct.stats());
    expect(built.maxItemsInside).toBe(direct.maxItemsInside);
    built.putAll(range(6));
    direct.putAll(range(6));
    expect(await collect(built)).toEqual(await collect(direct));
  });

  test('a builder is immutable: pipe() returns a new one, build() a fresh pipeline each time', async () => {
    const prefix = Pipeline.from<number>().pipe(double);
    const a = prefix.pipe((n) => n + 1);
    const b = prefix.pipe((n) => -n);
    expect(prefix.steps).toHaveLength(1);
    expect([a.steps.length, b.steps.length]).toEqual([2, 2]);

    const first = a.build({ ordered: true });
    const second = a.build({ ordered: true });
    expect(first).not.toBe(second);
    first.putAll([1, 2]);
    second.putAll([3]);
    expect(await collect(first)).toEqual([3, 5]);
    expect(await collect(second)).toEqual([7]);
    expect(await collect(b.build().putAll([4]))).toEqual([-8]);
  });

  test('called on a subclass, from() builds that subclass', async () => {
    class Numbers extends Pipeline {}
    const p = Numbers.from<number>().pipe(double).build();
    expect(p).toBeInstanceOf(Numbers);
    expect(await collect(p.putAll([21]))).toEqual([42]);
  });

  test('the step list is validated by build(), with the same errors as the array form', () => {
    expect(() => Pipeline.from<number>().build()).toThrow(/at least one step/);
    const zero = Pipeline.from<number>().pipe(double).pipe(odd, 0);
    expect(() => zero.build()).toThrow(RangeError);
    expect(() => zero.build()).toThrow(/steps\[1\] concurrency/);
    expect(() => Pipeline.from<number>().pipe(double).build({ highWaterMark: 0 })).toThrow(
      /options.highWaterMark/,
    );
  });

  test('from() detached from Pipeline is a TypeError with a code', () => {
    const { from } = Pipeline;
    expect(() => from<number>()).toThrow(TypeError);
    expect(() => from<number>()).toThrow(/Pipeline\.from\(\) must be called on Pipeline/);
    expect(() => from<number>()).toThrow(
      expect.objectContaining({ code: 'ERR_PAIPA_INVALID_ARG' }),
    );
  });
});

describe('Pipeline is still one class at runtime', () => {
  test('its name, instanceof, constructor and subclasses are those of a plain class', async () => {
    const p = new Pipeline([double]);
    expect(Pipeline.name).toBe('Pipeline');
    expect(p).toBeInstanceOf(Pipeline);
    expect(p.constructor).toBe(Pipeline);
    expect(Object.keys(Pipeline)).toEqual([]);

    class Tagged extends Pipeline<number, number> {
      readonly tag = 'tagged';
    }
    const t = new Tagged([double]);
    expect(t).toBeInstanceOf(Pipeline);
    expect(t.tag).toBe('tagged');
    expect(await collect(t.putAll([1]))).toEqual([2]);
  });
});
