// Builds dist/: tsc emits the CommonJS build with its .d.ts files, then a thin ES-module
// wrapper re-exports each entry point. One implementation behind both forms means a `Step`
// subclass made from `import` is the same class the engine checks with `instanceof` (no
// dual-package hazard). The entry points are read from package.json "exports" (".",
// "./otel", ...), so a new subpath needs only its source folder and its "exports" entry.
// The build goes to a fresh folder that replaces dist/ at the end, so a process that is
// loading dist/ meanwhile (a test, an example) never sees it half-written.
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename } from 'node:path';
import { entryPoints } from './entry-points.mjs';

const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const out = `.dist-build-${process.pid}`;
try {
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', out],
    { stdio: 'inherit' },
  );
  const built = [];
  for (const entry of entryPoints(pkg)) {
    const stem = entry.cjs.replace(/^\.\/dist\//, '').replace(/\.js$/, '');
    const names = Object.keys(require(`../${out}/${stem}.js`)).filter((n) => n !== '__esModule');
    const file = `./${basename(stem)}.js`;
    const esm = [
      `import cjs from '${file}';`,
      ...names.map((n) => `export const ${n} = cjs.${n};`),
      'export default cjs;',
      '',
    ].join('\n');
    writeFileSync(`${out}/${stem}.mjs`, esm);
    writeFileSync(`${out}/${stem}.d.mts`, `export * from '${file}';\n`);
    built.push(`${entry.subpath} (${names.length} exports)`);
  }
  // The thread side of worker steps is plain JavaScript that threads load as it is.
  copyFileSync('src/workers/thread-entry.cjs', `${out}/workers/thread-entry.cjs`);
  rmSync('dist', { recursive: true, force: true });
  renameSync(out, 'dist');
  console.log(`built dist/: ${built.join(', ')}`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
