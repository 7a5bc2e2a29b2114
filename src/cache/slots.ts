/**
 * Per-item metadata, one slot per item, all in ONE Int32Array of 10-word records (no JS object per item, so the
 * garbage collector's work does not grow with the number of items). A record keeps an item's fields on one or
 * two cache lines: a lookup touches the bucket, the record and the chunk, not seven separate arrays.
 *
 *   HASH   the key's hash, compared before any key bytes; rehashing and deletion need no key read
 *   REF    the chunk holding key + value (slab.ts), a uint32 stored as int32 (read it with >>> 0)
 *   KEY    key length in the low 16 bits (0 marks a free slot: keys are never empty) | REFERENCED flag
 *   VLEN   value length
 *   PREV   LRU neighbours (lru.ts); NEXT also chains free slots
 *   NEXT
 *   HEAP   position in the expiry heap, -1 for no expiry (the expiry time lives in the heap only)
 *   VHI    the item's version (version-clock.ts): high and low 32 bits of an integer below 2^53
 *   VLO
 *   VTAG   the tag of the member that issued the version (ties between members)
 *
 * 40 bytes per slot. Capacity grows by copying into a larger array; the store decides how far (memory limit).
 */

export const SLOT = {
  STRIDE: 10,
  HASH: 0,
  REF: 1,
  KEY: 2,
  VLEN: 3,
  PREV: 4,
  NEXT: 5,
  HEAP: 6,
  VHI: 7,
  VLO: 8,
  VTAG: 9,
  KEY_MASK: 0xffff,
  /** Set on a hit; the LRU gives a referenced tail item a second chance instead of evicting it. */
  REFERENCED: 0x10000,
} as const;

// Module-local copies (see index-table.ts on why imported bindings are not read in hot code).
const { STRIDE, KEY, NEXT, PREV, HEAP, KEY_MASK } = SLOT;

export const SLOT_BYTES = STRIDE * 4;

export class Slots {
  capacity = 0;
  /** Live items. */
  count = 0;
  /** Slots [0, highWater) have been used at least once; the rest were never touched. */
  highWater = 0;
  meta = new Int32Array(0);
  private freeHead = -1;

  /** A free slot, or -1 when all `capacity` slots are live (the caller grows or evicts). */
  alloc(): number {
    let s = this.freeHead;
    if (s >= 0) {
      this.freeHead = this.meta[s * STRIDE + NEXT]!;
    } else if (this.highWater < this.capacity) {
      s = this.highWater++;
    } else {
      return -1;
    }
    this.count++;
    return s;
  }

  free(s: number): void {
    const meta = this.meta;
    const b = s * STRIDE;
    meta[b + KEY] = 0;
    meta[b + HEAP] = -1;
    meta[b + PREV] = -1;
    meta[b + NEXT] = this.freeHead;
    this.freeHead = s;
    this.count--;
  }

  isLive(s: number): boolean {
    return s >= 0 && s < this.highWater && (this.meta[s * STRIDE + KEY]! & KEY_MASK) !== 0;
  }

  resize(capacity: number): void {
    if (capacity < this.highWater) throw new Error('cannot shrink below the used slots');
    const fresh = new Int32Array(capacity * STRIDE);
    // Only the used prefix is copied: the tail stays zero and untouched, so it costs no RSS until used.
    if (this.highWater > 0) fresh.set(this.meta.subarray(0, this.highWater * STRIDE));
    this.meta = fresh;
    this.capacity = capacity;
  }

  /** Forget every item and reallocate for `capacity` slots (flush, close). */
  reset(capacity: number): void {
    this.count = 0;
    this.highWater = 0;
    this.freeHead = -1;
    this.capacity = 0;
    this.resize(capacity);
  }

  /** Bytes of the array actually allocated. */
  get allocatedBytes(): number {
    return this.meta.byteLength;
  }
}
