/**
 * examples/redis-workers.mjs, run as its own process the way a reader runs it
 * (`npm run example:redis`): it starts its own redis-server, forks worker processes, kills one
 * with SIGKILL mid-run, and prints the final count. It lives with the reliability suites
 * because it takes several seconds (the workers end only after an idle time longer than the
 * claim time) and runs four processes beside a redis-server.
 */
import { redisServerPath } from '../../scripts/redis-server.cjs';
import { runExample } from '../support/run-example';

const WATCHDOG_MS = 90_000;

/** The number printed after `label` at the start of a line (e.g. "missing:   0"). */
function figure(stdout: string, label: string): number {
  const match = new RegExp(`^${label}:\\s+(\\d+)`, 'm').exec(stdout);
  if (!match) throw new Error(`no "${label}" figure in:\n${stdout}`);
  return Number(match[1]);
}

test('the Redis workers example bills every order although one worker is SIGKILLed, and stops its server', async () => {
  expect(redisServerPath()).not.toBeNull(); // CI installs it (.ci/run)
  const { code, stdout, stderr } = await runExample(
    'redis-workers.mjs',
    ['--orders', '20000', '--workers', '3'],
    {},
    WATCHDOG_MS,
  );
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  const held = Number(
    /^killed worker-2 \(SIGKILL\) at \d+ billed, holding (\d+)/m.exec(stdout)?.[1],
  );
  expect(held).toBeGreaterThan(0);
  expect(figure(stdout, 'orders')).toBe(20_000);
  expect(figure(stdout, 'orders billed')).toBe(20_000);
  expect(figure(stdout, 'missing')).toBe(0);
  expect(figure(stdout, 'pending')).toBe(0);
  const duplicates = figure(stdout, 'duplicates');
  expect(figure(stdout, 'outputs')).toBe(20_000 + duplicates);
  // The two survivors each printed their counters; the killed one never did. What it held left
  // its pending list only by being claimed by them.
  const survivors = [...stdout.matchAll(/^worker-\d: billed \d+ \((\d+) claimed/gm)];
  expect(survivors).toHaveLength(2);
  expect(survivors.reduce((sum, m) => sum + Number(m[1]), 0)).toBeGreaterThanOrEqual(held);
  expect(stdout).not.toMatch(/^worker-2: billed/m);
  expect(stdout).toMatch(/redis-server stopped\s*$/);
}, 100_000);

test('without redis-server on the PATH the example says what to install and exits 0', async () => {
  const { code, stdout, stderr } = await runExample('redis-workers.mjs', [], {
    PATH: '/nonexistent',
  });
  expect(stderr).toBe('');
  expect(code).toBe(0);
  expect(stdout).toBe(
    'redis-server is not installed (apt-get install redis-server); this example needs it\n',
  );
}, 30_000);
