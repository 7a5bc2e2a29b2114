/** In-process clusters for tests: nodes on ephemeral loopback ports with fast membership timings. */
import type { CacheNode } from '../../src/node/cache-node';
import { nodeInternals } from '../../src/node/internals';
import type { NodeOptions } from '../../src/server/node-options';
import { startTestNode } from './node';
import { eventually } from './wait';

export { eventually };

export const FAST_MEMBERSHIP: NodeOptions = {
  probeIntervalMs: 50,
  probeTimeoutMs: 100,
  suspicionTimeoutMs: 400,
  syncIntervalMs: 200,
  forwardTimeoutMs: 300,
};

export function aliveIds(node: CacheNode): string[] {
  return node
    .members()
    .filter((member) => member.state === 'alive')
    .map((member) => member.id);
}

/** True when every node sees exactly these members alive and all rings share one checksum. */
export function converged(nodes: CacheNode[], expected: string[] = nodes.map((node) => node.address)): boolean {
  const want = [...expected].sort().join(',');
  const checksum = nodeInternals(nodes[0]!).cluster.ring.checksum;
  return nodes.every((node) => aliveIds(node).join(',') === want && nodeInternals(node).cluster.ring.checksum === checksum);
}

export async function startCluster(count: number, options: NodeOptions = {}): Promise<CacheNode[]> {
  const seed = await startTestNode({ ...FAST_MEMBERSHIP, ...options });
  const nodes = [seed];
  for (let i = 1; i < count; i++) nodes.push(await startTestNode({ ...FAST_MEMBERSHIP, ...options, join: [seed.address] }));
  await eventually(() => converged(nodes), `${count} nodes to converge`);
  return nodes;
}

/** True when no node has a pull of moved ranges pending (docs/ARCHITECTURE.md, "Data movement"). */
export function movementSettled(nodes: CacheNode[]): boolean {
  return nodes.every((node) => !nodeInternals(node).cluster.movement.active);
}
