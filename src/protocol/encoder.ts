/**
 * Pure frame writers. The `write*` functions write into a caller-provided Buffer at an offset and return the
 * offset after what they wrote; they never allocate, so the server and client can pack many frames into one
 * buffer (see OutputBatch). The caller reserves room first (`requestLength`, `HEADER_SIZE + valueLength`).
 * The `encode*` functions allocate one Buffer per frame: for tests, tools and cold paths.
 */

import { KeyTooLargeError, ValueTooLargeError } from '../errors';
import { HEADER_SIZE, MAX_WIRE_KEY_BYTES, MAX_WIRE_VALUE_BYTES, PROTOCOL_VERSION, REQUEST_MAGIC, RESPONSE_MAGIC } from './constants';

/** Key or value bytes as callers hold them: strings travel as UTF-8. */
export type Bytes = string | Uint8Array;

const TWO_32 = 4294967296;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * Writes the 8-byte extras field. A number must be a safe integer (negative numbers are written in two's
 * complement, e.g. -1 → ff…ff); a bigint may be anything in [-2^63, 2^64 - 1].
 */
export function writeExtras(buf: Uint8Array, off: number, extras: number | bigint): void {
  if (extras === 0) {
    buf[off] = 0;
    buf[off + 1] = 0;
    buf[off + 2] = 0;
    buf[off + 3] = 0;
    buf[off + 4] = 0;
    buf[off + 5] = 0;
    buf[off + 6] = 0;
    buf[off + 7] = 0;
    return;
  }
  let hi: number;
  let lo: number;
  if (typeof extras === 'number') {
    if (!Number.isSafeInteger(extras)) throw new RangeError(`extras must be a safe integer or a bigint, got ${extras}`);
    hi = Math.floor(extras / TWO_32);
    lo = extras - hi * TWO_32;
    hi >>>= 0;
  } else {
    if (extras < INT64_MIN || extras > UINT64_MAX) throw new RangeError(`extras ${extras} does not fit in 64 bits`);
    const u = BigInt.asUintN(64, extras);
    hi = Number(u >> 32n);
    lo = Number(u & 0xffffffffn);
  }
  writeU32(buf, off, hi);
  writeU32(buf, off + 4, lo);
}

function writeU32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v >>> 24;
  buf[off + 1] = v >>> 16;
  buf[off + 2] = v >>> 8;
  buf[off + 3] = v;
}

/** Writes a 24-byte request header; returns off + 24. The body (key, then value) goes right after it. */
export function writeRequestHeader(
  buf: Uint8Array,
  off: number,
  opcode: number,
  flags: number,
  requestId: number,
  keyLength: number,
  valueLength: number,
  extras: number | bigint = 0,
): number {
  buf[off] = REQUEST_MAGIC;
  buf[off + 1] = PROTOCOL_VERSION;
  buf[off + 2] = opcode;
  buf[off + 3] = flags;
  writeU32(buf, off + 4, requestId);
  buf[off + 8] = keyLength >>> 8;
  buf[off + 9] = keyLength;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  writeU32(buf, off + 12, valueLength);
  writeExtras(buf, off + 16, extras);
  return off + HEADER_SIZE;
}

/** Writes a 24-byte response header; returns off + 24. The value goes right after it. */
export function writeResponseHeader(
  buf: Uint8Array,
  off: number,
  opcode: number,
  status: number,
  requestId: number,
  epoch: number,
  valueLength: number,
  extras: number | bigint = 0,
): number {
  buf[off] = RESPONSE_MAGIC;
  buf[off + 1] = PROTOCOL_VERSION;
  buf[off + 2] = opcode;
  buf[off + 3] = status;
  writeU32(buf, off + 4, requestId);
  writeU32(buf, off + 8, epoch);
  writeU32(buf, off + 12, valueLength);
  writeExtras(buf, off + 16, extras);
  return off + HEADER_SIZE;
}

/** Copies src[srcOff, srcOff + len) to dst at dstOff; a byte loop for short runs beats the native call. */
export function copyBytes(src: Uint8Array, srcOff: number, len: number, dst: Uint8Array, dstOff: number): void {
  if (len <= 32) {
    for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i]!;
  } else {
    dst.set(src.subarray(srcOff, srcOff + len), dstOff);
  }
}

/** UTF-8 byte length of a string, or the length of a byte array. */
export function byteLength(b: Bytes | null | undefined): number {
  if (b == null) return 0;
  return typeof b === 'string' ? Buffer.byteLength(b, 'utf8') : b.length;
}

/** Writes bytes or a string (as UTF-8) at off; returns the number of bytes written. Room must be reserved. */
export function writeBytes(buf: Buffer, off: number, b: Bytes): number {
  if (typeof b === 'string') return buf.write(b, off, 'utf8');
  copyBytes(b, 0, b.length, buf, off);
  return b.length;
}

/** Total size of a request frame with this key and value. */
export function requestLength(key: Bytes | null | undefined, value: Bytes | null | undefined): number {
  return HEADER_SIZE + byteLength(key) + byteLength(value);
}

/**
 * Writes a whole request frame (header, key, value) at off; returns the offset after it. Reserve
 * `requestLength(key, value)` bytes first. Throws KeyTooLargeError when the key does not fit the u16 field.
 */
/** Writes a request's key at off (nothing for null); returns its length in bytes, checked against the wire limit. */
function writeKey(buf: Buffer, off: number, key: Bytes | null | undefined): number {
  const keyLength = key == null ? 0 : writeBytes(buf, off, key);
  if (keyLength > MAX_WIRE_KEY_BYTES) throw new KeyTooLargeError(keyLength, MAX_WIRE_KEY_BYTES);
  return keyLength;
}

export function writeRequest(
  buf: Buffer,
  off: number,
  opcode: number,
  flags: number,
  requestId: number,
  key: Bytes | null | undefined,
  value: Bytes | null | undefined,
  extras: number | bigint = 0,
): number {
  let p = off + HEADER_SIZE;
  const keyLength = writeKey(buf, p, key);
  p += keyLength;
  const valueLength = value == null ? 0 : writeBytes(buf, p, value);
  if (valueLength > MAX_WIRE_VALUE_BYTES) throw new ValueTooLargeError(valueLength, MAX_WIRE_VALUE_BYTES);
  writeRequestHeader(buf, off, opcode, flags, requestId, keyLength, valueLength, extras);
  return p + valueLength;
}

/**
 * Writes a request's header and key for a value the caller sends separately (by reference, right after);
 * returns the offset after the key.
 */
export function writeRequestHead(
  buf: Buffer,
  off: number,
  opcode: number,
  flags: number,
  requestId: number,
  key: Bytes | null | undefined,
  value: Uint8Array,
  extras: number | bigint = 0,
): number {
  const p = off + HEADER_SIZE;
  const keyLength = writeKey(buf, p, key);
  if (value.length > MAX_WIRE_VALUE_BYTES) throw new ValueTooLargeError(value.length, MAX_WIRE_VALUE_BYTES);
  writeRequestHeader(buf, off, opcode, flags, requestId, keyLength, value.length, extras);
  return p + keyLength;
}

/**
 * Writes a whole response frame at off; returns the offset after it. The value is `value[valueOffset,
 * valueOffset + valueLength)` (a slab page, a chunk…), or nothing when value is null. Reserve
 * HEADER_SIZE + valueLength bytes first.
 */
export function writeResponse(
  buf: Uint8Array,
  off: number,
  opcode: number,
  status: number,
  requestId: number,
  epoch: number,
  extras: number | bigint,
  value: Uint8Array | null,
  valueOffset = 0,
  valueLength: number = value === null ? 0 : value.length - valueOffset,
): number {
  const p = writeResponseHeader(buf, off, opcode, status, requestId, epoch, valueLength, extras);
  if (valueLength > 0 && value !== null) copyBytes(value, valueOffset, valueLength, buf, p);
  return p + valueLength;
}

/** Writes a response whose value is a string (an error message, STATS JSON); returns the offset after it. */
export function writeResponseString(
  buf: Buffer,
  off: number,
  opcode: number,
  status: number,
  requestId: number,
  epoch: number,
  text: string,
  extras: number | bigint = 0,
): number {
  const n = buf.write(text, off + HEADER_SIZE, 'utf8');
  writeResponseHeader(buf, off, opcode, status, requestId, epoch, n, extras);
  return off + HEADER_SIZE + n;
}

export interface RequestSpec {
  opcode: number;
  requestId: number;
  flags?: number;
  key?: Bytes | null;
  value?: Bytes | null;
  /** TTL in ms (SET, TOUCH, MSET) or the delta (INCR). */
  extras?: number | bigint;
}

export interface ResponseSpec {
  opcode: number;
  status: number;
  requestId: number;
  epoch?: number;
  value?: Bytes | null;
  /** PTTL (TTL) or the new value (INCR). */
  extras?: number | bigint;
}

/** One request frame in a fresh Buffer. */
export function encodeRequest(spec: RequestSpec): Buffer {
  const buf = Buffer.allocUnsafe(requestLength(spec.key, spec.value));
  writeRequest(buf, 0, spec.opcode, spec.flags ?? 0, spec.requestId, spec.key, spec.value, spec.extras ?? 0);
  return buf;
}

/** One response frame in a fresh Buffer. */
export function encodeResponse(spec: ResponseSpec): Buffer {
  const value = spec.value ?? null;
  const valueLength = byteLength(value);
  const buf = Buffer.allocUnsafe(HEADER_SIZE + valueLength);
  writeResponseHeader(buf, 0, spec.opcode, spec.status, spec.requestId, spec.epoch ?? 0, valueLength, spec.extras ?? 0);
  if (value !== null) writeBytes(buf, HEADER_SIZE, value);
  return buf;
}
