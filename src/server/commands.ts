/**
 * Runs one request against the local store and appends its response. The request's key and value are views
 * into the read buffer; they go to the store as (buffer, offset, length) with no copy. A value read from the
 * store is copied straight into the output batch, except a GET's value of PINNED_VALUE_MIN_BYTES or more when
 * the batch accepts external pieces (a server's): then the socket reads it from its chunk, pinned until the write
 * completes (docs/ARCHITECTURE.md, Decisions, "Store": defer reuse; memcached keeps an item referenced while it is sent the same way).
 */
import {
  DCacheError,
  InvalidArgumentError,
  KeyEmptyError,
  KeyTooLargeError,
  NotIntegerError,
  OutOfMemoryError,
  OverflowError,
  ValueTooLargeError,
} from '../errors';
import { HEADER_SIZE, MGET_MISSING, Opcode, PONG, Status, setModeOf } from '../protocol/constants';
import { readDelta, readTtlMs, type Frame } from '../protocol/decoder';
import { writeResponseHeader } from '../protocol/encoder';
import { MultiKeyCursor, writeMgetResponseCount } from '../protocol/multi';
import type { OutputBatch } from '../protocol/output-batch';
import { validateRequest, type RequestLimits } from '../protocol/validate';
import type { Store } from '../cache/store';
import type { RequestHandler } from './connection';
import { LARGE_RESPONSE_BYTES, ResponseCap, UNCAPPED } from '../net/response-cap';
import type { ServerStats } from './stats';

/** Extra facts STATS reports beside the server's counters and the store's (the cluster adds its own). */
export type StatsSource = () => Record<string, unknown>;

/**
 * From this size up a GET's value is written from its chunk rather than copied. Below it the copy (a few
 * hundred nanoseconds) costs less than a pin and one more piece in the writev.
 */
export const PINNED_VALUE_MIN_BYTES = 16 * 1024;

export class LocalCommandHandler implements RequestHandler {
  /** Set while the node drains for shutdown: requests get SHUTTING_DOWN so clients retry elsewhere. */
  draining = false;
  /** The ring epoch every response carries (0 on a node outside a cluster). */
  epoch = 0;
  private readonly cursor = new MultiKeyCursor();
  private readonly limits: RequestLimits;
  private readonly maxValueBytes: number;

  constructor(
    readonly store: Store,
    private readonly stats: ServerStats,
    limits: RequestLimits,
    private readonly extraStats: StatsSource = () => ({}),
    readonly responseCap: ResponseCap = UNCAPPED,
  ) {
    this.limits = { maxKeyBytes: limits.maxKeyBytes, maxValueBytes: limits.maxValueBytes };
    this.maxValueBytes = limits.maxValueBytes;
  }

  handle(frame: Frame, out: OutputBatch): void {
    const problem = validateRequest(frame, this.limits);
    if (problem !== null) {
      this.error(out, frame, problem.status, problem.message);
      return;
    }
    if (this.draining && frame.opcode !== Opcode.PING && frame.opcode !== Opcode.STATS) {
      this.error(out, frame, Status.SHUTTING_DOWN, 'the node is shutting down; retry on another node');
      return;
    }
    try {
      this.run(frame, out);
    } catch (error) {
      const [status, message] = statusOf(error);
      this.error(out, frame, status, message);
    }
  }

  private run(frame: Frame, out: OutputBatch): void {
    const { buffer, keyOffset, keyLength } = frame;
    const store = this.store;
    switch (frame.opcode) {
      case Opcode.GET:
        this.appendValue(out, frame);
        return;
      case Opcode.SET: {
        const stored = store.setFrom(
          buffer,
          keyOffset,
          keyLength,
          buffer,
          frame.valueOffset,
          frame.valueLength,
          readTtlMs(frame),
          setModeOf(frame.flags),
        );
        this.status(out, frame, stored ? Status.OK : Status.NOT_STORED);
        return;
      }
      case Opcode.DELETE:
        this.status(out, frame, store.deleteFrom(buffer, keyOffset, keyLength) ? Status.OK : Status.NOT_FOUND);
        return;
      case Opcode.TOUCH:
        this.status(out, frame, store.touchFrom(buffer, keyOffset, keyLength, readTtlMs(frame)) ? Status.OK : Status.NOT_FOUND);
        return;
      case Opcode.TTL:
        out.appendResponseHeader(frame.opcode, Status.OK, frame.requestId, this.epoch, 0, store.ttlFrom(buffer, keyOffset, keyLength));
        return;
      case Opcode.INCR: {
        const value = store.incrFrom(buffer, keyOffset, keyLength, readDelta(frame));
        out.appendResponseHeader(frame.opcode, Status.OK, frame.requestId, this.epoch, 0, value);
        return;
      }
      case Opcode.MGET:
        this.mget(out, frame);
        return;
      case Opcode.MSET:
        this.mset(out, frame);
        return;
      case Opcode.PING:
        if (frame.valueLength === 0) out.appendResponse(frame.opcode, Status.OK, frame.requestId, this.epoch, 0, PONG);
        else out.appendResponse(frame.opcode, Status.OK, frame.requestId, this.epoch, 0, buffer, frame.valueOffset, frame.valueLength);
        return;
      case Opcode.STATS:
        out.appendResponseString(frame.opcode, Status.OK, frame.requestId, this.epoch, JSON.stringify(this.statsSnapshot()));
        return;
      case Opcode.FLUSH:
        store.flush();
        this.status(out, frame, Status.OK);
        return;
      default:
        this.error(out, frame, Status.UNKNOWN_OPCODE, `opcode 0x${frame.opcode.toString(16)} is not served here`);
    }
  }

  statsSnapshot(): Record<string, unknown> {
    return { server: this.stats.snapshot(), store: this.store.stats(), ...this.extraStats() };
  }

  private appendValue(out: OutputBatch, frame: Frame): void {
    const store = this.store;
    const item = store.lookup(frame.buffer, frame.keyOffset, frame.keyLength);
    if (item < 0) {
      out.appendResponseHeader(frame.opcode, Status.NOT_FOUND, frame.requestId, this.epoch, 0);
      return;
    }
    const length = store.valueLength(item);
    if (length > LARGE_RESPONSE_BYTES) {
      const refusal = this.responseCap.refusal(length);
      if (refusal !== null) {
        this.stats.responseTooLarge++;
        this.error(out, frame, Status.RESPONSE_TOO_LARGE, refusal);
        return;
      }
    }
    const pinned = length >= PINNED_VALUE_MIN_BYTES && out.acceptsExternal ? store.pinValue(item) : null;
    if (pinned !== null) {
      out.appendResponseHeader(frame.opcode, Status.OK, frame.requestId, this.epoch, length);
      out.appendExternal(pinned.view, pinned.release);
      return;
    }
    const at = out.reserve(HEADER_SIZE + length);
    writeResponseHeader(out.buffer, at, frame.opcode, Status.OK, frame.requestId, this.epoch, length, 0);
    store.copyValue(item, out.buffer, at + HEADER_SIZE);
    out.commit(at + HEADER_SIZE + length);
  }

  /**
   * MGET: the response's size is known before anything is appended when it could pass the cap (count × the
   * largest value): a response the cap refuses (response-cap.ts) gets RESPONSE_TOO_LARGE instead of being built. Values of
   * PINNED_VALUE_MIN_BYTES or more go out as pinned views of their chunks, as GET's do.
   */
  private mget(out: OutputBatch, frame: Frame): void {
    const store = this.store;
    const cursor = this.cursor;
    // The body was validated: every key is well-formed and within limits.
    const count = cursor.begin(frame.buffer, frame.valueOffset, frame.valueLength);
    if (this.responseCap.mayRefuse(count * (4 + this.maxValueBytes) + 4)) {
      const refusal = this.responseCap.refusal(this.mgetResponseSize(frame));
      if (refusal !== null) {
        this.stats.responseTooLarge++;
        this.error(out, frame, Status.RESPONSE_TOO_LARGE, refusal);
        return;
      }
      cursor.begin(frame.buffer, frame.valueOffset, frame.valueLength);
    }
    const headerMark = out.mark();
    let at = out.reserve(HEADER_SIZE + 4);
    out.commit(writeMgetResponseCount(out.buffer, at + HEADER_SIZE, count));
    let bodyLength = 4;
    const pins = out.acceptsExternal;
    while (cursor.nextKey()) {
      const item = store.lookup(frame.buffer, cursor.keyOffset, cursor.keyLength);
      if (item < 0) {
        at = out.reserve(4);
        out.commit(writeMgetResponseCount(out.buffer, at, MGET_MISSING));
        bodyLength += 4;
        continue;
      }
      const length = store.valueLength(item);
      const pinned = pins && length >= PINNED_VALUE_MIN_BYTES ? store.pinValue(item) : null;
      if (pinned !== null) {
        at = out.reserve(4);
        out.commit(writeMgetResponseCount(out.buffer, at, length));
        out.appendExternal(pinned.view, pinned.release);
      } else {
        at = out.reserve(4 + length);
        writeMgetResponseCount(out.buffer, at, length);
        store.copyValue(item, out.buffer, at + 4);
        out.commit(at + 4 + length);
      }
      bodyLength += 4 + length;
    }
    cursor.release();
    writeResponseHeader(out.buffer, out.offsetOf(headerMark), frame.opcode, Status.OK, frame.requestId, this.epoch, bodyLength, 0);
  }

  /** The body size an MGET's response would have now (a lookup per key, nothing copied). */
  private mgetResponseSize(frame: Frame): number {
    const cursor = this.cursor;
    const store = this.store;
    cursor.begin(frame.buffer, frame.valueOffset, frame.valueLength);
    let size = 4;
    while (cursor.nextKey()) {
      const item = store.lookup(frame.buffer, cursor.keyOffset, cursor.keyLength);
      size += 4 + (item < 0 ? 0 : store.valueLength(item));
    }
    return size;
  }

  private mset(out: OutputBatch, frame: Frame): void {
    const store = this.store;
    const cursor = this.cursor;
    const ttlMs = readTtlMs(frame);
    cursor.begin(frame.buffer, frame.valueOffset, frame.valueLength);
    try {
      while (cursor.nextEntry()) {
        store.setFrom(frame.buffer, cursor.keyOffset, cursor.keyLength, frame.buffer, cursor.valueOffset, cursor.valueLength, ttlMs, 0);
      }
    } finally {
      cursor.release();
    }
    this.status(out, frame, Status.OK);
  }

  private status(out: OutputBatch, frame: Frame, status: number): void {
    out.appendResponseHeader(frame.opcode, status, frame.requestId, this.epoch, 0);
  }

  private error(out: OutputBatch, frame: Frame, status: number, message: string): void {
    this.stats.errorResponses++;
    out.appendResponseString(frame.opcode, status, frame.requestId, this.epoch, message);
  }
}

/** The status a store error maps to; anything unexpected is INTERNAL_ERROR (and the message says so). */
export function statusOf(error: unknown): [number, string] {
  if (error instanceof KeyEmptyError || error instanceof InvalidArgumentError) return [Status.BAD_ARGUMENT, error.message];
  if (error instanceof KeyTooLargeError) return [Status.KEY_TOO_LARGE, error.message];
  if (error instanceof ValueTooLargeError) return [Status.VALUE_TOO_LARGE, error.message];
  if (error instanceof NotIntegerError) return [Status.NOT_INTEGER, error.message];
  if (error instanceof OverflowError) return [Status.OVERFLOW, error.message];
  if (error instanceof OutOfMemoryError) return [Status.OUT_OF_MEMORY, error.message];
  if (error instanceof DCacheError) return [Status.INTERNAL_ERROR, error.message];
  return [Status.INTERNAL_ERROR, `internal error: ${error instanceof Error ? error.message : String(error)}`];
}
