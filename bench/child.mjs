// One contender, one case, one process: so peak memory is this contender's alone and no JIT
// state or leftover heap leaks from one contender into the next. Prints one result line and
// then lets the event loop drain by itself; the parent times how long that takes (a process
// that never exits is a leaked handle, reported as a failure).
import { loadScenario } from './scenarios/index.mjs';
import { rssMb, startRssSampler, vmHwmMb } from './lib/memory.mjs';
import { RESULT_PREFIX } from './lib/run-child.mjs';
import { Tally } from './lib/workload.mjs';

const { scenarioFile, contenderName, mode, caseIndex } = JSON.parse(process.argv[2]);
const scenario = await loadScenario(scenarioFile);
const contender = scenario.contenders.find((c) => c.name === contenderName);
const testCase = scenario.cases[mode][caseIndex];
const expectAt = scenario.expectAt ?? null;

/**
 * Handles that say nothing about the contender: the child's own stdio pipes (created lazily
 * when any code touches process.stdout/stderr, and never keeping the process alive) and a file
 * close left pending by the module loader.
 */
const NOT_LEAKS = new Set(['PipeWrap', 'TTYWrap', 'CloseReq']);
const openHandles = () => process.getActiveResourcesInfo().filter((h) => !NOT_LEAKS.has(h));

const report = (fields) => {
  const wallNow = performance.timeOrigin + performance.now();
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify({ ...fields, endedAt: wallNow })}\n`);
};

try {
  const warmup = scenario.warmup[mode];
  // load() is untimed: a contender may prepare its input there (S8 fills its Redis streams).
  const run = await contender.load(testCase, { warmup });
  // Same warm-up for everyone: the timed run then measures steady state, not JIT start-up.
  if (warmup > 0) await run(warmup, new Tally(expectAt), testCase);

  const baselineMb = rssMb();
  const sampler = startRssSampler(20);
  const tally = new Tally(expectAt);
  const startedAt = performance.now();
  const cpuBefore = process.cpuUsage();
  const returned = (await run(testCase.n, tally, testCase)) ?? {};
  const ms = performance.now() - startedAt;
  // CPU time of the timed run (user + system, all threads): steadier than wall time on a
  // shared machine, for comparisons made outside `npm run bench`.
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const sampledPeakMb = sampler.stop();
  report({
    ok: true,
    ms,
    cpuMs,
    count: tally.count,
    checksum: tally.checksum,
    misordered: tally.misordered,
    reportedCount: returned.reportedCount,
    figures: returned.reportedCount === undefined ? returned : undefined,
    baselineMb,
    sampledPeakMb,
    vmHwmMb: vmHwmMb(),
    activeResources: openHandles(),
  });
} catch (err) {
  report({ ok: false, error: String(err?.stack ?? err) });
  process.exitCode = 1;
}
