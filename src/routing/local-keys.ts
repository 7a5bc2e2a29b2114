/**
 * The one local command handler for keyed requests (docs/ARCHITECTURE.md, "How a request flows"): it runs a
 * KeyRequest on this node's Store and answers into a ReplySink, for both ports. Keys and values go to the store
 * as (buffer, offset, length) with no copy; a value found is handed to the sink as a StoredValue, which copies
 * it into the output or pins it.
 *
 * Redis's semantics for what only RESP asks: a SET with a past time stores nothing (NX/XX still decide the
 * reply), KEEPTTL keeps the TTL, EXPIRE's NX/XX/GT/LT compare with the current TTL (none counts as infinite),
 * a non-positive EXPIRE deletes. Multi-key requests not checked by their codec are checked whole first, so a
 * bad key or value leaves no partial effect.
 */
import { KeyEmptyError, KeyTooLargeError, ValueTooLargeError } from '../errors';
import { SetMode } from '../protocol/constants';
import type { Store, StoreStats } from '../cache/store';
import { StoredValue } from '../cache/stored-value';
import { ExpireFlag, GetExFlag, KeyOp, SetFlag, type KeyList, type KeyRequest } from './request';
import type { WrittenKeys } from './replication';
import type { ReplySink } from './sink';

export type { StoreStats };

export class LocalKeys {
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  private readonly found: StoredValue;
  /** Set by the key router while a request whose writes go to replicas runs: every key it may change. */
  writes: WrittenKeys | null = null;

  constructor(private readonly store: Store) {
    this.maxKeyBytes = store.maxKeyBytes;
    this.maxValueBytes = store.maxValueBytes;
    this.found = new StoredValue(store);
  }

  /** Items in this node's store (DBSIZE). */
  get size(): number {
    return this.store.size;
  }

  stats(): StoreStats {
    return this.store.stats();
  }

  flush(): void {
    this.store.flush();
  }

  /** True when the key is live here (no hit or miss counted). */
  has(kb: Uint8Array, ko: number, kl: number): boolean {
    return kl > 0 && kl <= this.maxKeyBytes && this.store.ttlFrom(kb, ko, kl) !== -2;
  }

  /** Runs a request whose keys this node serves; store errors go to the sink. */
  serve(r: KeyRequest, sink: ReplySink): void {
    try {
      this.run(r, sink);
    } catch (error) {
      sink.error(error);
    }
  }

  private run(r: KeyRequest, sink: ReplySink): void {
    const store = this.store;
    const { keyBuf: kb, keyOff: ko, keyLen: kl } = r;
    if (this.writes !== null && r.keys === null) this.writes.add(kb, ko, kl);
    switch (r.op) {
      case KeyOp.GET:
        if (this.found.find(kb, ko, kl)) sink.stored(this.found);
        else sink.value(null);
        return;
      case KeyOp.SET:
        sink.flag(this.set(r));
        return;
      case KeyOp.SET_GET: {
        this.checkValue(r.valueLen);
        const old = store.getCopy(kb, ko, kl);
        this.set(r);
        sink.value(old);
        return;
      }
      case KeyOp.DELETE:
        sink.flag(store.deleteFrom(kb, ko, kl));
        return;
      case KeyOp.TOUCH:
        sink.flag(store.touchFrom(kb, ko, kl, r.ttlMs));
        return;
      case KeyOp.TTL:
        sink.number(store.ttlFrom(kb, ko, kl));
        return;
      case KeyOp.INCR:
        sink.bigint(store.incrFrom(kb, ko, kl, r.delta));
        return;
      case KeyOp.GETDEL: {
        const value = store.getCopy(kb, ko, kl);
        if (value !== null) store.deleteFrom(kb, ko, kl);
        sink.value(value);
        return;
      }
      case KeyOp.GETEX: {
        const value = store.getCopy(kb, ko, kl);
        if (value !== null && (r.flags & GetExFlag.KEEP) === 0) {
          if (r.ttlMs < 0) store.deleteFrom(kb, ko, kl);
          else store.touchFrom(kb, ko, kl, r.ttlMs);
        }
        sink.value(value);
        return;
      }
      case KeyOp.EXPIRE:
        sink.flag(this.expire(r));
        return;
      case KeyOp.PERSIST:
        sink.flag(store.ttlFrom(kb, ko, kl) >= 0 && store.touchFrom(kb, ko, kl, 0));
        return;
      case KeyOp.STRLEN:
        sink.number(this.found.find(kb, ko, kl) ? this.found.length : 0);
        return;
      default:
        this.runMulti(r, sink);
    }
  }

  private runMulti(r: KeyRequest, sink: ReplySink): void {
    const keys = r.keys!;
    if (!r.validated) this.checkKeys(keys, r.op === KeyOp.MSET);
    switch (r.op) {
      case KeyOp.MGET:
        this.mget(keys, sink);
        return;
      case KeyOp.MSET:
        this.mset(keys, null, r.ttlMs);
        sink.ok();
        return;
      case KeyOp.EXISTS:
        sink.number(this.count(keys, null, false));
        return;
      default:
        sink.number(this.count(keys, null, r.op === KeyOp.DEL));
    }
  }

  /** MGET served whole from this store: refused before anything is built when the reply would be too large. */
  private mget(keys: KeyList, sink: ReplySink): void {
    const { bufs, offs, lens, first, count } = keys;
    const sizer = sink.sizer;
    if (sink.mayRefuse(sizer.header(count) + count * sizer.item(this.maxValueBytes))) {
      if (sink.refused(this.localReplyBytes(keys, null, sink))) return;
    }
    const found = this.found;
    sink.beginValues(count);
    for (let i = first; i < first + count; i++) {
      if (found.find(bufs[i]!, offs[i]!, lens[i]!)) sink.stored(found);
      else sink.missing();
    }
    sink.endValues();
  }

  /** The reply size of an MGET in the sink's codec, keys marked remote counted as absent (nothing copied). */
  localReplyBytes(keys: KeyList, remote: Uint8Array | null, sink: ReplySink): number {
    const sizer = sink.sizer;
    const found = this.found;
    let size = sizer.header(keys.count);
    for (let j = 0; j < keys.count; j++) {
      const i = keys.first + j;
      const here = remote === null || remote[j] === 0;
      size += sizer.item(here && found.find(keys.bufs[i]!, keys.offs[i]!, keys.lens[i]!) ? found.length : -1);
    }
    return size;
  }

  /** A copy of one key's value, or null (no hit or miss counted differently from a GET). */
  valueCopy(key: Uint8Array): Uint8Array | null {
    return this.found.find(key, 0, key.length) ? this.found.copy() : null;
  }

  /** Copies of the values of the keys not marked remote, into values[j]. */
  copyValues(keys: KeyList, remote: Uint8Array, values: Array<Uint8Array | null>): void {
    const found = this.found;
    for (let j = 0; j < keys.count; j++) {
      const i = keys.first + j;
      if (remote[j] === 0 && found.find(keys.bufs[i]!, keys.offs[i]!, keys.lens[i]!)) values[j] = found.copy();
    }
  }

  /** Stores the entries not marked remote (all when `remote` is null). */
  mset(keys: KeyList, remote: Uint8Array | null, ttlMs: number): void {
    const { bufs, offs, lens, first } = keys;
    for (let j = 0; j < keys.count; j++) {
      if (remote !== null && remote[j] !== 0) continue;
      const i = first + 2 * j;
      this.writes?.add(bufs[i]!, offs[i]!, lens[i]!);
      this.store.setFrom(bufs[i]!, offs[i]!, lens[i]!, bufs[i + 1]!, offs[i + 1]!, lens[i + 1]!, ttlMs, SetMode.SET);
    }
  }

  /** EXISTS (`remove` false) or DEL over the keys not marked remote: how many existed. */
  count(keys: KeyList, remote: Uint8Array | null, remove: boolean): number {
    const { bufs, offs, lens, first } = keys;
    const store = this.store;
    let n = 0;
    for (let j = 0; j < keys.count; j++) {
      if (remote !== null && remote[j] !== 0) continue;
      const i = first + j;
      if (remove) this.writes?.add(bufs[i]!, offs[i]!, lens[i]!);
      if (remove ? store.deleteFrom(bufs[i]!, offs[i]!, lens[i]!) : store.ttlFrom(bufs[i]!, offs[i]!, lens[i]!) !== -2) n++;
    }
    return n;
  }

  /** Every key (and value, for MSET) against the store's limits, before anything is touched. */
  checkKeys(keys: KeyList, withValues: boolean): void {
    const { lens, first, step } = keys;
    for (let j = 0; j < keys.count; j++) {
      const i = first + step * j;
      this.checkKey(lens[i]!);
      if (withValues) this.checkValue(lens[i + 1]!);
    }
  }

  checkKey(kl: number): void {
    if (kl === 0) throw new KeyEmptyError();
    if (kl > this.maxKeyBytes) throw new KeyTooLargeError(kl, this.maxKeyBytes);
  }

  checkValue(vl: number): void {
    if (vl > this.maxValueBytes) throw new ValueTooLargeError(vl, this.maxValueBytes);
  }

  private set(r: KeyRequest): boolean {
    const store = this.store;
    const { keyBuf: kb, keyOff: ko, keyLen: kl, mode } = r;
    let ttlMs = r.ttlMs;
    if (ttlMs < 0) {
      // Set and expired at once: the condition decides the reply, and the key ends up absent either way.
      this.checkValue(r.valueLen);
      const exists = store.ttlFrom(kb, ko, kl) !== -2;
      if (mode === SetMode.NX ? exists : mode === SetMode.XX && !exists) return false;
      if (exists) store.deleteFrom(kb, ko, kl);
      return true;
    }
    if ((r.flags & SetFlag.KEEPTTL) !== 0) {
      const left = store.ttlFrom(kb, ko, kl);
      ttlMs = left > 0 ? left : 0;
    }
    return store.setFrom(kb, ko, kl, r.valueBuf, r.valueOff, r.valueLen, ttlMs, mode);
  }

  private expire(r: KeyRequest): boolean {
    const store = this.store;
    const { keyBuf: kb, keyOff: ko, keyLen: kl, ttlMs } = r;
    if (!expireConditionHolds(store.ttlFrom(kb, ko, kl), ttlMs, r.flags)) return false;
    if (ttlMs <= 0) store.deleteFrom(kb, ko, kl);
    else store.touchFrom(kb, ko, kl, ttlMs);
    return true;
  }
}

/** Redis 7's EXPIRE conditions on the current TTL (−2 absent: never; −1 none: counts as infinite). */
export function expireConditionHolds(current: number, ttlMs: number, flags: number): boolean {
  if (current === -2) return false;
  if (flags === 0) return true;
  if ((flags & ExpireFlag.NX) !== 0 && current !== -1) return false;
  if ((flags & ExpireFlag.XX) !== 0 && current === -1) return false;
  if ((flags & ExpireFlag.GT) !== 0 && (current === -1 || ttlMs <= current)) return false;
  if ((flags & ExpireFlag.LT) !== 0 && current !== -1 && ttlMs >= current) return false;
  return true;
}
