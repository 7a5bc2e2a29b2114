/** Start nodes on ephemeral loopback ports, and close every node a test suite started, even after a failure. */
import type { CacheNode } from '../../src/node/cache-node';
import { startNode } from '../../src/node/start-node';
import type { NodeOptions } from '../../src/server/node-options';
import { silentLogger } from '../../src/logger';

const started = new Set<CacheNode>();

export async function startTestNode(options: NodeOptions = {}): Promise<CacheNode> {
  const node = await startNode({ addr: '127.0.0.1:0', logger: silentLogger, drainTimeoutMs: 1000, ...options });
  started.add(node);
  return node;
}

export async function closeAllNodes(): Promise<void> {
  const nodes = [...started];
  started.clear();
  await Promise.all(nodes.map((node) => node.close()));
}
