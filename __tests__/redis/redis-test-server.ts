import { createClient, type RedisClientType } from 'redis';
import { startRedisServer, type RedisServer } from '../../scripts/redis-server.cjs';

/**
 * A real redis-server for one test file (started in beforeAll, stopped in afterAll), and an
 * admin client the tests inspect it with. Stream names are unique per test.
 */
export function useRedisServer(): {
  server: () => RedisServer;
  admin: () => RedisClientType;
  name: (prefix?: string) => string;
} {
  let server: RedisServer | undefined;
  let admin: RedisClientType | undefined;
  let n = 0;
  beforeAll(async () => {
    server = await startRedisServer();
    admin = createClient({ url: server.url }) as RedisClientType;
    admin.on('error', () => {});
    await admin.connect();
  }, 30_000);
  afterAll(async () => {
    await admin?.close();
    await server?.stop();
  }, 30_000);
  return {
    server: () => server!,
    admin: () => admin!,
    name: (prefix = 's') => `${prefix}${++n}`,
  };
}

/** Adds `count` entries `{ n: i }` to `stream` (pipelined, 1,000 a batch); returns their ids. */
export async function addEntries(
  admin: RedisClientType,
  stream: string,
  count: number,
  fields: (i: number) => Record<string, string> = (i) => ({ n: String(i) }),
): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 1000) {
    const multi = admin.multi();
    for (let i = start; i < Math.min(count, start + 1000); i++) multi.xAdd(stream, '*', fields(i));
    ids.push(...((await multi.exec()) as unknown as string[]));
  }
  return ids;
}

/** The number of entries pending in the group (delivered, not acknowledged). */
export async function pendingCount(
  admin: RedisClientType,
  stream: string,
  group: string,
): Promise<number> {
  return Number((await admin.xPending(stream, group)).pending);
}

/** Calls of one Redis command so far (INFO commandstats). */
export async function commandCalls(admin: RedisClientType, command: string): Promise<number> {
  const info = await admin.info('commandstats');
  const match = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info);
  return match ? Number(match[1]) : 0;
}
