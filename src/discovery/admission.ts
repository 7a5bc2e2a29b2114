/**
 * Who gets into the member table (docs/ARCHITECTURE.md, "Principals"). A member speaks for itself first: news
 * about a member this node has never reached does not add it. An alive or suspect one is probed, and let in only
 * once it answers in its own name (its reply carries its own entry first); an id nothing answers at is dropped
 * and not probed again for a while. So a flood of made-up members never enters the table, and never counts
 * toward the majority a node needs to serve keys.
 *
 * Incarnations are start times in ms (member.ts): one further ahead of this node's clock than
 * MAX_INCARNATION_LEAD_MS is a lie or a badly wrong clock, refused, counted and logged now and then.
 */
import type { Logger } from '../logger';
import type { MemberUpdate } from './member';
import type { MembershipMessage } from './messages';

/** How far ahead of this node's clock an incarnation may be. A refute raises one by one, so honest ones stay near. */
export const MAX_INCARNATION_LEAD_MS = 10 * 60_000;
/** Members probed for admission at once at most; more wait for a later mention. */
const MAX_PENDING_ADMISSIONS = 32;
/** A member that did not answer its admission probe is not probed again for this long. */
const ADMISSION_RETRY_MS = 5000;
const MAX_REMEMBERED_FAILURES = 1024;
const FUTURE_LOG_INTERVAL_MS = 10_000;

/** What admission needs from membership. */
export interface AdmissionHost {
  /** Probes the id; resolves with its reply in its own name, rejects when it does not answer so. */
  probe(id: string): Promise<MembershipMessage>;
  /** Applies the reply of an admitted member (its own entry adds it). */
  admit(id: string, reply: MembershipMessage): void;
  isMember(id: string): boolean;
  /** Drops whatever the transport keeps for an id that turned out not to be a member. */
  forget(id: string): void;
  stopped(): boolean;
}

export interface AdmissionCounters {
  admissions: number;
  admissionFailures: number;
  futureIncarnationsRefused: number;
}

export class Admissions {
  private readonly pending = new Map<string, Promise<void>>();
  private readonly failed = new Map<string, number>();
  private futureLoggedAt = -Infinity;

  constructor(
    private readonly host: AdmissionHost,
    private readonly counters: AdmissionCounters,
    private readonly logger: Logger,
    private readonly clock: () => number,
  ) {}

  /** False (and counted, and logged now and then) for an incarnation too far ahead of this node's clock. */
  plausible(update: MemberUpdate, now: number): boolean {
    if (update.incarnation <= now + MAX_INCARNATION_LEAD_MS) return true;
    this.counters.futureIncarnationsRefused++;
    if (now - this.futureLoggedAt >= FUTURE_LOG_INTERVAL_MS) {
      this.futureLoggedAt = now;
      this.logger.warn(
        `refused news about ${update.id} (${update.state}) at incarnation ${update.incarnation}: ${update.incarnation - now} ms ahead of this ` +
          `node's clock (the limit is ${MAX_INCARNATION_LEAD_MS} ms); check the members' clocks`,
      );
    }
    return false;
  }

  /** Probes a member this node has not reached yet; resolves once it is in, or was found not to answer. */
  admit(id: string): Promise<void> {
    const under = this.pending.get(id);
    if (under !== undefined) return under;
    const failedAt = this.failed.get(id);
    const host = this.host;
    if (
      host.stopped() ||
      this.pending.size >= MAX_PENDING_ADMISSIONS ||
      (failedAt !== undefined && this.clock() - failedAt < ADMISSION_RETRY_MS)
    ) {
      return Promise.resolve();
    }
    const attempt = host
      .probe(id)
      .then(
        (reply) => {
          this.failed.delete(id);
          this.counters.admissions++;
          host.admit(id, reply);
        },
        () => {
          if (this.failed.size >= MAX_REMEMBERED_FAILURES) this.failed.clear();
          this.failed.set(id, this.clock());
          this.counters.admissionFailures++;
          if (!host.isMember(id)) host.forget(id);
        },
      )
      .finally(() => this.pending.delete(id));
    this.pending.set(id, attempt);
    return attempt;
  }

  /** Resolves once every admission under way has settled. */
  async settled(): Promise<void> {
    await Promise.all([...this.pending.values()]);
  }
}
