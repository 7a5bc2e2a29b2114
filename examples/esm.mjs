// The same package from an ES module: named imports, top-level await. From a clone, after `npm ci`:
//   node examples/esm.mjs                   starts a node of its own on a free port
//   node examples/esm.mjs 127.0.0.1:7000    uses a running node instead (or DCACHE_ADDR=127.0.0.1:7000)
import { Client, startNode } from 'distributed-cache';

const logger = { debug() {}, info() {}, warn: console.warn, error: console.error };
const given = process.argv[2] ?? process.env.DCACHE_ADDR;
const node = given ? null : await startNode({ addr: '127.0.0.1:0', logger });
const client = new Client({ nodes: [given ?? node.address] });
try {
  await client.set('esm', 'imported');
  console.log('get esm ->', String(await client.get('esm'))); // imported
  console.log('ping ->', (await client.ping()).toFixed(2), 'ms'); // the round trip
} finally {
  await client.close();
  await node?.close();
}
