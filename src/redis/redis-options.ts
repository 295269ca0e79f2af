import { describe, invalidArg } from '../errors/errors';
import { checkInteger } from '../util/validate';
import type { RedisTarget } from './redis-connection';

/** `url` or `client`, exactly one. */
export function checkTarget(fn: string, options: RedisTarget): RedisTarget {
  const { url, client } = options;
  if ((url === undefined) === (client === undefined)) {
    throw invalidArg(
      `Expected ${fn}() to get exactly one of \`url\` (redis://host:port) or \`client\` (a node-redis client), got ${url === undefined ? 'neither' : 'both'}`,
    );
  }
  if (url !== undefined && (typeof url !== 'string' || !/^rediss?:\/\//.test(url))) {
    throw invalidArg(
      `Expected ${fn}() \`url\` to be a redis:// or rediss:// address, got ${describe(url)}`,
    );
  }
  if (
    client !== undefined &&
    (client === null || typeof (client as { duplicate?: unknown }).duplicate !== 'function')
  ) {
    throw invalidArg(
      `Expected ${fn}() \`client\` to be a node-redis client (with duplicate()), got ${describe(client)}`,
    );
  }
  if ((client as { options?: { RESP?: number } } | undefined)?.options?.RESP === 3) {
    // The stream replies are read in their RESP2 shape (node-redis's default).
    throw invalidArg(
      `Expected ${fn}() \`client\` to speak RESP2 (node-redis's default), got a client made with RESP: 3`,
    );
  }
  return url !== undefined ? { url } : { client };
}

export function checkName(fn: string, name: string, value: unknown): void {
  if (typeof value !== 'string' || value === '') {
    throw invalidArg(
      `Expected ${fn}() \`${name}\` to be a non-empty string, got ${describe(value)}`,
    );
  }
}

/** An integer option of `fn()`: `fallback` when not given, else at least `min`. */
export function intOption(
  fn: string,
  name: string,
  value: unknown,
  fallback: number,
  min: number,
): number {
  return value === undefined ? fallback : checkInteger(`${fn}() ${name}`, value, min);
}
