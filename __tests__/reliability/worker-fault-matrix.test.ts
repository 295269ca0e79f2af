/**
 * The fault matrix of worker steps: each fault a worker step can have (a throw in the thread,
 * a thread that exits, a setup() or teardown() that throws, a missing export), at the first,
 * middle and last item where that applies, in every output mode (run(), for await, stream()),
 * with 1 and 2 threads. Every case must settle exactly once, with the expected error, within the
 * watchdog, after the Step instance beside the worker step ran shutdown() exactly once and with
 * every thread ended.
 */
import { join } from 'node:path';
import { Readable, Writable, pipeline } from 'node:stream';
import { Pipeline, Step, errorOrigin, workerStep } from '../../src';
import { range, watchdog } from '../support/helpers';
import { trackThreads } from '../support/threads';

const N = 20;
type Fault = 'throw' | 'exit' | 'setup' | 'teardown' | 'export';
type Mode = 'run' | 'iterate' | 'stream';
interface Case {
  fault: Fault;
  at: number | null;
  mode: Mode;
  threads: number;
}

const timed: Fault[] = ['throw', 'exit'];
const cases: Case[] = [];
for (const mode of ['run', 'iterate', 'stream'] as Mode[]) {
  for (const threads of [1, 2]) {
    for (const fault of ['throw', 'exit', 'setup', 'teardown', 'export'] as Fault[]) {
      for (const at of timed.includes(fault) ? [0, N / 2, N - 1] : [null]) {
        cases.push({ fault, at, mode, threads });
      }
    }
  }
}

/** What the run must fail with. */
function expectedError(c: Case, err: any): void {
  if (c.fault === 'throw' || c.fault === 'teardown') {
    expect(err?.name).toBe('FaultError');
    expect(err.code).toBe('E_FAULT');
  } else if (c.fault === 'exit') {
    expect(err?.code).toBe('ERR_PAIPA_WORKER_EXITED');
    expect(err.message).toMatch(/exited with code 5/);
  } else {
    expect(err?.code).toBe('ERR_PAIPA_WORKER_LOAD');
  }
  expect(errorOrigin(err)?.step).toBe('faulty');
}

async function runCase(c: Case) {
  const shutdowns = { count: 0 };
  class Before extends Step<number, number> {
    process(n: number) {
      return n;
    }
    shutdown() {
      shutdowns.count++;
    }
  }
  const faulty = workerStep<number, number>(
    join(__dirname, '..', 'workers', 'fixtures', 'faulty.mjs'),
    {
      export: c.fault === 'export' ? 'missing' : 'step',
      name: 'faulty',
      setupOptions: { fault: c.fault, at: c.at },
    },
  );
  const p = new Pipeline([Before, [faulty, c.threads]], { highWaterMark: 2 });
  let settlements = 0;
  let error: unknown;
  if (c.mode === 'stream') {
    const duplex = p.stream();
    const closed = new Promise((resolve) => duplex.once('close', resolve));
    await new Promise<void>((resolve) =>
      pipeline(
        Readable.from(range(N)),
        duplex,
        new Writable({ objectMode: true, write: (_x, _e, cb) => cb() }),
        (err) => {
          settlements++;
          error = err;
          resolve();
        },
      ),
    );
    await closed;
  } else {
    p.putIterable(range(N));
    const body =
      c.mode === 'run'
        ? p.run()
        : (async () => {
            for await (const _ of p);
          })();
    await body.then(
      () => settlements++,
      (err) => {
        settlements++;
        error = err;
      },
    );
  }
  return { settlements, error, shutdowns: shutdowns.count };
}

describe('worker step fault matrix', () => {
  test.each(
    cases.map(
      (c) =>
        [
          `${c.fault}${c.at === null ? '' : ` at ${c.at}`} · ${c.mode} · ${c.threads} thread(s)`,
          c,
        ] as const,
    ),
  )(
    '%s',
    async (_name, c) => {
      const tracker = trackThreads();
      try {
        const outcome = await watchdog(runCase(c), 10_000, 'case');
        expect(outcome.settlements).toBe(1);
        expectedError(c, outcome.error);
        expect(outcome.shutdowns).toBe(1);
        expect(tracker.running()).toEqual([]);
      } finally {
        tracker.stop();
      }
    },
    15_000,
  );
});
