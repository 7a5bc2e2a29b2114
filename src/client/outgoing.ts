/**
 * What one connection has yet to send: small frames packed into an OutputBatch (one copy, one write per tick),
 * and large values by reference. Copying a 64 KiB value into the batch costs a memcpy, a fresh batch storage
 * every few requests and the garbage collections that storage churn brings; profiled with 64 in flight, that was
 * most of the client's CPU. A large value is instead queued as its own piece after the frame header (and key)
 * that precede it, and all pieces leave in one corked write (one writev).
 *
 * The price is the same as with ioredis: a value Buffer of LARGE_VALUE_BYTES or more must not be changed until
 * its request settles.
 */
import type * as net from 'node:net';
import { OutputBatch } from '../protocol/output-batch';

/** Values at least this large are written by reference instead of copied into the batch. */
export const LARGE_VALUE_BYTES = 16 * 1024;

export class OutgoingQueue {
  /** Frames are encoded into this; reserve/commit as usual. */
  readonly batch = new OutputBatch(16 * 1024);
  /** Pieces that go before the batch's pending bytes, in order. */
  private pieces: Uint8Array[] = [];
  private piecesLength = 0;

  /** Bytes waiting to be written. */
  get length(): number {
    return this.piecesLength + this.batch.length;
  }

  /** Queues `value` by reference right after everything appended so far (the frame header it belongs to). */
  appendByReference(value: Uint8Array): void {
    const before = this.batch.take();
    if (before.length > 0) this.pieces.push(before);
    this.pieces.push(value);
    this.piecesLength += before.length + value.length;
  }

  /** Writes everything queued to the socket in one go; returns what socket.write returned for the last piece. */
  writeTo(socket: net.Socket): boolean {
    if (this.pieces.length === 0) return socket.write(this.batch.take());
    socket.cork();
    let accepted = true;
    for (const piece of this.pieces) accepted = socket.write(piece);
    const tail = this.batch.take();
    if (tail.length > 0) accepted = socket.write(tail);
    this.pieces = [];
    this.piecesLength = 0;
    socket.uncork();
    return accepted;
  }

  /** Drops everything not yet written. */
  discard(): void {
    this.batch.discard();
    this.pieces = [];
    this.piecesLength = 0;
  }
}
