export interface RedisServer {
  port: number;
  url: string;
  dir: string;
  pid: number;
  stop(): Promise<void>;
}
export function startRedisServer(options?: { startTimeoutMs?: number }): Promise<RedisServer>;
export function redisServerPath(): string | null;
