import type { IteratorSink } from './sinks';

/** What an iteration needs once it starts: the hand-off sink and the run's completion. */
export interface IterationRun {
  sink: IteratorSink;
  completion: Promise<unknown>;
  /**
   * Acknowledgements (absent while off): outputs come in envelopes; `unwrap` gives the loop the
   * value, `next` tells that the loop asked for the next output, so the last one is handed on.
   */
  delivery?: {
    unwrap(chunk: unknown): unknown;
    next(): void;
    end(): Promise<Error | undefined>;
  } | null;
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
    const { sink, completion, delivery } = this.#run;
    if (delivery) return this.#nextTracked(sink, completion, delivery);
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

  /** next() under acknowledgements: the same hand-off, with the values taken out of envelopes. */
  #nextTracked(
    sink: IterationRun['sink'],
    completion: Promise<unknown>,
    delivery: NonNullable<IterationRun['delivery']>,
  ): Promise<IteratorResult<O>> {
    delivery.next();
    const take = () => ({ done: false, value: delivery.unwrap(sink.takeOutput()) as O });
    // The loop has taken every output: the last checkpoint comes now (a throwing one fails it).
    const end = async () => {
      const err = await delivery.end();
      if (err) throw err;
      return DONE;
    };
    if (sink.buffered > 0) return Promise.resolve(take());
    if (sink.ended) {
      this.#done = true;
      return completion.then(end);
    }
    return new Promise((resolve, reject) => {
      const settle = () => {
        if (sink.buffered > 0) resolve(take());
        else if (sink.ended) {
          this.#done = true;
          completion.then(end).then(resolve, reject);
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
