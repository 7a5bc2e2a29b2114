/**
 * One decoded frame (the decoder reuses a single instance) and the readings of its 64-bit extras: a TTL, an
 * INCR delta, a signed result. The layout is docs/PROTOCOL.md's header.
 */
import { MAX_TTL_MS } from './constants';

const EMPTY = Buffer.alloc(0);
const TWO_32 = 4294967296;

export type FrameKind = 'request' | 'response';

/**
 * One decoded frame. The decoder reuses a single instance: read what you need inside onFrame, and copy bytes
 * that must outlive the callback (buffer is the chunk, or the decoder's own storage, and may be overwritten).
 */
export class Frame {
  opcode = 0;
  /** Request flags (0 in responses). */
  flags = 0;
  /** Response status (0 in requests). */
  status = 0;
  requestId = 0;
  /** Response: ring epoch of the answering node (0 in requests). */
  epoch = 0;
  /** Request key length (0 in responses: a response body is all value). */
  keyLength = 0;
  valueLength = 0;
  /** Extras, bytes 16–19, unsigned. */
  extrasHigh = 0;
  /** Extras, bytes 20–23, unsigned. */
  extrasLow = 0;
  /** Holds the body: key at keyOffset, value at valueOffset. Valid only during onFrame. */
  buffer: Buffer = EMPTY;
  /**
   * True when `buffer` was allocated for this frame alone (its body spanned reads) and the decoder has let go
   * of it: a consumer may keep a view of it instead of copying the value once more. False for a body that came
   * from the bodyPool (it goes back to the pool when onFrame returns).
   */
  ownsBuffer = false;
  keyOffset = 0;
  valueOffset = 0;

  /** A view of the key (allocates the view object; the hot path reads buffer/keyOffset instead). */
  key(): Buffer {
    return this.buffer.subarray(this.keyOffset, this.keyOffset + this.keyLength);
  }

  /** A view of the value. */
  value(): Buffer {
    return this.buffer.subarray(this.valueOffset, this.valueOffset + this.valueLength);
  }
}

/** The fields that carry the 64-bit extras. */
export interface Extras {
  readonly extrasHigh: number;
  readonly extrasLow: number;
}

/** Extras as a TTL in ms (SET, TOUCH, MSET): 0 = no expiry; -1 when over 2^53 - 1 (answer BAD_ARGUMENT). */
export function readTtlMs(frame: Extras): number {
  if (frame.extrasHigh > 0x1fffff) return -1;
  const ttl = frame.extrasHigh * TWO_32 + frame.extrasLow;
  return ttl <= MAX_TTL_MS ? ttl : -1;
}

/** Extras as a signed 64-bit integer (INCR delta). */
export function readDelta(frame: Extras): bigint {
  return BigInt.asIntN(64, (BigInt(frame.extrasHigh) << 32n) | BigInt(frame.extrasLow));
}

/**
 * Extras as a signed 64-bit integer: a number when it is a safe integer, a bigint otherwise (a TTL response's
 * PTTL, an INCR response's new value).
 */
export function readInt64(frame: Extras): number | bigint {
  const v = (frame.extrasHigh | 0) * TWO_32 + frame.extrasLow;
  return Number.isSafeInteger(v) ? v : readDelta(frame);
}
