/**
 * The commands that speak for the whole cluster on a cluster node's RESP port: DBSIZE sums this node's items
 * and every other alive or suspect member's (STATS); FLUSHDB/FLUSHALL empty this node and send FLUSH to each;
 * INFO keyspace sums the cluster and INFO cluster lists the members (id, state), the ring epoch and checksum.
 * cluster_enabled stays 0: the cluster sits behind each node's one address, there are no Redis Cluster
 * redirects. DBSIZE and FLUSH answer -ERR naming the members that did not answer; INFO never fails (ioredis
 * runs it before anything else) and says how many members it could not reach.
 */
import { ownsKeys } from '../discovery/member';
import { Opcode } from '../protocol/constants';
import type { LocalKeys } from '../routing/local-keys';
import { expectOk, type RawResponse } from '../routing/peer-answers';
import type { BackendInfo, MaybePromise } from '../resp/backend';
import { clusterIncomplete, storeStatsOf, type PeerAnswer, type RespClusterView } from './resp-cluster-wire';
import { bytesToHuman } from '../resp/info';

export class ClusterScope {
  constructor(
    private readonly cluster: RespClusterView,
    private readonly local: Pick<LocalKeys, 'size' | 'stats' | 'flush'>,
    private readonly counters: { readonly forwarded: number; readonly forwardFailures: number },
    /** Sends a keyless request (STATS, FLUSH) to a member; rejects with an error naming it when it does not answer. */
    private readonly ask: (peer: string, opcode: number) => Promise<RawResponse>,
    /** INFO's sections for this node alone. */
    private readonly nodeInfo: () => BackendInfo,
  ) {}

  dbsize(): MaybePromise<number> {
    const peers = this.otherOwners();
    const own = this.local.size;
    if (peers.length === 0) return own;
    return this.askAll(peers).then((answers) => {
      const missing = answers.filter((a) => a.stats === undefined);
      if (missing.length > 0) throw clusterIncomplete('DBSIZE', missing);
      return answers.reduce((sum, a) => sum + a.stats!.items, own);
    });
  }

  flush(): MaybePromise<void> {
    const peers = this.otherOwners();
    this.local.flush();
    if (peers.length === 0) return undefined;
    const parts = peers.map((peer) =>
      this.ask(peer, Opcode.FLUSH)
        .then((r): PeerAnswer => {
          expectOk(peer, r);
          return { peer };
        })
        .catch((error: unknown): PeerAnswer => ({ peer, error })),
    );
    return Promise.all(parts).then((answers) => {
      const missing = answers.filter((a) => a.error !== undefined);
      if (missing.length > 0) throw clusterIncomplete('FLUSHDB/FLUSHALL', missing, 'this node and the members that answered were flushed');
    });
  }

  info(): MaybePromise<BackendInfo> {
    const info = this.nodeInfo();
    const peers = this.otherOwners();
    if (peers.length === 0) return this.withCluster(info, [], []);
    return this.askAll(peers).then((answers) => this.withCluster(info, peers, answers));
  }

  /** Alive and suspect members other than this node: they own keys. */
  private otherOwners(): string[] {
    const self = this.cluster.selfId;
    return this.cluster.membership.table
      .all()
      .filter((m) => m.id !== self && ownsKeys(m.state))
      .map((m) => m.id)
      .sort();
  }

  /** STATS from each member; never rejects (an unreachable member gives an answer with `error`). */
  private askAll(peers: string[]): Promise<PeerAnswer[]> {
    return Promise.all(
      peers.map((peer) =>
        this.ask(peer, Opcode.STATS)
          .then((r): PeerAnswer => {
            expectOk(peer, r);
            return { peer, stats: storeStatsOf(peer, r.value) };
          })
          .catch((error: unknown): PeerAnswer => ({ peer, error })),
      ),
    );
  }

  private withCluster(info: BackendInfo, peers: string[], answers: PeerAnswer[]): BackendInfo {
    const s = this.local.stats();
    let keys = s.items;
    let expires = s.expiringItems;
    let memory = s.bytesUsed;
    let unreachable = 0;
    for (const answer of answers) {
      if (answer.stats === undefined) {
        unreachable++;
        continue;
      }
      keys += answer.stats.items;
      expires += answer.stats.expiringItems;
      memory += answer.stats.bytesUsed;
    }
    const ring = this.cluster.ring;
    const members = [...this.cluster.membership.table.all()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const cluster: Record<string, string | number> = {
      dcache_keyspace_scope: 'cluster',
      dcache_self: this.cluster.selfId,
      dcache_cluster_nodes: peers.length + 1,
      dcache_members: members.length,
      dcache_ring_epoch: ring.epoch,
      dcache_ring_checksum: ring.checksum,
      dcache_ring_owners: ring.size,
      dcache_unreachable_members: unreachable,
      dcache_forwarded: this.counters.forwarded,
      dcache_forward_failures: this.counters.forwardFailures,
    };
    members.forEach((m, i) => (cluster[`dcache_member${i}`] = `id=${m.id},state=${m.state}`));
    info['cluster'] = cluster;
    info['keyspace'] = keys > 0 ? { db0: `keys=${keys},expires=${expires},avg_ttl=0` } : {};
    info['memory'] = { ...info['memory'], dcache_cluster_used_memory: memory, dcache_cluster_used_memory_human: bytesToHuman(memory) };
    return info;
  }
}
