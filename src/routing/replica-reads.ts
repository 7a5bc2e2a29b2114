/**
 * Reads that fail over to replicas (docs/ARCHITECTURE.md, "Replicas"): a GET or TTL of a key whose owner does
 * not answer (closed, refused, timed out) or is suspect is served by the key's other holders in ring order:
 * this node's own copy when it holds one, else each replica asked in turn with REPLICA_READ, which a member
 * serves only if it holds the key in its view. A member holds every acknowledged write of its keys (the owner
 * acknowledges a write only once its replicas have it), so a replica never answers older than that.
 */
import { MAX_REPLICAS } from '../consistent/ring';
import { UnavailableError } from '../errors';
import { Flag, Opcode } from '../protocol/constants';
import type { RoutingCluster } from './key-router';
import type { LocalKeys } from './local-keys';
import { valueOf, type PeerRequester } from './peer-answers';
import { KeyOp, KeyRequest } from './request';
import type { ReplySink } from './sink';

/** What failover reads need of the key router. */
export interface ReplicaReadHost {
  readonly local: LocalKeys;
  readonly counters: { failoverReads: number; replicaReadsRefused: number };
  selfIndexOf(): number;
  /** KeyRouter.send: one request to a member, marked FORWARDED. */
  send: PeerRequester['request'];
}

export class ReplicaReads {
  private readonly holders = new Int32Array(MAX_REPLICAS);

  constructor(
    private readonly host: ReplicaReadHost,
    private readonly cluster: RoutingCluster,
    /** Serves a key this node holds (after any barrier or read-through on it). */
    private readonly serveHere: (r: KeyRequest, sink: ReplySink) => void,
  ) {}

  /** A member asks this node for its copy of a key whose owner did not answer. */
  serve(r: KeyRequest, sink: ReplySink): void {
    const cluster = this.cluster;
    if (!cluster.ring.holdsKey(r.keyBuf, r.keyOff, r.keyLen, cluster.replicas, this.host.selfIndexOf())) {
      this.host.counters.replicaReadsRefused++;
      sink.error(new UnavailableError(`${cluster.selfId} holds no copy of this key in its view of the ring`));
      return;
    }
    this.serveHere(r, sink);
  }

  /** A read sent to the owner, or straight to a replica while the owner is suspect; replicas when it fails. */
  read(owner: string, op: KeyOp, view: Buffer, sink: ReplySink): void {
    const key = Buffer.from(view);
    const late = sink.later();
    if (this.cluster.isSuspect(owner)) {
      this.failover(owner, op, key, late, new UnavailableError(`the key's owner ${owner} is suspect`));
      return;
    }
    this.host.send(owner, opcodeOf(op), 0, key, null, 0).then(
      (response) => late.relay(response, owner),
      (error: unknown) => this.failover(owner, op, key, late, error),
    );
  }

  /**
   * One key's value from its holders other than `owner`, which did not answer (a part of a split MGET). Rejects
   * with the last error when none answers.
   */
  async value(owner: string, key: Buffer): Promise<Uint8Array | null> {
    let last: unknown = new UnavailableError(`no replica of the key answered for its owner ${owner}`);
    for (const id of this.othersThan(owner, key)) {
      this.host.counters.failoverReads++;
      if (id === this.cluster.selfId) return this.host.local.valueCopy(key);
      try {
        return valueOf(id, await this.host.send(id, Opcode.GET, Flag.REPLICA_READ, key, null, 0));
      } catch (error) {
        last = error;
      }
    }
    throw last;
  }

  /** The key's other holders in ring order, tried one after the other; the last error when none answers. */
  private failover(owner: string, op: KeyOp, key: Buffer, sink: ReplySink, cause: unknown): void {
    const candidates = this.othersThan(owner, key);
    const next = (at: number, error: unknown): void => {
      if (at >= candidates.length) {
        sink.error(error);
        return;
      }
      const id = candidates[at]!;
      this.host.counters.failoverReads++;
      if (id === this.cluster.selfId) {
        const copy = new KeyRequest().single(op, key, 0, key.length);
        copy.forwarded = true;
        this.serveHere(copy, sink);
        return;
      }
      this.host.send(id, opcodeOf(op), Flag.REPLICA_READ, key, null, 0).then(
        (response) => sink.relay(response, id),
        (failed: unknown) => next(at + 1, failed),
      );
    };
    next(0, cause);
  }

  /** The key's holders in ring order, less `owner`. */
  private othersThan(owner: string, key: Buffer): string[] {
    const ring = this.cluster.ring;
    const count = ring.holdersOf(key, 0, key.length, this.cluster.replicas, this.holders);
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const id = ring.nodeAt(this.holders[i]!)!;
      if (id !== owner) ids.push(id);
    }
    return ids;
  }
}

function opcodeOf(op: KeyOp): number {
  return op === KeyOp.TTL ? Opcode.TTL : Opcode.GET;
}
