/**
 * What a running node gives the application that embeds it (startNode's result): its addresses, its
 * statistics and its member table, and the two ways to stop it. Its parts (store, membership, ring, peers)
 * stay inside; tests reach them through internals.ts, which the package does not export.
 */
import type { MemberState } from '../discovery/member';

/** One member as this node sees it: what TOPOLOGY's `members` and the `status` command show. */
export interface MemberInfo {
  /** The member's id: the host:port it advertises (where clients and members reach it). */
  readonly id: string;
  /** Where it is reached; the same as id. */
  readonly address: string;
  /** alive and suspect members own keys; dead and left ones do not (docs/ARCHITECTURE.md, "Membership and the ring"). */
  readonly state: MemberState;
  /** Raised by the member to refute a suspicion; starts at its start time in ms. */
  readonly incarnation: number;
}

export interface CacheNode {
  /**
   * host:port the binary port listens on (the real port when 0 was asked for). Also the node's member id,
   * unless `advertise` names another address.
   */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** host:port of the Redis-protocol listener, when `respAddr` was given. */
  readonly respAddress: string | undefined;
  readonly respPort: number | undefined;
  /** The STATS snapshot, as a client would receive it. */
  stats(): Record<string, unknown>;
  /** The member table as this node sees it, itself included, sorted by id. */
  members(): MemberInfo[];
  /**
   * Graceful stop: announce `left` to the cluster, stop accepting, answer what arrives with SHUTTING_DOWN,
   * let in-flight responses drain (up to drainTimeoutMs), close connections and the store.
   */
  close(): Promise<void>;
  /** Abrupt stop for tests: no leave announcement, connections destroyed (peers will detect a failure). */
  kill(): Promise<void>;
}
