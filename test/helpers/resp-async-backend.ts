/**
 * A RespBackend that answers like a cluster node would: some calls synchronously, others through promises
 * that settle later and out of order (microtask, setImmediate, a timer of a few ms). The work itself runs
 * synchronously against a LocalRespBackend at call time, so the expected results follow request order, and
 * only the replies' timing is scrambled: what the connection's in-order reply queue must undo.
 */
import type { BackendInfo, MaybePromise, RespArgs, RespBackend } from '../../src/resp/backend';
import type { LocalRespBackend } from '../../src/resp/local-backend';
import { seededRandom } from './random';

/** The local backend answers synchronously: its results are never promises. */
function sync<T>(value: MaybePromise<T>): T {
  if (value instanceof Promise) throw new Error('the local backend answered with a promise');
  return value;
}

export class ScrambledBackend implements RespBackend {
  /** Promises handed out and not settled yet. */
  pending = 0;
  private readonly random: () => number;
  /** When set, every call answers through a promise that waits for release(). */
  private gate: Array<() => void> | null = null;

  constructor(
    private readonly local: LocalRespBackend,
    seed = 1,
    private readonly asyncShare = 0.7,
  ) {
    this.random = seededRandom(seed);
  }

  /** Hold every later answer until release() (to test draining on close). */
  hold(): void {
    this.gate = [];
  }

  release(): void {
    const waiting = this.gate ?? [];
    this.gate = null;
    for (const go of waiting) go();
  }

  now(): number {
    return this.local.now();
  }

  get(kb: Buffer, ko: number, kl: number): MaybePromise<Uint8Array | null> {
    // GETEX without options: the value as data (GET would write its reply in place).
    return this.answer(() => sync(this.local.getEx(kb, ko, kl, null)));
  }

  mget(args: RespArgs, first: number, count: number): MaybePromise<Array<Uint8Array | null>> {
    return this.answer(() => {
      const out: Array<Uint8Array | null> = [];
      for (let i = first; i < first + count; i++) out.push(sync(this.local.getEx(args.bufs[i]!, args.offs[i]!, args.lens[i]!, null)));
      return out;
    });
  }

  set(kb: Buffer, ko: number, kl: number, vb: Buffer, vo: number, vl: number, ttlMs: number, flags: number): MaybePromise<boolean> {
    return this.answer(() => sync(this.local.set(kb, ko, kl, vb, vo, vl, ttlMs, flags)));
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
    return this.answer(() => sync(this.local.setGet(kb, ko, kl, vb, vo, vl, ttlMs, flags)));
  }

  mset(args: RespArgs, first: number, pairs: number): MaybePromise<void> {
    return this.answer(() => sync(this.local.mset(args, first, pairs)));
  }

  getDel(kb: Buffer, ko: number, kl: number): MaybePromise<Uint8Array | null> {
    return this.answer(() => sync(this.local.getDel(kb, ko, kl)));
  }

  getEx(kb: Buffer, ko: number, kl: number, ttlMs: number | null): MaybePromise<Uint8Array | null> {
    return this.answer(() => sync(this.local.getEx(kb, ko, kl, ttlMs)));
  }

  del(args: RespArgs, first: number, count: number): MaybePromise<number> {
    return this.answer(() => sync(this.local.del(args, first, count)));
  }

  exists(args: RespArgs, first: number, count: number): MaybePromise<number> {
    return this.answer(() => sync(this.local.exists(args, first, count)));
  }

  expire(kb: Buffer, ko: number, kl: number, ttlMs: number, flags: number): MaybePromise<boolean> {
    return this.answer(() => sync(this.local.expire(kb, ko, kl, ttlMs, flags)));
  }

  persist(kb: Buffer, ko: number, kl: number): MaybePromise<boolean> {
    return this.answer(() => sync(this.local.persist(kb, ko, kl)));
  }

  pttl(kb: Buffer, ko: number, kl: number): MaybePromise<number> {
    return this.answer(() => sync(this.local.pttl(kb, ko, kl)));
  }

  incrBy(kb: Buffer, ko: number, kl: number, delta: bigint): MaybePromise<bigint> {
    return this.answer(() => sync(this.local.incrBy(kb, ko, kl, delta)));
  }

  strlen(kb: Buffer, ko: number, kl: number): MaybePromise<number> {
    return this.answer(() => sync(this.local.strlen(kb, ko, kl)));
  }

  dbsize(): MaybePromise<number> {
    return this.answer(() => sync(this.local.dbsize()));
  }

  flush(): MaybePromise<void> {
    return this.answer(() => sync(this.local.flush()));
  }

  info(): MaybePromise<BackendInfo> {
    return this.answer(() => sync(this.local.info()));
  }

  /** Runs the work now; hands back its result (or error) now or later, as the dice say. */
  private answer<T>(work: () => T): MaybePromise<T> {
    let result: T;
    let failure: unknown;
    let failed = false;
    try {
      result = work();
    } catch (error) {
      failed = true;
      failure = error;
    }
    const roll = this.random();
    if (this.gate === null && roll >= this.asyncShare) {
      if (failed) throw failure;
      return result!;
    }
    this.pending++;
    const settle = (resolve: (v: T) => void, reject: (e: unknown) => void) => {
      this.pending--;
      if (failed) reject(failure);
      else resolve(result!);
    };
    return new Promise<T>((resolve, reject) => {
      const go = () => settle(resolve, reject);
      if (this.gate !== null) this.gate.push(go);
      else if (roll < this.asyncShare * 0.3) queueMicrotask(go);
      else if (roll < this.asyncShare * 0.6) setImmediate(go);
      else setTimeout(go, Math.floor(this.random() * 4));
    });
  }
}
