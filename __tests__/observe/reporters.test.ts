import { PassThrough } from 'node:stream';
import { LoggingReporter, MemoryReporter, type Report, type Reporter } from '../../src';
import { formatCell, formatReport, publishReport } from '../../src/observe/reporters';

function report(overrides: Partial<Report> = {}): Report {
  return { kind: 'generator', final: true, elapsedMs: 1500, steps: [], ...overrides };
}

/** A stream that keeps what is written to it. */
function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

const pipelineRow = {
  name: 'download',
  concurrency: 4,
  in: 12345,
  out: 12000,
  skipped: 345,
  retried: 2,
  failed: 0,
  busy: 3,
  queued: 16,
  busyMs: 1234.5,
  throughput: 98.25,
  meta: 1,
};

describe('MemoryReporter', () => {
  test('keeps every report it is shown, in order, as the same objects', () => {
    const memory = new MemoryReporter();
    const first = report({ final: false });
    const second = report();
    memory.show(first);
    memory.show(second);
    expect(memory.reports).toHaveLength(2);
    expect(memory.reports[0]).toBe(first);
    expect(memory.reports[1]).toBe(second);
  });
});

describe('LoggingReporter', () => {
  test('writes one table per report to the given stream', async () => {
    const { stream, text } = sink();
    new LoggingReporter({ stream }).show(report({ steps: [{ name: 'a', count: 1 }] }));
    await new Promise((resolve) => setImmediate(resolve));
    expect(text()).toBe(
      'paipa generator pipeline: final report after 1.5 s\nname  count\na         1\n',
    );
  });

  test('writes to process.stderr by default', () => {
    const write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      new LoggingReporter().show(report({ final: false, elapsedMs: 250 }));
      expect(write).toHaveBeenCalledTimes(1);
      expect(write.mock.calls[0][0]).toBe(
        'paipa generator pipeline: periodic report after 250 ms\n(no steps)\n',
      );
    } finally {
      write.mockRestore();
    }
  });

  test('a stream without write() or an unknown option is a TypeError', () => {
    expect(() => new LoggingReporter({ stream: {} as NodeJS.WritableStream })).toThrow(
      'Expected `stream` to be a writable stream, got {} (object)',
    );
    expect(() => new LoggingReporter({ steam: process.stdout } as object)).toThrow(
      'Unknown option `steam` in LoggingReporter options; expected one of: `stream`',
    );
  });
});

describe('formatReport', () => {
  test('renders a stream pipeline row: fields as columns, in order, with units', () => {
    const lines = formatReport(report({ kind: 'pipeline', steps: [pipelineRow] })).split('\n');
    expect(lines[0]).toBe('paipa pipeline: final report after 1.5 s');
    expect(lines[1].split(/\s+/)).toEqual(Object.keys(pipelineRow));
    expect(lines[2].split(/\s{2,}/)).toEqual([
      'download',
      '4',
      '12,345',
      '12,000',
      '345',
      '2',
      '0',
      '3',
      '16',
      '1,235 ms',
      '98.25/s',
      '1',
    ]);
  });

  test('right-aligns numeric columns and left-aligns text', () => {
    const text = formatReport(
      report({
        steps: [
          { name: 'a', count: 5, note: 'x' },
          { name: 'longer', count: 12345, note: 'yz' },
        ],
      }),
    );
    expect(text.split('\n').slice(1, 4)).toEqual([
      'name     count  note',
      'a            5  x',
      'longer  12,345  yz',
    ]);
  });

  test('rows of different shapes share the union of their columns, blanks where missing', () => {
    const lines = formatReport(
      report({
        steps: [
          { name: 'a', x: 1 },
          { name: 'b', y: 2 },
        ],
      }),
    ).split('\n');
    expect(lines.slice(1, 4)).toEqual(['name  x  y', 'a     1', 'b        2']);
  });

  test('a report without steps says so', () => {
    expect(formatReport(report({ elapsedMs: 0 }))).toBe(
      'paipa generator pipeline: final report after 0 ms\n(no steps)\n',
    );
  });
});

describe('formatCell', () => {
  test('formats milliseconds, rates and plain numbers', () => {
    expect(formatCell('runtimeMs', 1.23456)).toBe('1.23 ms');
    expect(formatCell('runtimeMs', 12345.6)).toBe('12,346 ms');
    expect(formatCell('throughput', 1500000)).toBe('1,500,000/s');
    expect(formatCell('itemsPerSec', 2.5)).toBe('2.5/s');
    expect(formatCell('count', 1234567)).toBe('1,234,567');
    expect(formatCell('ratio', 0.125)).toBe('0.13');
  });

  test('formats bytes in binary units, signed for delta fields', () => {
    expect(formatCell('heapDeltaBytes', 1536)).toBe('+1.5 KiB');
    expect(formatCell('heapDeltaBytes', -2 * 1024 * 1024)).toBe('-2.0 MiB');
    expect(formatCell('heapDeltaBytes', 0)).toBe('0 B');
    expect(formatCell('heapDeltaBytes', 512)).toBe('+512 B');
    expect(formatCell('heapDeltaBytes', -1000)).toBe('-1,000 B');
    expect(formatCell('rssBytes', 3 * 1024 ** 3)).toBe('3.0 GiB');
  });

  test('renders strings as they are, missing cells as blanks, non-finite numbers as words', () => {
    expect(formatCell('stage', 'parse')).toBe('parse');
    expect(formatCell('count', undefined)).toBe('');
    expect(formatCell('count', NaN)).toBe('NaN');
    expect(formatCell('heapDeltaBytes', Infinity)).toBe('Infinity');
  });
});

describe('publishReport', () => {
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  });
  afterEach(() => warn.mockRestore());

  test('shows the same report to every reporter', () => {
    const a = new MemoryReporter();
    const b = new MemoryReporter();
    const r = report();
    publishReport([a, b], r);
    expect(a.reports[0]).toBe(r);
    expect(b.reports[0]).toBe(r);
  });

  test('a reporter that throws does not stop the others and is warned about once', () => {
    class Broken implements Reporter {
      show(): void {
        throw new Error('disk full');
      }
    }
    const broken = new Broken();
    const memory = new MemoryReporter();
    publishReport([broken, memory], report());
    publishReport([broken, memory], report());
    expect(memory.reports).toHaveLength(2);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(
      'Broken.show() failed: disk full. The pipeline goes on; later failures of this reporter are not reported.',
      { type: 'PaipaWarning', code: 'PAIPA_REPORTER_FAILED' },
    );
  });

  test('a reporter without a class is named "reporter" in the warning', () => {
    const bare = Object.assign(Object.create(null) as Reporter, {
      show: () => {
        throw new Error('x');
      },
    });
    publishReport([bare], report());
    expect(warn.mock.calls[0][0]).toMatch(/^reporter\.show\(\) failed: x\./);
  });

  test('a reporter whose promise rejects is warned about once, without an unhandled rejection', async () => {
    const rejecting = { show: jest.fn(() => Promise.reject('offline')) };
    publishReport([rejecting], report());
    publishReport([rejecting], report());
    await new Promise((resolve) => setImmediate(resolve));
    expect(rejecting.show).toHaveBeenCalledTimes(2);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toBe(
      'Object.show() failed: offline. The pipeline goes on; later failures of this reporter are not reported.',
    );
  });
});
