/**
 * MGET/MSET arguments → checked, measured and split into frames. A server accepts any multi-key body of at
 * most MULTI_SLACK_BYTES (its frame limit is maxKey + maxValue + that slack), so bigger batches go out as
 * several frames of at most that size, in order, on the same connection; an entry too big to share a frame
 * travels alone. Splitting costs MSET its all-or-nothing look: each frame is applied on its own.
 * An MGET frame also carries at most as many keys as the node can answer in one response whatever their values:
 * count × (4 + the node's maxValueBytes) + 4 ≤ its maxResponseBytes (mgetKeysPerFrame). The node refuses an MGET
 * whose response would be larger (RESPONSE_TOO_LARGE) rather than build it, so the client never sends one.
 */
import { DEFAULT_MAX_VALUE_BYTES, MULTI_SLACK_BYTES } from '../protocol/constants';
import { multiPartEnds, type MsetEntry } from '../protocol/multi';
import { describe } from './node-address';
import { type Bytes, keyError, valueError, wireLength } from './arg-checks';

export const MGET_KEYS_PER_FRAME = 256;

/**
 * The largest response a node with the default limits sends for one request: its 64 MiB output limit less its
 * 1 MiB high-water mark (src/server/node-options.ts). Used until a topology names the node's own limits.
 */
const DEFAULT_NODE_MAX_RESPONSE_BYTES = 63 * 1024 * 1024;

/** The limits the client splits by until a node's TOPOLOGY names its own. */
export const DEFAULT_NODE_LIMITS = { maxValueBytes: DEFAULT_MAX_VALUE_BYTES, maxResponseBytes: DEFAULT_NODE_MAX_RESPONSE_BYTES };

/** Keys per MGET frame such that any values fit in one response of the node (and of the client's own limit). */
export function mgetKeysPerFrame(limits: { maxValueBytes: number; maxResponseBytes: number }, clientMaxResponseBytes: number): number {
  const room = Math.min(limits.maxResponseBytes, clientMaxResponseBytes) - 4;
  return Math.max(1, Math.min(MGET_KEYS_PER_FRAME, Math.floor(room / (4 + limits.maxValueBytes))));
}

export interface MultiPart<T> {
  items: T[];
  bodyLength: number;
}

/** Parts in order by the one chunking rule the node's router splits by too (multiPartEnds, protocol/multi.ts). */
function split<T>(items: readonly T[], sizes: readonly number[], limit: number, maxCount: number): Array<MultiPart<T>> {
  const parts: Array<MultiPart<T>> = [];
  let start = 0;
  for (const end of multiPartEnds(sizes, limit, maxCount)) {
    let bodyLength = 4;
    for (let i = start; i < end; i++) bodyLength += sizes[i]!;
    parts.push({ items: items.slice(start, end), bodyLength });
    start = end;
  }
  return parts;
}

/** MGET keys → parts (empty for no keys), or the error for the first bad key. */
export function planMget(keys: unknown, limit = MULTI_SLACK_BYTES, keysPerFrame = MGET_KEYS_PER_FRAME): Array<MultiPart<Bytes>> | Error {
  if (!Array.isArray(keys)) return new TypeError(`keys must be an array of strings or Buffers, got ${describe(keys)}`);
  const sizes = new Array<number>(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const key: unknown = keys[i];
    const error = keyError(key, `keys[${i}]`);
    if (error !== null) return error;
    sizes[i] = 2 + wireLength(key as Bytes);
  }
  return split(keys as Bytes[], sizes, limit, keysPerFrame);
}

/** What mset accepts: pairs, a Map, or a plain object of string keys. */
export type MsetInput = ReadonlyArray<readonly [Bytes, Bytes]> | ReadonlyMap<Bytes, Bytes> | Readonly<Record<string, Bytes>>;

/** MSET entries → parts (empty for no entries), or the error for the first bad entry. */
export function planMset(entries: unknown, limit = MULTI_SLACK_BYTES): Array<MultiPart<MsetEntry>> | Error {
  let list: unknown[];
  if (Array.isArray(entries)) list = entries;
  else if (entries instanceof Map) list = [...entries];
  else if (entries !== null && typeof entries === 'object' && !(entries instanceof Uint8Array)) list = Object.entries(entries);
  else {
    return new TypeError(`entries must be an array of [key, value] pairs, a Map or an object, got ${describe(entries)}`);
  }
  const checked = new Array<MsetEntry>(list.length);
  const sizes = new Array<number>(list.length);
  for (let i = 0; i < list.length; i++) {
    const entry = list[i];
    if (!Array.isArray(entry) || entry.length !== 2) {
      return new TypeError(`entries[${i}] must be a [key, value] pair, got ${describe(entry)}`);
    }
    const [key, value] = entry as [unknown, unknown];
    const error = keyError(key, `entries[${i}] key`) ?? valueError(value, `entries[${i}] value`);
    if (error !== null) return error;
    checked[i] = entry as unknown as MsetEntry;
    sizes[i] = 6 + wireLength(key as Bytes) + wireLength(value as Bytes);
  }
  return split(checked, sizes, limit, Number.POSITIVE_INFINITY);
}
