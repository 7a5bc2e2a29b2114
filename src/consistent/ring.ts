/**
 * HashRing: consistent hashing with virtual nodes (docs/ARCHITECTURE.md, Decisions, "Ring").
 *
 * Point derivation (every node must compute it identically): node `id` with weight `w` gets
 * `round(vnodes * w)` points (at least 1); point r (r = 0, 1, …) is xxh32(UTF-8 bytes of `${id}-${r}`, seed 0).
 * Points are sorted ascending; equal points are ordered by node id (JS string order), so the same members
 * give the same ring whatever order they were added in. A key is owned by the node of the first point
 * >= xxh32(key bytes, seed 0), wrapping to the first point.
 *
 * The sorted points and owners live in typed arrays here and, when the addon is loaded, a copy lives on the
 * native side (set once per change), so a native lookup marshals nothing but the key bytes.
 */
import { xxh32 } from './xxhash32';
import { keyToBuffer, type Key } from './key-bytes';
import { nativeBinding, type NativeRingHandle } from './native';

export interface HashRingOptions {
  /** Virtual nodes per node at weight 1 (1-4096). Default 160, ketama's figure. */
  vnodes?: number;
  /** false forces the TypeScript lookups for this ring; by default the addon is used when it loaded. */
  native?: boolean;
}

const DEFAULT_VNODES = 160;
const MAX_VNODES = 4096;
/** A node's points are capped so that a huge weight cannot make a ring of millions of points by mistake. */
const MAX_POINTS_PER_NODE = 65536;
/** Owner indices are packed below the point in one float64 for sorting: 2^20 members is far beyond use. */
const OWNER_BITS = 2 ** 20;
const SCRATCH_BYTES = 4096;
/** The most copies of a key a cluster keeps (--replicas). */
export const MAX_REPLICAS = 5;

export class HashRing {
  readonly vnodes: number;
  private readonly weights = new Map<string, number>();
  private sortedIds: string[] = [];
  private points = new Uint32Array(0);
  private owners = new Int32Array(0);
  /**
   * bucketStart[b] = index of the first point >= b << bucketShift. With 16 buckets per point (at most 2^16)
   * a lookup reads one entry and almost never scans, so its branches predict well; a binary search's do not
   * (bench/ring.bench.ts: 16 buckets per point halved the native batch cost). native/ring.h builds the same.
   */
  private bucketStart = new Uint32Array(2);
  private bucketShift = 24;
  private readonly native: NativeRingHandle | undefined;
  private currentEpoch = 0;
  private currentChecksum = 0;
  /** Reused for string keys so a lookup does not allocate a Buffer per call. */
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  private batchSpans = new Uint32Array(128);
  private batchOwners = new Int32Array(64);
  /** Scratch for holdsHash. */
  private readonly holders = new Int32Array(MAX_REPLICAS);

  constructor(options: HashRingOptions = {}) {
    const vnodes = options.vnodes ?? DEFAULT_VNODES;
    if (!Number.isInteger(vnodes) || vnodes < 1 || vnodes > MAX_VNODES) {
      throw new RangeError(`vnodes must be an integer from 1 to ${MAX_VNODES}, got ${String(vnodes)}`);
    }
    this.vnodes = vnodes;
    this.native = nativeBinding && options.native !== false ? new nativeBinding.NativeRing() : undefined;
    this.rebuild();
    this.currentEpoch = 0; // the empty ring is epoch 0; every change after it counts
  }

  /** Member ids in ring order of ownership indices (sorted by JS string order). */
  get nodes(): string[] {
    return this.sortedIds.slice();
  }

  /** Number of physical nodes. */
  get size(): number {
    return this.sortedIds.length;
  }

  /** Number of points (virtual nodes) on the ring. */
  get pointCount(): number {
    return this.points.length;
  }

  /** xxh32 of the sorted member ids (with their weights where not 1): equal on every node with equal members. */
  get checksum(): number {
    return this.currentChecksum;
  }

  /** Bumps on every change that alters the ring. */
  get epoch(): number {
    return this.currentEpoch;
  }

  /** Copies of the sorted points and their owner indices (into `nodes`), for tools and benchmarks. */
  snapshot(): { points: Uint32Array; owners: Int32Array; nodes: string[] } {
    return { points: this.points.slice(), owners: this.owners.slice(), nodes: this.nodes };
  }

  /** True when this ring's batch lookups run in the addon. */
  get usesNative(): boolean {
    return this.native !== undefined;
  }

  has(id: string): boolean {
    return this.weights.has(id);
  }

  /**
   * Adds a node. Adding an id that is already present with the same weight is a no-op and returns false;
   * with a different weight it re-weights the node. Returns true when the ring changed.
   */
  add(id: string, weight = 1): boolean {
    checkId(id);
    checkWeight(id, weight, this.vnodes);
    if (this.weights.get(id) === weight) return false;
    this.weights.set(id, weight);
    this.rebuild();
    return true;
  }

  /** Removes a node; returns false when it was not a member. */
  remove(id: string): boolean {
    if (!this.weights.delete(id)) return false;
    this.rebuild();
    return true;
  }

  /**
   * Replaces the whole membership in one rebuild (one epoch bump). Accepts ids (weight 1) or [id, weight]
   * pairs. Returns true when the ring changed.
   */
  setNodes(members: Iterable<string | readonly [string, number]>): boolean {
    const next = new Map<string, number>();
    for (const member of members) {
      const [id, weight] = typeof member === 'string' ? [member, 1] : member;
      checkId(id);
      checkWeight(id, weight, this.vnodes);
      next.set(id, weight);
    }
    if (next.size === this.weights.size && [...next].every(([id, w]) => this.weights.get(id) === w)) return false;
    this.weights.clear();
    for (const [id, weight] of next) this.weights.set(id, weight);
    this.rebuild();
    return true;
  }

  /** The owner of a key, or undefined on an empty ring. */
  lookup(key: Key): string | undefined {
    const index = this.lookupIndexOfKey(key);
    return index < 0 ? undefined : this.sortedIds[index];
  }

  /**
   * The owner's index into `nodes` for key bytes buffer[offset, offset+length); -1 on an empty ring. Single
   * keys hash in TypeScript even with the addon loaded: one native call costs more than the hash and the
   * bucket lookup of a short key (docs/PERFORMANCE.md, "The hash and the ring"); batches go native. A ring of
   * one member owns every key: no hash (a node that serves alone pays nothing for the ring).
   */
  lookupIndex(buffer: Uint8Array, offset: number, length: number): number {
    if (this.sortedIds.length === 1) return 0;
    return this.ownerOfHash(xxh32(buffer, offset, length, 0));
  }

  /** The id at an owner index returned by lookupIndex / lookupBatch. */
  nodeAt(index: number): string | undefined {
    return this.sortedIds[index];
  }

  /** n distinct physical nodes in ring order starting at the key's owner; fewer when the ring has fewer. */
  lookupN(key: Key, n: number): string[] {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${String(n)}`);
    const count = this.points.length;
    const result: string[] = [];
    if (count === 0 || n === 0) return result;
    const bytes = keyToBuffer(key);
    const wanted = Math.min(n, this.sortedIds.length);
    const seen = new Uint8Array(this.sortedIds.length);
    let at = this.firstPointAtOrAfter(xxh32(bytes, 0, bytes.length, 0));
    for (let steps = 0; steps < count && result.length < wanted; steps++, at++) {
      if (at === count) at = 0;
      const owner = this.owners[at]!;
      if (seen[owner] === 0) {
        seen[owner] = 1;
        result.push(this.sortedIds[owner]!);
      }
    }
    return result;
  }

  /**
   * Routes many keys at once: key i is buffer[spans[2i], spans[2i] + spans[2i+1]); its owner index goes to
   * out[i] (-1 on an empty ring). With the addon this is one native call for the whole batch.
   */
  lookupBatch(buffer: Uint8Array, spans: Uint32Array, count: number, out: Int32Array): void {
    if (count * 2 > spans.length || count > out.length) {
      throw new RangeError('count exceeds the spans or the output array');
    }
    if (this.native) {
      this.native.lookupBatch(buffer, spans, count, out);
      return;
    }
    for (let i = 0; i < count; i++) {
      out[i] = this.ownerOfHash(xxh32(buffer, spans[2 * i]!, spans[2 * i + 1]!, 0));
    }
  }

  /** Owners of many keys, in order; each undefined on an empty ring. Backed by lookupBatch. */
  lookupMany(keys: readonly Key[]): (string | undefined)[] {
    const buffers = keys.map((key, i) => keyToBuffer(key, `keys[${i}]`));
    const joined = Buffer.concat(buffers);
    if (this.batchSpans.length < keys.length * 2) this.batchSpans = new Uint32Array(keys.length * 2);
    if (this.batchOwners.length < keys.length) this.batchOwners = new Int32Array(keys.length);
    let offset = 0;
    for (let i = 0; i < buffers.length; i++) {
      const length = buffers[i]!.length;
      this.batchSpans[2 * i] = offset;
      this.batchSpans[2 * i + 1] = length;
      offset += length;
    }
    this.lookupBatch(joined, this.batchSpans, keys.length, this.batchOwners);
    const result: (string | undefined)[] = new Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const owner = this.batchOwners[i]!;
      result[i] = owner < 0 ? undefined : this.sortedIds[owner];
    }
    return result;
  }

  private lookupIndexOfKey(key: Key): number {
    if (typeof key === 'string') {
      const length = this.encodeIntoScratch(key);
      if (length >= 0) {
        return this.lookupIndex(this.scratch, 0, length);
      }
      const bytes = Buffer.from(key, 'utf8');
      return this.lookupIndex(bytes, 0, bytes.length);
    }
    const bytes = keyToBuffer(key);
    return this.lookupIndex(bytes, 0, bytes.length);
  }

  /**
   * Writes a string key's UTF-8 bytes into the scratch buffer and returns their length, or -1 when it may
   * not fit. ASCII keys (the common case) are copied char by char, which is several times cheaper for short
   * keys than Buffer#utf8Write; anything else goes through the real UTF-8 encoder.
   */
  private encodeIntoScratch(key: string): number {
    const length = key.length;
    const scratch = this.scratch;
    if (length <= SCRATCH_BYTES) {
      let i = 0;
      for (; i < length; i++) {
        const code = key.charCodeAt(i);
        if (code >= 0x80) break;
        scratch[i] = code;
      }
      if (i === length) return length;
    }
    // Worst case UTF-8 is 3 bytes per UTF-16 unit; only then is the scratch buffer known to fit.
    return length * 3 <= SCRATCH_BYTES ? scratch.write(key, 0, 'utf8') : -1;
  }

  /** The owner's index into `nodes` of a hash value (-1 on an empty ring): what a key hashing to it maps to. */
  ownerOfHash(hash: number): number {
    const points = this.points;
    const count = points.length;
    if (count === 0) return -1;
    const bucket = hash >>> this.bucketShift;
    let at = this.bucketStart[bucket]!;
    const end = this.bucketStart[bucket + 1]!;
    while (at < end && points[at]! < hash) at++;
    return this.owners[at === count ? 0 : at]!;
  }

  /**
   * The replica set of a hash (docs/ARCHITECTURE.md, "Replicas"): the indices into `nodes` of the first `n`
   * distinct owners from the hash's point on, in ring order, into `out`; returns how many (fewer when the ring
   * has fewer members). out[0] is the owner.
   */
  holdersOfHash(hash: number, n: number, out: Int32Array): number {
    const points = this.points;
    const count = points.length;
    const wanted = Math.min(n, this.sortedIds.length, out.length);
    if (count === 0 || wanted <= 0) return 0;
    let at = this.firstPointAtOrAfter(hash);
    let found = 0;
    for (let steps = 0; steps < count && found < wanted; steps++, at++) {
      if (at === count) at = 0;
      const owner = this.owners[at]!;
      let seen = false;
      for (let i = 0; i < found && !seen; i++) seen = out[i] === owner;
      if (!seen) out[found++] = owner;
    }
    return found;
  }

  /** True when member index `member` is among the first `n` distinct owners of the hash (its replica set). */
  holdsHash(hash: number, n: number, member: number): boolean {
    if (member < 0) return false;
    if (this.sortedIds.length <= n) return member < this.sortedIds.length;
    const found = this.holdersOfHash(hash, n, this.holders);
    for (let i = 0; i < found; i++) if (this.holders[i] === member) return true;
    return false;
  }

  /** holdsHash for the key buffer[offset, offset + length). */
  holdsKey(buffer: Uint8Array, offset: number, length: number, n: number, member: number): boolean {
    if (member < 0) return false;
    if (this.sortedIds.length <= n) return member < this.sortedIds.length;
    return this.holdsHash(xxh32(buffer, offset, length, 0), n, member);
  }

  /** holdersOfHash for the key buffer[offset, offset + length). */
  holdersOf(buffer: Uint8Array, offset: number, length: number, n: number, out: Int32Array): number {
    return this.holdersOfHash(this.sortedIds.length === 1 ? 0 : xxh32(buffer, offset, length, 0), n, out);
  }

  /** Index of the first point >= hash; points.length when every point is smaller. */
  private firstPointAtOrAfter(hash: number): number {
    const points = this.points;
    let low = 0;
    let high = points.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (points[middle]! < hash) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private buildBuckets(): void {
    const count = this.points.length;
    let bits = 8;
    while (bits < 16 && 2 ** bits < count * 16) bits++;
    this.bucketShift = 32 - bits;
    const buckets = 2 ** bits;
    this.bucketStart = new Uint32Array(buckets + 1).fill(count);
    let at = 0;
    for (let bucket = 0; bucket < buckets; bucket++) {
      const lowest = bucket * 2 ** this.bucketShift;
      while (at < count && this.points[at]! < lowest) at++;
      this.bucketStart[bucket] = at;
    }
  }

  private rebuild(): void {
    this.sortedIds = [...this.weights.keys()].sort(compareIds);
    const pointCounts = this.sortedIds.map((id) => pointsFor(this.vnodes, this.weights.get(id)!));
    const total = pointCounts.reduce((sum, n) => sum + n, 0);
    // point * 2^20 + ownerIndex sorts by point, then by owner index, i.e. by id, since ids are sorted.
    const packed = new Float64Array(total);
    let next = 0;
    for (let owner = 0; owner < this.sortedIds.length; owner++) {
      const id = this.sortedIds[owner]!;
      for (let replica = 0; replica < pointCounts[owner]!; replica++) {
        const label = Buffer.from(`${id}-${replica}`, 'utf8');
        packed[next++] = xxh32(label, 0, label.length, 0) * OWNER_BITS + owner;
      }
    }
    packed.sort();
    this.points = new Uint32Array(total);
    this.owners = new Int32Array(total);
    for (let i = 0; i < total; i++) {
      const value = packed[i]!;
      const owner = value % OWNER_BITS;
      this.points[i] = (value - owner) / OWNER_BITS;
      this.owners[i] = owner;
    }
    this.buildBuckets();
    this.native?.setPoints(this.points, this.owners);
    const identity = this.sortedIds
      .map((id) => {
        const weight = this.weights.get(id)!;
        return weight === 1 ? id : `${id}*${weight}`;
      })
      .join('\n');
    const identityBytes = Buffer.from(identity, 'utf8');
    this.currentChecksum = xxh32(identityBytes, 0, identityBytes.length, 0);
    this.currentEpoch++;
  }
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function pointsFor(vnodes: number, weight: number): number {
  return Math.max(1, Math.round(vnodes * weight));
}

function checkId(id: unknown): asserts id is string {
  if (typeof id !== 'string') throw new TypeError(`id must be a string, got ${typeof id}`);
  if (id.length === 0) throw new RangeError('id must not be empty');
}

function checkWeight(id: string, weight: unknown, vnodes: number): asserts weight is number {
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) {
    throw new RangeError(`weight of ${id} must be a finite number > 0, got ${String(weight)}`);
  }
  if (pointsFor(vnodes, weight) > MAX_POINTS_PER_NODE) {
    throw new RangeError(`weight of ${id} gives more than ${MAX_POINTS_PER_NODE} points; lower it or vnodes`);
  }
}
