/**
 * Store options and argument checks, kept apart from the store's hot paths. Shapes that are simply wrong
 * (a number where a key belongs) are TypeErrors naming the argument; values of the right type that cannot be
 * used (a negative TTL, an unknown mode) are InvalidArgumentErrors. Both are thrown before anything changes.
 */

import { InvalidArgumentError } from '../errors';
import { PAGE_BYTES } from './size-classes';
import { DEFAULT_TOMBSTONE_CAPACITY, DEFAULT_TOMBSTONE_TTL_MS } from './tombstones';
import { VersionClock } from './version-clock';

export interface StoreOptions {
  /** Upper bound on everything the store allocates: pages plus metadata arrays. Default 64 MiB, at least 4 MiB. */
  maxMemoryBytes?: number;
  /** Longest key in bytes (UTF-8 for strings). Default 1024, at most 65535. */
  maxKeyBytes?: number;
  /** Longest value in bytes. Default 1 MiB, at most 1 GiB. */
  maxValueBytes?: number;
  /** Milliseconds clock for TTLs. Default Date.now. Tests inject a fake one. */
  clock?: () => number;
  /** How often the active-expiry timer wakes (unref'd). Default 100 ms; 0 disables it (call expireDue()). */
  expiryIntervalMs?: number;
  /** Called after each active-expiry pass that expired something, with the count. For metrics and tests. */
  onSweep?: (expired: number) => void;
  /** Smallest chunk size (memcached -n). Default 32; a multiple of 8 from 16 to 1024. */
  minChunkBytes?: number;
  /** Size-class growth factor (memcached -f). Default 1.25; from 1.05 to 2. */
  growthFactor?: number;
  /**
   * Stamps every write with a version (version-clock.ts). A cluster node passes its own, shared with its data
   * movement; by default each store has one on its clock with tag 0.
   */
  versionClock?: VersionClock;
  /** At most this many tombstones (tombstones.ts). Default 100,000. */
  maxTombstones?: number;
  /** How long a tombstone lives, in ms: longer than a range transfer may run. Default 120,000. */
  tombstoneTtlMs?: number;
}

export interface SetOptions {
  /** Milliseconds to live; 0 or undefined: no expiry (a set always replaces the previous TTL, like Redis SET). */
  ttlMs?: number;
  /** 'set' (default): always; 'nx': only if absent; 'xx': only if present. */
  mode?: SetModeName;
}

export interface StoreStats {
  items: number;
  /** Accounted bytes (pages + metadata reserve + fixed tables); never above maxMemoryBytes. */
  bytesUsed: number;
  maxMemoryBytes: number;
  /** Bytes of slab pages. */
  pageBytes: number;
  /** Bytes really allocated now (pages + typed arrays); ≤ bytesUsed. */
  allocatedBytes: number;
  pages: number;
  /** Chunk size of each size class; the arrays below are indexed the same way. */
  chunkSizes: number[];
  pagesPerClass: number[];
  itemsPerClass: number[];
  slotCapacity: number;
  indexBuckets: number;
  /** Items with a TTL (entries in the expiry heap). */
  expiringItems: number;
  hits: number;
  misses: number;
  sets: number;
  deletes: number;
  expired: number;
  evicted: number;
  /** Items removed because their ring range moved to another member (removeWhere, or found before its sweep reached them). */
  dropped: number;
  /** Pages moved from one size class to another. */
  pageMoves: number;
  /** Chunks a socket write reads in place now (GET of a large value), pins taken so far, and frees that waited. */
  pinnedChunks: number;
  /** Bytes of those chunks (at most an eighth of maxMemoryBytes; past it GET copies). */
  pinnedBytes: number;
  pinsTaken: number;
  deferredFrees: number;
  /** Pages dropped instead of moved to another class because a socket write still read one of their chunks. */
  pinnedPageDrops: number;
  /** Tombstones held now, made, expired, dropped early for room (tombstones.ts), and copies they refused. */
  tombstones: number;
  tombstonesCreated: number;
  tombstonesExpired: number;
  tombstonesOverflowed: number;
  copiesRefusedByTombstones: number;
  /** Copies from other members (transfer, read-through) applied, and refused as older than what was here. */
  copiesApplied: number;
  copiesOlder: number;
  removalsApplied: number;
}

export interface ResolvedOptions {
  maxMemoryBytes: number;
  maxKeyBytes: number;
  maxValueBytes: number;
  clock: () => number;
  expiryIntervalMs: number;
  onSweep: ((expired: number) => void) | undefined;
  minChunkBytes: number;
  growthFactor: number;
  versionClock: VersionClock;
  maxTombstones: number;
  tombstoneTtlMs: number;
}

const MIN_MEMORY_BYTES = 4 * PAGE_BYTES;
/**
 * A chunk ref is 32 bits: page id and chunk index (slab.ts). The index needs log2(PAGE_BYTES / minChunkBytes) bits,
 * the rest name pages, which are at least half a standard page: so the limit depends on minChunkBytes
 * (about 64 GiB with the default 32, 32 GiB with 16). Far beyond one Node process anyway.
 */
function maxMemoryFor(minChunkBytes: number): number {
  const indexBits = Math.max(1, Math.ceil(Math.log2(Math.floor(PAGE_BYTES / minChunkBytes))));
  const pageIds = 2 ** (32 - indexBits) - 1;
  return (pageIds - 3) * (PAGE_BYTES / 2);
}

export function resolveOptions(options: StoreOptions | undefined): ResolvedOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new TypeError('options must be an object');
  }
  const o = options ?? {};
  const clock = o.clock ?? Date.now;
  if (typeof clock !== 'function') throw new TypeError('options.clock must be a function returning milliseconds');
  if (o.onSweep !== undefined && typeof o.onSweep !== 'function') throw new TypeError('options.onSweep must be a function');
  const growthFactor = o.growthFactor ?? 1.25;
  if (typeof growthFactor !== 'number' || !(growthFactor >= 1.05 && growthFactor <= 2)) {
    throw new InvalidArgumentError(`options.growthFactor must be a number from 1.05 to 2, got ${String(growthFactor)}`);
  }
  const minChunkBytes = integer('minChunkBytes', o.minChunkBytes, 32, 16, 1024);
  if (o.versionClock !== undefined && !(o.versionClock instanceof VersionClock)) {
    throw new TypeError('options.versionClock must be a VersionClock');
  }
  if (minChunkBytes % 8 !== 0) throw new InvalidArgumentError('options.minChunkBytes must be a multiple of 8');
  return {
    maxMemoryBytes: integer('maxMemoryBytes', o.maxMemoryBytes, 64 * 2 ** 20, MIN_MEMORY_BYTES, maxMemoryFor(minChunkBytes)),
    maxKeyBytes: integer('maxKeyBytes', o.maxKeyBytes, 1024, 1, 0xffff),
    maxValueBytes: integer('maxValueBytes', o.maxValueBytes, 2 ** 20, 0, 2 ** 30),
    clock,
    expiryIntervalMs: integer('expiryIntervalMs', o.expiryIntervalMs, 100, 0, 2 ** 31 - 1),
    onSweep: o.onSweep,
    minChunkBytes,
    growthFactor,
    versionClock: o.versionClock ?? new VersionClock(0, clock),
    maxTombstones: integer('maxTombstones', o.maxTombstones, DEFAULT_TOMBSTONE_CAPACITY, 1, 2 ** 24),
    tombstoneTtlMs: integer('tombstoneTtlMs', o.tombstoneTtlMs, DEFAULT_TOMBSTONE_TTL_MS, 1, 2 ** 31 - 1),
  };
}

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`options.${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** A TTL in milliseconds: 0 (or undefined, where optional) means none. */
export function checkTtl(ttlMs: unknown, optional = true): number {
  if (ttlMs === undefined && optional) return 0;
  if (typeof ttlMs !== 'number' || !Number.isSafeInteger(ttlMs) || ttlMs < 0) {
    throw new InvalidArgumentError(`ttlMs must be a non-negative integer number of milliseconds (0 = no expiry), got ${String(ttlMs)}`);
  }
  return ttlMs;
}

/** Numeric set modes for the zero-copy entry points. */
export const SetMode = { Set: 0, NX: 1, XX: 2 } as const;
export type SetModeValue = (typeof SetMode)[keyof typeof SetMode];
export type SetModeName = 'set' | 'nx' | 'xx';

export function modeFromName(mode: unknown): SetModeValue {
  switch (mode) {
    case undefined:
    case 'set':
      return SetMode.Set;
    case 'nx':
      return SetMode.NX;
    case 'xx':
      return SetMode.XX;
    default:
      throw new InvalidArgumentError(`mode must be 'set', 'nx' or 'xx', got ${String(mode)}`);
  }
}

export function checkMode(mode: unknown): SetModeValue {
  if (mode === 0 || mode === 1 || mode === 2) return mode;
  throw new InvalidArgumentError(`mode must be SetMode.Set, SetMode.NX or SetMode.XX (0, 1, 2), got ${String(mode)}`);
}
