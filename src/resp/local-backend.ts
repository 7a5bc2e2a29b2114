/**
 * RespBackend over one node's Store: every method answers synchronously (no promise anywhere), and GET/MGET copy
 * values straight from the slab into the reply (lookup → copyValue right away, before any other store call:
 * the handle rule of store.ts).
 *
 * Scope: DBSIZE, FLUSHDB/FLUSHALL and INFO keyspace speak for THIS NODE's store only; INFO says so in the
 * cluster section (dcache_keyspace_scope:node).
 *
 * Multi-key commands (MGET, MSET) check every key and value against the store's limits before touching
 * anything, so a bad argument leaves no partial effect and no partly written reply.
 *
 * Reply size (response-guard.ts, the guard the server hands over with useResponseGuard): an MGET whose reply
 * would pass maxResponseBytes is refused (-ERR response too large) from lookups and value lengths, before a
 * byte is copied; a GET or MGET reply over 1 MiB likewise while the node's output budget is over.
 */
import { KeyEmptyError, KeyTooLargeError, ValueTooLargeError } from '../errors';
import { SetMode, type Store } from '../cache/store';
import { ExpireFlags, REPLIED, SetFlags, type BackendInfo, type RespArgs, type RespBackend, type Replied } from './backend';
import { bytesToHuman } from './info';
import { UNLIMITED, storedMgetReplyBytes, worstMgetReplyBytes, bulkReplyBytes, type ResponseGuard } from './response-guard';
import { LARGE_RESPONSE_BYTES } from '../net/response-cap';
import type { RespWriter } from './writer';

/** Local aliases of the imports (see connection.ts): read per GET. */
const WROTE: Replied = REPLIED;
const LARGE_REPLY = LARGE_RESPONSE_BYTES;

export interface LocalRespBackendOptions {
  /** The store's clock (pass the same one the Store was given). Default Date.now. */
  clock?: () => number;
}

export class LocalRespBackend implements RespBackend {
  private readonly clock: () => number;
  private guard: ResponseGuard = UNLIMITED;

  constructor(
    readonly store: Store,
    options: LocalRespBackendOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
  }

  now(): number {
    return this.clock();
  }

  /** The server's reply-size rule (response-guard.ts); UNLIMITED until it is given. */
  useResponseGuard(guard: ResponseGuard): void {
    this.guard = guard;
  }

  get responseGuard(): ResponseGuard {
    return this.guard;
  }

  get(kb: Buffer, ko: number, kl: number, out: RespWriter): Replied {
    const store = this.store;
    const h = store.lookup(kb, ko, kl);
    if (h < 0) {
      out.nil();
      return WROTE;
    }
    const len = store.valueLength(h);
    if (len > LARGE_REPLY) this.guard.checkGet(bulkReplyBytes(len));
    const at = out.reserveBulk(len);
    store.copyValue(h, out.buffer, at);
    out.commitBulk(at + len);
    return WROTE;
  }

  mget(args: RespArgs, first: number, count: number, out: RespWriter): Replied {
    const store = this.store;
    const { bufs, offs, lens } = args;
    const end = first + count;
    for (let i = first; i < end; i++) this.checkKey(lens[i]!);
    const guard = this.guard;
    if (guard.mayRefuse(worstMgetReplyBytes(count, store.maxValueBytes))) guard.checkMget(storedMgetReplyBytes(store, args, first, count));
    out.array(count);
    for (let i = first; i < end; i++) {
      const h = store.lookup(bufs[i]!, offs[i]!, lens[i]!);
      if (h < 0) {
        out.nil();
        continue;
      }
      const len = store.valueLength(h);
      const at = out.reserveBulk(len);
      store.copyValue(h, out.buffer, at);
      out.commitBulk(at + len);
    }
    return WROTE;
  }

  set(kb: Buffer, ko: number, kl: number, vb: Buffer, vo: number, vl: number, ttlMs: number, flags: number): boolean {
    const store = this.store;
    const mode = (flags & SetFlags.NX) !== 0 ? SetMode.NX : (flags & SetFlags.XX) !== 0 ? SetMode.XX : SetMode.Set;
    if (ttlMs < 0) {
      // Set and expired at once: the condition decides the reply, and the key ends up absent either way.
      if (vl > store.maxValueBytes) throw new ValueTooLargeError(vl, store.maxValueBytes);
      const exists = store.ttlFrom(kb, ko, kl) !== -2;
      if (mode === SetMode.NX ? exists : mode === SetMode.XX && !exists) return false;
      if (exists) store.deleteFrom(kb, ko, kl);
      return true;
    }
    if ((flags & SetFlags.KEEPTTL) !== 0) {
      const left = store.ttlFrom(kb, ko, kl);
      ttlMs = left > 0 ? left : 0;
    }
    return store.setFrom(kb, ko, kl, vb, vo, vl, ttlMs, mode);
  }

  setGet(kb: Buffer, ko: number, kl: number, vb: Buffer, vo: number, vl: number, ttlMs: number, flags: number): Uint8Array | null {
    if (vl > this.store.maxValueBytes) throw new ValueTooLargeError(vl, this.store.maxValueBytes);
    const old = this.store.getCopy(kb, ko, kl);
    this.set(kb, ko, kl, vb, vo, vl, ttlMs, flags);
    return old;
  }

  mset(args: RespArgs, first: number, pairs: number): void {
    const store = this.store;
    const { bufs, offs, lens } = args;
    const end = first + 2 * pairs;
    for (let i = first; i < end; i += 2) {
      this.checkKey(lens[i]!);
      const vl = lens[i + 1]!;
      if (vl > store.maxValueBytes) throw new ValueTooLargeError(vl, store.maxValueBytes);
    }
    for (let i = first; i < end; i += 2) {
      store.setFrom(bufs[i]!, offs[i]!, lens[i]!, bufs[i + 1]!, offs[i + 1]!, lens[i + 1]!, 0, SetMode.Set);
    }
  }

  getDel(kb: Buffer, ko: number, kl: number): Uint8Array | null {
    const value = this.store.getCopy(kb, ko, kl);
    if (value !== null) this.store.deleteFrom(kb, ko, kl);
    return value;
  }

  getEx(kb: Buffer, ko: number, kl: number, ttlMs: number | null): Uint8Array | null {
    const value = this.store.getCopy(kb, ko, kl);
    if (value === null || ttlMs === null) return value;
    if (ttlMs < 0) this.store.deleteFrom(kb, ko, kl);
    else this.store.touchFrom(kb, ko, kl, ttlMs);
    return value;
  }

  del(args: RespArgs, first: number, count: number): number {
    const { bufs, offs, lens } = args;
    let n = 0;
    for (let i = first; i < first + count; i++) if (this.store.deleteFrom(bufs[i]!, offs[i]!, lens[i]!)) n++;
    return n;
  }

  exists(args: RespArgs, first: number, count: number): number {
    const { bufs, offs, lens } = args;
    let n = 0;
    for (let i = first; i < first + count; i++) if (this.store.ttlFrom(bufs[i]!, offs[i]!, lens[i]!) !== -2) n++;
    return n;
  }

  expire(kb: Buffer, ko: number, kl: number, ttlMs: number, flags: number): boolean {
    const store = this.store;
    const current = store.ttlFrom(kb, ko, kl);
    if (current === -2) return false;
    if (flags !== 0) {
      if ((flags & ExpireFlags.NX) !== 0 && current !== -1) return false;
      if ((flags & ExpireFlags.XX) !== 0 && current === -1) return false;
      // No TTL counts as infinite: nothing is greater, everything is less.
      if ((flags & ExpireFlags.GT) !== 0 && (current === -1 || ttlMs <= current)) return false;
      if ((flags & ExpireFlags.LT) !== 0 && current !== -1 && ttlMs >= current) return false;
    }
    if (ttlMs <= 0) store.deleteFrom(kb, ko, kl);
    else store.touchFrom(kb, ko, kl, ttlMs);
    return true;
  }

  persist(kb: Buffer, ko: number, kl: number): boolean {
    if (this.store.ttlFrom(kb, ko, kl) < 0) return false;
    return this.store.touchFrom(kb, ko, kl, 0);
  }

  pttl(kb: Buffer, ko: number, kl: number): number {
    return this.store.ttlFrom(kb, ko, kl);
  }

  incrBy(kb: Buffer, ko: number, kl: number, delta: bigint): bigint {
    return this.store.incrFrom(kb, ko, kl, delta);
  }

  strlen(kb: Buffer, ko: number, kl: number): number {
    const h = this.store.lookup(kb, ko, kl);
    return h < 0 ? 0 : this.store.valueLength(h);
  }

  dbsize(): number {
    return this.store.size;
  }

  flush(): void {
    this.store.flush();
  }

  info(): BackendInfo {
    const s = this.store.stats();
    const info: BackendInfo = {
      memory: {
        used_memory: s.bytesUsed,
        used_memory_human: bytesToHuman(s.bytesUsed),
        maxmemory: s.maxMemoryBytes,
        maxmemory_human: bytesToHuman(s.maxMemoryBytes),
        maxmemory_policy: 'allkeys-lru',
        mem_allocator: 'dcache-slab',
        dcache_allocated_bytes: s.allocatedBytes,
        dcache_page_bytes: s.pageBytes,
        dcache_pages: s.pages,
      },
      stats: {
        keyspace_hits: s.hits,
        keyspace_misses: s.misses,
        expired_keys: s.expired,
        evicted_keys: s.evicted,
        dcache_sets: s.sets,
        dcache_deletes: s.deletes,
      },
      keyspace: {},
      cluster: { dcache_keyspace_scope: 'node', dcache_cluster_nodes: 1 },
    };
    if (s.items > 0) info['keyspace']!['db0'] = `keys=${s.items},expires=${s.expiringItems},avg_ttl=0`;
    return info;
  }

  private checkKey(kl: number): void {
    if (kl === 0) throw new KeyEmptyError();
    if (kl > this.store.maxKeyBytes) throw new KeyTooLargeError(kl, this.store.maxKeyBytes);
  }
}
