import { join } from 'node:path';
import { Pipeline, workerStep } from '../../src';
import { range, watchdog } from '../support/helpers';
import { trackThreads } from '../support/threads';

const fixture = (name: string) => join(__dirname, '..', 'workers', 'fixtures', name);

let threads: ReturnType<typeof trackThreads>;
beforeEach(() => (threads = trackThreads()));
afterEach(() => threads.stop());

describe('acknowledgements through a worker step', () => {
  test('every input is acked once, after its output was counted, with skips acked too', async () => {
    const counted = new Set<number>();
    const acked: number[] = [];
    const early: number[] = [];
    const p = new Pipeline<number, number>(
      [
        [workerStep<number, number>(fixture('square.mjs'), { export: 'skipOdd' }), 2],
        (n: number) => {
          counted.add(n);
          return n;
        },
      ],
      {
        onAck: (item, seq) => {
          acked.push(seq);
          const n = item as number;
          if (n % 2 === 0 && !counted.has(n)) early.push(n);
        },
      },
    );
    p.putAll(range(40));
    const { count } = await watchdog(p.run(), 10_000, 'run()');
    expect(count).toBe(20);
    expect([...acked].sort((a, b) => a - b)).toEqual(range(40));
    expect(early).toEqual([]);
  });
});
