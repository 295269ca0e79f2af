// Packs the package as npm would publish it, installs the tarball into an empty folder and
// loads it from CommonJS, from an ES module and from TypeScript (types resolved through the
// "exports" map): what a user gets, not what the repository happens to contain.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const dir = mkdtempSync(join(tmpdir(), 'paipa-pack-'));
const run = (cmd, args, cwd = dir) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

try {
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', dir], root));
  const tarball = join(dir, packed[0].filename);
  const files = packed[0].files.map((f) => f.path);
  for (const unwanted of ['src/', '__tests__/', 'bench/', 'examples/']) {
    if (files.some((f) => f.startsWith(unwanted))) throw new Error(`tarball contains ${unwanted}`);
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'pack-check', private: true }));
  run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', tarball]);
  const program = `class Double extends Step { process(n) { return n * 2; } }
const p = new Pipeline([[Double, 2], (n) => n + 1], { ordered: true });
p.putAll([1, 2, 3]);
const { count } = await p.run();
if (count !== 3) throw new Error('wrong count ' + count);
console.log('ok');`;
  writeFileSync(
    join(dir, 'check.cjs'),
    `const { Pipeline, Step } = require('paipa');\n(async () => {\n${program}\n})();`,
  );
  writeFileSync(join(dir, 'check.mjs'), `import { Pipeline, Step } from 'paipa';\n${program}`);
  for (const file of ['check.cjs', 'check.mjs']) {
    const out = run(process.execPath, [file]).trim();
    if (out !== 'ok') throw new Error(`${file} printed ${out}`);
  }
  // Types: a consumer's TypeScript resolves the declarations shipped in the tarball.
  writeFileSync(
    join(dir, 'check.ts'),
    `import { Pipeline, type RunResult } from 'paipa';\nconst p = new Pipeline([(n: number) => n + 1]);\nconst r: Promise<RunResult> = p.run();\nvoid r;\n`,
  );
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  run(process.execPath, [
    tsc,
    '--noEmit',
    '--strict',
    '--module',
    'nodenext',
    '--moduleResolution',
    'nodenext',
    '--types',
    'node',
    '--typeRoots',
    join(root, 'node_modules', '@types'),
    'check.ts',
  ]);
  const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  console.log(
    `pack check: paipa@${version} (${files.length} files) installs and loads from CJS, ESM and TypeScript`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
