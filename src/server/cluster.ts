/**
 * The node's cluster side: membership (SWIM) feeding the ring, the peer pool, and the topology that clients
 * that route for themselves fetch. Every member builds its ring from the same member ids, so views that agree
 * on membership agree on every key's owner (and on the ring checksum).
 */
import type { Store } from '../cache/store';
import { HashRing } from '../consistent/ring';
import { Membership, type MembershipOptions } from '../discovery/membership';
import type { MembershipMessage } from '../discovery/messages';
import type { MemberHandshake } from './request-handler';
import type { Logger } from '../logger';
import { MemberGate } from './member-auth';
import { PeerPool } from './peer-pool';
import type { ClusterView } from './router';

export interface ClusterOptions {
  selfId: string;
  /** The node's store: emptied on a comeback, and swept of ranges that move to other members. */
  store: Store;
  seeds: readonly string[];
  vnodes: number;
  membership: MembershipOptions;
  forwardTimeoutMs: number;
  connectTimeoutMs: number;
  /** Source address for peer connections: the node's own listen host when it is a specific address. */
  localAddress?: string;
  /** The key member hellos are proven with (member-auth.ts clusterKeyOf); none on a node without tokens. */
  clusterKey?: Buffer;
}

export class Cluster implements ClusterView {
  readonly ring: HashRing;
  readonly membership: Membership;
  readonly peers: PeerPool;
  /** Checks the member hellos this node receives: the proof, then a call-back to the named member. */
  readonly memberGate: MemberHandshake;
  private readonly epochListeners: Array<(epoch: number) => void> = [];
  /** Cleared while this node sees no majority; a node that lost it empties its store when it returns. */
  private quorum = true;
  /** After a comeback: not serving until a full sync with every member has aligned this node's view. */
  private rejoining = false;
  private sweepTimer: NodeJS.Immediate | undefined;
  /** Counters for STATS: comebacks that emptied the store, ranges swept, keys they dropped. */
  readonly staleGuard = { flushesOnComeback: 0, rangeSweeps: 0, keysDroppedForMovedRanges: 0, refusedWithoutQuorum: 0 };

  constructor(
    private readonly options: ClusterOptions,
    private readonly logger: Logger,
  ) {
    this.ring = new HashRing({ vnodes: options.vnodes });
    this.peers = new PeerPool({
      forwardTimeoutMs: options.forwardTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs,
      maxPendingPerPeer: 100_000,
      selfId: options.selfId,
      ...(options.clusterKey === undefined ? {} : { clusterKey: options.clusterKey }),
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    });
    const gate = new MemberGate(options.selfId, options.clusterKey, (id, nonce, to) => this.peers.confirmHello(id, nonce, to));
    this.memberGate = {
      admit: (value) => gate.admit(value),
      confirm: (value) => this.peers.sentHellos.confirm(value),
    };
    this.membership = new Membership(options.selfId, options.membership, this.peers, logger);
    this.ring.setNodes(this.membership.table.ownerIds());
    this.membership.table.onChange((member, previous) => {
      if (this.ring.setNodes(this.membership.table.ownerIds())) {
        this.logger.info(`ring epoch ${this.ring.epoch}: ${this.ring.size} owners, checksum ${this.ring.checksum.toString(16)}`);
        for (const listener of this.epochListeners) listener(this.ring.epoch);
        this.sweepMovedRanges();
      }
      if ((member.state === 'dead' || member.state === 'left') && previous?.state !== member.state) this.peers.forget(member.id);
      this.checkQuorum();
    });
    // No stale comebacks (docs/ARCHITECTURE.md, Decisions): while this node was declared dead its ranges belonged to others, who may
    // have acknowledged newer values; what it holds could be older. It empties its store before it serves.
    this.membership.table.onDeclaredDead(() => this.forgetEverything('the cluster had declared this node dead'));
  }

  /**
   * True while this node sees a majority of the cluster's non-left members (itself included). Without it the
   * node is cut off: it refuses key requests rather than acknowledge writes the majority will never see.
   */
  get hasQuorum(): boolean {
    return this.quorum && !this.rejoining;
  }

  private checkQuorum(): void {
    if (this.membership.table.self.state === 'left') return; // leaving: serving nothing anyway
    const now = this.membership.table.hasQuorum();
    if (now === this.quorum) return;
    this.quorum = now;
    if (!now) {
      const table = this.membership.table;
      const alive = table.all().filter((member) => member.state === 'alive').length;
      this.logger.warn(`cut off: this node sees ${alive} of ${table.votingMembers} members alive; refusing key requests`);
    } else {
      this.forgetEverything('it had been cut off from the majority');
    }
  }

  private forgetEverything(why: string): void {
    const items = this.options.store.stats().items;
    this.options.store.flush();
    this.staleGuard.flushesOnComeback++;
    this.logger.warn(`emptied the store (${items} items) because ${why}: its values may be older than the cluster's`);
    // Its verdicts from the wrong side of the cut (members it holds dead) would make it serve their keys: it
    // serves nothing until it has exchanged state with every member.
    if (this.rejoining) return;
    this.rejoining = true;
    void this.membership.syncWithAll().finally(() => {
      this.rejoining = false;
    });
  }

  /**
   * Drops, in slices between other work, the keys this node no longer owns: if their range comes back here
   * later, an old copy must not be served over what the other owner acknowledged meanwhile.
   */
  private sweepMovedRanges(): void {
    if (this.sweepTimer) clearImmediate(this.sweepTimer);
    const store = this.options.store;
    const ring = this.ring;
    const selfIndex = ring.nodes.indexOf(this.selfId);
    const epoch = ring.epoch;
    this.staleGuard.rangeSweeps++;
    const step = (from: number) => {
      this.sweepTimer = undefined;
      if (store.isClosed || ring.epoch !== epoch) return;
      const { next, removed } = store.removeWhere((page, offset, length) => ring.lookupIndex(page, offset, length) === selfIndex, from);
      this.staleGuard.keysDroppedForMovedRanges += removed;
      if (next >= 0) this.sweepTimer = setImmediate(step, next);
    };
    this.sweepTimer = setImmediate(step, 0);
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

  handleMembership(opcode: number, message: MembershipMessage, senderId: string): Promise<MembershipMessage> {
    return this.membership.handle(opcode, message, senderId);
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
      quorum: this.quorum,
      ...this.staleGuard,
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
    if (this.sweepTimer) clearImmediate(this.sweepTimer);
    this.membership.stop();
    await this.peers.close();
  }
}
