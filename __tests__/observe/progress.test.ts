import { EventEmitter } from 'node:events';
import { Pipeline } from '../../src/chain/typed-pipeline';
import { ProgressDisplay, type ProgressOptions } from '../../src/observe/progress';
import {
  formatDuration,
  formatHeadline,
  formatStep,
  formatSummary,
  itemsDone,
  rate,
} from '../../src/observe/progress-format';
import { delay, range, statsRow } from '../support/helpers';

/** A writable that records what is written; `isTTY` decides which display mode is used. */
class FakeStream extends EventEmitter {
  readonly writes: string[] = [];
  readonly columns = 160;
  constructor(readonly isTTY: boolean) {
    super();
  }
  write(chunk: string | Uint8Array): boolean {
    this.writes.push(String(chunk));
    return true;
  }
  get text(): string {
    return this.writes.join('');
  }
  get lines(): string[] {
    return this.text.split('\n').filter((line) => line !== '');
  }
}

const stats = statsRow;

function display(stream: FakeStream, options: Partial<ProgressOptions> = {}): ProgressDisplay {
  return new ProgressDisplay({
    stream: stream as unknown as NodeJS.WritableStream,
    intervalMs: 100,
    ...options,
  });
}

const refTimers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
const ok = { ok: true, count: 50_000, durationMs: 12_600 };

describe('ProgressDisplay on a log (not a TTY)', () => {
  afterEach(() => jest.useRealTimers());

  test('writes one plain line per interval, then the summary line', () => {
    jest.useFakeTimers();
    const stream = new FakeStream(false);
    const d = display(stream, { total: 50_000 });
    let done = 0;
    d.start(() => {
      done += 12_000;
      return [
        stats('parse', { in: done + 10, out: done, busy: 10 }),
        stats('store', { in: done - 20, out: done - 100 }),
      ];
    });
    expect(stream.writes).toEqual([]);
    jest.advanceTimersByTime(250);
    expect(stream.lines).toHaveLength(2);
    expect(stream.lines[0]).toMatch(
      /^\[paipa\] 12,000\/50,000 \(24%\) [\d,]+ items\/s \| parse 12,010 in, 12,000 out \| store 11,980 in, 11,900 out$/,
    );
    expect(stream.lines[1]).toMatch(/^\[paipa\] 24,000\/50,000 \(48%\) /);
    d.stop([stats('parse', { in: 50_000, out: 50_000 })], ok);
    expect(jest.getTimerCount()).toBe(0);
    expect(stream.lines).toHaveLength(3);
    expect(stream.lines[2]).toBe(
      '[paipa] done: 50,000 items in 12.6 s (3,968 items/s) | parse 50,000→50,000',
    );
    expect(stream.text).not.toContain('\x1b');
  });

  test('without a total the headline is a counter', () => {
    jest.useFakeTimers();
    const stream = new FakeStream(false);
    const d = display(stream, { title: 'etl' });
    d.start(() => [stats('parse', { in: 1_234, out: 1_200, failed: 3, retried: 7 })]);
    jest.advanceTimersByTime(100);
    expect(stream.lines[0]).toMatch(
      /^\[etl\] 1,234 items [\d,]+ items\/s \| parse 1,234 in, 1,200 out, 3 failed, 7 retried$/,
    );
    d.stop([], { ok: true, count: 1_200, durationMs: 400 });
    expect(stream.lines[1]).toBe('[etl] done: 1,200 items in 400 ms (3,000 items/s)');
  });

  test('a failure ends with the count and the first line of the message', () => {
    const stream = new FakeStream(false);
    const d = display(stream);
    d.start(() => []);
    const error = new Error('store failed\n    at somewhere');
    d.stop([], { ok: false, count: 4_100, durationMs: 900, error });
    expect(stream.lines).toEqual(['[paipa] failed after 4,100 items: store failed']);
  });

  test('real timers: lines keep coming until stop(), and none after', async () => {
    const stream = new FakeStream(false);
    const d = display(stream, { intervalMs: 10 });
    d.start(() => [stats('a', { in: 1, out: 1 })]);
    await delay(60);
    d.stop([], ok);
    const written = stream.writes.length;
    expect(written).toBeGreaterThanOrEqual(3);
    await delay(30);
    expect(stream.writes.length).toBe(written);
  });

  test('the redraw timer does not keep the process alive', () => {
    const before = refTimers();
    const d = display(new FakeStream(false), { intervalMs: 10 });
    d.start(() => []);
    expect(refTimers()).toBe(before);
    d.stop([], ok);
  });

  test('a read() that throws skips the figures, never the run', () => {
    jest.useFakeTimers();
    const stream = new FakeStream(false);
    const d = display(stream);
    d.start(() => {
      throw new Error('stats unavailable');
    });
    expect(() => jest.advanceTimersByTime(100)).not.toThrow();
    expect(stream.lines).toEqual([expect.stringMatching(/^\[paipa\] 0 items 0 items\/s$/)]);
    d.stop([], ok);
  });

  test('stop() is idempotent, and without start() writes only the summary', () => {
    const stream = new FakeStream(false);
    const d = display(stream);
    d.stop([], ok);
    d.stop([], ok);
    expect(stream.lines).toEqual(['[paipa] done: 50,000 items in 12.6 s (3,968 items/s)']);
    expect(() => d.start(() => [])).toThrow(/start\(\) can only be called once/);
  });

  test('follows a real pipeline from start to summary', async () => {
    const stream = new FakeStream(false);
    const p = new Pipeline([[async (n: number) => (await delay(1), n), 4], (n: number) => n]);
    const d = display(stream, { total: 200, intervalMs: 10 });
    p.putAll(range(200));
    d.start(() => p.stats());
    const result = await p.run();
    d.stop(p.stats(), { ok: true, count: result.count, durationMs: result.durationMs });
    const last = stream.lines[stream.lines.length - 1];
    expect(last).toMatch(/^\[paipa\] done: 200 items in /);
    for (const line of stream.lines.slice(0, -1)) expect(line).toMatch(/^\[paipa\] \d+\/200 /);
  });
});

describe('ProgressDisplay on a terminal', () => {
  const threeSteps = () => [
    stats('parse', { in: 30, out: 29, busy: 1, concurrency: 4 }),
    stats('enrich', { in: 29, out: 28, queued: 2 }),
    stats('store', { in: 28, out: 28, throughput: 140 }),
  ];

  test('draws bars with cli-progress, redraws in place and stops cleanly', async () => {
    const stream = new FakeStream(true);
    const before = refTimers();
    const d = display(stream, { total: 100, intervalMs: 20 });
    d.start(threeSteps);
    expect(refTimers()).toBe(before); // cli-progress's own timer is unref'd
    await delay(90);
    expect(stream.text).toContain('\x1b'); // cursor movement: drawn in place
    expect(stream.text).toMatch(/paipa \[[^\]]+\] 29\/100 \(29%\)/);
    expect(stream.text).toContain('parse ×4 | 30 in, 29 out | 1 busy, 0 queued | 0/s');
    expect(stream.text).toContain('enrich | 29 in, 28 out | 0 busy, 2 queued');
    d.stop(threeSteps(), { ok: true, count: 28, durationMs: 90 });
    const written = stream.writes.length;
    expect(stream.writes[written - 1]).toBe(
      '[paipa] done: 28 items in 90 ms (311 items/s) | parse 30→29 › enrich 29→28 › store 28→28\n',
    );
    await delay(60);
    expect(stream.writes.length).toBe(written); // no redraw after stop()
  });

  test('without a total the headline is a counter with throughput', () => {
    const stream = new FakeStream(true);
    const d = display(stream, { intervalMs: 20 });
    d.start(threeSteps);
    d.stop(threeSteps(), { ok: true, count: 28, durationMs: 90 });
    expect(stream.text).toMatch(/paipa 29 items \| [\d,]+ items\/s/);
  });

  test('more than six steps share one compact line', () => {
    const stream = new FakeStream(true);
    const d = display(stream, { intervalMs: 20 });
    const many = () => range(8).map((i) => stats(`s${i}`, { in: 10 - i, out: 9 - i }));
    d.start(many);
    d.stop(many(), { ok: true, count: 2, durationMs: 10 });
    expect(stream.text).toContain('s0 10→9 › s1 9→8 › s2 8→7');
    expect(stream.text).not.toContain('s0 10 in');
  });
});

describe('ProgressDisplay options are checked eagerly', () => {
  const stream = new FakeStream(false) as unknown as NodeJS.WritableStream;
  test.each([
    [{ intervalMs: 100 }, TypeError, /`ProgressDisplay options.stream`.*got undefined/],
    [{ stream: {}, intervalMs: 100 }, TypeError, /writable stream, got \{\} \(object\)/],
    [{ stream }, TypeError, /`ProgressDisplay options.intervalMs`.*got undefined/],
    [{ stream, intervalMs: 0 }, RangeError, /`ProgressDisplay options.intervalMs`.*got 0/],
    [{ stream, intervalMs: 2 ** 31 }, RangeError, /intervalMs` to be at most/],
    [{ stream, intervalMs: 1, total: -1 }, RangeError, /`ProgressDisplay options.total`/],
    [{ stream, intervalMs: 1, title: '' }, TypeError, /`ProgressDisplay options.title`/],
    [{ stream, intervalMs: 1, every: 1 }, TypeError, /Unknown option `every`/],
    [null, TypeError, /`ProgressDisplay options`.*got null/],
  ])('%#: %p is rejected', (options, type, message) => {
    const make = () => new ProgressDisplay(options as never);
    expect(make).toThrow(type);
    expect(make).toThrow(message);
  });

  test('start() needs a function', () => {
    expect(() => display(new FakeStream(false)).start(42 as never)).toThrow(TypeError);
  });
});

describe('progress text', () => {
  test('durations read as ms, seconds, then minutes', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12_600)).toBe('12.6 s');
    expect(formatDuration(185_000)).toBe('3 min 05 s');
  });

  test('headline, rate and the first-step count handle the edges', () => {
    expect(formatHeadline(0, 0)).toBe('0/0 (100%)');
    expect(formatHeadline(120, 100)).toBe('120/100 (100%)');
    expect(rate(10, 0)).toBe(0);
    expect(itemsDone([])).toBe(0);
    expect(itemsDone([stats('a', { in: 5, busy: 2 })])).toBe(3);
    expect(formatStep(stats('a'))).toBe('a 0 in, 0 out');
    expect(formatSummary('p', { ok: false, count: 1, durationMs: 1 })).toBe(
      '[p] failed after 1 items: unknown error',
    );
    expect(formatSummary('p', { ok: false, count: 1, durationMs: 1, error: 'nope' })).toBe(
      '[p] failed after 1 items: nope',
    );
  });
});

/**
 * A terminal screen: interprets what is written to it (text, newlines and the cursor and erase
 * sequences readline and cli-progress use), so a test can read what the user would see.
 */
class Screen {
  readonly rows: string[] = [''];
  row = 0;
  col = 0;

  write(text: string): void {
    // eslint-disable-next-line no-control-regex -- escape sequences are what this parses
    const parts = text.split(/(\x1b\[[?\d;]*[A-Za-z]|\n|\r)/);
    for (const part of parts) {
      if (part === '') continue;
      if (part === '\n') {
        this.row++;
        this.col = 0;
        while (this.rows.length <= this.row) this.rows.push('');
      } else if (part === '\r') {
        this.col = 0;
      } else if (part.startsWith('\x1b[')) {
        const arg = part.slice(2, -1);
        const n = arg === '' || arg.startsWith('?') ? 1 : Number(arg);
        switch (part.at(-1)) {
          case 'A':
            this.row = Math.max(0, this.row - n);
            break;
          case 'G':
            this.col = n - 1;
            break;
          case 'J':
            this.rows.length = this.row + 1;
            this.rows[this.row] = this.rows[this.row].slice(0, this.col);
            break;
          case 'K':
            this.rows[this.row] = arg === '2' ? '' : this.rows[this.row].slice(0, this.col);
            break;
          default: // cursor visibility, line wrapping: nothing to draw
        }
      } else {
        const line = this.rows[this.row].padEnd(this.col);
        this.rows[this.row] = line.slice(0, this.col) + part + line.slice(this.col + part.length);
        this.col += part.length;
      }
    }
  }
}

/** A terminal stream writing to a shared screen, as stdout and stderr share one terminal. */
class ScreenStream extends FakeStream {
  constructor(readonly screen: Screen) {
    super(true);
  }
  override write(chunk: string | Uint8Array, ...rest: unknown[]): boolean {
    this.screen.write(String(chunk));
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    callback?.();
    return super.write(chunk);
  }
}

describe('ProgressDisplay with the program writing to stdout', () => {
  const steps = () => [stats('parse', { in: 30, out: 29 }), stats('store', { in: 29, out: 29 })];

  test("the program's lines land above the frame, whole, and the frame is drawn once below", async () => {
    const screen = new Screen();
    const stderr = new ScreenStream(screen);
    const stdout = new ScreenStream(screen);
    const d = display(stderr, {
      intervalMs: 20,
      programOutput: stdout as unknown as NodeJS.WritableStream,
    });
    d.start(steps);
    await delay(30);
    stdout.write('log line one\n');
    stdout.write('log line ');
    stdout.write('two\nand three\n');
    await delay(30);
    d.stop(steps(), { ok: true, count: 29, durationMs: 60 });
    const text = screen.rows.filter((r) => r !== '');
    expect(text.slice(0, 3)).toEqual(['log line one', 'log line two', 'and three']);
    expect(text.filter((r) => r.startsWith('paipa '))).toHaveLength(1);
    expect(text.filter((r) => r.includes('parse | 30 in'))).toHaveLength(1);
    expect(text.at(-1)).toMatch(/^\[paipa\] done: 29 items/);
  });

  test('stop() puts back the write method and passes on an unfinished line', () => {
    const screen = new Screen();
    const stderr = new ScreenStream(screen);
    const stdout = new ScreenStream(screen);
    const own = stdout.write;
    const d = display(stderr, {
      intervalMs: 20,
      programOutput: stdout as unknown as NodeJS.WritableStream,
    });
    d.start(steps);
    expect(stdout.write).not.toBe(own);
    stdout.write('no newline yet');
    expect(screen.rows.join('\n')).not.toContain('no newline yet');
    d.stop(steps(), { ok: true, count: 29, durationMs: 10 });
    expect(stdout.write).toBe(own);
    expect(screen.rows.join('\n')).toContain('no newline yet');
  });

  test('program output that is not a terminal is left alone', () => {
    const stderr = new FakeStream(true);
    const stdout = new FakeStream(false);
    const own = stdout.write;
    const d = display(stderr, {
      intervalMs: 20,
      programOutput: stdout as unknown as NodeJS.WritableStream,
    });
    d.start(steps);
    expect(stdout.write).toBe(own);
    d.stop(steps(), { ok: true, count: 29, durationMs: 10 });
  });
});

describe('progress of a pipeline in continuous mode', () => {
  test('has no total: a counter, never n/0', async () => {
    const stream = new FakeStream(false);
    const p = new Pipeline([async (n: number) => (await delay(1), n)], {
      progress: stream as unknown as NodeJS.WritableStream,
      reportEvery: 5,
    });
    p.start();
    for (const n of range(30)) {
      p.put(n);
      if (n % 10 === 9) await delay(10);
    }
    await p.stop();
    const periodic = stream.lines.slice(0, -1);
    expect(periodic.length).toBeGreaterThan(0);
    for (const line of periodic) {
      expect(line).toMatch(/^\[paipa\] [\d,]+ items/);
      expect(line).not.toMatch(/\/0 /);
    }
    expect(stream.lines.at(-1)).toMatch(/^\[paipa\] done: 30 items/);
  });

  test('takes the total from the total option', async () => {
    const stream = new FakeStream(false);
    const p = new Pipeline([async (n: number) => (await delay(1), n)], {
      progress: stream as unknown as NodeJS.WritableStream,
      reportEvery: 5,
      total: 30,
    });
    p.start();
    for (const n of range(30)) p.put(n);
    await delay(20);
    await p.stop();
    expect(stream.lines[0]).toMatch(/^\[paipa\] [\d,]+\/30 /);
  });

  test('in batch mode the items given before run() are the total', async () => {
    const stream = new FakeStream(false);
    const p = new Pipeline([async (n: number) => (await delay(1), n)], {
      progress: stream as unknown as NodeJS.WritableStream,
      reportEvery: 5,
    });
    p.putAll(range(40));
    await p.run();
    expect(stream.lines[0]).toMatch(/^\[paipa\] [\d,]+\/40 /);
  });
});
