/**
 * What one connection has yet to send: small frames packed into an OutputBatch (one copy, one write per tick),
 * and large values by reference, as the batch's external pieces. Copying a 64 KiB value into the batch costs a
 * memcpy, a fresh batch storage every few requests and the garbage collections that storage churn brings;
 * profiled with 64 in flight, that was most of the client's CPU. A large value instead goes right after the frame
 * header (and key) that precede it, and all pieces leave in one corked write (one writev).
 *
 * The price is the same as with ioredis: a value Buffer of LARGE_VALUE_BYTES or more must not be changed until
 * its request settles.
 *
 * The batch's storage comes from a pool the client's connections share, and goes back to it once the socket
 * writes from it have completed: with 1 KiB values at 64 in flight each flush filled a fresh 64 KiB storage, and
 * those ArrayBuffers (about 250 MB a second) drove the client's process into a full garbage collection many
 * times a second.
 */
import type { BufferPool } from '../protocol/buffer-pool';
import { OutputBatch } from '../protocol/output-batch';

/** Values at least this large are written by reference instead of copied into the batch. */
export const LARGE_VALUE_BYTES = 16 * 1024;

const INITIAL_BATCH_BYTES = 16 * 1024;

/** A connection's outgoing batch (send it with writeTo, which lets pooled storage go back). */
export function outgoingBatch(pool: BufferPool | undefined): OutputBatch {
  return new OutputBatch(INITIAL_BATCH_BYTES, pool, true);
}

/** A caller's value is the caller's: nothing to release once it is written. */
export function callerKeepsValue(): void {}
