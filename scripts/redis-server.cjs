'use strict';
// A real redis-server for the tests, the S8 benchmark and the Redis example: started on a free
// 127.0.0.1 port with a temporary directory, without persistence, and stopped (the directory
// removed) by stop(). No Docker and no mock: the Debian package `redis-server` is what runs.
const { spawn, execFileSync } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { createServer, connect } = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

/** The redis-server binary, or null when it is not installed. */
function redisServerPath() {
  try {
    return (
      execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || null
    );
  } catch {
    return null;
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once the server answers PING on the port; rejects after `timeoutMs`. */
async function waitForPong(port, timeoutMs, exited) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited()) throw new Error(exited());
    const ok = await new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1');
      const done = (result) => {
        socket.destroy();
        resolve(result);
      };
      socket.setTimeout(500, () => done(false));
      socket.on('error', () => done(false));
      socket.on('connect', () => socket.write('PING\r\n'));
      socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`redis-server did not answer on port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Starts a redis-server. Resolves to `{ port, url, dir, pid, stop() }`; `stop()` ends it
 * (SIGTERM, then SIGKILL after 5 s) and removes its directory. A second try on another port
 * covers the race between choosing a free port and the server binding it.
 */
async function startRedisServer({ startTimeoutMs = 10_000 } = {}) {
  const binary = redisServerPath();
  if (binary === null) {
    throw new Error('redis-server is not installed (Debian/Ubuntu: apt-get install redis-server)');
  }
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'paipa-redis-'));
    const child = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    let exit = null;
    const exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => resolve((exit = { code, signal }))),
    );
    const stop = async () => {
      if (exit === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      child.stderr.destroy();
      rmSync(dir, { recursive: true, force: true });
    };
    try {
      await waitForPong(port, startTimeoutMs, () =>
        exit === null
          ? ''
          : `redis-server exited (${exit.code ?? exit.signal}) on port ${port}: ${stderr.trim()}`,
      );
      return { port, url: `redis://127.0.0.1:${port}`, dir, pid: child.pid, stop };
    } catch (err) {
      lastError = err;
      await stop();
    }
  }
  throw lastError;
}

module.exports = { startRedisServer, redisServerPath };
