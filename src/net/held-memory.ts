/**
 * Node-wide caps on memory held for requests (docs/ARCHITECTURE.md, "Limits"). Per-connection limits bound what
 * one connection holds; these bound the sum over all of them, so 10,000 connections cannot each hold their
 * allowance at once. Both ports (binary and RESP) report into the same two budgets.
 *
 * - Input: bytes held in unfinished frames and commands (bodies being received, input held while paused).
 *   Past the cap, the connections holding the most are closed first until the total is under it again.
 * - Output: bytes queued for clients that have not read them (what sockets hold beyond their own
 *   high-water mark, plus replies held in order behind a pending one). Past the cap, every connection stops
 *   reading until the total is back under it (as Redis stops serving a client over its output buffer limit);
 *   connections that keep holding output without reading (above their high-water mark for a sweep interval
 *   or more) are closed, the largest first, so readers that do read are not held up by those that never do.
 *
 * A holder's bytes are set (not added) on each report, so a stale report is corrected by the next one and a
 * closed connection reports 0.
 */

/** One connection's share of a budget. */
export interface BudgetHolder {
  /** Bytes this holder counts for now (set by the budget only). */
  held: number;
  /** Closes the connection to give its bytes back (counted by the caller); must release the holder. */
  shed(): void;
}

/** An output holder also says since when its output has stayed above its own high-water mark (0: it has not). */
export interface OutputHolder extends BudgetHolder {
  blockedSince(): number;
}

/** How long a connection may hold output above its high-water mark, while the node is over its cap, before it is closed. */
export const OUTPUT_STALL_MS = 100;

export class HeldBytesBudget<H extends BudgetHolder> {
  private total = 0;
  private readonly holders = new Set<H>();
  private readonly waiting = new Set<() => void>();
  private reliefScheduled = false;
  /** Highest total seen (STATS). */
  peak = 0;

  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit <= 0)
      throw new RangeError(`a held-bytes limit must be a positive integer, got ${String(limit)}`);
  }

  get bytes(): number {
    return this.total;
  }

  get over(): boolean {
    return this.total > this.limit;
  }

  /** Sets the holder's bytes. Returns true when the budget is over its limit after the change. */
  report(holder: H, bytes: number): boolean {
    const delta = bytes - holder.held;
    if (delta !== 0) {
      holder.held = bytes;
      this.total += delta;
      if (bytes > 0) this.holders.add(holder);
      else this.holders.delete(holder);
      if (this.total > this.peak) this.peak = this.total;
      if (delta < 0 && this.waiting.size > 0 && this.total <= this.limit) this.scheduleRelief();
    }
    return this.total > this.limit;
  }

  /** The holder is gone (connection closed): its bytes no longer count. */
  release(holder: H): void {
    this.report(holder, 0);
  }

  /** The holder holding the most among those `eligible` accepts, or undefined. */
  largest(eligible: (holder: H) => boolean = () => true): H | undefined {
    let best: H | undefined;
    for (const holder of this.holders) if ((best === undefined || holder.held > best.held) && eligible(holder)) best = holder;
    return best;
  }

  /** Closes holders, the largest first, until the total is within the limit or no eligible holder is left. */
  shed(eligible?: (holder: H) => boolean): number {
    let closed = 0;
    while (this.total > this.limit) {
      const victim = this.largest(eligible);
      if (victim === undefined) break;
      victim.shed();
      if (victim.held > 0) this.release(victim);
      closed++;
      this.shedCount++;
    }
    return closed;
  }

  /** Holders closed by shed() so far (STATS). */
  shedCount = 0;

  /** Runs `resume` once the total is back within the limit (a paused connection waiting for room). */
  whenUnder(resume: () => void): void {
    this.waiting.add(resume);
    if (this.total <= this.limit) this.scheduleRelief();
  }

  private scheduleRelief(): void {
    if (this.reliefScheduled) return;
    this.reliefScheduled = true;
    setImmediate(() => {
      this.reliefScheduled = false;
      if (this.total > this.limit) return;
      const waiting = [...this.waiting];
      this.waiting.clear();
      for (const resume of waiting) resume();
    });
  }

  stats(): { bytes: number; limit: number; peak: number; closed: number } {
    return { bytes: this.total, limit: this.limit, peak: this.peak, closed: this.shedCount };
  }
}

/**
 * The two budgets a node's ports share. Input is shed at once, on the report that crossed the cap. Output is
 * watched while over its cap: every OUTPUT_STALL_MS, the connections that have held output above their own
 * high-water mark at least that long are closed, the largest first.
 */
export class NodeBudgets {
  readonly input: HeldBytesBudget<BudgetHolder>;
  readonly output: HeldBytesBudget<OutputHolder>;
  private watchTimer: NodeJS.Timeout | undefined;

  constructor(
    inputLimitBytes: number,
    outputLimitBytes: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.input = new HeldBytesBudget(inputLimitBytes);
    this.output = new HeldBytesBudget(outputLimitBytes);
  }

  /** A connection's input bytes: past the cap, the largest holders are closed now. */
  reportInput(holder: BudgetHolder, bytes: number): void {
    if (this.input.report(holder, bytes)) this.input.shed();
  }

  /** A connection's queued output bytes: past the cap, stalled holders are watched for and closed. */
  reportOutput(holder: OutputHolder, bytes: number): void {
    if (this.output.report(holder, bytes) && this.watchTimer === undefined) {
      this.watchTimer = setTimeout(() => this.watchOutput(), OUTPUT_STALL_MS).unref();
    }
  }

  private watchOutput(): void {
    this.watchTimer = undefined;
    if (!this.output.over) return;
    const now = this.clock();
    this.output.shed((holder) => {
      const since = holder.blockedSince();
      return since !== 0 && now - since >= OUTPUT_STALL_MS;
    });
    if (this.output.over) this.watchTimer = setTimeout(() => this.watchOutput(), OUTPUT_STALL_MS).unref();
  }

  stop(): void {
    if (this.watchTimer !== undefined) clearTimeout(this.watchTimer);
    this.watchTimer = undefined;
  }

  stats(): Record<string, unknown> {
    return { input: this.input.stats(), output: this.output.stats() };
  }
}
