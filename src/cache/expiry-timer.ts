/**
 * Active expiry: an unref'd interval (it never keeps a process alive) that removes due items in slices of at
 * most ~1 ms, so the event loop stays responsive with millions of keys. When a slice ends with items still due,
 * the next one runs from setImmediate (after pending I/O), until none are left; the interval does not start a
 * second sweep while one is under way.
 */

const SLICE_MS = 1;
/** Items removed between two looks at the slice's clock (removing one costs well under a microsecond). */
const BATCH = 256;

export class ExpiryTimer {
  private interval: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;

  /**
   * @param expireBatch removes up to n due items, returns how many
   * @param onSweep called after a slice that expired something, with the count
   */
  constructor(
    intervalMs: number,
    private readonly expireBatch: (n: number) => number,
    private readonly onSweep: ((expired: number) => void) | undefined,
  ) {
    if (intervalMs > 0) {
      this.interval = setInterval(this.tick, intervalMs);
      this.interval.unref();
    }
  }

  stop(): void {
    if (this.interval !== null) clearInterval(this.interval);
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.interval = null;
    this.immediate = null;
  }

  private readonly tick = (): void => {
    if (this.immediate === null) this.sweep();
  };

  private readonly sweep = (): void => {
    this.immediate = null;
    if (this.interval === null) return;
    const start = performance.now();
    let total = 0;
    for (;;) {
      const n = this.expireBatch(BATCH);
      total += n;
      if (n < BATCH) break;
      if (performance.now() - start >= SLICE_MS) {
        this.immediate = setImmediate(this.sweep);
        this.immediate.unref();
        break;
      }
    }
    if (total > 0 && this.onSweep !== undefined) this.onSweep(total);
  };
}
