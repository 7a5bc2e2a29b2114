/**
 * Commands without a binary opcode, on a key another member owns, composed from binary requests. They are NOT
 * atomic on the owner (another client of the owner may act between the steps); each step goes out on the same
 * pooled connection, so the owner applies them in order:
 *   sent together   SET … GET = GET + SET; GETDEL = GET + DELETE; GETEX = GET + TOUCH (DELETE for a past
 *                   time); PERSIST = TTL + TOUCH 0 (true when the TTL said the key had one)
 *   two round trips SET … KEEPTTL = TTL, then SET with the remaining ms; EXPIRE NX/XX/GT/LT = TTL, then TOUCH
 *                   (or DELETE) when the condition held. Later requests on the same key wait for these
 *                   (KeyRouter.hold), so a pipeline still applies in order.
 *   single requests STRLEN = GET's length; a non-positive EXPIRE and SET with a past time = DELETE (SET NX
 *                   with a past time = TTL only: nothing is stored either way).
 */
import type { PeerRequester } from './peer-answers';
import { Opcode, SetMode, SET_MODE_SHIFT } from '../protocol/constants';
import { expireConditionHolds } from './local-keys';
import { foundOrNot, pttlOf, storedOrNot, valueOf, type RawResponse } from './peer-answers';
import { GetExFlag, KeyOp, SetFlag, type KeyRequest } from './request';
import type { ReplySink } from './sink';

/** What the composer needs of the router. */
export interface ComposerRouter {
  readonly counters: { composed: number };
  /** KeyRouter.send: one keyed request to its owner, marked FORWARDED (the PeerRequester signature). */
  send: PeerRequester['request'];
  hold(kb: Buffer, ko: number, kl: number, done: Promise<unknown>): void;
}

export class RemoteComposer {
  constructor(private readonly router: ComposerRouter) {}

  /** Runs a request that is not one binary request on `owner`'s key; the answer goes to sink.later(). */
  run(owner: string, r: KeyRequest, sink: ReplySink): void {
    const late = sink.later();
    const key = r.keyBuf.subarray(r.keyOff, r.keyOff + r.keyLen);
    const send = (opcode: number, k: Uint8Array, extras: number = 0): Promise<RawResponse> =>
      this.router.send(owner, opcode, 0, k, null, extras);
    switch (r.op) {
      case KeyOp.SET: {
        const stored = this.set(owner, r);
        if ((r.flags & SetFlag.KEEPTTL) !== 0) this.router.hold(r.keyBuf, r.keyOff, r.keyLen, stored);
        settle(stored, late, (s, v) => s.flag(v));
        return;
      }
      case KeyOp.SET_GET: {
        const old = send(Opcode.GET, key);
        const stored = this.set(owner, r);
        const done = Promise.all([old, stored]).then(([response]) => valueOf(owner, response));
        if ((r.flags & SetFlag.KEEPTTL) !== 0) this.router.hold(r.keyBuf, r.keyOff, r.keyLen, done);
        settle(done, late, (s, v) => s.value(v));
        return;
      }
      case KeyOp.GETDEL: {
        const value = send(Opcode.GET, key);
        const deleted = send(Opcode.DELETE, key);
        const done = Promise.all([value, deleted]).then(([v, d]) => {
          foundOrNot(owner, d);
          return valueOf(owner, v);
        });
        settle(done, late, (s, v) => s.value(v));
        return;
      }
      case KeyOp.GETEX: {
        const value = send(Opcode.GET, key);
        if ((r.flags & GetExFlag.KEEP) !== 0) {
          settle(
            value.then((v) => valueOf(owner, v)),
            late,
            (s, v) => s.value(v),
          );
          return;
        }
        const change = r.ttlMs < 0 ? send(Opcode.DELETE, key) : send(Opcode.TOUCH, key, r.ttlMs);
        const done = Promise.all([value, change]).then(([v, c]) => {
          foundOrNot(owner, c);
          return valueOf(owner, v);
        });
        settle(done, late, (s, v) => s.value(v));
        return;
      }
      case KeyOp.EXPIRE: {
        const ttlMs = r.ttlMs;
        if (r.flags === 0) {
          settle(this.applyTtl(owner, key, ttlMs), late, (s, v) => s.flag(v));
          return;
        }
        // The condition needs the current TTL: two round trips, and later requests on the key wait for them.
        this.router.counters.composed++;
        const keyCopy = Buffer.from(key);
        const flags = r.flags;
        const done = send(Opcode.TTL, keyCopy).then((t) => {
          if (!expireConditionHolds(pttlOf(owner, t), ttlMs, flags)) return false;
          return this.applyTtl(owner, keyCopy, ttlMs);
        });
        this.router.hold(r.keyBuf, r.keyOff, r.keyLen, done);
        settle(done, late, (s, v) => s.flag(v));
        return;
      }
      case KeyOp.PERSIST: {
        // TOUCH 0 on a key without a TTL changes nothing: both go out now, the TTL tells whether one was removed.
        const ttl = send(Opcode.TTL, key);
        const touched = send(Opcode.TOUCH, key, 0);
        const done = Promise.all([ttl, touched]).then(([t, c]) => pttlOf(owner, t) >= 0 && foundOrNot(owner, c));
        settle(done, late, (s, v) => s.flag(v));
        return;
      }
      case KeyOp.STRLEN:
        settle(
          send(Opcode.GET, key).then((v) => valueOf(owner, v)?.length ?? 0),
          late,
          (s, n) => s.number(n),
        );
        return;
      default:
        late.error(new Error(`op ${r.op} cannot be composed`));
    }
  }

  /** SET with a past time or KEEPTTL on a remote key; the first request goes out now (the views are valid only now). */
  private set(owner: string, r: KeyRequest): Promise<boolean> {
    const key = r.keyBuf.subarray(r.keyOff, r.keyOff + r.keyLen);
    const mode = r.mode;
    const router = this.router;
    if (r.ttlMs < 0) {
      // Stored and expired at once: NX changes nothing (true when absent); SET and XX delete (XX: if present).
      if (mode === SetMode.NX) return router.send(owner, Opcode.TTL, 0, key, null, 0).then((t) => pttlOf(owner, t) === -2);
      return router.send(owner, Opcode.DELETE, 0, key, null, 0).then((d) => foundOrNot(owner, d) || mode === SetMode.SET);
    }
    const setFlags = mode << SET_MODE_SHIFT;
    if ((r.flags & SetFlag.KEEPTTL) === 0) {
      const value = r.valueBuf.subarray(r.valueOff, r.valueOff + r.valueLen);
      return router.send(owner, Opcode.SET, setFlags, key, value, r.ttlMs).then((s) => storedOrNot(owner, s));
    }
    router.counters.composed++;
    const ttl = router.send(owner, Opcode.TTL, 0, key, null, 0);
    const keyCopy = Buffer.from(key);
    const value = Buffer.from(r.valueBuf.subarray(r.valueOff, r.valueOff + r.valueLen));
    return ttl.then((t) => {
      const left = pttlOf(owner, t);
      return router.send(owner, Opcode.SET, setFlags, keyCopy, value, left > 0 ? left : 0).then((s) => storedOrNot(owner, s));
    });
  }

  /** EXPIRE's effect: a TTL ≤ 0 deletes, a positive one replaces the key's TTL. True when the key existed. */
  private applyTtl(owner: string, key: Uint8Array, ttlMs: number): Promise<boolean> {
    const response =
      ttlMs <= 0 ? this.router.send(owner, Opcode.DELETE, 0, key, null, 0) : this.router.send(owner, Opcode.TOUCH, 0, key, null, ttlMs);
    return response.then((d) => foundOrNot(owner, d));
  }
}

function settle<T>(done: Promise<T>, sink: ReplySink, put: (sink: ReplySink, value: T) => void): void {
  done.then(
    (value) => put(sink, value),
    (error: unknown) => sink.error(error),
  );
}
