// CPU-bound steps on every core (`npm run example:cpu-bound`).
//
// An ETL whose middle step is pure computation: parse records, score each one with a
// key-stretching hash (about a tenth of a millisecond of CPU per record), sum the scores per
// user. The scoring step runs first as a plain function step on the main thread, then as a
// workerStep with one thread per core: same module, same results, and the time it saved.

import { availableParallelism } from 'node:os';
import { Pipeline, workerStep } from 'paipa';
import { score, setup } from './workers/score.mjs';

const RECORDS = Number(process.argv[2] ?? 20_000);
const ROUNDS = 120;
const threads = Math.max(2, availableParallelism());

/** The input: synthetic log lines, as a file or a queue would deliver them. */
function* lines() {
  for (let id = 0; id < RECORDS; id++)
    yield JSON.stringify({ id, user: `u${id % 50}`, text: `event ${id}` });
}

/** Runs the ETL with `scoreStep` in the middle; returns the totals per user and the time. */
async function etl(scoreStep) {
  const totals = new Map();
  const pipeline = new Pipeline([
    (line) => JSON.parse(line),
    scoreStep,
    (scored) => void totals.set(scored.user, (totals.get(scored.user) ?? 0) + scored.score),
  ]);
  pipeline.putIterable(lines());
  const started = performance.now();
  const result = await pipeline.run();
  return { totals, ms: performance.now() - started, stats: result.steps[1] };
}

setup({ rounds: ROUNDS });
const main = await etl(score);
const workers = await etl([
  workerStep(new URL('./workers/score.mjs', import.meta.url), {
    export: 'score',
    setupOptions: { rounds: ROUNDS },
  }),
  threads,
]);

const same = [...main.totals].every(([user, total]) => workers.totals.get(user) === total);
console.log(`records:               ${RECORDS}`);
console.log(`users:                 ${workers.totals.size}`);
console.log(`main thread:           ${main.ms.toFixed(0)} ms`);
console.log(`worker threads (${threads}):    ${workers.ms.toFixed(0)} ms`);
console.log(
  `speedup:               ${(main.ms / workers.ms).toFixed(2)}x on ${availableParallelism()} cores`,
);
console.log(`scored in threads:     ${workers.stats.out}`);
console.log(`thread restarts:       ${workers.stats.restarts}`);
console.log(`same results:          ${same ? 'yes' : 'NO'}`);
if (!same) process.exitCode = 1;
