import type { AckTracker } from './ack-tracker';
import { joinOrigins, Tracked, type Origins } from './tracked';

/**
 * The attribution rule of steps that cannot say which input an output came from (iterator
 * steps, foreign Duplexes), one per instance: an output is attributed to every input the
 * instance pulled since its previous output, and to the latest input it pulled; an input never
 * attributed is released when the instance ends (see the README's "Delivery guarantees").
 *
 * References: a pulled input's envelope reference moves into `#since`, and from there to the
 * next output; the latest input holds one more reference of its own until a newer input is
 * pulled (or the instance ends), so that the later outputs of a flatten still count it. This
 * never releases an input early when each output depends only on the input being consumed
 * (map, filter, flatten, chunk); a step that keeps state across outputs (a sliding window, a
 * Duplex that buffers items inside) may have an input released while it still uses it.
 */
export class Attribution {
  #since: Origins[] = [];
  #latest: Origins | null = null;
  #ended = false;

  constructor(private readonly tracker: AckTracker) {}

  /**
   * The instance took an input: `origins` of a tracked one, null for one that travels bare
   * (continuous mode tracks only what `send()` gave), which still becomes the latest input.
   */
  pulled(origins: Origins | null): void {
    const tracker = this.tracker;
    // After the end no output can follow: the input is done for this step (dropped unread).
    if (this.#ended) {
      if (origins !== null) tracker.release(origins);
      return;
    }
    if (origins !== null) {
      this.#since.push(origins);
      tracker.retain(origins);
    }
    if (this.#latest !== null) tracker.release(this.#latest);
    this.#latest = origins;
  }

  /**
   * The instance is done with the latest input it pulled (a Writable called back for it): its
   * later outputs are not that input's, so its own reference goes now instead of at the next
   * pull, and a lone input (a `send()`) does not wait for another one to be done.
   */
  settled(): void {
    if (this.#latest === null) return;
    this.tracker.release(this.#latest);
    this.#latest = null;
  }

  /** An output, in an envelope carrying the inputs the rule gives it (bare if none). */
  attribute(value: unknown): unknown {
    if (this.#since.length > 0) {
      const origins = joinOrigins(this.#since);
      this.#since = [];
      return new Tracked(value, origins);
    }
    if (this.#latest === null) return value;
    this.tracker.retain(this.#latest);
    return new Tracked(value, this.#latest);
  }

  /** The instance produces no more outputs: what was never attributed is done here. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const tracker = this.tracker;
    for (const origins of this.#since) tracker.release(origins);
    this.#since = [];
    if (this.#latest !== null) tracker.release(this.#latest);
    this.#latest = null;
  }
}
