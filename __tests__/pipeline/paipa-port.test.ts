/**
 * The cases of paipa's own (Python) test suite, ported one to one, so behaviour users rely on
 * there holds here.
 */
import { Pipeline, Step, chunk, flatten, funcStep, iterStep } from '../../src';
import { range, trackedSource, watchdog } from '../support/helpers';

class FooError extends Error {}

test('an iterator step failing on an infinite source rejects run() instead of hanging', async () => {
  const source = trackedSource();
  const p = new Pipeline([
    [
      iterStep(async function* crasher(items: AsyncIterable<number>) {
        for await (const n of items) {
          if (n > 500) throw new FooError();
          yield n;
        }
      }),
      1,
    ],
  ]);
  p.putIterable(source.iterable);
  await expect(watchdog(p.run(), 5000, 'run')).rejects.toBeInstanceOf(FooError);
});

test('an iterator step failing after 1000 of a million items with maxRetries 1 rejects with its error', async () => {
  const p = new Pipeline(
    [
      [
        iterStep(async function* failingIterator(items: AsyncIterable<number>) {
          let count = 0;
          for await (const entry of items) {
            if (++count > 1000) throw new FooError();
            yield entry;
          }
        }),
        1,
      ],
    ],
    { maxRetries: 1 },
  );
  p.putIterable(range(1_000_000));
  await expect(watchdog(p.run(), 5000, 'run')).rejects.toBeInstanceOf(FooError);
});

describe('a 5-step pipeline where item 17 always fails', () => {
  class Download extends Step<number, number> {
    process(entry: number) {
      return entry;
    }
  }
  class Upload extends Step<number, number> {
    process(entry: number) {
      return entry;
    }
  }
  function process(response: number) {
    if (response === 17) throw new FooError(String(response));
    return response;
  }

  test('concurrency 10/1/2/1/40 with chunking and flattening counts 999 outputs of 1000', async () => {
    const deadLetters: unknown[] = [];
    const p = new Pipeline(
      [
        [Download, 10],
        [funcStep(process), 1],
        [iterStep(chunk(10)), 2],
        [iterStep(flatten), 1],
        [Upload, 40],
      ],
      { maxRetries: 1, onItemError: (_err, item) => void deadLetters.push(item) },
    );
    p.putIterable(range(1000));
    const result = await p.run();
    expect(result.count).toBe(999);
    expect(deadLetters).toEqual([17]);
  });

  test('the same with putAll and finish() counts 999 outputs', async () => {
    const p = new Pipeline(
      [
        [Download, 10],
        [funcStep(process), 1],
        [Upload, 40],
      ],
      { maxRetries: 1, onItemError: () => {} },
    );
    p.putAll(range(1000));
    p.finish();
    expect((await p.run()).count).toBe(999);
  });
});
