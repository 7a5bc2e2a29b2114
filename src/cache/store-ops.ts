/**
 * The per-key operations under both of Store's API layers (store.ts), with the argument checks they share:
 * each runs on a key already hashed into this.keyHash, so a string key and a key given as a buffer range take
 * the same path. Also the open/closed state and the value-handle epoch (store.ts, "values handed out").
 */
import { KeyEmptyError, KeyTooLargeError, NotIntegerError, OverflowError, StoreClosedError, ValueTooLargeError } from '../errors';
import { INT64_MAX, INT64_MIN, parseInt64 } from './int64';
import { SLOT } from './slots';
import { StoreCore } from './store-core';
import { fingerprintOf } from './tombstones';

// Mode values as local constants (SetMode from another module costs a getter call per read under tsx).
const MODE_NX = 1;
const MODE_XX = 2;
const EMPTY = new Uint8Array(0);
const { STRIDE, REF, VLEN } = SLOT;
/** ASCII strings up to this length are written by a JS loop; longer ones by Buffer#write (native). */
const JS_WRITE_MAX = 24;

export class StoreOps extends StoreCore {
  protected closed = false;
  /** The store's epoch when lookup() last handed out a handle (checkHandle). */
  protected handleEpoch = -1;
  /** The current key's bytes (from offset 0) after hashKey(). */
  protected keyBuf: Uint8Array = EMPTY;

  /** Returns the chunk ref to write the value into, or -1 when the NX / XX condition failed. */
  protected put(kb: Uint8Array, ko: number, kl: number, h: number, vl: number, ttl: number, mode: number): number {
    const s = this.findLive(h, kb, ko, kl);
    if (mode === MODE_NX ? s >= 0 : mode === MODE_XX && s < 0) return -1;
    const versions = this.versions;
    return this.storeAt(s, h, kb, ko, kl, vl, ttl > 0 ? this.clock() + ttl : 0, versions.next(), versions.nodeTag);
  }

  protected lookupAt(kb: Uint8Array, ko: number, kl: number, h: number): number {
    const s = this.findLive(h, kb, ko, kl);
    if (s < 0) {
      this.misses++;
      return -1;
    }
    this.hits++;
    this.lru.mark(s);
    this.handleEpoch = this.epoch;
    return s;
  }

  protected deleteAt(kb: Uint8Array, ko: number, kl: number, h: number): boolean {
    const s = this.findLive(h, kb, ko, kl);
    // A delete is a write: while a copy of the key may still arrive, it leaves a tombstone even for an absent key.
    if (this.tombstoneFilter !== null && this.tombstoneFilter(kb, ko, kl)) {
      this.tombstones.add(fingerprintOf(h, kl), this.versions.next(), this.versions.nodeTag, this.clock());
    }
    if (s < 0) return false;
    this.removeItem(s);
    this.deletes++;
    return true;
  }

  protected touchAt(kb: Uint8Array, ko: number, kl: number, h: number, ttl: number): boolean {
    const s = this.findLive(h, kb, ko, kl);
    if (s < 0) return false;
    this.heap.set(s, ttl > 0 ? this.clock() + ttl : 0);
    this.lru.mark(s);
    // A new TTL is a write: a copy carrying the old one must not win over it.
    this.stamp(s * STRIDE, this.versions.next(), this.versions.nodeTag);
    return true;
  }

  protected ttlAt(kb: Uint8Array, ko: number, kl: number, h: number): number {
    const s = this.findLive(h, kb, ko, kl);
    if (s < 0) return -2;
    const t = this.heap.timeOf(s);
    return t === 0 ? -1 : Math.ceil(t - this.clock());
  }

  protected incrAt(kb: Uint8Array, ko: number, kl: number, h: number, delta: bigint): bigint {
    const s = this.findLive(h, kb, ko, kl);
    let current = 0n;
    let expireAt = 0;
    if (s >= 0) {
      const ref = this.slots.meta[s * STRIDE + REF]! >>> 0;
      const parsed = parseInt64(this.slab.pageOf(ref), this.slab.offsetOf(ref) + kl, this.slots.meta[s * STRIDE + VLEN]!);
      if (parsed === null) throw new NotIntegerError();
      current = parsed;
      expireAt = this.heap.timeOf(s);
    }
    const result = current + delta;
    if (result < INT64_MIN || result > INT64_MAX) throw new OverflowError();
    const text = result.toString();
    if (text.length > this.maxValueBytes) throw new ValueTooLargeError(text.length, this.maxValueBytes);
    const ref = this.storeAt(s, h, kb, ko, kl, text.length, expireAt, this.versions.next(), this.versions.nodeTag);
    writeAscii(text, this.slab.pageOf(ref), this.slab.offsetOf(ref) + kl);
    return result;
  }

  protected checkHandle(handle: number): void {
    if ((handle | 0) !== handle || this.epoch !== this.handleEpoch || !this.slots.isLive(handle)) {
      throw new RangeError('stale or invalid value handle: copy the value right after lookup(), before any other store call');
    }
  }

  protected checkOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }

  protected checkKeyRange(kb: Uint8Array, ko: number, kl: number): void {
    if (!(kb instanceof Uint8Array)) throw new TypeError(`key buffer must be a Buffer or Uint8Array, got ${typeName(kb)}`);
    if (!(ko >= 0 && kl >= 0 && ko + kl <= kb.length) || !Number.isInteger(ko) || !Number.isInteger(kl)) {
      throw new RangeError(`key range [${ko}, ${ko} + ${kl}) is outside the buffer of ${kb.length} bytes`);
    }
    if (kl === 0) throw new KeyEmptyError();
    if (kl > this.maxKeyBytes) throw new KeyTooLargeError(kl, this.maxKeyBytes);
  }

  protected checkValueRange(vb: Uint8Array, vo: number, vl: number): void {
    if (!(vb instanceof Uint8Array)) throw new TypeError(`value buffer must be a Buffer or Uint8Array, got ${typeName(vb)}`);
    if (!(vo >= 0 && vl >= 0 && vo + vl <= vb.length) || !Number.isInteger(vo) || !Number.isInteger(vl)) {
      throw new RangeError(`value range [${vo}, ${vo} + ${vl}) is outside the buffer of ${vb.length} bytes`);
    }
    if (vl > this.maxValueBytes) throw new ValueTooLargeError(vl, this.maxValueBytes);
  }

  /**
   * Check a string or Buffer key and hash it. Its bytes are then in this.keyBuf from offset 0 (the Buffer itself,
   * or the UTF-8 of the string in keyHash.bytes), its length in keyHash.length.
   */
  protected hashKey(key: unknown): number {
    const keyHash = this.keyHash;
    if (typeof key === 'string') {
      const n = key.length;
      if (n === 0) throw new KeyEmptyError();
      // Every UTF-16 unit is at least one UTF-8 byte.
      if (n > this.maxKeyBytes) throw new KeyTooLargeError(Buffer.byteLength(key, 'utf8'), this.maxKeyBytes);
      const h = keyHash.hashString(key);
      if (keyHash.length > this.maxKeyBytes) throw new KeyTooLargeError(keyHash.length, this.maxKeyBytes);
      this.keyBuf = keyHash.bytes;
      return h;
    }
    if (key instanceof Uint8Array) {
      const n = key.length;
      if (n === 0) throw new KeyEmptyError();
      if (n > this.maxKeyBytes) throw new KeyTooLargeError(n, this.maxKeyBytes);
      this.keyBuf = key;
      return keyHash.hashBytes(key, 0, n);
    }
    throw new TypeError(`key must be a string or Buffer, got ${typeName(key)}`);
  }
}

/** Write an ASCII string's bytes (the caller knows its UTF-8 length equals its length). */
export function writeAscii(s: string, dst: Buffer, off: number): void {
  const n = s.length;
  if (n > JS_WRITE_MAX) dst.write(s, off, n, 'latin1');
  else for (let i = 0; i < n; i++) dst[off + i] = s.charCodeAt(i);
}

export function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}
