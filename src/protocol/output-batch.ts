/**
 * Packs many frames into one Buffer so a connection answers a whole read chunk with one socket.write.
 *
 * Safety rule: bytes handed out by take() are never written again. take() returns a view of the pending bytes
 * and the batch keeps appending into the free tail of the same storage; when the tail is too small it allocates
 * fresh storage and never goes back to the old one (the views handed out keep it alive until the socket is done).
 * So a taken Buffer can sit in a socket's queue for as long as it likes. Because of that rule, one OutputBatch
 * can serve every connection of a server, provided each connection appends and takes its responses without
 * yielding to the event loop in between (the synchronous "decode chunk → append → take → write" loop).
 *
 * Storage grows by doubling from the size of the last batch taken (at least initialCapacity, at most 8 MiB as a
 * hint), so a steady stream of large batches does not regrow from scratch every tick, while one huge batch
 * does not pin a huge buffer.
 *
 * With a pool (a server's), storage comes from the pool and goes back to it once the batch has moved on and
 * every write from it has completed: writeTo() passes a completion callback with each write. A large value's
 * response fills most of a storage by itself, so without the pool every 64 KiB GET allocated 64 KiB afresh.
 * take() hands bytes out with no such report, so storage that take() used is never given back.
 *
 * External pieces (a batch built with acceptsExternal): appendExternal() puts bytes the batch does not own (a
 * node's view of a pinned store chunk, a client's large value) between the bytes appended before and after it,
 * with no copy. writeTo() writes the runs of batch bytes and the views in order, corked into one writev, and
 * passes each view's `done` as its write callback, so the store keeps the chunk until the socket has the bytes. take() and discard() call `done` at once
 * (take() copies the views into the Buffer it returns).
 */

import type { BufferPool } from './buffer-pool';
import { HEADER_SIZE } from './constants';
import { type Bytes, copyBytes, requestLength, writeRequest, writeResponse, writeResponseHeader, writeResponseString } from './encoder';

const EMPTY = Buffer.alloc(0);

/** Where writeTo() sends bytes: a socket. The callback runs once the bytes are written (or failed to be). */
export interface WriteSink {
  write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean;
  /** Several writes between cork() and uncork() leave in one writev (net.Socket has both). */
  cork?(): void;
  uncork?(): void;
}

/** Bytes the batch does not own, sent after the first `at` pending bytes; done() once they are sent. */
interface ExternalPiece {
  at: number;
  view: Uint8Array;
  done: () => void;
}

/** Storage from a pool and what decides when it may go back. */
class PooledStorage {
  /** Writes from this storage not yet completed. */
  private writes = 0;
  /** The batch has moved on to other storage. */
  private retired = false;
  /** take() handed out a view whose end nobody reports: never give this storage back. */
  escaped = false;
  /** The callback for every write of a view of this storage (one function, so Node can batch the calls). */
  readonly written = (): void => {
    this.writes--;
    this.giveBackIfDone();
  };

  constructor(
    readonly buf: Buffer,
    private readonly pool: BufferPool,
  ) {}

  writing(): void {
    this.writes++;
  }

  retire(): void {
    this.retired = true;
    this.giveBackIfDone();
  }

  private giveBackIfDone(): void {
    if (this.writes === 0 && this.retired && !this.escaped) this.pool.give(this.buf);
  }
}

export const DEFAULT_BATCH_CAPACITY = 64 * 1024;
/** The last batch's size guides the next storage only up to this, so one huge batch pins little memory. */
const MAX_SIZE_HINT = 8 * 1024 * 1024;

export class OutputBatch {
  readonly initialCapacity: number;
  private buf: Buffer = EMPTY;
  /** First pending (not yet taken) byte. */
  private start = 0;
  /** One past the last pending byte. */
  private end = 0;
  /** Size of the last batch taken: fresh storage starts there, so a steady stream of large batches does not
   *  regrow from initialCapacity (allocating and copying at every doubling) on every tick. */
  private lastTaken = 0;
  /** The current storage's record when it came from the pool. */
  private storage: PooledStorage | null = null;
  /** External pieces among the pending bytes, in order. */
  private externals: ExternalPiece[] = [];
  private externalBytes = 0;

  /**
   * @param acceptsExternal whether appendExternal() may be used: true only where every batch is sent with
   *   writeTo() (a server's, a client connection's), so the views' `done` runs when the socket is done with them.
   */
  constructor(
    initialCapacity = DEFAULT_BATCH_CAPACITY,
    private readonly pool?: BufferPool,
    readonly acceptsExternal = false,
  ) {
    if (!Number.isSafeInteger(initialCapacity) || initialCapacity < HEADER_SIZE) {
      throw new RangeError(`OutputBatch initialCapacity must be an integer ≥ ${HEADER_SIZE}, got ${initialCapacity}`);
    }
    this.initialCapacity = initialCapacity;
  }

  /** Pending bytes (appended, not yet taken), external pieces included. */
  get length(): number {
    return this.end - this.start + this.externalBytes;
  }

  /** The current storage, for writing in place after reserve(). */
  get buffer(): Buffer {
    return this.buf;
  }

  /**
   * Makes room for n more bytes and returns the offset in `buffer` where they go. Write them, then commit() the
   * offset after them. Any earlier offset into `buffer` is invalid after reserve (storage may have moved);
   * positions that must survive are kept as mark() values.
   */
  reserve(n: number): number {
    if (this.buf.length - this.end < n) this.grow(n);
    return this.end;
  }

  /** Ends a write started with reserve(): `end` is the offset after the last byte written. */
  commit(end: number): void {
    if (end < this.end || end > this.buf.length) {
      throw new RangeError(`OutputBatch.commit(${end}) outside the reserved range [${this.end}, ${this.buf.length}]`);
    }
    this.end = end;
  }

  /** A position among the pending bytes that stays valid while the storage grows (until take/discard). */
  mark(): number {
    return this.end - this.start;
  }

  /** The offset in `buffer` of a mark (recompute after every reserve). */
  offsetOf(mark: number): number {
    return this.start + mark;
  }

  /** Appends a response; its value is value[valueOffset, valueOffset + valueLength) or nothing when null. */
  appendResponse(
    opcode: number,
    status: number,
    requestId: number,
    epoch: number,
    extras: number | bigint,
    value: Uint8Array | null,
    valueOffset = 0,
    valueLength: number = value === null ? 0 : value.length - valueOffset,
  ): void {
    const off = this.reserve(HEADER_SIZE + valueLength);
    this.end = writeResponse(this.buf, off, opcode, status, requestId, epoch, extras, value, valueOffset, valueLength);
  }

  /** Appends a response with a UTF-8 string value (an error message, STATS JSON). */
  appendResponseString(opcode: number, status: number, requestId: number, epoch: number, text: string, extras: number | bigint = 0): void {
    const off = this.reserve(HEADER_SIZE + Buffer.byteLength(text, 'utf8'));
    this.end = writeResponseString(this.buf, off, opcode, status, requestId, epoch, text, extras);
  }

  /** Appends a response header only; the caller appends exactly valueLength bytes of value after it. */
  appendResponseHeader(
    opcode: number,
    status: number,
    requestId: number,
    epoch: number,
    valueLength: number,
    extras: number | bigint = 0,
  ): void {
    const off = this.reserve(HEADER_SIZE);
    this.end = writeResponseHeader(this.buf, off, opcode, status, requestId, epoch, valueLength, extras);
  }

  /** Appends a request frame (client side, or a node forwarding to a peer). */
  appendRequest(
    opcode: number,
    flags: number,
    requestId: number,
    key: Bytes | null,
    value: Bytes | null,
    extras: number | bigint = 0,
  ): void {
    const off = this.reserve(requestLength(key, value));
    this.end = writeRequest(this.buf, off, opcode, flags, requestId, key, value, extras);
  }

  /**
   * Appends `view` without copying it; `done` runs once it is no longer read (see the file comment). The caller
   * must not change the bytes of `view` before then. Only for a batch built with acceptsExternal.
   */
  appendExternal(view: Uint8Array, done: () => void): void {
    if (!this.acceptsExternal) throw new Error('appendExternal on an OutputBatch built without acceptsExternal');
    this.externals.push({ at: this.end - this.start, view, done });
    this.externalBytes += view.length;
  }

  /** Appends src[srcOffset, srcOffset + length). */
  appendBytes(src: Uint8Array, srcOffset = 0, length: number = src.length - srcOffset): void {
    const off = this.reserve(length);
    copyBytes(src, srcOffset, length, this.buf, off);
    this.end = off + length;
  }

  /**
   * Hands out the pending bytes (a view, empty when nothing is pending). The batch never writes those bytes
   * again, so the result may be queued on a socket for as long as needed.
   */
  take(): Buffer {
    if (this.externals.length > 0) return this.takeJoined();
    if (this.end === this.start) return EMPTY;
    if (this.storage !== null) this.storage.escaped = true;
    return this.takeView();
  }

  /** take() with external pieces: one Buffer with everything in order; the pieces are released. */
  private takeJoined(): Buffer {
    const own = this.takeView();
    const out = Buffer.allocUnsafe(own.length + this.externalBytes);
    let from = 0;
    let at = 0;
    for (const piece of this.takeExternals()) {
      at += own.copy(out, at, from, piece.at);
      from = piece.at;
      out.set(piece.view, at);
      at += piece.view.length;
      piece.done();
    }
    own.copy(out, at, from);
    return out;
  }

  private takeExternals(): ExternalPiece[] {
    const pieces = this.externals;
    this.externals = [];
    this.externalBytes = 0;
    return pieces;
  }

  /**
   * Writes the pending bytes to `sink` with one write() and returns how many (0: nothing was pending). Unlike
   * take() + write, this lets pooled storage go back to the pool once the write has completed.
   */
  writeTo(sink: WriteSink): number {
    if (this.externals.length > 0) return this.writePiecesTo(sink);
    if (this.end === this.start) return 0;
    const out = this.takeView();
    this.writeOwn(sink, out);
    return out.length;
  }

  private writeOwn(sink: WriteSink, bytes: Buffer): void {
    const storage = this.storage;
    if (storage === null) {
      sink.write(bytes);
    } else {
      storage.writing();
      sink.write(bytes, storage.written);
    }
  }

  /** writeTo() with external pieces: the runs of own bytes and the views in order, in one corked writev. */
  private writePiecesTo(sink: WriteSink): number {
    const total = this.length;
    const own = this.takeView();
    sink.cork?.();
    let from = 0;
    for (const piece of this.takeExternals()) {
      if (piece.at > from) this.writeOwn(sink, own.subarray(from, piece.at));
      sink.write(piece.view, piece.done);
      from = piece.at;
    }
    if (from < own.length) this.writeOwn(sink, own.subarray(from));
    sink.uncork?.();
    return total;
  }

  private takeView(): Buffer {
    const out = this.buf.subarray(this.start, this.end);
    this.start = this.end;
    this.lastTaken = out.length;
    return out;
  }

  /** Drops the pending bytes (never handed out, so their room is reused). */
  discard(): void {
    this.end = this.start;
    for (const piece of this.takeExternals()) piece.done();
  }

  /** Lets go of the storage when nothing is pending (an idle connection); the next append allocates anew. */
  release(): void {
    if (this.end === this.start && this.externals.length === 0) {
      this.retireStorage();
      this.buf = EMPTY;
      this.start = this.end = 0;
    }
  }

  private grow(n: number): void {
    const pending = this.end - this.start;
    const need = pending + n;
    let capacity = Math.max(this.initialCapacity, Math.min(this.lastTaken, MAX_SIZE_HINT));
    while (capacity < need) capacity *= 2;
    // Growing a batch that is still being filled: at least double, so appends stay amortised O(1).
    if (pending > 0 && capacity < 2 * pending) capacity = 2 * pending;
    const pool = this.pool;
    const next = pool === undefined ? Buffer.allocUnsafe(capacity) : pool.takeAtLeast(capacity);
    if (pending > 0) this.buf.copy(next, 0, this.start, this.end);
    this.retireStorage();
    if (pool !== undefined) this.storage = new PooledStorage(next, pool);
    this.buf = next;
    this.start = 0;
    this.end = pending;
  }

  private retireStorage(): void {
    const storage = this.storage;
    this.storage = null;
    if (storage !== null) storage.retire();
  }
}
