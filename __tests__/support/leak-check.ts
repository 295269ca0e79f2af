import { createHook } from 'node:async_hooks';

/**
 * After every test: no timer, socket, server or worker thread that the test (or the library
 * under test) created may still be alive. A pipeline that leaves a retry timer, an interval or
 * a thread running would keep a user's process alive. Resources made by the test runner itself
 * are not counted: they are recognised by their creation stack.
 */
const TRACKED = new Set(['Timeout', 'TCPWRAP', 'TCPSERVERWRAP', 'PIPEWRAP', 'WORKER']);
const live = new Map<number, { type: string; stack: string }>();
let testRunning = false;

createHook({
  init(id, type) {
    if (!testRunning || !TRACKED.has(type)) return;
    const stack = new Error().stack ?? '';
    // AbortSignal.timeout() (node-redis times each command with one) arms an unref'd timer
    // that cannot keep a process alive and goes away with its signal: not a leak.
    if (stack.includes('setWeakAbortSignalTimeout')) return;
    if (
      /[\\/]node_modules[\\/](jest|@jest|jest-circus)/.test(stack) &&
      !/__tests__[\\/](?!support)/.test(stack)
    )
      return;
    live.set(id, { type, stack });
  },
  destroy(id) {
    live.delete(id);
  },
}).enable();

beforeEach(() => {
  live.clear();
  testRunning = true;
});

afterEach(async () => {
  testRunning = false;
  // Timers of in-flight work that a teardown abandoned (by design) may still run out; give
  // them a moment. A leaked interval or a long retry timer outlives the wait.
  const deadline = Date.now() + 200;
  while (live.size > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  const leaked = [...live.values()].map(
    ({ type, stack }) => `${type} created at\n${stack.split('\n').slice(2, 8).join('\n')}`,
  );
  live.clear();
  expect(leaked).toEqual([]);
});
