import { describe, invalidArg, outOfRange } from '../errors/errors';

/**
 * Eager option checks. Every message names the option, the expected range and what was
 * received, so a mistake is fixed from the message alone.
 */

export function checkInteger(
  name: string,
  value: unknown,
  min: number,
  allowInfinity = false,
): number {
  if (
    typeof value !== 'number' ||
    !(Number.isInteger(value) || (allowInfinity && value === Infinity)) ||
    value < min
  ) {
    const range = `an integer from ${min} and up${allowInfinity ? ' or Infinity' : ''}`;
    const msg = `Expected \`${name}\` to be ${range}, got ${describe(value)}`;
    throw typeof value === 'number' ? outOfRange(msg) : invalidArg(msg);
  }
  return value;
}

export function checkFunction(name: string, value: unknown): void {
  if (typeof value !== 'function') {
    throw invalidArg(`Expected \`${name}\` to be a function, got ${describe(value)}`);
  }
}

export function checkOptionalFunction(name: string, value: unknown): void {
  if (value !== undefined) checkFunction(name, value);
}

export function checkBoolean(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'boolean') {
    throw invalidArg(`Expected \`${name}\` to be a boolean, got ${describe(value)}`);
  }
}

export function checkRetryDelay(name: string, value: unknown): void {
  if (value === undefined || typeof value === 'function') return;
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
    throw invalidArg(
      `Expected \`${name}\` to be a number of milliseconds >= 0 or a function of the attempt, got ${describe(value)}`,
    );
  }
}

export function checkSignal(name: string, value: unknown): void {
  if (
    value !== undefined &&
    (value === null ||
      typeof value !== 'object' ||
      typeof (value as AbortSignal).aborted !== 'boolean' ||
      typeof (value as AbortSignal).addEventListener !== 'function')
  ) {
    throw invalidArg(`Expected \`${name}\` to be an AbortSignal, got ${describe(value)}`);
  }
}

/** Rejects keys that are not in `known`: a typo in an option must not be silently ignored. */
export function checkKnownKeys(where: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw invalidArg(
        `Unknown option \`${key}\` in ${where}; expected one of: ${known.map((k) => `\`${k}\``).join(', ')}`,
      );
    }
  }
}

export function checkPlainObject(name: string, value: unknown): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArg(`Expected \`${name}\` to be an options object, got ${describe(value)}`);
  }
}

export function checkProgress(name: string, value: unknown): void {
  if (value === undefined || typeof value === 'boolean') return;
  if (
    value === null ||
    typeof value !== 'object' ||
    typeof (value as NodeJS.WritableStream).write !== 'function'
  ) {
    throw invalidArg(
      `Expected \`${name}\` to be a boolean or a writable stream, got ${describe(value)}`,
    );
  }
}

export function checkStepName(name: string, value: unknown): void {
  if (value !== undefined && (typeof value !== 'string' || value === '')) {
    throw invalidArg(`Expected \`${name}\` to be a non-empty string, got ${describe(value)}`);
  }
}
