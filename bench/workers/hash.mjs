// The CPU-bound work of scenario 6, shared by the main-thread contender and the worker threads
// (which load this file as a worker step module). An integer hash mixed `rounds` times: pure
// computation, no allocation, deterministic, so every output can be checked.

/** Mixing rounds of a ~50 µs item and a ~1 µs item on the machine these were calibrated on. */
export const HEAVY_ROUNDS = 8700;
export const CHEAP_ROUNDS = 150;

export function mixRounds(value, rounds) {
  let h = value | 0;
  for (let k = 0; k < rounds; k++) {
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
    h = Math.imul(h, 0x297a2d39);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

export const heavy = (value) => mixRounds(value, HEAVY_ROUNDS);
export const cheap = (value) => mixRounds(value, CHEAP_ROUNDS);
