// Runs one child (bench/child.mjs) and collects its result line, its stderr (warnings count:
// a MaxListenersExceededWarning is a finding) and how long it lived after reporting. A child
// that does not exit by itself within the timeout is killed and reported as a hang.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('../child.mjs', import.meta.url));
/** Marks the child's one result line on stdout. */
export const RESULT_PREFIX = 'BENCH_RESULT ';
const wallNow = () => performance.timeOrigin + performance.now();

/** @returns {Promise<object>} the child's result plus exitMs, exitCode, stderr and failure */
export function runChild(job, { timeoutMs }) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      const exitedAt = wallNow();
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      const result = line ? JSON.parse(line.slice(RESULT_PREFIX.length)) : { ok: false };
      result.exitMs = result.endedAt ? exitedAt - result.endedAt : null;
      result.exitCode = code ?? signal;
      result.stderr = stderr.trim();
      if (killed) {
        result.failure = line
          ? `did not exit within ${timeoutMs} ms after finishing (leaked handle: ${result.activeResources?.join(', ') || 'unknown'})`
          : `no result within ${timeoutMs} ms (hang)`;
      } else if (!line) {
        result.failure = `crashed (exit ${code ?? signal}): ${stderr.trim().split('\n').slice(0, 3).join(' | ')}`;
      } else if (!result.ok) {
        result.failure = `threw: ${String(result.error).split('\n')[0]}`;
      }
      resolve(result);
    });
  });
}
