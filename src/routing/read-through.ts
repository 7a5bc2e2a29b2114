/**
 * Read-through to a key's previous owner while its range is being pulled (docs/ARCHITECTURE.md, "Data
 * movement"): what the key router needs of data movement (transfer/data-movement.ts implements it).
 *
 * A request on a pending key that needs the key's current state (a read, a delete, INCR, a conditional or
 * TTL-keeping SET, TOUCH, …) and misses here first fetches the previous owner's copy, applies it if newer,
 * then runs here. A plain SET needs nothing: it is newer than any copy by its version.
 */
import { SetMode } from '../protocol/constants';
import { KeyOp, SetFlag, type KeyRequest } from './request';

export interface ReadThrough {
  /** False when no range is pending: the router then skips every other check. */
  readonly active: boolean;
  /** The member to read the key through from, when it is pending here; undefined otherwise. */
  sourceOf(kb: Uint8Array, ko: number, kl: number): string | undefined;
  /** Fetches the key's copy from `source` and applies it here. Never rejects: a failure leaves a miss. */
  fill(source: string, key: Buffer): Promise<void>;
}

/** True for a write that does not depend on the key's current value or TTL. */
export function isBlindWrite(r: KeyRequest): boolean {
  return r.op === KeyOp.SET && r.mode === SetMode.SET && r.ttlMs >= 0 && (r.flags & SetFlag.KEEPTTL) === 0;
}
