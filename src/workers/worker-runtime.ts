import { BatchDispatcher } from './batch-dispatcher';
import { BATCHES_PER_THREAD, ThreadPool } from './thread-pool';
import type { WorkerStep } from './worker-step';

/**
 * Things a step owns for the length of one run, started and stopped by the stage that hosts
 * the step (a worker step's threads). `start` resolves when the step can take items; `stop`
 * runs exactly once, after a complete run (`completed`) or a torn-down one, and resolves when
 * nothing of the step is left running.
 */
export interface StepResources {
  start(host: ResourceHost): Promise<void>;
  stop(completed: boolean): Promise<void>;
}

export interface ResourceHost {
  /** Fails the stage (and so the run) with this error. */
  fail(err: Error): void;
  /** The step's live figures; a worker step adds its threads' busy time and restarts there. */
  readonly counters: { restarts: number; busyMs: number };
}

/** Items a worker step's runner may hold at once: every thread's batches, full. */
export function workerSlots(threads: number, batchSize: number): number {
  return threads * BATCHES_PER_THREAD * batchSize;
}

/**
 * One run of a worker step: its threads (`ThreadPool`) and the batching between the step
 * runner and them (`BatchDispatcher`). `submit` is the step function the runner calls.
 */
export class WorkerRuntime implements StepResources {
  readonly submit: (item: unknown) => PromiseLike<unknown>;
  readonly #pool: ThreadPool;
  readonly #dispatcher: BatchDispatcher;
  #host: ResourceHost | null = null;

  constructor(def: WorkerStep, step: string, threads: number) {
    this.#pool = new ThreadPool(def, step, threads, {
      crashed: () => {
        const counters = this.#host?.counters;
        if (counters) counters.restarts++;
      },
      fatal: (err) => this.#host?.fail(err),
    });
    this.#dispatcher = new BatchDispatcher(this.#pool, step, threads, def.batchSize, (ms) => {
      if (this.#host) this.#host.counters.busyMs += ms;
    });
    this.submit = this.#dispatcher.submit;
  }

  async start(host: ResourceHost): Promise<void> {
    this.#host = host;
    await this.#pool.start();
  }

  async stop(completed: boolean): Promise<void> {
    this.#dispatcher.stop();
    try {
      if (completed) await this.#pool.teardown();
    } finally {
      await this.#pool.destroy();
    }
  }
}
