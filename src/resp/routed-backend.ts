/**
 * The RESP port's keyed commands translated into the request model (docs/ARCHITECTURE.md, "How a request
 * flows"): each RespBackend key method fills the one reused KeyRequest with views of its arguments and hands it
 * to the KeyRouter with the RESP reply sink. The router serves keys this node owns synchronously (no promise
 * anywhere on a single node or for local keys) and answers remote ones with a promise. The commands only RESP
 * has (DBSIZE, FLUSH, INFO) are left to the backend that knows its scope: one node (LocalRespBackend) or the
 * cluster (ClusterRespBackend).
 */
import type { KeyRouter } from '../routing/key-router';
import { GetExFlag, KeyOp, KeyRequest, SetFlag, type KeyList } from '../routing/request';
import { SetMode } from '../protocol/constants';
import { SetFlags, type BackendInfo, type MaybePromise, type RespArgs, type RespBackend, type Replied } from './backend';
import { RespReplySink } from './resp-sink';
import { UNLIMITED, type ResponseGuard } from './response-guard';
import type { RespWriter } from './writer';

export abstract class RoutedRespBackend implements RespBackend {
  private readonly request = new KeyRequest();
  private readonly sink = new RespReplySink();
  private guard: ResponseGuard = UNLIMITED;

  constructor(
    protected readonly router: KeyRouter,
    private readonly clock: () => number = Date.now,
  ) {}

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

  abstract dbsize(): MaybePromise<number>;
  abstract flush(): MaybePromise<void>;
  abstract info(): MaybePromise<BackendInfo>;

  get(kb: Buffer, ko: number, kl: number, out: RespWriter): MaybePromise<Uint8Array | null | Replied> {
    return this.run(this.request.single(KeyOp.GET, kb, ko, kl), out);
  }

  mget(args: RespArgs, first: number, count: number, out: RespWriter): MaybePromise<Array<Uint8Array | null> | Replied> {
    return this.run(this.request.multi(KeyOp.MGET, keyList(args, first, count, 1)), out);
  }

  set(kb: Buffer, ko: number, kl: number, vb: Buffer, vo: number, vl: number, ttlMs: number, flags: number): MaybePromise<boolean> {
    return this.run(this.setRequest(KeyOp.SET, kb, ko, kl, vb, vo, vl, ttlMs, flags), null);
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
    return this.run(this.setRequest(KeyOp.SET_GET, kb, ko, kl, vb, vo, vl, ttlMs, flags), null);
  }

  mset(args: RespArgs, first: number, pairs: number): MaybePromise<void> {
    return this.run(this.request.multi(KeyOp.MSET, keyList(args, first, pairs, 2)), null);
  }

  getDel(kb: Buffer, ko: number, kl: number): MaybePromise<Uint8Array | null> {
    return this.run(this.request.single(KeyOp.GETDEL, kb, ko, kl), null);
  }

  getEx(kb: Buffer, ko: number, kl: number, ttlMs: number | null): MaybePromise<Uint8Array | null> {
    const r = this.request.single(KeyOp.GETEX, kb, ko, kl);
    if (ttlMs === null) r.flags = GetExFlag.KEEP;
    else r.ttlMs = ttlMs;
    return this.run(r, null);
  }

  del(args: RespArgs, first: number, count: number): MaybePromise<number> {
    return this.run(this.request.multi(KeyOp.DEL, keyList(args, first, count, 1)), null);
  }

  exists(args: RespArgs, first: number, count: number): MaybePromise<number> {
    return this.run(this.request.multi(KeyOp.EXISTS, keyList(args, first, count, 1)), null);
  }

  expire(kb: Buffer, ko: number, kl: number, ttlMs: number, flags: number): MaybePromise<boolean> {
    const r = this.request.single(KeyOp.EXPIRE, kb, ko, kl);
    r.ttlMs = ttlMs;
    // RESP's ExpireFlags and the model's ExpireFlag share their bits.
    r.flags = flags;
    return this.run(r, null);
  }

  persist(kb: Buffer, ko: number, kl: number): MaybePromise<boolean> {
    return this.run(this.request.single(KeyOp.PERSIST, kb, ko, kl), null);
  }

  pttl(kb: Buffer, ko: number, kl: number): MaybePromise<number> {
    return this.run(this.request.single(KeyOp.TTL, kb, ko, kl), null);
  }

  incrBy(kb: Buffer, ko: number, kl: number, delta: bigint): MaybePromise<bigint> {
    const r = this.request.single(KeyOp.INCR, kb, ko, kl);
    r.delta = delta;
    return this.run(r, null);
  }

  strlen(kb: Buffer, ko: number, kl: number): MaybePromise<number> {
    return this.run(this.request.single(KeyOp.STRLEN, kb, ko, kl), null);
  }

  private setRequest(
    op: KeyOp,
    kb: Buffer,
    ko: number,
    kl: number,
    vb: Buffer,
    vo: number,
    vl: number,
    ttlMs: number,
    flags: number,
  ): KeyRequest {
    const r = this.request.single(op, kb, ko, kl).value(vb, vo, vl);
    r.ttlMs = ttlMs;
    r.mode = (flags & SetFlags.NX) !== 0 ? SetMode.NX : (flags & SetFlags.XX) !== 0 ? SetMode.XX : SetMode.SET;
    r.flags = (flags & SetFlags.KEEPTTL) !== 0 ? SetFlag.KEEPTTL : 0;
    return r;
  }

  private run<T>(r: KeyRequest, out: RespWriter | null): MaybePromise<T> {
    const sink = this.sink.reset(r.op, out, this.guard);
    this.router.route(r, sink);
    return sink.take<T>();
  }
}

/** RESP arguments [first, first + step·count) as the model's key list (views, nothing copied). */
function keyList(args: RespArgs, first: number, count: number, step: 1 | 2): KeyList {
  return { bufs: args.bufs, offs: args.offs, lens: args.lens, first, count, step };
}
