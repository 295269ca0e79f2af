import { join } from 'node:path';
import { PaipaError, Pipeline, errorOrigin, workerStep } from '../../src';
import { watchdog } from '../support/helpers';
import { trackThreads } from '../support/threads';

const fixture = (name: string) => join(__dirname, 'fixtures', name);
const validate = workerStep<string, string>(fixture('errors.mjs'), { export: 'validate' });

let tracker: ReturnType<typeof trackThreads>;
beforeEach(() => {
  tracker = trackThreads();
});
afterEach(() => tracker.stop());

/** Runs items through [validate, threads] with an onItemError that collects what it gets. */
async function deadLetters(items: string[], threads = 1) {
  const letters: { err: any; item: unknown; step: string }[] = [];
  const out: string[] = [];
  const p = new Pipeline([[validate, threads], (s: string) => void out.push(s)], {
    onItemError: (err, item, step) => void letters.push({ err, item, step }),
  });
  p.putAll(items);
  const result = await watchdog(p.run(), 10_000, 'run');
  return { letters, out, result };
}

describe('errors thrown in a worker thread', () => {
  test('arrive with their name, message, code, cause, cloneable own properties and the thread stack', async () => {
    const { letters } = await deadLetters(['bad']);
    expect(letters).toHaveLength(1);
    const { err, item, step } = letters[0];
    expect(item).toBe('bad');
    expect(step).toBe('validate');
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ValidationError');
    expect(err.message).toBe('bad item');
    expect(err.code).toBe('E_INVALID');
    expect(err.field).toBe('email');
    expect(err.details).toEqual({ min: 3, seen: [1, 2] });
    // A function cannot cross a thread boundary: that property is left out, nothing else.
    expect('callback' in err).toBe(false);
    expect(err.cause).toBeInstanceOf(RangeError);
    expect(err.cause.message).toBe('too short');
    expect(err.stack).toMatch(/ValidationError: bad item\n\s+at validate \(.*errors\.mjs/);
  });

  test('errorOrigin names the step and the thread that threw', async () => {
    const { letters } = await deadLetters(['bad']);
    expect(errorOrigin(letters[0].err)).toEqual({ step: 'validate', instance: 0 });
  });

  test('a built-in error class is rebuilt as itself', async () => {
    const { letters } = await deadLetters(['type']);
    expect(letters[0].err).toBeInstanceOf(TypeError);
    expect(letters[0].err.message).toBe('not a string');
  });

  test('a thrown non-error value arrives as that value', async () => {
    const { letters } = await deadLetters(['string']);
    expect(letters[0].err).toBe('a plain string');
  });

  test('an error named SkipEntry skips the item instead of failing it', async () => {
    const { letters, out, result } = await deadLetters(['ok', 'skip', 'fine']);
    expect(letters).toEqual([]);
    expect(out.sort()).toEqual(['FINE', 'OK']);
    expect(result.steps[0]).toMatchObject({ in: 3, out: 2, skipped: 1, failed: 0 });
  });

  test('the other items of a batch are unaffected by one that throws', async () => {
    const items = Array.from({ length: 40 }, (_, i) => (i === 17 ? 'bad' : `item${i}`));
    const { letters, out, result } = await deadLetters(items, 2);
    expect(letters.map((l) => l.item)).toEqual(['bad']);
    expect(out).toHaveLength(39);
    expect(result.steps[0]).toMatchObject({ in: 40, out: 39, failed: 1 });
  });

  test('without onItemError the run fails with the rebuilt error', async () => {
    const p = new Pipeline([[validate, 2]]);
    p.putAll(['a', 'bad', 'c']);
    const err = await watchdog(p.run(), 10_000, 'run').catch((e) => e);
    expect(err.name).toBe('ValidationError');
    expect(err.code).toBe('E_INVALID');
    expect(errorOrigin(err)?.step).toBe('validate');
    expect(tracker.running()).toEqual([]);
  });

  test('a throwing item is retried under maxRetries like any function step', async () => {
    const flaky = workerStep<string, string>(fixture('errors.mjs'), { export: 'flaky' });
    const out: string[] = [];
    const p = new Pipeline([[flaky, 1, { maxRetries: 1 }], (s: string) => void out.push(s)], {
      ordered: true,
    });
    p.putAll(['a', 'b', 'c']);
    const { steps } = await watchdog(p.run(), 10_000, 'run');
    expect(out).toEqual(['a', 'b', 'c']);
    expect(steps[0].retried).toBe(3);
  });

  test('an item that cannot be cloned fails alone, with the DataCloneError, even in a batch', async () => {
    const letters: { err: any; item: unknown }[] = [];
    const out: string[] = [];
    const p = new Pipeline([[validate, 1], (s: string) => void out.push(s)], {
      onItemError: (err, item) => void letters.push({ err, item }),
    });
    const uncloneable = { toUpperCase: () => 'never' };
    // Late in the input, when the items travel in batches of many.
    const items: unknown[] = Array.from({ length: 2000 }, (_, i) => `s${i}`);
    items[1500] = uncloneable;
    p.putAll(items as string[]);
    const { steps } = await watchdog(p.run(), 10_000, 'run');
    expect(out).toHaveLength(1999);
    expect(steps[0]).toMatchObject({ in: 2000, out: 1999, failed: 1 });
    expect(letters).toHaveLength(1);
    expect(letters[0].item).toBe(uncloneable);
    expect(letters[0].err.name).toBe('DataCloneError');
  });
});

describe('a worker module that cannot start', () => {
  const loadError = async (step: ReturnType<typeof workerStep>) => {
    const p = new Pipeline([[step, 2]]);
    p.putAll([1, 2, 3]);
    const err = await watchdog(p.run(), 10_000, 'run').catch((e) => e);
    expect(tracker.running()).toEqual([]);
    return err;
  };

  test('a missing export fails the run at its start, naming the file and the export', async () => {
    const err = await loadError(workerStep(fixture('square.mjs'), { export: 'cube' }));
    expect(err).toBeInstanceOf(PaipaError);
    expect(err.code).toBe('ERR_PAIPA_WORKER_LOAD');
    expect(err.message).toMatch(/square\.mjs has no export "cube" that is a function/);
    expect(err.message).toMatch(/its exports: .*slowSquare/);
    expect(errorOrigin(err)?.step).toBe('cube');
  });

  test('a file that does not exist fails the run naming it', async () => {
    const err = await loadError(workerStep(fixture('nowhere.mjs'), { export: 'hash' }));
    expect(err.code).toBe('ERR_PAIPA_WORKER_LOAD');
    expect(err.message).toMatch(/could not load file:.*nowhere\.mjs \(wanted export "hash"\)/);
  });

  test('a module that throws while loading fails the run with that error as the cause', async () => {
    const err = await loadError(workerStep(fixture('throws-on-load.mjs')));
    expect(err.code).toBe('ERR_PAIPA_WORKER_LOAD');
    expect(err.message).toMatch(/throws-on-load\.mjs \(wanted the default export\)/);
    expect(err.cause.cause.message).toBe('this module refuses to load');
  });

  test('a setup() that rejects fails the run before any item', async () => {
    const err = await loadError(workerStep(fixture('setup-fails.mjs')));
    expect(err.code).toBe('ERR_PAIPA_WORKER_LOAD');
    expect(err.message).toMatch(/no database/);
  });
});
