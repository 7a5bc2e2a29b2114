/**
 * Tombstones (docs/ARCHITECTURE.md, "Versions"): what a removed item leaves behind while a copy of it may still
 * arrive from another member (a range transfer, a read-through). A copy of an absent key is refused when a
 * tombstone of that key is at least as new, so a transfer never brings back a key that was deleted, expired or
 * evicted here meanwhile.
 *
 * The store records them only for keys its owner says a copy may still arrive for (Store.keepTombstonesFor),
 * so a node that moves no data keeps none. They are bounded twice:
 *   - in time: each lives `ttlMs`, longer than a transfer may run;
 *   - in number: at most `capacity`. Dropping a live one to make room raises a floor instead: until that
 *     tombstone would have expired, a copy of an absent key at or below the floor is refused too. A refused
 *     copy is a miss later, never a stale value, so the bound costs warmth, not correctness.
 *
 * A key is identified by a fingerprint (the store's 32-bit key hash and the key length). Two keys sharing one
 * only make a copy be refused: again a miss, never a stale value.
 */
import { isNewer } from './version-clock';

export const DEFAULT_TOMBSTONE_CAPACITY = 100_000;
export const DEFAULT_TOMBSTONE_TTL_MS = 120_000;
/** Bytes per tombstone in the typed arrays, plus about this much for its entry in the Map index. */
const BYTES_PER_TOMBSTONE = 28 + 48;

export class Tombstones {
  /** fingerprint → position in the ring of arrays below. */
  private readonly index = new Map<number, number>();
  private fingerprints = new Float64Array(0);
  private versions = new Float64Array(0);
  private tags = new Int32Array(0);
  private born = new Float64Array(0);
  /** Oldest entry's position, and how many there are (a FIFO: every tombstone lives equally long). */
  private head = 0;
  private count = 0;
  private floorVersion = 0;
  private floorUntil = 0;
  readonly counters = { created: 0, expired: 0, overflowed: 0, refusedCopies: 0 };

  constructor(
    readonly capacity = DEFAULT_TOMBSTONE_CAPACITY,
    readonly ttlMs = DEFAULT_TOMBSTONE_TTL_MS,
  ) {}

  get size(): number {
    return this.count;
  }

  /** Bytes held (arrays allocated on first use). */
  get bytes(): number {
    return this.fingerprints.length * 28 + this.index.size * (BYTES_PER_TOMBSTONE - 28);
  }

  /** Records that the key `fingerprint` was removed at `version` (issued by member `tag`). */
  add(fingerprint: number, version: number, tag: number, now: number): void {
    this.prune(now);
    if (this.fingerprints.length === 0) this.allocate();
    const existing = this.index.get(fingerprint);
    if (existing !== undefined) {
      // Keep the newer removal; its age restarts with the FIFO position it already has (a little early expiry
      // of a re-deleted key is covered by the original's version anyway).
      if (isNewer(version, tag, this.versions[existing]!, this.tags[existing]!)) {
        this.versions[existing] = version;
        this.tags[existing] = tag;
      }
      return;
    }
    if (this.count === this.capacity) this.dropOldest(true);
    const at = (this.head + this.count) % this.capacity;
    this.fingerprints[at] = fingerprint;
    this.versions[at] = version;
    this.tags[at] = tag;
    this.born[at] = now;
    this.index.set(fingerprint, at);
    this.count++;
    this.counters.created++;
  }

  /** True when a copy (version, tag) of the absent key `fingerprint` must be refused. */
  refuses(fingerprint: number, version: number, tag: number, now: number): boolean {
    this.prune(now);
    let refused = false;
    if (now < this.floorUntil && version <= this.floorVersion) {
      refused = true;
    } else {
      const at = this.index.get(fingerprint);
      refused = at !== undefined && !isNewer(version, tag, this.versions[at]!, this.tags[at]!);
    }
    if (refused) this.counters.refusedCopies++;
    return refused;
  }

  /** Forgets every tombstone (the store was emptied: nothing it held can come back as newer). */
  clear(): void {
    this.index.clear();
    this.head = 0;
    this.count = 0;
    this.floorVersion = 0;
    this.floorUntil = 0;
  }

  private prune(now: number): void {
    while (this.count > 0 && now - this.born[this.head]! >= this.ttlMs) this.dropOldest(false);
    if (this.count === 0 && this.fingerprints.length > 0 && now >= this.floorUntil) this.release();
  }

  private dropOldest(live: boolean): void {
    const at = this.head;
    const fingerprint = this.fingerprints[at]!;
    if (this.index.get(fingerprint) === at) this.index.delete(fingerprint);
    if (live) {
      this.counters.overflowed++;
      if (this.versions[at]! > this.floorVersion) this.floorVersion = this.versions[at]!;
      this.floorUntil = Math.max(this.floorUntil, this.born[at]! + this.ttlMs);
    } else {
      this.counters.expired++;
    }
    this.head = (this.head + 1) % this.capacity;
    this.count--;
  }

  private allocate(): void {
    this.fingerprints = new Float64Array(this.capacity);
    this.versions = new Float64Array(this.capacity);
    this.tags = new Int32Array(this.capacity);
    this.born = new Float64Array(this.capacity);
  }

  /** Nothing left to remember: give the arrays back until the next transfer. */
  private release(): void {
    this.fingerprints = new Float64Array(0);
    this.versions = new Float64Array(0);
    this.tags = new Int32Array(0);
    this.born = new Float64Array(0);
    this.head = 0;
    this.floorVersion = 0;
    this.floorUntil = 0;
  }
}

/** A key's fingerprint from the store's key hash and its length (exact in a double). */
export function fingerprintOf(hash: number, keyLength: number): number {
  return (hash >>> 0) * 65536 + keyLength;
}
