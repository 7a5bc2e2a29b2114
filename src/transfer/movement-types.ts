/**
 * What data movement needs from the rest of the node (docs/ARCHITECTURE.md, "Data movement"), as interfaces so
 * this folder depends on no server code: the ring and membership as this node sees them, and a pooled channel
 * to each member for transfer traffic (apart from forwarded requests and probes, so a bulk batch never delays
 * either).
 */
import type { HashRing } from '../consistent/ring';
import type { RawResponse } from '../routing/sink';

export interface MovementView {
  readonly selfId: string;
  /** The current ring (rebuilt in place on every membership change). */
  readonly ring: HashRing;
  /** Copies of each key (--replicas): a key is held by the first this many distinct owners from its point on. */
  readonly replicas: number;
  /** Members leaving now: outside the ring, still handing their copies over and waiting for confirmations. */
  leaving(): string[];
  /** True while the member may still answer: alive, suspect or leaving. */
  reachable(id: string): boolean;
}

export interface TransferPeers {
  transfer(peerId: string, opcode: number, key: Uint8Array | null, value: Uint8Array | null): Promise<RawResponse>;
}

export interface MovementOptions {
  /** A pull not complete after this long is abandoned (its keys become misses). */
  pullDeadlineMs: number;
  /** A member keeps copies of ranges it gave away this long at most while waiting for their new owner's confirmation. */
  holdMs: number;
  /** Largest batch a pull asks for. */
  batchBytes: number;
  /** Longest stretch of transfer work (scanning, applying) between two turns of the event loop. */
  sliceMs: number;
  /** Longest a member spends filling one batch, in slices, before it answers with what it has. */
  batchMs: number;
  /**
   * Share of the time a pull may take while this node serves requests (0 < share ≤ 1): after each batch it
   * pauses so that fetching and applying the batch was at most this share of the wall time. Pulls run at
   * full speed while no request is served.
   */
  busyShare: number;
}

export const MOVEMENT_DEFAULTS: MovementOptions = {
  pullDeadlineMs: 60_000,
  holdMs: 60_000,
  batchBytes: 1024 * 1024,
  sliceMs: 1,
  batchMs: 20,
  busyShare: 0.25,
};
