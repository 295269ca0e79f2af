// The pieces every contender shares: the same lazy source, the same step functions and the
// same sink checks, so the only difference between two contenders is the library wiring.

/** A lazy source of 0..n-1: nobody gets to pre-build an array. */
export function* range(n) {
  for (let i = 0; i < n; i++) yield i;
}

/** The awaited "I/O" of scenarios 2, 3 and 5. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** An integer mixer: summing mixed values catches a dropped or duplicated item, not just a count. */
const mix = (v) => Math.imul(v | 0, 0x9e3779b1) >>> 0;

/**
 * What a sink sees: count plus an order-independent checksum. `add` is the sink's only work,
 * so it costs every contender the same.
 */
export class Tally {
  count = 0;
  checksum = 0;
  /** Outputs that arrived at a position other than expected (ordered scenarios only). */
  misordered = 0;

  /** @param {((index: number) => number) | null} expectAt the value due at each output position */
  constructor(expectAt = null) {
    this.expectAt = expectAt;
  }

  add(value) {
    if (this.expectAt !== null && this.expectAt(this.count) !== value) this.misordered++;
    this.count++;
    this.checksum = (this.checksum + mix(value)) >>> 0;
  }
}

/** The result every contender is checked against, computed by the dullest loop possible. */
export function expectedOf(n, outputOf) {
  const tally = new Tally();
  for (let i = 0; i < n; i++) tally.add(outputOf(i));
  return { count: tally.count, checksum: tally.checksum };
}
