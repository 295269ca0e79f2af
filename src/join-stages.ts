import type { Stream } from 'node:stream';
import type Pumpify from 'pumpify';
import { finished, type Duplex } from 'readable-stream';
import type Through2 from 'through2';
import { AbortError } from './errors';
import type { OutputTally } from './sinks';
import { isThenable, toError } from './thenable';
import { whenClosed } from './when-closed';

/** The stream pumpify joins: a Duplexify underneath, whose `_destroy(err)` emits error/close. */
type Joined = Duplex & { _destroy(err: Error | null): void };

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
  const emitDestroy = joined._destroy.bind(joined);
  joined._destroy = (err) => {
    for (const stage of stages) if (!stage.destroyed) stage.destroy(err ?? undefined);
    void whenClosed(inner).then(() => emitDestroy(err));
  };

  const onAbort = () => joined.destroy(new AbortError(undefined, { cause: signal?.reason }));
  if (signal?.aborted) process.nextTick(onAbort);
  else signal?.addEventListener('abort', onAbort, { once: true });
  finished(joined, (err) => {
    signal?.removeEventListener('abort', onAbort);
    settle(err);
  });
  return joined;
}
