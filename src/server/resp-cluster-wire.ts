/**
 * What ClusterRespBackend sends to owners and makes of their answers: multi-key bodies split to sizes every
 * node accepts, arguments copied to outlive the call, and each binary status turned into the error a single
 * node raises for the same case (so a remote key answers with the local wording: NOT_INTEGER → "ERR value is
 * not an integer or out of range", OVERFLOW → "ERR increment or decrement would overflow", …).
 */
import {
  InvalidArgumentError,
  NotIntegerError,
  OutOfMemoryError,
  OverflowError,
  ServerError,
  ShuttingDownError,
  UnavailableError,
} from '../errors';
import { MULTI_SLACK_BYTES, Status, statusName } from '../protocol/constants';
import { encodeMsetBody, type MsetEntry } from '../protocol/multi';
import type { HashRing } from '../consistent/ring';
import type { MemberState } from '../discovery/member';
import type { PeerRequester, RawResponse } from './router';
import { ExpireFlags, type RespArgs } from '../resp/backend';

const TWO_32 = 4294967296;

/** What the backend needs of the node's Cluster (src/server/cluster.ts satisfies it). */
export interface RespClusterView {
  readonly selfId: string;
  readonly ring: Pick<HashRing, 'lookupIndex' | 'nodeAt' | 'nodes' | 'epoch' | 'checksum' | 'size'>;
  readonly peers: Pick<PeerRequester, 'request'>;
  readonly membership: { readonly table: { all(): ReadonlyArray<{ readonly id: string; readonly state: MemberState }> } };
  /** False while the node is cut off from the majority (when the cluster tracks it): key commands are refused. */
  readonly hasQuorum?: boolean;
}

export interface PeerStoreStats {
  items: number;
  expiringItems: number;
  bytesUsed: number;
}

export interface PeerAnswer {
  peer: string;
  stats?: PeerStoreStats;
  error?: unknown;
}

export function copy(buf: Buffer, off: number, len: number): Buffer {
  return Buffer.from(buf.subarray(off, off + len));
}

export function view(args: RespArgs, i: number): Buffer {
  const off = args.offs[i]!;
  return args.bufs[i]!.subarray(off, off + args.lens[i]!);
}

/** Arguments [first, first + n) copied into one Buffer, as a RespArgs starting at 0. */
export function copyArgs(args: RespArgs, first: number, n: number): RespArgs {
  let total = 0;
  for (let i = first; i < first + n; i++) total += args.lens[i]!;
  const buf = Buffer.allocUnsafe(total);
  const bufs: Buffer[] = [];
  const offs: number[] = [];
  const lens: number[] = [];
  let at = 0;
  for (let i = first; i < first + n; i++) {
    const len = args.lens[i]!;
    args.bufs[i]!.copy(buf, at, args.offs[i]!, args.offs[i]! + len);
    bufs.push(buf);
    offs.push(at);
    lens.push(len);
    at += len;
  }
  return { argc: n, bufs, offs, lens };
}

/**
 * MGET parts for one owner (indexes j of keys args[first + j]): at most `maxKeys` keys, which bounds the answer
 * to what the peer connection accepts, and at most MULTI_SLACK_BYTES of body, which any node accepts.
 */
export function mgetChunks(args: RespArgs, first: number, indexes: number[], maxKeys: number): number[][] {
  const chunks: number[][] = [];
  let current: number[] = [];
  let size = 4;
  for (const j of indexes) {
    const item = 2 + args.lens[first + j]!;
    if (current.length > 0 && (current.length >= maxKeys || size + item > MULTI_SLACK_BYTES)) {
      chunks.push(current);
      current = [];
      size = 4;
    }
    current.push(j);
    size += item;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** MSET bodies for one owner: ≤ MULTI_SLACK_BYTES each, an entry bigger than that alone. */
export function msetBodies(entries: MsetEntry[]): Buffer[] {
  const bodies: Buffer[] = [];
  let current: MsetEntry[] = [];
  let size = 4;
  for (const entry of entries) {
    const item = 6 + entry[0].length + entry[1].length;
    if (current.length > 0 && size + item > MULTI_SLACK_BYTES) {
      bodies.push(encodeMsetBody(current));
      current = [];
      size = 4;
    }
    current.push(entry);
    size += item;
  }
  if (current.length > 0) bodies.push(encodeMsetBody(current));
  return bodies;
}

/** Redis 7's EXPIRE conditions (no TTL counts as infinite), on the TTL the owner reported. */
export function expireConditionHolds(current: number, ttlMs: number, flags: number): boolean {
  if (current === -2) return false;
  if ((flags & ExpireFlags.NX) !== 0 && current !== -1) return false;
  if ((flags & ExpireFlags.XX) !== 0 && current === -1) return false;
  if ((flags & ExpireFlags.GT) !== 0 && (current === -1 || ttlMs <= current)) return false;
  if ((flags & ExpireFlags.LT) !== 0 && current !== -1 && ttlMs >= current) return false;
  return true;
}

export function valueOf(owner: string, r: RawResponse): Buffer | null {
  if (r.status === Status.NOT_FOUND) return null;
  expectOk(owner, r);
  // RawResponse values are already copied out of the peer connection's read buffer.
  return r.value;
}

export function foundOrNot(owner: string, r: RawResponse): boolean {
  if (r.status === Status.NOT_FOUND) return false;
  expectOk(owner, r);
  return true;
}

export function storedOrNot(owner: string, r: RawResponse): boolean {
  if (r.status === Status.NOT_STORED) return false;
  expectOk(owner, r);
  return true;
}

/** The signed int64 in a response's extras (INCR's new value). */
export function int64Of(r: RawResponse): bigint {
  return BigInt.asIntN(64, (BigInt(r.extrasHigh) << 32n) | BigInt(r.extrasLow));
}

/** A TTL answer's PTTL: ms left, −1 without expiry, −2 absent. */
export function pttlOf(owner: string, r: RawResponse): number {
  expectOk(owner, r);
  return (r.extrasHigh | 0) * TWO_32 + r.extrasLow;
}

/** Throws the error a single node would raise for the owner's error status (same RESP wording). */
export function expectOk(owner: string, r: RawResponse): void {
  if (r.status === Status.OK) return;
  const message = r.value.toString('utf8');
  switch (r.status) {
    case Status.NOT_INTEGER:
      throw new NotIntegerError();
    case Status.OVERFLOW:
      throw new OverflowError();
    case Status.OUT_OF_MEMORY:
      throw new OutOfMemoryError(message);
    case Status.KEY_TOO_LARGE:
    case Status.VALUE_TOO_LARGE:
    case Status.BAD_ARGUMENT:
      throw new InvalidArgumentError(message);
    case Status.SHUTTING_DOWN: {
      const error = new ShuttingDownError();
      error.message = `the key's owner ${owner} is shutting down; retry once it has left (its keys move to other members)`;
      throw error;
    }
    case Status.UNAVAILABLE:
      throw new UnavailableError(`${owner}: ${message}`);
    default:
      throw new ServerError(`${owner} answered ${statusName(r.status)}${message === '' ? '' : `: ${message}`}`);
  }
}

/** The store counters of a member's STATS answer, range-checked (a peer's bytes are not trusted). */
export function storeStatsOf(peer: string, body: Buffer): PeerStoreStats {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ServerError(`${peer} sent malformed STATS`);
  }
  const store = (parsed as { store?: Record<string, unknown> } | null)?.store;
  const count = (name: string): number => {
    const v = store?.[name];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ServerError(`${peer} sent STATS without store.${name}`);
    return v;
  };
  return { items: count('items'), expiringItems: count('expiringItems'), bytesUsed: count('bytesUsed') };
}

export function clusterIncomplete(what: string, missing: PeerAnswer[], note = ''): UnavailableError {
  const list = missing.map((a) => `${a.peer} (${messageOf(a.error)})`).join(', ');
  return new UnavailableError(
    `${what} needs every member and ${missing.length === 1 ? 'this one' : 'these'} did not answer: ${list}${note === '' ? '' : `; ${note}`}`,
  );
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
