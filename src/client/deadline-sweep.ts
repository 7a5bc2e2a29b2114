/**
 * Request timeouts without a timer per request: one interval per connection, running only while requests are
 * in flight, expires them from the oldest and stops at the first that has time left. Every request of a
 * connection has the same timeout, so send order (the PendingTable's list) is deadline order.
 */
import type { Pending, PendingTable } from './pending';

/** The sweep runs every timeoutMs / 4, at most this far apart, so a timeout fires at most this late. */
const MAX_SWEEP_INTERVAL_MS = 50;

export class DeadlineSweep {
  private readonly intervalMs: number;
  /** The oldest request unanswered for longer than this makes the connection stalled. */
  private readonly stallMs: number;
  /**
   * A request in flight waited over a quarter of the timeout, and nothing was answered since (the connection
   * clears it on an answer): the node answers nothing. A smart client then reads keys with replicas from a
   * replica (docs/ARCHITECTURE.md, "Replicas").
   */
  stalled = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly sweepFn = (): void => this.sweep();

  constructor(
    private readonly table: PendingTable,
    timeoutMs: number,
    /** Called with each request past its deadline, already taken out of the table. */
    private readonly expire: (p: Pending) => void,
  ) {
    this.intervalMs = Math.max(1, Math.min(MAX_SWEEP_INTERVAL_MS, Math.floor(timeoutMs / 4)));
    this.timeoutMs = timeoutMs;
    this.stallMs = Math.max(2 * this.intervalMs, timeoutMs / 4);
  }

  private readonly timeoutMs: number;

  /** Starts the interval unless it runs (once per request: a null check). */
  arm(): void {
    if (this.timer === null) {
      this.timer = setInterval(this.sweepFn, this.intervalMs);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private sweep(): void {
    const table = this.table;
    if (table.size === 0) {
      this.stop();
      return;
    }
    const now = performance.now();
    for (let p = table.head; p !== null && p.deadline <= now; p = table.head) {
      table.take(p.id);
      this.expire(p);
    }
    // Cleared only by an answer (the connection's), so that requests timing out do not clear it.
    const oldest = table.head;
    if (oldest !== null && now - (oldest.deadline - this.timeoutMs) > this.stallMs) this.stalled = true;
  }
}
