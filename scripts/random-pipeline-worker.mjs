// The worker step of random pipelines (scripts/random-pipeline.cjs): the ops of the reference
// model, run in worker threads. Exports are named after the ops.
export const id = (x) => x;
export const scale = (x) => 2 * x + 1;
export const filter = (x) => (x % 3 === 0 ? undefined : x);
