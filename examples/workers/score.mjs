// The CPU-heavy step of examples/cpu-bound.mjs, as a worker step module: it runs in worker
// threads, one copy per thread. `setup` runs once per thread before its first record.
import { createHash } from 'node:crypto';

let rounds = 1;

export function setup(options) {
  rounds = options.rounds;
}

/** Scores one record: a key-stretching hash of its text (pure CPU, no I/O). */
export function score(record) {
  let digest = record.text;
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).digest('hex');
  return { id: record.id, user: record.user, score: parseInt(digest.slice(0, 6), 16) % 1000 };
}
