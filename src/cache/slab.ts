/**
 * Slab pages: item bytes live in page Buffers carved into the chunks of one size class (see size-classes.ts).
 *
 * A chunk is named by a 32-bit ref: (page id << chunkBits) | chunk index. Its byte offset is the index times the
 * page's chunk size. A chunk holds the key bytes followed by the value bytes; nothing else, while it is live.
 *
 * Pages are allocated lazily (Buffer.allocUnsafeSlow: uninitialised, outside the pool, so untouched memory costs
 * no RSS) and carved lazily: a class hands out the next never-used chunk of its newest page, or a freed chunk
 * from its free list. The free list is intrusive: a freed chunk's first 4 bytes hold the ref of the next free
 * chunk, so free chunks cost no metadata. (That write is why a view into a chunk must be pinned: see chunk-pins.ts.)
 *
 * This file does no accounting against the memory limit and no eviction: the store decides when a page may be
 * added, moved or released.
 */

import { PAGE_BYTES, SizeClasses } from './size-classes';

/** "No chunk": a ref that no page id can produce (ids stay below the top value). */
export const NIL = 0xffffffff;

export class Slab {
  readonly classes: SizeClasses;
  readonly chunkBits: number;
  readonly indexMask: number;
  readonly maxPages: number;
  /** Page buffers by id; null for an id not in use. */
  readonly pages: (Buffer | null)[] = [];
  /** The same pages as Int32 words (chunks are 8-byte aligned): keys are compared and copied a word at a time. */
  readonly pageWords: (Int32Array | null)[] = [];
  /** Class of each page id (valid while the page is in use). */
  readonly pageClass: Uint16Array;
  /** Chunk size of each page id, so ref → offset needs no class lookup. */
  readonly pageChunkSize: Int32Array;
  /** Live (allocated) chunks in each page. */
  readonly pageLive: Int32Array;
  /** Pages owned by each class. */
  readonly classPages: Int32Array;
  /** Sum of the sizes of all pages in use. */
  pageBytesTotal = 0;
  /** Pages with no live chunk: one of these can move to another class without evicting anything. */
  emptyPages = 0;

  private readonly freeHead: Float64Array;
  private readonly carvePage: Int32Array;
  private readonly carveNext: Int32Array;
  private readonly freeIds: number[] = [];

  constructor(classes: SizeClasses, maxPages: number) {
    this.classes = classes;
    this.chunkBits = Math.max(1, Math.ceil(Math.log2(classes.maxChunksPerPage)));
    this.indexMask = (1 << this.chunkBits) - 1;
    const idLimit = 2 ** (32 - this.chunkBits) - 1;
    if (maxPages > idLimit) throw new RangeError(`too many pages (${maxPages}); at most ${idLimit}`);
    this.maxPages = maxPages;
    this.pageClass = new Uint16Array(maxPages);
    this.pageChunkSize = new Int32Array(maxPages);
    this.pageLive = new Int32Array(maxPages);
    const n = classes.count;
    this.classPages = new Int32Array(n);
    this.freeHead = new Float64Array(n).fill(NIL);
    this.carvePage = new Int32Array(n).fill(-1);
    this.carveNext = new Int32Array(n);
  }

  /**
   * Bytes of this object's own tables, for the memory accounting: 10 B of typed arrays per page id, and a
   * generous 256 B per id for the page's JS objects (its Buffer, its Int32Array view, two array slots).
   */
  get overheadBytes(): number {
    return this.maxPages * (10 + 256) + this.classes.count * 20;
  }

  pageOf(ref: number): Buffer {
    return this.pages[ref >>> this.chunkBits]!;
  }

  offsetOf(ref: number): number {
    return (ref & this.indexMask) * this.pageChunkSize[ref >>> this.chunkBits]!;
  }

  classOf(ref: number): number {
    return this.pageClass[ref >>> this.chunkBits]!;
  }

  /** A chunk of class `c`, or NIL if the class has no free or uncarved chunk (the caller adds a page or evicts). */
  alloc(c: number): number {
    let ref = this.freeHead[c]!;
    if (ref !== NIL) {
      const page = this.pages[ref >>> this.chunkBits]!;
      this.freeHead[c] = page.readUInt32LE(this.offsetOf(ref));
    } else {
      const id = this.carvePage[c]!;
      if (id < 0) return NIL;
      const next = this.carveNext[c]!;
      ref = ((id << this.chunkBits) | next) >>> 0;
      if (next + 1 >= this.classes.chunksPerPage[c]!) this.carvePage[c] = -1;
      else this.carveNext[c] = next + 1;
    }
    if (this.pageLive[ref >>> this.chunkBits]!++ === 0) this.emptyPages--;
    return ref;
  }

  free(ref: number): void {
    const id = ref >>> this.chunkBits;
    const c = this.pageClass[id]!;
    this.pages[id]!.writeUInt32LE(this.freeHead[c]!, this.offsetOf(ref));
    this.freeHead[c] = ref;
    if (--this.pageLive[id]! === 0) this.emptyPages++;
  }

  /**
   * `n` live chunks of page `id` will never be freed one by one (the page is being dropped while socket writes
   * still read them, see chunk-pins.ts): stop counting them so the page can be detached.
   */
  forgetChunks(id: number, n: number): void {
    this.pageLive[id]! -= n;
    if (this.pageLive[id] === 0) this.emptyPages++;
  }

  /** Whether another page can get an id (the byte limit is the store's business). */
  get hasFreeId(): boolean {
    return this.freeIds.length > 0 || this.pages.length < this.maxPages;
  }

  /** Give class `c` (which has no free chunk) a new page: `reuse` (a detached standard page) or a fresh one. */
  addPage(c: number, reuse?: Buffer): void {
    const bytes = this.classes.pageBytes[c]!;
    const buf = reuse ?? Buffer.allocUnsafeSlow(bytes);
    if (buf.length !== bytes) throw new Error('page size mismatch');
    const id = this.freeIds.length > 0 ? this.freeIds.pop()! : this.pages.length;
    if (id >= this.maxPages) throw new Error('no page id left');
    const words = new Int32Array(buf.buffer, buf.byteOffset, buf.length >> 2);
    if (id === this.pages.length) {
      this.pages.push(buf);
      this.pageWords.push(words);
    } else {
      this.pages[id] = buf;
      this.pageWords[id] = words;
    }
    this.pageClass[id] = c;
    this.pageChunkSize[id] = this.classes.sizes[c]!;
    this.pageLive[id] = 0;
    this.emptyPages++;
    this.classPages[c]!++;
    this.pageBytesTotal += bytes;
    // Only called when the class has no free chunk, so no older page is left half carved.
    this.carvePage[c] = id;
    this.carveNext[c] = 0;
  }

  /**
   * Take page `id` (no live chunks left in it) away from its class: its free chunks leave the free list.
   * Returns the buffer; the caller reuses it (addPage) or drops it. Either way its bytes no longer count.
   */
  detachPage(id: number): Buffer {
    if (this.pageLive[id] !== 0) throw new Error('page still has live chunks');
    const c = this.pageClass[id]!;
    const buf = this.pages[id]!;
    // Unlink this page's chunks from the class free list: O(free chunks of the class), only on a page move.
    let prev = NIL;
    let cur = this.freeHead[c]!;
    while (cur !== NIL) {
      const next = this.pages[cur >>> this.chunkBits]!.readUInt32LE(this.offsetOf(cur));
      if (cur >>> this.chunkBits === id) {
        if (prev === NIL) this.freeHead[c] = next;
        else this.pages[prev >>> this.chunkBits]!.writeUInt32LE(next, this.offsetOf(prev));
      } else {
        prev = cur;
      }
      cur = next;
    }
    if (this.carvePage[c] === id) this.carvePage[c] = -1;
    this.pages[id] = null;
    this.pageWords[id] = null;
    this.freeIds.push(id);
    this.emptyPages--;
    this.classPages[c]!--;
    this.pageBytesTotal -= buf.length;
    return buf;
  }

  /** Ids of the pages of class `c`. */
  pagesOf(c: number): number[] {
    const out: number[] = [];
    for (let id = 0; id < this.pages.length; id++) {
      if (this.pages[id] !== null && this.pageClass[id] === c) out.push(id);
    }
    return out;
  }

  /** An empty page of a class other than `c`, preferring one of `bytes` bytes; -1 if none. */
  findEmptyPage(c: number, bytes: number): number {
    if (this.emptyPages === 0) return -1;
    let found = -1;
    for (let id = 0; id < this.pages.length; id++) {
      const page = this.pages[id];
      if (page === null || page === undefined || this.pageLive[id] !== 0 || this.pageClass[id] === c) continue;
      if (page.length === bytes) return id;
      found = id;
    }
    return found;
  }

  /** Drop every page (flush, close). */
  releaseAll(): void {
    this.pages.length = 0;
    this.pageWords.length = 0;
    this.freeIds.length = 0;
    this.classPages.fill(0);
    this.freeHead.fill(NIL);
    this.carvePage.fill(-1);
    this.pageBytesTotal = 0;
    this.emptyPages = 0;
  }

  /** Whether class `c` can hand out a chunk without a new page. */
  hasFreeChunk(c: number): boolean {
    return this.freeHead[c] !== NIL || this.carvePage[c]! >= 0;
  }
}

export { PAGE_BYTES };
