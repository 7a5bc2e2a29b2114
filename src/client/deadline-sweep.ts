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
  private timer: NodeJS.Timeout | null = null;
  private readonly sweepFn = (): void => this.sweep();

  constructor(
    private readonly table: PendingTable,
    timeoutMs: number,
    /** Called with each request past its deadline, already taken out of the table. */
    private readonly expire: (p: Pending) => void,
  ) {
    this.intervalMs = Math.max(1, Math.min(MAX_SWEEP_INTERVAL_MS, Math.floor(timeoutMs / 4)));
  }

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
  }
}
