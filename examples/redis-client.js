'use strict';
// Any Redis client works against the node's RESP port; here ioredis (a devDependency, so present in a clone).
// From a clone, after `npm ci`:
//   node examples/redis-client.js                   starts a node of its own with a RESP port on a free port
//   node examples/redis-client.js 127.0.0.1:6380    uses a running node's --resp-addr (or DCACHE_RESP_ADDR=…)
const Redis = require('ioredis');
const { startNode } = require('distributed-cache');

const logger = { debug() {}, info() {}, warn: console.warn, error: console.error };

async function main() {
  const given = process.argv[2] ?? process.env.DCACHE_RESP_ADDR;
  const node = given ? null : await startNode({ addr: '127.0.0.1:0', respAddr: '127.0.0.1:0', logger });
  const [host, port] = given ? given.split(':') : [node.host, String(node.respPort)];
  const redis = new Redis({ host: host || '127.0.0.1', port: Number(port) });
  try {
    console.log('SET greeting hello ->', await redis.set('greeting', 'hello', 'EX', 60)); // OK
    console.log('GET greeting ->', await redis.get('greeting')); // hello
    console.log('TTL greeting ->', await redis.ttl('greeting')); // 60
    await redis.del('visits');
    console.log('INCR visits ->', await redis.incr('visits')); // 1
    console.log('MSET a b ->', await redis.mset('a', '1', 'b', '2')); // OK
    console.log('MGET a b nope ->', await redis.mget('a', 'b', 'nope')); // [ '1', '2', null ]
    // Pipelined: one write, the answers in order ([ 'OK', 'x', 1 ]).
    const answers = await redis.pipeline().set('p', 'x').get('p').del('p').exec();
    const values = answers.map(([error, value]) => error ?? value);
    console.log('pipeline ->', values);
    // Commands outside a cache's set (lists, hashes, …) get Redis's own error.
    await redis.lpush('list', 'x').catch((error) => console.log('LPUSH ->', error.message));
  } finally {
    await redis.quit();
    await node?.close();
  }
}

main().catch((error) => {
  console.error(error.message);
  process.exit(1);
});
