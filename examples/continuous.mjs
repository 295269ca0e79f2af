// Continuous mode: a long-lived pipeline fed from a job queue (`npm run example:continuous`).
//
// A producer pushes jobs into the pipeline as they arrive (here: bursts on a timer, as a
// message queue consumer would). The pipeline runs in the background with start(), put()
// respects backpressure (it returns false when the input buffer is full, and the producer
// waits a little), and stop() drains what is in flight before it resolves with the figures.
// `await using` would stop it at the end of a block just the same.

import { setTimeout as sleep } from 'node:timers/promises';
import { Pipeline, Step } from 'paipa';

/** Simulated thumbnail rendering: async, 5-15 ms per job. */
async function render(job, ctx) {
  await sleep(5 + (job.id % 11), undefined, { signal: ctx.signal });
  return { ...job, thumbnail: `thumb-${job.id}.png` };
}

/** The sink: records finished jobs; a real one would write to a database. */
class Publish extends Step {
  process() {
    this.shared.done = (this.shared.done ?? 0) + 1;
  }
}

const jobs = { produced: 0, refused: 0 };
const pipeline = new Pipeline([[render, 6], Publish], { highWaterMark: 8 });
pipeline.start();
const started = performance.now();

// Five bursts of 40 jobs, 30 ms apart.
for (let burst = 0; burst < 5; burst++) {
  for (let i = 0; i < 40; i++) {
    if (!pipeline.put({ id: jobs.produced++, burst })) {
      jobs.refused++;
      await sleep(2); // the input buffer is full: back off instead of piling up
    }
  }
  await sleep(30);
}
console.log(`alive while fed:   ${pipeline.alive}`);

const result = await pipeline.stop();
console.log(`jobs produced:     ${jobs.produced}`);
console.log(`jobs rendered:     ${result.steps[0].out}`);
console.log(`jobs published:    ${result.steps[1].in}`);
console.log(`backoffs:          ${jobs.refused}`);
console.log(`alive after stop:  ${pipeline.alive}`);
console.log(`time:              ${((performance.now() - started) / 1000).toFixed(2)} s`);
if (result.steps[1].in !== jobs.produced) process.exitCode = 1;
