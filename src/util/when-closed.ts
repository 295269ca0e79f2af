import type { Stream } from 'node:stream';

/**
 * Resolves once every stream has emitted 'close'. The stream `pipeline()` callback fires as
 * soon as the data has flowed (ends and finishes), but a stage's teardown (its shutdown hooks)
 * runs in `_destroy`, which completes with 'close'; a run settles only after that, so a caller
 * never sees a result while a hook is still running.
 */
export function whenClosed(streams: readonly Stream[]): Promise<void> {
  const open = streams.filter((s) => !(s as { closed?: boolean }).closed);
  if (open.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    let waiting = open.length;
    for (const stream of open) {
      stream.once('close', () => {
        if (--waiting === 0) resolve();
      });
    }
  });
}
