import { MemoryReporter, Pipeline, SkipEntry, Step } from '../../src';
import { delay, range } from '../support/helpers';

describe('runtime statistics', () => {
  test('stats add up (in = out + skipped + failed) with skips and dead-lettered items', async () => {
    const p = new Pipeline(
      [
        [
          async (n: number) => {
            if (n % 10 === 0) throw new Error('bad');
            if (n % 7 === 0) throw new SkipEntry();
            return n % 5 === 0 ? undefined : n;
          },
          3,
        ],
        (n: number) => n,
      ],
      { onItemError: () => {} },
    );
    p.putAll(range(100));
    const result = await p.run();
    const [first, second] = result.steps;
    expect(first.in).toBe(100);
    expect(first.failed).toBe(10);
    expect(first.in).toBe(first.out + first.skipped + first.failed);
    expect(second.in).toBe(first.out);
    expect(second.in).toBe(second.out + second.skipped + second.failed);
    expect(result.count).toBe(second.out);
  });

  test('stats() is readable while the pipeline runs and shows busy instances', async () => {
    const p = new Pipeline([[async () => delay(20), 4]]);
    p.putAll(range(8));
    const running = p.run();
    await delay(5);
    const live = p.stats()[0];
    expect(live.busy).toBe(4);
    expect(live.concurrency).toBe(4);
    await running;
    expect(p.stats()[0]).toMatchObject({ busy: 0, in: 8, stored: 8, skipped: 0 });
  });

  test('stats() before the run has one row of zeros per step', () => {
    const p = new Pipeline([
      function parse(s: string) {
        return s;
      },
      [(s: string) => s, 3],
    ]);
    expect(p.stats()).toEqual([
      expect.objectContaining({ name: 'parse', concurrency: 1, in: 0, out: 0 }),
      expect.objectContaining({ name: 'step1', concurrency: 3, in: 0, out: 0 }),
    ]);
  });
});

describe('reporters', () => {
  test('reporters receive periodic reports while the pipeline runs and one final report', async () => {
    const memory = new MemoryReporter();
    const p = new Pipeline([async (n: number) => (await delay(2), n)], {
      reporters: [memory],
      reportEvery: 15,
    });
    p.putAll(range(40));
    await p.run();
    const finals = memory.reports.filter((r) => r.final);
    expect(finals).toHaveLength(1);
    expect(memory.reports.length).toBeGreaterThan(1);
    expect(memory.reports.at(-1)).toMatchObject({ kind: 'pipeline', final: true });
    expect(finals[0].steps[0]).toMatchObject({ name: 'step0', in: 40, out: 40 });
  });

  test('a failed run still sends the final report', async () => {
    const memory = new MemoryReporter();
    const p = new Pipeline(
      [
        (n: number) => {
          if (n === 3) throw new Error('x');
          return n;
        },
      ],
      { reporters: [memory] },
    );
    p.putAll(range(5));
    await expect(p.run()).rejects.toThrow('x');
    expect(memory.reports.filter((r) => r.final)).toHaveLength(1);
  });

  test('a reporter that throws never breaks the pipeline and is reported as a warning', async () => {
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const p = new Pipeline([(n: number) => n], {
        reporters: [
          {
            show() {
              throw new Error('reporter down');
            },
          },
        ],
      });
      p.putAll(range(3));
      expect((await p.run()).count).toBe(3);
      expect(emitWarning).toHaveBeenCalledTimes(1);
      expect(String(emitWarning.mock.calls[0][0])).toMatch(/reporter down/);
    } finally {
      emitWarning.mockRestore();
    }
  });

  test('reporters and reportEvery are validated at construction', () => {
    expect(() => new Pipeline([(n: number) => n], { reporters: [{}] as never })).toThrow(
      /options.reporters\[0\]/,
    );
    expect(() => new Pipeline([(n: number) => n], { reportEvery: 0 })).toThrow(
      /options.reportEvery/,
    );
  });
});

describe('progress and diagrams', () => {
  function fakeStream(isTTY = false) {
    const writes: string[] = [];
    const stream = {
      isTTY,
      columns: 100,
      write(chunk: string) {
        writes.push(String(chunk));
        return true;
      },
    } as unknown as NodeJS.WritableStream;
    return { stream, writes };
  }

  test('progress on a non-TTY stream prints plain lines and a final summary with the count', async () => {
    const { stream, writes } = fakeStream(false);
    const p = new Pipeline([async (n: number) => (await delay(1), n)], {
      progress: stream,
      reportEvery: 10,
    });
    p.putAll(range(30));
    await p.run();
    const text = writes.join('');
    expect(text).not.toContain(String.fromCharCode(27));
    expect(text).toMatch(/\/30/);
    expect(writes.at(-1)).toMatch(/done: 30 items/);
  });

  test('a failing run ends the progress output with the failure', async () => {
    const { stream, writes } = fakeStream(false);
    const p = new Pipeline(
      [
        (n: number) => {
          if (n === 2) throw new Error('disk full');
          return n;
        },
      ],
      { progress: stream },
    );
    p.putAll(range(5));
    await expect(p.run()).rejects.toThrow('disk full');
    expect(writes.at(-1)).toMatch(/failed after .*disk full/);
  });

  test('progress must be a boolean or a writable stream', () => {
    expect(() => new Pipeline([(n: number) => n], { progress: 'yes' as never })).toThrow(
      /options.progress.*boolean or a writable stream/,
    );
  });

  test('the Mermaid text of a 3-step pipeline names every step with its concurrency', () => {
    function parse(s: string) {
      return s;
    }
    class Store extends Step<string, void> {
      process() {}
    }
    const p = new Pipeline([parse, [async (s: string) => s, 4, { name: 'enrich' }], [Store, 2]]);
    const text = p.toMermaid();
    expect(text).toMatch(/^flowchart LR/);
    for (const [name, n] of [
      ['parse', 1],
      ['enrich', 4],
      ['Store', 2],
    ] as const) {
      expect(text).toContain(name);
      expect(text).toMatch(
        new RegExp(`${name}[^\\n]*(×|x)\\s?${n}|${name}[^\\n]*concurrency ${n}`),
      );
    }
  });

  test('toDot describes the same pipeline as a digraph, with live figures when asked', async () => {
    const p = new Pipeline([(n: number) => n + 1]);
    p.putAll(range(5));
    await p.run();
    expect(p.toDot()).toMatch(/^digraph/);
    expect(p.toDot({ stats: true })).toMatch(/5/);
  });
});
