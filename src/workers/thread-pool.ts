import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import type { Piscina } from 'piscina';
import { annotateError, PaipaError } from '../errors/errors';
import { fromWire, type WireError } from './error-crossing';
import type { WorkerStep } from './worker-step';

/**
 * piscina, loaded when the first worker step starts its threads: a process whose pipelines
 * have no worker step does not load it (~1.7 MB of RSS, measured against S9's peak).
 */
let PiscinaClass: typeof Piscina | null = null;
function piscina(): typeof Piscina {
  return (PiscinaClass ??= (require('piscina') as typeof import('piscina')).Piscina);
}

/** The thread side (plain JavaScript, shipped next to this file in src/ and in dist/). */
const THREAD_ENTRY = join(__dirname, 'thread-entry.cjs');
/** Key of the messages `thread-entry.cjs` posts on its own (ready, load-failed). */
const MESSAGE_KEY = 'paipa.workerStep';
/**
 * Batches a thread holds at once: one running and one waiting, so a thread never idles for
 * the round trip to the main thread between two batches.
 */
export const BATCHES_PER_THREAD = 2;

/** One thread of the step, as the main thread sees it. */
export interface ThreadRecord {
  /** The thread's index within the step (0-based; a replacement takes the dead thread's index). */
  index: number;
  threadId: number;
  ready: boolean;
  exitCode: number | undefined;
  /** The error that killed the thread (uncaught error, out of memory), if any. */
  error: unknown;
  /** Settles when the thread has exited. */
  exited: Promise<void>;
}

/** Where piscina placed a task: written by our load balancer, read when the task settles. */
export interface TaskTag {
  /** The threadId of the thread that took the task (-1 until it is placed). */
  assigned: number;
  /** Place the task on this thread only (teardown). */
  thread?: number;
}

export interface PoolEvents {
  /** A thread that had started died during the run; piscina is replacing it. */
  crashed(thread: ThreadRecord): void;
  /** The step cannot go on (a thread failed to load or died before it was ready). */
  fatal(err: Error): void;
}

interface BatchResult {
  values: unknown[];
  errors: unknown[] | null;
  ms: number;
}

/**
 * The step's threads: a piscina pool of exactly `threads` threads running `thread-entry.cjs`,
 * plus what piscina does not track for us: a stable index per thread, which thread ran a task
 * (through a load balancer that records its choice), how a thread died, and per-thread
 * teardown at the end. Nothing starts before `start()`; `destroy()` ends every thread and
 * resolves once all have exited.
 */
export class ThreadPool {
  readonly #def: WorkerStep;
  readonly #step: string;
  readonly #threads: number;
  readonly #events: PoolEvents;
  #pool: Piscina | null = null;
  readonly #byId = new Map<number, ThreadRecord>();
  readonly #slots: (ThreadRecord | null)[];
  readonly #watched = new WeakSet<Worker>();
  #stopping = false;
  #readyCount = 0;
  /** Aborts the teardown task placed on a thread (by threadId), should that thread die. */
  readonly #teardowns = new Map<number, AbortController>();
  #startWaiter: { resolve: () => void; reject: (err: Error) => void } | null = null;

  constructor(def: WorkerStep, step: string, threads: number, events: PoolEvents) {
    this.#def = def;
    this.#step = step;
    this.#threads = threads;
    this.#events = events;
    this.#slots = new Array<ThreadRecord | null>(threads).fill(null);
  }

  /** Starts the threads; resolves once each has loaded the module and run `setup()`. */
  start(): Promise<void> {
    const def = this.#def;
    const Pool = piscina();
    const pool = new Pool({
      filename: THREAD_ENTRY,
      minThreads: this.#threads,
      maxThreads: this.#threads,
      idleTimeout: Infinity,
      concurrentTasksPerWorker: BATCHES_PER_THREAD,
      recordTiming: false,
      // piscina's default parks an idle thread in Atomics.wait, where its event loop stands
      // still: timers, I/O and unhandled rejections of the user's module would wait for the
      // next task. Tasks are batches here, so the saving per task is not worth that.
      atomics: 'disabled',
      execArgv: def.execArgv ? [...def.execArgv] : undefined,
      resourceLimits: def.resourceLimits,
      workerData: { file: def.file, exportName: def.exportName, setupOptions: def.setupOptions },
      loadBalancer: (task, workers) => {
        const tag = (task as unknown as Record<symbol, TaskTag | null>)[Pool.queueOptionsSymbol];
        if (tag?.thread !== undefined) {
          return workers.find((w) => w.id === tag.thread && w.currentUsage === 0) ?? null;
        }
        let best = null;
        for (const w of workers) {
          if (
            w.currentUsage < BATCHES_PER_THREAD &&
            (best === null || w.currentUsage < best.currentUsage)
          ) {
            best = w;
          }
        }
        if (best !== null && tag) tag.assigned = best.id;
        return best;
      },
    });
    this.#pool = pool;
    // Thread deaths are handled per thread (see #watch); piscina's own report would otherwise
    // be an unhandled 'error' event.
    pool.on('error', () => {});
    pool.on('message', (message: Record<string, unknown>) => this.#onMessage(message));
    this.#watch();
    return new Promise<void>((resolve, reject) => {
      if (this.#readyCount >= this.#threads) resolve();
      else this.#startWaiter = { resolve, reject };
    });
  }

  #onMessage(message: Record<string, unknown>): void {
    if (message === null || typeof message !== 'object' || !(MESSAGE_KEY in message)) return;
    const record = this.#byId.get(message.threadId as number);
    if (message[MESSAGE_KEY] === 'ready') {
      if (record === undefined || record.ready) return;
      record.ready = true;
      this.#readyCount++;
      if (this.#readyCount >= this.#threads && this.#startWaiter) {
        this.#startWaiter.resolve();
        this.#startWaiter = null;
      }
    } else if (message[MESSAGE_KEY] === 'load-failed') {
      const cause = fromWire(message.error as WireError) as Error;
      const err = new PaipaError(
        'ERR_PAIPA_WORKER_LOAD',
        `Worker step "${this.#step}" failed to start: ${cause?.message ?? String(cause)}`,
        { cause },
      );
      this.#fail(err, record?.index ?? 0);
    }
  }

  #fail(err: Error, index: number): void {
    annotateError(err, { step: this.#step, instance: index });
    if (this.#startWaiter) {
      this.#startWaiter.reject(err);
      this.#startWaiter = null;
    } else {
      this.#events.fatal(err);
    }
  }

  /** Attaches our listeners to every thread piscina has made that we have not seen yet. */
  #watch(): void {
    for (const worker of this.#pool!.threads) {
      if (this.#watched.has(worker)) continue;
      this.#watched.add(worker);
      const index = this.#slots.indexOf(null);
      let exited!: () => void;
      const record: ThreadRecord = {
        index: index === -1 ? this.#slots.length : index,
        threadId: worker.threadId,
        ready: false,
        exitCode: undefined,
        error: undefined,
        exited: new Promise<void>((resolve) => (exited = resolve)),
      };
      if (index !== -1) this.#slots[index] = record;
      this.#byId.set(worker.threadId, record);
      worker.on('error', (err) => {
        record.error ??= err;
      });
      worker.once('exit', (code) => {
        record.exitCode = code;
        if (this.#slots[record.index] === record) this.#slots[record.index] = null;
        exited();
        this.#teardowns.get(record.threadId)?.abort();
        if (this.#stopping) return;
        if (record.ready) {
          this.#events.crashed(record);
          // piscina has already made the replacement (in its own 'exit' listener, added first).
          this.#watch();
        } else {
          this.#fail(exitError(this.#step, record, 'before it was ready'), record.index);
        }
      });
    }
  }

  /** The thread with this threadId, if it ever ran in this pool. */
  thread(threadId: number): ThreadRecord | undefined {
    return this.#byId.get(threadId);
  }

  /** Sends one batch; `tag.assigned` tells, once it settles, which thread took it. */
  runBatch(items: unknown[]): { tag: TaskTag; result: Promise<BatchResult> } {
    const tag: TaskTag = { assigned: -1 };
    const task = { items, [piscina().queueOptionsSymbol]: tag };
    return { tag, result: this.#pool!.run(task) as Promise<BatchResult> };
  }

  /**
   * Runs `teardown()` on every live thread (each task is placed on its own thread); throws the
   * first error, marked with the thread's index. A thread that dies meanwhile is an
   * `ERR_PAIPA_WORKER_EXITED` error: its teardown may not have run.
   */
  async teardown(): Promise<void> {
    const pool = this.#pool;
    if (pool === null) return;
    const present = new Set(pool.threads.map((w) => w.threadId));
    const live = this.#slots.filter(
      (r): r is ThreadRecord => r !== null && r.ready && present.has(r.threadId),
    );
    const results = await Promise.allSettled(
      live.map(async (record) => {
        const tag: TaskTag = { assigned: -1, thread: record.threadId };
        // A task placed on one thread waits for that thread only: if it dies first, the
        // exit listener aborts the task instead of leaving it queued for ever.
        const abort = new AbortController();
        this.#teardowns.set(record.threadId, abort);
        let answer: { ok: boolean; error?: WireError };
        try {
          answer = await pool.run(
            { op: 'teardown', [piscina().queueOptionsSymbol]: tag },
            { signal: abort.signal },
          );
        } catch {
          await record.exited;
          throw annotateError(exitError(this.#step, record, 'during teardown()'), {
            step: this.#step,
            instance: record.index,
          });
        } finally {
          this.#teardowns.delete(record.threadId);
        }
        if (!answer.ok) {
          throw annotateError(fromWire(answer.error!), {
            step: this.#step,
            instance: record.index,
          });
        }
      }),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Terminates every thread; resolves once all have exited. Safe to call more than once. */
  async destroy(): Promise<void> {
    this.#stopping = true;
    if (this.#startWaiter) {
      this.#startWaiter.resolve();
      this.#startWaiter = null;
    }
    const pool = this.#pool;
    if (pool === null) return;
    this.#pool = null;
    await pool.destroy();
    // The 'error' listener stays: a thread's last error may still be on its way, and an
    // 'error' event without a listener would be thrown on the main thread.
    pool.removeAllListeners('message');
  }
}

/** The error for a thread that died: names the step, the thread and the exit code. */
export function exitError(step: string, record: ThreadRecord, when: string): PaipaError {
  const cause = record.error;
  const detail =
    cause instanceof Error ? `: ${cause.message}` : cause !== undefined ? `: ${String(cause)}` : '';
  return new PaipaError(
    'ERR_PAIPA_WORKER_EXITED',
    `Worker step "${step}": thread ${record.index} exited with code ${record.exitCode ?? 'unknown'} ${when}${detail}`,
    cause === undefined ? undefined : { cause },
  );
}
