import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Opcode, Status } from '../src/protocol/constants';
import { encodeRequest } from '../src/protocol/encoder';
import { startCluster } from './helpers/cluster';
import { closeAllNodes, startTestNode } from './helpers/node';
import { seededRandom } from './helpers/random';
import { RawPeer, type ResponseRecord } from './helpers/raw-socket';
import { nodeInternals } from '../src/node/internals';

const SharedReads = suite('shared read buffer');
SharedReads.after.each(closeAllNodes);

interface ReadsStats {
  shared: boolean;
  bufferBytes: number;
}

function readsOf(stats: Record<string, unknown>): ReadsStats {
  return stats.reads as ReadsStats;
}

SharedReads('a node reads every connection into its one buffer on this Node, and allocates per read when told to', async () => {
  const shared = await startTestNode();
  assert.equal(readsOf(shared.stats()), { shared: true, bufferBytes: 1024 * 1024 });
  const perRead = await startTestNode({ readBufferBytes: 0 });
  assert.equal(readsOf(perRead.stats()), { shared: false, bufferBytes: 0 });
  for (const node of [shared, perRead]) {
    const peer = await RawPeer.connect(node.port);
    try {
      peer.write(encodeRequest({ opcode: Opcode.SET, requestId: 1, key: 'k', value: Buffer.from('v') }));
      peer.write(encodeRequest({ opcode: Opcode.GET, requestId: 2, key: 'k' }));
      const [set, get] = await peer.waitForResponses(2);
      assert.is(set!.status, Status.OK);
      assert.is(get!.value.toString(), 'v');
    } finally {
      peer.socket.destroy();
    }
  }
});

/** A value whose bytes say which connection and which request wrote it. */
function valueFor(random: () => number, peer: number, index: number): Buffer {
  const sizes = [0, 1, 23, 24, 25, 4096, 4097, 65_535, 65_536, 65_537, 150_000];
  const size = random() < 0.5 ? sizes[Math.floor(random() * sizes.length)]! : Math.floor(random() * 200_000);
  const value = Buffer.alloc(size, (peer * 31 + index) & 0xff);
  for (let i = 0; i < size; i += 101) value[i] = Math.floor(random() * 256);
  return value;
}

/**
 * Six connections send pipelined SETs (values from empty to 200 KB) in random pieces, all at once, so the
 * node's reads of different connections alternate in its one buffer; then each reads back another's values.
 * A header, body or held input kept as a view of the shared buffer would come back with another read's bytes.
 */
async function interleavedRoundTrip(readBufferBytes: number, seed: number): Promise<void> {
  const node = await startTestNode({ readBufferBytes, maxValueBytes: 1 << 20, outputHighWaterBytes: 64 * 1024 });
  const random = seededRandom(seed);
  const peers = await Promise.all(Array.from({ length: 6 }, () => RawPeer.connect(node.port)));
  try {
    const perPeer = 25;
    const values = peers.map((_, p) => Array.from({ length: perPeer }, (_, i) => valueFor(random, p, i)));
    const streams = values.map((list, p) =>
      Buffer.concat(list.map((value, i) => encodeRequest({ opcode: Opcode.SET, requestId: i, key: `p${p}:k${i}`, value, extras: 60_000 }))),
    );
    const offsets = streams.map(() => 0);
    while (offsets.some((offset, p) => offset < streams[p]!.length)) {
      for (let p = 0; p < peers.length; p++) {
        const stream = streams[p]!;
        if (offsets[p]! >= stream.length) continue;
        const end = Math.min(stream.length, offsets[p]! + 1 + Math.floor(random() * 90_000));
        peers[p]!.write(stream.subarray(offsets[p], end));
        offsets[p] = end;
      }
    }
    for (const peer of peers) {
      const responses = await peer.waitForResponses(perPeer);
      for (const response of responses) assert.is(response.status, Status.OK, `seed ${seed}: SET ${response.requestId}`);
    }
    // Each connection reads the next one's values, pipelined, so the large answers also interleave.
    for (let p = 0; p < peers.length; p++) {
      const owner = (p + 1) % peers.length;
      peers[p]!.write(
        Buffer.concat(values[owner]!.map((_, i) => encodeRequest({ opcode: Opcode.GET, requestId: 1000 + i, key: `p${owner}:k${i}` }))),
      );
    }
    for (let p = 0; p < peers.length; p++) {
      const owner = (p + 1) % peers.length;
      const gets = (await peers[p]!.waitForResponses(2 * perPeer)).slice(perPeer);
      for (const get of gets) {
        const i = get.requestId - 1000;
        assert.is(get.status, Status.OK, `seed ${seed}, buffer ${readBufferBytes}: GET p${owner}:k${i}`);
        assert.ok(get.value.equals(values[owner]![i]!), `seed ${seed}, buffer ${readBufferBytes}: value p${owner}:k${i} came back intact`);
      }
    }
    assert.is(readsOf(node.stats()).shared, readBufferBytes > 0);
  } finally {
    for (const peer of peers) peer.socket.destroy();
  }
}

SharedReads('connections cut anywhere by a 13-byte shared buffer keep their bytes apart', async () => {
  await interleavedRoundTrip(13, 2026_11_24);
});

SharedReads('connections sharing the default buffer keep their bytes apart', async () => {
  await interleavedRoundTrip(1024 * 1024, 2026_11_25);
});

SharedReads("connections on Node's per-read buffers (readBufferBytes 0) get the same answers", async () => {
  await interleavedRoundTrip(0, 2026_11_26);
});

SharedReads('requests forwarded to their owner carry their own bytes, not what later reads put in the buffer', async () => {
  const [a, b] = await startCluster(2, { maxValueBytes: 1 << 20 });
  const keys = Array.from({ length: 2000 }, (_, i) => `fw${i}`)
    .filter((key) => nodeInternals(a!).cluster.ring.lookup(key) === b!.address)
    .slice(0, 40);
  assert.is(keys.length, 40);
  const random = seededRandom(99);
  const values = keys.map((_, i) => valueFor(random, 7, i));
  const toA = await RawPeer.connect(a!.port);
  const toB = await RawPeer.connect(b!.port);
  try {
    // One write of every SET: the node reads it in several 1 MiB reads while the first ones are still in flight to b.
    toA.write(Buffer.concat(keys.map((key, i) => encodeRequest({ opcode: Opcode.SET, requestId: i, key, value: values[i]! }))));
    const sets: ResponseRecord[] = await toA.waitForResponses(keys.length);
    for (const set of sets) assert.is(set.status, Status.OK, `SET ${keys[set.requestId]} via a`);
    assert.ok((a!.stats().routing as { forwarded: number }).forwarded >= keys.length, 'the SETs went through a to b');
    toB.write(Buffer.concat(keys.map((key, i) => encodeRequest({ opcode: Opcode.GET, requestId: i, key }))));
    for (const get of await toB.waitForResponses(keys.length)) {
      assert.is(get.status, Status.OK);
      assert.ok(get.value.equals(values[get.requestId]!), `${keys[get.requestId]} arrived at its owner intact`);
    }
  } finally {
    toA.socket.destroy();
    toB.socket.destroy();
  }
});

SharedReads.run();
