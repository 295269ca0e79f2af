// Turns one run's results into BENCHMARKS.md and bench/chart.svg. The markdown is generated,
// but the explanations of missed targets are written by people: text between the
// `<!-- explanation:sN -->` markers is carried over from the previous file on regeneration.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { relative, dirname } from 'node:path';
import { renderChart } from './chart.mjs';
import { ROLE_LABELS, mb, ms, percent, signedPercent, times, withRange } from './lib/format.mjs';
import { evaluateTargets } from './targets.mjs';

const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
const row = (cells) => `| ${cells.map(cell).join(' | ')} |`;
const table = (head, rows) => [row(head), row(head.map(() => '---')), ...rows.map(row)].join('\n');

const status = (c) =>
  c.summary.failures.length === 0
    ? `✅ ${c.summary.passed}/${c.runs.length}`
    : `❌ FAIL: ${c.summary.failures.join('; ')}`;
const reference = (testCase) => testCase.contenders.find((c) => c.reference);
const name = (c) => (c.reference ? `**${c.name}**` : c.name);

function timeTable(testCase) {
  const base = reference(testCase)?.summary.ms?.median;
  return table(
    [
      'Contender',
      'Kind',
      'Median time',
      'Range',
      'Spread',
      'Time ÷ paipa',
      'Items/s',
      'Peak RSS',
      'Verified',
    ],
    testCase.contenders.map((c) => {
      const t = c.summary.ms;
      return [
        name(c),
        ROLE_LABELS[c.role],
        ms(t?.median),
        t ? `${ms(t.min)}–${ms(t.max)}` : '–',
        percent(t?.spread),
        times(t && base ? t.median / base : NaN),
        t ? Math.round((testCase.n / t.median) * 1000).toLocaleString('en-US') : '–',
        mb(c.summary.vmHwmMb?.median),
        status(c),
      ];
    }),
  );
}

function memoryTable(scenario) {
  const { cases } = scenario;
  const [small, large] = (scenario.growth ?? []).map((i) => cases[i]);
  const first = cases[0];
  const peakOf = (testCase, contenderName) =>
    testCase.contenders.find((c) => c.name === contenderName)?.summary.vmHwmMb?.median;
  const base = peakOf(first, reference(first)?.name);
  return table(
    [
      'Contender',
      'Kind',
      ...cases.map((t) => `Peak RSS, ${t.label}`),
      small ? `${large.label} vs ${small.label}` : 'Growth',
      `Peak ÷ paipa (${first.label})`,
      `Sampled peak (${first.label})`,
      'RSS before the run',
      `Time (${first.label})`,
      'Verified',
    ],
    first.contenders.map((c) => {
      const inEvery = cases.map((t) => t.contenders.find((x) => x.name === c.name));
      const failures = inEvery.flatMap((x) => x.summary.failures);
      const grow = small ? peakOf(large, c.name) / peakOf(small, c.name) - 1 : NaN;
      return [
        name(c),
        ROLE_LABELS[c.role],
        ...inEvery.map((x) => withRange(x.summary.vmHwmMb, mb)),
        signedPercent(grow),
        times(peakOf(first, c.name) / base),
        mb(c.summary.sampledPeakMb?.median),
        mb(c.summary.baselineMb?.median),
        ms(c.summary.ms?.median),
        failures.length === 0
          ? `✅ ${inEvery.reduce((n, x) => n + x.summary.passed, 0)} runs`
          : `❌ FAIL: ${[...new Set(failures)].join('; ')}`,
      ];
    }),
  );
}

function teardownTable(testCase) {
  return table(
    [
      'Contender',
      'Kind',
      'Throw → rejection',
      'Rejection → process exit',
      'Tasks started after the throw',
      'Open at rejection',
      'Verified',
    ],
    testCase.contenders.map((c) => {
      const open = [...new Set(c.runs.flatMap((r) => r.activeResources ?? []))];
      return [
        name(c),
        ROLE_LABELS[c.role],
        withRange(c.summary.rejectMs, ms),
        withRange(c.summary.exitMs, ms),
        c.summary.startedAfterThrow ? String(c.summary.startedAfterThrow.max) : '–',
        open.length
          ? open.map((h) => `${h} ×${countIn(c.runs[0]?.activeResources, h)}`).join(', ')
          : 'nothing',
        status(c),
      ];
    }),
  );
}

/** One table per case (the work differs between cases), with the time to the first output. */
function cpuTables(scenario) {
  return scenario.cases
    .map((testCase) => {
      const base = reference(testCase)?.summary.ms?.median;
      const rows = testCase.contenders.map((c) => {
        const t = c.summary.ms;
        return [
          name(c),
          ms(t?.median),
          t ? `${ms(t.min)}–${ms(t.max)}` : '–',
          times(t && base ? t.median / base : NaN),
          t ? `${((t.median * 1000) / testCase.n).toFixed(1)} µs` : '–',
          withRange(c.summary.firstOutputMs, ms),
          mb(c.summary.vmHwmMb?.median),
          status(c),
        ];
      });
      const head = [
        'Contender',
        'Median time',
        'Range',
        'Time ÷ main thread',
        'Per item',
        'First output',
        'Peak RSS',
        'Verified',
      ];
      return `### ${testCase.label}\n\n${table(head, rows)}`;
    })
    .join('\n\n');
}

/** One table per case, with entries per second (S8: the rate is the figure users compare). */
function throughputTables(scenario) {
  return scenario.cases
    .map((testCase) => {
      const base = reference(testCase)?.summary.ms?.median;
      const rows = testCase.contenders.map((c) => {
        const t = c.summary.ms;
        return [
          name(c),
          ROLE_LABELS[c.role],
          ms(t?.median),
          t ? `${ms(t.min)}–${ms(t.max)}` : '–',
          t ? Math.round((testCase.n / t.median) * 1000).toLocaleString('en-US') : '–',
          times(t && base ? t.median / base : NaN),
          mb(c.summary.vmHwmMb?.median),
          status(c),
        ];
      });
      const head = [
        'Contender',
        'Kind',
        'Median time',
        'Range',
        'Entries/s',
        'Time ÷ paipa',
        'Peak RSS',
        'Verified',
      ];
      return `### ${testCase.label}\n\n${table(head, rows)}`;
    })
    .join('\n\n');
}

const countIn = (list = [], item) => list.filter((x) => x === item).length;

function scenarioSection(scenario, targets, explanations) {
  const input = scenario.cases.map((t) => t.label).join(', ');
  const rounds = `${scenario.rounds} round${scenario.rounds === 1 ? '' : 's'}`;
  const lines = [
    `## ${scenario.id.toUpperCase()}: ${scenario.title}`,
    '',
    scenario.cases.length > 0
      ? `${scenario.what}. Input: ${input}; ${rounds}.`
      : `${scenario.what}. Not run.`,
    '',
  ];
  if (scenario.metric === 'time') lines.push(timeTable(scenario.cases[0]));
  if (scenario.metric === 'memory') lines.push(memoryTable(scenario));
  if (scenario.metric === 'teardown') lines.push(teardownTable(scenario.cases[0]));
  if (scenario.metric === 'cpu') lines.push(cpuTables(scenario));
  if (scenario.metric === 'throughput') lines.push(throughputTables(scenario));
  lines.push('');
  for (const t of targets)
    lines.push(`- ${t.met ? '✅ met' : '❌ **missed**'}: ${t.target}. Measured: ${t.figure}.`);
  const notes = [
    ...(scenario.notes ?? []),
    ...scenario.skipped.map((s) => `${s.name} skipped: ${s.why}.`),
    ...scenario.cases.flatMap((t) =>
      t.contenders.flatMap((c) =>
        c.summary.warnings.map(
          (w) => `${c.name} printed, in ${w.runs} of ${w.of} runs: \`${w.text}\``,
        ),
      ),
    ),
  ];
  const uniqueNotes = [...new Set(notes)];
  if (uniqueNotes.length) lines.push('', ...uniqueNotes.map((n) => `- Note: ${n}`));
  const missed = targets.some((t) => !t.met);
  const kept = explanations.get(scenario.id);
  if (missed || kept) {
    const placeholder =
      '\n> **Explanation needed:** a target above is missed. What limits it? (Write it here, between the markers; `npm run bench` keeps this text when it regenerates the file.)\n';
    lines.push(
      '',
      `<!-- explanation:${scenario.id} -->${kept ?? placeholder}<!-- /explanation:${scenario.id} -->`,
    );
  }
  return lines.join('\n');
}

/** The repo checks every file with prettier, so the generated file is written in its format. */
async function formatMarkdown(md, path) {
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(path)) ?? {};
  return prettier.format(md, { ...options, filepath: path });
}

/** Explanations written by hand in the previous BENCHMARKS.md, by scenario id. */
function readExplanations(path) {
  const found = new Map();
  if (!existsSync(path)) return found;
  const re = /<!-- explanation:(\w+) -->([\s\S]*?)<!-- \/explanation:\1 -->/g;
  for (const [, id, text] of readFileSync(path, 'utf8').matchAll(re)) {
    if (!text.includes('**Explanation needed:**')) found.set(id, text);
  }
  return found;
}

export async function writeReports(results, { markdownPath, chartPath, log }) {
  const { machine } = results;
  const allTargets = results.scenarios.flatMap(evaluateTargets);
  const explanations = readExplanations(markdownPath);
  const chartLink = relative(dirname(markdownPath), chartPath);
  const quick = results.mode === 'quick' ? ' (quick smoke-test sizes: timings not meaningful)' : '';
  const md = [
    '# Benchmarks',
    '',
    '<!-- Generated by `npm run bench` (bench/run.mjs) from the figures of one run. Edit only between explanation markers: that text is kept when the file is regenerated. -->',
    '',
    `Measured ${machine.date} on ${machine.cpu} (${machine.cores} cores, ${machine.memoryGb} GB), Node ${machine.node}, ${machine.platform}; paipa at ${machine.commit}${quick}. The run took ${machine.benchSeconds} s.`,
    '',
    `![Medians per scenario](${chartLink})`,
    '',
    '## How it is measured',
    '',
    '- Every contender runs in a fresh child process for each scenario case, for several rounds; the order of contenders rotates each round. Figures are medians over the rounds, with the range (min–max) and the spread ((max − min) ÷ median).',
    '- Every run is verified: output count and an order-independent checksum, plus input order in S3. A wrong answer is a failure, shown as such, and its time is not counted.',
    '- Time is measured inside the child, from building the pipeline to its completion, after a warm-up run on a small input (the same for every contender; none in S4 and S5).',
    '- "Time ÷ paipa" divides the contender\'s median by the median of the **bold** paipa row of the same run: above 1 means paipa is faster.',
    '- Peak RSS is the kernel\'s high-water mark (VmHWM) of the child process, so it includes Node itself (about 40 MB). "Sampled peak" is the RSS sampled every 20 ms during the run (a synchronous loop starves the sampler, so VmHWM is the figure judged).',
    '- Run it yourself: `npm run bench` (this file and bench/chart.svg) or `npm run bench:quick` (small sizes, writes bench/results/ only). Add `-- --only s1,s3` to run a subset.',
    '',
    '## Targets',
    '',
    table(
      ['Scenario', 'Target', 'Measured', 'Result'],
      allTargets.map((t) => [
        t.scenario.toUpperCase(),
        t.target,
        t.figure,
        t.met ? '✅ met' : '❌ missed',
      ]),
    ),
    '',
    ...results.scenarios.map(
      (s) =>
        scenarioSection(
          s,
          allTargets.filter((t) => t.scenario === s.id),
          explanations,
        ) + '\n',
    ),
  ].join('\n');
  writeFileSync(markdownPath, await formatMarkdown(md, markdownPath));
  writeFileSync(chartPath, renderChart(results));
  log(`wrote ${markdownPath} and ${chartPath}`);

  const failed = results.scenarios.flatMap((s) =>
    s.cases.flatMap((t) =>
      t.contenders
        .filter((c) => c.summary.failures.length > 0)
        .map(
          (c) => `${s.id.toUpperCase()} ${c.name} (${t.label}): ${c.summary.failures.join('; ')}`,
        ),
    ),
  );
  if (results.mode !== 'full') log('targets are not judged at quick sizes (see the full run)');
  else
    for (const t of allTargets)
      log(`${t.met ? 'met   ' : 'MISSED'} ${t.scenario.toUpperCase()} ${t.target}: ${t.figure}`);
  return { failed, targets: allTargets };
}
