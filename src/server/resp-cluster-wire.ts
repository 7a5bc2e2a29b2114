/**
 * What the cluster-wide RESP commands (resp-cluster-scope.ts) need of the node's Cluster, and what they make of
 * the members' answers: STATS counters, range-checked, and the error naming the members that did not answer.
 */
import { ServerError, UnavailableError } from '../errors';
import type { HashRing } from '../consistent/ring';
import type { MemberState } from '../discovery/member';
import { messageOf, type PeerRequester } from '../routing/peer-answers';

/** What the cluster-wide commands need of the node's Cluster (src/server/cluster.ts satisfies it). */
export interface RespClusterView {
  readonly selfId: string;
  readonly ring: Pick<HashRing, 'epoch' | 'checksum' | 'size'>;
  readonly peers: Pick<PeerRequester, 'request'>;
  readonly membership: { readonly table: { all(): ReadonlyArray<{ readonly id: string; readonly state: MemberState }> } };
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
