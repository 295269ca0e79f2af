// What PipelineRuntimeDebugger costs and how true its figures are, on the kind of pipeline
// issue 15 measured: a generator pipeline of two trivial steps and a heavy one
// (`node bench/debugger.mjs [items]`, after `npm run build`).
//
// Overhead: the pipeline with the debugger against without, medians of alternating rounds.
// Truth: each step's real cost is found without any instrument, by ablation: the pipeline's
// time with the step minus its time without it (the step replaced by a pass-through). The
// debugger's runtimeMs per step is compared with that.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { combinePipeline, consume, MemoryReporter, PipelineRuntimeDebugger } = require('../dist');

const N = Number(process.argv[2] ?? 200_000);
const ROUNDS = 7;

function* source(n) {
  for (let i = 0; i < n; i++) yield i;
}
function* inc(xs) {
  for (const x of xs) yield x + 1;
}
function* dbl(xs) {
  for (const x of xs) yield x * 2;
}
function* heavy(xs) {
  for (const x of xs) {
    let y = x;
    for (let k = 0; k < 400; k++) y = (y * 31 + k) % 1000003;
    yield y;
  }
}
function* pass(xs) {
  yield* xs;
}

function time(steps, debug) {
  const t0 = performance.now();
  consume(combinePipeline(source(N), steps, debug ? { debugger: debug } : {}));
  return performance.now() - t0;
}
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];

const full = [inc, dbl, heavy];
const variants = {
  full,
  'without inc': [pass, dbl, heavy],
  'without dbl': [inc, pass, heavy],
  'without heavy': [inc, dbl, pass],
};
const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
const debugged = [];
let rows = [];
time(full);
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, steps] of Object.entries(variants)) times[name].push(time(steps));
  const memory = new MemoryReporter();
  debugged.push(time(full, new PipelineRuntimeDebugger({ reporters: [memory], interval: 1e9 })));
  rows.push(memory.reports.at(-1).steps);
}
const plain = median(times.full);
const withDebugger = median(debugged);
console.log(`${N} items, ${ROUNDS} rounds, medians (machine may be shared)`);
console.log(
  `overhead: ${withDebugger.toFixed(0)} ms with the debugger / ${plain.toFixed(0)} ms without = ${(withDebugger / plain).toFixed(2)}x`,
);
for (const step of ['inc', 'dbl', 'heavy']) {
  const real = plain - median(times[`without ${step}`]);
  const reported = median(rows.map((r) => r.find((row) => row.name === step).runtimeMs));
  console.log(
    `${step}: reported ${reported.toFixed(1)} ms, real (by ablation) ${real.toFixed(1)} ms, ${(reported / real).toFixed(2)}x`,
  );
}
