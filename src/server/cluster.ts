/**
 * The node's cluster side: membership (SWIM) feeding the ring, the peer pool, and the topology that clients
 * that route for themselves fetch. Every member builds its ring from the same member ids, so views that agree
 * on membership agree on every key's owner (and on the ring checksum).
 */
import { HashRing } from '../consistent/ring';
import { Membership, type MembershipOptions } from '../discovery/membership';
import type { MembershipMessage } from '../discovery/messages';
import type { Logger } from './logger';
import { PeerPool } from './peer-pool';
import type { ClusterView } from './router';

export interface ClusterOptions {
  selfId: string;
  seeds: readonly string[];
  vnodes: number;
  membership: MembershipOptions;
  forwardTimeoutMs: number;
  connectTimeoutMs: number;
}

export class Cluster implements ClusterView {
  readonly ring: HashRing;
  readonly membership: Membership;
  readonly peers: PeerPool;
  private readonly epochListeners: Array<(epoch: number) => void> = [];

  constructor(private readonly options: ClusterOptions, private readonly logger: Logger) {
    this.ring = new HashRing({ vnodes: options.vnodes });
    this.peers = new PeerPool({ forwardTimeoutMs: options.forwardTimeoutMs, connectTimeoutMs: options.connectTimeoutMs, maxPendingPerPeer: 100_000 });
    this.membership = new Membership(options.selfId, options.membership, this.peers, logger);
    this.ring.setNodes(this.membership.table.ownerIds());
    this.membership.table.onChange((member, previous) => {
      if (this.ring.setNodes(this.membership.table.ownerIds())) {
        this.logger.info(`ring epoch ${this.ring.epoch}: ${this.ring.size} owners, checksum ${this.ring.checksum.toString(16)}`);
        for (const listener of this.epochListeners) listener(this.ring.epoch);
      }
      if ((member.state === 'dead' || member.state === 'left') && previous?.state !== member.state) this.peers.forget(member.id);
    });
  }

  get selfId(): string {
    return this.options.selfId;
  }

  onEpoch(listener: (epoch: number) => void): void {
    this.epochListeners.push(listener);
  }

  start(): void {
    this.membership.start(this.options.seeds);
  }

  handleMembership(opcode: number, message: MembershipMessage): Promise<MembershipMessage> {
    return this.membership.handle(opcode, message);
  }

  topology(): Record<string, unknown> {
    return {
      self: this.selfId,
      vnodes: this.ring.vnodes,
      epoch: this.ring.epoch,
      checksum: this.ring.checksum,
      members: this.membership.table
        .all()
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .map((member) => ({ id: member.id, address: member.id, state: member.state, incarnation: member.incarnation })),
    };
  }

  stats(): Record<string, unknown> {
    return {
      self: this.selfId,
      members: this.membership.table.size,
      owners: this.ring.size,
      epoch: this.ring.epoch,
      checksum: this.ring.checksum,
      ...this.membership.counters,
    };
  }

  /** Announces `left` (peers drop this node from their rings at once) and stops probing. */
  async leave(): Promise<void> {
    await this.membership.leave();
  }

  async close(): Promise<void> {
    this.membership.stop();
    await this.peers.close();
  }
}
