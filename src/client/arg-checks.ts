/**
 * Client-side argument checks. Each returns the error to reject with (or null / the parsed value), never
 * throws: the Client turns a bad argument into a rejected promise so every method fails the same way.
 * Wrong types are TypeErrors naming the argument; right type, unusable value: a typed DCacheError.
 * The hot path (a short string or Buffer key) costs a typeof and a length comparison.
 */
import { InvalidArgumentError, KeyEmptyError, KeyTooLargeError, ValueTooLargeError } from '../errors';
import { MAX_TTL_MS, MAX_WIRE_KEY_BYTES, MAX_WIRE_VALUE_BYTES, SetMode } from '../protocol/constants';
import { describe } from './node-address';

/** A key or value as callers pass it: strings travel as UTF-8. */
export type Bytes = string | Uint8Array;

/** Local copy: tsx compiles imported constants to getter calls (see connection.ts, `hot`). */
const MAX_KEY = MAX_WIRE_KEY_BYTES;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Null when key is a usable key (1 to 65535 bytes on the wire). */
export function keyError(key: unknown, name = 'key'): Error | null {
  if (typeof key === 'string') {
    const n = key.length;
    if (n === 0) return new KeyEmptyError();
    // A UTF-16 code unit is 1 to 3 UTF-8 bytes: only long strings need their exact byte length.
    if (n * 3 <= MAX_KEY) return null;
    const bytes = n > MAX_WIRE_KEY_BYTES ? n : Buffer.byteLength(key, 'utf8');
    return bytes > MAX_WIRE_KEY_BYTES ? new KeyTooLargeError(bytes, MAX_WIRE_KEY_BYTES) : null;
  }
  if (key instanceof Uint8Array) {
    if (key.length === 0) return new KeyEmptyError();
    return key.length > MAX_KEY ? new KeyTooLargeError(key.length, MAX_KEY) : null;
  }
  return new TypeError(`${name} must be a string or Buffer, got ${describe(key)}`);
}

/** Null when value is a usable value (string or bytes, at most 2^32 - 1 bytes on the wire). */
export function valueError(value: unknown, name = 'value'): Error | null {
  if (typeof value === 'string') {
    if (value.length * 3 <= MAX_WIRE_VALUE_BYTES) return null;
    const bytes = Buffer.byteLength(value, 'utf8');
    return bytes > MAX_WIRE_VALUE_BYTES ? new ValueTooLargeError(bytes, MAX_WIRE_VALUE_BYTES) : null;
  }
  if (value instanceof Uint8Array) {
    return value.length > MAX_WIRE_VALUE_BYTES ? new ValueTooLargeError(value.length, MAX_WIRE_VALUE_BYTES) : null;
  }
  return new TypeError(`${name} must be a string or Buffer, got ${describe(value)}`);
}

/** Null when ttl is a TTL in ms: an integer in [0, 2^53 - 1] (0 = no expiry), or undefined when optional. */
export function ttlError(ttl: unknown, name: string, optional: boolean): Error | null {
  if (ttl === undefined && optional) return null;
  if (typeof ttl !== 'number') {
    return new TypeError(`${name} must be a number of milliseconds${optional ? ' or undefined' : ''}, got ${describe(ttl)}`);
  }
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL_MS) {
    return new InvalidArgumentError(`${name} must be an integer number of milliseconds in [0, ${MAX_TTL_MS}] (0 = no expiry), got ${ttl}`);
  }
  return null;
}

/** The SET mode code for 'set' | 'nx' | 'xx' (undefined = 'set'), or the error. */
export function parseMode(mode: unknown): number | Error {
  if (mode === undefined || mode === 'set') return SetMode.SET;
  if (mode === 'nx') return SetMode.NX;
  if (mode === 'xx') return SetMode.XX;
  if (typeof mode !== 'string') return new TypeError(`options.mode must be 'set', 'nx' or 'xx', got ${describe(mode)}`);
  return new InvalidArgumentError(`options.mode must be 'set', 'nx' or 'xx', got ${JSON.stringify(mode)}`);
}

/** Null when by is an INCR delta: a safe-integer number or a bigint in the signed 64-bit range. */
export function deltaError(by: unknown): Error | null {
  if (typeof by === 'number') {
    return Number.isSafeInteger(by)
      ? null
      : new InvalidArgumentError(`by must be a safe integer (or a bigint for larger deltas), got ${by}`);
  }
  if (typeof by === 'bigint') {
    return by >= INT64_MIN && by <= INT64_MAX ? null : new InvalidArgumentError(`by must fit in a signed 64-bit integer, got ${by}`);
  }
  return new TypeError(`by must be a number or a bigint, got ${describe(by)}`);
}

/** Null when options is undefined or a plain object. */
export function optionsError(options: unknown, name = 'options'): Error | null {
  if (options === undefined) return null;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    return new TypeError(`${name} must be an object or undefined, got ${describe(options)}`);
  }
  return null;
}

/** The UTF-8 length of a string, or the byte length of a buffer. */
export function wireLength(b: Bytes): number {
  return typeof b === 'string' ? Buffer.byteLength(b, 'utf8') : b.length;
}

/** Room to reserve for b on the wire without measuring it: exact for bytes, an upper bound for short strings. */
export function roomFor(b: Bytes): number {
  if (typeof b !== 'string') return b.length;
  // 3 bytes per UTF-16 code unit bounds the UTF-8 size; measure long strings instead of over-reserving.
  return b.length <= 1024 ? b.length * 3 : Buffer.byteLength(b, 'utf8');
}
