/**
 * The suspicions this node raised itself, and their verdicts (Lifeguard, docs/ARCHITECTURE.md, Decisions,
 * "Membership"):
 * - a suspicion nobody else confirms runs SUSPICION_MAX_MULTIPLIER times the suspicion timeout; each member that
 *   independently suspects the same incarnation shortens it, down to the suspicion timeout once the expected
 *   confirmations arrived. A crashed member is suspected by everyone and declared dead fast; a member one peer
 *   cannot reach for a while (packet loss, one slow link) gets time to refute;
 * - a verdict needs a majority heard from since the suspicion began (this node included), so a node cut off
 *   from the others declares nobody dead, even while its table still shows some of them alive.
 */
import type { MemberTable } from './member-table';
import type { Member, MemberUpdate } from './member';

/** An unconfirmed suspicion lasts this many suspicion timeouts (Lifeguard's β; memberlist uses 6). */
const SUSPICION_MAX_MULTIPLIER = 4;
/** Confirmations that bring a suspicion down to the suspicion timeout (Lifeguard's K), fewer in small clusters. */
const MAX_EXPECTED_CONFIRMATIONS = 3;

/** A suspicion this node raised itself: its verdict timer and the members that confirmed it independently. */
interface Suspicion {
  readonly incarnation: number;
  /** When this node suspected (or last found itself without a majority): the verdict needs contact since then. */
  startedAt: number;
  readonly confirmedBy: Set<string>;
  timer: NodeJS.Timeout | undefined;
}

/** What suspicions need from membership. */
export interface SuspicionHost {
  readonly selfId: string;
  readonly table: MemberTable;
  /** The configured suspicion timeout: the shortest a suspicion lasts. */
  readonly suspicionTimeoutMs: number;
  /** This node's own event-loop lag: a verdict waits that much longer. */
  lagMs(): number;
  /** When the member was last heard from (undefined: never). */
  lastHeard(id: string): number | undefined;
  /** Tells every member. */
  broadcast(updates: MemberUpdate[]): void;
  stopped(): boolean;
}

export interface SuspicionCounters {
  suspicions: number;
  confirmations: number;
  verdictsDeferred: number;
  deaths: number;
}

export class Suspicions {
  private readonly open = new Map<string, Suspicion>();

  constructor(
    private readonly host: SuspicionHost,
    private readonly counters: SuspicionCounters,
    private readonly clock: () => number,
  ) {}

  /**
   * This node's own probes (direct and indirect) failed: suspect the target, tell everyone, and start the
   * verdict timer. Telling everyone also when the target was already suspect (news from a peer) is what lets the
   * first suspecter count this node as an independent confirmation.
   */
  raise(target: string): void {
    const { table, selfId } = this.host;
    const member = table.get(target);
    if (member?.state === 'leaving') {
      // A leaving member owns no keys: nothing to protect with a suspicion. Unreachable, its handoff is over.
      if (table.markDead(target)) this.host.broadcast([{ id: target, state: 'dead', incarnation: member.incarnation }]);
      return;
    }
    if (!member || (member.state !== 'alive' && member.state !== 'suspect')) return;
    if (member.state === 'alive') {
      if (!table.markSuspect(target)) return;
      this.counters.suspicions++;
    }
    if (this.open.has(target)) return;
    const current = table.get(target)!;
    const suspicion: Suspicion = { incarnation: current.incarnation, startedAt: this.clock(), confirmedBy: new Set(), timer: undefined };
    if (current.suspectedBy !== undefined && current.suspectedBy !== selfId) suspicion.confirmedBy.add(current.suspectedBy);
    this.open.set(target, suspicion);
    this.scheduleVerdict(target, suspicion);
    this.host.broadcast([{ id: target, state: 'suspect', incarnation: current.incarnation, suspectedBy: selfId }]);
  }

  /** Another member suspects what this node suspects, at the same incarnation: the verdict may come sooner. */
  confirm(update: MemberUpdate): void {
    const suspicion = this.open.get(update.id);
    const by = update.suspectedBy;
    if (!suspicion || update.incarnation !== suspicion.incarnation || by === undefined) return;
    if (by === this.host.selfId || by === update.id || suspicion.confirmedBy.has(by)) return;
    suspicion.confirmedBy.add(by);
    this.counters.confirmations++;
    this.scheduleVerdict(update.id, suspicion);
  }

  /** A member's entry changed: a suspicion of another state or incarnation is over. */
  memberChanged(member: Member): void {
    const suspicion = this.open.get(member.id);
    if (suspicion && (member.state !== 'suspect' || member.incarnation !== suspicion.incarnation)) this.clear(member.id);
  }

  /** Lifeguard's suspicion timeout: from max (no confirmation) down to min (the expected confirmations). */
  timeoutMs(confirmations: number): number {
    const min = this.host.suspicionTimeoutMs;
    const max = min * SUSPICION_MAX_MULTIPLIER;
    // The members that could confirm: everyone alive but this node (the suspect is not alive).
    const expected = Math.min(MAX_EXPECTED_CONFIRMATIONS, this.host.table.others('alive').length);
    if (expected < 1 || confirmations >= expected) return min;
    return Math.max(min, Math.round(max - ((max - min) * Math.log(confirmations + 1)) / Math.log(expected + 1)));
  }

  clearAll(): void {
    for (const suspicion of this.open.values()) clearTimeout(suspicion.timer);
    this.open.clear();
  }

  private clear(id: string): void {
    const suspicion = this.open.get(id);
    if (suspicion) clearTimeout(suspicion.timer);
    this.open.delete(id);
  }

  private scheduleVerdict(target: string, suspicion: Suspicion): void {
    clearTimeout(suspicion.timer);
    const dueAt = suspicion.startedAt + this.timeoutMs(suspicion.confirmedBy.size) + this.host.lagMs();
    suspicion.timer = setTimeout(() => this.verdict(target, suspicion), Math.max(0, dueAt - this.clock()));
    suspicion.timer.unref();
  }

  /**
   * A suspect that has not refuted when the timer fires is declared dead, but only by a node that heard from a
   * majority since it suspected: on the small side of a cut every peer looks dead (and some still look alive in
   * the table, not yet probed), and those verdicts would spread as false deaths once the cut heals. Without a
   * majority the suspicion starts over.
   */
  private verdict(target: string, suspicion: Suspicion): void {
    if (this.open.get(target) !== suspicion || this.host.stopped()) return;
    const table = this.host.table;
    const current = table.get(target);
    if (!current || current.state !== 'suspect' || current.incarnation !== suspicion.incarnation) {
      this.open.delete(target);
      return;
    }
    if (!this.heardFromMajoritySince(suspicion.startedAt)) {
      this.counters.verdictsDeferred++;
      suspicion.startedAt = this.clock();
      this.scheduleVerdict(target, suspicion);
      return;
    }
    this.open.delete(target);
    if (table.markDead(target)) {
      this.counters.deaths++;
      this.host.broadcast([table.get(target)!]);
    }
  }

  /** True when this node and the alive members it heard from since `since` are a majority of the non-left. */
  private heardFromMajoritySince(since: number): boolean {
    let reachable = 1;
    for (const member of this.host.table.others('alive')) if ((this.host.lastHeard(member.id) ?? -Infinity) >= since) reachable++;
    return reachable * 2 > this.host.table.votingMembers;
  }
}
