import type { IteratorSink } from './sinks';

/** What an iteration needs once it starts: the hand-off sink and the run's completion. */
export interface IterationRun {
  sink: IteratorSink;
  completion: Promise<unknown>;
}

const DONE: IteratorResult<never> = Object.freeze({ done: true, value: undefined });

/**
 * The iterator behind `for await (const x of pipeline)`. Written by hand rather than as an
 * async generator: a generator costs several promises and a resumption per item, this costs
 * one already-resolved promise when an output is waiting in the sink.
 *
 * The run starts at the first `next()` (so a misuse such as no input is thrown from the loop);
 * the loop ends with the run's completion, so a failure is thrown as the run's first error and
 * only after every stream closed. `return()` (a `break`, or a throw in the loop body) tears the
 * run down through `cancel` and resolves once everything closed; errors raised by that
 * teardown are moot for a consumer that has left.
 */
export class OutputIterator<O> implements AsyncIterableIterator<O> {
  #run: IterationRun | null = null;
  #done = false;

  constructor(
    private readonly start: () => IterationRun,
    private readonly cancel: () => void,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<O>> {
    if (this.#done) return Promise.resolve(DONE);
    if (this.#run === null) {
      try {
        this.#run = this.start();
      } catch (err) {
        this.#done = true;
        return Promise.reject(err);
      }
    }
    const { sink, completion } = this.#run;
    if (sink.buffered > 0) return Promise.resolve({ done: false, value: sink.takeOutput() as O });
    if (sink.ended) {
      this.#done = true;
      return completion.then(() => DONE);
    }
    // Nothing waiting yet: resolve at the next output (or the end) without re-entering next().
    return new Promise((resolve, reject) => {
      const settle = () => {
        if (sink.buffered > 0) resolve({ done: false, value: sink.takeOutput() as O });
        else if (sink.ended) {
          this.#done = true;
          completion.then(() => resolve(DONE), reject);
        } else sink.onChange(settle);
      };
      sink.onChange(settle);
    });
  }

  return(): Promise<IteratorResult<O>> {
    const run = this.#run;
    const wasDone = this.#done;
    this.#done = true;
    if (run === null || wasDone) return Promise.resolve(DONE);
    this.cancel();
    return run.completion.then(
      () => DONE,
      () => DONE,
    );
  }
}
