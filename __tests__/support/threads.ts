import workerThreads from 'node:worker_threads';

/** One worker thread seen by `trackThreads`. */
export interface TrackedThread {
  readonly worker: workerThreads.Worker;
  exited: boolean;
  exitCode: number | undefined;
}

/**
 * Records every worker thread made while tracking is on (the engine's pool creates them through
 * `node:worker_threads`, which is the one module object shared with the tests), so a test can
 * check that each has exited when a run settles. `stop()` restores the real constructor.
 */
export function trackThreads(): {
  threads: TrackedThread[];
  running: () => TrackedThread[];
  stop: () => void;
} {
  const Real = workerThreads.Worker;
  const threads: TrackedThread[] = [];
  class Tracked extends Real {
    constructor(...args: ConstructorParameters<typeof Real>) {
      super(...args);
      const entry: TrackedThread = { worker: this, exited: false, exitCode: undefined };
      threads.push(entry);
      this.once('exit', (code) => {
        entry.exited = true;
        entry.exitCode = code;
      });
    }
  }
  (workerThreads as { Worker: typeof Real }).Worker = Tracked;
  return {
    threads,
    running: () => threads.filter((t) => !t.exited),
    stop: () => {
      (workerThreads as { Worker: typeof Real }).Worker = Real;
    },
  };
}
