import pumpify from 'pumpify';
import { finished, type Duplex } from 'readable-stream';
import through2 from 'through2';
import { AbortError } from './errors';
import type { OutputTally } from './sinks';
import { isThenable, toError } from './thenable';

/**
 * `stream()` mode: the stages joined into one Duplex with pumpify (writable side = the first
 * stage, readable side = a through2 tap after the last stage that takes meta entries out and
 * counts outputs). pump destroys every stage when any of them fails, and pumpify re-emits
 * that first error on the joined stream.
 */
export function joinStages(
  stages: readonly Duplex[],
  tally: OutputTally,
  options: { highWaterMark: number; signal?: AbortSignal },
  settle: (err: Error | null | undefined) => void,
): Duplex {
  const { highWaterMark, signal } = options;
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
  );
  const Joined = pumpify.ctor({
    autoDestroy: false,
    destroy: false,
    objectMode: true,
    highWaterMark,
  });
  const joined = new Joined([...stages, tap] as never) as unknown as Duplex;

  const onAbort = () => joined.destroy(new AbortError(undefined, { cause: signal?.reason }));
  if (signal?.aborted) process.nextTick(onAbort);
  else signal?.addEventListener('abort', onAbort, { once: true });
  finished(joined, (err) => {
    signal?.removeEventListener('abort', onAbort);
    settle(err);
  });
  return joined;
}
