/** In-process clusters for tests: nodes on ephemeral loopback ports with fast membership timings. */
import type { CacheNode } from '../../src/server/node';
import type { NodeOptions } from '../../src/server/options';
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
  return node.cluster.membership.table
    .all()
    .filter((member) => member.state === 'alive')
    .map((member) => member.id)
    .sort();
}

/** True when every node sees exactly these members alive and all rings share one checksum. */
export function converged(nodes: CacheNode[], expected: string[] = nodes.map((node) => node.address)): boolean {
  const want = [...expected].sort().join(',');
  const checksum = nodes[0]!.cluster.ring.checksum;
  return nodes.every((node) => aliveIds(node).join(',') === want && node.cluster.ring.checksum === checksum);
}

export async function startCluster(count: number, options: NodeOptions = {}): Promise<CacheNode[]> {
  const seed = await startTestNode({ ...FAST_MEMBERSHIP, ...options });
  const nodes = [seed];
  for (let i = 1; i < count; i++) nodes.push(await startTestNode({ ...FAST_MEMBERSHIP, ...options, join: [seed.address] }));
  await eventually(() => converged(nodes), `${count} nodes to converge`);
  return nodes;
}
