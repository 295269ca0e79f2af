import { createClient, type RedisClientType } from 'redis';
import { PaipaError } from '../errors/errors';

/** Any node-redis client (modules, scripts and RESP version are not used here). */
export type AnyRedisClient = RedisClientType<any, any, any, any, any>;

/** What a connection of the source or the sink is made from: an address or a client. */
export interface RedisTarget {
  /** `redis://host:port`, as node-redis takes it. */
  url?: string;
  /** An existing node-redis client; it is duplicated, never closed by paipa. */
  client?: AnyRedisClient;
}

/** How long a lost connection is retried before the run fails (the documented limit). */
export const DEFAULT_RECONNECT_LIMIT_MS = 30_000;

/**
 * One connection of ours, made from the user's address or a duplicate of the user's client,
 * with the reconnect policy the connectors promise:
 * - the first connection is tried once: Redis unreachable at start rejects at once with an
 *   error naming the address, instead of retrying forever in the background;
 * - a connection lost later is retried with backoff (50 ms doubling, at most 1 s) for up to
 *   `reconnectLimitMs`; past it every waiting command rejects with an error naming the
 *   address and the limit, and so does `failure`.
 */
export class RedisConnection {
  /** Seen with the default typings: only core stream commands are used, in RESP2. */
  readonly client: RedisClientType;
  readonly address: string;
  /** Set once the connection is given up (never reached, or away past the limit). */
  failure: Error | null = null;
  #ready = false;
  #lostAt = 0;
  /** Called each time the connection is ready again after being lost. */
  onReconnect: (() => void) | null = null;
  #readyWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];

  /**
   * @param commandTimeoutMs how long one command may take (node-redis fails it after that):
   * a blocking read needs its block time and more
   */
  constructor(target: RedisTarget, reconnectLimitMs: number, commandTimeoutMs = 10_000) {
    this.address = target.url ?? describeClient(target.client!);
    const reconnectStrategy = (retries: number, cause: Error): number | Error => {
      if (!this.#ready) return this.#giveUp(unreachable(this.address, cause));
      if (retries === 0 || this.#lostAt === 0) this.#lostAt = Date.now();
      if (Date.now() - this.#lostAt >= reconnectLimitMs) {
        return this.#giveUp(
          new PaipaError(
            'ERR_PAIPA_REDIS',
            `Redis at ${this.address} was unreachable for more than ${reconnectLimitMs} ms (reconnectLimitMs): ${cause.message}`,
            { cause },
          ),
        );
      }
      return Math.min(50 * 2 ** retries, 1000);
    };
    const socket = { reconnectStrategy, connectTimeout: 5_000 };
    const commandOptions = { timeout: commandTimeoutMs };
    this.client = (target.client !== undefined
      ? target.client.duplicate({
          socket: { ...target.client.options?.socket, ...socket },
          commandOptions,
        } as never)
      : createClient({ url: target.url, socket, commandOptions })) as unknown as RedisClientType;
    // node-redis emits 'error' for every failed attempt; the policy above decides what counts.
    this.client.on('error', () => {});
    this.client.on('ready', () => {
      const again = this.#ready;
      this.#ready = true;
      this.#lostAt = 0;
      for (const w of this.#readyWaiters.splice(0)) w.resolve();
      if (again) this.onReconnect?.();
    });
  }

  #giveUp(err: Error): Error {
    this.failure ??= err;
    for (const w of this.#readyWaiters.splice(0)) w.reject(this.failure);
    return this.failure;
  }

  async connect(): Promise<void> {
    try {
      await this.client.connect();
    } catch (err) {
      throw this.failure ?? unreachable(this.address, err as Error);
    }
  }

  /** Resolves once the connection is ready (at once if it is); rejects once it is given up. */
  whenReady(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.client.isReady) return Promise.resolve();
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /**
   * Runs `command`; a command lost with a dropped connection is run again once the connection
   * is back (every command sent here is safe to repeat), until the connection is given up.
   */
  async retrying<T>(command: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await command();
      } catch (err) {
        if (this.failure) throw this.failure;
        if (this.client.isReady || !this.client.isOpen) throw err;
        await this.whenReady();
      }
    }
  }

  /** Closes the connection: gracefully when it is up, at once when it is not. */
  async close(): Promise<void> {
    for (const w of this.#readyWaiters.splice(0)) w.reject(new Error('closed'));
    if (!this.client.isOpen) return;
    if (this.client.isReady) {
      try {
        await this.client.close();
        return;
      } catch {
        // fall through: a close that fails leaves nothing worth waiting for
      }
    }
    this.client.destroy();
  }
}

function unreachable(address: string, cause: Error): Error {
  return new PaipaError(
    'ERR_PAIPA_REDIS',
    `Cannot reach Redis at ${address}: ${cause.message || cause.name}`,
    { cause },
  );
}

function describeClient(client: AnyRedisClient): string {
  const options = client.options as { url?: string; socket?: { host?: string; port?: number } };
  if (options?.url) return options.url;
  const host = options?.socket?.host ?? '127.0.0.1';
  const port = options?.socket?.port ?? 6379;
  return `redis://${host}:${port}`;
}
