/**
 * The crash test of paipa/redis against a real redis-server: 20,000 entries shared by 3
 * consumer processes in one group (__tests__/reliability/fixtures/redis-consumer.cjs, loading
 * the built dist/). One is killed with SIGKILL at about 30% of the work and not restarted: the
 * others must claim what it held. One entry is poison (its step always throws): each consumer
 * that meets it fails and is started again under the same name, as a process manager would,
 * until the entry has been delivered more than maxDeliveries times and goes to the
 * dead-letter stream. At the end nothing is pending, every other entry has an output, and the
 * duplicates and the collateral (entries redelivered beside the poison) are counted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { createClient, type RedisClientType } from 'redis';
import { startRedisServer, type RedisServer } from '../../scripts/redis-server.cjs';

const root = resolve(__dirname, '..', '..');
const FIXTURE = join(__dirname, 'fixtures', 'redis-consumer.cjs');
const WATCHDOG_MS = 100_000;

const N = 20_000;
const POISON_AT = 3_000;
const KILL_AT = Math.round(N * 0.3);
const MAX_DELIVERIES = 3;
const MAX_RESTARTS = 10;
const STREAM = 'jobs';
const GROUP = 'workers';
const OUTPUT = 'jobs:done';
const DEAD = 'jobs:dead';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

let server: RedisServer;
/** The test's own client, opened and closed inside the test (the leak check counts its socket). */
let admin: RedisClientType;

beforeAll(async () => {
  server = await startRedisServer();
}, 30_000);

afterAll(async () => {
  await server?.stop();
}, 30_000);

/** Starts one consumer process; `exited` settles when it has exited and its pipes closed. */
function startConsumer(consumer: string): { child: ChildProcess; exited: Promise<Exit> } {
  const config = {
    url: server.url,
    stream: STREAM,
    group: GROUP,
    consumer,
    output: OUTPUT,
    count: 50,
    // Small, so the test sees the killed consumer's entries claimed within seconds; the
    // source ends only after a sweep that began after its idle time found nothing to claim.
    claimIdleMs: 1_000,
    claimEveryMs: 250,
    maxDeliveries: MAX_DELIVERIES,
    endWhenIdleMs: 3_000,
  };
  const child = spawn(process.execPath, [FIXTURE, JSON.stringify(config)], { cwd: root });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const exited = new Promise<Exit>((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
  return { child, exited };
}

/** Entries of a stream as { id, fields }, read in pages. */
async function readAll(stream: string): Promise<{ id: string; fields: Record<string, string> }[]> {
  const all: { id: string; fields: Record<string, string> }[] = [];
  let start = '-';
  for (;;) {
    const page = (await admin.xRange(stream, start, '+', { COUNT: 5_000 })) ?? [];
    for (const e of page)
      all.push({ id: e.id, fields: { ...e.message } as Record<string, string> });
    if (page.length < 5_000) return all;
    start = `(${page[page.length - 1].id}`;
  }
}

test('3 consumer processes, one killed at 30% and a poison entry: every entry done, the poison dead-lettered, nothing pending', async () => {
  const startedAt = Date.now();
  const children = new Set<ChildProcess>();
  let watchdog: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;
  // No per-command timeout: node-redis would leave a 5 s timer behind each command.
  admin = createClient({ url: server.url, commandOptions: { timeout: 0 } }) as RedisClientType;
  admin.on('error', () => {});
  await admin.connect();
  try {
    // The input: entry POISON_AT is the poison.
    const inputIds: string[] = [];
    for (let start = 0; start < N; start += 1_000) {
      const multi = admin.multi();
      for (let i = start; i < Math.min(N, start + 1_000); i++) {
        multi.xAdd(STREAM, '*', i === POISON_AT ? { n: String(i), poison: '1' } : { n: String(i) });
      }
      inputIds.push(...((await multi.exec()) as unknown as string[]));
    }
    const poisonId = inputIds[POISON_AT];

    const failures: { consumer: string; stderr: string }[] = [];
    const finished: Record<string, Exit> = {};
    let killed: { consumer: string; exit: Exit; held: Set<string> } | null = null;
    let killedAt = 0;

    /**
     * Runs a consumer and starts it again under the same name whenever it exits non-zero, as
     * a process manager would; with `killAt`, it is SIGKILLed once the output stream holds
     * that many entries, and not started again.
     */
    const supervise = async (consumer: string, killAt?: number): Promise<void> => {
      let current: ChildProcess | null = null;
      if (killAt !== undefined) {
        poll = setInterval(() => {
          void admin.xLen(OUTPUT).then((done) => {
            if (done < killAt || current === null || current.exitCode !== null) return;
            clearInterval(poll);
            killedAt = done;
            current.kill('SIGKILL');
          });
        }, 10);
      }
      for (let restarts = 0; ; restarts++) {
        const { child, exited } = startConsumer(consumer);
        current = child;
        children.add(child);
        const exit = await exited;
        children.delete(child);
        current = null;
        if (exit.signal === 'SIGKILL') {
          // What it held when it died: the entries the others must claim.
          const pending = await admin.xPendingRange(STREAM, GROUP, '-', '+', N, { consumer });
          killed = { consumer, exit, held: new Set(pending.map((p) => p.id)) };
          return;
        }
        if (exit.code === 0) {
          clearInterval(poll);
          finished[consumer] = exit;
          return;
        }
        failures.push({ consumer, stderr: exit.stderr });
        if (restarts >= MAX_RESTARTS) {
          throw new Error(`${consumer} failed ${restarts + 1} times:\n${exit.stderr}`);
        }
      }
    };

    const timedOut = new Promise<never>((_, reject) => {
      watchdog = setTimeout(
        () => reject(new Error(`the consumers did not finish within ${WATCHDOG_MS} ms`)),
        WATCHDOG_MS,
      );
    });
    await Promise.race([
      Promise.all([supervise('c1', KILL_AT), supervise('c2'), supervise('c3')]),
      timedOut,
    ]);
    const wallMs = Date.now() - startedAt;

    // The kill landed mid-run, and the killed consumer held entries the others had to claim.
    expect(killed).not.toBeNull();
    const { held } = killed!;
    const atOutputs = killedAt;
    expect(killed!.exit.signal).toBe('SIGKILL');
    expect(atOutputs).toBeLessThan(N * 0.6);
    expect(held.size).toBeGreaterThan(0);
    expect(Object.keys(finished).sort()).toEqual(['c2', 'c3']);

    // Each delivery of the poison failed a run, with the poison's error: MAX_DELIVERIES runs.
    // One fewer only if the killed consumer held the poison when it died, having read it again
    // (a delivery counted by Redis) without having had the time to fail on it.
    if (held.has(poisonId)) expect([MAX_DELIVERIES - 1, MAX_DELIVERIES]).toContain(failures.length);
    else expect(failures).toHaveLength(MAX_DELIVERIES);
    for (const f of failures) expect(f.stderr).toContain(`poison entry ${poisonId}`);

    // Nothing is pending in the group.
    const summary = await admin.xPending(STREAM, GROUP);
    expect(Number(summary.pending)).toBe(0);

    // The dead-letter stream holds the poison alone; its count is the delivery that found it
    // past the limit (the pipeline ran it MAX_DELIVERIES times, the failures above).
    const dead = await readAll(DEAD);
    expect(dead.map((d) => d.fields.id)).toEqual([poisonId]);
    expect(Number(dead[0].fields.deliveries)).toBe(MAX_DELIVERIES + 1);
    expect(JSON.parse(dead[0].fields.fields)).toEqual({ n: String(POISON_AT), poison: '1' });

    // Every input but the dead-lettered one has an output; no output comes from elsewhere.
    const outputs = await readAll(OUTPUT);
    const bySource = new Map<string, { count: number; deliveries: number }>();
    for (const o of outputs) {
      const seen = bySource.get(o.fields.src) ?? { count: 0, deliveries: 0 };
      seen.count++;
      seen.deliveries = Math.max(seen.deliveries, Number(o.fields.deliveries));
      bySource.set(o.fields.src, seen);
    }
    const deadIds = new Set(dead.map((d) => d.fields.id));
    const missing = inputIds.filter((id) => !deadIds.has(id) && !bySource.has(id));
    expect(missing).toEqual([]);
    expect(bySource.has(poisonId)).toBe(false);
    expect([...bySource.keys()].filter((id) => !inputIds.includes(id))).toEqual([]);
    expect(bySource.size).toBe(N - 1);

    // Duplicates: outputs beyond the first of an input (at least once, not exactly once).
    const duplicates = outputs.length - bySource.size;
    // Collateral: entries delivered again that the killed consumer did not hold, i.e. entries
    // that were in a poisoned run's hands beside the poison.
    const redelivered = [...bySource].filter(([, s]) => s.deliveries >= 2).map(([id]) => id);
    const collateral = redelivered.filter((id) => !held.has(id));
    const stats = Object.values(finished).map((e) =>
      JSON.parse(/STATS (.*)/.exec(e.stdout)![1]),
    ) as { consumer: string; claimed: number; redelivered: number; deadLettered: number }[];
    // What the killed consumer held was delivered again (claimed by a survivor): every such
    // entry has an output from a later delivery.
    const heldNotRedone = [...held].filter(
      (id) => id !== poisonId && !((bySource.get(id)?.deliveries ?? 0) >= 2),
    );
    expect(heldNotRedone).toEqual([]);
    // Collateral is bounded by what one consumer holds at once (one read plus the pipeline).
    expect(collateral.length).toBeLessThan(200);

    console.log(
      [
        `redis crash test: ${N} entries, 3 consumers, c1 SIGKILLed at ${atOutputs} outputs ` +
          `(${((atOutputs / N) * 100).toFixed(0)}%) holding ${held.size} entries`,
        `  poison ${poisonId}: ${failures.length} failed runs (${failures.map((f) => f.consumer).join(', ')}), dead-lettered with deliveries=${dead[0].fields.deliveries}`,
        `  outputs ${outputs.length} for ${bySource.size} inputs: ${duplicates} duplicates`,
        `  redelivered ${redelivered.length}: ${redelivered.length - collateral.length} held by the killed consumer, ${collateral.length} collateral of the poison`,
        `  survivors: ${stats.map((s) => `${s.consumer} claimed ${s.claimed}, redelivered ${s.redelivered}`).join('; ')}`,
        `  wall time ${(wallMs / 1000).toFixed(1)} s`,
      ].join('\n'),
    );
  } finally {
    clearTimeout(watchdog);
    clearInterval(poll);
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(
      [...children].map(
        (child) =>
          new Promise((r) =>
            child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('close', r),
          ),
      ),
    );
    await admin.close();
  }
}, 120_000);
