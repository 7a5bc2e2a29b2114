/**
 * The RESP port's reply sink (routing/sink.ts). A key command's answer becomes either its reply written in
 * place (GET and MGET served from this store: copied from the slab straight into the writer, or for values of
 * PINNED_VALUE_MIN_BYTES or more sent from their pinned chunk) or the typed result the command writes with its own encoder (SET → +OK or nil, SETNX → :1, …).
 * An answer that comes later becomes a promise of that result (later()). A member's binary answer to a
 * forwarded request is decoded into the result a local key gives, errors worded as a single node words them.
 *
 * Reply size (response-guard.ts): an MGET is refused before it is built when its reply would pass the limit,
 * a GET over 1 MiB while the node's output budget is over, and a joined or remote answer on arrival.
 */
import { PINNED_VALUE_MIN_BYTES, type StoredValue } from '../cache/stored-value';
import { LARGE_RESPONSE_BYTES } from '../net/response-cap';
import { DeferredSink } from '../routing/deferred-sink';
import { expectOk, foundOrNot, int64Of, pttlOf, storedOrNot, valueOf } from '../routing/peer-answers';
import { KeyOp } from '../routing/request';
import type { RawResponse, ReplySink, ValuesSizer } from '../routing/sink';
import { REPLIED, type MaybePromise, type Replied } from './backend';
import { bulkReplyBytes, UNLIMITED, type ResponseGuard } from './response-guard';
import type { RespWriter } from './writer';

/** RESP bytes of an MGET reply: `*count\r\n`, then a bulk or a nil (5 bytes) per value. */
const RESP_SIZER: ValuesSizer = {
  header: (count) => 3 + String(count).length,
  item: (length) => (length < 0 ? 5 : bulkReplyBytes(length)),
};

const NONE = 0;
const VALUE = 1;
const WROTE = 2;
const FAILED = 3;
const LATER = 4;

export class RespReplySink implements ReplySink {
  readonly sizer = RESP_SIZER;
  private state = NONE;
  private result: unknown = undefined;
  private op: number = KeyOp.GET;
  private writer: RespWriter | null = null;
  private list: Array<Uint8Array | null> | null = null;
  private guard: ResponseGuard = UNLIMITED;

  /** Points the sink at one command's answer; `writer` given: GET/MGET served here write their reply in place. */
  reset(op: number, writer: RespWriter | null, guard: ResponseGuard): this {
    this.state = NONE;
    this.result = undefined;
    this.op = op;
    this.writer = writer;
    this.list = null;
    this.guard = guard;
    return this;
  }

  /** The answer: the result, REPLIED when written in place, or its promise; throws the error. */
  take<T>(): MaybePromise<T> {
    const { state, result } = this;
    this.result = undefined;
    this.writer = null;
    if (state === WROTE) return REPLIED as unknown as T;
    if (state === FAILED) throw result;
    return result as MaybePromise<T>;
  }

  stored(value: StoredValue): void {
    const length = value.length;
    const w = this.writer;
    if (this.list !== null) {
      this.list.push(value.copy());
    } else if (w !== null) {
      if (this.state === NONE) {
        // A GET: a large reply may be refused while the node holds too much output.
        try {
          if (length > LARGE_RESPONSE_BYTES) this.guard.checkGet(bulkReplyBytes(length));
        } catch (error) {
          this.error(error);
          return;
        }
        this.state = WROTE;
      }
      // A large value goes out from its chunk, pinned until the socket has it (as the binary port sends it).
      const pinned = length >= PINNED_VALUE_MIN_BYTES && w.batch.acceptsExternal ? value.pin() : null;
      if (pinned !== null) {
        w.externalBulk(pinned.view, pinned.release);
        return;
      }
      const at = w.reserveBulk(length);
      value.copyTo(w.buffer, at);
      w.commitBulk(at + length);
    } else {
      this.answer(value.copy());
    }
  }

  value(bytes: Uint8Array | null): void {
    if (bytes !== null && this.op === KeyOp.GET) {
      try {
        this.guard.checkedGet(bytes);
      } catch (error) {
        this.error(error);
        return;
      }
    }
    this.answer(bytes);
  }

  flag(done: boolean): void {
    this.answer(done);
  }

  number(n: number): void {
    this.answer(n);
  }

  bigint(n: bigint): void {
    this.answer(n);
  }

  ok(): void {
    this.answer(undefined);
  }

  beginValues(count: number): void {
    if (this.writer !== null) {
      this.writer.array(count);
      this.state = WROTE;
    } else {
      this.list = [];
    }
  }

  missing(): void {
    if (this.list !== null) this.list.push(null);
    else this.writer!.nil();
  }

  endValues(): void {
    if (this.list === null) return;
    const list = this.list;
    this.list = null;
    this.answer(list);
  }

  values(list: ReadonlyArray<Uint8Array | null>): void {
    try {
      this.answer(this.guard.checkedMget(list));
    } catch (error) {
      this.error(error);
    }
  }

  error(error: unknown): void {
    this.state = FAILED;
    this.result = error;
  }

  relay(response: RawResponse, owner: string): void {
    try {
      switch (this.op) {
        case KeyOp.GET:
          this.value(valueOf(owner, response));
          return;
        case KeyOp.SET:
          this.flag(storedOrNot(owner, response));
          return;
        case KeyOp.DELETE:
        case KeyOp.TOUCH:
          this.flag(foundOrNot(owner, response));
          return;
        case KeyOp.TTL:
          this.number(pttlOf(owner, response));
          return;
        case KeyOp.INCR:
          this.bigint(int64Of(owner, response));
          return;
        default:
          // A part of a split MGET or MSET that failed: its status as the error a single node raises.
          expectOk(owner, response);
          this.error(new Error(`unexpected answer from ${owner}`));
      }
    } catch (error) {
      this.error(error);
    }
  }

  mayRefuse(bytes: number): boolean {
    return this.guard.mayRefuse(bytes);
  }

  refused(bytes: number): boolean {
    try {
      this.guard.checkMget(bytes);
      return false;
    } catch (error) {
      this.error(error);
      return true;
    }
  }

  later(): ReplySink {
    const capture = new RespReplySink().reset(this.op, null, this.guard);
    let settle!: (sink: RespReplySink) => void;
    const promise = new Promise<unknown>((resolve, reject) => {
      settle = (sink) => {
        if (sink.state === FAILED) reject(sink.result);
        else resolve(sink.result);
      };
    });
    this.state = LATER;
    this.result = promise;
    return new DeferredSink((write) => {
      write(capture);
      settle(capture);
    }, RESP_SIZER);
  }

  private answer(result: unknown): void {
    this.state = VALUE;
    this.result = result;
  }
}

export type { Replied };
