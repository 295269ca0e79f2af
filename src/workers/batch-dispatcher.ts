import { annotateError, PaipaError } from '../errors/errors';
import { fromWire, SKIPPED, type WireError } from './error-crossing';
import { BATCHES_PER_THREAD, exitError, type TaskTag, type ThreadPool } from './thread-pool';

/**
 * Batches aim at about this much work in a thread: large enough that messaging is noise, and
 * that the batch waiting behind the running one covers a main thread slow to answer (on S6,
 * 2 threads × 50 µs items: 1 ms batches kept the threads 87% busy, 4 ms batches 93%, and the
 * threads' own time per item fell 3%). Small enough that a thread's last batch ends soon after
 * the other's, and that a slow item still travels alone.
 */
const TARGET_BATCH_MS = 4;
/** The longest a partial batch waits for more items while a thread is idle. */
const MAX_WAIT_MS = 1;

/**
 * One item on its way to a thread, handed to the step runner as its result. A thenable, not
 * a Promise: the runner only calls `then(onValue, onError)` once, and settling it calls those
 * directly, so a batch of results costs no promise and no microtask per item.
 */
class Ticket implements PromiseLike<unknown> {
  onValue: ((value: unknown) => void) | null = null;
  onError: ((err: unknown) => void) | null = null;
  constructor(readonly item: unknown) {}
  then(onValue?: ((value: unknown) => any) | null, onError?: ((err: unknown) => any) | null): any {
    this.onValue = onValue ?? null;
    this.onError = onError ?? null;
    return undefined;
  }
  resolve(value: unknown): void {
    this.onValue?.(value);
  }
  reject(err: unknown): void {
    this.onError?.(err);
  }
}

/**
 * Turns the runner's one-item calls into batches for the threads, and the threads' answers
 * back into one result (or error) per item.
 *
 * How the batch size is chosen: each answer says how long the thread worked on the batch; the
 * per-item time (a moving average) sets the size to about `TARGET_BATCH_MS` of work, between 1
 * and `maxBatch`. So cheap items travel by the hundred (messaging cost spread thin) and slow
 * items one or a few at a time (threads stay evenly loaded). The first batches are single
 * items, until a measurement exists.
 *
 * When a batch leaves: as soon as it is full, if fewer than `BATCHES_PER_THREAD` batches per
 * thread are out; a partial batch leaves on a later turn of the event loop, and only while
 * some thread has nothing to do (fewer batches out than threads) and items have stopped
 * arriving (no more than at the previous turn) or the oldest has waited `MAX_WAIT_MS`. Waiting
 * items therefore gather into full batches while the threads are busy or items pour in, and a
 * lone item waits one turn for company when a thread is free.
 */
export class BatchDispatcher {
  readonly #pool: ThreadPool;
  readonly #step: string;
  readonly #threads: number;
  readonly #maxBatch: number;
  #pending: Ticket[] = [];
  #out = 0;
  #size = 1;
  #perItemMs = -1;
  #flush: NodeJS.Immediate | null = null;
  /** Items that were waiting at the last flush turn (to tell whether more are coming). */
  #seen = 0;
  /** When the oldest waiting item arrived (performance.now()); read only on flush turns. */
  #pendingSince = 0;
  #stopped = false;
  readonly #busy: (ms: number) => void;

  /** `busy` receives each batch's working time in its thread (the step's `busyMs`). */
  constructor(
    pool: ThreadPool,
    step: string,
    threads: number,
    maxBatch: number,
    busy: (ms: number) => void,
  ) {
    this.#pool = pool;
    this.#busy = busy;
    this.#step = step;
    this.#threads = threads;
    this.#maxBatch = maxBatch;
  }

  /** The step function the runner calls: queues the item, returns its result-to-be. */
  readonly submit = (item: unknown): PromiseLike<unknown> => {
    const ticket = new Ticket(item);
    if (this.#pending.push(ticket) === 1) this.#pendingSince = performance.now();
    if (this.#pending.length >= this.#size) this.#sendFull();
    if (this.#pending.length > 0) this.#scheduleFlush();
    return ticket;
  };

  /** Drops everything waiting; answers that arrive later are ignored. */
  stop(): void {
    this.#stopped = true;
    this.#pending = [];
    if (this.#flush !== null) clearImmediate(this.#flush);
    this.#flush = null;
  }

  #scheduleFlush(): void {
    if (this.#flush !== null || this.#stopped) return;
    this.#flush = setImmediate(() => {
      this.#flush = null;
      this.#sendFull();
      const waiting = this.#pending.length;
      if (waiting === 0 || this.#out >= this.#threads) return;
      // Items still pouring in (more than at the last turn) make a fuller batch a turn later,
      // as long as the oldest has not waited MAX_WAIT_MS: a thread idles that long at most.
      const growing = waiting > this.#seen;
      this.#seen = waiting;
      if (growing && performance.now() - this.#pendingSince < MAX_WAIT_MS) {
        this.#scheduleFlush();
        return;
      }
      this.#seen = 0;
      this.#send(this.#pending.splice(0, this.#size));
      if (this.#pending.length > 0 && this.#out < this.#threads) this.#scheduleFlush();
    });
  }

  #sendFull(): void {
    const limit = this.#threads * BATCHES_PER_THREAD;
    while (this.#pending.length >= this.#size && this.#out < limit) {
      this.#send(this.#pending.splice(0, this.#size));
    }
  }

  #send(batch: Ticket[]): void {
    if (this.#stopped || batch.length === 0) return;
    this.#out++;
    // The items left behind arrived at most now: close enough for the wait limit.
    if (this.#pending.length > 0) this.#pendingSince = performance.now();
    const items = new Array<unknown>(batch.length);
    for (let i = 0; i < batch.length; i++) items[i] = batch[i].item;
    const { tag, result } = this.#pool.runBatch(items);
    result.then(
      (answer) => this.#answered(batch, tag, answer),
      (err) => void this.#lost(batch, tag, err),
    );
  }

  #answered(
    batch: Ticket[],
    tag: TaskTag,
    answer: { values: unknown[]; errors: unknown[] | null; ms: number },
  ): void {
    if (this.#stopped) return;
    this.#out--;
    this.#learn(answer.ms, batch.length);
    this.#busy(answer.ms);
    const index = this.#pool.thread(tag.assigned)?.index ?? 0;
    const { values, errors } = answer;
    let e = 0;
    for (let i = 0; i < batch.length; i++) {
      if (errors !== null && errors[e] === i) {
        const thrown = fromWire(errors[e + 1] as WireError);
        e += 2;
        if (thrown === SKIPPED) batch[i].resolve(undefined);
        else batch[i].reject(annotateError(thrown, { step: this.#step, instance: index }));
      } else {
        batch[i].resolve(values[i]);
      }
    }
    this.#afterAnswer();
  }

  /** A batch that got no answer: its thread died, or it could not be sent at all. */
  async #lost(batch: Ticket[], tag: TaskTag, err: unknown): Promise<void> {
    if (this.#stopped) return;
    // A thread's death is known before its tasks' rejections are handled: piscina rejects them
    // from its own 'error'/'exit' listener, and ours, added after it, records the cause.
    const record = tag.assigned === -1 ? undefined : this.#pool.thread(tag.assigned);
    if (record === undefined || (record.exitCode === undefined && record.error === undefined)) {
      this.#out--;
      if (batch.length > 1 && (err as Error)?.name === 'DataCloneError') {
        // One item could not be cloned: send them one by one, so only that item fails.
        for (const ticket of batch) this.#send([ticket]);
      } else {
        for (const ticket of batch) {
          ticket.reject(annotateError(err, { step: this.#step, instance: 0 }));
        }
      }
      this.#afterAnswer();
      return;
    }
    // The exit code is known once the thread has exited (an uncaught error is reported first).
    await record.exited;
    if (this.#stopped) return;
    this.#out--;
    for (const ticket of batch) {
      const lost: PaipaError = exitError(
        this.#step,
        record,
        `while it held ${batch.length} item${batch.length === 1 ? '' : 's'}`,
      );
      ticket.reject(annotateError(lost, { step: this.#step, instance: record.index }));
    }
    this.#afterAnswer();
  }

  #afterAnswer(): void {
    this.#sendFull();
    if (this.#pending.length > 0) this.#scheduleFlush();
  }

  #learn(ms: number, count: number): void {
    if (!(ms >= 0) || count === 0) return;
    const perItem = ms / count;
    this.#perItemMs = this.#perItemMs < 0 ? perItem : 0.7 * this.#perItemMs + 0.3 * perItem;
    const size = Math.floor(TARGET_BATCH_MS / Math.max(this.#perItemMs, 1e-4));
    this.#size = Math.min(this.#maxBatch, Math.max(1, size));
  }
}
