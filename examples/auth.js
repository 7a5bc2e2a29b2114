'use strict';
// A node that requires a token: clients send it first, members prove a separate cluster token.
// From a clone, after `npm ci`:
//   node examples/auth.js
// (the CLI equivalent: distributed-cache --addr :7000 --auth-token … --cluster-token …, or DCACHE_AUTH_TOKEN and
// DCACHE_CLUSTER_TOKEN in the environment)
const { randomBytes } = require('node:crypto');
const { Client, startNode } = require('distributed-cache');

const logger = { debug() {}, info() {}, warn: console.warn, error: console.error };

async function main() {
  const authToken = randomBytes(24).toString('base64url');
  const clusterToken = randomBytes(24).toString('base64url'); // give this one to the nodes only
  const node = await startNode({ addr: '127.0.0.1:0', authToken, clusterToken, logger });
  const withToken = new Client({ nodes: [node.address], authToken });
  const without = new Client({ nodes: [node.address] });
  const wrong = new Client({ nodes: [node.address], authToken: 'not-the-token' });
  try {
    await withToken.set('secret', 'only for token holders');
    console.log('with the token ->', String(await withToken.get('secret')));
    await without.get('secret').catch((error) => console.log('without a token ->', error.code));
    await wrong.get('secret').catch((error) => console.log('with a wrong token ->', error.code));
  } finally {
    await Promise.all([withToken.close(), without.close(), wrong.close()]);
    await node.close();
  }
}

main().catch((error) => {
  console.error(error.code ?? '', error.message);
  process.exit(1);
});
