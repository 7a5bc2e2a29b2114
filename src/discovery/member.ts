/**
 * Members and the SWIM precedence rules: which news about a member wins. Pure functions, so every node applies
 * the same rules and the same updates lead to the same table whatever order they arrive in.
 *
 * Incarnations start at the node's start time in ms (ringpop's choice): a node restarted on the same address
 * begins with an incarnation above any rumour of its old death, so it rejoins as alive without a refute.
 */

/**
 * `leaving`: the member is handing its ranges over before it goes (docs/ARCHITECTURE.md, "Data movement"). It
 * owns no keys any more but still answers: the new owners pull from it until it announces `left`.
 */
export type MemberState = 'alive' | 'suspect' | 'leaving' | 'dead' | 'left';

const MEMBER_STATES: readonly MemberState[] = ['alive', 'suspect', 'leaving', 'dead', 'left'];

export interface MemberUpdate {
  /** The member's id: its advertised host:port. */
  readonly id: string;
  readonly state: MemberState;
  readonly incarnation: number;
  /**
   * With state suspect: the member whose own probes failed (Lifeguard's "from"). Relays keep it, so a node can
   * tell an independent confirmation of its suspicion from its own suspicion coming back to it.
   */
  readonly suspectedBy?: string;
}

export interface Member extends MemberUpdate {
  /** When this node last changed its view of the member (local clock, ms). */
  readonly changedAt: number;
}

/** Alive and suspect members own keys; dead and left ones do not. */
export function ownsKeys(state: MemberState): boolean {
  return state === 'alive' || state === 'suspect';
}

/**
 * True when `update` should replace what we know (`current`, undefined when the member is unknown).
 * - alive wins only with a higher incarnation (a refute, or a restart);
 * - suspect wins over alive at the same or a higher incarnation, over suspect only with a higher one;
 * - leaving wins over alive and suspect at the same or a higher incarnation (suspicion does not undo it);
 * - dead wins over alive, suspect and leaving at the same or a higher incarnation;
 * - left wins over everything at the same or a higher incarnation and is never refuted at that incarnation.
 */
export function supersedes(update: MemberUpdate, current: MemberUpdate | undefined): boolean {
  if (current === undefined) return true;
  const newer = update.incarnation > current.incarnation;
  const same = update.incarnation === current.incarnation;
  switch (update.state) {
    case 'alive':
      return newer;
    case 'suspect':
      return newer || (same && current.state === 'alive');
    case 'leaving':
      return newer || (same && (current.state === 'alive' || current.state === 'suspect'));
    case 'dead':
      return newer || (same && (current.state === 'alive' || current.state === 'suspect' || current.state === 'leaving'));
    case 'left':
      return newer || (same && current.state !== 'left');
  }
}

/** An incarnation that beats `accused` and every earlier one of ours: a refute, or a fresh start. */
export function nextIncarnation(current: number, accused: number, now: number): number {
  return Math.max(current, accused) + 1 > now ? Math.max(current, accused) + 1 : now;
}

const STATE_SET = new Set<string>(MEMBER_STATES);
const MAX_ID_LENGTH = 300;

/** Checks an update that came from a peer: anything a peer sends is range-checked before use. */
export function parseMemberUpdate(raw: unknown): MemberUpdate | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const { id, state, incarnation, suspectedBy } = raw as Record<string, unknown>;
  if (!isMemberId(id)) return undefined;
  if (typeof state !== 'string' || !STATE_SET.has(state)) return undefined;
  if (typeof incarnation !== 'number' || !Number.isSafeInteger(incarnation) || incarnation < 0) return undefined;
  if (suspectedBy === undefined || state !== 'suspect') return { id, state: state as MemberState, incarnation };
  if (!isMemberId(suspectedBy)) return undefined;
  return { id, state: 'suspect', incarnation, suspectedBy };
}

function isMemberId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH && /^[^\s]+:\d{1,5}$/.test(id);
}
