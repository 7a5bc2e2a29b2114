/**
 * Which node a request without an owner goes to (proxy routing, smart routing before it knows the ring or while
 * the owner is down, TOPOLOGY, PING/STATS/FLUSH), and the error when there is none.
 */
import { AuthError, ConnectionError, type DCacheError } from '../errors';
import type { NodeConnection } from './connection';

/**
 * The first ready seed that is not draining, else (smart routing) a ready member learnt from the topology,
 * else the first connecting seed, else the first idle one (which starts connecting), else a draining one.
 * Backing-off nodes are skipped: they are known down.
 */
export function pickNode(seeds: readonly NodeConnection[], byId: ReadonlyMap<string, NodeConnection>): NodeConnection | null {
  const first = seeds[0]!;
  if (first.state === 'ready' && !first.draining) return first;
  let ready: NodeConnection | null = null;
  let connecting: NodeConnection | null = null;
  let idle: NodeConnection | null = null;
  for (const c of seeds) {
    if (c.state === 'ready') {
      if (!c.draining) return c;
      if (ready === null) ready = c;
    } else if (c.state === 'connecting') {
      if (connecting === null) connecting = c;
    } else if (c.state === 'idle' && idle === null) {
      idle = c;
    }
  }
  // No seed is ready (the seeds may all have left the cluster): a member the topology named.
  if (byId.size > seeds.length) {
    for (const c of byId.values()) if (c.state === 'ready' && !c.draining) return c;
  }
  // A draining node answers SHUTTING_DOWN to everything but PING and STATS: any other node is better.
  return connecting ?? idle ?? ready;
}

/** No node to send to (the client is open). */
export function unreachableError(seeds: readonly NodeConnection[]): DCacheError {
  const reasons = seeds.map((c) => `${c.address.id}: ${c.lastError?.message ?? c.state}`).join('; ');
  // Every node refused the token: a configuration problem, typed as such rather than as a network one.
  if (seeds.every((c) => c.lastError instanceof AuthError)) return new AuthError(`no node accepted the auth token (${reasons})`);
  return new ConnectionError(`no node is reachable (${reasons}); reconnecting in the background`);
}
