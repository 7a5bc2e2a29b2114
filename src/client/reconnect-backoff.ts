/**
 * When a connection tries again after failed attempts: 50 ms doubling per failure up to 2 s by default, half
 * of it fixed and half random, so the clients of a node that restarts do not all come back in the same
 * millisecond.
 */
export class ReconnectBackoff {
  /** Failed attempts in a row. */
  failures = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly baseMs = 50,
    private readonly maxMs = 2000,
  ) {}

  /** Calls `retry` once the delay for the current failure count has passed; returns that delay. */
  schedule(retry: () => void): number {
    const base = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.failures - 1, 30));
    const delay = base / 2 + Math.random() * (base / 2);
    this.timer = setTimeout(() => {
      this.timer = null;
      retry();
    }, delay);
    return delay;
  }

  /** Forgets a scheduled retry. */
  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
