// Builds dist/: tsc emits the CommonJS build with its .d.ts files, then a thin ES-module
// wrapper re-exports it. One implementation behind both entry points means a `Step` subclass
// made from `import` is the same class the engine checks with `instanceof` (no dual-package
// hazard).
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
rmSync('dist', { recursive: true, force: true });
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
  stdio: 'inherit',
});

const names = Object.keys(require('../dist/index.js')).filter((n) => n !== '__esModule');
const esm = [
  "import cjs from './index.js';",
  ...names.map((n) => `export const ${n} = cjs.${n};`),
  'export default cjs;',
  '',
].join('\n');
writeFileSync('dist/index.mjs', esm);
writeFileSync('dist/index.d.mts', "export * from './index.js';\n");
console.log(`built dist/ (${names.length} exports)`);
