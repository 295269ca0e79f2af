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

/** POSTs one event; resolves with the status code. */
function postEvent(port: number, event: unknown): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const req = request(
      { port, host: '127.0.0.1', method: 'POST', path: '/events', agent: false },
      (res) => {
        res.resume();
        res.on('end', () => resolvePromise(res.statusCode!));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(event));
  });
}

const figureOf = (stdout: string, label: string) =>
  Number(new RegExp(`${label}:\\s*(\\d+)`).exec(stdout)?.[1]);

describe('example: HTTP ingestion with send() and ready()', () => {
  test('the demo stores every accepted event exactly once and exits 0 on its SIGTERM', async () => {
    const { code, stdout } = await start('http-ingest.mjs', []).done;
    expect(code).toBe(0);
    expect(figureOf(stdout, 'accepted')).toBe(2000);
    expect(figureOf(stdout, 'stored')).toBe(2000);
    expect(figureOf(stdout, 'twice')).toBe(0);
    // Every 503 was retried by the client and counted once by the server.
    expect(figureOf(stdout, 'refused')).toBe(figureOf(stdout, 'retried'));
  }, 90_000);

  test('SIGTERM from outside: answered events are all stored, then stop() and exit 0', async () => {
    let listening!: (port: number) => void;
    const port = new Promise<number>((r) => (listening = r));
    const server = start('http-ingest.mjs', ['--serve'], (line) => {
      const m = /^listening on (\d+)$/.exec(line);
      if (m) listening(Number(m[1]));
    });
    const statuses = await Promise.all(
      Array.from({ length: 40 }, async (_, id) => postEvent(await port, { id, type: 'view' })),
    );
    expect(statuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
    const invalid = await postEvent(await port, { id: 'x' });
    expect(invalid).toBe(200);
    server.child.kill('SIGTERM');
    const { code, stdout } = await server.done;
    expect(code).toBe(0);
    const ok = statuses.filter((s) => s === 200).length;
    expect(figureOf(stdout, 'accepted')).toBe(ok + 1);
    expect(figureOf(stdout, 'stored')).toBe(ok);
    expect(figureOf(stdout, 'twice')).toBe(0);
  }, 90_000);
});
