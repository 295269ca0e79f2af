import {
  Writable as CoreWritable,
  Readable as CoreReadable,
  pipeline as corePipeline,
} from 'node:stream';
import { Transform } from 'readable-stream';
import {
  AbortError,
  Pipeline,
  Step,
  errorOrigin,
  iterStep,
  streamStep,
  type StepContext,
} from '../../src';
import { deferred, delay, range, trackedSource, watchdog } from '../support/helpers';

class Boom extends Error {}

describe('the first error rejects run() with that very error', () => {
  test('an error in a function step rejects run() with that very error, annotated with step and instance', async () => {
    const boom = new Boom('bad item');
    function parse(n: number) {
      if (n === 5) throw boom;
      return n;
    }
    const p = new Pipeline([parse]);
    p.putAll(range(10));
    await expect(p.run()).rejects.toBe(boom);
    expect(errorOrigin(boom)).toEqual({ step: 'parse', instance: 0 });
  });

  test('a rejected promise in an async step rejects run() with that error', async () => {
    const boom = new Boom();
    const p = new Pipeline([[async (n: number) => (n === 3 ? Promise.reject(boom) : n), 3]]);
    p.putAll(range(10));
    await expect(p.run()).rejects.toBe(boom);
  });

  test('a crashing class step with maxRetries 0 rejects with its error', async () => {
    const boom = new Boom();
    class Crasher extends Step {
      process() {
        throw boom;
      }
    }
    const p = new Pipeline([[Crasher, 2]], { maxRetries: 0 });
    p.putAll(range(5));
    await expect(p.run()).rejects.toBe(boom);
    expect(errorOrigin(boom)?.step).toBe('Crasher');
  });

  test('an iterator step that fails on an infinite source rejects instead of hanging', async () => {
    const boom = new Boom();
    const source = trackedSource();
    const p = new Pipeline([
      iterStep(async function* crasher(items: AsyncIterable<number>) {
        for await (const n of items) {
          if (n > 500) throw boom;
          yield n;
        }
      }),
    ]);
    p.putIterable(source.iterable);
    await expect(watchdog(p.run(), 2000, 'run')).rejects.toBe(boom);
    expect(source.state.closed).toBe(true);
  });

  test('an iterator step idle on its input is torn down when a later step fails', async () => {
    const boom = new Boom();
    const p = new Pipeline([
      async (n: number) => (await delay(2), n),
      iterStep(async function* (items: AsyncIterable<number>) {
        for await (const n of items) yield n;
      }),
      (n: number) => {
        if (n === 3) throw boom;
        return n;
      },
    ]);
    p.putAll(range(10));
    await expect(watchdog(p.run(), 2000, 'run')).rejects.toBe(boom);
  });

  test('an error emitted by a stream step rejects run() with it', async () => {
    const boom = new Boom();
    const p = new Pipeline([
      streamStep(
        () =>
          new Transform({
            objectMode: true,
            transform(n: number, _enc, cb) {
              cb(n === 4 ? boom : null, n);
            },
          }),
        'transformer',
      ),
    ]);
    p.putAll(range(10));
    await expect(p.run()).rejects.toBe(boom);
    expect(errorOrigin(boom)).toEqual({ step: 'transformer', instance: 0 });
  });

  test('a stream step destroyed without an error fails the run with a premature close', async () => {
    const p = new Pipeline([
      streamStep(
        () =>
          new Transform({
            objectMode: true,
            transform(n: number, _enc, cb) {
              if (n === 2) this.destroy();
              else cb(null, n);
            },
          }),
      ),
    ]);
    p.putAll(range(5));
    await expect(watchdog(p.run())).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });

  test('an error thrown by a lazy source rejects run() with it, annotated as the source', async () => {
    const boom = new Boom();
    function* source() {
      yield 1;
      yield 2;
      throw boom;
    }
    const p = new Pipeline([(n: number) => n]);
    p.putIterable(source());
    await expect(p.run()).rejects.toBe(boom);
    expect(errorOrigin(boom)?.step).toBe('source');
  });

  test('an async source that rejects fails the run with that error', async () => {
    const boom = new Boom();
    async function* source() {
      yield 1;
      await delay(1);
      throw boom;
    }
    const p = new Pipeline([(n: number) => n]);
    p.putIterable(source());
    await expect(p.run()).rejects.toBe(boom);
  });

  test('a source yielding null fails the run with a TypeError that says so', async () => {
    const p = new Pipeline([(n: number) => n]);
    p.putIterable([1, null as unknown as number, 3]);
    await expect(p.run()).rejects.toThrow(/source yielded null after 1 items/);
  });

  test('an error in onMeta (the end of the pipeline) rejects run() with it', async () => {
    const boom = new Boom();
    const p = new Pipeline([(n: number) => n], {
      onMeta: () => {
        throw boom;
      },
    });
    p.put(1);
    p.putMeta('m');
    await expect(p.run()).rejects.toBe(boom);
  });

  test('a thrown primitive still fails the run, carried as the cause', async () => {
    const p = new Pipeline([
      () => {
        throw 'plain string';
      },
    ]);
    p.put(1);
    await expect(p.run()).rejects.toMatchObject({ cause: 'plain string' });
  });

  test('when two steps fail, the first error wins', async () => {
    const first = new Boom('first');
    const second = new Boom('second');
    const p = new Pipeline([
      (n: number) => {
        if (n === 2) throw first;
        return n;
      },
      async (n: number) => {
        await delay(5);
        if (n === 1) throw second;
        return n;
      },
    ]);
    p.putAll(range(5));
    await expect(p.run()).rejects.toBe(first);
    await delay(10); // let the second step's in-flight timer finish before the leak check
  });
});

describe('teardown', () => {
  test('run() rejects promptly without waiting for in-flight calls that ignore the signal', async () => {
    const boom = new Boom();
    const never = deferred<number>();
    const p = new Pipeline([
      [
        async (n: number) => {
          if (n === 3) throw boom;
          return n < 3 ? n : never.promise;
        },
        8,
      ],
    ]);
    p.putAll(range(20));
    const started = performance.now();
    await expect(watchdog(p.run(), 1000)).rejects.toBe(boom);
    expect(performance.now() - started).toBeLessThan(200);
  });

  test('ctx.signal is aborted when the pipeline is torn down by an error', async () => {
    const boom = new Boom();
    const signals: AbortSignal[] = [];
    const p = new Pipeline([
      [
        async (n: number, ctx: StepContext) => {
          signals.push(ctx.signal);
          if (n === 0) {
            await delay(1);
            throw boom;
          }
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
          return n;
        },
        4,
      ],
    ]);
    p.putAll(range(4));
    await expect(watchdog(p.run())).rejects.toBe(boom);
    expect(signals.length).toBe(4);
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(signals[0].reason).toBe(boom);
  });

  test('ctx.signal is not aborted after a successful run', async () => {
    let signal: AbortSignal | undefined;
    const p = new Pipeline([(n: number, ctx: StepContext) => ((signal = ctx.signal), n)]);
    p.put(1);
    await p.run();
    expect(signal?.aborted).toBe(false);
  });

  test('shutdown hooks run exactly once per instance and stepShutdown once, on failure', async () => {
    const boom = new Boom();
    const shutdown = jest.fn();
    const stepShutdown = jest.fn();
    class S extends Step {
      process(n: number) {
        if (n === 7) throw boom;
        return n;
      }
      shutdown() {
        shutdown(this.index);
      }
      stepShutdown() {
        stepShutdown();
      }
    }
    const p = new Pipeline([
      [S, 3],
      [S, 2],
    ]);
    p.putAll(range(20));
    await expect(p.run()).rejects.toBe(boom);
    expect(shutdown).toHaveBeenCalledTimes(5);
    expect(stepShutdown).toHaveBeenCalledTimes(2);
  });

  test('run() settles only after async shutdown hooks have finished', async () => {
    const order: string[] = [];
    class S extends Step {
      process(n: number) {
        return n;
      }
      async shutdown() {
        await delay(20);
        order.push('shutdown');
      }
    }
    const p = new Pipeline([S]);
    p.put(1);
    await p.run();
    order.push('settled');
    expect(order).toEqual(['shutdown', 'settled']);
  });

  test('a lazy source is closed (return() called) when a step fails', async () => {
    const source = trackedSource();
    const p = new Pipeline([
      (n: number) => {
        if (n === 10) throw new Boom();
        return n;
      },
    ]);
    p.putIterable(source.iterable);
    await expect(p.run()).rejects.toBeInstanceOf(Boom);
    expect(source.state.closed).toBe(true);
  });

  test('an error in initialize() fails the run and still shuts down the instances that were initialized', async () => {
    const boom = new Boom();
    const shutdown = jest.fn();
    const stepShutdown = jest.fn();
    class S extends Step {
      initialize() {
        if (this.index === 1) throw boom;
      }
      process(n: number) {
        return n;
      }
      shutdown() {
        shutdown(this.index);
      }
      stepShutdown() {
        stepShutdown();
      }
    }
    const p = new Pipeline([[S, 3]]);
    p.putAll(range(3));
    await expect(p.run()).rejects.toBe(boom);
    expect(shutdown.mock.calls.map((c) => c[0]).sort()).toEqual([0, 2]);
    expect(stepShutdown).toHaveBeenCalledTimes(1);
  });

  test('an error in a shutdown hook after a successful run rejects run() with it', async () => {
    const boom = new Boom();
    class S extends Step {
      process(n: number) {
        return n;
      }
      shutdown() {
        throw boom;
      }
    }
    const p = new Pipeline([S]);
    p.put(1);
    await expect(p.run()).rejects.toBe(boom);
  });

  test('a failed pipeline reports ok false, alive false, and calls onFail once with the error', async () => {
    const boom = new Boom();
    const onFail = jest.fn();
    const p = new Pipeline(
      [
        () => {
          throw boom;
        },
      ],
      { onFail },
    );
    p.put(1);
    await expect(p.run()).rejects.toBe(boom);
    expect(p.ok).toBe(false);
    expect(p.alive).toBe(false);
    expect(onFail).toHaveBeenCalledTimes(1);
    expect(onFail).toHaveBeenCalledWith(boom);
  });
});

describe('abort signal', () => {
  test('aborting options.signal rejects run() with an AbortError and tears everything down', async () => {
    const controller = new AbortController();
    const shutdown = jest.fn();
    class Slow extends Step {
      async process(n: number) {
        await delay(5);
        return n;
      }
      shutdown() {
        shutdown();
      }
    }
    const source = trackedSource();
    const p = new Pipeline([[Slow, 2]], { signal: controller.signal });
    p.putIterable(source.iterable);
    const run = p.run();
    await delay(20);
    controller.abort();
    const err = await watchdog(run).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(err).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(shutdown).toHaveBeenCalledTimes(2);
    expect(source.state.closed).toBe(true);
  });

  test('a signal aborted before run() rejects at once', async () => {
    const p = new Pipeline([(n: number) => n], { signal: AbortSignal.abort() });
    p.put(1);
    await expect(watchdog(p.run())).rejects.toBeInstanceOf(AbortError);
  });

  test('no abort listener stays on the user signal after the run', async () => {
    const controller = new AbortController();
    const add = jest.spyOn(controller.signal, 'addEventListener');
    const remove = jest.spyOn(controller.signal, 'removeEventListener');
    const p = new Pipeline([(n: number) => n], { signal: controller.signal });
    p.putAll([1, 2]);
    await p.run();
    expect(add).toHaveBeenCalledTimes(1);
    expect(remove).toHaveBeenCalledTimes(1);
    expect(remove.mock.calls[0][1]).toBe(add.mock.calls[0][1]);
  });
});

describe('consumers', () => {
  test('breaking out of for await tears the pipeline down, closes the source and runs shutdown', async () => {
    const source = trackedSource();
    const shutdown = jest.fn();
    class S extends Step {
      process(n: number) {
        return n;
      }
      shutdown() {
        shutdown();
      }
    }
    const p = new Pipeline([[S, 2]]);
    p.putIterable(source.iterable);
    const seen: number[] = [];
    for await (const n of p) {
      seen.push(n);
      if (seen.length === 5) break;
    }
    expect(seen.length).toBe(5);
    expect(source.state.closed).toBe(true);
    expect(shutdown).toHaveBeenCalledTimes(2);
    expect(p.ok).toBe(true);
    expect(p.alive).toBe(false);
  });

  test('an error in a step is thrown from the for await loop as that very error', async () => {
    const boom = new Boom();
    const p = new Pipeline([
      (n: number) => {
        if (n === 3) throw boom;
        return n;
      },
    ]);
    p.putAll(range(10));
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const n of p) seen.push(n);
      })(),
    ).rejects.toBe(boom);
    // the run stops at once: outputs not yet taken may be dropped, none after the failure
    expect([0, 1, 2].slice(0, seen.length)).toEqual(seen);
  });

  test('an error thrown by the loop body tears the pipeline down and propagates unchanged', async () => {
    const boom = new Boom();
    const source = trackedSource();
    const p = new Pipeline([(n: number) => n]);
    p.putIterable(source.iterable);
    await expect(
      (async () => {
        for await (const n of p) if (n === 2) throw boom;
      })(),
    ).rejects.toBe(boom);
    expect(source.state.closed).toBe(true);
  });

  test('a step error errors the stream() Duplex with that very error inside stream.pipeline', async () => {
    const boom = new Boom();
    const shutdown = jest.fn();
    class S extends Step {
      process(n: number) {
        if (n === 5) throw boom;
        return n;
      }
      shutdown() {
        shutdown();
      }
    }
    const p = new Pipeline([[S, 2]]);
    const err = await watchdog(
      new Promise((resolve) =>
        corePipeline(
          CoreReadable.from(range(100)),
          p.stream(),
          new CoreWritable({ objectMode: true, write: (_c, _e, cb) => cb() }),
          resolve,
        ),
      ),
    );
    expect(err).toBe(boom);
    expect(shutdown).toHaveBeenCalledTimes(2);
  });

  test('an error in the downstream sink tears down the stream() pipeline', async () => {
    const boom = new Boom();
    const shutdown = jest.fn();
    class S extends Step {
      process(n: number) {
        return n;
      }
      shutdown() {
        shutdown();
      }
    }
    const p = new Pipeline([S]);
    const err = await watchdog(
      new Promise((resolve) =>
        corePipeline(
          CoreReadable.from(range(100)),
          p.stream(),
          new CoreWritable({
            objectMode: true,
            write: (c: number, _e, cb) => cb(c === 10 ? boom : null),
          }),
          resolve,
        ),
      ),
    );
    expect(err).toBe(boom);
    expect(shutdown).toHaveBeenCalledTimes(1);
    expect(p.alive).toBe(false);
  });

  test('destroying the stream() Duplex tears down every stage', async () => {
    const shutdown = jest.fn();
    const aborted = jest.fn();
    class S extends Step {
      process(n: number, ctx: StepContext) {
        ctx.signal.addEventListener('abort', aborted);
        return n;
      }
      shutdown() {
        shutdown();
      }
    }
    const p = new Pipeline([S, [S, 2]]);
    const duplex = p.stream();
    duplex.write(1);
    await delay(5);
    const closed = new Promise((resolve) => duplex.once('close', resolve));
    duplex.destroy();
    await watchdog(closed);
    // 'close' of the joined stream comes after every stage has shut down
    expect(shutdown).toHaveBeenCalledTimes(3);
    expect(aborted).toHaveBeenCalled();
    expect(p.alive).toBe(false);
  });
});
