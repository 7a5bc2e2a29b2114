/**
 * Measures this process's own event-loop lag. A node whose loop is busy answers late and also notices
 * answers late; Lifeguard's lesson is that such a node must widen its own timeouts before accusing others.
 */

const SAMPLE_EVERY_MS = 50;
const WINDOW_SAMPLES = 40;

export class LoopLagMonitor {
  private readonly samples = new Float64Array(WINDOW_SAMPLES);
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private expected = 0;

  start(): void {
    if (this.timer) return;
    this.expected = performance.now() + SAMPLE_EVERY_MS;
    this.timer = setInterval(() => {
      const now = performance.now();
      this.samples[this.next] = Math.max(0, now - this.expected);
      this.next = (this.next + 1) % WINDOW_SAMPLES;
      this.expected = now + SAMPLE_EVERY_MS;
    }, SAMPLE_EVERY_MS).unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The largest lag seen over the last ~2 s, in ms. */
  get lagMs(): number {
    let max = 0;
    for (const sample of this.samples) if (sample > max) max = sample;
    return max;
  }
}
