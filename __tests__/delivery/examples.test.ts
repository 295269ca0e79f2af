// The two examples of issue 11, each run as its own process the way a reader runs it
// (`npm run example:resumable-etl`, `npm run example:ingest`); both need the built dist/.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';

const root = resolve(__dirname, '..', '..');
const WATCHDOG_MS = 60_000;

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
}

/** Starts `node examples/<file> ...args`; `onLine` sees each stdout line as it comes. */
function start(
  file: string,
  args: string[],
  onLine: (line: string, child: ChildProcess) => void = () => {},
): { child: ChildProcess; done: Promise<Outcome> } {
  const child = spawn(process.execPath, [join('examples', file), ...args], { cwd: root });
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
    const lines = (partial + s).split('\n');
    partial = lines.pop()!;
    for (const line of lines) onLine(line, child);
  });
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const done = new Promise<Outcome>((resolvePromise, reject) => {
    const watchdog = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} did not exit within ${WATCHDOG_MS} ms\n${stdout}\n${stderr}`));
    }, WATCHDOG_MS);
    child.on('error', (err) => {
      clearTimeout(watchdog);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(watchdog);
      if (code !== 0 && signal === null) {
        reject(new Error(`${file} exited with ${code}\n${stdout}\n${stderr}`));
        return;
      }
      setTimeout(() => resolvePromise({ code, signal, stdout }), 0);
    });
  });
  return { child, done };
}

/** The ids of the valid rows of an NDJSON file, judged here, independently of the example. */
function validIds(path: string): number[] {
  const ids: number[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let row: { id?: unknown; user?: unknown; amount?: unknown };
    try {
      row = JSON.parse(line);
    } catch {
      continue;
    }
    if (Number.isInteger(row.id) && typeof row.user === 'string' && (row.amount as number) >= 0) {
      ids.push(row.id as number);
    }
  }
  return ids;
}

describe('example: resumable ETL into SQLite', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'paipa-etl-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('killed with SIGKILL mid-run and started again, the table has every valid row exactly once', async () => {
    const db = join(dir, 'etl.sqlite');
    let killedAt = -1;
    const first = start('resumable-etl.mjs', ['--db', db, '--rows', '200000'], (line, child) => {
      const m = /^checkpoint (\d+)$/.exec(line);
      if (m && killedAt < 0 && Number(m[1]) >= 20_000) {
        killedAt = Number(m[1]);
        child.kill('SIGKILL');
      }
    });
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stdout).not.toMatch(/stored:/);
    expect(killedAt).toBeGreaterThanOrEqual(20_000);

    const second = await start('resumable-etl.mjs', ['--db', db]).done;
    expect(second.code).toBe(0);
    const resumed = Number(/resuming after line (\d+)/.exec(second.stdout)?.[1]);
    expect(resumed).toBeGreaterThanOrEqual(killedAt);
    expect(resumed).toBeLessThan(199_999);
    expect(second.stdout).toMatch(/checkpoint 199999\n/);

    const expected = validIds(join(dir, 'events.ndjson'));
    expect(expected.length).toBe(189_730);
    const conn = new Database(db, { readonly: true });
    try {
      const ids = conn
        .prepare('SELECT id FROM events ORDER BY id')
        .all()
        .map((r) => (r as { id: number }).id);
      expect(ids).toEqual(expected);
      const { line } = conn.prepare(`SELECT line FROM checkpoint WHERE job = 'events'`).get() as {
        line: number;
      };
      expect(line).toBe(199_999);
    } finally {
      conn.close();
    }
  }, 120_000);
});
