/**
 * The load and its checker: keys get versioned values ("v<n>"); every acknowledged write raises the key's
 * acknowledged version. A read is stale when it returns a version older than the latest one acknowledged
 * before the read was sent. A miss is allowed during a fault (it is a cache), and in the final reads too unless
 * they are exact: after a fault that moves data instead of losing it (a rolling restart), a miss is a lost write.
 */
import type { Client } from '../../src/client/client';

export class LoadChecker {
  acknowledged = 0;
  reads = 0;
  staleReads = 0;
  failedOnHealthyOwners = 0;
  failedOnVictim = 0;
  /** Of those, reads (the rest are writes). */
  failedReadsOnVictim = 0;
  /** Keys whose final read missed although a write had been acknowledged (exact final reads only). */
  lostWrites = 0;
  private readonly acked: number[];
  private version = 0;
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly client: Client,
    private readonly keyCount: number,
    private readonly ownedByVictim: (key: string) => boolean,
    /** Every case writes the same keys: a value left from an earlier case must not come back either. */
    private readonly prefix = 'shared',
  ) {
    this.acked = new Array<number>(keyCount).fill(0);
  }

  private key(i: number): string {
    return `fault:${this.prefix}:${i}`;
  }

  async warmUp(): Promise<void> {
    await this.client.members();
  }

  start(): void {
    this.running = true;
    const deadline = Date.now() + 120_000;
    this.loop = (async () => {
      while (this.running && Date.now() < deadline) {
        await Promise.all(Array.from({ length: this.keyCount }, (_, i) => this.writeThenRead(i)));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** Reads every key once more after the fault: each must be fresh, and with `exact`, present. */
  async verifyAll(exact = false): Promise<void> {
    await Promise.all(Array.from({ length: this.keyCount }, (_, i) => this.read(i, exact)));
  }

  private async writeThenRead(i: number): Promise<void> {
    const key = this.key(i);
    const version = ++this.version;
    try {
      await this.client.set(key, `v${version}`);
      if (version > this.acked[i]!) this.acked[i] = version;
      this.acknowledged++;
    } catch {
      this.countFailure(key);
      return;
    }
    await this.read(i);
  }

  private async read(i: number, exact = false): Promise<void> {
    const key = this.key(i);
    const floor = this.acked[i]!;
    try {
      const value = await this.client.get(key);
      this.reads++;
      if (exact && value === null && floor > 0) {
        this.lostWrites++;
        if (this.lostWrites <= 3 && process.env['DCACHE_FAULTS_DEBUG']) console.log(`lost: ${key} missing after v${floor}`);
      }
      if (value !== null && Number(value.toString().slice(1)) < floor) {
        this.staleReads++;
        if (this.staleReads <= 3 && process.env['DCACHE_FAULTS_DEBUG'])
          console.log(`stale: ${key} read ${value.toString()} after v${floor} was acknowledged`);
      }
    } catch {
      this.countFailure(key, true);
    }
  }

  private countFailure(key: string, read = false): void {
    if (!this.ownedByVictim(key)) {
      this.failedOnHealthyOwners++;
      return;
    }
    this.failedOnVictim++;
    if (read) this.failedReadsOnVictim++;
  }
}
