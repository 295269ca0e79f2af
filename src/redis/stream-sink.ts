import { describe, invalidArg } from '../errors/errors';
import { Step, type StepClass } from '../steps/step';
import { DEFAULT_RECONNECT_LIMIT_MS, RedisConnection, type RedisTarget } from './redis-connection';
import { checkName, checkTarget, intOption } from './redis-options';

export interface RedisStreamSinkOptions<I = unknown> extends RedisTarget {
  /** The stream each item is added to (XADD). */
  stream: string;
  /** Trim the stream to about this many entries (`MAXLEN ~`); default: no trimming. */
  maxLen?: number;
  /**
   * The entry's fields for an item. Default: the item's `fields` when it is an entry of
   * `redisStreamSource`, else `{ data: JSON.stringify(item) }`.
   */
  toFields?: (item: I) => Record<string, string | number>;
  /** XADDs in flight at once, pipelined on one connection (default 64). */
  concurrency?: number;
  /** How long a lost connection is retried before the run fails (default 30000 ms). */
  reconnectLimitMs?: number;
}

/** The step definition `redisStreamSink()` returns: `[StepClass, concurrency, options]`. */
export type RedisStreamSinkStep<I> = [StepClass<I, never>, number, { name: string }];

/**
 * A last step that adds each item to a Redis stream and emits nothing: an item is done (and
 * its input acknowledged) once Redis has answered its XADD. Up to `concurrency` XADDs are in
 * flight on one connection, which node-redis pipelines. An XADD lost with a dropped connection
 * is sent again once it is back, so an item may be added twice (at least once).
 *
 * @example
 * new Pipeline([parse, [enrich, 8], redisStreamSink({ url, stream: 'orders:enriched', maxLen: 1e6 })]);
 */
export function redisStreamSink<I = unknown>(
  options: RedisStreamSinkOptions<I>,
): RedisStreamSinkStep<I> {
  if (options === null || typeof options !== 'object') {
    throw invalidArg(
      `Expected redisStreamSink() options to be an object, got ${describe(options)}`,
    );
  }
  const target = checkTarget('redisStreamSink', options);
  checkName('redisStreamSink', 'stream', options.stream);
  const { stream, maxLen, toFields } = options;
  if (maxLen !== undefined) intOption('redisStreamSink', 'maxLen', maxLen, 0, 1);
  if (toFields !== undefined && typeof toFields !== 'function') {
    throw invalidArg(
      `Expected redisStreamSink() \`toFields\` to be a function, got ${describe(toFields)}`,
    );
  }
  const concurrency = intOption('redisStreamSink', 'concurrency', options.concurrency, 64, 1);
  const reconnectLimitMs = intOption(
    'redisStreamSink',
    'reconnectLimitMs',
    options.reconnectLimitMs,
    DEFAULT_RECONNECT_LIMIT_MS,
    1,
  );
  const trim =
    maxLen === undefined
      ? undefined
      : {
          TRIM: { strategy: 'MAXLEN' as const, strategyModifier: '~' as const, threshold: maxLen },
        };
  const fieldsOf = toFields ?? defaultFields;

  class RedisStreamSink extends Step<I, never> {
    async stepInitialize(): Promise<void> {
      const connection = new RedisConnection(target, reconnectLimitMs);
      this.shared.connection = connection;
      await connection.connect();
    }

    async process(item: I): Promise<undefined> {
      const fields = checkFields(fieldsOf(item), item);
      const connection = this.shared.connection as RedisConnection;
      await connection.retrying(() => connection.client.xAdd(stream, '*', fields, trim));
      return undefined;
    }

    async stepShutdown(): Promise<void> {
      await (this.shared.connection as RedisConnection | undefined)?.close();
    }
  }
  return [RedisStreamSink, concurrency, { name: `redisStreamSink(${stream})` }];
}

function defaultFields(item: unknown): Record<string, string> {
  const fields = (item as { fields?: unknown } | null)?.fields;
  const isEntry =
    typeof (item as { id?: unknown })?.id === 'string' &&
    typeof (item as { stream?: unknown })?.stream === 'string' &&
    fields !== null &&
    typeof fields === 'object';
  return isEntry ? (fields as Record<string, string>) : { data: JSON.stringify(item) };
}

function checkFields(fields: unknown, item: unknown): Record<string, string> {
  if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) {
    throw invalidArg(
      `redisStreamSink(): toFields(${describe(item)}) must return an object of field names to strings, got ${describe(fields)}`,
    );
  }
  const out: Record<string, string> = {};
  let n = 0;
  for (const [key, value] of Object.entries(fields)) {
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw invalidArg(
        `redisStreamSink(): field \`${key}\` must be a string or a number, got ${describe(value)}`,
      );
    }
    out[key] = String(value);
    n++;
  }
  if (n === 0) throw invalidArg(`redisStreamSink(): an entry needs at least one field, got {}`);
  return out;
}
