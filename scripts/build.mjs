// Builds dist/: tsc emits the CommonJS build with its .d.ts files, then a thin ES-module
// wrapper re-exports it. One implementation behind both entry points means a `Step` subclass
// made from `import` is the same class the engine checks with `instanceof` (no dual-package
// hazard). The build goes to a fresh folder that replaces dist/ at the end, so a process that
// is loading dist/ meanwhile (a test, an example) never sees it half-written.
import { execFileSync } from 'node:child_process';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const out = `.dist-build-${process.pid}`;
try {
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', out],
    { stdio: 'inherit' },
  );
  const names = Object.keys(require(`../${out}/index.js`)).filter((n) => n !== '__esModule');
  const esm = [
    "import cjs from './index.js';",
    ...names.map((n) => `export const ${n} = cjs.${n};`),
    'export default cjs;',
    '',
  ].join('\n');
  writeFileSync(`${out}/index.mjs`, esm);
  writeFileSync(`${out}/index.d.mts`, "export * from './index.js';\n");
  rmSync('dist', { recursive: true, force: true });
  renameSync(out, 'dist');
  console.log(`built dist/ (${names.length} exports)`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
