/**
 * Size classes, memcached style: chunk sizes grow by a factor (default 1.25) from a small minimum, each rounded
 * up to a multiple of 8, up to the largest item (maxKeyBytes + maxValueBytes). An item (key bytes + value bytes,
 * no in-chunk header: every other field lives in the slot arrays) goes to the smallest class that holds it.
 *
 * Pages: a class whose chunk fits at least twice in PAGE_BYTES gets standard 1 MiB pages carved into
 * floor(PAGE_BYTES / chunk) chunks; standard pages are interchangeable, so one can move between classes.
 * A larger class gets "large pages" holding exactly one chunk of exactly the class size, so a 700 KiB item
 * costs a 700 KiB page, not 1 MiB, and an item bigger than a page needs no chunk chaining.
 *
 * With the defaults (32, 1.25) the sizes run 32, 40, 56, 72, 96, 120, 152, 192, 240, 304, 384, 480, 600, …:
 * worst-case rounding waste is 20 %, and a 16-byte key with a 100-byte value (116 bytes) wastes 4.
 */

export const PAGE_BYTES = 1 << 20;

/** Sizes up to this are mapped to a class by a table lookup; larger ones by binary search. */
const TABLE_LIMIT = 16384;

export class SizeClasses {
  /** Chunk size of each class, ascending, multiples of 8. */
  readonly sizes: Int32Array;
  /** Chunks in one page of the class (1 for large classes). */
  readonly chunksPerPage: Int32Array;
  /** Bytes of one page of the class: PAGE_BYTES, or the chunk size for a large class. */
  readonly pageBytes: Int32Array;
  readonly count: number;
  /** Largest number of chunks in any page: decides how many bits a chunk index needs. */
  readonly maxChunksPerPage: number;
  private readonly table: Uint16Array;

  constructor(minChunkBytes: number, growthFactor: number, maxItemBytes: number) {
    const sizes: number[] = [];
    const top = roundUp8(Math.max(maxItemBytes, minChunkBytes));
    let size = roundUp8(minChunkBytes);
    for (;;) {
      if (size >= top) {
        sizes.push(top);
        break;
      }
      sizes.push(size);
      size = Math.max(size + 8, roundUp8(Math.ceil(size * growthFactor)));
    }
    this.count = sizes.length;
    if (this.count > 0xffff) throw new RangeError('too many size classes');
    this.sizes = Int32Array.from(sizes);
    this.chunksPerPage = new Int32Array(this.count);
    this.pageBytes = new Int32Array(this.count);
    for (let c = 0; c < this.count; c++) {
      const s = this.sizes[c]!;
      const n = Math.floor(PAGE_BYTES / s);
      if (n >= 2) {
        this.chunksPerPage[c] = n;
        this.pageBytes[c] = PAGE_BYTES;
      } else {
        this.chunksPerPage[c] = 1;
        this.pageBytes[c] = s;
      }
    }
    this.maxChunksPerPage = this.chunksPerPage[0]!;

    const tableTop = Math.min(TABLE_LIMIT, top);
    this.table = new Uint16Array((tableTop >> 3) + 1);
    let c = 0;
    for (let i = 0; i < this.table.length; i++) {
      while (this.sizes[c]! < i << 3) c++;
      this.table[i] = c;
    }
  }

  /** The class for an item of `bytes` bytes (1 ≤ bytes ≤ the largest class), or -1 if none holds it. */
  classFor(bytes: number): number {
    const t = (bytes + 7) >> 3;
    if (t < this.table.length) return this.table[t]!;
    const sizes = this.sizes;
    let lo = 0;
    let hi = this.count - 1;
    if (sizes[hi]! < bytes) return -1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sizes[mid]! >= bytes) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Bytes of the table and arrays, for the memory accounting. */
  get overheadBytes(): number {
    return this.table.byteLength + this.count * 12;
  }
}

function roundUp8(n: number): number {
  return (n + 7) & ~7;
}
