/**
 * Chunks whose bytes a socket write still reads (docs/ARCHITECTURE.md, Decisions, "Store": defer reuse).
 *
 * The server answers a GET of a large value with a view of the value's chunk instead of a copy (store.ts,
 * pinValue). Until that write completes, the chunk must keep its bytes: nothing may be written into it. The store
 * writes into a chunk in three places, and each asks here first:
 *   - freeing it (delete, overwrite with another size, eviction, expiry) writes the free-list link into it: a
 *     pinned chunk's free is deferred, and happens when the last pin is released;
 *   - overwriting an item in place (a set of the same size class) writes the new value: a pinned chunk is not
 *     overwritten, the item moves to a new chunk and the old one is freed (deferred) as above;
 *   - moving a page to another class reuses all its chunks: a page holding a pinned chunk is dropped instead
 *     (the write's view keeps its memory alive until the write is done) and a new page is allocated.
 * Flush and close drop every page the same way.
 *
 * A deferred chunk stays counted as live in its page, so the store's accounting still includes it; a dropped page
 * no longer counts, and its memory stays with the socket until the write completes (as a copy would).
 *
 * Pinned chunks are bounded (maxBytes, an eighth of the store's limit): a client that never reads could otherwise
 * pin a large part of the store through its queued answers, and a class whose chunks were all pinned could not
 * take a new item. Past the bound the server copies, as it does for small values. Since evicting an item frees
 * its chunk unless it is pinned, and pinned chunks are a minority of any class that fills the store, a set always
 * finds a chunk.
 */

/** One pinned chunk: how many writes still read it, and what to do when the last one is done. */
export class ChunkPin {
  count = 0;
  /** The chunk's size, counted in ChunkPins.pinnedBytes while this record is in the table. */
  bytes = 0;
  /** The item is gone; the chunk is freed when the last pin is released. */
  deferred = false;
  /** Its page was dropped (page move, flush): releasing it must not touch the slab. */
  dropped = false;
  /** Releases one pin; pass it as the write's completion callback. Safe to call once per pin taken. */
  readonly release: () => void;

  constructor(
    readonly ref: number,
    pins: ChunkPins,
  ) {
    this.release = (): void => pins.release(this);
  }
}

export class ChunkPins {
  private readonly byRef = new Map<number, ChunkPin>();
  /** Bytes of the chunks in the table (pinned, or deferred and waiting for their last release). */
  pinnedBytes = 0;
  /** Pins taken and released over the store's life (STATS). */
  taken = 0;
  deferredFrees = 0;
  /** Pages dropped rather than moved to another class because a write still read one of their chunks. */
  pageDrops = 0;

  /**
   * @param freeChunk frees a chunk whose free was deferred, once its last pin is released.
   * @param maxBytes the most chunk bytes pinned at once; canPin() says whether one more chunk fits.
   */
  constructor(
    private readonly freeChunk: (ref: number) => void,
    readonly maxBytes: number,
  ) {}

  /** Whether chunk `ref` of `bytes` bytes may be pinned now (already pinned, or room under maxBytes). */
  canPin(ref: number, bytes: number): boolean {
    return this.pinnedBytes + bytes <= this.maxBytes || this.byRef.has(ref);
  }

  /** Chunks pinned now. */
  get size(): number {
    return this.byRef.size;
  }

  pin(ref: number, bytes: number): ChunkPin {
    let pin = this.byRef.get(ref);
    if (pin === undefined) {
      pin = new ChunkPin(ref, this);
      pin.bytes = bytes;
      this.pinnedBytes += bytes;
      this.byRef.set(ref, pin);
    }
    pin.count++;
    this.taken++;
    return pin;
  }

  isPinned(ref: number): boolean {
    return this.byRef.size > 0 && this.byRef.has(ref);
  }

  /** The item in chunk `ref` is gone: true if the chunk is pinned and its free now waits for the release. */
  deferFree(ref: number): boolean {
    if (this.byRef.size === 0) return false;
    const pin = this.byRef.get(ref);
    if (pin === undefined) return false;
    pin.deferred = true;
    this.deferredFrees++;
    return true;
  }

  release(pin: ChunkPin): void {
    if (pin.count <= 0) return;
    if (--pin.count > 0 || pin.dropped) return;
    this.forget(pin);
    if (pin.deferred) this.freeChunk(pin.ref);
  }

  /**
   * Page `id` is being dropped (its items were evicted first, so every pin on it is deferred): forget its pins.
   * Returns how many chunks of the page they kept live.
   */
  dropPage(id: number, chunkBits: number): number {
    let kept = 0;
    if (this.byRef.size === 0) return 0;
    for (const [ref, pin] of this.byRef) {
      if (ref >>> chunkBits !== id) continue;
      pin.dropped = true;
      this.forget(pin);
      if (pin.deferred) kept++;
    }
    if (kept > 0) this.pageDrops++;
    return kept;
  }

  /** Every page is being dropped (flush, close). */
  dropAll(): void {
    for (const pin of this.byRef.values()) pin.dropped = true;
    this.byRef.clear();
    this.pinnedBytes = 0;
  }

  private forget(pin: ChunkPin): void {
    this.byRef.delete(pin.ref);
    this.pinnedBytes -= pin.bytes;
  }
}
