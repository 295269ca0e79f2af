import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The built package, loaded the way users load it: by name, through package.json "exports",
 * from CommonJS and from an ES module. `npm test` builds dist/ before jest runs.
 */
const root = join(__dirname, '..', '..');

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 20_000 });
}

const script = (importLine: string) => `${importLine}
class Double extends Step { process(n) { return n * 2; } }
const p = new Pipeline([[Double, 2], (n) => n + 1], { ordered: true });
p.putAll([1, 2, 3]);
const out = [];
for await (const x of p) out.push(x);
console.log(JSON.stringify(out));`;

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'index.js')) || !existsSync(join(root, 'dist', 'index.mjs'))) {
    execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore', timeout: 120_000 });
  }
}, 130_000);

test("require('paipa') loads the CommonJS build and runs a pipeline", () => {
  const code = `(async () => { ${script("const { Pipeline, Step } = require('paipa');")} })();`;
  expect(node(['-e', code]).trim()).toBe('[3,5,7]');
});

test("import { Pipeline } from 'paipa' loads the ES module build and runs a pipeline", () => {
  const code = script("import { Pipeline, Step } from 'paipa';");
  expect(node(['--input-type=module', '-e', code]).trim()).toBe('[3,5,7]');
});

test('the core loads none of the optional peer dependencies (redis, @opentelemetry/api)', () => {
  const code = `require('paipa');
const loaded = Object.keys(require.cache).filter((f) => /node_modules[\\\\/](redis|@redis|@opentelemetry)[\\\\/]/.test(f));
console.log(JSON.stringify(loaded));`;
  expect(JSON.parse(node(['-e', code]).trim())).toEqual([]);
});

test("require('paipa/redis') loads node-redis, which the core never does", () => {
  const code = `const redis = require('paipa/redis');
const loaded = Object.keys(require.cache).some((f) => /node_modules[\\\\/]@redis[\\\\/]client[\\\\/]/.test(f));
console.log(typeof redis.redisStreamSource, typeof redis.redisStreamSink, loaded);`;
  expect(node(['-e', code]).trim()).toBe('function function true');
});

test('the ES module and CommonJS entry points share one implementation (one Step class)', () => {
  const code = `import { Step } from 'paipa';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
console.log(Step === require('paipa').Step);`;
  expect(node(['--input-type=module', '-e', code]).trim()).toBe('true');
});

test('the ES module build exports the same names as the CommonJS build', () => {
  const code = `import * as esm from 'paipa';
import { createRequire } from 'node:module';
const cjs = createRequire(import.meta.url)('paipa');
const names = (o) => Object.keys(o).filter((k) => k !== 'default' && k !== '__esModule').sort();
console.log(JSON.stringify(names(esm)) === JSON.stringify(names(cjs)) && names(esm).length > 5);`;
  expect(node(['--input-type=module', '-e', code]).trim()).toBe('true');
});

test('piscina is loaded by the first worker step, not by loading paipa or running other steps', () => {
  const code = `(async () => {
const { Pipeline } = require('paipa');
const loaded = () => Object.keys(require.cache).some((f) => f.includes('/node_modules/piscina/'));
const p = new Pipeline([(n) => n + 1]);
p.putAll([1, 2]);
await p.run();
console.log(JSON.stringify([loaded()]));
})();`;
  expect(JSON.parse(node(['-e', code]).trim())).toEqual([false]);
});

test('a worker step runs through the built package, and the process exits by itself', () => {
  const dir = mkdtempSync(join(tmpdir(), 'paipa-e2e-'));
  try {
    writeFileSync(
      join(dir, 'digest.mjs'),
      `import { createHash } from 'node:crypto';
let salt = '';
export function setup(options) { salt = options.salt; }
export function digest(line) { return createHash('sha256').update(salt + line).digest('hex').slice(0, 8); }
`,
    );
    const code = `import { Pipeline, workerStep } from 'paipa';
const digest = workerStep(new URL('file://${dir}/digest.mjs'), { export: 'digest', setupOptions: { salt: 's' } });
const out = [];
const p = new Pipeline([(s) => s.trim(), [digest, 2], (h) => void out.push(h)], { ordered: true });
p.putAll(['a ', ' b', 'c']);
const result = await p.run();
console.log(JSON.stringify({ out, stats: result.steps[1] }));`;
    const started = Date.now();
    const printed = JSON.parse(node(['--input-type=module', '-e', code]).trim());
    const sha = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);
    expect(printed.out).toEqual([sha('sa'), sha('sb'), sha('sc')]);
    expect(printed.stats).toMatchObject({
      name: 'digest',
      concurrency: 2,
      in: 3,
      out: 3,
      restarts: 0,
    });
    // Nothing kept the process alive after the run (the 20 s timeout of node() would fail).
    expect(Date.now() - started).toBeLessThan(15_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
