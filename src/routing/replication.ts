/**
 * Synchronous replicas (docs/ARCHITECTURE.md, "Replicas"): what the key router needs to hold a write's answer
 * until every replica of its keys has it (transfer/replica-writer.ts implements it). LocalKeys records the keys
 * a request wrote (WrittenKeys); the router hands them over after the request ran, and answers once the
 * returned promise settles.
 */
import { GetExFlag, KeyOp, type KeyRequest } from './request';

export interface Replication {
  /** False with one copy per key (or a ring of one member): the router then skips every other step. */
  readonly active: boolean;
  /**
   * Sends the state of each written key (as it is in this store now) to the key's other holders; settles once
   * all acknowledged, rejects (UnavailableError) when they did not within the hold. Null when no other member
   * holds any of them. The keys are views, read before this returns.
   */
  replicate(keys: WrittenKeys): Promise<void> | null;
}

/**
 * The keys one request wrote, as views into the request's buffers: valid only until the request's synchronous
 * run ends, when the router hands them to replicate(). One list is reused request after request.
 */
export class WrittenKeys {
  readonly bufs: Uint8Array[] = [];
  readonly offs: number[] = [];
  readonly lens: number[] = [];
  count = 0;

  add(kb: Uint8Array, ko: number, kl: number): void {
    const i = this.count++;
    this.bufs[i] = kb;
    this.offs[i] = ko;
    this.lens[i] = kl;
  }

  clear(): void {
    this.count = 0;
  }
}

/** True for a request that may change a key: its result must reach the key's replicas before it is answered. */
export function mayWrite(r: KeyRequest): boolean {
  switch (r.op) {
    case KeyOp.GET:
    case KeyOp.TTL:
    case KeyOp.MGET:
    case KeyOp.EXISTS:
    case KeyOp.STRLEN:
      return false;
    case KeyOp.GETEX:
      return (r.flags & GetExFlag.KEEP) === 0;
    default:
      return true;
  }
}
