/**
 * A sliding-window rate limit: at most `limit` starts in any window of `intervalMs`. It keeps
 * the start times of the last `limit` calls in a ring; a new call may start once the oldest of
 * them is `intervalMs` old. That is the rule a quota such as "60 requests a minute" enforces,
 * in every window and not only in fixed ones: a token bucket with burst `limit` (or a fixed
 * window that resets) lets up to twice the limit through across a boundary.
 *
 * Memory is O(limit) numbers, set once; time per call is O(1).
 */
export class SlidingWindow {
  readonly #starts: Float64Array;
  #head = 0;
  #count = 0;

  constructor(
    readonly limit: number,
    readonly intervalMs: number,
  ) {
    this.#starts = new Float64Array(limit);
  }

  /** Milliseconds until the next call may start (0: now). */
  waitMs(now: number): number {
    if (this.#count < this.limit) return 0;
    return Math.max(0, this.#starts[this.#head] + this.intervalMs - now);
  }

  /** Records a start at `now`; call only when `waitMs(now)` is 0. */
  take(now: number): void {
    if (this.#count < this.limit) {
      this.#starts[(this.#head + this.#count++) % this.limit] = now;
    } else {
      this.#starts[this.#head] = now;
      this.#head = (this.#head + 1) % this.limit;
    }
  }
}
