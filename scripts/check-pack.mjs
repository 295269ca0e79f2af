// Packs the package as npm would publish it, installs the tarball into an empty folder and
// loads it from CommonJS, from an ES module and from TypeScript (types resolved through the
// "exports" map): what a user gets, not what the repository happens to contain. Every entry
// point in "exports" (".", "./otel", ...) is checked the same way: both forms load, export the
// same names, and its types resolve under node16 and under a consumer's default settings.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { entryPoints } from './entry-points.mjs';

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
  // Optional peer dependencies that subpath exports need for their types, as a user installs them.
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const peers = Object.keys(pkg.peerDependencies ?? {}).map((name) => {
    const version = JSON.parse(
      readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8'),
    ).version;
    return `${name}@${version}`;
  });
  run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', tarball, ...peers]);
  // A worker step too: its thread side (dist/workers/thread-entry.cjs) and piscina must ship.
  writeFileSync(join(dir, 'cube.mjs'), 'export const cube = (n) => n ** 3;\n');
  const program = `class Double extends Step { process(n) { return n * 2; } }
const p = new Pipeline([[Double, 2], (n) => n + 1], { ordered: true });
p.putAll([1, 2, 3]);
const { count } = await p.run();
if (count !== 3) throw new Error('wrong count ' + count);
const cubes = [];
const w = new Pipeline([[workerStep(require('node:path').join(dir, 'cube.mjs'), { export: 'cube' }), 2], (n) => void cubes.push(n)], { ordered: true });
w.putAll([1, 2, 3]);
await w.run();
if (cubes.join() !== '1,8,27') throw new Error('worker step gave ' + cubes.join());
console.log('ok');`;
  writeFileSync(
    join(dir, 'check.cjs'),
    `const { Pipeline, Step, workerStep } = require('paipa');\nconst dir = __dirname;\n(async () => {\n${program}\n})();`,
  );
  writeFileSync(
    join(dir, 'check.mjs'),
    `import { Pipeline, Step, workerStep } from 'paipa';\nimport { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\nconst dir = import.meta.dirname;\n${program}`,
  );
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
  // Every entry point: CJS and ESM load and agree on the exported names; types resolve.
  for (const entry of entryPoints(pkg)) {
    writeFileSync(
      join(dir, 'names.cjs'),
      `console.log(JSON.stringify(Object.keys(require('${entry.specifier}')).sort()));`,
    );
    writeFileSync(
      join(dir, 'names.mjs'),
      `import * as m from '${entry.specifier}';\nconsole.log(JSON.stringify(Object.keys(m).filter((k) => k !== 'default').sort()));`,
    );
    const cjsNames = run(process.execPath, ['names.cjs']).trim();
    const esmNames = run(process.execPath, ['names.mjs']).trim();
    if (cjsNames !== esmNames || cjsNames === '[]') {
      throw new Error(`${entry.specifier}: CJS exports ${cjsNames}, ESM exports ${esmNames}`);
    }
    const names = JSON.parse(cjsNames);
    writeFileSync(
      join(dir, 'entry.mts'),
      `import * as m from '${entry.specifier}';\nconst used: unknown[] = [${names.map((n) => `m.${n}`).join(', ')}];\nvoid used;\n`,
    );
    writeFileSync(
      join(dir, 'entry.cts'),
      `import m = require('${entry.specifier}');\nconst used: unknown[] = [${names.map((n) => `m.${n}`).join(', ')}];\nvoid used;\n`,
    );
    run(process.execPath, [
      tsc,
      '--noEmit',
      '--strict',
      '--module',
      'node16',
      '--moduleResolution',
      'node16',
      '--types',
      'node',
      '--typeRoots',
      join(root, 'node_modules', '@types'),
      'entry.mts',
      'entry.cts',
    ]);
    console.log(
      `pack check: ${entry.specifier} loads from CJS and ESM (${names.length} exports), types resolve`,
    );
  }
  // The smallest consumer setup the README promises: `tsc --strict --target es2022 --module
  // nodenext job.ts`, with @types/node installed and otherwise TypeScript's defaults.
  writeFileSync(
    join(dir, 'job.ts'),
    `import { Pipeline, Step } from 'paipa';\nclass Double extends Step<number, number> { process(n: number) { return n * 2; } }\nconst p = new Pipeline([Double, (n: number) => String(n)]);\np.putAll([1, 2]);\nvoid p.run().then((r) => r.count);\n`,
  );
  run(process.execPath, [
    tsc,
    '--noEmit',
    '--strict',
    '--target',
    'es2022',
    '--module',
    'nodenext',
    '--typeRoots',
    join(root, 'node_modules', '@types'),
    '--types',
    'node',
    'job.ts',
  ]);
  console.log('pack check: tsc --strict --target es2022 --module nodenext job.ts compiles');
  const version = pkg.version;
  console.log(
    `pack check: paipa@${version} (${files.length} files) installs and loads from CJS, ESM and TypeScript; a worker step runs`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
