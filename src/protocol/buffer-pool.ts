/**
 * Large buffers reused across a server's connections: bodies of requests that span reads (FrameDecoder's
 * `bodyPool`) and the output batch's storage (OutputBatch's `pool`).
 *
 * Why: allocating a fresh ArrayBuffer of 64 KiB or more per request, outside Node's 8 KiB pool, and letting the
 * garbage collector free it, cost more than everything else the node does for a 64 KiB SET or GET. Reusing the
 * buffers took SET 64 KiB at 64 in flight from about 0.9x to 1.6x redis-server (bench/results, 3-round runs).
 *
 * Blocks come in size classes (2^k and 1.5 × 2^k bytes, from 8 KiB), so a block is at most a third larger than
 * what was asked. Whoever takes a block gives it back once nothing can read or write it any more (a body: when
 * onFrame returns; output storage: when every socket write from it has completed). Free blocks are kept up to
 * `maxFreeBytes` in total; a block over a quarter of that is never kept, so one huge value does not pin memory.
 * Blocks in use are not limited here: the server's connection, frame and output limits bound them.
 */

/** Bodies up to this size come from Node's own pool (Buffer.allocUnsafe), which is cheap below 4 KiB. */
export const POOLED_BODY_MIN_BYTES = 4097;
const MIN_BLOCK_BITS = 13;
const MIN_BLOCK_BYTES = 2 ** MIN_BLOCK_BITS;
/** Default bound on the free blocks kept. */
const DEFAULT_BUFFER_POOL_BYTES = 16 * 2 ** 20;

export interface BufferPoolStats {
  /** Blocks handed out that were reused. */
  reused: number;
  /** Blocks that had to be allocated. */
  allocated: number;
  /** Bytes of free blocks kept now. */
  freeBytes: number;
}

export class BufferPool {
  /** Free blocks per size class index (see classIndex). */
  private readonly free = new Map<number, ArrayBuffer[]>();
  /** Every block now in a free list: giving one back twice would hand it to two bodies at once. */
  private readonly isFree = new WeakSet<ArrayBuffer>();
  private freeBytes = 0;
  private reused = 0;
  private allocated = 0;

  constructor(readonly maxFreeBytes = DEFAULT_BUFFER_POOL_BYTES) {
    if (!Number.isSafeInteger(maxFreeBytes) || maxFreeBytes < 0) {
      throw new RangeError(`body pool maxFreeBytes must be a non-negative integer, got ${maxFreeBytes}`);
    }
  }

  /** A Buffer of exactly `length` bytes (uninitialised) at the start of a block of its own. */
  take(length: number): Buffer {
    return Buffer.from(this.block(classIndex(length)), 0, length);
  }

  /** A whole block (uninitialised) of at least `minBytes`. */
  takeAtLeast(minBytes: number): Buffer {
    return Buffer.from(this.block(classIndex(minBytes)));
  }

  /**
   * Returns the block behind a Buffer from take() or takeAtLeast(). Nothing may read or write it any more: the
   * next take may hand it to another connection. Buffers that are not at the start of a block are ignored.
   */
  give(body: Buffer): void {
    const block = body.buffer as ArrayBuffer;
    const size = block.byteLength;
    if (body.byteOffset !== 0 || this.isFree.has(block)) return;
    const index = classIndex(size);
    if (classBytes(index) !== size) return;
    if (size > this.maxFreeBytes / 4 || this.freeBytes + size > this.maxFreeBytes) return;
    let list = this.free.get(index);
    if (list === undefined) {
      list = [];
      this.free.set(index, list);
    }
    list.push(block);
    this.isFree.add(block);
    this.freeBytes += size;
  }

  private block(index: number): ArrayBuffer {
    const list = this.free.get(index);
    const block = list === undefined ? undefined : list.pop();
    if (block !== undefined) {
      this.isFree.delete(block);
      this.freeBytes -= block.byteLength;
      this.reused++;
      return block;
    }
    this.allocated++;
    return Buffer.allocUnsafeSlow(classBytes(index)).buffer as ArrayBuffer;
  }

  stats(): BufferPoolStats {
    return { reused: this.reused, allocated: this.allocated, freeBytes: this.freeBytes };
  }
}

/**
 * Size class for `length`: even indexes are 8 KiB × 2^(i/2), odd ones 1.5 times the even one below. Computed
 * from the bit length (this runs for every large body and every output storage).
 */
export function classIndex(length: number): number {
  if (length <= MIN_BLOCK_BYTES) return 0;
  const e = 31 - Math.clz32(length - 1); // 2^e < length ≤ 2^(e+1)
  return length <= 1.5 * 2 ** e ? 2 * (e - MIN_BLOCK_BITS) + 1 : 2 * (e + 1 - MIN_BLOCK_BITS);
}

export function classBytes(index: number): number {
  const base = MIN_BLOCK_BYTES * 2 ** (index >> 1);
  return (index & 1) === 0 ? base : base + base / 2;
}
