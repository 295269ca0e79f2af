// paipa/redis: Redis Streams as a source and a sink, so that many processes on many machines
// share one job. Loaded only by `import 'paipa/redis'`; the core never imports it, and it needs
// node-redis (`redis`, an optional peer dependency) only here.
export { redisStreamSource, RedisStreamSource } from './stream-source';
export type {
  RedisStreamEntry,
  RedisStreamSourceOptions,
  RedisStreamSourceStats,
} from './stream-source';
export { redisStreamSink } from './stream-sink';
export type { RedisStreamSinkOptions, RedisStreamSinkStep } from './stream-sink';
export type { AnyRedisClient, RedisTarget } from './redis-connection';
export { DEFAULT_RECONNECT_LIMIT_MS } from './redis-connection';
