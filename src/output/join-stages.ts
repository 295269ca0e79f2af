import type { Stream } from 'node:stream';
import type Pumpify from 'pumpify';
import { finished, type Duplex } from 'readable-stream';
import type Through2 from 'through2';
import { AbortError } from '../errors/errors';
import { FirstError } from '../errors/first-error';
import type { OutputTally } from './sinks';
import { isThenable, toError } from '../util/thenable';
import { whenClosed } from '../util/when-closed';

/** The stream pumpify joins: a Duplexify underneath, whose `_destroy(err)` emits error/close. */
type Joined = Duplex & {
  _destroy(err: Error | null): void;
  _ondrain: ((err?: Error) => void) | null;
};

/**
 * `stream()` mode: the stages joined into one Duplex with pumpify (writable side = the first
 * stage, readable side = a through2 tap after the last stage that takes meta entries out and
 * counts outputs). pump destroys every stage when any of them fails, and pumpify re-emits
 * that first error on the joined stream.
 *
 * Two changes make the joined stream settle like `run()` does, only after every stage has
 * closed (so every shutdown hook has run): the tap ends its readable side only once the
 * stages have closed, and a destroy of the joined stream first destroys the stages and waits
 * for their 'close' before it emits its own 'error'/'close' (pumpify emits them at once).
 */
export function joinStages(
  stages: readonly Duplex[],
  tally: OutputTally,
  options: { highWaterMark: number; signal?: AbortSignal },
  settle: (err: Error | null | undefined) => void,
): Duplex {
  // Loaded on first use: pumpify and through2 bring a second copy of readable-stream (v3),
  // which costs every pipeline memory and start-up time, though only stream() mode needs it.
  const pumpify = require('pumpify') as typeof Pumpify;
  const through2 = require('through2') as typeof Through2;
  const { highWaterMark, signal } = options;
  const inner = stages as unknown as Stream[];
  const tap = through2(
    { objectMode: true, highWaterMark },
    function (chunk: unknown, _enc, callback) {
      let taken: unknown;
      try {
        taken = tally.take(chunk);
      } catch (err) {
        callback(toError(err));
        return;
      }
      if (taken === true) callback(null, chunk);
      else if (isThenable(taken))
        taken.then(
          () => callback(),
          (err) => callback(toError(err)),
        );
      else callback();
    },
    // A shutdown hook that failed after a clean end still fails the stream, as it fails run().
    // (through2's types omit the flush callback's error argument, which Transform accepts.)
    (done) =>
      void whenClosed(inner).then(() => {
        const callback = done as (err?: Error) => void;
        const failed = stages.find(
          (s) => (s as { shutdownError?: unknown }).shutdownError !== undefined,
        );
        callback(
          failed ? toError((failed as { shutdownError?: unknown }).shutdownError) : undefined,
        );
      }),
  );
  const Base = pumpify.ctor({
    autoDestroy: false,
    destroy: false,
    objectMode: true,
    highWaterMark,
  });
  const joined = new Base([...stages, tap] as never) as unknown as Joined;
  // The first error anywhere (a stage, the tap, or the joined stream destroyed from outside,
  // e.g. by stream.pipeline after an upstream failure) tears everything down at once.
  const errors = new FirstError();
  errors.watch([joined, ...inner]);
  // pumpify emits 'error' and 'close' together; here the error (the first one) is emitted at
  // once, so that nothing raised later (a write after the destroy) can be reported before it,
  // and 'close' only after every stage has closed, i.e. after every shutdown hook ran.
  joined._destroy = (err) => {
    for (const stream of inner) if (!(stream as Duplex).destroyed) (stream as Duplex).destroy();
    const first = errors.first ?? err;
    if (first) {
      const ondrain = joined._ondrain;
      joined._ondrain = null;
      if (ondrain) ondrain(first);
      else joined.emit('error', first);
    }
    void whenClosed(inner).then(() => joined.emit('close'));
  };

  // A write that arrives while the joined stream is being torn down is dropped: readable-stream
  // v3 would answer it with ERR_STREAM_DESTROYED, emitted at once, which would then be reported
  // in place of the error that caused the teardown.
  const write = joined.write.bind(joined);
  joined.write = ((...args: Parameters<Duplex['write']>) =>
    joined.destroyed ? false : write(...args)) as Duplex['write'];

  const onAbort = () => joined.destroy(new AbortError(undefined, { cause: signal?.reason }));
  if (signal?.aborted) process.nextTick(onAbort);
  else signal?.addEventListener('abort', onAbort, { once: true });
  finished(joined, (err) => {
    signal?.removeEventListener('abort', onAbort);
    settle(err ? (errors.first ?? err) : err);
    // Like any Node stream (autoDestroy), the joined stream closes once both sides are done.
    if (!err && !joined.destroyed) joined.destroy();
  });
  return joined;
}
