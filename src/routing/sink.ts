/**
 * Where the key router's answers go: a codec-neutral reply sink (docs/ARCHITECTURE.md, "How a request flows").
 * The binary port's sink appends frames to its OutputBatch (large values as pinned views of the store); the
 * RESP port's writes RESP or hands a typed result back to its command. The router calls exactly one answering
 * method per request, synchronously, or takes later() and answers that one once.
 */
import type { StoredValue } from '../cache/stored-value';

/** What a member answered, copied out of its read buffer. */
export interface RawResponse {
  status: number;
  extrasHigh: number;
  extrasLow: number;
  value: Buffer;
}

/** Reply sizes of a multi-value answer in the sink's codec, to refuse a too-large MGET before building it. */
export interface ValuesSizer {
  /** Bytes of the reply's header for `count` values. */
  header(count: number): number;
  /** Bytes of one value of `length` bytes (−1: absent). */
  item(length: number): number;
}

export interface ReplySink {
  /** A value in this node's store (GET, and each MGET value of an all-local MGET between beginValues/endValues). */
  stored(value: StoredValue): void;
  /** A value from elsewhere or a copy; null: absent. */
  value(bytes: Uint8Array | null): void;
  /** SET: stored or not; DELETE, TOUCH, EXPIRE, PERSIST: done, or absent (or the condition failed). */
  flag(done: boolean): void;
  /** TTL (ms left, −1 none, −2 absent), STRLEN, and the counts of EXISTS and DEL. */
  number(n: number): void;
  /** INCR's new value. */
  bigint(n: bigint): void;
  /** MSET. */
  ok(): void;
  /** MGET served whole from this store: count × (stored or missing), then endValues. */
  beginValues(count: number): void;
  missing(): void;
  endValues(): void;
  /** MGET joined from several members, in key order. The sink checks the whole reply's size. */
  values(list: ReadonlyArray<Uint8Array | null>): void;
  /** A typed error of src/errors.ts (or anything thrown): the codec words it. */
  error(error: unknown): void;
  /** `owner`'s answer to the same request, forwarded: passed through by the binary port, decoded by RESP. */
  relay(response: RawResponse, owner: string): void;
  readonly sizer: ValuesSizer;
  /** True when a reply of `bytes` could be refused: only then is the exact size computed. */
  mayRefuse(bytes: number): boolean;
  /** Answers "too large" and returns true when a reply of `bytes` may not be built now. */
  refused(bytes: number): boolean;
  /** A sink for an answer that comes in a later turn (answer it once); a deferred sink returns itself. */
  later(): ReplySink;
}
