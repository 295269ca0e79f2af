// Generator pipeline with the runtime debugger (`npm run example:generator`).
//
// paipa's single-thread "coroutine" style: plain generators chained by combinePipeline, pulled
// lazily one item at a time, no streams and no buffers. The debugger reports, per step, how
// many items it emitted, its own runtime, throughput, CPU time and heap growth: where the
// time goes. Reports go to stderr every second and once at the end; a MemoryReporter keeps
// them for the summary printed here.

import {
  LoggingReporter,
  MemoryReporter,
  PipelineRuntimeDebugger,
  chunk,
  combinePipeline,
  consume,
} from 'paipa';

function* numbers(count) {
  for (let i = 0; i < count; i++) yield i;
}

function* square(items) {
  for (const n of items) yield n * n;
}

function* onlyEven(items) {
  for (const n of items) if (n % 2 === 0) yield n;
}

/** Deliberately the slow step: the report should point at it. */
function* checksum(items) {
  for (const batch of items) {
    let sum = 0;
    for (let round = 0; round < 3000; round++)
      for (const n of batch) sum = (sum + n * round) % 1_000_003;
    yield sum;
  }
}

const memory = new MemoryReporter();
const debug = new PipelineRuntimeDebugger({
  reporters: [new LoggingReporter(), memory],
  interval: 1000,
});
const factory = combinePipeline(numbers, [square, [onlyEven, chunk(100)], checksum], {
  debugger: debug,
});

consume(factory(20_000));

const final = memory.reports.at(-1);
console.log(`reports:        ${memory.reports.length} (final: ${final.final})`);
for (const row of final.steps)
  console.log(
    `${row.name.padEnd(15)} ${String(row.count).padStart(7)} items  ${Number(row.runtimeMs).toFixed(1)} ms`,
  );
const slowest = [...final.steps].sort((a, b) => b.runtimeMs - a.runtimeMs)[0];
console.log(`slowest step:   ${slowest.name}`);
