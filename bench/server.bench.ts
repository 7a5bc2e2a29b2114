/**
 * Our client against one node (compiled, pinned to CPU 0 when taskset exists): 16-byte keys, 100-byte values,
 * SET and GET, one request at a time and 64 in flight; ops/s and p50/p99/p99.9. The side-by-side comparison
 * with redis-server and memcached is bench/compare.ts.
 */
import { Client } from '../src/client/client';
import { formatRow, runLoad } from './helpers/load';
import { ensureBuilt, hasTaskset, startNode, stopAll } from './helpers/nodes';

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  ensureBuilt();
  const node = await startNode();
  const client = new Client({ nodes: [node.address], routing: 'proxy' });
  const rows: Array<Record<string, string>> = [];
  try {
    for (const inFlight of [1, 64]) {
      for (const op of ['set', 'get'] as const) {
        const result = await runLoad(client, op, inFlight, quick ? 1000 : 3000);
        rows.push(formatRow(`${op.toUpperCase()} 100 B, ${inFlight === 1 ? 'one at a time' : `${inFlight} in flight`}`, result));
      }
    }
  } finally {
    await client.close();
    stopAll();
  }
  console.log(
    `\nClient → one node (node ${hasTaskset ? 'pinned to CPU 0' : 'not pinned: taskset missing'}; the load runs in this process)`,
  );
  console.table(rows);
}

void main().catch((error) => {
  console.error(error);
  stopAll();
  process.exit(1);
});
