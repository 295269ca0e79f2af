import { isThenable, toError } from '../util/thenable';
import { Origin, type Origins } from './tracked';

export interface AckTrackerOptions {
  onAck?: (item: unknown, seq: number) => unknown;
  onCheckpoint?: (seq: number) => unknown;
  /** Ms between checkpoint calls. */
  checkpointEvery: number;
  /** Fails the run (an `onAck`/`onCheckpoint`/source acknowledgement threw). */
  fail: (err: unknown) => void;
  /** What asked for acknowledgements, as error messages name it (`options.onAck`, `send()`). */
  wantedBy?: string;
  /**
   * On only so that `send()` can work (continuous mode, nothing else asked): a step that cannot
   * be tracked turns `send()` off instead of failing the run (see `cannotTrack`).
   */
  optional?: boolean;
}

/**
 * The acknowledgement bookkeeping of one run: every step kind and every consumer talks to it
 * the same way, with `retain`/`release` on the origins an item carries.
 *
 * Invariants: an origin is acked once, when its count reaches 0 and the run has not failed;
 * once `close()` ran (a failure, an abort, a `break`) nothing is acked any more, so an input
 * whose processing had not finished then is never acked. Checkpoints report the completed
 * prefix (the highest seq up to which every input is done), so it only grows; it costs one
 * comparison per input done in order. (Memory: the seqs of inputs done out of order past the
 * prefix; with unordered steps a long-stuck input keeps those after it listed, as numbers, until
 * it finishes.)
 */
export class AckTracker {
  #nextSeq = 0;
  #closed = false;
  readonly #onAck: AckTrackerOptions['onAck'];
  readonly #onCheckpoint: AckTrackerOptions['onCheckpoint'];
  #fail: (err: unknown) => void;
  readonly #checkpointEvery: number;
  /** Done inputs past the completed prefix (completions out of order), by seq. */
  readonly #doneAhead = new Set<number>();
  #reported = -1;
  /** onCheckpoint threw: it is not called again. */
  #checkpointFailed = false;
  /** The highest seq such that every input up to it is done. */
  #prefix = -1;
  #timer: NodeJS.Timeout | undefined;
  /** Acknowledgement promises (async onAck, a broker's ack) not settled yet. */
  readonly #pending = new Set<PromiseLike<unknown>>();
  /** The error that failed the run from here (a throwing or rejecting acknowledgement). */
  #error: unknown = undefined;
  /** Inputs given by send() and not done yet: rejected if the run fails. */
  readonly #waiting = new Set<Origin>();
  /** Why nothing is acked any more (the run's failure, an abort, a break, a refusal). */
  #closedBy: unknown = undefined;
  /** Set when a step cannot be tracked and acknowledgements were optional. */
  #refusal: Error | null = null;
  wantedBy: string;
  #optional: boolean;

  constructor(options: AckTrackerOptions) {
    this.#onAck = options.onAck;
    this.#onCheckpoint = options.onCheckpoint;
    this.#fail = options.fail;
    this.#checkpointEvery = options.checkpointEvery;
    this.wantedBy = options.wantedBy ?? 'acknowledgement';
    this.#optional = options.optional ?? false;
  }

  /** How the run is failed (set once the run's teardown exists). */
  setFail(fail: (err: unknown) => void): void {
    this.#fail = fail;
  }

  /** Items given so far (the next input's seq). */
  get given(): number {
    return this.#nextSeq;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** A new input: seq is its position among all items given. */
  origin(item: unknown, notify: Origin['notify'] = null): Origin {
    return new Origin(this.#nextSeq++, item, notify);
  }

  /** An input given that travels bare (nobody asked about it): it still takes its seq. */
  skip(): void {
    this.#nextSeq++;
  }

  /**
   * A step cannot say which inputs its outputs come from (`err` says which and why). When
   * acknowledgements were asked for, that is the run's error (thrown); when they are on only
   * for `send()`, `send()` is refused from now on and the run goes on.
   */
  cannotTrack(err: Error): void {
    if (!this.#optional) throw err;
    if (this.#refusal !== null) return;
    this.#refusal = err;
    this.close(err);
  }

  /** Something asks for acknowledgements after all (a SOURCE_ACK source attached later). */
  require(wantedBy: string): void {
    if (!this.#optional) return;
    this.#optional = false;
    this.wantedBy = wantedBy;
  }

  /** The reason `send()` cannot work in this run (see `cannotTrack`), or null. */
  get refusal(): Error | null {
    return this.#refusal;
  }

  /** Resolves once `origin` is done; rejects with the run's error if it fails first. */
  wait(origin: Origin): Promise<void> {
    if (origin.done) return Promise.resolve();
    if (this.#closed) return Promise.reject(this.#closedBy);
    return new Promise<void>((resolve, reject) => {
      origin.waiter = { resolve, reject };
      this.#waiting.add(origin);
    });
  }

  retain(origins: Origins): void {
    if (Array.isArray(origins)) for (const o of origins as Origin[]) o.refs++;
    else (origins as Origin).refs++;
  }

  release(origins: Origins): void {
    if (this.#closed) return;
    if (Array.isArray(origins)) for (const o of origins as Origin[]) this.#releaseOne(o);
    else this.#releaseOne(origins as Origin);
  }

  #releaseOne(origin: Origin): void {
    if (--origin.refs > 0 || this.#closed) return;
    origin.done = true;
    try {
      // Not awaited (an ack is a notification), but a rejection fails the run like a throw.
      const acked = this.#onAck?.(origin.item, origin.seq);
      if (isThenable(acked)) this.#watch(acked);
      const told = origin.notify?.(origin.item, origin.seq);
      if (isThenable(told)) this.#watch(told);
    } catch (err) {
      this.#failWith(err);
      return;
    }
    // After the acknowledgements: an input whose onAck threw is not in a checkpoint.
    if (this.#onCheckpoint !== undefined) this.#advance(origin.seq);
    const waiter = origin.waiter;
    if (waiter !== null) {
      origin.waiter = null;
      this.#waiting.delete(origin);
      waiter.resolve();
    }
  }

  /** An acknowledgement still settling: the run's end waits for it (see `drained`). */
  #watch(promise: PromiseLike<unknown>): void {
    this.#pending.add(promise);
    promise.then(
      () => this.#pending.delete(promise),
      (err: unknown) => {
        this.#pending.delete(promise);
        this.#failWith(err);
      },
    );
  }

  /** Resolves once every acknowledgement promise given so far has settled. */
  async drained(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Starts the periodic checkpoint calls. */
  begin(): void {
    if (this.#onCheckpoint === undefined || this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#checkpoint(), this.#checkpointEvery);
    this.#timer.unref();
  }

  /**
   * The run succeeded: the last checkpoint (every input is done by now, so it reports the
   * last seq). Returns the error of a throwing `onCheckpoint`, which fails the run.
   */
  finish(): Error | undefined {
    this.#stopTimer();
    if (this.#error !== undefined) return toError(this.#error);
    if (this.#closed) return undefined;
    const err = this.#checkpoint();
    this.#closed = true;
    return err;
  }

  /**
   * The run failed, was aborted or left (a `break`): nothing is acked any more, and send()
   * promises reject with `err`. First one last checkpoint, when the completed prefix moved on
   * since the last call: every input up to it is done whatever happens next, and a resumable
   * job wants it saved before it exits. It never includes an input still in flight (the prefix
   * only counts inputs done). A throwing `onCheckpoint` here is ignored: the run's own error is
   * the one reported, and the checkpoint saved before stays valid (resuming from it redoes more).
   * Not when `onCheckpoint` itself failed the run.
   */
  close(err: unknown): void {
    if (this.#closed) return;
    this.#stopTimer();
    if (!this.#checkpointFailed) {
      try {
        this.#report();
      } catch {
        // see above: the run's error wins, the previous checkpoint stays valid
      }
    }
    this.#closed = true;
    this.#closedBy = err;
    for (const origin of this.#waiting) origin.waiter?.reject(err);
    this.#waiting.clear();
  }

  #stopTimer(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * The completed prefix moves on as soon as the input right after it is done (the usual case:
   * one comparison); an input done out of order waits in #doneAhead until the gap closes.
   */
  #advance(seq: number): void {
    if (seq !== this.#prefix + 1) {
      this.#doneAhead.add(seq);
      return;
    }
    const ahead = this.#doneAhead;
    let prefix = seq;
    if (ahead.size > 0) while (ahead.delete(prefix + 1)) prefix++;
    this.#prefix = prefix;
  }

  #checkpoint(): Error | undefined {
    if (this.#closed) return undefined;
    try {
      this.#report();
    } catch (err) {
      this.#checkpointFailed = true;
      this.#failWith(err);
      return toError(err);
    }
    return undefined;
  }

  /** Calls onCheckpoint with the completed prefix if it moved on since the last call. */
  #report(): void {
    if (this.#onCheckpoint === undefined) return;
    const prefix = this.#prefix;
    if (prefix <= this.#reported) return;
    this.#reported = prefix;
    this.#onCheckpoint(prefix);
  }

  #failWith(err: unknown): void {
    if (this.#closed) return;
    this.#error = err;
    this.close(err);
    this.#fail(err);
  }
}
