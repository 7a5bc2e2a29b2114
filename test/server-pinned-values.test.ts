/**
 * A node answers GETs of large values (PINNED_VALUE_MIN_BYTES and up) with a view of the value's chunk, pinned
 * until the socket write completes. These tests hold such writes queued (a client that does not read) while
 * other connections overwrite, delete, evict and flush, and check every answer still carries the value the key
 * had when the GET ran.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { StoreStats } from '../src/cache/store';
import { Opcode, Status } from '../src/protocol/constants';
import { encodeRequest } from '../src/protocol/encoder';
import { PINNED_VALUE_MIN_BYTES } from '../src/cache/stored-value';
import { eventually } from './helpers/cluster';
import { closeAllNodes, startTestNode } from './helpers/node';
import { RawPeer } from './helpers/raw-socket';
import { RespTestClient, closeAllClients, encodeCommand } from './helpers/resp-client';
import { closeAllRespServers, startRespTestServer } from './helpers/resp-server';

const Pinned = suite('pinned GET values');
Pinned.after.each(async () => {
  closeAllClients();
  await closeAllRespServers();
  await closeAllNodes();
});

const MiB = 1024 * 1024;

function storeOf(stats: Record<string, unknown>): StoreStats {
  return stats.store as StoreStats;
}

function serverOf(stats: Record<string, unknown>): { commands: number } {
  return stats.server as { commands: number };
}

/** Version `v` of key `i`: its bytes say which key and which version. */
function valueOf(i: number, v: number, size: number): Buffer {
  const value = Buffer.alloc(size, (i * 7 + v * 101) & 0xff);
  value.writeUInt32LE(i, 0);
  value.writeUInt32LE(v, size - 4);
  return value;
}

Pinned('large values go out pinned, small ones copied; both read back intact', async () => {
  const node = await startTestNode();
  const peer = await RawPeer.connect(node.port);
  try {
    const large = valueOf(1, 1, PINNED_VALUE_MIN_BYTES);
    const small = valueOf(2, 1, PINNED_VALUE_MIN_BYTES - 1);
    peer.write(encodeRequest({ opcode: Opcode.SET, requestId: 1, key: 'large', value: large }));
    peer.write(encodeRequest({ opcode: Opcode.SET, requestId: 2, key: 'small', value: small }));
    await peer.waitForResponses(2);
    const before = storeOf(node.stats()).pinsTaken;
    peer.write(encodeRequest({ opcode: Opcode.GET, requestId: 3, key: 'large' }));
    peer.write(encodeRequest({ opcode: Opcode.GET, requestId: 4, key: 'small' }));
    const responses = await peer.waitForResponses(4);
    assert.ok(responses[2]!.value.equals(large));
    assert.ok(responses[3]!.value.equals(small));
    assert.is(storeOf(node.stats()).pinsTaken - before, 1, 'only the large value was pinned');
    await eventually(() => storeOf(node.stats()).pinnedChunks === 0, 'the pin is released once the write is done');
  } finally {
    peer.destroy();
  }
});

/**
 * A client pipelines 300 GETs of 64 KiB values (about 20 MB, more than the loopback buffers hold) and does not
 * read, so most answers stay queued as pinned views. Meanwhile another client overwrites every key with a value
 * of the same size (the in-place case), deletes some, fills the store with another size (evictions and page
 * moves; the store is 16 MiB) and finally flushes. Pinned chunks may take an eighth of the store, so the first
 * answers are pinned views and the later ones copies. Then the first client reads: every answer must be the
 * value its key had when the GET ran.
 */
Pinned('answers queued on a slow reader keep their values through overwrites, deletes, evictions and flush', async () => {
  const size = 64 * 1024;
  const keys = 100;
  const node = await startTestNode({ maxMemoryBytes: 16 * MiB, outputHighWaterBytes: 64 * MiB, outputHardLimitBytes: 128 * MiB });
  const writer = await RawPeer.connect(node.port);
  const reader = await RawPeer.connect(node.port);
  try {
    let id = 0;
    for (let i = 0; i < keys; i++)
      writer.write(encodeRequest({ opcode: Opcode.SET, requestId: id++, key: `k${i}`, value: valueOf(i, 1, size) }));
    await writer.waitForResponses(id);
    const stored = storeOf(node.stats()).items;
    assert.ok(stored >= 80, `the store holds most of the keys (${stored})`);

    reader.socket.pause();
    const gets = 300;
    const getRequests = Array.from({ length: gets }, (_, n) => encodeRequest({ opcode: Opcode.GET, requestId: n, key: `k${n % keys}` }));
    const commandsBefore = serverOf(node.stats()).commands;
    reader.write(Buffer.concat(getRequests));
    await eventually(() => serverOf(node.stats()).commands - commandsBefore === gets, 'the node answered the GETs');
    const queued = storeOf(node.stats());
    assert.ok(queued.pinnedChunks > 0, 'answers are queued with their chunks pinned');
    assert.ok(queued.pinnedBytes <= 2 * MiB, `pinned bytes ${queued.pinnedBytes} within an eighth of the store`);

    // Same size: without the pin each would be written in place.
    for (let i = 0; i < keys; i++)
      writer.write(encodeRequest({ opcode: Opcode.SET, requestId: id++, key: `k${i}`, value: valueOf(i, 2, size) }));
    for (let i = 0; i < keys; i += 3) writer.write(encodeRequest({ opcode: Opcode.DELETE, requestId: id++, key: `k${i}` }));
    // Another size class takes the memory: items are evicted and pages move (or are dropped, if pinned).
    for (let i = 0; i < 3000; i++)
      writer.write(encodeRequest({ opcode: Opcode.SET, requestId: id++, key: `other${i}`, value: valueOf(i, 3, 5000) }));
    await writer.waitForResponses(id);
    const afterChurn = storeOf(node.stats());
    assert.ok(afterChurn.deferredFrees > 0, 'frees waited for the pins');
    assert.ok(afterChurn.pageMoves > 0, 'pages moved between classes');
    writer.write(encodeRequest({ opcode: Opcode.FLUSH, requestId: id++ }));
    await writer.waitForResponses(id);

    reader.socket.resume();
    const responses = await reader.waitForResponses(gets);
    const misses = responses.filter((r) => r.status === Status.NOT_FOUND).length;
    for (const response of responses) {
      if (response.status === Status.NOT_FOUND) continue; // a key the first fill had already evicted
      assert.is(response.status, Status.OK);
      const i = response.requestId % keys;
      if (!response.value.equals(valueOf(i, 1, size))) {
        assert.unreachable(`GET ${response.requestId} (k${i}) came back with other bytes than the value it had`);
      }
    }
    assert.ok(misses <= 3 * (keys - stored), `misses ${misses}`);
    await eventually(() => storeOf(node.stats()).pinnedChunks === 0, 'every pin is released once the writes are done');
  } finally {
    writer.destroy();
    reader.destroy();
  }
});

Pinned('a connection closed with answers still queued releases their pins', async () => {
  const node = await startTestNode({ outputHighWaterBytes: 64 * MiB, outputHardLimitBytes: 128 * MiB });
  const writer = await RawPeer.connect(node.port);
  const reader = await RawPeer.connect(node.port);
  try {
    writer.write(encodeRequest({ opcode: Opcode.SET, requestId: 0, key: 'big', value: valueOf(0, 1, 64 * 1024) }));
    await writer.waitForResponses(1);
    reader.socket.pause();
    const pinsBefore = storeOf(node.stats()).pinsTaken;
    reader.write(Buffer.concat(Array.from({ length: 300 }, (_, n) => encodeRequest({ opcode: Opcode.GET, requestId: n, key: 'big' }))));
    // One chunk, so every answer pins it (a chunk already pinned is never over the bound).
    await eventually(() => storeOf(node.stats()).pinsTaken - pinsBefore === 300, 'the node answered the GETs');
    assert.is(storeOf(node.stats()).pinnedChunks, 1, 'one chunk, pinned by the queued answers');
    reader.destroy();
    await eventually(() => storeOf(node.stats()).pinnedChunks === 0, 'the pins are released when the connection goes');
    // The chunk is free again: a new value of that size reuses it and reads back.
    writer.write(encodeRequest({ opcode: Opcode.DELETE, requestId: 1, key: 'big' }));
    writer.write(encodeRequest({ opcode: Opcode.SET, requestId: 2, key: 'next', value: valueOf(1, 2, 64 * 1024) }));
    writer.write(encodeRequest({ opcode: Opcode.GET, requestId: 3, key: 'next' }));
    const responses = await writer.waitForResponses(4);
    assert.ok(responses[3]!.value.equals(valueOf(1, 2, 64 * 1024)));
  } finally {
    writer.destroy();
    reader.destroy();
  }
});

/**
 * The RESP port sends large GET values from their pinned chunks too: a reader that does not read has 200 GETs of
 * 64 KiB values queued while another connection overwrites each key with a value of the same size (in place
 * without the pin) and then deletes them; when it reads, every reply is the value its key had at the GET.
 */
Pinned('RESP: replies queued on a slow reader keep their values through overwrites and deletes', async () => {
  const size = 64 * 1024;
  const keys = 50;
  const t = await startRespTestServer({
    store: { maxMemoryBytes: 64 * MiB },
    outputHighWaterBytes: 64 * MiB,
    outputHardLimitBytes: 128 * MiB,
  });
  const writer = await RespTestClient.connect(t.port);
  const reader = await RespTestClient.connect(t.port);
  for (let i = 0; i < keys; i++) writer.send('SET', `k${i}`, valueOf(i, 1, size));
  await writer.take(keys);
  reader.socket.pause();
  const gets = 200;
  const pinsBefore = t.store.stats().pinsTaken;
  reader.sendRaw(Buffer.concat(Array.from({ length: gets }, (_, n) => encodeCommand(['GET', `k${n % keys}`]))));
  await eventually(() => t.store.stats().pinsTaken - pinsBefore > 0 && t.server.stats.commands >= keys + gets, 'the GETs ran');
  assert.ok(t.store.stats().pinnedChunks > 0, 'replies are queued with their chunks pinned');
  for (let i = 0; i < keys; i++) writer.send('SET', `k${i}`, valueOf(i, 2, size));
  for (let i = 0; i < keys; i++) writer.send('DEL', `k${i}`);
  await writer.take(2 * keys);
  reader.socket.resume();
  const replies = await reader.take(gets);
  replies.forEach((reply, n) => {
    const expected = valueOf(n % keys, 1, size);
    if (!Buffer.isBuffer(reply) || !reply.equals(expected))
      assert.unreachable(
        `GET ${n} came back with other bytes than the value it had: ${Buffer.isBuffer(reply) ? `${reply.length} bytes, key ${reply.readUInt32LE(0)} v${reply.readUInt32LE(reply.length - 4)}` : typeof reply} ${String(reply).slice(0, 40)}`,
      );
  });
  await eventually(() => t.store.stats().pinnedChunks === 0, 'every pin is released once the writes are done');
});

Pinned.run();
