// The work of scenario 8 (Redis Streams), shared by the consumers in the benchmark child and
// the forked consumer processes (bench/workers/redis-consumer.mjs).
import { HEAVY_ROUNDS, mixRounds } from './hash.mjs';

/** Mixing rounds per entry: one (a cheap step) or about 200 µs of CPU (4 × S6's ~50 µs item). */
export const ROUNDS = { cheap: 1, cpu: 4 * HEAVY_ROUNDS };

/** The stream, group and entry layout every S8 contender reads. */
export const GROUP = 's8';
export const streamName = (run) => `s8:run${run}`;

/** The step: the entry's number, mixed. */
export const stepFor = (work) => {
  const rounds = ROUNDS[work];
  return function mix(entry) {
    return mixRounds(Number(entry.fields.n), rounds);
  };
};

/** The source options every paipa contender uses, beside url, stream, group and consumer. */
export const SOURCE_OPTIONS = { count: 100 };
