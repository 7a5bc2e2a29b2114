'use strict';
// The client's everyday calls against one node. From a clone, after `npm ci` (which builds dist/):
//   node examples/quick-start.js                  starts a node of its own on a free port
//   node examples/quick-start.js 127.0.0.1:7000   uses a running node instead (or DCACHE_ADDR=127.0.0.1:7000)
const { Client, startNode } = require('distributed-cache');

// A node logs to stderr at 'info'; keep only its warnings and errors here.
const logger = { debug() {}, info() {}, warn: console.warn, error: console.error };

async function main() {
  const given = process.argv[2] ?? process.env.DCACHE_ADDR;
  const node = given ? null : await startNode({ addr: '127.0.0.1:0', logger });
  const client = new Client({ nodes: [given ?? node.address] });
  try {
    await client.set('user:42', JSON.stringify({ name: 'Ada' }), { ttlMs: 60_000 });
    console.log('get user:42 ->', (await client.get('user:42')).toString()); // {"name":"Ada"}
    console.log('ttl user:42 ->', await client.ttl('user:42'), 'ms'); // just under 60000; -1: no expiry, -2: missing
    console.log('set nx user:42 ->', await client.set('user:42', 'other', { mode: 'nx' })); // false: it exists
    await client.delete('visits');
    console.log('incr visits ->', await client.incr('visits')); // 1: a missing key counts as 0
    console.log('incr visits 10 ->', await client.incr('visits', 10)); // 11
    console.log('mget ->', await client.mget(['user:42', 'nope'])); // [ <Buffer ...>, null ]
    console.log('delete user:42 ->', await client.delete('user:42')); // true
    console.log('get user:42 ->', await client.get('user:42')); // null
    // Errors are typed, with a stable code to switch on.
    await client.set('greeting', 'hello');
    await client.incr('greeting').catch((error) => console.log('incr greeting ->', error.code)); // ERR_NOT_INTEGER
  } finally {
    await client.close();
    await node?.close();
  }
}

main().catch((error) => {
  console.error(error.code ?? '', error.message);
  process.exit(1);
});
