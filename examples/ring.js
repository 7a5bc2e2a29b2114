'use strict';
// The consistent-hash ring on its own: no node, no network. From a clone, after `npm ci`:
//   node examples/ring.js
const { HashRing, hash32, isNativeAccelerationEnabled } = require('distributed-cache');

const ring = new HashRing({ vnodes: 160 }); // 160 virtual nodes per node at weight 1 (1-4096)
ring.add('10.0.0.1:7000');
ring.add('10.0.0.2:7000');
ring.add('10.0.0.3:7000', 2); // weight 2: twice the points, about twice the keys
console.log('nodes:', ring.nodes.join(' '), '| size:', ring.size, '| epoch:', ring.epoch);

const spread = new Map(ring.nodes.map((node) => [node, 0]));
for (let i = 0; i < 100_000; i++) {
  const owner = ring.lookup(`user:${i}`);
  spread.set(owner, spread.get(owner) + 1);
}
console.log('100000 keys:', [...spread].map(([node, keys]) => `${node} ${keys}`).join(', '));

ring.setNodes(['a:7000', 'b:7000', 'c:7000']); // replace the membership with one rebuild
console.log('owner of user:42:', ring.lookup('user:42')); // b:7000 (undefined on an empty ring)
console.log('two owners of user:42:', ring.lookupN('user:42', 2)); // two distinct nodes in ring order, the owner first
console.log('owners of user:1 user:2:', ring.lookupMany(['user:1', 'user:2'])); // many keys, one native call

// Routing many keys without a string per key: offset/length pairs into one Buffer, owner indices out.
const keys = Buffer.from('user:0user:1user:4'); // three keys of 6 bytes each
const spans = Uint32Array.of(0, 6, 6, 6, 12, 6);
const owners = new Int32Array(3);
ring.lookupBatch(keys, spans, 3, owners); // one native call
console.log('lookupBatch of user:0 user:1 user:4:', [...owners].map((i) => ring.nodeAt(i)).join(' ')); // a:7000 b:7000 c:7000

console.log('checksum:', ring.checksum.toString(16), '| epoch:', ring.epoch); // the same on every node with these members
console.log("hash32('abc'):", '0x' + hash32('abc').toString(16)); // 0x32d153ff: xxHash32, seed 0, over the UTF-8 bytes
console.log('native addon:', isNativeAccelerationEnabled);
