/**
 * Argument helpers for the commands (case-insensitive keyword matching on bytes, Redis's integer rules) and
 * the error replies worded exactly as Redis 7 words them.
 */
import { DCacheError, KeyEmptyError, NotIntegerError, OutOfMemoryError, OverflowError } from '../errors';
import { parseInt64 } from '../cache/int64';
import type { RespArgs } from './backend';

export const ERR_SYNTAX = 'ERR syntax error';
export const ERR_NOT_INTEGER = 'ERR value is not an integer or out of range';
export const ERR_OVERFLOW = 'ERR increment or decrement would overflow';

/** Largest TTL passed on, in ms (exact in a double); longer ones are clamped to it. */
export const MAX_TTL_MS = Number.MAX_SAFE_INTEGER;
/** LLONG_MAX as a double (2^63, the nearest one), for Redis's overflow checks on expire times. */
const LLONG_MAX = 2 ** 63;

export function arityError(name: string): string {
  return `ERR wrong number of arguments for '${name}' command`;
}

export function expireTimeError(name: string): string {
  return `ERR invalid expire time in '${name}' command`;
}

/** Redis 7's reply to an unknown command: the name and up to ~128 bytes of arguments, each quoted. */
export function unknownCommandError(a: RespArgs): string {
  let args = '';
  for (let i = 1; i < a.argc && args.length < 128; i++) args += `'${argString(a, i, 128 - args.length)}' `;
  return `ERR unknown command '${argString(a, 0, 128)}', with args beginning with: ${args}`;
}

export function unknownSubcommandError(a: RespArgs, container: string): string {
  return `ERR unknown subcommand '${argString(a, 1, 128)}'. Try ${container.toUpperCase()} HELP.`;
}

/** The error reply for something a command or backend threw. */
export function errorReply(error: unknown): string {
  if (error instanceof NotIntegerError) return ERR_NOT_INTEGER;
  if (error instanceof OverflowError) return ERR_OVERFLOW;
  if (error instanceof OutOfMemoryError) return `OOM command not allowed: ${error.message}`;
  if (error instanceof KeyEmptyError) return 'ERR empty keys are not supported';
  if (error instanceof DCacheError) return `ERR ${error.message}`;
  return `ERR internal error: ${error instanceof Error ? error.message : String(error)}`;
}

/** Argument i equals `word` (lower-case ASCII letters) ignoring case. */
export function argIs(a: RespArgs, i: number, word: string): boolean {
  const n = word.length;
  if (a.lens[i] !== n) return false;
  const buf = a.bufs[i]!;
  const off = a.offs[i]!;
  for (let k = 0; k < n; k++) if ((buf[off + k]! | 0x20) !== word.charCodeAt(k)) return false;
  return true;
}

/** Argument i as a string, one char per byte (latin1), at most `max` chars. */
export function argString(a: RespArgs, i: number, max = Infinity): string {
  const off = a.offs[i]!;
  return a.bufs[i]!.toString('latin1', off, off + Math.min(a.lens[i]!, max));
}

/** Argument i as lower-case text (subcommand and option names, INFO sections). */
export function argLower(a: RespArgs, i: number): string {
  return argString(a, i).toLowerCase();
}

/**
 * Argument i as an integer under Redis's string2ll rules (optional '-', digits, no leading zero, no '+' or
 * spaces, within int64), or NaN. Values past 2^53 come back rounded, which the callers only compare or clamp.
 */
export function argInt(a: RespArgs, i: number): number {
  const buf = a.bufs[i]!;
  const off = a.offs[i]!;
  const len = a.lens[i]!;
  if (len === 0 || len > 15) {
    const big = len === 0 ? null : parseInt64(buf, off, len);
    return big === null ? NaN : Number(big);
  }
  let p = off;
  const end = off + len;
  const negative = buf[p] === 0x2d;
  if (negative && ++p === end) return NaN;
  if (buf[p] === 0x30) return end - p === 1 && !negative ? 0 : NaN;
  let n = 0;
  for (; p < end; p++) {
    const d = buf[p]! - 0x30;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return negative ? -n : n;
}

/** Argument i as an exact int64, or null. */
export function argBigInt(a: RespArgs, i: number): bigint | null {
  return parseInt64(a.bufs[i]!, a.offs[i]!, a.lens[i]!);
}

/**
 * An expire argument as Redis's getExpireMillisecondsOrReply reads it (SET EX/PX/EXAT/PXAT, SETEX, PSETEX,
 * GETEX): a positive integer, in seconds or ms, relative or absolute (unix time). Returns the TTL relative to
 * now in ms (−1 when an absolute time is already past), or an error string.
 */
export function expireArg(a: RespArgs, i: number, seconds: boolean, absolute: boolean, now: number, command: string): number | string {
  const v = argInt(a, i);
  if (Number.isNaN(v)) return ERR_NOT_INTEGER;
  if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) return expireTimeError(command);
  const ms = seconds ? v * 1000 : v;
  if (!absolute) {
    if (ms > LLONG_MAX - now) return expireTimeError(command);
    return Math.min(ms, MAX_TTL_MS);
  }
  const ttl = ms - now;
  return ttl <= 0 ? -1 : Math.min(ttl, MAX_TTL_MS);
}

/**
 * EXPIRE's time argument (may be zero or negative: the key is then deleted). Relative ms, −1 for "already past".
 * Redis 7.0's range checks, in exact int64 arithmetic (doubles cannot tell LLONG_MIN / 1000 from its neighbours):
 * seconds outside [LLONG_MIN / 1000, LLONG_MAX / 1000] (C division, toward zero), or a time past LLONG_MAX once
 * the current time is added, are refused and the key is left as it was.
 */
export function expireCommandArg(
  a: RespArgs,
  i: number,
  seconds: boolean,
  absolute: boolean,
  now: number,
  command: string,
): number | string {
  const v = argBigInt(a, i);
  if (v === null) return ERR_NOT_INTEGER;
  if (seconds && (v > INT64_MAX / 1000n || v < INT64_MIN / 1000n)) return expireTimeError(command);
  const ms = seconds ? v * 1000n : v;
  const nowMs = BigInt(Math.floor(now));
  if (ms > INT64_MAX - (absolute ? 0n : nowMs)) return expireTimeError(command);
  const ttl = absolute ? ms - nowMs : ms;
  return ttl <= 0n ? -1 : Number(ttl > BigInt(MAX_TTL_MS) ? BigInt(MAX_TTL_MS) : ttl);
}

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/** Client and library names: printable ASCII without spaces (CLIENT SETNAME's rule). */
export function isValidName(a: RespArgs, i: number): boolean {
  const buf = a.bufs[i]!;
  const off = a.offs[i]!;
  for (let k = 0; k < a.lens[i]!; k++) {
    const c = buf[off + k]!;
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}
