/**
 * The binary port's reply sink: the key router's answers as response frames appended to the shared
 * OutputBatch. A value read from the store is copied straight into the batch, except a GET's or MGET's value of
 * PINNED_VALUE_MIN_BYTES or more when the batch accepts external pieces (a server's): then the socket reads it
 * from its chunk, pinned until the write completes (docs/ARCHITECTURE.md, Decisions, "Store": defer reuse;
 * memcached keeps an item referenced while it is sent the same way). A member's answer to a forwarded request
 * is passed through as it came.
 */
import {
  DCacheError,
  InvalidArgumentError,
  KeyEmptyError,
  KeyTooLargeError,
  NotIntegerError,
  OutOfMemoryError,
  OverflowError,
  ShuttingDownError,
  UnavailableError,
  ValueTooLargeError,
} from '../errors';
import { HEADER_SIZE, MGET_MISSING, Opcode, Status } from '../protocol/constants';
import { writeResponseHeader } from '../protocol/encoder';
import { mgetResponseBodyLength, writeMgetResponseCount } from '../protocol/multi';
import type { OutputBatch } from '../protocol/output-batch';
import { PINNED_VALUE_MIN_BYTES, type StoredValue } from '../cache/stored-value';
import { LARGE_RESPONSE_BYTES, type ResponseCap } from '../net/response-cap';
import { DeferredSink } from '../routing/deferred-sink';
import type { RawResponse, ReplySink, ValuesSizer } from '../routing/sink';
import type { AsyncReplies } from './request-handler';
import type { ServerStats } from './server-stats';

/** MGET response body: a u32 count, then a u32 length (or MGET_MISSING) and the bytes per value. */
const BINARY_SIZER: ValuesSizer = {
  header: () => 4,
  item: (length) => 4 + (length < 0 ? 0 : length),
};

export class BinaryReplySink implements ReplySink {
  readonly sizer = BINARY_SIZER;
  private out!: OutputBatch;
  private opcode = 0;
  private requestId = 0;
  private replies: AsyncReplies | null = null;
  private inValues = false;
  private headerMark = 0;
  private bodyLength = 0;

  constructor(
    /** Where the ring epoch every response carries is read (the local command handler). */
    private readonly node: { readonly epoch: number },
    private readonly stats: ServerStats,
    private readonly cap: ResponseCap,
  ) {}

  /** Points the sink at one request's answer; `replies` null: it must answer now (no forwarding). */
  reset(out: OutputBatch, opcode: number, requestId: number, replies: AsyncReplies | null): this {
    this.out = out;
    this.opcode = opcode;
    this.requestId = requestId;
    this.replies = replies;
    this.inValues = false;
    return this;
  }

  stored(value: StoredValue): void {
    if (this.inValues) {
      this.valueItem(value);
      return;
    }
    const out = this.out;
    const length = value.length;
    if (length > LARGE_RESPONSE_BYTES) {
      const refusal = this.cap.refusal(length);
      if (refusal !== null) {
        this.tooLarge(refusal);
        return;
      }
    }
    const pinned = length >= PINNED_VALUE_MIN_BYTES && out.acceptsExternal ? value.pin() : null;
    if (pinned !== null) {
      out.appendResponseHeader(this.opcode, Status.OK, this.requestId, this.node.epoch, length);
      out.appendExternal(pinned.view, pinned.release);
      return;
    }
    const at = out.reserve(HEADER_SIZE + length);
    writeResponseHeader(out.buffer, at, this.opcode, Status.OK, this.requestId, this.node.epoch, length, 0);
    value.copyTo(out.buffer, at + HEADER_SIZE);
    out.commit(at + HEADER_SIZE + length);
  }

  value(bytes: Uint8Array | null): void {
    if (bytes === null) this.status(Status.NOT_FOUND);
    else this.out.appendResponse(this.opcode, Status.OK, this.requestId, this.node.epoch, 0, bytes);
  }

  flag(done: boolean): void {
    this.status(done ? Status.OK : this.opcode === Opcode.SET ? Status.NOT_STORED : Status.NOT_FOUND);
  }

  number(n: number): void {
    this.out.appendResponseHeader(this.opcode, Status.OK, this.requestId, this.node.epoch, 0, n);
  }

  bigint(n: bigint): void {
    this.out.appendResponseHeader(this.opcode, Status.OK, this.requestId, this.node.epoch, 0, n);
  }

  ok(): void {
    this.status(Status.OK);
  }

  /** The header goes in now and is written once the body's length is known (endValues). */
  beginValues(count: number): void {
    const out = this.out;
    this.headerMark = out.mark();
    const at = out.reserve(HEADER_SIZE + 4);
    out.commit(writeMgetResponseCount(out.buffer, at + HEADER_SIZE, count));
    this.bodyLength = 4;
    this.inValues = true;
  }

  missing(): void {
    const out = this.out;
    const at = out.reserve(4);
    out.commit(writeMgetResponseCount(out.buffer, at, MGET_MISSING));
    this.bodyLength += 4;
  }

  endValues(): void {
    this.inValues = false;
    const out = this.out;
    writeResponseHeader(
      out.buffer,
      out.offsetOf(this.headerMark),
      this.opcode,
      Status.OK,
      this.requestId,
      this.node.epoch,
      this.bodyLength,
      0,
    );
  }

  values(list: ReadonlyArray<Uint8Array | null>): void {
    const length = mgetResponseBodyLength(list);
    const refusal = this.cap.refusal(length);
    if (refusal !== null) {
      this.tooLarge(refusal);
      return;
    }
    const out = this.out;
    const at = out.reserve(HEADER_SIZE + length);
    const buffer = out.buffer;
    writeResponseHeader(buffer, at, this.opcode, Status.OK, this.requestId, this.node.epoch, length, 0);
    let p = writeMgetResponseCount(buffer, at + HEADER_SIZE, list.length);
    for (const value of list) {
      if (value === null) {
        p = writeMgetResponseCount(buffer, p, MGET_MISSING);
      } else {
        p = writeMgetResponseCount(buffer, p, value.length);
        buffer.set(value, p);
        p += value.length;
      }
    }
    out.commit(p);
  }

  error(error: unknown): void {
    const [status, message] = statusOf(error);
    this.stats.errorResponses++;
    this.out.appendResponseString(this.opcode, status, this.requestId, this.node.epoch, message);
  }

  relay(response: RawResponse): void {
    const extras =
      response.extrasHigh === 0 && response.extrasLow === 0
        ? 0
        : BigInt.asUintN(64, (BigInt(response.extrasHigh) << 32n) | BigInt(response.extrasLow));
    this.out.appendResponse(this.opcode, response.status, this.requestId, this.node.epoch, extras, response.value);
  }

  mayRefuse(bytes: number): boolean {
    return this.cap.mayRefuse(bytes);
  }

  refused(bytes: number): boolean {
    const refusal = this.cap.refusal(bytes);
    if (refusal === null) return false;
    this.tooLarge(refusal);
    return true;
  }

  /** The answer goes out through a reply slot of the connection once it is there. */
  later(): ReplySink {
    const replies = this.replies;
    if (replies === null) throw new Error('this request must be answered now: no reply slot to answer it later');
    const reply = replies.begin();
    const target = new BinaryReplySink(this.node, this.stats, this.cap);
    const { opcode, requestId } = this;
    return new DeferredSink((write) => reply.send((out) => write(target.reset(out, opcode, requestId, null))), BINARY_SIZER);
  }

  private valueItem(value: StoredValue): void {
    const out = this.out;
    const length = value.length;
    const pinned = out.acceptsExternal && length >= PINNED_VALUE_MIN_BYTES ? value.pin() : null;
    if (pinned !== null) {
      const at = out.reserve(4);
      out.commit(writeMgetResponseCount(out.buffer, at, length));
      out.appendExternal(pinned.view, pinned.release);
    } else {
      const at = out.reserve(4 + length);
      writeMgetResponseCount(out.buffer, at, length);
      value.copyTo(out.buffer, at + 4);
      out.commit(at + 4 + length);
    }
    this.bodyLength += 4 + length;
  }

  private status(status: number): void {
    this.out.appendResponseHeader(this.opcode, status, this.requestId, this.node.epoch, 0);
  }

  private tooLarge(refusal: string): void {
    this.stats.responseTooLarge++;
    this.stats.errorResponses++;
    this.out.appendResponseString(this.opcode, Status.RESPONSE_TOO_LARGE, this.requestId, this.node.epoch, refusal);
  }
}

/** The status an error maps to; anything unexpected is INTERNAL_ERROR (and the message says so). */
export function statusOf(error: unknown): [number, string] {
  if (error instanceof KeyEmptyError || error instanceof InvalidArgumentError) return [Status.BAD_ARGUMENT, error.message];
  if (error instanceof KeyTooLargeError) return [Status.KEY_TOO_LARGE, error.message];
  if (error instanceof ValueTooLargeError) return [Status.VALUE_TOO_LARGE, error.message];
  if (error instanceof NotIntegerError) return [Status.NOT_INTEGER, error.message];
  if (error instanceof OverflowError) return [Status.OVERFLOW, error.message];
  if (error instanceof OutOfMemoryError) return [Status.OUT_OF_MEMORY, error.message];
  if (error instanceof UnavailableError) return [Status.UNAVAILABLE, error.message];
  if (error instanceof ShuttingDownError) return [Status.SHUTTING_DOWN, error.message];
  if (error instanceof DCacheError) return [Status.INTERNAL_ERROR, error.message];
  return [Status.INTERNAL_ERROR, `internal error: ${error instanceof Error ? error.message : String(error)}`];
}
