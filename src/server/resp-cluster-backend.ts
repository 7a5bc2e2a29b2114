/**
 * RespBackend for a cluster node (docs/ARCHITECTURE.md, Decisions, "Routing"): a Redis client pointed at any node's RESP port
 * sees the whole cluster as one cache. A key's owner is the ring owner of its bytes, as on the binary port:
 * keys this node owns go to the LocalRespBackend (synchronous, no promise); the others are forwarded once to
 * their owner over the peer pool with the FORWARDED flag, as binary requests (GET, SET with its NX/XX mode and
 * TTL, DELETE, TOUCH, TTL, INCR; MGET/MSET split per owner and joined in key order).
 *
 * Commands without a binary opcode are composed from them for remote keys. They are NOT atomic on the owner
 * (another client of the owner may act between the steps); each step of one command goes out on the same
 * pooled connection, so the owner applies them in order:
 *   sent together   SET … GET = GET + SET; GETDEL = GET + DELETE; GETEX = GET + TOUCH (DELETE for a past
 *                   time); PERSIST = TTL + TOUCH 0 (true when the TTL said the key had one)
 *   two round trips SET … KEEPTTL = TTL, then SET with the remaining ms; EXPIRE NX/XX/GT/LT = TTL, then TOUCH
 *                   (or DELETE) when the condition held. Later commands on the same key wait for these, so a
 *                   pipeline still applies in order (`SET k v KEEPTTL` then `GET k` reads v).
 *   single requests EXISTS = TTL ≠ −2; STRLEN = GET's length; a zero/negative EXPIRE and SET with a past time
 *                   = DELETE (SET NX with a past time = TTL only: nothing is stored either way).
 * MSET is checked whole before anything is stored, but its owners apply their parts independently: an owner
 * that fails leaves the other parts stored.
 *
 * DBSIZE, FLUSHDB/FLUSHALL and INFO speak for the whole cluster (cluster-scope.ts); cluster-wire.ts turns
 * owners' answers into values and into the errors a single node raises.
 * Reply size (response-guard.ts): MGET's local part is sized before anything is copied or forwarded, the joined
 * reply before it is written; a remote GET over 1 MiB is refused on arrival while the output budget is over.
 */
import type { Store } from '../cache/store';
import { DEFAULT_MAX_RESPONSE_BYTES } from '../client/connection';
import { MGET_KEYS_PER_FRAME } from '../client/multi-plan';
import { KeyEmptyError, KeyTooLargeError, ServerError, UnavailableError, ValueTooLargeError } from '../errors';
import { Flag, Opcode, SetMode, SET_MODE_SHIFT } from '../protocol/constants';
import { decodeMgetResponse, encodeMgetBody, type MsetEntry } from '../protocol/multi';
import type { RawResponse } from './router';
import { SetFlags, type BackendInfo, type MaybePromise, type RespArgs, type RespBackend, type Replied } from '../resp/backend';
import { ClusterScope } from './resp-cluster-scope';
import {
  copy,
  copyArgs,
  expectOk,
  expireConditionHolds,
  foundOrNot,
  int64Of,
  messageOf,
  mgetChunks,
  msetBodies,
  pttlOf,
  storedOrNot,
  valueOf,
  view,
  type RespClusterView,
} from './resp-cluster-wire';
import type { LocalRespBackend } from '../resp/local-backend';
import { storedMgetReplyBytes, worstMgetReplyBytes, type ResponseGuard } from '../resp/response-guard';
import type { RespWriter } from '../resp/writer';

export type { RespClusterView } from './resp-cluster-wire';

const CUT_OFF = 'this node is cut off from the majority of the cluster and serves no keys until it rejoins; retry on another node';
const noop = (): void => undefined;

export class ClusterRespBackend implements RespBackend {
  /** Key requests sent to owners, requests that got no answer, and commands composed of two round trips. */
  readonly counters = { forwarded: 0, forwardFailures: 0, composed: 0 };
  private readonly store: Store;
  /** Keys with a two-round-trip command in flight (latin1 of the key bytes) → settles when it is done. */
  private readonly barriers = new Map<string, Promise<void>>();
  private selfEpoch = -1;
  private selfIndex = -1;
  /** Keys per MGET part: the owner's answer (count × (4 + maxValueBytes)) must fit the peer connection's limit. */
  private readonly mgetKeysPerPart: number;
  private readonly scope: ClusterScope;

  constructor(
    private readonly cluster: RespClusterView,
    readonly local: LocalRespBackend,
  ) {
    this.store = local.store;
    const budget = DEFAULT_MAX_RESPONSE_BYTES - 64 * 1024;
    this.scope = new ClusterScope(cluster, local, this.counters, (peer, opcode) => this.send(peer, opcode, 0, null, null, 0));
    this.mgetKeysPerPart = Math.max(1, Math.min(MGET_KEYS_PER_FRAME, Math.floor(budget / (4 + this.store.maxValueBytes))));
  }

  now(): number {
    return this.local.now();
  }

  useResponseGuard(guard: ResponseGuard): void {
    this.local.useResponseGuard(guard);
  }

  get(kb: Buffer, ko: number, kl: number, out: RespWriter): MaybePromise<Uint8Array | null | Replied> {
    const owner = this.ownerOf(kb, ko, kl);
    if (owner === undefined) return this.local.get(kb, ko, kl, out);
    return this.getRemote(owner, kb, ko, kl).then((value) => this.local.responseGuard.checkedGet(value));
  }

  mget(args: RespArgs, first: number, count: number, out: RespWriter): MaybePromise<Array<Uint8Array | null> | Replied> {
    for (let i = first; i < first + count; i++) this.checkKey(args.lens[i]!);
    const owners = this.ownersOf(args, first, count, 1);
    if (owners === undefined) return this.local.mget(args, first, count, out);
    return this.mgetValues(args, first, count, owners);
  }

  set(kb: Buffer, ko: number, kl: number, vb: Buffer, vo: number, vl: number, ttlMs: number, flags: number): MaybePromise<boolean> {
    const owner = this.ownerOf(kb, ko, kl);
    if (owner === undefined) return this.local.set(kb, ko, kl, vb, vo, vl, ttlMs, flags);
    this.checkValue(vl);
    const wait = this.barrierOf(kb, ko, kl);
    if (wait !== undefined) {
      const [key, value] = [copy(kb, ko, kl), copy(vb, vo, vl)];
      return wait.then(() => this.set(key, 0, kl, value, 0, vl, ttlMs, flags));
    }
    const stored = this.setRemote(owner, kb, ko, kl, vb, vo, vl, ttlMs, flags);
    if ((flags & SetFlags.KEEPTTL) !== 0) this.hold(kb, ko, kl, stored);
    return stored;
  }

  setGet(
    kb: Buffer,
    ko: number,
    kl: number,
    vb: Buffer,
    vo: number,
    vl: number,
    ttlMs: number,
    flags: number,
  ): MaybePromise<Uint8Array | null> {
    const owner = this.ownerOf(kb, ko, kl);
    if (owner === undefined) return this.local.setGet(kb, ko, kl, vb, vo, vl, ttlMs, flags);
    this.checkValue(vl);
    const wait = this.barrierOf(kb, ko, kl);
    if (wait !== undefined) {
      const [key, value] = [copy(kb, ko, kl), copy(vb, vo, vl)];
      return wait.then(() => this.setGet(key, 0, kl, value, 0, vl, ttlMs, flags));
    }
    const old = this.send(owner, Opcode.GET, 0, kb.subarray(ko, ko + kl), null, 0);
    const stored = this.setRemote(owner, kb, ko, kl, vb, vo, vl, ttlMs, flags);
    const done = Promise.all([old, stored]).then(([response]) => valueOf(owner, response));
    if ((flags & SetFlags.KEEPTTL) !== 0) this.hold(kb, ko, kl, done);
    return done;
  }

  mset(args: RespArgs, first: number, pairs: number): MaybePromise<void> {
    const { bufs, offs, lens } = args;
    for (let i = first; i < first + 2 * pairs; i += 2) {
      this.checkKey(lens[i]!);
      this.checkValue(lens[i + 1]!);
    }
    const owners = this.ownersOf(args, first, pairs, 2);
    if (owners === undefined) return this.local.mset(args, first, pairs);
    if (owners === WAIT) return this.afterBarriers(args, first, 2 * pairs, 2, (a) => this.mset(a, 0, pairs));
    // Local entries first: a store error here (OUT_OF_MEMORY) is raised before anything went to the owners.
    const byOwner = new Map<string, MsetEntry[]>();
    for (let j = 0; j < pairs; j++) {
      const i = first + 2 * j;
      const owner = owners[j];
      if (owner === undefined) {
        this.store.setFrom(bufs[i]!, offs[i]!, lens[i]!, bufs[i + 1]!, offs[i + 1]!, lens[i + 1]!, 0, SetMode.SET);
        continue;
      }
      const entry: MsetEntry = [view(args, i), view(args, i + 1)];
      const list = byOwner.get(owner);
      if (list === undefined) byOwner.set(owner, [entry]);
      else list.push(entry);
    }
    const parts: Array<Promise<void>> = [];
    for (const [owner, entries] of byOwner) {
      for (const body of msetBodies(entries)) {
        parts.push(this.send(owner, Opcode.MSET, 0, null, body, 0).then((r) => expectOk(owner, r)));
      }
    }
    return Promise.all(parts).then(noop);
  }

  getDel(kb: Buffer, ko: number, kl: number): MaybePromise<Uint8Array | null> {
    const owner = this.ownerOf(kb, ko, kl);
    if (owner === undefined) return this.local.getDel(kb, ko, kl);
    const wait = this.barrierOf(kb, ko, kl);
    if (wait !== undefined) {
      const key = copy(kb, ko, kl);
      return wait.then(() => this.getDel(key, 0, kl));
    }
    const key = kb.subarray(ko, ko + kl);
    const value = this.send(owner, Opcode.GET, 0, key, null, 0);
    const deleted = this.send(owner, Opcode.DELETE, 0, key, null, 0);
    return Promise.all([value, deleted]).then(([v, d]) => {
      foundOrNot(owner, d);
      return valueOf(owner, v);
    });
  }

  getEx(kb: Buffer, ko: number, kl: number, ttlMs: number | null): MaybePromise<Uint8Array | null> {
    const owner = this.ownerOf(kb, ko, kl);
    if (owner === undefined) return this.local.getEx(kb, ko, kl, ttlMs);
    const wait = this.barrierOf(kb, ko, kl);
    if (wait !== undefined) {
      const key = copy(kb, ko, kl);
      return wait.then(() => this.getEx(key, 0, kl, ttlMs));
    }
    const key = kb.subarray(ko, ko + kl);
    const value = this.send(owner, Opcode.GET, 0, key, null, 0);
    if (ttlMs === null) return value.then((v) => valueOf(owner, v));
    const change = ttlMs < 0 ? this.send(owner, Opcode.DELETE, 0, key, null, 0) : this.send(owner, Opcode.TOUCH, 0, key, null, ttlMs);
    return Promise.all([value, change]).then(([v, c]) => {
      foundOrNot(owner, c);
      return valueOf(owner, v);
    });
  }

  del(args: RespArgs, first: number, count: number): MaybePromise<number> {
    return this.perKey(
      args,
      first,
      count,
      Opcode.DELETE,
      (a) => this.del(a, 0, count),
      (owner, r) => (foundOrNot(owner, r) ? 1 : 0),
      (kb, ko, kl) => (this.store.deleteFrom(kb, ko, kl) ? 1 : 0),
    );
  }

  exists(args: RespArgs, first: number, count: number): MaybePromise<number> {
    return this.perKey(
      args,
      first,
      count,
      Opcode.TTL,
      (a) => this.exists(a, 0, count),
      (owner, r) => (pttlOf(owner, r) !== -2 ? 1 : 0),
      (kb, ko, kl) => (this.store.ttlFrom(kb, ko, kl) !== -2 ? 1 : 0),
    );
  }

  expire(kb: Buffer, ko: number, kl: number, ttlMs: number, flags: number): MaybePromise<boolean> {
    const owner = this.ownerOf(kb, ko, kl);
    if (owner === undefined) return this.local.expire(kb, ko, kl, ttlMs, flags);
    const wait = this.barrierOf(kb, ko, kl);
    if (wait !== undefined) {
      const key = copy(kb, ko, kl);
      return wait.then(() => this.expire(key, 0, kl, ttlMs, flags));
    }
    if (flags === 0) return this.applyTtl(owner, kb.subarray(ko, ko + kl), ttlMs);
    // The condition needs the current TTL: two round trips, and later commands on the key wait for them.
    this.counters.composed++;
    const key = copy(kb, ko, kl);
    const done = this.send(owner, Opcode.TTL, 0, key, null, 0).then((r) => {
      const current = pttlOf(owner, r);
      if (!expireConditionHolds(current, ttlMs, flags)) return false;
      return this.applyTtl(owner, key, ttlMs);
    });
    this.hold(kb, ko, kl, done);
    return done;
  }

  persist(kb: Buffer, ko: number, kl: number): MaybePromise<boolean> {
    const owner = this.ownerOf(kb, ko, kl);
    if (owner === undefined) return this.local.persist(kb, ko, kl);
    const wait = this.barrierOf(kb, ko, kl);
    if (wait !== undefined) {
      const key = copy(kb, ko, kl);
      return wait.then(() => this.persist(key, 0, kl));
    }
    // TOUCH 0 on a key without a TTL changes nothing: both go out now, the TTL tells whether one was removed.
    const key = kb.subarray(ko, ko + kl);
    const ttl = this.send(owner, Opcode.TTL, 0, key, null, 0);
    const touched = this.send(owner, Opcode.TOUCH, 0, key, null, 0);
    return Promise.all([ttl, touched]).then(([t, c]) => pttlOf(owner, t) >= 0 && foundOrNot(owner, c));
  }

  pttl(kb: Buffer, ko: number, kl: number): MaybePromise<number> {
    const owner = this.ownerOf(kb, ko, kl);
    if (owner === undefined) return this.local.pttl(kb, ko, kl);
    const wait = this.barrierOf(kb, ko, kl);
    if (wait !== undefined) {
      const key = copy(kb, ko, kl);
      return wait.then(() => this.pttl(key, 0, kl));
    }
    return this.send(owner, Opcode.TTL, 0, kb.subarray(ko, ko + kl), null, 0).then((r) => pttlOf(owner, r));
  }

  incrBy(kb: Buffer, ko: number, kl: number, delta: bigint): MaybePromise<bigint> {
    const owner = this.ownerOf(kb, ko, kl);
    if (owner === undefined) return this.local.incrBy(kb, ko, kl, delta);
    const wait = this.barrierOf(kb, ko, kl);
    if (wait !== undefined) {
      const key = copy(kb, ko, kl);
      return wait.then(() => this.incrBy(key, 0, kl, delta));
    }
    return this.send(owner, Opcode.INCR, 0, kb.subarray(ko, ko + kl), null, delta).then((r) => {
      expectOk(owner, r);
      return int64Of(r);
    });
  }

  strlen(kb: Buffer, ko: number, kl: number): MaybePromise<number> {
    const owner = this.ownerOf(kb, ko, kl);
    if (owner === undefined) return this.local.strlen(kb, ko, kl);
    return this.getRemote(owner, kb, ko, kl).then((v) => (v === null ? 0 : v.length));
  }

  dbsize(): MaybePromise<number> {
    return this.scope.dbsize();
  }

  flush(): MaybePromise<void> {
    return this.scope.flush();
  }

  info(): MaybePromise<BackendInfo> {
    return this.scope.info();
  }

  // ---- routing ----

  /** The owner's id when another member owns the key; undefined when this node serves it (see below). */
  private ownerOf(kb: Buffer, ko: number, kl: number): string | undefined {
    if (this.cluster.hasQuorum === false) throw new UnavailableError(CUT_OFF);
    // An invalid key is served locally: the local backend raises exactly the error a single node raises.
    if (kl === 0 || kl > this.store.maxKeyBytes) return undefined;
    const ring = this.cluster.ring;
    const index = ring.lookupIndex(kb, ko, kl);
    if (index < 0 || index === this.selfIndexOf(ring)) return undefined;
    return ring.nodeAt(index);
  }

  private selfIndexOf(ring: RespClusterView['ring']): number {
    if (ring.epoch !== this.selfEpoch) {
      this.selfEpoch = ring.epoch;
      this.selfIndex = ring.nodes.indexOf(this.cluster.selfId);
    }
    return this.selfIndex;
  }

  /**
   * Owners of keys args[first + step·j] for j < count (undefined: this node); undefined when all are local,
   * WAIT when one of the keys has a two-round-trip command in flight.
   */
  private ownersOf(args: RespArgs, first: number, count: number, step: number): Array<string | undefined> | typeof WAIT | undefined {
    const { bufs, offs, lens } = args;
    let owners: Array<string | undefined> | undefined;
    for (let j = 0; j < count; j++) {
      const i = first + step * j;
      const owner = this.ownerOf(bufs[i]!, offs[i]!, lens[i]!);
      if (owner === undefined) continue;
      if (this.barrierOf(bufs[i]!, offs[i]!, lens[i]!) !== undefined) return WAIT;
      owners ??= new Array<string | undefined>(count).fill(undefined);
      owners[j] = owner;
    }
    return owners;
  }

  /** GET of a key another member owns (after a two-round-trip command on it, if one is in flight). */
  private getRemote(owner: string, kb: Buffer, ko: number, kl: number): Promise<Uint8Array | null> {
    const wait = this.barrierOf(kb, ko, kl);
    if (wait !== undefined) {
      const key = copy(kb, ko, kl);
      return wait.then(() => {
        const now = this.ownerOf(key, 0, kl);
        return now === undefined ? this.store.getCopy(key, 0, kl) : this.getRemote(now, key, 0, kl);
      });
    }
    return this.send(owner, Opcode.GET, 0, kb.subarray(ko, ko + kl), null, 0).then((r) => valueOf(owner, r));
  }

  /** MGET's values; `owners` from ownersOf (undefined: all local). */
  private mgetValues(
    args: RespArgs,
    first: number,
    count: number,
    owners: Array<string | undefined> | typeof WAIT | undefined,
  ): MaybePromise<Array<Uint8Array | null>> {
    if (owners === WAIT)
      return this.afterBarriers(args, first, count, 1, (a) => this.mgetValues(a, 0, count, this.ownersOf(a, 0, count, 1)));
    const guard = this.local.responseGuard;
    if (guard.mayRefuse(worstMgetReplyBytes(count, this.store.maxValueBytes)))
      guard.checkMget(storedMgetReplyBytes(this.store, args, first, count, owners));
    const values = new Array<Uint8Array | null>(count).fill(null);
    const byOwner = new Map<string, number[]>();
    for (let j = 0; j < count; j++) {
      const owner = owners?.[j];
      const i = first + j;
      if (owner === undefined) {
        values[j] = this.store.getCopy(args.bufs[i]!, args.offs[i]!, args.lens[i]!);
        continue;
      }
      const list = byOwner.get(owner);
      if (list === undefined) byOwner.set(owner, [j]);
      else list.push(j);
    }
    const parts: Array<Promise<void>> = [];
    for (const [owner, indexes] of byOwner) {
      for (const chunk of mgetChunks(args, first, indexes, this.mgetKeysPerPart)) {
        const body = encodeMgetBody(chunk.map((j) => view(args, first + j)));
        parts.push(
          this.send(owner, Opcode.MGET, 0, null, body, 0).then((r) => {
            expectOk(owner, r);
            const got = decodeMgetResponse(r.value, 0, r.value.length);
            if (got === null || got.length !== chunk.length) throw new ServerError(`malformed MGET answer from ${owner}`);
            for (let k = 0; k < chunk.length; k++) values[chunk[k]!] = got[k]!;
          }),
        );
      }
    }
    if (parts.length === 0) return values;
    return Promise.all(parts).then(() => guard.checkedMget(values));
  }

  /** DEL and EXISTS: one request per remote key (all sent now), local keys answered now; the sum of `count`s. */
  private perKey(
    args: RespArgs,
    first: number,
    count: number,
    opcode: number,
    again: (copied: RespArgs) => MaybePromise<number>,
    remote: (owner: string, r: RawResponse) => number,
    local: (kb: Buffer, ko: number, kl: number) => number,
  ): MaybePromise<number> {
    const { bufs, offs, lens } = args;
    for (let i = first; i < first + count; i++) this.checkKey(lens[i]!);
    const owners = this.ownersOf(args, first, count, 1);
    if (owners === WAIT) return this.afterBarriers(args, first, count, 1, again);
    let n = 0;
    const parts: Array<Promise<number>> = [];
    for (let j = 0; j < count; j++) {
      const i = first + j;
      const owner = owners?.[j];
      if (owner === undefined) n += local(bufs[i]!, offs[i]!, lens[i]!);
      else parts.push(this.send(owner, opcode, 0, view(args, i), null, 0).then((r) => remote(owner, r)));
    }
    if (parts.length === 0) return n;
    return Promise.all(parts).then((counts) => counts.reduce((sum, c) => sum + c, n));
  }

  /** SET for a remote key; the first request goes out now (the views are valid only during the call). */
  private setRemote(
    owner: string,
    kb: Buffer,
    ko: number,
    kl: number,
    vb: Buffer,
    vo: number,
    vl: number,
    ttlMs: number,
    flags: number,
  ): Promise<boolean> {
    const key = kb.subarray(ko, ko + kl);
    const mode = (flags & SetFlags.NX) !== 0 ? SetMode.NX : (flags & SetFlags.XX) !== 0 ? SetMode.XX : SetMode.SET;
    if (ttlMs < 0) {
      // Stored and expired at once: NX changes nothing (true when absent); SET and XX delete (XX: if present).
      if (mode === SetMode.NX) return this.send(owner, Opcode.TTL, 0, key, null, 0).then((r) => pttlOf(owner, r) === -2);
      return this.send(owner, Opcode.DELETE, 0, key, null, 0).then((r) => foundOrNot(owner, r) || mode === SetMode.SET);
    }
    const setFlags = mode << SET_MODE_SHIFT;
    if ((flags & SetFlags.KEEPTTL) === 0) {
      return this.send(owner, Opcode.SET, setFlags, key, vb.subarray(vo, vo + vl), ttlMs).then((r) => storedOrNot(owner, r));
    }
    this.counters.composed++;
    const ttl = this.send(owner, Opcode.TTL, 0, key, null, 0);
    const [keyCopy, value] = [copy(kb, ko, kl), copy(vb, vo, vl)];
    return ttl.then((r) => {
      const left = pttlOf(owner, r);
      return this.send(owner, Opcode.SET, setFlags, keyCopy, value, left > 0 ? left : 0).then((s) => storedOrNot(owner, s));
    });
  }

  /** EXPIRE's effect: a TTL ≤ 0 deletes, a positive one replaces the key's TTL. True when the key existed. */
  private applyTtl(owner: string, key: Uint8Array, ttlMs: number): Promise<boolean> {
    const response = ttlMs <= 0 ? this.send(owner, Opcode.DELETE, 0, key, null, 0) : this.send(owner, Opcode.TOUCH, 0, key, null, ttlMs);
    return response.then((r) => foundOrNot(owner, r));
  }

  /**
   * Sends one request to a member: key requests (MGET/MSET included) marked FORWARDED, so the owner serves them
   * itself; STATS and FLUSH as they are. A missing answer becomes an -ERR naming the member.
   */
  private send(
    owner: string,
    opcode: number,
    flags: number,
    key: Uint8Array | null,
    value: Uint8Array | null,
    extras: number | bigint,
  ): Promise<RawResponse> {
    const keyed = opcode !== Opcode.STATS && opcode !== Opcode.FLUSH;
    if (keyed) this.counters.forwarded++;
    let pending: Promise<RawResponse>;
    try {
      pending = this.cluster.peers.request(owner, opcode, keyed ? flags | Flag.FORWARDED : flags, key, value, extras);
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.catch((error: unknown) => {
      this.counters.forwardFailures++;
      throw new UnavailableError(`the ${keyed ? "key's owner" : 'member'} ${owner} is unreachable: ${messageOf(error)}`);
    });
  }

  // ---- ordering of two-round-trip commands ----

  private barrierOf(kb: Buffer, ko: number, kl: number): Promise<void> | undefined {
    return this.barriers.size === 0 ? undefined : this.barriers.get(kb.toString('latin1', ko, ko + kl));
  }

  /** Later commands on this key wait until `done` settles (their callbacks run in arrival order). */
  private hold(kb: Buffer, ko: number, kl: number, done: Promise<unknown>): void {
    const id = kb.toString('latin1', ko, ko + kl);
    const barrier: Promise<void> = done.then(noop, noop).then(() => {
      if (this.barriers.get(id) === barrier) this.barriers.delete(id);
    });
    this.barriers.set(id, barrier);
  }

  /** Copies args[first, first + n) and runs `again` on the copy once every barrier among its keys settled. */
  private afterBarriers<T>(
    args: RespArgs,
    first: number,
    n: number,
    step: number,
    again: (copied: RespArgs) => MaybePromise<T>,
  ): Promise<T> {
    const waits: Array<Promise<void>> = [];
    for (let i = first; i < first + n; i += step) {
      const wait = this.barrierOf(args.bufs[i]!, args.offs[i]!, args.lens[i]!);
      if (wait !== undefined) waits.push(wait);
    }
    const copied = copyArgs(args, first, n);
    return Promise.all(waits).then(() => again(copied));
  }

  // ---- local helpers ----

  private checkKey(kl: number): void {
    if (kl === 0) throw new KeyEmptyError();
    if (kl > this.store.maxKeyBytes) throw new KeyTooLargeError(kl, this.store.maxKeyBytes);
  }

  private checkValue(vl: number): void {
    if (vl > this.store.maxValueBytes) throw new ValueTooLargeError(vl, this.store.maxValueBytes);
  }
}

const WAIT: unique symbol = Symbol('dcache.resp.wait');
