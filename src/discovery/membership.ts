/**
 * SWIM-style membership (docs/ARCHITECTURE.md, Decisions, "Membership"): every probe interval, probe one member;
 * no answer within the probe timeout → ask `indirectProbes` other members to probe it; still nothing → suspect;
 * a suspect that does not refute within the suspicion timeout → dead. Changes are pushed to every member at once
 * (clusters here are small) and piggybacked on probes; a periodic full sync with a random member, dead ones
 * included, makes views converge again after a partition heals. A graceful stop is `left`, never refuted.
 *
 * Lifeguard-style care against false positives: the probe timeout grows with this node's own event-loop lag, and
 * a timed-out probe gets its verdict only after pending I/O has been read (setImmediate), so a node whose loop
 * was blocked does not blame a peer whose answer is sitting in its socket. Suspicions, their confirmations and
 * verdicts are suspicions.ts; who enters the table is admission.ts.
 */
import { Opcode } from '../protocol/constants';
import type { Logger } from '../logger';
import { Admissions } from './admission';
import { LoopLagMonitor } from './loop-lag';
import { Suspicions } from './suspicions';
import { MemberTable } from './member-table';
import type { MemberUpdate } from './member';
import type { MembershipMessage } from './messages';

export { MAX_INCARNATION_LEAD_MS } from './admission';

export interface MembershipOptions {
  probeIntervalMs: number;
  probeTimeoutMs: number;
  indirectProbes: number;
  suspicionTimeoutMs: number;
  syncIntervalMs: number;
  /** Dead and left members are forgotten after this long. */
  forgetAfterMs: number;
}

/** Sends one membership message and resolves with the reply; rejects on any failure. */
export interface MembershipTransport {
  send(peerId: string, opcode: number, message: MembershipMessage, timeoutMs: number): Promise<MembershipMessage>;
  /** Drops whatever the transport keeps for a peer that turned out not to be a member. */
  forget?(peerId: string): void;
}

const PIGGYBACK_LIMIT = 16;
const JOIN_TIMEOUT_MS = 1000;
const JOIN_BACKOFF_START_MS = 100;
const JOIN_BACKOFF_MAX_MS = 5000;

export class Membership {
  readonly table: MemberTable;
  private readonly lag = new LoopLagMonitor();
  /** The suspicions this node raised itself and their Lifeguard verdicts (suspicions.ts). */
  private readonly suspicions: Suspicions;
  /** When each member was last heard from (a message or a reply), on this node's clock. */
  private readonly lastHeard = new Map<string, number>();
  private probeOrder: string[] = [];
  private probeTimer: NodeJS.Timeout | undefined;
  private syncTimer: NodeJS.Timeout | undefined;
  private joinTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** False until the join through a seed has admitted every member the seed named (true without seeds). */
  private joined = true;
  private probing = false;
  /** Members probed now on another part's report (probeNow). */
  private readonly probingNow = new Set<string>();
  /** Members another member mentioned, probed before they are let in (admission.ts). */
  private readonly admissions: Admissions;
  /** Counters for STATS and tests. */
  readonly counters = {
    probes: 0,
    /** Probes run at once because a replica did not acknowledge a write (probeNow). */
    probesOnReport: 0,
    probeFailures: 0,
    indirectProbes: 0,
    suspicions: 0,
    confirmations: 0,
    verdictsDeferred: 0,
    deaths: 0,
    refutes: 0,
    syncs: 0,
    admissions: 0,
    admissionFailures: 0,
    futureIncarnationsRefused: 0,
    hearsayIgnored: 0,
  };

  constructor(
    readonly selfId: string,
    readonly options: MembershipOptions,
    private readonly transport: MembershipTransport,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
    incarnation: number = clock(),
  ) {
    this.table = new MemberTable(selfId, incarnation, clock);
    this.admissions = new Admissions(
      {
        probe: (id) => this.request(id, Opcode.PROBE, this.reply(this.piggyback(id)), this.options.probeTimeoutMs * 4),
        admit: (id, reply) => this.applyAll(reply.updates, id),
        isMember: (id) => this.table.get(id) !== undefined,
        forget: (id) => this.transport.forget?.(id),
        stopped: () => this.stopped,
      },
      this.counters,
      logger,
      clock,
    );
    this.suspicions = new Suspicions(
      {
        selfId,
        table: this.table,
        suspicionTimeoutMs: options.suspicionTimeoutMs,
        lagMs: () => this.lag.lagMs,
        lastHeard: (id) => this.lastHeard.get(id),
        broadcast: (updates) => void this.broadcast(updates),
        stopped: () => this.stopped,
      },
      this.counters,
      clock,
    );
    this.table.onChange((member, previous) => {
      this.suspicions.memberChanged(member);
      if (member.id !== selfId && member.state !== previous?.state) {
        this.logger.info(`member ${member.id} is ${member.state} (incarnation ${member.incarnation})`);
      }
    });
  }

  /** Starts probing and syncing, and joins through the seeds in the background (retrying with backoff). */
  start(seeds: readonly string[]): void {
    this.lag.start();
    this.probeTimer = setInterval(() => void this.probeNext(), this.options.probeIntervalMs).unref();
    this.syncTimer = setInterval(() => void this.syncWithRandomMember(), this.options.syncIntervalMs).unref();
    const others = seeds.filter((seed) => seed !== this.selfId);
    if (others.length > 0) {
      this.joined = false;
      void this.join(others, JOIN_BACKOFF_START_MS);
    }
  }

  /**
   * Announces `leaving` to every member: they take this node out of their rings and pull its ranges from it,
   * while it keeps answering (waits at most a probe timeout for their acks).
   */
  async announceLeaving(): Promise<void> {
    const self = this.table.markSelfLeaving();
    await this.broadcast([self], this.options.probeTimeoutMs * 2);
  }

  /** True once the join through a seed has admitted every member the seed named (at once without seeds). */
  get hasJoined(): boolean {
    return this.joined;
  }

  /** Announces `left` to every member (waiting at most a probe timeout for their acks) and stops. */
  async leave(): Promise<void> {
    const self = this.table.markSelfLeft();
    await this.broadcast([self], this.options.probeTimeoutMs * 2);
    this.stop();
  }

  stop(): void {
    this.stopped = true;
    this.lag.stop();
    for (const timer of [this.probeTimer, this.syncTimer, this.joinTimer]) if (timer) clearTimeout(timer);
    this.suspicions.clearAll();
  }

  /**
   * Answers a membership message from a peer. `senderId` is the member the connection proved to be (the
   * member handshake); the caller has refused any message whose `from` is another id.
   */
  async handle(opcode: number, message: MembershipMessage, senderId: string = message.from): Promise<MembershipMessage> {
    if (message.from !== senderId) throw new Error(`a message from ${message.from} on ${senderId}'s connection`);
    const before = this.table.get(senderId);
    const heldDeadAt = before !== undefined && before.state === 'dead' && before.id !== this.selfId ? before.incarnation : -1;
    this.applyAll(message.updates, senderId);
    const reply = await this.answer(opcode, message);
    // A member this node held dead speaks again as alive: it refuted a suspicion (heard first, from messages
    // queued while it was frozen) and may never hear of the death that gave its ranges away. Tell it, so it
    // empties its store before serving them again.
    if (heldDeadAt >= 0 && this.table.get(senderId)?.state === 'alive') {
      reply.updates = [{ id: senderId, state: 'dead', incarnation: heldDeadAt }, ...reply.updates];
    }
    return reply;
  }

  /** Sends to a member and checks that the answer comes in that member's name. */
  private async request(peerId: string, opcode: number, message: MembershipMessage, timeoutMs: number): Promise<MembershipMessage> {
    const reply = await this.transport.send(peerId, opcode, message, timeoutMs);
    if (reply.from !== peerId) throw new Error(`${peerId} answered as ${reply.from}`);
    return reply;
  }

  private async answer(opcode: number, message: MembershipMessage): Promise<MembershipMessage> {
    switch (opcode) {
      case Opcode.PROBE:
        return this.reply(this.piggyback(message.from));
      case Opcode.PROBE_REQ: {
        const target = message.target;
        // Only members this node knows are probed on another's behalf: a member cannot make it dial out at will.
        const known = target !== undefined && target !== this.selfId && this.table.get(target) !== undefined;
        const ack = known ? await this.probe(target) : target === this.selfId;
        return { ...this.reply(this.piggyback(target)), ack };
      }
      case Opcode.JOIN:
      case Opcode.SYNC:
        return this.reply(this.table.snapshot());
      default:
        return this.reply([]);
    }
  }

  private reply(updates: MemberUpdate[]): MembershipMessage {
    return { from: this.selfId, updates };
  }

  /** Recent changes, with this node's own entry and the addressee's (so it can refute at once) in front. */
  private piggyback(about: string | undefined): MemberUpdate[] {
    const updates = this.table.recentChanges(Math.max(5000, this.options.suspicionTimeoutMs * 3), PIGGYBACK_LIMIT);
    const self = this.table.self;
    const addressee = about === undefined ? undefined : this.table.get(about);
    const front: MemberUpdate[] = [{ id: self.id, state: self.state, incarnation: self.incarnation }];
    if (addressee && addressee.id !== self.id) front.push({ id: addressee.id, state: addressee.state, incarnation: addressee.incarnation });
    return [...front, ...updates.filter((update) => update.id !== self.id && update.id !== about)];
  }

  /**
   * Applies a peer's updates. `from` is always a member this node reached: the sender of a message on a
   * connection that completed the member handshake, or the member whose reply this is. Guards:
   * - a member speaks for itself first: news about members this node never reached does not add them; an
   *   alive or suspect one is probed and added only once it answers (admitLater), so made-up members never
   *   enter the table or count toward the majority;
   * - incarnations further ahead of this node's clock than MAX_INCARNATION_LEAD_MS are refused;
   * - news about this node (its death, which empties the store) counts only from a member it already knew;
   * - a sender this node holds dead may speak for itself (a refute, a restart) but not about others: its view
   *   of them is the view from the wrong side of the cut;
   * - news that this node itself had been declared dead means it was the one cut off: the sender's word that
   *   a member is alive then replaces this node's own dead or suspect verdicts.
   */
  private applyAll(updates: readonly MemberUpdate[], from?: string): void {
    const table = this.table;
    const now = this.clock();
    if (from !== undefined) this.lastHeard.set(from, now);
    const sender = from === undefined ? undefined : table.get(from);
    const senderKnown = sender !== undefined;
    const senderDead = sender !== undefined && (sender.state === 'dead' || sender.state === 'left');
    const usable = updates.filter((update) => this.admissions.plausible(update, now));
    const wasCutOff = senderKnown && usable.some((update) => table.isDeathNews(update));
    let refuted = false;
    for (const update of usable) {
      if (senderDead && update.id !== from && update.id !== this.selfId) continue;
      if (update.id === this.selfId) {
        if (!senderKnown) {
          this.counters.hearsayIgnored++;
          continue;
        }
      } else if (update.id !== from && table.get(update.id) === undefined) {
        if (update.state === 'alive' || update.state === 'suspect') void this.admissions.admit(update.id);
        continue;
      }
      if (wasCutOff && table.acceptAlive(update)) continue;
      // A peer that predates suspectedBy: the sender is the best guess at who suspected.
      const news =
        update.state === 'suspect' && update.suspectedBy === undefined && from !== undefined ? { ...update, suspectedBy: from } : update;
      if (table.apply(news) === 'refuted') refuted = true;
      if (news.state === 'suspect') this.suspicions.confirm(news);
    }
    if (refuted) {
      this.counters.refutes++;
      const self = this.table.self;
      this.logger.info(`refuting a rumour about this node: now alive at incarnation ${self.incarnation}`);
      void this.broadcast([self]);
    }
  }

  private async join(seeds: string[], backoffMs: number): Promise<void> {
    for (const seed of seeds) {
      if (this.stopped) return;
      try {
        const reply = await this.request(seed, Opcode.JOIN, this.reply([this.table.self]), JOIN_TIMEOUT_MS);
        this.applyAll(reply.updates, reply.from);
        // The members the seed named are probed before they count: wait for those probes, so the ring this
        // node serves with is the cluster's and not just the seed's.
        await this.admissions.settled();
        this.joined = true;
        this.logger.info(`joined the cluster through ${seed}: ${this.table.size} members`);
        await this.broadcast([this.table.self]);
        return;
      } catch (error) {
        this.logger.debug(`seed ${seed} did not answer: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (this.stopped) return;
    this.logger.warn(`no seed answered (${seeds.join(', ')}); retrying in ${backoffMs} ms`);
    this.joinTimer = setTimeout(() => void this.join(seeds, Math.min(backoffMs * 2, JOIN_BACKOFF_MAX_MS)), backoffMs).unref();
  }

  /** One probe round: the next member in a shuffled order, as SWIM does, so each is probed within N rounds. */
  private async probeNext(): Promise<void> {
    if (this.stopped || this.probing) return;
    const target = this.nextProbeTarget();
    if (target === undefined) return;
    this.probing = true;
    try {
      this.counters.probes++;
      if (await this.probe(target)) return;
      this.counters.probeFailures++;
      if (await this.probeIndirectly(target)) return;
      this.suspicions.raise(target);
    } finally {
      this.probing = false;
    }
  }

  /**
   * Another part of the node could not reach `target` (a replica that did not acknowledge a write): probe it
   * now, directly then through others, and suspect it if neither reaches it, as a failed probe round would.
   * One such probe per member at a time; members not alive or suspect are left to the usual rounds.
   */
  probeNow(target: string): void {
    const state = this.table.get(target)?.state;
    if (this.stopped || this.probingNow.has(target) || (state !== 'alive' && state !== 'suspect')) return;
    this.probingNow.add(target);
    this.counters.probesOnReport++;
    void (async () => {
      try {
        if ((await this.probe(target)) || (await this.probeIndirectly(target))) return;
        this.suspicions.raise(target);
      } finally {
        this.probingNow.delete(target);
      }
    })();
  }

  private nextProbeTarget(): string | undefined {
    for (;;) {
      if (this.probeOrder.length === 0) {
        this.probeOrder = shuffle(this.table.others('alive', 'suspect', 'leaving').map((member) => member.id));
        if (this.probeOrder.length === 0) return undefined;
      }
      const id = this.probeOrder.pop()!;
      const member = this.table.get(id);
      if (member && (member.state === 'alive' || member.state === 'suspect' || member.state === 'leaving')) return id;
    }
  }

  /** A direct probe: true when the target answered within the (lag-widened) probe timeout. */
  private probe(target: string): Promise<boolean> {
    const timeoutMs = this.options.probeTimeoutMs + this.lag.lagMs;
    return new Promise((resolve) => {
      let settled = false;
      const settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(ok);
      };
      // The verdict waits one more turn so that an answer already in the socket is read first.
      const timer = setTimeout(() => setImmediate(() => settle(false)), timeoutMs);
      this.request(target, Opcode.PROBE, this.reply(this.piggyback(target)), timeoutMs * 4).then(
        (reply) => {
          this.applyAll(reply.updates, reply.from);
          settle(true);
        },
        () => settle(false),
      );
    });
  }

  /** Asks up to `indirectProbes` other members to probe the target; true when any of them reached it. */
  private async probeIndirectly(target: string): Promise<boolean> {
    const helpers = shuffle(
      this.table
        .others('alive')
        .map((member) => member.id)
        .filter((id) => id !== target),
    ).slice(0, this.options.indirectProbes);
    if (helpers.length === 0) return false;
    this.counters.indirectProbes += helpers.length;
    const timeoutMs = 2 * (this.options.probeTimeoutMs + this.lag.lagMs);
    const message: MembershipMessage = { ...this.reply(this.piggyback(target)), target };
    const answers = await Promise.all(
      helpers.map((helper) =>
        this.request(helper, Opcode.PROBE_REQ, message, timeoutMs).then(
          (reply) => {
            this.applyAll(reply.updates, reply.from);
            return reply.ack === true;
          },
          () => false,
        ),
      ),
    );
    return answers.some(Boolean);
  }

  /** Lifeguard's suspicion timeout for this many independent confirmations (suspicions.ts). */
  suspicionTimeoutMs(confirmations: number): number {
    return this.suspicions.timeoutMs(confirmations);
  }

  /** Pushes updates to every alive, suspect or leaving member; resolves when all answered or failed. */
  private async broadcast(updates: MemberUpdate[], timeoutMs = this.options.probeTimeoutMs * 4): Promise<void> {
    const targets = this.table.others('alive', 'suspect', 'leaving').map((member) => member.id);
    const message = this.reply([...updates, ...this.piggyback(undefined).filter((u) => !updates.some((v) => v.id === u.id))]);
    await Promise.all(
      targets.map((target) =>
        this.request(target, Opcode.PROBE, message, timeoutMs).then(
          (reply) => this.applyAll(reply.updates, reply.from),
          () => undefined,
        ),
      ),
    );
  }

  /**
   * Full state exchange with every member that has not left, dead ones included: what a node that was cut off
   * does before it serves again, so its view (and ring) matches the majority's instead of its own old verdicts.
   */
  async syncWithAll(): Promise<void> {
    const peers = this.table.others('alive', 'suspect', 'dead');
    await Promise.all(
      peers.map((peer) =>
        this.request(peer.id, Opcode.SYNC, this.reply(this.table.snapshot()), this.options.probeTimeoutMs * 4).then(
          (reply) => this.applyAll(reply.updates, reply.from),
          () => undefined,
        ),
      ),
    );
  }

  /** Full state exchange with one random member, dead ones included, so a healed partition converges. */
  private async syncWithRandomMember(): Promise<void> {
    if (this.stopped) return;
    for (const id of this.table.forget(this.options.forgetAfterMs)) this.lastHeard.delete(id);
    const candidates = this.table.others('alive', 'suspect', 'dead');
    if (candidates.length === 0) return;
    const peer = candidates[Math.floor(Math.random() * candidates.length)]!;
    try {
      const reply = await this.request(peer.id, Opcode.SYNC, this.reply(this.table.snapshot()), this.options.probeTimeoutMs * 4);
      this.counters.syncs++;
      this.applyAll(reply.updates, reply.from);
    } catch {
      // An unreachable peer is the failure detector's business, not the sync's.
    }
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
