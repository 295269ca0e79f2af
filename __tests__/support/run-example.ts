import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

export interface ExampleOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

const root = resolve(__dirname, '..', '..');

/**
 * Runs `node examples/<file> ...args` from the repository root, the way a reader runs it, with
 * `env` over the test's own environment; kills it and rejects after `watchdogMs`.
 */
export function runExample(
  file: string,
  args: string[] = [],
  env: Record<string, string> = {},
  watchdogMs = 30_000,
): Promise<ExampleOutcome> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join('examples', file), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const watchdog = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${file} did not exit within ${watchdogMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`,
        ),
      );
    }, watchdogMs);
    child.on('error', (err) => {
      clearTimeout(watchdog);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(watchdog);
      // The child's process and pipe handles are released in the loop's close phase: settle
      // after it, so the suite's handle-leak check sees them gone.
      setTimeout(() => resolvePromise({ code, stdout, stderr }), 0);
    });
  });
}
