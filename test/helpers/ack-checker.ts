/**
 * Records what a load was told about its writes, and checks what reads back afterwards. Each key has one writer
 * at a time, so its last acknowledged value is well defined. A write that failed may or may not have been
 * applied: its value stays possible until a later write of the key is acknowledged. With one copy of each key
 * (README, "Running a node and a cluster") a write acknowledged by a member that then left may be gone, so the
 * load says which acknowledged writes could have been served by the member that leaves (`mayBeLost`); a read of
 * such a key may miss, but never returns an older value. Readers that run beside the writers judge a read by the
 * writes acknowledged when it started (readStart, problemSince): a write in flight meanwhile may show already.
 */
export interface Failure {
  code: string;
  message: string;
}

interface KeyState {
  /** The last acknowledged value (undefined: none yet). */
  acked: string | undefined;
  /** The last acknowledged value may have been served by a member that left since. */
  mayBeLost: boolean;
  /** Values of failed writes since the last acknowledged one: each may or may not have been applied. */
  unsure: string[];
  /** Every value written, in the order the writes were issued (one writer per key: one write at a time). */
  history: string[];
  /** Index in history of the last acknowledged value (−1: none). */
  lastAcked: number;
}

export class AckChecker {
  readonly failures: Failure[] = [];
  acknowledgedCount = 0;
  private readonly keys = new Map<string, KeyState>();

  private state(key: string): KeyState {
    let state = this.keys.get(key);
    if (state === undefined) {
      state = { acked: undefined, mayBeLost: false, unsure: [], history: [], lastAcked: -1 };
      this.keys.set(key, state);
    }
    return state;
  }

  acknowledged(key: string, value: string, mayBeLost: boolean): void {
    const state = this.state(key);
    state.acked = value;
    state.mayBeLost = mayBeLost;
    state.unsure = [];
    if (state.history[state.history.length - 1] !== value) state.history.push(value);
    state.lastAcked = state.history.length - 1;
    this.acknowledgedCount++;
  }

  /** A write of `value` is about to be sent: a read that overlaps it may return it. */
  writing(key: string, value: string): void {
    this.state(key).history.push(value);
  }

  /** Taken when a read starts: what it may return is judged against the writes acknowledged by then. */
  readStart(key: string): number {
    return this.keys.get(key)?.lastAcked ?? -1;
  }

  /**
   * What is wrong with a read that started at `token` (readStart) returning `value` (null: nothing): it may
   * return the value last acknowledged when it started or any value written after that one (acknowledged, failed
   * or still in flight: a write concurrent with the read). A miss is wrong once a value had been acknowledged.
   */
  problemSince(key: string, value: Buffer | null, token: number): string | null {
    const state = this.keys.get(key);
    if (state === undefined) return null;
    const read = value === null ? null : value.toString();
    if (read === null) return token < 0 || state.mayBeLost ? null : `${key}: missing, acknowledged ${state.history[token]}`;
    if (state.history.indexOf(read, Math.max(0, token)) >= 0) return null;
    return `${key}: read ${read}, acknowledged ${token < 0 ? '(none)' : state.history[token]} when the read started`;
  }

  failed(key: string, value: string, error: unknown): void {
    const state = this.state(key);
    state.unsure.push(value);
    if (state.history[state.history.length - 1] !== value) state.history.push(value);
    const e = error as { code?: unknown; message?: unknown };
    this.failures.push({ code: typeof e.code === 'string' ? e.code : 'none', message: String(e.message ?? error) });
  }

  /** Failures counted by code, e.g. { ERR_TIMEOUT: 2 }. */
  failureCodes(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const failure of this.failures) counts[failure.code] = (counts[failure.code] ?? 0) + 1;
    return counts;
  }

  /** Every key written so far. */
  writtenKeys(): string[] {
    return [...this.keys.keys()];
  }

  /** What is wrong with reading `value` for key now (null: nothing). */
  problem(key: string, value: Buffer | null): string | null {
    const state = this.keys.get(key);
    if (state === undefined) return null;
    const read = value === null ? null : value.toString();
    if (read !== null && (read === state.acked || state.unsure.includes(read))) return null;
    if (read === null && (state.acked === undefined || state.mayBeLost)) return null;
    const possible = [state.acked ?? '(missing)', ...state.unsure].join(' | ');
    return `${key}: read ${read ?? '(missing)'}, acknowledged ${possible}${state.mayBeLost ? ' (or missing)' : ''}`;
  }
}
