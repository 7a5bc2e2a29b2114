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
   * all acknowledged, rejects (UnavailableError) when one did not. Null when no other member holds any of them.
   */
  replicate(keys: readonly Buffer[]): Promise<void> | null;
}

/** The keys one request wrote, copied (the request's views do not outlive it). */
export class WrittenKeys {
  readonly keys: Buffer[] = [];

  add(kb: Uint8Array, ko: number, kl: number): void {
    this.keys.push(Buffer.from(kb.subarray(ko, ko + kl)));
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
