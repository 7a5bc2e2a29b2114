/**
 * startNode: the composition root (docs/ARCHITECTURE.md, "The composition root"). It builds a node in the order
 * its parts depend on each other: the binary port is bound first (the node's member id is its address), then
 * the store, membership and the ring (Cluster), the local command handler and the router in front of it; the
 * router is attached to the port, the RESP port (when asked for) listens, and only then does the node join the
 * cluster. A node without seeds is a cluster of one that others can join. The CLI is a thin shell around this.
 */
import { Store } from '../cache/store';
import { isNativeAccelerationEnabled, nativeUnavailableReason } from '../consistent/native';
import { ConfigError } from '../errors';
import { createLogger } from '../logger';
import { formatHostPort, type HostPort } from '../net/address';
import { NodeBudgets } from '../net/held-memory';
import { ResponseCap } from '../net/response-cap';
import type { RespServer } from '../resp/resp-server';
import { KeyRouter } from '../routing/key-router';
import { isAllocatorTuned } from '../server/allocator';
import { Cluster, type ClusterOptions } from '../server/cluster';
import { LocalCommandHandler } from '../server/local-commands';
import { clusterKeyOf } from '../server/member-auth';
import { createNodeRespServer } from '../server/node-resp';
import { resolveNodeOptions, type NodeOptions, type ResolvedNodeOptions } from '../server/node-options';
import { ClusterRespBackend } from '../server/resp-cluster-backend';
import { ClusterRouter } from '../server/router';
import { ServerStats } from '../server/server-stats';
import { CacheServer } from '../server/binary-server';
import { BoundPort } from './binary-port';
import type { CacheNode, MemberInfo } from './cache-node';
import { registerInternals } from './internals';

export async function startNode(options: NodeOptions = {}): Promise<CacheNode> {
  const resolved = resolveNodeOptions(options);
  const logger = options.logger ?? createLogger('info');
  logger.info(
    isNativeAccelerationEnabled
      ? 'hashing and ring lookups: native addon'
      : `hashing and ring lookups: TypeScript fallback (${nativeUnavailableReason ?? 'no native addon'}); same results, slower`,
  );
  const stats = new ServerStats();
  // Memory held for requests, summed over every connection of both ports (held-memory.ts).
  const budgets = new NodeBudgets(resolved.inputTotalLimitBytes, resolved.outputTotalLimitBytes);
  const boundPort = await BoundPort.bind(resolved);
  // From here to server.serve() everything is synchronous: no connection is taken meanwhile (binary-port.ts).
  const bound = boundPort.address;
  if (!resolved.advertise && (bound.host === '0.0.0.0' || bound.host === '::')) {
    await boundPort.release();
    budgets.stop();
    throw new ConfigError(`listening on ${bound.host} needs --advertise HOST:PORT: the address other members and clients use`);
  }
  if (resolved.authToken !== undefined && resolved.clusterToken === undefined) {
    logger.warn(
      'members prove the client token (--auth-token) to each other: a client holding it could run a node and join; set --cluster-token',
    );
  }
  const clock = options.clock ? { clock: options.clock } : {};
  const store = new Store({
    maxMemoryBytes: resolved.maxMemoryBytes,
    maxKeyBytes: resolved.maxKeyBytes,
    maxValueBytes: resolved.maxValueBytes,
    ...clock,
  });
  const cluster = new Cluster(clusterOptions(resolved, bound, store), logger);
  // STATS is answered by the local handler, which sits below the router and the port whose counters it reports:
  // the one cycle among the node's parts. This function closes it; it runs only when STATS is asked, once the
  // port serves, when all exist.
  const statsSections = (): Record<string, unknown> => ({
    cluster: cluster.stats(),
    routing: router.counters,
    replication: cluster.movement.replicationStats(),
    bufferPool: port.bufferPool.stats(),
    reads: { shared: port.sharedReads, bufferBytes: resolved.readBufferBytes },
    allocator: { tuned: isAllocatorTuned() },
    heldMemory: budgets.stats(),
  });
  const local = new LocalCommandHandler(store, stats, resolved, statsSections, new ResponseCap(resolved.maxResponseBytes, budgets.output));
  local.epoch = cluster.ring.epoch;
  cluster.onEpoch((epoch) => (local.epoch = epoch));
  const router = new ClusterRouter(
    local,
    new KeyRouter(local.keys, cluster, cluster.peers, cluster.movement, cluster.movement.replicas),
    cluster,
    resolved,
  );
  // Hellos from other members are checked from the first connection (before the join: the first join needs it).
  const port = new CacheServer(resolved, router, cluster.memberGate, stats, logger, Date.now, budgets);
  port.serve(boundPort.server);

  let resp: RespServer | undefined;
  if (resolved.respListen) {
    resp = createNodeRespServer({
      addr: formatHostPort(resolved.respListen),
      store,
      limits: resolved,
      logger,
      ...clock,
      // Keys route through the cluster like the binary port; DBSIZE, FLUSHALL and INFO speak for the cluster.
      backend: new ClusterRespBackend(cluster, router.keys, options.clock),
      budgets,
    });
    try {
      await resp.listen();
    } catch (error) {
      await cluster.close();
      await port.close(0);
      budgets.stop();
      store.close();
      throw error;
    }
  }
  cluster.start();
  return assemble({ port, bound, resp, cluster, local, store, budgets, handoffTimeoutMs: resolved.handoffTimeoutMs });
}

/** The cluster side's settings: membership timings, peers' deadlines, the members' key, the source address. */
function clusterOptions(resolved: ResolvedNodeOptions, bound: HostPort, store: Store): ClusterOptions {
  return {
    selfId: formatHostPort(resolved.advertise ?? bound),
    store,
    seeds: resolved.join,
    vnodes: resolved.vnodes,
    replicas: resolved.replicas,
    membership: {
      probeIntervalMs: resolved.probeIntervalMs,
      probeTimeoutMs: resolved.probeTimeoutMs,
      indirectProbes: resolved.indirectProbes,
      suspicionTimeoutMs: resolved.suspicionTimeoutMs,
      syncIntervalMs: resolved.syncIntervalMs,
      forgetAfterMs: 60_000,
    },
    forwardTimeoutMs: resolved.forwardTimeoutMs,
    movement: { busyShare: resolved.transferSharePercent / 100 },
    connectTimeoutMs: 1000,
    clusterKey: clusterKeyOf(resolved.clusterToken, resolved.authToken),
    // Peer connections leave from the node's own address when it listens on a specific one.
    ...(bound.host === '0.0.0.0' || bound.host === '::' ? {} : { localAddress: bound.host }),
  };
}

interface NodeParts {
  port: CacheServer;
  bound: HostPort;
  resp: RespServer | undefined;
  cluster: Cluster;
  local: LocalCommandHandler;
  store: Store;
  budgets: NodeBudgets;
  handoffTimeoutMs: number;
}

/** The CacheNode over a started node's parts: the public surface, plus the internals registered for tests. */
function assemble({ port, bound, resp, cluster, local, store, budgets, handoffTimeoutMs }: NodeParts): CacheNode {
  let closing: Promise<void> | undefined;
  const node: CacheNode = {
    address: formatHostPort(bound),
    host: bound.host,
    port: bound.port,
    respAddress: resp?.address,
    respPort: resp?.port,
    stats: () => local.statsSnapshot(),
    members: () => membersOf(cluster),
    close() {
      closing ??= (async () => {
        // Warm leave (docs/ARCHITECTURE.md, "Data movement"): hand the ranges over while still serving.
        await cluster.handOff(handoffTimeoutMs);
        local.draining = true;
        await cluster.leave();
        await Promise.all([port.close(), resp?.close()]);
        await cluster.close();
        budgets.stop();
        store.close();
      })();
      return closing;
    },
    kill() {
      closing ??= (async () => {
        await cluster.close();
        await Promise.all([port.close(0), resp?.close()]);
        budgets.stop();
        store.close();
      })();
      return closing;
    },
  };
  registerInternals(node, { store, cluster });
  return node;
}

function membersOf(cluster: Cluster): MemberInfo[] {
  return cluster.membership.table
    .all()
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((member) => ({ id: member.id, address: member.id, state: member.state, incarnation: member.incarnation }));
}
