import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { Pipeline, Step, workerStep } from '../../src';
import { range, watchdog } from '../support/helpers';
import { trackThreads } from '../support/threads';

const fixture = (name: string) => join(__dirname, 'fixtures', name);
const square = (options = {}) => workerStep<number, number>(fixture('square.mjs'), options);

let tracker: ReturnType<typeof trackThreads>;
let dir: string;
beforeEach(() => {
  tracker = trackThreads();
  dir = mkdtempSync(join(tmpdir(), 'paipa-workers-'));
});
afterEach(() => {
  tracker.stop();
  rmSync(dir, { recursive: true, force: true });
});

const logLines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);

describe('workerStep outputs', () => {
  test('an ordered worker step with several threads emits in input order', async () => {
    const out: number[] = [];
    const p = new Pipeline(
      [
        [workerStep<number, number>(fixture('square.mjs'), { export: 'slowSquare' }), 3],
        (n: number) => void out.push(n),
      ],
      { ordered: true },
    );
    p.putIterable(range(300));
    await watchdog(p.run(), 10_000, 'run');
    expect(out).toEqual(range(300).map((n) => n * n));
  });

  test('an unordered worker step emits every output exactly once', async () => {
    const out: number[] = [];
    const p = new Pipeline([
      [workerStep<number, number>(fixture('square.mjs'), { export: 'slowSquare' }), 2],
      (n: number) => void out.push(n),
    ]);
    p.putIterable(range(300));
    const result = await watchdog(p.run(), 10_000, 'run');
    expect(out.sort((a, b) => a - b)).toEqual(range(300).map((n) => n * n));
    // The sink step returns nothing: as the last step it stores what it gets.
    expect(result.count).toBe(300);
    expect(result.steps[0]).toMatchObject({ in: 300, out: 300, concurrency: 2, restarts: 0 });
  });

  test('the step concurrency is the number of threads, and each runs setup and teardown once', async () => {
    const log = join(dir, 'log');
    const p = new Pipeline([[square({ setupOptions: { log } }), 3]]);
    p.putIterable(range(100));
    await watchdog(p.run(), 10_000, 'run');
    expect(tracker.threads).toHaveLength(3);
    const lines = logLines(log);
    expect(lines.filter((l) => l.startsWith('setup'))).toHaveLength(3);
    expect(lines.filter((l) => l.startsWith('teardown'))).toHaveLength(3);
    const ids = (what: string) =>
      lines
        .filter((l) => l.startsWith(what))
        .map((l) => l.split(' ')[1])
        .sort();
    expect(ids('teardown')).toEqual(ids('setup'));
  });

  test('no thread starts before the run does, and none is left when it settles', async () => {
    const p = new Pipeline([[square(), 2]]);
    p.putAll([1, 2, 3]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(tracker.threads).toHaveLength(0);
    const run = p.run();
    await watchdog(run, 10_000, 'run');
    expect(tracker.threads).toHaveLength(2);
    expect(tracker.running()).toEqual([]);
  });

  test('a CommonJS module with named exports receives its setupOptions', async () => {
    const out: number[] = [];
    const times = workerStep<number, number>(fixture('square.cjs'), {
      export: 'times',
      setupOptions: { factor: 7 },
    });
    const p = new Pipeline([times, (n: number) => void out.push(n)], { ordered: true });
    p.putAll([1, 2, 3]);
    await watchdog(p.run(), 10_000, 'run');
    expect(out).toEqual([7, 14, 21]);
  });

  test('a CommonJS module whose module.exports is the function is the default export', async () => {
    const out: number[] = [];
    const triple = workerStep<number, number>(pathToFileURL(fixture('triple.cjs')));
    const p = new Pipeline([triple, (n: number) => void out.push(n)], { ordered: true });
    p.putAll([1, 2]);
    await watchdog(p.run(), 10_000, 'run');
    expect(out).toEqual([3, 6]);
  });

  test('a TypeScript module runs in the threads with execArgv --import tsx', async () => {
    const shout = workerStep<{ text: string }, string>(fixture('shout.ts'), {
      export: 'shout',
      execArgv: ['--import', 'tsx'],
    });
    const out: string[] = [];
    const p = new Pipeline([shout, (s: string) => void out.push(s)], { ordered: true });
    p.putAll([{ text: 'hi' }, { text: 'there' }]);
    await watchdog(p.run(), 20_000, 'run');
    expect(out).toEqual(['HI!', 'THERE!']);
  }, 30_000);

  test('returning undefined skips the item and counts it as skipped', async () => {
    const out: number[] = [];
    const p = new Pipeline([[square({ export: 'skipOdd' }), 2], (n: number) => void out.push(n)]);
    p.putIterable(range(10));
    const { steps } = await watchdog(p.run(), 10_000, 'run');
    expect(out.sort((a, b) => a - b)).toEqual([0, 2, 4, 6, 8]);
    expect(steps[0]).toMatchObject({ in: 10, out: 5, skipped: 5 });
  });

  test('busyMs counts the time the threads worked', async () => {
    const p = new Pipeline([[square({ export: 'spin' }), 2]]);
    p.putIterable(range(10));
    const { steps } = await watchdog(p.run(), 10_000, 'run');
    // 10 items of 20 ms each, measured in the threads.
    expect(steps[0].busyMs).toBeGreaterThanOrEqual(195);
    expect(steps[0].busyMs).toBeLessThan(2000);
  });

  test('batchSize 1 sends items one by one and still delivers all of them', async () => {
    const out: number[] = [];
    const p = new Pipeline([[square({ batchSize: 1 }), 2], (n: number) => void out.push(n)], {
      ordered: true,
    });
    p.putIterable(range(50));
    await watchdog(p.run(), 10_000, 'run');
    expect(out).toEqual(range(50).map((n) => n * n));
  });
});

describe('workerStep with flow control', () => {
  test('keyBy keeps each key in input order through the threads', async () => {
    const out: number[] = [];
    const p = new Pipeline([
      [square({ export: 'slowSquare' }), 2, { keyBy: (n: number) => n % 3 }],
      (n: number) => void out.push(n),
    ]);
    p.putIterable(range(60));
    await watchdog(p.run(), 10_000, 'run');
    expect(out).toHaveLength(60);
    for (const key of [0, 1, 2]) {
      const ofKey = out.filter((sq) => Math.round(Math.sqrt(sq)) % 3 === key);
      expect(ofKey).toEqual(
        range(60)
          .filter((n) => n % 3 === key)
          .map((n) => n * n),
      );
    }
  });
});

test('timeout fails an item its thread has not answered in time, and ignores the late answer', async () => {
  const letters: [unknown, unknown][] = [];
  const p = new Pipeline([[square({ export: 'spin', batchSize: 1 }), 1, { timeout: 5 }]], {
    onItemError: (err, item) => void letters.push([item, (err as { code?: string }).code]),
  });
  p.putAll([1, 2, 3]);
  const { steps } = await watchdog(p.run(), 10_000, 'run');
  expect(letters).toEqual([
    [1, 'ERR_PAIPA_TIMEOUT'],
    [2, 'ERR_PAIPA_TIMEOUT'],
    [3, 'ERR_PAIPA_TIMEOUT'],
  ]);
  expect(steps[0]).toMatchObject({ in: 3, out: 0, failed: 3 });
});

describe('workerStep meta entries and bounds', () => {
  test('meta entries keep their place around a worker step', async () => {
    const seen: string[] = [];
    class Recorder extends Step<number, number> {
      process(n: number) {
        seen.push(`item ${n}`);
        return n;
      }
      processMeta(meta: unknown) {
        seen.push(`meta ${String(meta)}`);
        return meta;
      }
    }
    const metas: unknown[] = [];
    const p = new Pipeline([[square({ export: 'slowSquare' }), 2], Recorder], {
      ordered: true,
      onMeta: (m) => void metas.push(m),
    });
    p.start();
    p.putAll([1, 2, 3]).putMeta('checkpoint').putAll([4, 5]).putMeta('end');
    await watchdog(p.stop(), 10_000, 'stop');
    expect(seen).toEqual([
      'item 1',
      'item 4',
      'item 9',
      'meta checkpoint',
      'item 16',
      'item 25',
      'meta end',
    ]);
    expect(metas).toEqual(['checkpoint', 'end']);
  });

  test('the items inside a pipeline with a worker step never exceed maxItemsInside', async () => {
    let pulled = 0;
    let consumed = 0;
    let maxInside = 0;
    function* source() {
      for (let i = 0; i < 3000; i++) {
        pulled++;
        maxInside = Math.max(maxInside, pulled - consumed);
        yield i;
      }
    }
    const p = new Pipeline(
      [
        [square({ batchSize: 8 }), 2],
        async (n: number) => {
          await new Promise((resolve) => setImmediate(resolve));
          consumed++;
          return n;
        },
      ],
      { highWaterMark: 4 },
    );
    p.putIterable(source());
    await watchdog(p.run(), 20_000, 'run');
    expect(pulled).toBe(3000);
    // 2 threads × 2 batches × 8 items in flight, plus the buffers.
    expect(p.maxItemsInside).toBeGreaterThanOrEqual(32);
    expect(maxInside).toBeLessThanOrEqual(p.maxItemsInside);
    // The slow step after the workers really did let items pile up against the bound.
    expect(maxInside).toBeGreaterThan(32);
  });
});

describe('workerStep figures', () => {
  test('diagrams draw a worker step with one lane per thread, and progress names it', async () => {
    let drawn = '';
    const progress = new Writable({
      write(chunk, _enc, cb) {
        drawn += String(chunk);
        cb();
      },
    });
    const p = new Pipeline([[square({ name: 'hash' }), 3]], { progress, reportEvery: 10 });
    const mermaid = p.toMermaid();
    expect(mermaid).toMatch(/hash/);
    expect(mermaid).toMatch(/func · ×3/);
    expect(mermaid).toMatch(/s0_2\("#35;2"\)/);
    p.putIterable(range(200));
    await watchdog(p.run(), 10_000, 'run');
    expect(drawn).toMatch(/hash/);
    expect(p.toMermaid({ stats: true })).toMatch(/in 200 · out 200/);
  });

  test('a worker step counts thread restarts in the restarts figure every step has', async () => {
    const p = new Pipeline([(n: number) => n, [square(), 2]]);
    p.putAll([1, 2]);
    const { steps } = await watchdog(p.run(), 10_000, 'run');
    expect(steps.map((s) => s.restarts)).toEqual([0, 0]);
  });
});

describe('workerStep definition', () => {
  test('a relative path is a TypeError naming it', () => {
    expect(() => workerStep('./hash.mjs')).toThrow(
      /`workerStep\(file\)` to be a URL or an absolute path, got "\.\/hash\.mjs"/,
    );
  });

  test('a URL other than file: is refused', () => {
    expect(() => workerStep(new URL('https://example.com/hash.mjs'))).toThrow(/file: URL/);
  });

  test('an unknown option is refused with the list of known ones', () => {
    expect(() => workerStep(fixture('square.mjs'), { threads: 2 } as never)).toThrow(
      /Unknown option `threads` in workerStep\(file, options\)/,
    );
  });

  test('batchSize must be an integer from 1', () => {
    expect(() => workerStep(fixture('square.mjs'), { batchSize: 0 })).toThrow(
      /`workerStep options.batchSize` to be an integer from 1 and up, got 0/,
    );
  });

  test('setupOptions that cannot be cloned are refused up front', () => {
    expect(() => workerStep(fixture('square.mjs'), { setupOptions: { f: () => 1 } })).toThrow(
      /setupOptions` to be structured-cloneable/,
    );
  });

  test('the step is named after its export, or else its file', () => {
    expect(workerStep(fixture('square.mjs'), { export: 'spin' }).name).toBe('spin');
    expect(workerStep(fixture('square.mjs')).name).toBe('square');
    expect(workerStep(fixture('square.mjs'), { name: 'hash' }).name).toBe('hash');
  });
});
