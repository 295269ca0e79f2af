// Keeps ARCHITECTURE.md true to src/: every file of src/ has its line in the source tree
// drawn there (under its folder), every file drawn there exists, and every `folder/file.ts`
// path the text names exists. Exits 1 with the list of what is off.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';

const doc = readFileSync('ARCHITECTURE.md', 'utf8');
const block = doc.match(/## The source tree[\s\S]*?```\n([\s\S]*?)```/);
if (!block) {
  console.error('ARCHITECTURE.md: no "## The source tree" section with a ``` block');
  process.exit(1);
}

// The tree: "src/" at the top, "  folder/" lines, "    file.ts  what it does" lines.
const drawn = new Set();
let folder = null;
for (const line of block[1].split('\n')) {
  const m = line.match(/^( *)([\w.-]+\/?)(\s|$)/);
  if (!m) continue;
  const [, indent, name] = m;
  if (name === 'src/') continue;
  if (name.endsWith('/')) folder = name;
  else if (indent.length <= 2) drawn.add(name);
  else drawn.add(`${folder ?? ''}${name}`);
}

const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [relative('src', join(dir, e.name))],
  );
const files = walk('src').filter((f) => f.endsWith('.ts'));

const problems = [
  ...files.filter((f) => !drawn.has(f)).map((f) => `src/${f} is not in the source tree`),
  ...[...drawn]
    .filter((f) => !files.includes(f))
    .map((f) => `src/${f} is drawn but does not exist`),
];
// Paths named in the prose and the item's path (`stages/runner-stage.ts`, `__tests__/...`).
for (const [, path] of doc.matchAll(
  /[`(]((?:__tests__\/)?[\w-]+(?:\/[\w.-]+)*\/[\w.-]+\.ts)[`)]/g,
)) {
  const onDisk = path.startsWith('__tests__/') ? path : join('src', path);
  if (!existsSync(onDisk)) problems.push(`ARCHITECTURE.md names ${path}, which does not exist`);
}
if (problems.length > 0) {
  console.error(`ARCHITECTURE.md is out of date:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`ARCHITECTURE.md: all ${files.length} files of src/ in the source tree`);
