// Orchestrates the benchmark: every contender of every scenario runs in its own child process,
// round after round (the contender order rotates each round so none always runs first on a
// cold or busy machine), every run is verified, and the medians go to the report.
//
//   node bench/run.mjs            full run: writes BENCHMARKS.md and bench/chart.svg
//   node bench/run.mjs --quick    small sizes, one round: a correctness smoke test for CI;
//                                 writes only bench/results/ (git-ignored)
//   --only s1,s3                  a subset of scenarios (written to bench/results/ only)
//   --rounds N                    override the number of rounds
//   --report-only                 rewrite the report from bench/results/<mode>.json, no runs
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describeMachine } from './lib/machine.mjs';
import { runChild } from './lib/run-child.mjs';
import { summarize } from './lib/stats.mjs';
import { verifyRun } from './lib/verify.mjs';
import { loadScenario, scenarioFiles } from './scenarios/index.mjs';
import { writeReports } from './report.mjs';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    only: { type: 'string' },
    rounds: { type: 'string' },
    'report-only': { type: 'boolean' },
  },
});
const mode = args.quick ? 'quick' : 'full';
const here = (path) => fileURLToPath(new URL(path, import.meta.url));

/**
 * Snapshots dist/ so a rebuild by someone else during the run cannot change the engine under
 * the later rounds. It stays inside the repo so its `require('readable-stream')` resolves.
 * @returns what the snapshot exports that optional contenders need
 */
async function snapshotDist() {
  const dist = here('../dist/');
  if (!existsSync(`${dist}index.js`)) {
    console.error('dist/ is missing: run `npm run build` first (`npm run bench` does it for you).');
    process.exit(2);
  }
  const snapshot = here('./results/paipa-dist/');
  rmSync(snapshot, { recursive: true, force: true });
  mkdirSync(snapshot, { recursive: true });
  cpSync(dist, snapshot, { recursive: true });
  process.env.PAIPA_DIST = snapshot; // children inherit it
  const { paipa } = await import('./lib/paipa.mjs');
  return { combinePipeline: typeof paipa.combinePipeline === 'function' };
}

const only = args.only?.split(',');
const log = (line) => process.stderr.write(`${line}\n`);
const fmt = (ms) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

/**
 * Runs a scenario between its own setup() and teardown(), when it has them (S8 starts a
 * redis-server; what setup() returns in `env` reaches the children through process.env).
 * A setup() that returns `{ skip }` skips the scenario, with the reason in the report.
 */
async function runScenario(file, features) {
  const scenario = await loadScenario(file);
  const prepared = (await scenario.setup?.({ mode })) ?? {};
  if (prepared.skip) {
    log(`[${scenario.id}] skipped: ${prepared.skip}`);
    return {
      ...pick(scenario, ['id', 'title', 'what', 'metric', 'taskMs', 'notes']),
      mode,
      rounds: 0,
      cases: [],
      skipped: [{ name: `${scenario.id.toUpperCase()} (every contender)`, why: prepared.skip }],
    };
  }
  const env = Object.entries(prepared.env ?? {});
  for (const [key, value] of env) process.env[key] = value;
  try {
    return await runCases(file, scenario, features);
  } finally {
    for (const [key] of env) delete process.env[key];
    await prepared.teardown?.();
  }
}

async function runCases(file, scenario, features) {
  const rounds = args.rounds ? Number(args.rounds) : scenario.rounds[mode];
  const available = scenario.contenders.filter((c) => !c.needs || features[c.needs]);
  const skipped = scenario.contenders
    .filter((c) => c.needs && !features[c.needs])
    .map((c) => ({ name: c.name, why: `paipa does not export ${c.needs} yet` }));
  const cases = scenario.cases[mode].map((testCase, caseIndex) => ({
    ...testCase,
    label: testCase.label ?? `${testCase.n.toLocaleString('en-US')} items`,
    expected: scenario.expected?.(testCase),
    contenders: available.map((c) => ({
      name: c.name,
      role: c.role,
      reference: !!c.reference,
      runs: [],
    })),
    caseIndex,
  }));

  for (let round = 0; round < rounds; round++) {
    const order = available.map((_, i) => available[(i + round) % available.length]);
    for (const contender of order) {
      for (const testCase of cases) {
        const job = {
          scenarioFile: file,
          contenderName: contender.name,
          mode,
          caseIndex: testCase.caseIndex,
        };
        const timeoutMs = mode === 'quick' ? 30_000 : 180_000;
        const result = await runChild(job, { timeoutMs });
        result.failure = verifyRun(scenario, testCase, result, testCase.expected);
        testCase.contenders.find((c) => c.name === contender.name).runs.push(result);
        const figure =
          result.figures?.rejectMs !== undefined
            ? `reject ${fmt(result.figures.rejectMs)} ms, `
            : '';
        log(
          `[${scenario.id} ${round + 1}/${rounds}] ${contender.name} · ${testCase.label}: ` +
            `${figure}${fmt(result.ms ?? NaN)} ms, peak ${fmt(result.vmHwmMb ?? NaN)} MB` +
            (result.failure ? `  FAIL: ${result.failure}` : ''),
        );
      }
    }
  }
  for (const testCase of cases)
    for (const c of testCase.contenders) c.summary = summarizeRuns(c.runs);
  const growth = scenario.growth?.[mode];
  return {
    ...pick(scenario, ['id', 'title', 'what', 'metric', 'taskMs', 'notes']),
    growth,
    mode,
    rounds,
    cases,
    skipped,
  };
}

/** Medians over the verified runs; the failures are kept beside them, never averaged in. */
function summarizeRuns(runs) {
  const good = runs.filter((r) => !r.failure);
  const of = (get) => summarize(good.map(get).filter((v) => typeof v === 'number'));
  return {
    passed: good.length,
    failures: [...new Set(runs.filter((r) => r.failure).map((r) => r.failure))],
    ms: of((r) => r.ms),
    vmHwmMb: of((r) => r.vmHwmMb),
    sampledPeakMb: of((r) => r.sampledPeakMb),
    baselineMb: of((r) => r.baselineMb),
    exitMs: of((r) => r.exitMs),
    rejectMs: of((r) => r.figures?.rejectMs),
    startedAfterThrow: of((r) => r.figures?.startedAfterThrow),
    firstOutputMs: of((r) => r.figures?.firstOutputMs),
    warnings: countWarnings(runs),
  };
}

/** Process warnings the runs printed, without the pid prefix: { text, runs, of }. */
function countWarnings(runs) {
  const counts = new Map();
  for (const run of runs) {
    const lines = run.stderr.split('\n').filter((l) => /Warning/.test(l));
    for (const text of new Set(lines.map((l) => l.replace(/^\(node:\d+\) /, '').trim()))) {
      counts.set(text, (counts.get(text) ?? 0) + 1);
    }
  }
  return [...counts].map(([text, n]) => ({ text, runs: n, of: runs.length }));
}

const pick = (object, keys) =>
  Object.fromEntries(keys.filter((k) => k in object).map((k) => [k, object[k]]));

async function runAll() {
  const startedAt = performance.now();
  const machine = describeMachine(); // before the run: the commit measured, not a later one
  const features = await snapshotDist();
  const scenarios = [];
  for (const file of scenarioFiles) {
    if (only && !only.some((id) => file.startsWith(`${id}-`))) continue;
    scenarios.push(await runScenario(file, features));
  }
  machine.benchSeconds = Math.round((performance.now() - startedAt) / 1000);
  const results = { mode, machine, features, scenarios };
  mkdirSync(here('./results/'), { recursive: true });
  writeFileSync(here(`./results/${mode}.json`), JSON.stringify(results, null, 2));
  return results;
}

const results = args['report-only']
  ? JSON.parse(readFileSync(here(`./results/${mode}.json`), 'utf8'))
  : await runAll();
const { failed } = await writeReports(results, {
  markdownPath: mode === 'full' && !only ? here('../BENCHMARKS.md') : here(`./results/${mode}.md`),
  chartPath: mode === 'full' && !only ? here('./chart.svg') : here(`./results/${mode}-chart.svg`),
  log,
});
log(`done in ${results.machine.benchSeconds} s`);
if (failed.length > 0) {
  log(`FAILED (wrong output, crash or hang):\n  ${failed.join('\n  ')}`);
  process.exitCode = 1;
}
