/**
 * startNode: the embeddable node. A store, the local command handler, the cluster (membership, ring, peers)
 * and the router in front of them, behind one TCP listener. A node without seeds is a cluster of one that
 * others can join. The CLI is a thin shell around this.
 */
import { Store } from '../cache/store';
import { isNativeAccelerationEnabled, nativeUnavailableReason } from '../consistent/native';
import { createNodeRespServer } from './node-resp';
import { ClusterRespBackend } from './resp-cluster-backend';
import { KeyRouter } from '../routing/key-router';
import type { RespServer } from '../resp/server';
import { ConfigError } from '../errors';
import { formatHostPort } from '../net/address';
import { isAllocatorTuned } from './allocator';
import { Cluster } from './cluster';
import { LocalCommandHandler } from './commands';
import { NodeBudgets } from '../net/held-memory';
import { ResponseCap } from '../net/response-cap';
import { createLogger } from '../logger';
import { clusterKeyOf } from './member-auth';
import { resolveNodeOptions, type NodeOptions } from './options';
import { ClusterRouter } from './router';
import { CacheServer } from './server';
import { ServerStats } from './stats';

export interface CacheNode {
  /** host:port the node listens on (the real port when 0 was asked for); also its member id. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** The node's store, for embedding applications and tests. */
  readonly store: Store;
  /** The cluster side: membership table, ring, peers. */
  readonly cluster: Cluster;
  /** host:port of the Redis-protocol listener, when `respAddr` was given. */
  readonly respAddress: string | undefined;
  readonly respPort: number | undefined;
  /** The STATS snapshot, as a client would receive it. */
  stats(): Record<string, unknown>;
  /**
   * Graceful stop: announce `left` to the cluster, stop accepting, answer what arrives with SHUTTING_DOWN,
   * let in-flight responses drain (up to drainTimeoutMs), close connections and the store.
   */
  close(): Promise<void>;
  /** Abrupt stop for tests: no leave announcement, connections destroyed (peers will detect a failure). */
  kill(): Promise<void>;
}

export async function startNode(options: NodeOptions = {}): Promise<CacheNode> {
  const resolved = resolveNodeOptions(options);
  const logger = options.logger ?? createLogger('info');
  logger.info(
    isNativeAccelerationEnabled
      ? 'hashing and ring lookups: native addon'
      : `hashing and ring lookups: TypeScript fallback (${nativeUnavailableReason ?? 'no native addon'}); same results, slower`,
  );
  const store = new Store({
    maxMemoryBytes: resolved.maxMemoryBytes,
    maxKeyBytes: resolved.maxKeyBytes,
    maxValueBytes: resolved.maxValueBytes,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const stats = new ServerStats();
  // Memory held for requests, summed over every connection of both ports (held-memory.ts).
  const budgets = new NodeBudgets(resolved.inputTotalLimitBytes, resolved.outputTotalLimitBytes);
  let cluster: Cluster | undefined;
  let router: ClusterRouter | undefined;
  let server: CacheServer | undefined;
  const local = new LocalCommandHandler(
    store,
    stats,
    resolved,
    () => ({
      cluster: cluster?.stats(),
      routing: router?.counters,
      bufferPool: server?.bufferPool.stats(),
      reads: { shared: server?.sharedReads ?? false, bufferBytes: resolved.readBufferBytes },
      allocator: { tuned: isAllocatorTuned() },
      heldMemory: budgets.stats(),
    }),
    new ResponseCap(resolved.maxResponseBytes, budgets.output),
  );
  // The router needs the node's id, known only once the port is bound: it is created right after listen().
  server = new CacheServer(
    resolved,
    { handle: (frame, out, replies) => (router ? router.handle(frame, out, replies) : local.handle(frame, out)) },
    stats,
    logger,
    Date.now,
    budgets,
  );
  try {
    await server.listen();
  } catch (error) {
    store.close();
    throw error;
  }
  const bound = server.address;
  if (!resolved.advertise && (bound.host === '0.0.0.0' || bound.host === '::')) {
    await server.close(0);
    store.close();
    throw new ConfigError(`listening on ${bound.host} needs --advertise HOST:PORT: the address other members and clients use`);
  }
  const selfId = formatHostPort(resolved.advertise ?? bound);
  if (resolved.authToken !== undefined && resolved.clusterToken === undefined) {
    logger.warn(
      'members prove the client token (--auth-token) to each other: a client holding it could run a node and join; set --cluster-token',
    );
  }
  cluster = new Cluster(
    {
      selfId,
      store,
      seeds: resolved.join,
      vnodes: resolved.vnodes,
      membership: {
        probeIntervalMs: resolved.probeIntervalMs,
        probeTimeoutMs: resolved.probeTimeoutMs,
        indirectProbes: resolved.indirectProbes,
        suspicionTimeoutMs: resolved.suspicionTimeoutMs,
        syncIntervalMs: resolved.syncIntervalMs,
        forgetAfterMs: 60_000,
      },
      forwardTimeoutMs: resolved.forwardTimeoutMs,
      connectTimeoutMs: 1000,
      clusterKey: clusterKeyOf(resolved.clusterToken, resolved.authToken),
      // Peer connections leave from the node's own address when it listens on a specific one.
      ...(bound.host === '0.0.0.0' || bound.host === '::' ? {} : { localAddress: bound.host }),
    },
    logger,
  );
  // Hellos from other members are checked from now on (before start: the first join already needs it).
  server.setMemberHandshake(cluster.memberGate);
  local.epoch = cluster.ring.epoch;
  cluster.onEpoch((epoch) => (local.epoch = epoch));
  router = new ClusterRouter(local, new KeyRouter(local.keys, cluster, cluster.peers), cluster, resolved);
  cluster.start();
  const activeCluster = cluster;

  let resp: RespServer | undefined;
  if (resolved.respListen) {
    resp = createNodeRespServer({
      addr: formatHostPort(resolved.respListen),
      store,
      limits: resolved,
      logger,
      ...(options.clock ? { clock: options.clock } : {}),
      // Keys route through the cluster like the binary port; DBSIZE, FLUSHALL and INFO speak for the cluster.
      backend: new ClusterRespBackend(activeCluster, router.keys, options.clock),
      budgets,
    });
    try {
      await resp.listen();
    } catch (error) {
      await activeCluster.close();
      await server.close(0);
      store.close();
      throw error;
    }
  }
  const respServer = resp;

  let closing: Promise<void> | undefined;
  return {
    address: formatHostPort(bound),
    host: bound.host,
    port: bound.port,
    store,
    cluster: activeCluster,
    respAddress: respServer?.address,
    respPort: respServer?.port,
    stats: () => local.statsSnapshot(),
    close() {
      closing ??= (async () => {
        local.draining = true;
        await activeCluster.leave();
        await Promise.all([server.close(), respServer?.close()]);
        await activeCluster.close();
        budgets.stop();
        store.close();
      })();
      return closing;
    },
    kill() {
      closing ??= (async () => {
        await activeCluster.close();
        await Promise.all([server.close(0), respServer?.close()]);
        budgets.stop();
        store.close();
      })();
      return closing;
    },
  };
}
