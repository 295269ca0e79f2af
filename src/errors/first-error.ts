import type { Stream } from 'node:stream';

type Destroyable = Stream & { destroy(err?: Error): unknown; destroyed: boolean };

/** Errors that only say a stream went away, which a real error must never be replaced by. */
function isSecondary(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ERR_STREAM_DESTROYED';
}

/**
 * Keeps the first error of a run, at the moment it happens, and tears the whole run down at
 * once. The stream machinery learns of an error only when the failing stream emits it, which
 * for a stage is after its shutdown hooks ran: meanwhile other streams went on, and a later
 * error (a source failing, an abort) could be emitted first and win. Every stream of the run is
 * watched at `destroy(err)`, the one door every stream error goes through (a callback error,
 * a thrown step, our own teardown), so the first error is known before anything else happens.
 */
export class FirstError {
  #first: Error | undefined;

  get first(): Error | undefined {
    return this.#first;
  }

  /**
   * Watches `streams`; on the first error, destroys every one of them that is still open with
   * that error (so each stage aborts its signal and runs its hooks now, not after the failing
   * stage's teardown).
   */
  watch(streams: readonly Stream[], onFirst?: (err: Error) => void): void {
    const all = streams as readonly Destroyable[];
    for (const stream of all) {
      const destroy = stream.destroy.bind(stream);
      stream.destroy = (err?: Error) => {
        if (err && this.#record(err)) {
          onFirst?.(err);
          for (const other of all) if (other !== stream && !other.destroyed) other.destroy(err);
        }
        return destroy(err);
      };
    }
  }

  /** True when `err` became the first error. A secondary error is only kept until a real one. */
  #record(err: Error): boolean {
    if (this.#first === undefined || (isSecondary(this.#first) && !isSecondary(err))) {
      this.#first = err;
      return true;
    }
    return false;
  }
}
