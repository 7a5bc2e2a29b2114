/**
 * A load whose every acknowledged write and every read an AckChecker records (docs/ARCHITECTURE.md, "Replicas"):
 * writers each own the keys i ≡ w (mod writers), so a key's last acknowledged value is exact; readers read any
 * key and judge each read by the writes acknowledged when it started (a write in flight may show already); an
 * INCR storm on one key counts acknowledged increments and those whose outcome is unknown. Every loop is bounded
 * in operations and in time.
 */
import type { Client } from '../../src/client/client';
import type { AckChecker } from './ack-checker';

export interface AckLoadOptions {
  client: Client;
  checker: AckChecker;
  keyOf: (i: number) => string;
  keys: number;
  writers: number;
  readers: number;
  /** Workers incrementing `counterKey` (0: none). */
  incrementers?: number;
  counterKey?: string;
  maxMs?: number;
}

/** Writes `initial` to every key (in MSETs of 500) and records it acknowledged. */
export async function seedKeys(client: Client, checker: AckChecker, keyOf: (i: number) => string, keys: number): Promise<void> {
  for (let start = 0; start < keys; start += 500) {
    const batch = Array.from({ length: Math.min(500, keys - start) }, (_, i) => keyOf(start + i));
    await client.mset(batch.map((key) => [key, 'initial'] as [string, string]));
    for (const key of batch) checker.acknowledged(key, 'initial', false);
  }
}

export class AckLoad {
  /** Every read with when it started, its key and whether it was answered. */
  readonly reads: Array<{ at: number; key: string; ok: boolean }> = [];
  /** Reads that returned a value the writes do not allow (stale or lost). */
  readonly wrong: string[] = [];
  incrAcked = 0;
  incrUnsure = 0;
  private running = true;
  private readonly done: Promise<unknown>;

  constructor(private readonly o: AckLoadOptions) {
    const deadline = Date.now() + (o.maxMs ?? 60_000);
    const live = (): boolean => this.running && Date.now() < deadline;
    this.done = Promise.all([
      ...Array.from({ length: o.writers }, (_, w) => this.write(w, live)),
      ...Array.from({ length: o.readers }, () => this.read(live)),
      ...Array.from({ length: o.incrementers ?? 0 }, () => this.incr(live)),
    ]);
  }

  get readCount(): number {
    return this.reads.length;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }

  /** Reads of keys that `owned` accepts from `from` to `to` (ms since the epoch): how many, and how many failed. */
  readsIn(from: number, to: number, owned: (key: string) => boolean): { reads: number; failed: number } {
    const window = this.reads.filter((r) => r.at >= from && r.at <= to && owned(r.key));
    return { reads: window.length, failed: window.filter((r) => !r.ok).length };
  }

  private async write(w: number, live: () => boolean): Promise<void> {
    const { client, checker, keyOf, keys, writers } = this.o;
    for (let n = 0; n < 50_000 && live(); n++) {
      const key = keyOf(Math.floor(Math.random() * Math.floor(keys / writers)) * writers + w);
      const value = `w${w}n${n}`;
      checker.writing(key, value);
      try {
        await client.set(key, value);
        checker.acknowledged(key, value, false);
      } catch (error) {
        checker.failed(key, value, error);
      }
    }
  }

  private async read(live: () => boolean): Promise<void> {
    const { client, checker, keyOf, keys } = this.o;
    for (let n = 0; n < 100_000 && live(); n++) {
      const key = keyOf(Math.floor(Math.random() * keys));
      const at = Date.now();
      const token = checker.readStart(key);
      try {
        const problem = checker.problemSince(key, await client.get(key), token);
        if (problem !== null) this.wrong.push(problem);
        this.reads.push({ at, key, ok: true });
      } catch {
        this.reads.push({ at, key, ok: false });
      }
    }
  }

  private async incr(live: () => boolean): Promise<void> {
    for (let n = 0; n < 50_000 && live(); n++) {
      try {
        await this.o.client.incr(this.o.counterKey!, 1n);
        this.incrAcked++;
      } catch {
        this.incrUnsure++;
      }
    }
  }
}
