import type { Writable } from 'readable-stream';

/**
 * Ends a Writable's (or Duplex's) `_construct` so that its writes keep their order.
 *
 * Why: readable-stream (like Node core) marks the stream constructed when `_construct` calls
 * back, but writes the chunks buffered meanwhile only a tick later. A `write()` that arrives in
 * between (a step upstream finishing in a microtask) goes straight to `_write`, ahead of the
 * buffered ones: an ordered pipeline emitted [1, 0]. Corked for that tick, every write is
 * buffered behind the earlier ones, and the uncork writes them all in order.
 */
export function constructedInOrder(stream: Writable, callback: (err?: Error | null) => void): void {
  stream.cork();
  callback();
  process.nextTick(() => stream.uncork());
}
