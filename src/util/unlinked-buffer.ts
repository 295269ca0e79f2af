import { Readable } from 'readable-stream';

/** readable-stream v4's readable buffer: a singly linked list of `{ data, next }` nodes. */
interface LinkedBuffer {
  head: { data: unknown; next: unknown } | null;
  tail: unknown;
  length: number;
  shift(): unknown;
}
type BufferCtor = new () => LinkedBuffer;

/**
 * The same list whose `shift()` unlinks the node it removes.
 *
 * Why: readable-stream v4 keeps a Readable's buffer as a linked list and `shift()` leaves the
 * removed node pointing at the next one. A stream that stays busy never empties its list, so
 * the chain runs through the whole run. Once one node has been promoted to V8's old generation
 * (it sat in the buffer across two young-generation collections), it keeps its successor alive
 * through the next young collection (old-to-new pointers are roots there, dead or not), which
 * is then promoted and keeps the next one, and so on until a full collection: every item that
 * passes is promoted. On 1M object records this promoted 3x the bytes of Node core streams
 * (whose buffer is an array) and tripled the scavenge time. Clearing `next` and `data` breaks
 * the chain.
 */
let UnlinkedBuffer: BufferCtor | null | undefined;

function unlinkedBufferClass(): BufferCtor | null {
  if (UnlinkedBuffer !== undefined) return UnlinkedBuffer;
  const probe = new Readable({ objectMode: true, read() {} }) as unknown as {
    _readableState: { buffer: unknown };
  };
  const buffer = probe._readableState.buffer as Partial<LinkedBuffer> | undefined;
  // Another buffer (an array, as in Node core) has no chain to break: leave it alone.
  if (!buffer || Array.isArray(buffer) || !('head' in buffer) || !('tail' in buffer)) {
    UnlinkedBuffer = null;
    return null;
  }
  const Base = buffer.constructor as BufferCtor;
  UnlinkedBuffer = class extends Base {
    override shift(): unknown {
      const head = this.head;
      const value = super.shift();
      if (head !== null) {
        head.next = null;
        head.data = null;
      }
      return value;
    }
  };
  return UnlinkedBuffer;
}

/** Gives a readable-stream Readable (or Duplex) a buffer whose removed nodes hold nothing. */
export function unlinkReadableBuffer(stream: Readable): void {
  const Ctor = unlinkedBufferClass();
  if (Ctor === null) return;
  const state = (stream as unknown as { _readableState: { buffer: LinkedBuffer } })._readableState;
  if (state.buffer.length === 0) state.buffer = new Ctor();
}

/** True when `stream`'s readable buffer unlinks removed nodes (or needs no such care). */
export function hasUnlinkedBuffer(stream: Readable): boolean {
  const Ctor = unlinkedBufferClass();
  const state = (stream as unknown as { _readableState: { buffer: unknown } })._readableState;
  return Ctor === null || state.buffer instanceof Ctor;
}
