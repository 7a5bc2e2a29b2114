/** In-process clusters for tests: nodes on ephemeral loopback ports with fast membership timings. */
import type { CacheNode } from '../../src/server/node';
import type { NodeOptions } from '../../src/server/options';
import { startTestNode } from './node';

export const FAST_MEMBERSHIP: NodeOptions = {
  probeIntervalMs: 50,
  probeTimeoutMs: 100,
  suspicionTimeoutMs: 400,
  syncIntervalMs: 200,
  forwardTimeoutMs: 300,
};

/** Resolves once `check` holds, re-checking on a short timer; fails with `what` after timeoutMs. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

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
