// CPU profile of one contender (default: paipa Pipeline run() in S1) with `node --cpu-prof`,
// printed as the functions with the most self time, and the same grouped by file. For the
// engine owner: where does a cheap item's time go?
//
//   node bench/profile.mjs [--scenario s1] [--contender "paipa Pipeline run()"] [--dir /tmp/x]
//
// Profiles are written outside the repository (default: <tmpdir>/paipa-cpu-prof).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { scenarioFiles } from './scenarios/index.mjs';

const { values: args } = parseArgs({
  options: {
    scenario: { type: 'string', default: 's1' },
    contender: { type: 'string', default: 'paipa Pipeline run()' },
    dir: { type: 'string', default: join(tmpdir(), 'paipa-cpu-prof') },
    top: { type: 'string', default: '25' },
  },
});
const repo = fileURLToPath(new URL('..', import.meta.url));
const scenarioFile = scenarioFiles.find((f) => f.startsWith(`${args.scenario}-`));
rmSync(args.dir, { recursive: true, force: true });
mkdirSync(args.dir, { recursive: true });

const job = { scenarioFile, contenderName: args.contender, mode: 'full', caseIndex: 0 };
const out = execFileSync(
  process.execPath,
  ['--cpu-prof', `--cpu-prof-dir=${args.dir}`, join(repo, 'bench/child.mjs'), JSON.stringify(job)],
  { encoding: 'utf8' },
);
if (!out.includes('"ok":true')) throw new Error(`the profiled run failed:\n${out}`);
const file = join(
  args.dir,
  readdirSync(args.dir).find((f) => f.endsWith('.cpuprofile')),
);
const profile = JSON.parse(readFileSync(file, 'utf8'));

// Self time of a node = the time deltas of the samples that landed on it.
const selfUs = new Map();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + profile.timeDeltas[i]));
const where = (cf) => {
  const url = cf.url.replace(`file://${repo}`, '').replace(repo, '');
  return url ? `${url}:${cf.lineNumber + 1}` : '(native)';
};
const byFunction = new Map();
const byFile = new Map();
let total = 0;
for (const node of profile.nodes) {
  const us = selfUs.get(node.id) ?? 0;
  if (us === 0) continue;
  total += us;
  const cf = node.callFrame;
  const key = `${cf.functionName || '(anonymous)'}  ${where(cf)}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  const fileKey = cf.url ? where({ ...cf, lineNumber: -1 }).replace(/:0$/, '') : cf.functionName;
  byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + us);
}

const print = (title, map, n) => {
  console.log(`\n${title}`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(
      `${(us / 1000).toFixed(1).padStart(9)} ms ${((us / total) * 100).toFixed(1).padStart(5)}%  ${key}`,
    );
  }
};
console.log(
  `${args.scenario} · ${args.contender}: ${(total / 1000).toFixed(0)} ms sampled; profile: ${file}`,
);
print('Top self time by function', byFunction, Number(args.top));
print('Self time by file', byFile, 15);
