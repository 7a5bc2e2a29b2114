/**
 * A resumable frame decoder. push(chunk) decodes every complete frame in the chunk and hands each to onFrame as
 * one reused Frame whose offsets point into the chunk: no allocation and no copy per frame. Only a frame that
 * spans chunks is copied: its header into a fixed 24-byte buffer, its body into a buffer of exactly the body
 * size, allocated after that size was checked against maxBodyBytes (or, with a bodyPool, taken from the pool
 * and given back once onFrame returns).
 *
 * Framing errors (bad magic, version, reserved bits; body over the limit) are detected as soon as the bytes that
 * show them arrive (the magic at the first byte), before anything is allocated or awaited. The decoder then
 * stops for good and reports the error once: to onError when given, otherwise by throwing it from push().
 */

import { constants as bufferConstants } from 'node:buffer';
import { FrameTooLargeError, ProtocolError } from '../errors';
import { POOLED_BODY_MIN_BYTES, type BufferPool } from './buffer-pool';
import {
  ALLOWED_REQUEST_FLAGS,
  DEFAULT_MAX_BODY_BYTES,
  HEADER_SIZE,
  MAX_WIRE_KEY_BYTES,
  MAX_WIRE_VALUE_BYTES,
  PROTOCOL_VERSION,
  REQUEST_MAGIC,
  RESPONSE_MAGIC,
  Status,
} from './constants';
import { Frame, type FrameKind } from './frame';

// What the decoder hands out, importable with it.
export { Frame, readDelta, readInt64, readTtlMs, type Extras, type FrameKind } from './frame';

const EMPTY = Buffer.alloc(0);

/** Big-endian u32 at off; the caller has checked the 4 bytes are there. Several times faster here than Buffer#readUInt32BE. */
function u32(buf: Buffer, off: number): number {
  return buf[off]! * 0x1000000 + ((buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!);
}

/** What went wrong, with what the server needs to answer before closing. */
export interface DecodeFailure {
  readonly error: ProtocolError | FrameTooLargeError;
  /** Status.MALFORMED or Status.FRAME_TOO_LARGE. */
  readonly status: number;
  /** The frame's request id, or -1 when fewer than 8 header bytes had arrived. */
  readonly requestId: number;
  /** The frame's opcode, or -1 when fewer than 3 header bytes had arrived. */
  readonly opcode: number;
}

export interface FrameDecoderOptions {
  /** 'request' on a server (frames start with 0xDC), 'response' on a client (0xDD). */
  kind: FrameKind;
  /** Limit on key length + value length; default 2 MiB (DEFAULT_MAX_BODY_BYTES). */
  maxBodyBytes?: number;
  /** Called synchronously for every frame, with the same Frame object each time. Must not call push(). */
  onFrame: (frame: Frame) => void;
  /** Called once on a framing error; without it push() throws the error instead. */
  onError?: (error: ProtocolError | FrameTooLargeError, failure: DecodeFailure) => void;
  /**
   * Where bodies that span reads get their buffer (a server shares one among its connections). The buffer goes
   * back to the pool when onFrame returns, so onFrame must copy what it keeps, even of such a frame.
   */
  bodyPool?: BufferPool;
}

const RUNNING = 0;
const FAILED = 1;
const DESTROYED = 2;
/** onFrame threw: the rest of that chunk was not decoded, so the stream position is lost. */
const BROKEN = 3;

/** Largest body the header fields can declare. */
const MAX_DECLARABLE_BODY = MAX_WIRE_KEY_BYTES + MAX_WIRE_VALUE_BYTES;

export class FrameDecoder {
  readonly kind: FrameKind;
  readonly maxBodyBytes: number;
  private readonly isRequest: boolean;
  private readonly magic: number;
  private readonly onFrame: (frame: Frame) => void;
  private readonly onError: ((error: ProtocolError | FrameTooLargeError, failure: DecodeFailure) => void) | undefined;
  private readonly frame = new Frame();
  /** A header cut by a chunk boundary: its first headerFill bytes. */
  private readonly header = Buffer.alloc(HEADER_SIZE);
  private headerFill = 0;
  /** The body of a frame cut by a chunk boundary (its header is already in `frame`), and how much arrived. */
  private body: Buffer | null = null;
  private bodyFill = 0;
  private readonly bodyPool: BufferPool | undefined;
  /** `body` came from bodyPool and goes back to it. */
  private bodyPooled = false;
  private state = RUNNING;
  private failureInfo: DecodeFailure | null = null;
  /** pause() was called: stop after the current frame and hold the rest of the input until resume(). */
  private pauseRequested = false;
  /** Input received while paused (a copy: at most what was left of one chunk plus any chunk pushed since). */
  private held: Buffer | null = null;
  /** The held copy being decoded by resume(): when it pauses again, its rest is kept as a view, not copied again. */
  private resuming: Buffer | null = null;

  constructor(options: FrameDecoderOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError('FrameDecoder options must be an object');
    const { kind, maxBodyBytes = DEFAULT_MAX_BODY_BYTES, onFrame, onError, bodyPool } = options;
    if (kind !== 'request' && kind !== 'response') {
      throw new TypeError(`FrameDecoder kind must be 'request' or 'response', got ${String(kind)}`);
    }
    const maxAllocatable = Math.min(MAX_DECLARABLE_BODY, bufferConstants.MAX_LENGTH);
    if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 0 || maxBodyBytes > maxAllocatable) {
      throw new RangeError(`FrameDecoder maxBodyBytes must be an integer in [0, ${maxAllocatable}], got ${maxBodyBytes}`);
    }
    if (typeof onFrame !== 'function') throw new TypeError('FrameDecoder onFrame must be a function');
    if (onError !== undefined && typeof onError !== 'function') {
      throw new TypeError('FrameDecoder onError must be a function when given');
    }
    this.kind = kind;
    this.isRequest = kind === 'request';
    this.magic = this.isRequest ? REQUEST_MAGIC : RESPONSE_MAGIC;
    this.maxBodyBytes = maxBodyBytes;
    this.onFrame = onFrame;
    this.onError = onError;
    this.bodyPool = bodyPool;
  }

  /** Bytes of an unfinished frame held by the decoder (header and body so far). */
  get pendingBytes(): number {
    return this.headerFill + (this.body === null ? 0 : HEADER_SIZE + this.bodyFill);
  }

  /**
   * Memory this decoder holds for input not yet delivered: the buffer of a body being received (allocated at
   * its full size), a cut header, and input held while paused. What a node's input budget counts.
   */
  get heldInputBytes(): number {
    return this.headerFill + (this.body === null ? 0 : this.body.length) + (this.held === null ? 0 : this.held.length);
  }

  /** True while a frame has started but not finished: a server times this out. */
  get hasPartialFrame(): boolean {
    return this.headerFill !== 0 || this.body !== null;
  }

  /** The framing error that stopped the decoder, if any. */
  get failure(): DecodeFailure | null {
    return this.failureInfo;
  }

  /** False once the decoder failed, was destroyed, or onFrame threw: push() then ignores its input. */
  get usable(): boolean {
    return this.state === RUNNING;
  }

  /**
   * Stops delivering frames after the current one and holds the undecoded input until resume(). Callable from
   * inside onFrame: a server whose output for a connection passed its high-water mark pauses mid-read, so a
   * read full of GETs for large values does not build an unbounded batch of responses.
   */
  pause(): void {
    this.pauseRequested = true;
  }

  get isPaused(): boolean {
    return this.pauseRequested;
  }

  /** Bytes held while paused. */
  get heldBytes(): number {
    return this.held === null ? 0 : this.held.length;
  }

  /** Delivers the held input (which may pause again); must not be called from inside onFrame. */
  resume(): void {
    if (!this.pauseRequested) return;
    this.pauseRequested = false;
    const held = this.held;
    this.held = null;
    if (held === null) return;
    this.resuming = held;
    try {
      this.push(held);
    } finally {
      this.resuming = null;
    }
  }

  /** Stops decoding (also from inside onFrame: no further frame of the current chunk is delivered). */
  destroy(): void {
    if (this.state === RUNNING) this.state = DESTROYED;
    this.dropBody();
    this.held = null;
    this.headerFill = 0;
    this.frame.buffer = EMPTY;
  }

  /**
   * Decodes every complete frame in chunk. The chunk may be reused by the caller once push returns. After a
   * failure or destroy(), input is ignored. An exception thrown by onFrame propagates, and the decoder stops.
   */
  push(chunk: Buffer): void {
    if (this.state !== RUNNING) return;
    if (this.pauseRequested) {
      this.hold(chunk, 0);
      return;
    }
    try {
      this.run(chunk);
    } catch (err) {
      if (this.state === RUNNING) this.state = BROKEN;
      throw err;
    } finally {
      this.frame.buffer = EMPTY;
    }
  }

  private run(chunk: Buffer): void {
    const len = chunk.length;
    let off = 0;
    if (this.headerFill !== 0) {
      off = this.resumeHeader(chunk);
      if (off < 0) return;
    } else if (this.body !== null) {
      off = this.resumeBody(chunk, 0);
      if (off < 0) return;
    }
    const frame = this.frame;
    while (len - off >= HEADER_SIZE) {
      if (this.pauseRequested) {
        this.hold(chunk, off);
        return;
      }
      if (!this.readHeader(chunk, off)) return;
      const bodyStart = off + HEADER_SIZE;
      const bodyLength = frame.keyLength + frame.valueLength;
      if (len - bodyStart < bodyLength) {
        this.startBody(chunk, bodyStart, bodyLength);
        return;
      }
      frame.buffer = chunk;
      frame.keyOffset = bodyStart;
      frame.valueOffset = bodyStart + frame.keyLength;
      this.onFrame(frame);
      if (this.state !== RUNNING) return;
      off = bodyStart + bodyLength;
    }
    if (off < len) {
      if (this.pauseRequested) {
        this.hold(chunk, off);
        return;
      }
      if (!this.check(chunk, off, len - off)) return;
      chunk.copy(this.header, 0, off, len);
      this.headerFill = len - off;
    }
  }

  /**
   * Keeps chunk[from…] for resume(): copied, since the caller may reuse the chunk, unless the chunk is the
   * decoder's own held copy (a read of many small requests yields every maxRequestsPerRead requests, and
   * copying the rest each time would copy a 1 MiB read several times over).
   */
  private hold(chunk: Buffer, from: number): void {
    if (from >= chunk.length) return;
    const rest = chunk === this.resuming && this.held === null ? chunk.subarray(from) : Buffer.from(chunk.subarray(from));
    this.held = this.held === null ? rest : Buffer.concat([this.held, rest]);
  }

  /** Completes a header cut by the last chunk; returns where decoding continues in chunk, or -1 to stop. */
  private resumeHeader(chunk: Buffer): number {
    const header = this.header;
    const n = Math.min(HEADER_SIZE - this.headerFill, chunk.length);
    chunk.copy(header, this.headerFill, 0, n);
    this.headerFill += n;
    if (!this.check(header, 0, this.headerFill)) return -1;
    if (this.headerFill < HEADER_SIZE) return -1;
    this.headerFill = 0;
    if (!this.readHeader(header, 0)) return -1;
    const frame = this.frame;
    const bodyLength = frame.keyLength + frame.valueLength;
    if (bodyLength === 0) {
      frame.buffer = header;
      frame.keyOffset = frame.valueOffset = HEADER_SIZE;
    } else if (chunk.length - n >= bodyLength) {
      // The body is whole in this chunk: hand out a view, no copy.
      frame.buffer = chunk;
      frame.keyOffset = n;
      frame.valueOffset = n + frame.keyLength;
    } else {
      this.startBody(chunk, n, bodyLength);
      return -1;
    }
    this.onFrame(frame);
    return this.state === RUNNING ? n + bodyLength : -1;
  }

  /** Copies the start of a body cut by the end of chunk into a buffer of exactly bodyLength (already checked). */
  private startBody(chunk: Buffer, from: number, bodyLength: number): void {
    const pool = this.bodyPool;
    this.bodyPooled = pool !== undefined && bodyLength >= POOLED_BODY_MIN_BYTES;
    const body = this.bodyPooled ? pool!.take(bodyLength) : Buffer.allocUnsafe(bodyLength);
    this.bodyFill = chunk.copy(body, 0, from, chunk.length);
    this.body = body;
  }

  /** Forgets an unfinished body, giving its buffer back to the pool if it came from there. */
  private dropBody(): void {
    const body = this.body;
    this.body = null;
    this.bodyFill = 0;
    if (body !== null && this.bodyPooled) this.bodyPool!.give(body);
    this.bodyPooled = false;
  }

  private resumeBody(chunk: Buffer, off: number): number {
    const body = this.body!;
    const n = Math.min(body.length - this.bodyFill, chunk.length - off);
    chunk.copy(body, this.bodyFill, off, off + n);
    this.bodyFill += n;
    if (this.bodyFill < body.length) return -1;
    this.body = null;
    this.bodyFill = 0;
    const pooled = this.bodyPooled;
    this.bodyPooled = false;
    const frame = this.frame;
    frame.buffer = body;
    frame.keyOffset = 0;
    frame.valueOffset = frame.keyLength;
    frame.ownsBuffer = !pooled;
    try {
      this.onFrame(frame);
    } finally {
      frame.ownsBuffer = false;
      if (pooled) {
        frame.buffer = EMPTY;
        this.bodyPool!.give(body);
      }
    }
    return this.state === RUNNING ? off + n : -1;
  }

  /** Checks and reads a complete header at off into `frame`. */
  private readHeader(buf: Buffer, off: number): boolean {
    if (!this.check(buf, off, HEADER_SIZE)) return false;
    const f = this.frame;
    f.opcode = buf[off + 2]!;
    f.requestId = u32(buf, off + 4);
    f.valueLength = u32(buf, off + 12);
    f.extrasHigh = u32(buf, off + 16);
    f.extrasLow = u32(buf, off + 20);
    if (this.isRequest) {
      f.flags = buf[off + 3]!;
      f.keyLength = (buf[off + 8]! << 8) | buf[off + 9]!;
    } else {
      f.status = buf[off + 3]!;
      f.epoch = u32(buf, off + 8);
    }
    return true;
  }

  /** Validates the first `avail` bytes of a header (avail ≤ 24): each field as soon as it has arrived. */
  private check(buf: Buffer, off: number, avail: number): boolean {
    if (buf[off] !== this.magic) return this.malformed(buf, off, avail, this.badMagicMessage(buf[off]!));
    if (avail < 2) return true;
    if (buf[off + 1] !== PROTOCOL_VERSION) {
      return this.malformed(buf, off, avail, `unsupported protocol version ${buf[off + 1]}; this peer speaks version ${PROTOCOL_VERSION}`);
    }
    if (avail < 4) return true;
    if (this.isRequest) {
      const flags = buf[off + 3]!;
      if ((flags & ~ALLOWED_REQUEST_FLAGS) !== 0) {
        return this.malformed(
          buf,
          off,
          avail,
          `request flag bits 0x${(flags & ~ALLOWED_REQUEST_FLAGS).toString(16)} are reserved in protocol version 1 and must be 0`,
        );
      }
      if (avail < 12) return true;
      if (buf[off + 10] !== 0 || buf[off + 11] !== 0) {
        return this.malformed(buf, off, avail, 'request header bytes 10-11 are reserved and must be 0');
      }
    }
    if (avail < 16) return true;
    const bodyLength = (this.isRequest ? (buf[off + 8]! << 8) | buf[off + 9]! : 0) + u32(buf, off + 12);
    if (bodyLength > this.maxBodyBytes) {
      return this.fail(new FrameTooLargeError(bodyLength, this.maxBodyBytes), Status.FRAME_TOO_LARGE, buf, off, avail);
    }
    return true;
  }

  private badMagicMessage(byte: number): string {
    const hex = `0x${byte.toString(16).padStart(2, '0')}`;
    const expected = `0x${this.magic.toString(16)}`;
    return this.isRequest
      ? `not a distributed-cache request: first byte ${hex}, expected ${expected} (is an HTTP, TLS or Redis client talking to the binary port?)`
      : `not a distributed-cache response: first byte ${hex}, expected ${expected} (is the address a distributed-cache node's binary port?)`;
  }

  private malformed(buf: Buffer, off: number, avail: number, message: string): false {
    return this.fail(new ProtocolError(message), Status.MALFORMED, buf, off, avail);
  }

  private fail(error: ProtocolError | FrameTooLargeError, status: number, buf: Buffer, off: number, avail: number): false {
    const failure: DecodeFailure = {
      error,
      status,
      requestId: avail >= 8 ? buf.readUInt32BE(off + 4) : -1,
      opcode: avail >= 3 ? buf[off + 2]! : -1,
    };
    this.failureInfo = failure;
    this.state = FAILED;
    this.dropBody();
    this.headerFill = 0;
    if (this.onError === undefined) throw error;
    this.onError(error, failure);
    return false;
  }
}
