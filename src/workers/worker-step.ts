import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ResourceLimits } from 'node:worker_threads';
import { describe, invalidArg } from '../errors/errors';
import { checkInteger, checkKnownKeys, checkPlainObject, checkStepName } from '../util/validate';

const workerKind = Symbol('paipa.workerStep');

/** The most items one message to a thread carries, unless `batchSize` says otherwise. */
export const DEFAULT_BATCH_SIZE = 256;

/** Options of `workerStep()`; the step's own options (`ordered`, `maxRetries`, ...) go in the step list. */
export interface WorkerStepOptions<SetupOptions = unknown> {
  /** The export to run (default: the module's default export). */
  export?: string;
  /** Structured-cloneable value passed to the module's `setup()` in every thread. */
  setupOptions?: SetupOptions;
  /** The step's name in stats, errors and diagrams (default: the export's name or the file's). */
  name?: string;
  /** Node options of the threads, e.g. `['--import', 'tsx']` to run a TypeScript module. */
  execArgv?: string[];
  /** Memory limits of each thread; a thread that exceeds them is replaced like a crashed one. */
  resourceLimits?: ResourceLimits;
  /**
   * The most items sent to a thread in one message (default 256). Fewer are sent when items are
   * slow (batches aim at about a millisecond of work each) or when no more are waiting. Set 1
   * for items that take long or are large: a step holds up to threads × 2 × batchSize items.
   */
  batchSize?: number;
}

/** A step whose function runs on worker threads; made by `workerStep()`. */
export interface WorkerStep<I = any, O = any> {
  readonly [workerKind]: true;
  /** The module, as a `file:` URL. */
  readonly file: string;
  readonly exportName?: string;
  readonly setupOptions: unknown;
  readonly name: string;
  readonly execArgv?: readonly string[];
  readonly resourceLimits?: ResourceLimits;
  readonly batchSize: number;
  /** Phantom: the item types the function takes and returns. */
  readonly __types?: [I, O];
}

const KEYS = ['export', 'setupOptions', 'name', 'execArgv', 'resourceLimits', 'batchSize'];

/**
 * A CPU-bound step on worker threads: the module at `file` (a `URL` or an absolute path, ESM or
 * CJS) exports a function `(item) => output` (sync or async), and may export `setup(options)`
 * (once per thread, before its first item) and `teardown()` (once per thread, at the end of a
 * successful run). The step's concurrency in the step list is its number of threads; items
 * travel to the threads in batches, and results come back in input order when the step is
 * ordered. Items, outputs and `setupOptions` must be structured-cloneable.
 *
 * Errors thrown in a thread reach `onItemError`, retries or the caller with their `name`,
 * `message`, `code`, `cause`, own properties and the thread's stack; `errorOrigin()` gives the
 * thread's index. A module that fails to load or lacks the export fails the run at its start.
 * A thread that dies is replaced and its items are retried under `maxRetries`; when they run
 * out the run fails with a `PaipaError` of code `ERR_PAIPA_WORKER_EXITED`.
 *
 * @example
 * const hash = workerStep<Row, Hashed>(new URL('./hash.mjs', import.meta.url), { export: 'hash' });
 * await new Pipeline([parse, [hash, 4], store]).putIterable(rows).run();
 */
export function workerStep<I = any, O = any>(
  file: URL | string,
  options: WorkerStepOptions = {},
): WorkerStep<I, O> {
  const url = moduleUrl(file);
  checkPlainObject('workerStep(file, options)', options);
  checkKnownKeys('workerStep(file, options)', options, KEYS);
  const { export: exportName, setupOptions, name, execArgv, resourceLimits } = options;
  checkStepName('workerStep options.export', exportName);
  checkStepName('workerStep options.name', name);
  if (
    execArgv !== undefined &&
    (!Array.isArray(execArgv) || execArgv.some((a) => typeof a !== 'string'))
  ) {
    throw invalidArg(
      `Expected \`workerStep options.execArgv\` to be an array of strings, got ${describe(execArgv)}`,
    );
  }
  if (resourceLimits !== undefined) {
    checkPlainObject('workerStep options.resourceLimits', resourceLimits);
  }
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  checkInteger('workerStep options.batchSize', batchSize, 1);
  try {
    structuredClone(setupOptions);
  } catch (err) {
    throw invalidArg(
      `Expected \`workerStep options.setupOptions\` to be structured-cloneable, got ${describe(setupOptions)}: ${(err as Error).message}`,
    );
  }
  return {
    [workerKind]: true,
    file: url,
    exportName,
    setupOptions,
    name: name ?? exportName ?? (url.split('/').pop() || 'worker').replace(/\.[cm]?[jt]s$/, ''),
    execArgv: execArgv && [...execArgv],
    resourceLimits: resourceLimits && { ...resourceLimits },
    batchSize,
  };
}

function moduleUrl(file: unknown): string {
  if (file instanceof URL) {
    if (file.protocol !== 'file:') {
      throw invalidArg(`Expected \`workerStep(file)\` to be a file: URL, got ${file.href}`);
    }
    return file.href;
  }
  if (typeof file === 'string' && isAbsolute(file)) return pathToFileURL(file).href;
  throw invalidArg(
    `Expected \`workerStep(file)\` to be a URL or an absolute path, got ${describe(file)}`,
  );
}

export function isWorkerStep(value: unknown): value is WorkerStep {
  return value !== null && typeof value === 'object' && workerKind in value;
}
