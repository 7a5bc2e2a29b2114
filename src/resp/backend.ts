/**
 * What the RESP commands need from the node: RespBackend. Its key methods are implemented once, by the
 * translation into the request model (routed-backend.ts) that the node's one key router serves; what differs
 * is the scope of DBSIZE, FLUSH and INFO: one node's store (LocalRespBackend, local-backend.ts) or the cluster
 * (ClusterRespBackend, src/server/resp-cluster-backend.ts).
 *
 * Conventions every implementation follows:
 *   - Keys and values arrive as (buffer, offset, length) views into the connection's read buffer. They are
 *     valid only during the synchronous call: an implementation that answers later copies what it keeps
 *     (Buffer.from(buf.subarray(off, off + len))) before it returns.
 *   - Every method returns a value or a Promise of it (T | Promise<T>). Return the value itself whenever the
 *     answer is known synchronously: the connection then writes the reply at once and a fully local pipeline
 *     creates no promise at all. A Promise must be a native Promise (async functions return one); the
 *     connection keeps replies in request order whatever order promises settle in.
 *   - Errors: throw (or reject with) the typed errors of src/errors.ts; the connection turns them into
 *     -ERR replies (KeyTooLargeError → "-ERR key is 2000 bytes; ..."), the connection stays open.
 *   - TTL arguments are milliseconds relative to now(): 0 = no expiry, > 0 = expire that many ms from now,
 *     < 0 = already expired (the operation happens and the key is gone at once, as Redis does with a past
 *     EXAT or a non-positive EXPIRE).
 *   - get/mget may write their reply themselves (zero copy out of the store) and return REPLIED. They may do so
 *     only synchronously, during the call, and only as the complete reply (a bulk or nil for get, the whole
 *     array for mget) — never partly and then throw. An asynchronous answer is returned as data instead.
 */
import type { RespWriter } from './writer';

export type MaybePromise<T> = T | Promise<T>;

/** get/mget wrote their reply into the writer themselves. */
export const REPLIED: unique symbol = Symbol('dcache.resp.replied');
export type Replied = typeof REPLIED;

/** Bits of set()'s `flags`. NX and XX never come together (the command layer rejects that). */
export const SetFlags = {
  /** Only if the key is absent. */
  NX: 1,
  /** Only if the key is present. */
  XX: 2,
  /** Keep the key's current TTL (ttlMs is then 0). */
  KEEPTTL: 4,
} as const;

/**
 * Bits of expire()'s `flags` (Redis 7's EXPIRE options; XX combines with GT or LT, NX with nothing):
 * NX: only if the key has no TTL; XX: only if it has one; GT: only if the new expiry is later than the
 * current one (no TTL counts as infinite, so GT fails on it); LT: only if it is earlier (always true without a TTL).
 */
export const ExpireFlags = { NX: 1, XX: 2, GT: 4, LT: 8 } as const;

/** A command's arguments: argument i is bufs[i][offs[i], offs[i] + lens[i]); argument 0 is the command name. */
export interface RespArgs {
  readonly argc: number;
  readonly bufs: readonly Buffer[];
  readonly offs: readonly number[];
  readonly lens: readonly number[];
}

/** INFO fields the backend contributes, by lower-case section name (memory, stats, keyspace, cluster, …). */
export type InfoFields = Record<string, string | number>;
export type BackendInfo = Record<string, InfoFields>;

export interface RespBackend {
  /** Milliseconds clock of the TTLs: EXAT/PXAT/EXPIREAT are converted with it. */
  now(): number;

  /** GET: the value, null when absent; or write the bulk/nil reply with `out` and return REPLIED. */
  get(kb: Buffer, ko: number, kl: number, out: RespWriter): MaybePromise<Uint8Array | null | Replied>;

  /** MGET: args[first, first + count) are keys; values in that order (null: absent), or REPLIED (whole array written). */
  mget(args: RespArgs, first: number, count: number, out: RespWriter): MaybePromise<Array<Uint8Array | null> | Replied>;

  /** SET: true when stored, false when NX/XX did not hold. `flags` is a SetFlags mask. */
  set(kb: Buffer, ko: number, kl: number, vb: Buffer, vo: number, vl: number, ttlMs: number, flags: number): MaybePromise<boolean>;

  /** SET … GET: does exactly what set() does and returns the value the key held before (null: none). */
  setGet(
    kb: Buffer,
    ko: number,
    kl: number,
    vb: Buffer,
    vo: number,
    vl: number,
    ttlMs: number,
    flags: number,
  ): MaybePromise<Uint8Array | null>;

  /**
   * MSET: args[first, first + 2 * pairs) alternate key, value. All or nothing: check every key and value
   * against the limits before storing any (a cluster backend does so before forwarding).
   */
  mset(args: RespArgs, first: number, pairs: number): MaybePromise<void>;

  /** GETDEL: the value (null: absent), deleting the key. */
  getDel(kb: Buffer, ko: number, kl: number): MaybePromise<Uint8Array | null>;

  /** GETEX: the value (null: absent); then ttlMs null: TTL unchanged, 0: persist, > 0: new TTL, < 0: delete. */
  getEx(kb: Buffer, ko: number, kl: number, ttlMs: number | null): MaybePromise<Uint8Array | null>;

  /** DEL/UNLINK: how many of args[first, first + count) existed and were removed (a repeated key counts once). */
  del(args: RespArgs, first: number, count: number): MaybePromise<number>;

  /** EXISTS: how many of args[first, first + count) exist (a repeated key counts each time, as Redis). */
  exists(args: RespArgs, first: number, count: number): MaybePromise<number>;

  /** EXPIRE family: true when the TTL was set (or the key deleted, for ttlMs < 0); false when absent or a flag's condition failed. */
  expire(kb: Buffer, ko: number, kl: number, ttlMs: number, flags: number): MaybePromise<boolean>;

  /** PERSIST: true when a TTL was removed. */
  persist(kb: Buffer, ko: number, kl: number): MaybePromise<boolean>;

  /** PTTL: ms left, -1 without expiry, -2 absent. */
  pttl(kb: Buffer, ko: number, kl: number): MaybePromise<number>;

  /** INCRBY: the new value. NotIntegerError when the value is not an int64, OverflowError past int64. */
  incrBy(kb: Buffer, ko: number, kl: number, delta: bigint): MaybePromise<bigint>;

  /** STRLEN: the value's length, 0 when absent. */
  strlen(kb: Buffer, ko: number, kl: number): MaybePromise<number>;

  /** DBSIZE. The backend decides the scope (this node or the cluster) and says which in info(). */
  dbsize(): MaybePromise<number>;

  /** FLUSHDB / FLUSHALL (one database: the same). Same scope rule as dbsize. */
  flush(): MaybePromise<void>;

  /**
   * INFO fields by section. Used: memory, stats (keyspace_hits, expired_keys, …), keyspace (`db0` →
   * `keys=…,expires=…,avg_ttl=…`), cluster. Other sections are printed as given, after Redis's own.
   */
  info(): MaybePromise<BackendInfo>;
}
