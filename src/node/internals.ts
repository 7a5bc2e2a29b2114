/**
 * A started node's parts, for tests and benchmarks that look inside (the ring, the member table, the store):
 * not part of CacheNode's type, and not exported by the package (src/index.ts). startNode registers them.
 */
import type { Store } from '../cache/store';
import type { Cluster } from '../server/cluster';
import type { CacheNode } from './cache-node';

export interface NodeInternals {
  readonly store: Store;
  /** Membership, ring, peers and the stale-comeback guard (server/cluster.ts). */
  readonly cluster: Cluster;
}

const registry = new WeakMap<CacheNode, NodeInternals>();

export function registerInternals(node: CacheNode, internals: NodeInternals): void {
  registry.set(node, internals);
}

/** The parts of a node startNode returned; throws for any other object. */
export function nodeInternals(node: CacheNode): NodeInternals {
  const internals = registry.get(node);
  if (internals === undefined) throw new TypeError('not a node started by startNode');
  return internals;
}
