/**
 * The store's machinery below the public API (store.ts): where an item's slot and chunk come from, how memory
 * stays under the limit, eviction, page moves between classes, expiry. No argument checking happens here.
 *
 * Memory accounting. bytesUsed = pages + metadata reserve + fixed arrays, and it never exceeds maxMemoryBytes:
 *   - pages: every slab page in use, counted in full from the moment it is allocated;
 *   - metadata reserve: for the slot capacity C, C × (40 B slot record + 12 B expiry-heap entry) plus the index
 *     buckets (power of two ≥ C / 0.7, 8 B each: hash and slot). The heap is allocated lazily but reserved in
 *     full, so what is really allocated is never more than what is counted;
 *   - fixed: size-class tables, page tables, LRU heads, the key scratch buffer.
 * Metadata may take at most half of the limit, so pages always get the other half: tiny items are limited by
 * slots, large ones by pages. When a page (or slot growth) does not fit, something is evicted instead.
 *
 * Where a chunk for class c comes from, in order (acquireChunk):
 *   1. a free or never-used chunk of c;
 *   2. reclaiming items whose TTL has passed (expired, not evicted);
 *   3. a new page, if it fits under the limit;
 *   4. an empty page of another class (no item lost);
 *   5. if c has items: evict c's least recently used item, unless c has evicted a page's worth of items since the
 *      last page move while another class (with at least two pages) evicted none: then the one of those with the
 *      most pages gives c a page (its page with the fewest live items is emptied by evicting them). This is
 *      memcached's slab automove in miniature: without it, a class that got few pages early would stay starved
 *      forever while an idle class sat on memory;
 *   6. if c has no items (nothing of its own to evict): the class with the most pages gives c a page as above.
 * A page moves as is when both classes use 1 MiB pages; otherwise it is dropped and a new one of the right size
 * allocated. So a set fails only if the item could not fit even in an empty store (OutOfMemoryError, checked
 * before anything changes).
 */

import { OutOfMemoryError } from '../errors';
import { ChunkPins } from './chunk-pins';
import { ExpiryHeap, HEAP_ENTRY_BYTES, MIN_ENTRIES } from './expiry-heap';
import { KeyHash, LITTLE_ENDIAN, randomSeed } from './key-hash';
import { IndexTable } from './index-table';
import { LruLists } from './lru';
import { NIL, Slab } from './slab';
import { PAGE_BYTES, SizeClasses } from './size-classes';
import { SLOT, SLOT_BYTES, Slots } from './slots';
import type { ResolvedOptions } from './store-options';
import { fingerprintOf, Tombstones } from './tombstones';
import type { VersionClock } from './version-clock';

/**
 * Tells the store whether the key page[offset, offset + length) needs a tombstone when removed: true while a
 * copy of it may still arrive from another member (tombstones.ts).
 */
export type TombstoneFilter = (page: Uint8Array, offset: number, length: number) => boolean;

// Module-local copies: under tsx/esbuild's CommonJS output every read of an imported binding is a getter call.
const NO_CHUNK: number = NIL;
const LE: boolean = LITTLE_ENDIAN;
const { STRIDE, HASH, REF, KEY, VLEN, HEAP, KEY_MASK, VHI, VLO, VTAG } = SLOT;
const TWO_32 = 4294967296;

export const INITIAL_SLOTS = 1024;
/** At most 1/8 of the memory limit is in pinned chunks at once (chunk-pins.ts). */
const MAX_PINNED_SHARE = 8;
const MIN_SLOT_GROWTH = 256;
/** Items expired per clock read when reclaiming inside a set or sweeping. */
const EXPIRE_BATCH = 64;
/** Value copies up to this length run as a JS loop; longer ones as TypedArray#set (native memcpy). */
const JS_COPY_MAX = 16;

export class StoreCore {
  readonly maxMemoryBytes: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  protected readonly clock: () => number;
  protected readonly classes: SizeClasses;
  protected readonly slab: Slab;
  protected readonly slots = new Slots();
  protected readonly index: IndexTable;
  protected readonly heap: ExpiryHeap;
  protected readonly lru: LruLists;
  /** Hashes keys and keeps the current key's bytes and words (string keys need no allocation). */
  protected readonly keyHash: KeyHash;
  /** Chunks a socket write still reads: their reuse waits (chunk-pins.ts). */
  protected readonly pins: ChunkPins;
  /** Stamps writes (version-clock.ts); shared with the node's data movement. */
  readonly versions: VersionClock;
  protected readonly tombstones: Tombstones;
  /** Set while copies may still arrive for some keys; null (the usual case) records no tombstones. */
  protected tombstoneFilter: TombstoneFilter | null = null;
  private readonly fixedBytes: number;
  private readonly metaLimit: number;
  /** Largest page an item may need: what is left when metadata takes its full share. */
  private readonly maxPageBytes: number;
  /** Evictions per class since the last page move (slab automove). */
  private readonly evictWindow: Int32Array;

  /** Bumped by every change that may rewrite or free item bytes; lookup handles are checked against it. */
  protected epoch = 0;
  protected hits = 0;
  protected misses = 0;
  protected sets = 0;
  protected deletes = 0;
  protected expired = 0;
  protected evicted = 0;
  protected pageMoves = 0;

  constructor(o: ResolvedOptions) {
    this.maxMemoryBytes = o.maxMemoryBytes;
    this.maxKeyBytes = o.maxKeyBytes;
    this.maxValueBytes = o.maxValueBytes;
    this.clock = o.clock;
    this.versions = o.versionClock;
    this.tombstones = new Tombstones(o.maxTombstones, o.tombstoneTtlMs);
    this.classes = new SizeClasses(o.minChunkBytes, o.growthFactor, o.maxKeyBytes + o.maxValueBytes);
    // Every page is at least half a standard page (size-classes.ts), so this many ids always suffice.
    this.slab = new Slab(this.classes, Math.ceil((2 * o.maxMemoryBytes) / PAGE_BYTES) + 2);
    this.keyHash = new KeyHash(randomSeed(), o.maxKeyBytes);
    this.index = new IndexTable(this.slots, this.slab, this.keyHash, 0);
    this.heap = new ExpiryHeap(this.slots);
    this.lru = new LruLists(this.slots, this.classes.count);
    this.evictWindow = new Int32Array(this.classes.count);
    this.fixedBytes =
      this.classes.overheadBytes +
      this.slab.overheadBytes +
      this.lru.overheadBytes +
      this.keyHash.bytes.length +
      this.evictWindow.byteLength +
      MIN_ENTRIES * HEAP_ENTRY_BYTES;
    this.metaLimit = Math.floor(o.maxMemoryBytes / 2);
    this.maxPageBytes = o.maxMemoryBytes - this.metaLimit;
    this.pins = new ChunkPins((ref) => this.slab.free(ref), Math.floor(o.maxMemoryBytes / MAX_PINNED_SHARE));
    this.resizeSlots(INITIAL_SLOTS);
  }

  /** Accounted bytes: pages + metadata reserve + fixed arrays. Never above maxMemoryBytes. */
  get bytesUsed(): number {
    return this.slab.pageBytesTotal + this.metaBytesFor(this.slots.capacity) + this.fixedBytes;
  }

  /** Bytes of the typed arrays and pages really allocated now (≤ bytesUsed). */
  protected get allocatedBytes(): number {
    return (
      this.slab.pageBytesTotal +
      this.slots.allocatedBytes +
      this.index.allocatedBytes +
      this.heap.allocatedBytes +
      this.fixedBytes -
      MIN_ENTRIES * HEAP_ENTRY_BYTES
    );
  }

  protected metaBytesFor(capacity: number): number {
    return capacity * (SLOT_BYTES + HEAP_ENTRY_BYTES) + IndexTable.bytesFor(capacity);
  }

  /** Drop everything; keep the counters. */
  protected resetAll(slotCapacity: number): void {
    this.pins.dropAll();
    this.tombstones.clear();
    this.slab.releaseAll();
    this.slots.reset(slotCapacity);
    this.index.reset(slotCapacity);
    this.heap.reset();
    this.lru.clear();
    this.evictWindow.fill(0);
    this.epoch = (this.epoch + 1) | 0;
  }

  /**
   * The live item with this key, or -1. `h` comes from this.keyHash for this key, just before (the index
   * compares the words it left). An item found expired is removed here (lazy expiry).
   */
  protected findLive(h: number, kb: Uint8Array, ko: number, kl: number): number {
    const s = this.index.find(h, kb, ko, kl);
    if (s >= 0 && this.slots.meta[s * STRIDE + HEAP]! >= 0 && this.heap.timeOf(s) <= this.clock()) {
      if (this.tombstoneFilter !== null) this.bury(s, this.versionAt(s), this.slots.meta[s * STRIDE + VTAG]!);
      this.removeItem(s);
      this.expired++;
      return -1;
    }
    return s;
  }

  /**
   * Store key kb[ko, ko + kl) (hashed into this.keyHash just before) with a value of `vl` bytes expiring at
   * `expireAt` (0: never) over the live item `s` (or as a new item when s < 0), stamped with `version` issued by
   * member `tag`. Copies the key; returns the chunk ref. The caller writes the value bytes at offsetOf(ref) + kl
   * before anything else touches the store.
   */
  protected storeAt(
    s: number,
    h: number,
    kb: Uint8Array,
    ko: number,
    kl: number,
    vl: number,
    expireAt: number,
    version: number,
    tag: number,
  ): number {
    const c = this.classes.classFor(kl + vl);
    this.epoch = (this.epoch + 1) | 0;
    if (s >= 0) {
      const b = s * STRIDE;
      const ref = this.slots.meta[b + REF]! >>> 0;
      // In place, unless a socket write still reads the old value: then the item moves to a new chunk.
      if (this.slab.classOf(ref) === c && !this.pins.isPinned(ref)) {
        this.slots.meta[b + VLEN] = vl;
        this.stamp(b, version, tag);
        this.heap.set(s, expireAt);
        this.lru.mark(s);
        this.sets++;
        return ref;
      }
      this.checkCanFit(c, kl + vl);
      this.removeItem(s);
    } else if (this.classes.pageBytes[c]! > this.maxPageBytes) {
      this.checkCanFit(c, kl + vl);
    }
    const slot = this.acquireSlot(c);
    const ref = this.acquireChunk(c);
    const meta = this.slots.meta;
    const b = slot * STRIDE;
    meta[b + HASH] = h;
    meta[b + REF] = ref;
    meta[b + KEY] = kl;
    meta[b + VLEN] = vl;
    meta[b + HEAP] = -1;
    this.stamp(b, version, tag);
    this.index.insert(slot);
    this.lru.pushHead(c, slot);
    if (expireAt !== 0) this.heap.set(slot, expireAt);
    this.copyKey(kb, ko, kl, ref);
    this.sets++;
    return ref;
  }

  protected stamp(b: number, version: number, tag: number): void {
    const meta = this.slots.meta;
    meta[b + VHI] = (version / TWO_32) | 0;
    meta[b + VLO] = version | 0;
    meta[b + VTAG] = tag;
  }

  /** The version of live item `s`. */
  protected versionAt(s: number): number {
    const meta = this.slots.meta;
    return meta[s * STRIDE + VHI]! * TWO_32 + (meta[s * STRIDE + VLO]! >>> 0);
  }

  /** Leaves a tombstone for item `s` (about to be removed) at `version`, if the filter asks for one. */
  protected bury(s: number, version: number, tag: number): void {
    const meta = this.slots.meta;
    const b = s * STRIDE;
    const ref = meta[b + REF]! >>> 0;
    const kl = meta[b + KEY]! & KEY_MASK;
    if (this.tombstoneFilter!(this.slab.pageOf(ref), this.slab.offsetOf(ref), kl)) {
      this.tombstones.add(fingerprintOf(meta[b + HASH]!, kl), version, tag, this.clock());
    }
  }

  /** Unlink item `s` from the index, its LRU list and the heap, and free its chunk and slot. */
  protected removeItem(s: number): void {
    const ref = this.slots.meta[s * STRIDE + REF]! >>> 0;
    this.index.remove(s);
    this.lru.unlink(this.slab.classOf(ref), s);
    this.heap.remove(s);
    if (!this.pins.deferFree(ref)) this.slab.free(ref);
    this.slots.free(s);
    this.epoch = (this.epoch + 1) | 0;
  }

  /** Remove up to `maxItems` items whose expiry time has passed; returns how many. */
  protected expireBatch(maxItems: number): number {
    const heap = this.heap;
    if (heap.size === 0) return 0;
    const now = this.clock();
    let n = 0;
    while (n < maxItems && heap.size > 0 && heap.topTime() <= now) {
      const s = heap.topSlot();
      if (this.tombstoneFilter !== null) this.bury(s, this.versionAt(s), this.slots.meta[s * STRIDE + VTAG]!);
      this.removeItem(s);
      n++;
    }
    this.expired += n;
    return n;
  }

  /**
   * Metadata never takes more than half the limit, so a page of up to the other half always fits once every
   * other page is gone; an item needing a larger page could never be stored.
   */
  private checkCanFit(c: number, itemBytes: number): void {
    const page = this.classes.pageBytes[c]!;
    if (page > this.maxPageBytes) {
      throw new OutOfMemoryError(
        `an item of ${itemBytes} bytes needs a ${page} byte page, but one page may use at most ${this.maxPageBytes} ` +
          `bytes (half of maxMemoryBytes ${this.maxMemoryBytes}); raise maxMemoryBytes or lower maxValueBytes`,
      );
    }
  }

  private acquireSlot(c: number): number {
    const slots = this.slots;
    let s = slots.alloc();
    if (s >= 0) return s;
    if (this.growSlots()) {
      s = slots.alloc();
      if (s >= 0) return s;
    }
    // All slots are live and the metadata may not grow: an item must go to free one, from this class if it
    // has any, else from the class with the most items.
    let v = c;
    if (this.lru.items[c] === 0) {
      const items = this.lru.items;
      for (let k = 0; k < items.length; k++) if (items[k]! > items[v]!) v = k;
    }
    this.evict(this.lru.victim(v));
    return slots.alloc();
  }

  /** Grow the slot arrays (and the index with them) as far as the limits allow, up to double. */
  private growSlots(): boolean {
    const cap = this.slots.capacity;
    const room = Math.min(this.metaLimit, this.maxMemoryBytes - this.slab.pageBytesTotal) - this.fixedBytes;
    let target = Math.max(cap * 2, INITIAL_SLOTS);
    while (target - cap >= MIN_SLOT_GROWTH) {
      if (this.metaBytesFor(target) <= room) {
        this.resizeSlots(target);
        return true;
      }
      target = cap + ((target - cap) >> 1);
    }
    return false;
  }

  private resizeSlots(capacity: number): void {
    this.slots.resize(capacity);
    this.index.resize(capacity);
  }

  private pageFits(c: number): boolean {
    return this.slab.hasFreeId && this.bytesUsed + this.classes.pageBytes[c]! <= this.maxMemoryBytes;
  }

  private acquireChunk(c: number): number {
    const slab = this.slab;
    for (;;) {
      const ref = slab.alloc(c);
      if (ref !== NO_CHUNK) return ref;
      if (this.heap.size > 0 && this.heap.topTime() <= this.clock()) {
        this.expireBatch(EXPIRE_BATCH);
        continue;
      }
      if (this.pageFits(c)) {
        slab.addPage(c);
        continue;
      }
      const empty = slab.findEmptyPage(c, this.classes.pageBytes[c]!);
      if (empty >= 0) {
        this.takePage(empty, c);
        continue;
      }
      const hasItems = this.lru.items[c]! > 0;
      const donor = hasItems ? this.automoveDonor(c) : this.largestOtherClass(c);
      if (donor >= 0) {
        this.takePage(this.emptiestPage(donor), c);
      } else if (hasItems) {
        this.evictWindow[c]!++;
        this.evict(this.lru.victim(c));
      } else {
        throw new OutOfMemoryError('no page can be freed for this item (store state inconsistent)');
      }
    }
  }

  /** A class that should give `c` a page now (see the file comment, step 5), or -1. */
  private automoveDonor(c: number): number {
    if (this.evictWindow[c]! < this.classes.chunksPerPage[c]!) return -1;
    const pages = this.slab.classPages;
    let best = -1;
    for (let v = 0; v < pages.length; v++) {
      if (v === c || this.evictWindow[v] !== 0 || pages[v]! < 2) continue;
      if (best < 0 || pages[v]! > pages[best]!) best = v;
    }
    return best;
  }

  private largestOtherClass(c: number): number {
    const pages = this.slab.classPages;
    let best = -1;
    for (let v = 0; v < pages.length; v++) {
      if (v !== c && pages[v]! > 0 && (best < 0 || pages[v]! > pages[best]!)) best = v;
    }
    return best;
  }

  private emptiestPage(v: number): number {
    let best = -1;
    for (const id of this.slab.pagesOf(v)) {
      if (best < 0 || this.slab.pageLive[id]! < this.slab.pageLive[best]!) best = id;
    }
    return best;
  }

  /** Evict every item in page `id`, detach it, and give it to class `c` if the sizes match (else drop it). */
  private takePage(id: number, c: number): void {
    const slab = this.slab;
    const slots = this.slots;
    const bits = slab.chunkBits;
    // Items do not know their neighbours in a page: scan the slots. Page moves are rare (one per page).
    const meta = slots.meta;
    for (let s = 0; s < slots.highWater && slab.pageLive[id]! > 0; s++) {
      const b = s * STRIDE;
      if ((meta[b + KEY]! & KEY_MASK) !== 0 && meta[b + REF]! >>> bits === id) this.evict(s);
    }
    // Chunks a socket write still reads stay live after their items went: the page is dropped, not reused.
    const pinned = this.pins.dropPage(id, bits);
    if (pinned > 0) slab.forgetChunks(id, pinned);
    const buf = slab.detachPage(id);
    if (pinned === 0 && buf.length === this.classes.pageBytes[c]! && !slab.hasFreeChunk(c)) slab.addPage(c, buf);
    this.pageMoves++;
    this.evictWindow.fill(0);
    this.epoch = (this.epoch + 1) | 0;
  }

  /** Remove an item to make room: counted as expired if its TTL has passed, else as evicted. */
  private evict(s: number): void {
    if (this.tombstoneFilter !== null) this.bury(s, this.versionAt(s), this.slots.meta[s * STRIDE + VTAG]!);
    const t = this.heap.timeOf(s);
    if (t !== 0 && t <= this.clock()) this.expired++;
    else this.evicted++;
    this.removeItem(s);
  }

  /** Copy the key into chunk `ref`: a word at a time from keyHash.words (chunks are 8-byte aligned). */
  private copyKey(kb: Uint8Array, ko: number, kl: number, ref: number): void {
    const slab = this.slab;
    const id = ref >>> slab.chunkBits;
    const off = (ref & slab.indexMask) * slab.pageChunkSize[id]!;
    let j = 0;
    if (LE) {
      const pw = slab.pageWords[id]!;
      const words = this.keyHash.words;
      const base = off >> 2;
      const nw = kl >> 2;
      for (; j < nw; j++) pw[base + j] = words[j]!;
      j = nw << 2;
    }
    const page = slab.pages[id]!;
    for (; j < kl; j++) page[off + j] = kb[ko + j]!;
  }

  /**
   * Copy the `n` value bytes of chunk `ref` (key length `kl`) into target at `d`: a JS loop for short values
   * (cheaper than a native call), else TypedArray#set from a plain Uint8Array view (memcpy; a Buffer view would
   * cost a slower FastBuffer construction).
   */
  protected copyOut(ref: number, kl: number, target: Uint8Array, d: number, n: number): void {
    const slab = this.slab;
    const id = ref >>> slab.chunkBits;
    const so = (ref & slab.indexMask) * slab.pageChunkSize[id]! + kl;
    const page = slab.pages[id]!;
    if (n <= JS_COPY_MAX) {
      for (let i = 0; i < n; i++) target[d + i] = page[so + i]!;
    } else {
      target.set(new Uint8Array(page.buffer, page.byteOffset + so, n), d);
    }
  }

  /** Copy n bytes from src at so into the value area of chunk `ref` (key length `kl`); see copyOut. */
  protected copyIn(src: Uint8Array, so: number, ref: number, kl: number, n: number): void {
    const slab = this.slab;
    const id = ref >>> slab.chunkBits;
    const d = (ref & slab.indexMask) * slab.pageChunkSize[id]! + kl;
    const page = slab.pages[id]!;
    if (n <= JS_COPY_MAX) {
      for (let i = 0; i < n; i++) page[d + i] = src[so + i]!;
    } else if (so === 0 && n === src.length) {
      page.set(src, d); // the whole source: no view to create
    } else {
      page.set(new Uint8Array(src.buffer, src.byteOffset + so, n), d);
    }
  }
}
