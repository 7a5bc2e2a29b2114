/**
 * The request model of keyed commands (docs/ARCHITECTURE.md, "How a request flows"): what both codecs produce
 * and the key router consumes. Keys and values are views (buffer, offset, length) into the codec's read buffer,
 * valid only during the synchronous call; whatever answers later copies what it keeps (copyRequest).
 *
 * One record is reused per codec: filling it allocates nothing, so the binary port's hot path stays as cheap
 * as serving the frame directly.
 */
import { SetMode } from '../protocol/constants';

/** Operations on keys. The first eight have a binary opcode; the rest only RESP names (composed for remote keys). */
export const KeyOp = {
  GET: 1,
  SET: 2,
  DELETE: 3,
  TOUCH: 4,
  TTL: 5,
  INCR: 6,
  MGET: 7,
  MSET: 8,
  /** SET … GET: the old value, then the SET. */
  SET_GET: 9,
  GETDEL: 10,
  /** GETEX: the value, then the TTL change (none, persist, new TTL, or delete for a past time). */
  GETEX: 11,
  /** EXPIRE family: ttlMs ≤ 0 deletes; `flags` holds ExpireFlag conditions. */
  EXPIRE: 12,
  PERSIST: 13,
  STRLEN: 14,
  /** EXISTS over many keys: how many exist (each repeat counts). */
  EXISTS: 15,
  /** DEL over many keys: how many were removed. */
  DEL: 16,
} as const;
export type KeyOp = (typeof KeyOp)[keyof typeof KeyOp];

/** Bits of `flags` for SET / SET_GET. */
export const SetFlag = {
  /** Keep the key's current TTL (ttlMs is then 0). */
  KEEPTTL: 1,
} as const;

/** Bits of `flags` for GETEX. */
export const GetExFlag = {
  /** Leave the TTL as it is (GETEX without an option). */
  KEEP: 1,
} as const;

/**
 * Bits of `flags` for EXPIRE (Redis 7's options; XX combines with GT or LT). No TTL counts as infinite: GT
 * fails on it, LT holds.
 */
export const ExpireFlag = { NX: 1, XX: 2, GT: 4, LT: 8 } as const;

/**
 * The keys (and values) of a multi-key request: key j is bufs[i], offs[i], lens[i] for i = first + step·j;
 * with step 2 (MSET) its value follows it at i + 1. RESP's argument vector is one as it is.
 */
export interface KeyList {
  readonly bufs: readonly Buffer[];
  readonly offs: readonly number[];
  readonly lens: readonly number[];
  first: number;
  count: number;
  step: 1 | 2;
}

const EMPTY = Buffer.alloc(0);

export class KeyRequest {
  op: KeyOp = KeyOp.GET;
  keyBuf: Buffer = EMPTY;
  keyOff = 0;
  keyLen = 0;
  valueBuf: Buffer = EMPTY;
  valueOff = 0;
  valueLen = 0;
  /** SET, TOUCH, GETEX, EXPIRE, MSET: ms from now; 0 = no expiry; < 0 = already past (RESP only). */
  ttlMs = 0;
  /** SET / SET_GET: SetMode (binary flags bits 1–2). */
  mode: number = SetMode.SET;
  /** SetFlag, GetExFlag or ExpireFlag bits, by op. */
  flags = 0;
  /** INCR. */
  delta = 0n;
  /** A member forwarded it (docs/ARCHITECTURE.md, Decisions, "Routing"). */
  forwarded = false;
  /** Forwarded a second time by a member that does not own the key: served where it lands. */
  rerouted = false;
  /** Forwarded to a replica because the key's owner did not answer: served from this node's copy if it holds one. */
  replicaRead = false;
  /** The codec checked every key and value against the limits already (the binary port's validateRequest). */
  validated = false;
  /** Its pending keys were read through already (read-through.ts): serve it as it is now. */
  fetched = false;
  /**
   * It waited for the per-key barriers it met (KeyRouter.afterBarriers): its place in the order is taken, and
   * barriers set since by later requests must not hold it back behind them.
   */
  ordered = false;
  /** Multi-key ops (MGET, MSET, EXISTS, DEL); null for single-key ones. */
  keys: KeyList | null = null;

  /** Resets to a single-key request of `op` on key kb[ko, ko + kl). */
  single(op: KeyOp, kb: Buffer, ko: number, kl: number): this {
    this.op = op;
    this.keyBuf = kb;
    this.keyOff = ko;
    this.keyLen = kl;
    this.valueBuf = EMPTY;
    this.valueOff = 0;
    this.valueLen = 0;
    this.ttlMs = 0;
    this.mode = SetMode.SET;
    this.flags = 0;
    this.forwarded = false;
    this.rerouted = false;
    this.replicaRead = false;
    this.validated = false;
    this.fetched = false;
    this.ordered = false;
    this.keys = null;
    return this;
  }

  value(vb: Buffer, vo: number, vl: number): this {
    this.valueBuf = vb;
    this.valueOff = vo;
    this.valueLen = vl;
    return this;
  }

  /** Resets to a multi-key request over `keys`. */
  multi(op: KeyOp, keys: KeyList): this {
    this.single(op, EMPTY, 0, 0);
    this.keys = keys;
    return this;
  }
}

/** A copy that owns its bytes (for an answer that waits): one Buffer for the key, value and every listed key. */
export function copyRequest(r: KeyRequest): KeyRequest {
  const copy = new KeyRequest();
  copy.op = r.op;
  copy.ttlMs = r.ttlMs;
  copy.mode = r.mode;
  copy.flags = r.flags;
  copy.delta = r.delta;
  copy.forwarded = r.forwarded;
  copy.rerouted = r.rerouted;
  copy.replicaRead = r.replicaRead;
  copy.validated = r.validated;
  copy.fetched = r.fetched;
  copy.ordered = r.ordered;
  copy.keyBuf = Buffer.from(r.keyBuf.subarray(r.keyOff, r.keyOff + r.keyLen));
  copy.keyLen = r.keyLen;
  copy.valueBuf = Buffer.from(r.valueBuf.subarray(r.valueOff, r.valueOff + r.valueLen));
  copy.valueLen = r.valueLen;
  const keys = r.keys;
  if (keys !== null) copy.keys = copyKeyList(keys);
  return copy;
}

function copyKeyList(keys: KeyList): KeyList {
  const end = keys.first + keys.step * keys.count;
  let total = 0;
  for (let i = keys.first; i < end; i++) total += keys.lens[i]!;
  const buf = Buffer.allocUnsafe(total);
  const bufs: Buffer[] = [];
  const offs: number[] = [];
  const lens: number[] = [];
  let at = 0;
  for (let i = keys.first; i < end; i++) {
    const len = keys.lens[i]!;
    keys.bufs[i]!.copy(buf, at, keys.offs[i]!, keys.offs[i]! + len);
    bufs.push(buf);
    offs.push(at);
    lens.push(len);
    at += len;
  }
  return { bufs, offs, lens, first: 0, count: keys.count, step: keys.step };
}

/** Key j of a list as a view. */
export function keyView(keys: KeyList, j: number): Buffer {
  const i = keys.first + keys.step * j;
  return keys.bufs[i]!.subarray(keys.offs[i]!, keys.offs[i]! + keys.lens[i]!);
}
