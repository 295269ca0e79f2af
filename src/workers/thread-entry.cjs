'use strict';
/**
 * The thread side of a worker step: the module piscina loads in every thread of the step.
 * Plain JavaScript (no build step, no transform), because it runs in worker threads, where
 * neither the TypeScript compiler nor a test runner's transforms reach.
 *
 * On load it imports the user's module (ESM or CJS, by URL), picks the export, runs the
 * optional `setup(setupOptions)` and tells the main thread `ready` (or `load-failed`, with the
 * error, naming the file and the export). piscina then calls the exported handler with tasks:
 *
 * - `{ items }`: a batch; the items run one after another; the answer is
 *   `{ values, errors, ms }`, `errors` being null or a flat list `[index, wireError, ...]`;
 * - `{ op: 'teardown' }`: the optional `teardown()`, once, at the end of a successful run.
 *
 * The handler never throws for an item: a thrown value travels back in the wire format that
 * `error-crossing.ts` turns back into an Error on the main thread. A load failure does not
 * throw either (a rejected module promise would crash the thread before piscina could report
 * it): the thread stays up, answers every task with the load error, and the main thread fails
 * the run on `load-failed`.
 */
const { parentPort, threadId, workerData } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
const { fileURLToPath } = require('node:url');

const MESSAGE_KEY = 'paipa.workerStep';
const MAX_CAUSE_DEPTH = 8;

function isCloneable(value) {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) {
    return typeof value !== 'symbol';
  }
  if (typeof value === 'function') return false;
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * An error as plain cloneable data. Own enumerable properties that cannot be cloned are left
 * out; `code` is kept even when it is not an own enumerable property (some classes define it
 * on the prototype or as a getter).
 */
function toWire(err, depth = 0) {
  const isErrorLike =
    err instanceof Error ||
    (err !== null &&
      typeof err === 'object' &&
      typeof err.message === 'string' &&
      typeof err.stack === 'string');
  if (!isErrorLike) {
    if (typeof err === 'function' && err.name === 'SkipEntry') return { kind: 'skip' };
    return isCloneable(err)
      ? { kind: 'value', value: err }
      : {
          kind: 'value',
          value: `A worker step threw a value that cannot be cloned: ${String(err)}`,
        };
  }
  if (err.name === 'SkipEntry') return { kind: 'skip' };
  const props = {};
  for (const key of Object.keys(err)) {
    if (key === 'cause' || key === 'stack' || key === 'message') continue;
    let value;
    try {
      value = err[key];
    } catch {
      continue;
    }
    if (isCloneable(value)) props[key] = value;
  }
  if (!('code' in props) && err.code !== undefined && isCloneable(err.code)) props.code = err.code;
  const wire = {
    kind: 'error',
    name: String(err.name),
    message: String(err.message),
    stack: typeof err.stack === 'string' ? err.stack : undefined,
    props,
    hasCause: 'cause' in err,
    cause: undefined,
  };
  if (wire.hasCause) {
    wire.cause =
      depth < MAX_CAUSE_DEPTH ? toWire(err.cause, depth + 1) : { kind: 'value', value: undefined };
  }
  return wire;
}

function post(message) {
  parentPort.postMessage({ [MESSAGE_KEY]: message.type, threadId, ...message });
}

function describeExports(ns) {
  const names = Object.keys(ns).filter((k) => k !== 'default');
  if (ns.default && typeof ns.default === 'object') names.push(...Object.keys(ns.default));
  return names.length > 0 ? [...new Set(names)].join(', ') : 'none';
}

/** A named export of an ES module, or a property of a CommonJS module's `module.exports`. */
function pick(ns, name) {
  if (typeof ns[name] === 'function') return ns[name];
  const cjs = ns.default;
  if (
    name !== 'default' &&
    cjs !== null &&
    typeof cjs === 'object' &&
    typeof cjs[name] === 'function'
  ) {
    return cjs[name];
  }
  return undefined;
}

/**
 * `import()`, and `require()` for a file the ES module loader has no hook for: on Node 20,
 * `execArgv: ['--import', 'tsx']` gives a thread tsx's require hook but not its import hook,
 * so a TypeScript module loads through require there.
 */
async function importModule(file) {
  try {
    return await import(file);
  } catch (err) {
    if (!err || err.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
    const exports = require(fileURLToPath(file));
    return { ...exports, default: exports && exports.__esModule ? exports.default : exports };
  }
}

async function load() {
  const { file, exportName, setupOptions } = workerData;
  const wanted = exportName === undefined ? 'the default export' : `export "${exportName}"`;
  let ns;
  try {
    ns = await importModule(file);
  } catch (err) {
    const failure = new Error(`could not load ${file} (wanted ${wanted}): ${err && err.message}`);
    failure.cause = err;
    throw failure;
  }
  const fn = pick(ns, exportName === undefined ? 'default' : exportName);
  if (typeof fn !== 'function') {
    throw new Error(
      `${file} has no ${wanted} that is a function (its exports: ${describeExports(ns)})`,
    );
  }
  const setup = pick(ns, 'setup');
  const teardown = pick(ns, 'teardown');
  if (setup !== undefined) await setup(setupOptions);
  return { fn, teardown };
}

async function start() {
  let loaded;
  try {
    loaded = await load();
  } catch (err) {
    post({ type: 'load-failed', error: toWire(err) });
    return async () => {
      throw new Error('paipa worker step: the module failed to load');
    };
  }
  const { fn, teardown } = loaded;
  let tornDown = false;
  post({ type: 'ready' });
  return async function runTask(task) {
    if (task.op === 'teardown') {
      if (tornDown || teardown === undefined) return { ok: true };
      tornDown = true;
      try {
        await teardown();
        return { ok: true };
      } catch (err) {
        return { ok: false, error: toWire(err) };
      }
    }
    const items = task.items;
    const n = items.length;
    const values = new Array(n);
    let errors = null;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      try {
        let value = fn(items[i]);
        if (value !== null && typeof value === 'object' && typeof value.then === 'function') {
          value = await value;
        }
        values[i] = value;
      } catch (err) {
        (errors ??= []).push(i, toWire(err));
      }
    }
    return { values, errors, ms: performance.now() - t0 };
  };
}

module.exports = start();
