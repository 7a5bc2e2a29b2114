/**
 * The cache store: slab pages, a typed-array index, a min-heap for expiry, a byte limit with per-class LRU
 * eviction (docs/ARCHITECTURE.md, Decisions, "Store"). The machinery is in store-core.ts, the per-key
 * operations both API layers share and their argument checks in store-ops.ts; this file is the public API.
 *
 * VALUES HANDED OUT — the rule that keeps bytes on the wire correct:
 *   - get() returns a COPY (a fresh Buffer); it stays valid forever.
 *   - copyValue() / getInto() write the value into the CALLER's buffer, synchronously.
 *   - pinValue() is the one view into slab memory: the chunk is pinned, and the store writes nothing into it (no
 *     free-list link, no overwrite in place, no page reuse) until the pin is released (chunk-pins.ts). The server
 *     answers GETs of large values with it: the socket reads the value straight from the page.
 *   - No other method hands out a view into slab memory. A handle from lookup() is a slot number, valid only until the
 *     next call that changes the store (set*, delete*, incr*, touch*, flush, expireDue, eviction inside a set):
 *     a chunk freed or overwritten by such a call may be reused at once, and freeing writes into it. So the
 *     server must copy the value into its output batch right after lookup(), before any other store call, and
 *     never queue a handle across an await. copyValue() throws RangeError on a handle it can tell is stale.
 *
 * Two API layers with identical semantics:
 *   - strings and Buffers: set/get/delete/touch/ttl/incr (strings are UTF-8; keys and values are binary-safe);
 *   - zero-allocation entry points for the server, with the key as (buffer, offset, length), typically a view
 *     into a socket read buffer: lookup/valueLength/copyValue/getInto, setFrom, deleteFrom, touchFrom, ttlFrom,
 *     incrFrom. The key bytes are copied into the slab by a set; the caller's buffer is never retained.
 * The first layer is a thin wrapper: a string key is hashed straight from its char codes when it is ASCII (else
 * encoded into a reused scratch buffer), a Buffer key in place; then both layers run the same code.
 *
 * TTLs are integer milliseconds on the injected clock (default Date.now); 0 means no expiry. An item whose expiry
 * time is ≤ now is gone: reads check lazily, and a timer (unref'd, every expiryIntervalMs) removes due items in
 * slices of at most ~1 ms, continuing with setImmediate while more are due. expireDue() runs the same removal
 * on demand, so tests with a fake clock expire deterministically.
 */

import { InvalidArgumentError, ValueTooLargeError } from '../errors';
import { toDelta } from './int64';
import { ExpiryTimer } from './expiry-timer';
import { SLOT } from './slots';
import { INITIAL_SLOTS } from './store-core';
import { StoreCopies } from './store-copies';
import { typeName, writeAscii } from './store-ops';
import {
  checkMode,
  checkTtl,
  modeFromName,
  resolveOptions,
  SetMode,
  type SetModeName,
  type SetModeValue,
  type SetOptions,
  type StoreOptions,
  type StoreStats,
} from './store-options';

/** A value's bytes in place and the release of its pin (Store.pinValue). */
export interface PinnedValue {
  view: Buffer;
  release: () => void;
}

export { SetMode, type SetModeName, type SetModeValue, type SetOptions, type StoreOptions, type StoreStats };

// Mode values as local constants (SetMode from another module costs a getter call per read under tsx).
const MODE_SET = 0;
const MODE_NX = 1;
const MODE_XX = 2;
const { STRIDE, REF, KEY, VLEN, KEY_MASK } = SLOT;

export class Store extends StoreCopies {
  private readonly timer: ExpiryTimer;

  constructor(options?: StoreOptions) {
    const o = resolveOptions(options);
    super(o);
    this.timer = new ExpiryTimer(o.expiryIntervalMs, (n) => this.expireBatch(n), o.onSweep);
  }

  /** Live items (expired items not yet reclaimed included until a read or a sweep finds them). */
  get size(): number {
    return this.slots.count;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---- zero-allocation entry points (server) ----

  /**
   * Find a live item: returns a handle (≥ 0), or -1 when absent or expired. Counts a hit or miss and marks the
   * item used (see lru.ts). The handle is valid only until the next call that changes the store (see the top).
   */
  lookup(keyBuf: Uint8Array, keyOff: number, keyLen: number): number {
    this.checkOpen();
    this.checkKeyRange(keyBuf, keyOff, keyLen);
    return this.lookupAt(keyBuf, keyOff, keyLen, this.keyHash.hashBytes(keyBuf, keyOff, keyLen));
  }

  /** Byte length of the value behind a handle from lookup(). */
  valueLength(handle: number): number {
    this.checkHandle(handle);
    return this.slots.meta[handle * STRIDE + VLEN]!;
  }

  /** Copy the value behind a handle into target at targetOffset; returns its length. RangeError if no room. */
  copyValue(handle: number, target: Uint8Array, targetOffset = 0): number {
    this.checkHandle(handle);
    const meta = this.slots.meta;
    const b = handle * STRIDE;
    const vl = meta[b + VLEN]!;
    if (!(targetOffset >= 0 && targetOffset + vl <= target.length)) {
      throw new RangeError(`a ${vl} byte value does not fit at offset ${targetOffset} of a ${target.length} byte buffer`);
    }
    this.copyOut(meta[b + REF]! >>> 0, meta[b + KEY]! & KEY_MASK, target, targetOffset, vl);
    return vl;
  }

  /**
   * The value behind a handle as a view of its chunk, with the chunk pinned until `release` is called: call it
   * exactly once, when nothing reads the view any more (a socket write's completion callback). Meanwhile the item
   * may be overwritten, deleted or evicted as usual; only the chunk's reuse waits. Null when pinned chunks
   * already take their share of the memory limit (an eighth): copy the value instead.
   */
  pinValue(handle: number): PinnedValue | null {
    this.checkHandle(handle);
    const meta = this.slots.meta;
    const b = handle * STRIDE;
    const ref = meta[b + REF]! >>> 0;
    const chunkBytes = this.slab.pageChunkSize[ref >>> this.slab.chunkBits]!;
    if (!this.pins.canPin(ref, chunkBytes)) return null;
    const start = this.slab.offsetOf(ref) + (meta[b + KEY]! & KEY_MASK);
    const view = this.slab.pageOf(ref).subarray(start, start + meta[b + VLEN]!);
    return { view, release: this.pins.pin(ref, chunkBytes).release };
  }

  /** lookup + a copy of the value into a fresh Buffer (null when absent): get() for a key given as a range. */
  getCopy(keyBuf: Uint8Array, keyOff: number, keyLen: number): Buffer | null {
    const h = this.lookup(keyBuf, keyOff, keyLen);
    if (h < 0) return null;
    const out = Buffer.allocUnsafe(this.valueLength(h));
    this.copyValue(h, out, 0);
    return out;
  }

  /** lookup + copyValue: the value's length, or -1 when absent. RangeError (hit counted) if it does not fit. */
  getInto(keyBuf: Uint8Array, keyOff: number, keyLen: number, target: Uint8Array, targetOffset = 0): number {
    const h = this.lookup(keyBuf, keyOff, keyLen);
    return h < 0 ? -1 : this.copyValue(h, target, targetOffset);
  }

  /** set with the key and value as buffer ranges; mode is SetMode.Set / NX / XX. false: the condition failed. */
  setFrom(
    keyBuf: Uint8Array,
    keyOff: number,
    keyLen: number,
    valBuf: Uint8Array,
    valOff: number,
    valLen: number,
    ttlMs = 0,
    mode: SetModeValue | number = MODE_SET,
  ): boolean {
    this.checkOpen();
    this.checkKeyRange(keyBuf, keyOff, keyLen);
    this.checkValueRange(valBuf, valOff, valLen);
    const ttl = ttlMs === 0 ? 0 : checkTtl(ttlMs);
    if (mode !== MODE_SET && mode !== MODE_NX && mode !== MODE_XX) checkMode(mode);
    const h = this.keyHash.hashBytes(keyBuf, keyOff, keyLen);
    const ref = this.put(keyBuf, keyOff, keyLen, h, valLen, ttl, mode);
    if (ref < 0) return false;
    this.copyIn(valBuf, valOff, ref, keyLen, valLen);
    return true;
  }

  deleteFrom(keyBuf: Uint8Array, keyOff: number, keyLen: number): boolean {
    this.checkOpen();
    this.checkKeyRange(keyBuf, keyOff, keyLen);
    return this.deleteAt(keyBuf, keyOff, keyLen, this.keyHash.hashBytes(keyBuf, keyOff, keyLen));
  }

  /** Set a live item's TTL (0: no expiry); false if absent. Marks it recently used. */
  touchFrom(keyBuf: Uint8Array, keyOff: number, keyLen: number, ttlMs: number): boolean {
    this.checkOpen();
    this.checkKeyRange(keyBuf, keyOff, keyLen);
    const ttl = checkTtl(ttlMs, false);
    return this.touchAt(keyBuf, keyOff, keyLen, this.keyHash.hashBytes(keyBuf, keyOff, keyLen), ttl);
  }

  /** Milliseconds left; -1: no expiry; -2: absent (Redis PTTL). */
  ttlFrom(keyBuf: Uint8Array, keyOff: number, keyLen: number): number {
    this.checkOpen();
    this.checkKeyRange(keyBuf, keyOff, keyLen);
    return this.ttlAt(keyBuf, keyOff, keyLen, this.keyHash.hashBytes(keyBuf, keyOff, keyLen));
  }

  /**
   * Add delta to a decimal int64 value (a missing key counts as 0) and return the result; the TTL is kept.
   * NotIntegerError / OverflowError leave the item as it was.
   */
  incrFrom(keyBuf: Uint8Array, keyOff: number, keyLen: number, delta: bigint | number = 1n): bigint {
    this.checkOpen();
    this.checkKeyRange(keyBuf, keyOff, keyLen);
    const d = toDelta(delta);
    return this.incrAt(keyBuf, keyOff, keyLen, this.keyHash.hashBytes(keyBuf, keyOff, keyLen), d);
  }

  // ---- strings and Buffers ----

  set(key: string | Uint8Array, value: string | Uint8Array, options?: SetOptions): boolean {
    this.checkOpen();
    const h = this.hashKey(key);
    const kb = this.keyBuf;
    const kl = this.keyHash.length;
    let vl: number;
    if (typeof value === 'string') vl = Buffer.byteLength(value, 'utf8');
    else if (value instanceof Uint8Array) vl = value.length;
    else throw new TypeError(`value must be a string or Buffer, got ${typeName(value)}`);
    if (vl > this.maxValueBytes) throw new ValueTooLargeError(vl, this.maxValueBytes);
    let ttl = 0;
    let mode: SetModeValue = MODE_SET;
    if (options !== undefined) {
      if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
      ttl = checkTtl(options.ttlMs);
      mode = modeFromName(options.mode);
    }
    const ref = this.put(kb, 0, kl, h, vl, ttl, mode);
    if (ref < 0) return false;
    if (typeof value !== 'string') {
      this.copyIn(value, 0, ref, kl, vl);
    } else {
      const page = this.slab.pageOf(ref);
      const off = this.slab.offsetOf(ref) + kl;
      if (vl === value.length) writeAscii(value, page, off);
      else page.write(value, off, vl, 'utf8');
    }
    return true;
  }

  /** The value as a new Buffer (a copy: safe to keep), or undefined. */
  get(key: string | Uint8Array): Buffer | undefined {
    this.checkOpen();
    const h = this.hashKey(key);
    const s = this.lookupAt(this.keyBuf, 0, this.keyHash.length, h);
    if (s < 0) return undefined;
    const meta = this.slots.meta;
    const b = s * STRIDE;
    const vl = meta[b + VLEN]!;
    const out = Buffer.allocUnsafe(vl);
    this.copyOut(meta[b + REF]! >>> 0, meta[b + KEY]! & KEY_MASK, out, 0, vl);
    return out;
  }

  delete(key: string | Uint8Array): boolean {
    this.checkOpen();
    const h = this.hashKey(key);
    return this.deleteAt(this.keyBuf, 0, this.keyHash.length, h);
  }

  touch(key: string | Uint8Array, ttlMs: number): boolean {
    this.checkOpen();
    const h = this.hashKey(key);
    const ttl = checkTtl(ttlMs, false);
    return this.touchAt(this.keyBuf, 0, this.keyHash.length, h, ttl);
  }

  ttl(key: string | Uint8Array): number {
    this.checkOpen();
    const h = this.hashKey(key);
    return this.ttlAt(this.keyBuf, 0, this.keyHash.length, h);
  }

  incr(key: string | Uint8Array, delta: bigint | number = 1n): bigint {
    this.checkOpen();
    const h = this.hashKey(key);
    const d = toDelta(delta);
    return this.incrAt(this.keyBuf, 0, this.keyHash.length, h, d);
  }

  // ---- whole store ----

  /**
   * Removes the items whose key `keep` rejects: a node drops the keys of ring ranges that moved to another
   * member, so an old copy can never come back if the range later returns here (docs/ARCHITECTURE.md, Decisions, "No stale comebacks").
   * Scans slots from `from` for about `budgetMs`, so a large store is swept in slices between other work;
   * returns where to continue (-1 when done) and how many items went. `keep` gets a view of the key bytes
   * and the item's version, valid only during the call.
   */
  removeWhere(
    keep: (page: Buffer, keyOffset: number, keyLength: number, version: number) => boolean,
    from = 0,
    budgetMs = 2,
  ): { next: number; removed: number } {
    this.checkOpen();
    const slots = this.slots;
    const slab = this.slab;
    const meta = slots.meta;
    const deadline = performance.now() + budgetMs;
    let removed = 0;
    let s = from;
    for (; s < slots.highWater; s++) {
      if ((s & 1023) === 0 && s !== from && performance.now() > deadline) return { next: s, removed };
      const base = s * SLOT.STRIDE;
      const keyLength = meta[base + SLOT.KEY]! & SLOT.KEY_MASK;
      if (keyLength === 0) continue;
      const ref = meta[base + SLOT.REF]! >>> 0;
      const id = ref >>> slab.chunkBits;
      const offset = (ref & slab.indexMask) * slab.pageChunkSize[id]!;
      if (!keep(slab.pages[id]!, offset, keyLength, this.versionAt(s))) {
        this.removeItem(s);
        this.dropped++;
        removed++;
      }
    }
    return { next: -1, removed };
  }

  /** Remove every item and release the pages (counters are kept). */
  flush(): void {
    this.checkOpen();
    this.resetAll(INITIAL_SLOTS);
  }

  /** Remove up to maxItems items whose TTL has passed (what the timer does); returns how many. */
  expireDue(maxItems = Infinity): number {
    this.checkOpen();
    if (!(maxItems >= 0) || (maxItems !== Infinity && !Number.isSafeInteger(maxItems))) {
      throw new InvalidArgumentError(`maxItems must be a non-negative integer or Infinity, got ${String(maxItems)}`);
    }
    return this.expireBatch(maxItems);
  }

  stats(): StoreStats {
    this.checkOpen();
    const pagesPerClass = Array.from(this.slab.classPages);
    return {
      items: this.slots.count,
      bytesUsed: this.bytesUsed,
      maxMemoryBytes: this.maxMemoryBytes,
      pageBytes: this.slab.pageBytesTotal,
      allocatedBytes: this.allocatedBytes,
      pages: pagesPerClass.reduce((a, b) => a + b, 0),
      chunkSizes: Array.from(this.classes.sizes),
      pagesPerClass,
      itemsPerClass: Array.from(this.lru.items),
      slotCapacity: this.slots.capacity,
      indexBuckets: this.index.buckets,
      expiringItems: this.heap.size,
      hits: this.hits,
      misses: this.misses,
      sets: this.sets,
      deletes: this.deletes,
      expired: this.expired,
      evicted: this.evicted,
      dropped: this.dropped,
      pageMoves: this.pageMoves,
      pinnedChunks: this.pins.size,
      pinnedBytes: this.pins.pinnedBytes,
      pinsTaken: this.pins.taken,
      deferredFrees: this.pins.deferredFrees,
      pinnedPageDrops: this.pins.pageDrops,
      tombstones: this.tombstones.size,
      tombstonesCreated: this.tombstones.counters.created,
      tombstonesExpired: this.tombstones.counters.expired,
      tombstonesOverflowed: this.tombstones.counters.overflowed,
      copiesRefusedByTombstones: this.tombstones.counters.refusedCopies,
      copiesApplied: this.copiesApplied,
      copiesOlder: this.copiesOlder,
      removalsApplied: this.removalsApplied,
    };
  }

  /** Stop the timer and release all memory. Idempotent; any other call afterwards throws StoreClosedError. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.timer.stop();
    this.resetAll(0);
  }
}
