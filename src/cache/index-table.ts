/**
 * The key → slot index: open addressing with linear probing over one Int32Array of buckets, each holding
 * slot + 1 (0 = empty). No JS object per entry. A probe compares the slot's stored 32-bit hash and key length
 * first and reads key bytes from the slab only on a match, in place (no key copy, no allocation).
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

export class IndexTable {
  private table: Int32Array;
  private mask: number;

  constructor(
    private readonly slots: Slots,
    private readonly slab: Slab,
    private readonly keyHash: KeyHash,
    capacity: number,
  ) {
    this.table = new Int32Array(IndexTable.bucketsFor(capacity));
    this.mask = this.table.length - 1;
  }

  static bucketsFor(capacity: number): number {
    let n = MIN_BUCKETS;
    while (n * MAX_LOAD < capacity) n *= 2;
    return n;
  }

  static bytesFor(capacity: number): number {
    return IndexTable.bucketsFor(capacity) * 4;
  }

  get buckets(): number {
    return this.table.length;
  }

  /**
   * The live slot whose key equals kb[ko, ko + kl), or -1. `h` must come from keyHash for this very key: the
   * compare reads the key's words that hashing left in keyHash.words.
   */
  find(h: number, kb: Uint8Array, ko: number, kl: number): number {
    const table = this.table;
    const mask = this.mask;
    const meta = this.slots.meta;
    let i = h & mask;
    for (;;) {
      const e = table[i]!;
      if (e === 0) return -1;
      const b = (e - 1) * STRIDE;
      if (meta[b + HASH] === h && (meta[b + KEY]! & KEY_MASK) === kl && this.keyEquals(meta[b + REF]! >>> 0, kb, ko, kl)) {
        return e - 1;
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
    const table = this.table;
    const mask = this.mask;
    let i = this.slots.meta[s * STRIDE + HASH]! & mask;
    while (table[i] !== 0) i = (i + 1) & mask;
    table[i] = s + 1;
  }

  /** Remove slot `s`, which must be present. */
  remove(s: number): void {
    const table = this.table;
    const mask = this.mask;
    const meta = this.slots.meta;
    let hole = meta[s * STRIDE + HASH]! & mask;
    while (table[hole] !== s + 1) hole = (hole + 1) & mask;
    let j = hole;
    for (;;) {
      j = (j + 1) & mask;
      const e = table[j]!;
      if (e === 0) break;
      const home = meta[(e - 1) * STRIDE + HASH]! & mask;
      // The entry at j may move back to the hole if its home is not cyclically within (hole, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        table[hole] = e;
        hole = j;
      }
    }
    table[hole] = 0;
  }

  /** Rehash every entry into a table sized for `capacity` slots. */
  resize(capacity: number): void {
    const old = this.table;
    const buckets = IndexTable.bucketsFor(capacity);
    if (buckets === old.length) return;
    this.table = new Int32Array(buckets);
    this.mask = buckets - 1;
    for (let i = 0; i < old.length; i++) {
      const e = old[i]!;
      if (e !== 0) this.insert(e - 1);
    }
  }

  /** Drop every entry and size for `capacity` slots (flush, close). */
  reset(capacity: number): void {
    this.table = new Int32Array(IndexTable.bucketsFor(capacity));
    this.mask = this.table.length - 1;
  }

  get allocatedBytes(): number {
    return this.table.byteLength;
  }
}
