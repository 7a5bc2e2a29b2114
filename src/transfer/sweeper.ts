/**
 * Drops, in slices between other work, the items a node must not keep (docs/ARCHITECTURE.md, "Data
 * movement"): copies of ranges it no longer owns once their new owner has them, and copies that came back to
 * it after another member owned their range meanwhile (they may be older than what that member acknowledged).
 *
 * Rules arriving while a sweep runs are combined with the running ones (an item stays only if every rule
 * keeps it) and the sweep restarts from the first slot, so every item is judged by every rule.
 */
import type { Store } from '../cache/store';
import type { KeepRule } from '../cache/store-copies';

export type { KeepRule };

export class Sweeper {
  private rules: KeepRule[] = [];
  private from = 0;
  private timer: NodeJS.Immediate | undefined;
  private waiters: Array<() => void> = [];
  readonly counters = { sweeps: 0, keysDropped: 0 };

  constructor(private readonly store: Store) {}

  /** The running rules, for an item found before the sweep reaches it (the store counts what it drops so). */
  private readonly judge: KeepRule = (page, offset, length, version) => this.rules.every((rule) => rule(page, offset, length, version));

  /** True while a sweep has slots left to visit. */
  get running(): boolean {
    return this.rules.length > 0;
  }

  start(rule: KeepRule): void {
    this.rules.push(rule);
    this.from = 0;
    this.counters.sweeps++;
    // Until the sweep reaches an item, a request would be served what it is about to drop (a stale leftover, after
    // a ring change): the store judges on access every item the sweep, from the first slot again, will visit.
    this.store.judgeOnAccess(this.judge, this.store.versions.current);
    this.timer ??= setImmediate(() => this.step());
  }

  /** Settles when no sweep is running (at once when none is). */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  stop(): void {
    if (this.timer) clearImmediate(this.timer);
    this.timer = undefined;
    this.finish();
  }

  private step(): void {
    this.timer = undefined;
    if (this.store.isClosed) {
      this.finish();
      return;
    }
    const rules = this.rules;
    const keep: KeepRule =
      rules.length === 1 ? rules[0]! : (page, offset, length, version) => rules.every((rule) => rule(page, offset, length, version));
    const { next, removed } = this.store.removeWhere(keep, this.from);
    this.counters.keysDropped += removed;
    if (next >= 0) {
      this.from = next;
      this.timer = setImmediate(() => this.step());
    } else {
      this.finish();
    }
  }

  private finish(): void {
    this.rules = [];
    this.from = 0;
    this.store.judgeOnAccess(null);
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
