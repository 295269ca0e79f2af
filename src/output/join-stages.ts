import { Duplex, finished, type Stream } from 'node:stream';
import type { Duplex as StageDuplex } from 'readable-stream';
import { AbortError } from '../errors/errors';
import { FirstError } from '../errors/first-error';
import { OutputSink, type OutputTally } from './sinks';
import type { AckTracker } from '../delivery/ack-tracker';
import { Tracked, type Origins } from '../delivery/tracked';
import { isMeta } from '../ingest/meta';
import { toError } from '../util/thenable';
import { whenClosed } from '../util/when-closed';

type Callback = (err?: Error | null) => void;

/** A stage torn down before its data ended, with no error of its own. */
function prematureClose(): Error {
  return Object.assign(new Error('premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

/** The joined Duplex's end of the last stage: outputs are pushed on its readable side. */
class DuplexSink extends OutputSink {
  constructor(
    tally: OutputTally,
    private readonly duplex: Duplex,
    /** Under acknowledgements: the origins of each output pushed and not yet read, in order. */
    private readonly unread: Origins[] | null = null,
  ) {
    super(tally);
  }

  protected accept(chunk: unknown): boolean {
    if (this.unread !== null && chunk instanceof Tracked) {
      this.unread.push(chunk.origins);
      return this.duplex.push(chunk.value);
    }
    return this.duplex.push(chunk);
  }

  protected override fail(err: unknown): void {
    this.duplex.destroy(toError(err));
  }

  /** The Duplex's readable side wants more. */
  more(): void {
    this.wantMore();
  }
}

/**
 * `stream()` mode: the pipeline's stages behind one of Node's own object-mode Duplexes, so it
 * behaves as one in every API that stream code uses (`stream.pipeline`, `compose`,
 * `Readable.from`, the iterator helpers, `finished`, `closed`/`errored`), and is typed as what
 * it is.
 *
 * It replaces pumpify + a through2 tap (readable-stream v3 layers around the same stages):
 * those added two extra Duplexes and a Transform on every item (about 3x run()'s time on cheap
 * steps) and were not Node Duplexes (no `readableObjectMode`, `toArray`, `compose`...).
 *
 * Per item: `_write` writes to the first stage (acknowledged at once while it has room, else
 * at its 'drain'); the last stage's outputs come straight from its `push()` (an `OutputSink`:
 * counted, meta entries taken out to `onMeta`) and are pushed here. When our readable buffer
 * is full the last stage is blocked until our `_read`, which backs up through the stages to
 * our writable side: the usual stream backpressure.
 *
 * Settling is as in `run()`: the readable side ends, and 'close' (with 'error', if any) is
 * emitted, only once every stage has closed, i.e. after every shutdown hook ran; the first
 * error anywhere (a stage, the consumer destroying this stream, an abort) tears everything
 * down at once and is the one reported.
 */
export class JoinedStages extends Duplex {
  readonly #stages: readonly StageDuplex[];
  readonly #first: StageDuplex;
  readonly #last: StageDuplex;
  readonly #sink: DuplexSink;
  readonly #errors = new FirstError();
  #heldWrite: Callback | null = null;
  #ending = false;
  #settled = false;
  readonly #settle: (err: Error | null | undefined) => void;
  /**
   * Acknowledgements (null while off): items written get an origin each, and an output's
   * origins are released when it is read: every read, by `read()`, a pipe or an async
   * iterator, is a 'data' event, in buffer order (see `emit`).
   */
  readonly #tracker: AckTracker | null;
  #unread: Origins[] = [];
  #unreadHead = 0;

  constructor(
    stages: readonly StageDuplex[],
    tally: OutputTally,
    options: { highWaterMark: number; signal?: AbortSignal; tracker?: AckTracker | null },
    settle: (err: Error | null | undefined) => void,
  ) {
    super({ objectMode: true, highWaterMark: options.highWaterMark });
    this.#tracker = options.tracker ?? null;
    if (this.#tracker !== null) this.#releaseOnRead();
    this.#stages = stages;
    this.#first = stages[0];
    this.#last = stages[stages.length - 1];
    const inner = stages as unknown as Stream[];
    this.#errors.watch([this, ...inner]);

    for (const stage of stages) {
      // Every stage error goes through its destroy(), where FirstError sees it and destroys
      // this stream with it: it is reported once, here.
      stage.on('error', () => {});
      stage.once('close', () => {
        if (!this.destroyed && !(stage.readableEnded && stage.writableFinished)) {
          this.destroy(this.#errors.first ?? prematureClose());
        }
      });
    }
    // Between stages, plain pipe(): it carries backpressure and the end; errors and premature
    // closes are handled above, for all stages at once.
    for (let i = 0; i + 1 < stages.length; i++) stages[i].pipe(stages[i + 1]);
    this.#first.on('drain', () => {
      const held = this.#heldWrite;
      this.#heldWrite = null;
      held?.();
    });
    this.#sink = new DuplexSink(tally, this, this.#tracker && this.#unread);
    this.#sink.attach(this.#last);
    this.#last.once('end', () => this.#lastEnded());

    const { signal } = options;
    const onAbort = () => this.destroy(new AbortError(undefined, { cause: signal?.reason }));
    if (signal?.aborted) process.nextTick(onAbort);
    else signal?.addEventListener('abort', onAbort, { once: true });
    this.#settle = (err) => {
      if (this.#settled) return;
      this.#settled = true;
      signal?.removeEventListener('abort', onAbort);
      settle(err ? (this.#errors.first ?? err) : err);
    };
    // Success is settled at 'end' (every stage has closed by then, see #lastEnded), so the
    // abort listener goes back before a consumer's own 'end' handler runs.
    this.once('end', () => this.#settle(null));
    finished(this, (err) => this.#settle(err));
  }

  /**
   * Under acknowledgements, `emit` is this instance's own: an output is released once the
   * listeners of its 'data' event (a pipe's write, an iterator's hand-off) took it. Without
   * them events go straight to Node's `emit` (an override costs a rest array on every event).
   */
  #releaseOnRead(): void {
    const emit = Duplex.prototype.emit;
    (this as { emit: (event: string | symbol, ...args: unknown[]) => boolean }).emit = (
      event,
      ...args
    ) => {
      const result = emit.call(this, event, ...args);
      if (event === 'data') this.#read();
      return result;
    };
  }

  /** The oldest unread output was read: it is handed on. */
  #read(): void {
    const unread = this.#unread;
    if (this.#unreadHead >= unread.length) return;
    const origins = unread[this.#unreadHead];
    unread[this.#unreadHead++] = undefined as never;
    // Compacted in place: the sink holds the same array.
    if (this.#unreadHead === unread.length) {
      unread.length = 0;
      this.#unreadHead = 0;
    } else if (this.#unreadHead > 1024 && this.#unreadHead * 2 > unread.length) {
      unread.splice(0, this.#unreadHead);
      this.#unreadHead = 0;
    }
    this.#tracker!.release(origins);
  }

  override _write(chunk: unknown, enc: BufferEncoding, callback: Callback): void {
    const first = this.#first as StageDuplex & {
      _write(chunk: unknown, enc: BufferEncoding, callback: Callback): void;
      _writableState: { constructed: boolean; length: number; destroyed: boolean };
    };
    // Our writable buffer is the first stage's: once it is set up and has nothing queued, the
    // item goes straight to its _write, which acknowledges it when a step instance takes it
    // (readable-stream's write() around it did the same bookkeeping a second time per item).
    if (this.#tracker !== null && !isMeta(chunk)) chunk = this.#tracker.origin(chunk);
    const state = first._writableState;
    if (state.constructed && state.length === 0 && !state.destroyed) {
      first._write(chunk, enc, callback);
    } else if (first.write(chunk)) callback();
    else this.#heldWrite = callback;
  }

  override _final(callback: Callback): void {
    this.#first.end();
    callback();
  }

  override _read(): void {
    this.#sink.more();
  }

  #lastEnded(): void {
    if (this.#ending) return;
    this.#ending = true;
    const end = () => {
      if (this.destroyed) return;
      // A shutdown hook that failed after a clean end still fails the stream, as in run().
      const failed = this.#stages.find(
        (s) => (s as { shutdownError?: unknown }).shutdownError !== undefined,
      );
      if (failed) this.destroy(toError((failed as { shutdownError?: unknown }).shutdownError));
      else this.push(null);
    };
    // onMeta may still be settling for the last meta entry: the end waits behind it.
    void whenClosed(this.#stages as unknown as Stream[])
      .then(() => this.#sink.settled())
      .then(end, (err: unknown) => this.destroy(toError(err)));
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#heldWrite = null;
    // A failure is the pipeline's outcome at once (alive turns false when the consumer hears
    // of it); the stream's own 'error' and 'close' still wait for the stages below.
    if (err) this.#settle(err);
    for (const stage of this.#stages) if (!stage.destroyed) stage.destroy();
    // 'error' and 'close' come only once every stage has closed (every shutdown hook ran).
    void whenClosed(this.#stages as unknown as Stream[]).then(() =>
      callback(err ? (this.#errors.first ?? err) : null),
    );
  }
}

/** The stages joined into the Duplex `stream()` returns. */
export function joinStages(
  stages: readonly StageDuplex[],
  tally: OutputTally,
  options: { highWaterMark: number; signal?: AbortSignal; tracker?: AckTracker | null },
  settle: (err: Error | null | undefined) => void,
): Duplex {
  return new JoinedStages(stages, tally, options, settle);
}
