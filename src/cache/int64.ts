/**
 * Decimal signed 64-bit integers for INCR, with Redis's rules (string2ll): an optional '-', then digits with no
 * leading zero ("0" itself excepted, "-0" rejected), no '+', no spaces, at most 20 characters, within int64.
 */

import { InvalidArgumentError } from '../errors';

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
/** "-9223372036854775808" */
const INT64_MAX_CHARS = 20;

/** Parse `len` bytes at `off`, or return null when they are not a canonical int64. */
export function parseInt64(buf: Uint8Array, off: number, len: number): bigint | null {
  if (len === 0 || len > INT64_MAX_CHARS) return null;
  let i = off;
  const end = off + len;
  const negative = buf[i] === 0x2d;
  if (negative) {
    i++;
    if (i === end) return null;
  }
  const first = buf[i]!;
  if (first === 0x30) return len === 1 ? 0n : null;
  if (first < 0x31 || first > 0x39) return null;
  // Up to 15 digits fit a double exactly; accumulate there and go to bigint once.
  let small = 0;
  let j = i;
  const smallEnd = Math.min(end, i + 15);
  for (; j < smallEnd; j++) {
    const d = buf[j]! - 0x30;
    if (d < 0 || d > 9) return null;
    small = small * 10 + d;
  }
  let value = BigInt(small);
  for (; j < end; j++) {
    const d = buf[j]! - 0x30;
    if (d < 0 || d > 9) return null;
    value = value * 10n + BigInt(d);
  }
  if (negative) value = -value;
  if (value < INT64_MIN || value > INT64_MAX) return null;
  return value;
}

/** A delta for incr: a safe-integer number or an int64 bigint; anything else is an InvalidArgumentError. */
export function toDelta(delta: unknown): bigint {
  if (typeof delta === 'bigint') {
    if (delta < INT64_MIN || delta > INT64_MAX) {
      throw new InvalidArgumentError(`delta ${delta} is outside the signed 64-bit range`);
    }
    return delta;
  }
  if (typeof delta === 'number') {
    if (!Number.isSafeInteger(delta)) {
      throw new InvalidArgumentError(`delta must be an integer (a safe integer number or a bigint), got ${delta}`);
    }
    return BigInt(delta);
  }
  throw new TypeError(`delta must be a number or a bigint, got ${typeof delta}`);
}
