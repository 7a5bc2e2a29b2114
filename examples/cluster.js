'use strict';
// A three-node cluster in one process, a smart client that routes each key to its owner, and a graceful leave.
// From a clone, after `npm ci`:
//   node examples/cluster.js                               starts three nodes of its own on free ports
//   DCACHE_NODES=127.0.0.1:7000,127.0.0.1:7001 node examples/cluster.js   uses a running cluster (no leave)
const { Client, HashRing, startNode } = require('distributed-cache');

const logger = { debug() {}, info() {}, warn: console.warn, error: console.error };
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The members a node sees alive (a proxy client asks that one node every time). */
async function aliveAt(address) {
  const client = new Client({ nodes: [address], routing: 'proxy' });
  try {
    return (await client.members()).filter((m) => m.state === 'alive').map((m) => m.id);
  } finally {
    await client.close();
  }
}

/** Keys held by one node: its STATS, asked through a proxy client. */
async function itemsAt(address) {
  const client = new Client({ nodes: [address], routing: 'proxy' });
  try {
    return (await client.stats()).store.items;
  } finally {
    await client.close();
  }
}

/** Polls until every address sees `count` members alive. */
async function waitForMembers(addresses, count) {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(50)) {
    const views = await Promise.all(addresses.map(aliveAt));
    if (views.every((alive) => alive.length === count)) return views[0];
  }
  throw new Error(`the nodes did not all see ${count} members within 10 s`);
}

async function main() {
  const given = (process.argv[2] ?? process.env.DCACHE_NODES)?.split(',');
  const nodes = [];
  if (!given) {
    // The first node starts a cluster of one; the others join through it (any member can be the seed).
    nodes.push(await startNode({ addr: '127.0.0.1:0', logger }));
    for (let i = 1; i < 3; i++) nodes.push(await startNode({ addr: '127.0.0.1:0', join: [nodes[0].address], logger }));
  }
  const seeds = given ?? nodes.map((node) => node.address);
  let members = given ? await aliveAt(seeds[0]) : await waitForMembers(seeds, 3);
  console.log(`members: ${members.length} alive`);

  // 'smart' (the default): the client learns the members from any node and sends each key to its owner.
  const client = new Client({ nodes: seeds });
  try {
    const keys = Array.from({ length: 1000 }, (_, i) => `key:${i}`);
    await client.mset(keys.map((key) => [key, `value of ${key}`]));
    console.log(`mset: ${keys.length} keys`);
    for (const member of members) console.log(`  ${member} holds ${await itemsAt(member)} keys`);

    // Every node and every smart client compute the same owner with the same ring.
    const ring = new HashRing();
    ring.setNodes(members);
    console.log(`owner of key:42: ${ring.lookup('key:42')}`);

    if (given) return;
    // A graceful stop: the node announces `leaving`, the members that gain its ranges pull them, then it leaves.
    const leaving = nodes.pop();
    await leaving.close();
    const remaining = nodes.map((node) => node.address);
    members = await waitForMembers(remaining, 2);
    console.log(`${leaving.address} left: ${members.length} members alive`);
    // Its keys moved to the others before it went: every key is still there.
    const values = await client.mget(keys);
    const hits = values.filter((value) => value !== null).length;
    console.log(`mget after the leave: ${hits} hits, ${keys.length - hits} misses`);
  } finally {
    await client.close();
    for (const node of nodes) await node.close();
  }
}

main().catch((error) => {
  console.error(error.code ?? '', error.message);
  process.exit(1);
});
