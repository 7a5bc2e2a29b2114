/**
 * Copies between members (docs/ARCHITECTURE.md, "Versions" and "Data movement"): the store side of range
 * transfers and read-throughs. An item travels with its value, its absolute expiry time and its version; the
 * receiver applies it only if it is newer than what it holds, and not older than a tombstone of the key.
 */
import { InvalidArgumentError } from '../errors';
import { SLOT } from './slots';
import { StoreOps } from './store-ops';
import type { TombstoneFilter } from './store-core';
import { fingerprintOf } from './tombstones';
import { isNewer } from './version-clock';

/** What applyCopy did. */
export const CopyResult = {
  APPLIED: 0,
  /** What this store holds is as new or newer. */
  OLDER: 1,
  /** A tombstone says the key was removed here after that version. */
  BURIED: 2,
  /** The copy had expired already. */
  EXPIRED: 3,
} as const;
export type CopyResult = (typeof CopyResult)[keyof typeof CopyResult];

/** An item as it travels between members. */
export interface ItemCopy {
  value: Buffer;
  /** Absolute expiry time in ms on the wall clock; 0: none. */
  expireAt: number;
  version: number;
  tag: number;
}

/**
 * Sees one item during scanCopies: key at page[keyOffset, +keyLength), value right after it. The views are
 * valid only during the call, and the visitor must not change the store. Returns false to stop before taking it.
 */
export type CopyVisitor = (
  page: Buffer,
  keyOffset: number,
  keyLength: number,
  valueLength: number,
  expireAt: number,
  version: number,
  tag: number,
) => boolean;

/** True to keep an item: its key bytes page[offset, offset + length) and its version (judgeOnAccess). */
export type KeepRule = (page: Buffer, offset: number, length: number, version: number) => boolean;

const { STRIDE, REF, KEY, VLEN, KEY_MASK, VTAG } = SLOT;
const MAX_VERSION = Number.MAX_SAFE_INTEGER;

export class StoreCopies extends StoreOps {
  protected copiesApplied = 0;
  protected copiesOlder = 0;
  /** Removals from a key's owner applied here (applyRemoval). */
  protected removalsApplied = 0;
  /** Items removed because their ring range moved to another member (removeWhere, or found before its sweep). */
  protected dropped = 0;
  /** Set while a sweep of moved ranges runs: an item up to version accessBelow that it rejects is gone when found. */
  private accessRule: KeepRule | null = null;
  private accessBelow = 0;

  /** Reads and writes requests made (copies from other members not counted): tells whether clients are served. */
  get requestOps(): number {
    return this.hits + this.misses + this.sets + this.deletes - this.copiesApplied;
  }

  /**
   * From now on, removing a key the filter accepts leaves a tombstone (null: none). The node sets it while a
   * copy of some keys may still arrive, and clears it when no transfer is pending.
   */
  keepTombstonesFor(filter: TombstoneFilter | null): void {
    this.tombstoneFilter = filter;
  }

  /**
   * While a sweep of moved ranges runs (transfer/sweeper.ts), the items it has yet to visit would still be served:
   * leftovers it is about to drop, which may be older than what the member that owned their keys meanwhile
   * acknowledged. So an item last written at or below version `below` (one the sweep will visit) that `rule`
   * rejects is removed when a request finds it, as the sweep would remove it. Null when no sweep runs.
   */
  judgeOnAccess(rule: KeepRule | null, below = 0): void {
    this.accessRule = rule;
    this.accessBelow = below;
  }

  /** Lazy expiry, then the running sweep's rules (judgeOnAccess): every operation on a key finds its item here. */
  protected override findLive(h: number, kb: Uint8Array, ko: number, kl: number): number {
    const s = super.findLive(h, kb, ko, kl);
    if (s < 0 || this.accessRule === null || !this.rejectedOnAccess(s)) return s;
    this.removeItem(s);
    this.dropped++;
    return -1;
  }

  /** True when the running sweep, which has item `s` still to visit, will drop it. */
  private rejectedOnAccess(s: number): boolean {
    const version = this.versionAt(s);
    if (version > this.accessBelow) return false;
    const meta = this.slots.meta;
    const ref = meta[s * STRIDE + REF]! >>> 0;
    return !this.accessRule!(this.slab.pageOf(ref), this.slab.offsetOf(ref), meta[s * STRIDE + KEY]! & KEY_MASK, version);
  }

  /**
   * Applies a copy from another member: stored only if newer than the live item (or there is none and no
   * tombstone of the key is as new). The version moves this store's clock, so later local writes win over it.
   * Argument errors (a peer's copy over this node's limits) throw before anything changes.
   */
  applyCopy(
    kb: Uint8Array,
    ko: number,
    kl: number,
    vb: Uint8Array,
    vo: number,
    vl: number,
    expireAt: number,
    version: number,
    tag: number,
    /**
     * A live item at or above this version was written here after this node took over the key: it wins over
     * the copy whatever the copy's version (a previous owner's clock may run a little ahead). 0: versions alone.
     */
    localFloor = 0,
  ): CopyResult {
    this.checkOpen();
    this.checkKeyRange(kb, ko, kl);
    this.checkValueRange(vb, vo, vl);
    if (!(Number.isSafeInteger(expireAt) && expireAt >= 0)) throw new InvalidArgumentError(`bad expiry time ${expireAt}`);
    if (!(Number.isSafeInteger(version) && version > 0 && version <= MAX_VERSION)) throw new InvalidArgumentError(`bad version ${version}`);
    const h = this.keyHash.hashBytes(kb, ko, kl);
    const s = this.findLive(h, kb, ko, kl);
    this.versions.observe(version);
    if (
      s >= 0 &&
      ((localFloor > 0 && this.versionAt(s) >= localFloor) ||
        !isNewer(version, tag, this.versionAt(s), this.slots.meta[s * STRIDE + VTAG]!))
    ) {
      this.copiesOlder++;
      return CopyResult.OLDER;
    }
    const now = this.clock();
    if (expireAt !== 0 && expireAt <= now) {
      // A newer version that has expired by now: the key is gone, here too.
      if (s >= 0) {
        this.removeItem(s);
        this.expired++;
      }
      return CopyResult.EXPIRED;
    }
    if (s < 0 && this.tombstones.refuses(fingerprintOf(h, kl), version, tag, now)) return CopyResult.BURIED;
    const ref = this.storeAt(s, h, kb, ko, kl, vl, expireAt, version, tag);
    this.copyIn(vb, vo, ref, kl, vl);
    this.copiesApplied++;
    return CopyResult.APPLIED;
  }

  /**
   * Applies a removal from the key's owner (a replicated delete, docs/ARCHITECTURE.md, "Replicas"): the live
   * item goes if the removal is newer; while copies of the key may still arrive, the removal leaves a tombstone
   * at its version (also for an absent key), so an older copy cannot bring the key back.
   */
  applyRemoval(kb: Uint8Array, ko: number, kl: number, version: number, tag: number): CopyResult {
    this.checkOpen();
    this.checkKeyRange(kb, ko, kl);
    if (!(Number.isSafeInteger(version) && version > 0 && version <= MAX_VERSION)) throw new InvalidArgumentError(`bad version ${version}`);
    const h = this.keyHash.hashBytes(kb, ko, kl);
    const s = this.findLive(h, kb, ko, kl);
    this.versions.observe(version);
    if (s >= 0 && !isNewer(version, tag, this.versionAt(s), this.slots.meta[s * STRIDE + VTAG]!)) {
      this.copiesOlder++;
      return CopyResult.OLDER;
    }
    if (s >= 0) {
      if (this.tombstoneFilter !== null) this.bury(s, version, tag);
      this.removeItem(s);
    } else if (this.tombstoneFilter !== null && this.tombstoneFilter(kb, ko, kl)) {
      this.tombstones.add(fingerprintOf(h, kl), version, tag, this.clock());
    }
    this.removalsApplied++;
    return CopyResult.APPLIED;
  }

  /** The live item as a copy to send (no hit or miss counted, no LRU mark), or null. */
  copyOf(kb: Uint8Array, ko: number, kl: number): ItemCopy | null {
    this.checkOpen();
    this.checkKeyRange(kb, ko, kl);
    const s = this.findLive(this.keyHash.hashBytes(kb, ko, kl), kb, ko, kl);
    if (s < 0) return null;
    const meta = this.slots.meta;
    const b = s * STRIDE;
    const value = Buffer.allocUnsafe(meta[b + VLEN]!);
    this.copyOut(meta[b + REF]! >>> 0, meta[b + KEY]! & KEY_MASK, value, 0, value.length);
    return { value, expireAt: this.heap.timeOf(s), version: this.versionAt(s), tag: meta[b + VTAG]! };
  }

  /**
   * Shows `visit` the live item of one key (views valid only during the call; no hit or miss counted, no LRU
   * mark); false when the key is absent. What a replica batch is encoded from, with no copy in between.
   */
  visitItem(kb: Uint8Array, ko: number, kl: number, visit: CopyVisitor): boolean {
    this.checkOpen();
    this.checkKeyRange(kb, ko, kl);
    const s = this.findLive(this.keyHash.hashBytes(kb, ko, kl), kb, ko, kl);
    if (s < 0) return false;
    const meta = this.slots.meta;
    const b = s * STRIDE;
    const ref = meta[b + REF]! >>> 0;
    visit(this.slab.pageOf(ref), this.slab.offsetOf(ref), kl, meta[b + VLEN]!, this.heap.timeOf(s), this.versionAt(s), meta[b + VTAG]!);
    return true;
  }

  /**
   * Shows `visit` every live, unexpired item whose key `keep` accepts, in slot order from slot `from`, for
   * about `budgetMs`. Returns the slot to continue from, or -1 when every slot was seen. A slot cursor stays
   * valid across calls: items do not move between slots unless rewritten.
   */
  scanCopies(
    from: number,
    keep: (page: Buffer, keyOffset: number, keyLength: number) => boolean,
    visit: CopyVisitor,
    budgetMs: number,
  ): number {
    this.checkOpen();
    const slots = this.slots;
    const slab = this.slab;
    const now = this.clock();
    const deadline = performance.now() + budgetMs;
    for (let s = Math.max(0, from); s < slots.highWater; s++) {
      if ((s & 255) === 0 && s !== from && performance.now() > deadline) return s;
      const meta = slots.meta;
      const b = s * STRIDE;
      const kl = meta[b + KEY]! & KEY_MASK;
      if (kl === 0) continue;
      const expireAt = this.heap.timeOf(s);
      if (expireAt !== 0 && expireAt <= now) continue;
      const ref = meta[b + REF]! >>> 0;
      const id = ref >>> slab.chunkBits;
      const page = slab.pages[id]!;
      const offset = (ref & slab.indexMask) * slab.pageChunkSize[id]!;
      if (!keep(page, offset, kl)) continue;
      // An item the running sweep of moved ranges will drop is not handed to another member either.
      if (this.accessRule !== null && this.rejectedOnAccess(s)) continue;
      if (!visit(page, offset, kl, meta[b + VLEN]!, expireAt, this.versionAt(s), meta[b + VTAG]!)) return s;
    }
    return -1;
  }
}
