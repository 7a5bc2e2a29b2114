/**
 * A 3-node cluster with 64 in flight, 16-byte keys, 100-byte values: the smart client (each key straight to its
 * owner) vs the proxy client (everything through one node, which forwards) vs one node alone. ops/s and
 * p50/p99/p99.9. All nodes share CPU 0 when taskset exists, so the cluster gains from routing, not from more CPU.
 */
import { Client } from '../src/client/client';
import { formatRow, runLoad, type LoadResult } from './helpers/load';
import { ensureBuilt, hasTaskset, startCluster, startNode, stopAll } from './helpers/nodes';

async function measure(client: Client, durationMs: number): Promise<[LoadResult, LoadResult]> {
  await client.members().catch(() => undefined);
  return [await runLoad(client, 'set', 64, durationMs), await runLoad(client, 'get', 64, durationMs)];
}

async function main(): Promise<void> {
  const durationMs = process.argv.includes('--quick') ? 1000 : 3000;
  ensureBuilt();
  const single = await startNode();
  const cluster = await startCluster(3);
  const clients = {
    one: new Client({ nodes: [single.address] }),
    smart: new Client({ nodes: cluster, routing: 'smart' }),
    proxy: new Client({ nodes: [cluster[0]!], routing: 'proxy' }),
  };
  try {
    // Wait until the smart client routes over all three.
    for (let i = 0; i < 100 && (await clients.smart.members()).filter((m) => m.state === 'alive').length < 3; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const one = await measure(clients.one, durationMs);
    const smart = await measure(clients.smart, durationMs);
    const proxy = await measure(clients.proxy, durationMs);
    console.log(
      `\n3-node cluster vs one node, 64 in flight (nodes ${hasTaskset ? 'pinned to CPU 0' : 'not pinned'}; load in this process)`,
    );
    console.table([
      formatRow('SET: one node', one[0]),
      formatRow('SET: 3 nodes, smart client', smart[0], one[0]),
      formatRow('SET: 3 nodes, proxy client', proxy[0], one[0]),
      formatRow('GET: one node', one[1]),
      formatRow('GET: 3 nodes, smart client', smart[1], one[1]),
      formatRow('GET: 3 nodes, proxy client', proxy[1], one[1]),
    ]);
  } finally {
    await Promise.all(Object.values(clients).map((client) => client.close()));
    stopAll();
  }
}

void main().catch((error) => {
  console.error(error);
  stopAll();
  process.exit(1);
});
