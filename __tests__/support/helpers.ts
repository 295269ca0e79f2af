import type { StepStats } from '../../src';

/** Small tools shared by the tests: timing, deferreds, watchdogs, counting in-flight work. */

export const delay = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Yields to the event loop once (a macrotask, without a timer). */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Fails with `label` if `promise` has not settled within `ms`; the timer is always cleared, so
 * a watchdog never outlives its test.
 */
export async function watchdog<T>(promise: Promise<T>, ms = 2000, label = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`watchdog: ${label} did not settle within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Counts calls in flight and remembers the highest count seen. */
export class InFlight {
  now = 0;
  max = 0;
  enter(): void {
    this.now++;
    if (this.now > this.max) this.max = this.now;
  }
  leave(): void {
    this.now--;
  }
}

export function range(n: number, start = 0): number[] {
  return Array.from({ length: n }, (_, i) => i + start);
}

/** A lazy source that records how far it was pulled and whether it was closed. */
export function trackedSource(limit = Infinity) {
  const state = { pulled: 0, closed: false, finished: false };
  function* gen() {
    try {
      while (state.pulled < limit) yield state.pulled++;
      state.finished = true;
    } finally {
      state.closed = true;
    }
  }
  return { state, iterable: gen() };
}

/** The items of an array as an async iterable, one microtask apart. */
export async function* fromArray<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) yield item;
}

export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterable) out.push(x);
  return out;
}

/** A StepStats row of zeros with the given figures, for tests of what renders the figures. */
export function statsRow(name: string, figures: Partial<StepStats> = {}): StepStats {
  return {
    name,
    concurrency: 1,
    in: 0,
    out: 0,
    stored: 0,
    skipped: 0,
    retried: 0,
    failed: 0,
    abandoned: 0,
    restarts: 0,
    busy: 0,
    queued: 0,
    busyMs: 0,
    throughput: 0,
    recentThroughput: 0,
    meta: 0,
    ...figures,
  };
}
