'use strict';
// A smoke test of an installed build: the native addon is in use when DCACHE_REQUIRE_NATIVE=1, the hash gives
// its published answers, and a node serves SET and GET to a client. Used on release runners that cannot run the
// whole suite.
const assert = require('node:assert');
const path = require('node:path');

async function main() {
  const cache = require(path.join(__dirname, '..'));
  if (process.env.DCACHE_REQUIRE_NATIVE === '1') assert.strictEqual(cache.isNativeAccelerationEnabled, true, 'the native addon is in use');
  assert.strictEqual(cache.hash32('abc'), 0x32d153ff);
  const node = await cache.startNode({ addr: '127.0.0.1:0' });
  const client = new cache.Client({ nodes: [node.address] });
  try {
    await client.set('smoke', 'ok');
    assert.strictEqual(String(await client.get('smoke')), 'ok');
  } finally {
    await client.close();
    await node.close();
  }
  console.log(`smoke test passed (native addon: ${cache.isNativeAccelerationEnabled})`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
