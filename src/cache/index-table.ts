/**
 * The key → slot index: open addressing with linear probing over one Int32Array of buckets, each a pair of
 * words [hash, slot + 1] (slot + 1 = 0: empty). No JS object per entry. The key's hash sits in the bucket beside
 * the slot so that a probe that does not match is decided inside the table, whose pairs share cache lines (eight
 * to a line), and never reads that slot's record: with many keys the table, the slot records and the chunks are
 * separate cache misses (docs/ARCHITECTURE.md, Decisions, "Store"). Only on a hash match does the probe read the
 * record (key length, chunk) and then the key bytes from the slab, in place (no key copy, no allocation).
 * Deletion, resizing and rehashing read hashes from the table alone.
 *
 * Buckets are a power of two, at least capacity / MAX_LOAD where capacity is the number of slots: the store
 * resizes the index together with the slot arrays, so the load factor never passes MAX_LOAD (0.7).
 * Deletion is backward-shift (no tombstones): later entries of the run move back into the hole, so probe runs
 * never grow with churn.
 */

import { LITTLE_ENDIAN, type KeyHash } from './key-hash';
import type { Slab } from './slab';
import { SLOT, type Slots } from './slots';

// Module-local copies: under tsx/esbuild's CommonJS output every read of an imported binding is a getter call,
// too slow for code run several times per request. Destructured once here, they are plain constants.
const LE: boolean = LITTLE_ENDIAN;
const { STRIDE, HASH, REF, KEY, KEY_MASK } = SLOT;

const MAX_LOAD = 0.7;
const MIN_BUCKETS = 16;
/** Int32 words per bucket: the hash, then slot + 1. */
const WORDS = 2;
const BUCKET_BYTES = WORDS * 4;

export class IndexTable {
  /** Bucket i is table[2i] (hash) and table[2i + 1] (slot + 1, 0 when empty). */
  private table: Int32Array;
  /** Buckets - 1: the hash bits that pick the home bucket. */
  private mask: number;

  constructor(
    private readonly slots: Slots,
    private readonly slab: Slab,
    private readonly keyHash: KeyHash,
    capacity: number,
  ) {
    this.table = new Int32Array(IndexTable.bucketsFor(capacity) * WORDS);
    this.mask = IndexTable.bucketsFor(capacity) - 1;
  }

  static bucketsFor(capacity: number): number {
    let n = MIN_BUCKETS;
    while (n * MAX_LOAD < capacity) n *= 2;
    return n;
  }

  static bytesFor(capacity: number): number {
    return IndexTable.bucketsFor(capacity) * BUCKET_BYTES;
  }

  get buckets(): number {
    return this.mask + 1;
  }

  /**
   * The live slot whose key equals kb[ko, ko + kl), or -1. `h` must come from keyHash for this very key: the
   * compare reads the key's words that hashing left in keyHash.words.
   */
  find(h: number, kb: Uint8Array, ko: number, kl: number): number {
    const table = this.table;
    const mask = this.mask;
    let i = h & mask;
    for (;;) {
      const w = i << 1;
      const e = table[w + 1]!;
      if (e === 0) return -1;
      if (table[w] === h) {
        const meta = this.slots.meta;
        const b = (e - 1) * STRIDE;
        if ((meta[b + KEY]! & KEY_MASK) === kl && this.keyEquals(meta[b + REF]! >>> 0, kb, ko, kl)) return e - 1;
      }
      i = (i + 1) & mask;
    }
  }

  private keyEquals(ref: number, kb: Uint8Array, ko: number, kl: number): boolean {
    const slab = this.slab;
    const id = ref >>> slab.chunkBits;
    const off = (ref & slab.indexMask) * slab.pageChunkSize[id]!;
    let j = 0;
    if (LE) {
      const pw = slab.pageWords[id]!;
      const words = this.keyHash.words;
      const base = off >> 2;
      const nw = kl >> 2;
      for (; j < nw; j++) if (pw[base + j] !== words[j]) return false;
      j = nw << 2;
      if (j === kl) return true;
    }
    const page = slab.pages[id]!;
    for (; j < kl; j++) if (page[off + j] !== kb[ko + j]) return false;
    return true;
  }

  /** Add slot `s` (its hash is set; its key is known to be absent). */
  insert(s: number): void {
    this.put(this.slots.meta[s * STRIDE + HASH]!, s + 1);
  }

  private put(h: number, e: number): void {
    const table = this.table;
    const mask = this.mask;
    let i = h & mask;
    while (table[(i << 1) + 1] !== 0) i = (i + 1) & mask;
    table[i << 1] = h;
    table[(i << 1) + 1] = e;
  }

  /** Remove slot `s`, which must be present. */
  remove(s: number): void {
    const table = this.table;
    const mask = this.mask;
    let hole = this.slots.meta[s * STRIDE + HASH]! & mask;
    while (table[(hole << 1) + 1] !== s + 1) hole = (hole + 1) & mask;
    let j = hole;
    for (;;) {
      j = (j + 1) & mask;
      const e = table[(j << 1) + 1]!;
      if (e === 0) break;
      const h = table[j << 1]!;
      const home = h & mask;
      // The entry at j may move back to the hole if its home is not cyclically within (hole, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        table[hole << 1] = h;
        table[(hole << 1) + 1] = e;
        hole = j;
      }
    }
    table[hole << 1] = 0;
    table[(hole << 1) + 1] = 0;
  }

  /** Rehash every entry into a table sized for `capacity` slots. */
  resize(capacity: number): void {
    const old = this.table;
    const buckets = IndexTable.bucketsFor(capacity);
    if (buckets === this.mask + 1) return;
    this.table = new Int32Array(buckets * WORDS);
    this.mask = buckets - 1;
    for (let w = 0; w < old.length; w += WORDS) {
      const e = old[w + 1]!;
      if (e !== 0) this.put(old[w]!, e);
    }
  }

  /** Drop every entry and size for `capacity` slots (flush, close). */
  reset(capacity: number): void {
    const buckets = IndexTable.bucketsFor(capacity);
    this.table = new Int32Array(buckets * WORDS);
    this.mask = buckets - 1;
  }

  get allocatedBytes(): number {
    return this.table.byteLength;
  }
}
