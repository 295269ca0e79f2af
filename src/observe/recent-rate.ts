/** Span of a recent rate, in ms. */
export const RECENT_WINDOW_MS = 10_000;
/** Readings closer together than this leave no new mark. */
const MARK_SPACING_MS = 1_000;

interface Mark {
  at: number;
  count: number;
}

/**
 * A rate over about the last RECENT_WINDOW_MS of a count that only grows, measured between
 * readings: nothing on the hot path, no timer. Each reading leaves a mark (at most one a
 * second, so at most about a dozen are kept); the rate runs from the newest mark at least a
 * window old (or the start) to now. Reporters, the progress display and metrics read
 * regularly, so for them the window is the last 10 s give or take one reading interval; a
 * program that reads rarely gets the rate since its previous reading.
 */
export class RecentRate {
  readonly #marks: Mark[] = [];

  /** Items per second; `startedAt` is when counting began (0: not yet, the rate is 0). */
  read(now: number, count: number, startedAt: number): number {
    if (!startedAt) return 0;
    const marks = this.#marks;
    if (marks.length === 0) marks.push({ at: startedAt, count: 0 });
    let base = 0;
    while (base + 1 < marks.length && marks[base + 1].at <= now - RECENT_WINDOW_MS) base++;
    if (base > 0) marks.splice(0, base);
    const from = marks[0];
    if (now - marks[marks.length - 1].at >= MARK_SPACING_MS) marks.push({ at: now, count });
    const ms = now - from.at;
    return ms > 0 ? ((count - from.count) * 1000) / ms : 0;
  }
}
