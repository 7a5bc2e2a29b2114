/**
 * The member table: this node's view of the cluster. Applies updates by the SWIM precedence rules, refutes
 * rumours about itself, and tells listeners when the set of key owners may have changed.
 */
import { nextIncarnation, ownsKeys, supersedes, type Member, type MemberState, type MemberUpdate } from './member';

export type MemberChangeListener = (member: Member, previous: Member | undefined) => void;

/** What applying an update did. */
export type ApplyResult = 'changed' | 'ignored' | 'refuted';

export class MemberTable {
  private readonly members = new Map<string, Member>();
  private readonly listeners: MemberChangeListener[] = [];
  private readonly declaredDeadListeners: Array<() => void> = [];
  private leaving = false;
  /** This process's first incarnation: deaths at older ones are a previous life's. */
  private readonly startIncarnation: number;
  /** The highest incarnation at which news of this node's death was already acted on. */
  private deathHandledAt = -1;

  constructor(
    readonly selfId: string,
    incarnation: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.members.set(selfId, { id: selfId, state: 'alive', incarnation, changedAt: clock() });
    this.startIncarnation = incarnation;
  }

  get self(): Member {
    return this.members.get(this.selfId)!;
  }

  get size(): number {
    return this.members.size;
  }

  get(id: string): Member | undefined {
    return this.members.get(id);
  }

  all(): Member[] {
    return [...this.members.values()];
  }

  /** Other members in these states. */
  others(...states: MemberState[]): Member[] {
    return this.all().filter((member) => member.id !== this.selfId && (states.length === 0 || states.includes(member.state)));
  }

  /** Ids of the members that own keys: alive and suspect ones (this node too, unless it is leaving). */
  ownerIds(): string[] {
    return this.all()
      .filter((member) => ownsKeys(member.state))
      .map((member) => member.id);
  }

  onChange(listener: MemberChangeListener): void {
    this.listeners.push(listener);
  }

  /**
   * Called when this node learns the cluster declared it dead (or left) at its current incarnation: its key
   * ranges went to other members meanwhile, so what it holds may be older than what they acknowledged.
   */
  onDeclaredDead(listener: () => void): void {
    this.declaredDeadListeners.push(listener);
  }

  /** Members that count for a quorum: every known member that has not left and is not leaving. */
  get votingMembers(): number {
    let count = 0;
    for (const member of this.members.values()) if (member.state !== 'left' && member.state !== 'leaving') count++;
    return count;
  }

  /**
   * True while this node sees a strict majority of the non-left members as alive (itself included; suspects do
   * not count). A node on the small side of a cut loses it as soon as it suspects the others, so it neither
   * serves keys nor declares the majority dead.
   */
  hasQuorum(): boolean {
    let alive = 0;
    for (const member of this.members.values()) if (member.state === 'alive') alive++;
    return alive * 2 > this.votingMembers;
  }

  /**
   * Applies news from a peer. News about this node that says it is suspect or dead is refuted by raising
   * its incarnation (the caller then spreads the new alive state); news that it left is ignored unless it is
   * leaving.
   */
  apply(update: MemberUpdate): ApplyResult {
    if (update.id === this.selfId) return this.applyAboutSelf(update);
    const current = this.members.get(update.id);
    if (!supersedes(update, current)) return 'ignored';
    if (current && current.state === update.state && current.incarnation === update.incarnation) return 'ignored';
    this.set({ ...update, changedAt: this.clock() }, current);
    return 'changed';
  }

  /**
   * Takes a peer's word that a member is alive over this node's own verdict that it is dead or suspect at the
   * same incarnation. Used only right after this node learnt it had been declared dead itself: it was the one
   * cut off, so its verdicts about the others are the ones to drop (otherwise it would spread them after the
   * heal and get healthy members declared dead).
   */
  acceptAlive(update: MemberUpdate): boolean {
    if (update.id === this.selfId || update.state !== 'alive') return false;
    const current = this.members.get(update.id);
    if (!current || current.state === 'alive' || current.state === 'left' || update.incarnation < current.incarnation) return false;
    this.set({ ...update, changedAt: this.clock() }, current);
    return true;
  }

  /** True when news about this node says it was declared dead in this process's life. */
  isDeathNews(update: MemberUpdate): boolean {
    return (
      update.id === this.selfId &&
      (update.state === 'dead' || update.state === 'left') &&
      update.incarnation >= this.startIncarnation &&
      !this.leaving
    );
  }

  /** Local verdicts of the failure detector: same rules as news from a peer, at the member's incarnation. */
  markSuspect(id: string): boolean {
    const current = this.members.get(id);
    if (!current || id === this.selfId) return false;
    return this.apply({ id, state: 'suspect', incarnation: current.incarnation, suspectedBy: this.selfId }) === 'changed';
  }

  markDead(id: string): boolean {
    const current = this.members.get(id);
    if (!current || id === this.selfId) return false;
    return this.apply({ id, state: 'dead', incarnation: current.incarnation }) === 'changed';
  }

  /** This node starts a graceful leave: it owns no keys from now on, but answers while it hands them over. */
  markSelfLeaving(): Member {
    this.leaving = true;
    const self = this.self;
    if (self.state !== 'leaving') this.set({ ...self, state: 'leaving', changedAt: this.clock() }, self);
    return this.self;
  }

  /** This node leaves gracefully: its state becomes left at its current incarnation. */
  markSelfLeft(): Member {
    this.leaving = true;
    const self = this.self;
    this.set({ ...self, state: 'left', changedAt: this.clock() }, self);
    return this.self;
  }

  /** Drops dead and left members whose last change is older than `ageMs`. */
  forget(ageMs: number): string[] {
    const now = this.clock();
    const gone: string[] = [];
    for (const member of this.members.values()) {
      if (member.id !== this.selfId && (member.state === 'dead' || member.state === 'left') && now - member.changedAt > ageMs) {
        this.members.delete(member.id);
        gone.push(member.id);
      }
    }
    return gone;
  }

  /** Updates changed within the last `windowMs`, newest first: what a message piggybacks. */
  recentChanges(windowMs: number, limit: number): MemberUpdate[] {
    const since = this.clock() - windowMs;
    return this.all()
      .filter((member) => member.changedAt >= since)
      .sort((a, b) => b.changedAt - a.changedAt)
      .slice(0, limit)
      .map(toUpdate);
  }

  /** The whole table as updates: what a full sync sends. */
  snapshot(): MemberUpdate[] {
    return this.all().map(toUpdate);
  }

  private applyAboutSelf(update: MemberUpdate): ApplyResult {
    const self = this.self;
    if (this.leaving) return 'ignored';
    // News that this process was declared dead counts even when a refute already moved past it (a suspicion
    // heard first): the cluster gave this node's ranges away meanwhile.
    if (
      (update.state === 'dead' || update.state === 'left') &&
      update.incarnation >= this.startIncarnation &&
      update.incarnation > this.deathHandledAt
    ) {
      this.deathHandledAt = update.incarnation;
      for (const listener of this.declaredDeadListeners) listener();
    }
    if (update.state === 'alive') {
      if (update.incarnation <= self.incarnation) return 'ignored';
      // Someone holds a newer alive incarnation of us (clock skew across a restart): move past it.
    } else if (update.incarnation < self.incarnation) {
      return 'ignored';
    }
    const incarnation = nextIncarnation(self.incarnation, update.incarnation, this.clock());
    this.set({ id: self.id, state: 'alive', incarnation, changedAt: this.clock() }, self);
    return 'refuted';
  }

  private set(member: Member, previous: Member | undefined): void {
    this.members.set(member.id, member);
    for (const listener of this.listeners) listener(member, previous);
  }
}

function toUpdate(member: Member): MemberUpdate {
  const update = { id: member.id, state: member.state, incarnation: member.incarnation };
  return member.state === 'suspect' && member.suspectedBy !== undefined ? { ...update, suspectedBy: member.suspectedBy } : update;
}
