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
import { DataMovement } from '../transfer/data-movement';
import type { MovementOptions } from '../transfer/movement-types';
import { hash32 } from '../consistent/hash32';

/** How often the freeze detector ticks: a gap is measured from the last tick or request at most this old. */
const FREEZE_TICK_MS = 100;

export interface ClusterOptions {
  selfId: string;
  /** The node's store: emptied on a comeback, and swept of ranges that move to other members. */
  store: Store;
  seeds: readonly string[];
  vnodes: number;
  /** Copies of each key (docs/ARCHITECTURE.md, "Replicas"); 1 when absent. */
  replicas?: number;
  membership: MembershipOptions;
  forwardTimeoutMs: number;
  connectTimeoutMs: number;
  /** Source address for peer connections: the node's own listen host when it is a specific address. */
  localAddress?: string;
  /** The key member hellos are proven with (member-auth.ts clusterKeyOf); none on a node without tokens. */
  clusterKey?: Buffer;
  /** Deadlines and batch sizes of data movement (transfer/movement-types.ts). */
  movement?: Partial<MovementOptions>;
}

export class Cluster implements ClusterView {
  readonly ring: HashRing;
  readonly membership: Membership;
  readonly peers: PeerPool;
  /** Checks the member hellos this node receives: the proof, then a call-back to the named member. */
  readonly memberGate: MemberHandshake;
  /** Pulls of the ranges this node gains, the answers to those others gain from it, read-throughs. */
  readonly movement: DataMovement;
  /**
   * Set while this node's store holds nothing the cluster gave it (a fresh start, or emptied on a comeback):
   * its next ring change then pulls everything it owns from the members that own it without it.
   */
  private freshStore: boolean;
  /** Started with seeds other than itself: it joins a cluster rather than being one. */
  private readonly seeded: boolean;
  private freshPulling = false;
  private ringRebuildQueued = false;
  private readonly epochListeners: Array<(epoch: number) => void> = [];
  /** Cleared while this node sees no majority; a node that lost it empties its store when it returns. */
  private quorum = true;
  /** After a comeback: not serving until a full sync with every member has aligned this node's view. */
  private rejoining = false;
  /** Counters for STATS: comebacks that emptied the store, key requests refused while cut off. */
  readonly staleGuard = { flushesOnComeback: 0, refusedWithoutQuorum: 0, resyncsAfterFreeze: 0 };
  /** performance.now() of the last event-loop turn seen (a tick, or a key request): a long gap is a freeze. */
  private lastTick = performance.now();
  private ticker: NodeJS.Timeout | undefined;
  /** A gap this long means the cluster may have declared this node dead meanwhile: the suspicion timeout or 1 s. */
  private readonly freezeMs: number;

  constructor(
    private readonly options: ClusterOptions,
    private readonly logger: Logger,
  ) {
    this.ring = new HashRing({ vnodes: options.vnodes });
    // At least a second: shorter pauses happen without a freeze (a long collection on a busy machine).
    this.freezeMs = Math.max(1000, options.membership.suspicionTimeoutMs);
    // A node started without seeds is the cluster: what its store holds is the cluster's. One that joins holds
    // nothing of the cluster's yet.
    this.seeded = options.seeds.some((seed) => seed !== options.selfId);
    this.freshStore = this.seeded;
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
    // Store versions carry this member's tag, so two members' equal versions still order the same everywhere.
    options.store.versions.retag(hash32(options.selfId));
    this.movement = new DataMovement(
      {
        selfId: options.selfId,
        ring: this.ring,
        replicas: this.replicas,
        reachable: (id) => this.isReachable(id),
        leaving: () => this.membership.table.others('leaving').map((member) => member.id),
      },
      options.store,
      this.peers,
      logger,
      options.movement,
      {
        unanswered: (id) => this.membership.probeNow(id),
        // Long enough for membership to declare a dead replica dead (a probe, the indirect ones, the suspicion).
        holdMs: 2 * options.membership.suspicionTimeoutMs + 4 * options.membership.probeTimeoutMs + options.membership.probeIntervalMs,
      },
    );
    this.membership.table.onChange((member, previous) => {
      // The updates of one message (a join's whole member table) make one ring change, so data movement sees
      // the ring before and after all of them, not each step between.
      if (!this.ringRebuildQueued) {
        this.ringRebuildQueued = true;
        queueMicrotask(() => this.rebuildRing());
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
    if (this.wokeFromFreeze()) this.resync('its process was stopped longer than the cluster takes to declare it dead');
    return this.quorum && !this.rejoining;
  }

  /**
   * True once when the event loop has not turned for longer than the cluster needs to declare this node dead
   * (SIGSTOP, a debugger, a swapped-out VM): the requests read in the first turn after it wakes are checked
   * here, before any timer could notice. Its view may be old and its copies may miss acknowledged writes.
   */
  private wokeFromFreeze(): boolean {
    const now = performance.now();
    const frozen = now - this.lastTick > this.freezeMs;
    this.lastTick = now;
    return frozen;
  }

  /** After a freeze: serves no key until a full sync with every member has aligned this node's view. */
  private resync(why: string): void {
    if (this.rejoining) return;
    this.staleGuard.resyncsAfterFreeze++;
    this.logger.warn(`refusing key requests until it has synced with every member: ${why}`);
    this.syncBeforeServing();
  }

  /** Serves nothing until a full sync with every member has aligned this node's view (no stale comebacks). */
  private syncBeforeServing(): void {
    if (this.rejoining) return;
    this.rejoining = true;
    void this.membership.syncWithAll().finally(() => {
      this.rejoining = false;
    });
  }

  /**
   * True until the join through the seeds has met every member they named: the ring is partial meanwhile, so
   * clients' key requests are refused and TOPOLOGY says `joining` (a client must not route by that ring).
   */
  get joining(): boolean {
    return this.seeded && !this.membership.hasJoined;
  }

  private checkQuorum(): void {
    const state = this.membership.table.self.state;
    if (state === 'left' || state === 'leaving') return; // owns no keys any more
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

  private rebuildRing(): void {
    this.ringRebuildQueued = false;
    const before = this.ring.nodes;
    if (!this.ring.setNodes(this.membership.table.ownerIds())) return;
    this.logger.info(`ring epoch ${this.ring.epoch}: ${this.ring.size} owners, checksum ${this.ring.checksum.toString(16)}`);
    for (const listener of this.epochListeners) listener(this.ring.epoch);
    this.moveData(before);
  }

  /** Copies of each key: the owner and the next distinct members in ring order hold it. */
  get replicas(): number {
    return this.options.replicas ?? 1;
  }

  isSuspect(id: string): boolean {
    return this.membership.table.get(id)?.state === 'suspect';
  }

  private isReachable(id: string): boolean {
    const state = this.membership.table.get(id)?.state;
    return state === 'alive' || state === 'suspect' || state === 'leaving';
  }

  /**
   * The ring changed from the owners `before`: data moves (transfer/data-movement.ts). A node whose store holds
   * nothing the cluster gave it takes as "before" the ring without itself: what it owns now, others owned.
   */
  private moveData(before: readonly string[]): void {
    const self = this.selfId;
    // Fresh until the pulls started while fresh are over: a joining node learns the members one by one, and
    // each one it learns may own some of its ranges.
    // Fresh until the join is complete and the pulls started while fresh are over: a joining node learns the
    // members one by one, and each one it learns may own some of its ranges.
    if (this.freshStore && this.freshPulling && !this.movement.active && this.membership.hasJoined && !this.rejoining) {
      this.freshStore = false;
    }
    // A leaving node hands over what it holds, whatever it is.
    if (this.membership.table.self.state === 'leaving') this.freshStore = false;
    if (this.freshStore && this.ring.nodes.some((id) => id !== self)) {
      // What this node owns, the others owned without it: the members before and now, less this node (a member
      // leaving now is still a source).
      const others = new Set([...before, ...this.ring.nodes]);
      others.delete(self);
      this.freshPulling = true;
      this.movement.ringChanged(before, [...others]);
      return;
    }
    this.movement.ringChanged(before, null);
  }

  private forgetEverything(why: string): void {
    const items = this.options.store.stats().items;
    this.options.store.flush();
    this.freshStore = true;
    this.freshPulling = false;
    // Warm again like a new member: pull what this node owns from those that owned it meanwhile.
    this.moveData(this.ring.nodes);
    this.staleGuard.flushesOnComeback++;
    this.logger.warn(`emptied the store (${items} items) because ${why}: its values may be older than the cluster's`);
    // Its verdicts from the wrong side of the cut (members it holds dead) would make it serve their keys: it
    // serves nothing until it has exchanged state with every member.
    this.syncBeforeServing();
  }

  get selfId(): string {
    return this.options.selfId;
  }

  onEpoch(listener: (epoch: number) => void): void {
    this.epochListeners.push(listener);
  }

  start(): void {
    this.membership.start(this.options.seeds);
    this.lastTick = performance.now();
    this.ticker = setInterval(() => {
      if (this.wokeFromFreeze()) this.resync('its process was stopped longer than the cluster takes to declare it dead');
    }, FREEZE_TICK_MS);
    this.ticker.unref();
  }

  handleMembership(opcode: number, message: MembershipMessage, senderId: string): Promise<MembershipMessage> {
    return this.membership.handle(opcode, message, senderId);
  }

  handleMovement(opcode: number, senderId: string, key: Buffer, value: Buffer): Promise<{ status: number; value: Buffer }> {
    return this.movement.handle(opcode, senderId, key, value);
  }

  applyReplicas(senderId: string, body: Buffer): { status: number; value: Buffer } {
    return this.movement.applyReplicas(senderId, body);
  }

  topology(): Record<string, unknown> {
    return {
      self: this.selfId,
      vnodes: this.ring.vnodes,
      replicas: this.replicas,
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
      movement: this.movement.stats(),
      owners: this.ring.size,
      epoch: this.ring.epoch,
      checksum: this.ring.checksum,
      ...this.membership.counters,
    };
  }

  /**
   * The first half of a graceful leave: announces `leaving` (peers take this node out of their rings and pull
   * its ranges from it) and waits until every member that gained ranges has confirmed it holds them, or
   * `timeoutMs` passed. Requests keep being served (forwarded to the new owners) meanwhile. True when complete.
   */
  async handOff(timeoutMs: number): Promise<boolean> {
    if (timeoutMs <= 0 || this.membership.table.others('alive', 'suspect').length === 0) return false;
    await this.membership.announceLeaving();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const complete = await Promise.race([this.movement.handedOff().then(() => true), expired]);
    clearTimeout(timer);
    if (complete) this.logger.info('handoff complete: every member that gained ranges from this node holds them');
    else
      this.logger.warn(
        `handoff not complete after ${timeoutMs} ms (waiting for ${this.movement.stats().awaitingConfirmation}); leaving anyway`,
      );
    return complete;
  }

  /** Announces `left` (peers drop this node from their rings at once) and stops probing. */
  async leave(): Promise<void> {
    await this.membership.leave();
  }

  async close(): Promise<void> {
    if (this.ticker) clearInterval(this.ticker);
    this.movement.close();
    this.membership.stop();
    await this.peers.close();
  }
}
