/**
 * Bodies of the multi-key opcodes (docs/PROTOCOL.md, "MGET" and "MSET"):
 *   MGET request   count u32, then per key:   u16 key length, key bytes
 *   MSET request   count u32, then per entry: u16 key length, u32 value length, key bytes, value bytes
 *   MGET response  count u32, then per key:   u32 value length (0xFFFFFFFF = missing), value bytes
 * The server walks a body with a reused MultiKeyCursor (no allocation); clients build bodies with the
 * write and encode helpers and read an MGET response with decodeMgetResponse.
 */

import { KeyTooLargeError, ValueTooLargeError } from '../errors';
import { MAX_WIRE_KEY_BYTES, MAX_WIRE_VALUE_BYTES, MGET_MISSING } from './constants';
import { type Bytes, byteLength, copyBytes, writeBytes } from './encoder';

const EMPTY = Buffer.alloc(0);

// Manual big-endian reads: markedly faster than Buffer#readUInt32BE on this hot path; callers check bounds.
function u16(buf: Uint8Array, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

function u32(buf: Uint8Array, off: number): number {
  return buf[off]! * 0x1000000 + ((buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!);
}

export type MsetEntry = readonly [key: Bytes, value: Bytes];

export function mgetBodyLength(keys: readonly Bytes[]): number {
  let n = 4;
  for (const key of keys) n += 2 + byteLength(key);
  return n;
}

/** Writes an MGET request body at off; returns the offset after it. Reserve mgetBodyLength(keys) first. */
export function writeMgetBody(buf: Buffer, off: number, keys: readonly Bytes[]): number {
  buf.writeUInt32BE(keys.length, off);
  let p = off + 4;
  for (const key of keys) {
    const n = writeBytes(buf, p + 2, key);
    if (n > MAX_WIRE_KEY_BYTES) throw new KeyTooLargeError(n, MAX_WIRE_KEY_BYTES);
    buf.writeUInt16BE(n, p);
    p += 2 + n;
  }
  return p;
}

export function encodeMgetBody(keys: readonly Bytes[]): Buffer {
  const buf = Buffer.allocUnsafe(mgetBodyLength(keys));
  writeMgetBody(buf, 0, keys);
  return buf;
}

export function msetBodyLength(entries: readonly MsetEntry[]): number {
  let n = 4;
  for (const [key, value] of entries) n += 6 + byteLength(key) + byteLength(value);
  return n;
}

/** Writes an MSET request body at off; returns the offset after it. Reserve msetBodyLength(entries) first. */
export function writeMsetBody(buf: Buffer, off: number, entries: readonly MsetEntry[]): number {
  buf.writeUInt32BE(entries.length, off);
  let p = off + 4;
  for (const [key, value] of entries) {
    const k = writeBytes(buf, p + 6, key);
    if (k > MAX_WIRE_KEY_BYTES) throw new KeyTooLargeError(k, MAX_WIRE_KEY_BYTES);
    const v = writeBytes(buf, p + 6 + k, value);
    if (v > MAX_WIRE_VALUE_BYTES) throw new ValueTooLargeError(v, MAX_WIRE_VALUE_BYTES);
    buf.writeUInt16BE(k, p);
    buf.writeUInt32BE(v, p + 2);
    p += 6 + k + v;
  }
  return p;
}

export function encodeMsetBody(entries: readonly MsetEntry[]): Buffer {
  const buf = Buffer.allocUnsafe(msetBodyLength(entries));
  writeMsetBody(buf, 0, entries);
  return buf;
}

/** Size of an MGET response body for these values (null = missing). */
export function mgetResponseBodyLength(values: readonly (Uint8Array | null)[]): number {
  let n = 4;
  for (const v of values) n += 4 + (v === null ? 0 : v.length);
  return n;
}

/** Writes the count that starts an MGET response body; returns off + 4. */
export function writeMgetResponseCount(buf: Uint8Array, off: number, count: number): number {
  buf[off] = count >>> 24;
  buf[off + 1] = count >>> 16;
  buf[off + 2] = count >>> 8;
  buf[off + 3] = count;
  return off + 4;
}

/**
 * Writes one MGET response item: src[srcOffset, srcOffset + length), or "missing" when src is null. Returns the
 * offset after it. Reserve 4 + length bytes first.
 */
export function writeMgetResponseItem(
  buf: Uint8Array,
  off: number,
  src: Uint8Array | null,
  srcOffset = 0,
  length: number = src === null ? 0 : src.length - srcOffset,
): number {
  if (src === null) return writeMgetResponseCount(buf, off, MGET_MISSING);
  writeMgetResponseCount(buf, off, length);
  copyBytes(src, srcOffset, length, buf, off + 4);
  return off + 4 + length;
}

export function writeMgetResponseBody(buf: Uint8Array, off: number, values: readonly (Uint8Array | null)[]): number {
  let p = writeMgetResponseCount(buf, off, values.length);
  for (const v of values) p = writeMgetResponseItem(buf, p, v);
  return p;
}

export function encodeMgetResponseBody(values: readonly (Uint8Array | null)[]): Buffer {
  const buf = Buffer.allocUnsafe(mgetResponseBodyLength(values));
  writeMgetResponseBody(buf, 0, values);
  return buf;
}

/**
 * Walks a multi-key body in place. Reuse one per connection: begin*() then next*() until it returns false,
 * then `complete` tells whether the body held exactly `count` well-formed items (no overrun, nothing left over).
 * The offsets index `buffer` (the frame's buffer: valid only during the decoder's callback).
 */
export class MultiKeyCursor {
  buffer: Buffer = EMPTY;
  /** Item count from the body's first 4 bytes. */
  count = 0;
  /** Items read so far. */
  index = 0;
  keyOffset = 0;
  keyLength = 0;
  valueOffset = 0;
  /** Value length; -1 for a missing item of an MGET response. */
  valueLength = 0;
  private pos = 0;
  private end = 0;
  private broken = false;

  /** Starts a body; returns the count, or -1 when the body is shorter than its 4-byte count. */
  begin(buf: Buffer, off: number, len: number): number {
    this.buffer = buf;
    this.index = 0;
    this.pos = off + 4;
    this.end = off + len;
    this.keyOffset = this.keyLength = this.valueOffset = this.valueLength = 0;
    if (len < 4) {
      this.count = 0;
      this.broken = true;
      return -1;
    }
    this.broken = false;
    this.count = u32(buf, off);
    return this.count;
  }

  /** MGET request: the next key (keyOffset, keyLength). */
  nextKey(): boolean {
    if (this.broken || this.index >= this.count) return false;
    const p = this.pos;
    if (this.end - p < 2) return this.fail();
    const k = u16(this.buffer, p);
    if (this.end - p - 2 < k) return this.fail();
    this.keyOffset = p + 2;
    this.keyLength = k;
    this.pos = p + 2 + k;
    this.index++;
    return true;
  }

  /** MSET request: the next entry (keyOffset, keyLength, valueOffset, valueLength). */
  nextEntry(): boolean {
    if (this.broken || this.index >= this.count) return false;
    const p = this.pos;
    if (this.end - p < 6) return this.fail();
    const buf = this.buffer;
    const k = u16(buf, p);
    const v = u32(buf, p + 2);
    if (this.end - p - 6 < k + v) return this.fail();
    this.keyOffset = p + 6;
    this.keyLength = k;
    this.valueOffset = p + 6 + k;
    this.valueLength = v;
    this.pos = p + 6 + k + v;
    this.index++;
    return true;
  }

  /** MGET response: the next item (valueOffset, valueLength; valueLength -1 = missing). */
  nextItem(): boolean {
    if (this.broken || this.index >= this.count) return false;
    const p = this.pos;
    if (this.end - p < 4) return this.fail();
    const v = u32(this.buffer, p);
    if (v === MGET_MISSING) {
      this.valueOffset = p + 4;
      this.valueLength = -1;
      this.pos = p + 4;
    } else {
      if (this.end - p - 4 < v) return this.fail();
      this.valueOffset = p + 4;
      this.valueLength = v;
      this.pos = p + 4 + v;
    }
    this.index++;
    return true;
  }

  /** True once every counted item was read and the body ended exactly after the last one. */
  get complete(): boolean {
    return !this.broken && this.index === this.count && this.pos === this.end;
  }

  /** Drops the reference to the body's buffer. */
  release(): void {
    this.buffer = EMPTY;
  }

  private fail(): false {
    this.broken = true;
    return false;
  }
}

/** The keys of an MGET request body as views into buf, or null when the body is malformed. */
export function decodeMgetBody(buf: Buffer, off: number, len: number): Buffer[] | null {
  const c = new MultiKeyCursor();
  if (c.begin(buf, off, len) < 0) return null;
  const keys: Buffer[] = [];
  while (c.nextKey()) keys.push(buf.subarray(c.keyOffset, c.keyOffset + c.keyLength));
  return c.complete ? keys : null;
}

/** The entries of an MSET request body as views into buf, or null when the body is malformed. */
export function decodeMsetBody(buf: Buffer, off: number, len: number): Array<[key: Buffer, value: Buffer]> | null {
  const c = new MultiKeyCursor();
  if (c.begin(buf, off, len) < 0) return null;
  const entries: Array<[Buffer, Buffer]> = [];
  while (c.nextEntry()) {
    entries.push([buf.subarray(c.keyOffset, c.keyOffset + c.keyLength), buf.subarray(c.valueOffset, c.valueOffset + c.valueLength)]);
  }
  return c.complete ? entries : null;
}

/**
 * The values of an MGET response body (null = missing), or null when the body is malformed. The body is copied
 * once into a fresh Buffer and the values are views into that copy, so they outlive the decoder's callback.
 */
export function decodeMgetResponse(buf: Buffer, off: number, len: number): Array<Buffer | null> | null {
  if (len < 4) return null;
  const copy = Buffer.allocUnsafe(len);
  buf.copy(copy, 0, off, off + len);
  const c = new MultiKeyCursor();
  c.begin(copy, 0, len);
  // The count is untrusted: grow the array as items are actually read instead of preallocating count slots.
  const values: Array<Buffer | null> = [];
  while (c.nextItem()) values.push(c.valueLength < 0 ? null : copy.subarray(c.valueOffset, c.valueOffset + c.valueLength));
  return c.complete ? values : null;
}

/**
 * The one chunking rule for multi-key bodies, shared by the client (client/multi-plan.ts) and the key router
 * (routing/multi-route.ts): items in order, a new part when the next item would take the body (4 bytes of
 * count, then `sizes[i]` per item) past `limit` bytes or the part already holds `maxCount` items; an item too
 * big to share a part travels alone. Returns the end index (exclusive) of each part; none for no items.
 */
export function multiPartEnds(sizes: ArrayLike<number>, limit: number, maxCount = Number.POSITIVE_INFINITY): number[] {
  const ends: number[] = [];
  let body = 4;
  let items = 0;
  for (let i = 0; i < sizes.length; i++) {
    const size = sizes[i]!;
    if (items > 0 && (body + size > limit || items >= maxCount)) {
      ends.push(i);
      body = 4;
      items = 0;
    }
    body += size;
    items++;
  }
  if (items > 0) ends.push(sizes.length);
  return ends;
}
