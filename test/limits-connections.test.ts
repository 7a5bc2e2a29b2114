/**
 * Limits: connection flood (exactly the max kept, the rest refused and counted, descriptors back to
 * baseline), idle timeout (idle kicked, active kept), slow readers (hard cap and slow-reader timeout) while
 * other clients are served, fairness (requests per read) and the in-flight cap, on both ports.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ServerStats } from '../src/server/server-stats';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { once } from 'node:events';
import { Client } from '../src/client/client';
import { Opcode, Status } from '../src/protocol/constants';
import { encodeRequest } from '../src/protocol/encoder';
import { encodeMgetBody } from '../src/protocol/multi';
import type { CacheNode } from '../src/node/cache-node';
import { eventually, startCluster } from './helpers/cluster';
import { closeAllNodes, startTestNode } from './helpers/node';
import { RawPeer } from './helpers/raw-socket';
import { RespTestClient, closeAllClients, encodeCommand } from './helpers/resp-client';
import { closeAllRespServers, startRespTestServer } from './helpers/resp-server';

const Limits = suite('limits');
const clients: Client[] = [];
const sockets: net.Socket[] = [];
const peers: RawPeer[] = [];

Limits.after.each(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(clients.splice(0).map((client) => client.close()));
  closeAllClients();
  await closeAllRespServers();
  await closeAllNodes();
});

const serverStats = (node: CacheNode) => node.stats().server as unknown as ServerStats;
const fdCount = () => fs.readdirSync('/proc/self/fd').length;

async function peer(port: number): Promise<RawPeer> {
  const p = await RawPeer.connect(port);
  peers.push(p);
  return p;
}

/** A client that writes and never reads: its socket is paused and has no 'data' listener. */
async function nonReader(port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  sockets.push(socket);
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.pause();
  return socket;
}

Limits('connection flood of 2x max: exactly max kept, the rest refused and counted, fds back to baseline', async () => {
  const max = 25;
  const node = await startTestNode({ maxConnections: max });
  const baseline = fdCount();
  const flood = await Promise.all(Array.from({ length: 2 * max }, () => RawPeer.connect(node.port)));
  peers.push(...flood);
  await eventually(() => serverStats(node).rejectedConnections === max, `${max} refusals`);
  const refusedPeers = () => flood.filter((p) => p.responses[0]?.status === Status.TOO_MANY_CONNECTIONS);
  await eventually(() => refusedPeers().length === max, `${max} peers told TOO_MANY_CONNECTIONS`);
  const closedByServer = refusedPeers();
  await Promise.all(closedByServer.map((p) => p.closed));
  assert.ok(flood.every((p) => closedByServer.includes(p) || p.responses.length === 0));
  assert.is(serverStats(node).connections, max);
  // The kept ones are served.
  const kept = flood.filter((p) => !closedByServer.includes(p));
  kept[0]!.write(encodeRequest({ opcode: Opcode.PING, requestId: 1 }));
  assert.is((await kept[0]!.waitForResponses(1))[0]!.status, Status.OK);
  for (const p of flood) p.destroy();
  await eventually(() => serverStats(node).connections === 0, 'the server to see every close');
  await eventually(() => fdCount() <= baseline, `fds back to ${baseline} (now ${fdCount()})`, 2000);
});

Limits('idle timeout: an idle client is kicked, an active one is not', async () => {
  const node = await startTestNode({ idleTimeoutMs: 300 });
  const idle = await peer(node.port);
  const active = await peer(node.port);
  let id = 0;
  let idleClosedAt = 0;
  void idle.closed.then(() => (idleClosedAt = Date.now()));
  const started = Date.now();
  while (idleClosedAt === 0) {
    active.write(encodeRequest({ opcode: Opcode.PING, requestId: ++id }));
    await active.waitForResponses(id);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the active client's pace, not a wait for an event
    if (Date.now() - started > 5000) throw new Error('the idle client was not kicked');
  }
  assert.ok(idleClosedAt - started >= 280, `kicked after ${idleClosedAt - started} ms`);
  assert.not.ok(active.socket.destroyed);
  active.write(encodeRequest({ opcode: Opcode.PING, requestId: ++id }));
  await active.waitForResponses(id);
  assert.is(serverStats(node).idleKicks, 1);
});

Limits('RESP idle timeout (Redis `timeout`): idle kicked, active kept, CONFIG GET timeout in seconds', async () => {
  const { server, port } = await startRespTestServer({ idleTimeoutMs: 200 });
  const idle = await RespTestClient.connect(port);
  const active = await RespTestClient.connect(port);
  assert.equal((await active.call('CONFIG', 'GET', 'timeout')) as unknown[], [Buffer.from('timeout'), Buffer.from('1')]);
  let kicked = false;
  void idle.closed.then(() => (kicked = true));
  const started = Date.now();
  while (!kicked) {
    assert.is(await active.call('PING'), 'PONG');
    await new Promise((resolve) => setTimeout(resolve, 40));
    if (Date.now() - started > 5000) throw new Error('the idle client was not kicked');
  }
  assert.ok(active.isOpen);
  assert.is(server.stats.idleKicks, 1);
});

Limits(
  'a reader that never reads stays under the hard output cap: reading pauses at the high-water mark, and a response that could pass the cap is refused',
  async () => {
    const node = await startTestNode({
      outputHighWaterBytes: 16 * 1024,
      outputHardLimitBytes: 1024 * 1024,
      maxValueBytes: 512 * 1024,
      slowReaderTimeoutMs: 0,
    });
    const client = new Client({ nodes: [node.address], routing: 'proxy' });
    clients.push(client);
    const big = Buffer.alloc(256 * 1024, 1);
    await client.set('big', big);
    const reader = await nonReader(node.port);
    const gets = Buffer.concat(Array.from({ length: 200 }, (_, i) => encodeRequest({ opcode: Opcode.GET, requestId: i + 1, key: 'big' })));
    reader.write(gets);
    await eventually(() => serverStats(node).backpressurePauses >= 1, 'the non-reader to be paused');
    // One response more than the high-water mark at most: never the hard cap (the 1 MiB less 16 KiB response cap sees to it).
    const peer = await RawPeer.connect(node.port);
    peers.push(peer);
    peer.write(encodeRequest({ opcode: Opcode.MGET, requestId: 1, value: encodeMgetBody(['big', 'big', 'big', 'big']) }));
    peer.write(encodeRequest({ opcode: Opcode.MGET, requestId: 2, value: encodeMgetBody(['big', 'big', 'big']) }));
    const responses = await peer.waitForResponses(2);
    const byId = new Map(responses.map((r) => [r.requestId, r]));
    assert.is(byId.get(1)!.status, Status.RESPONSE_TOO_LARGE, 'four 256 KiB values are over the 1008 KiB response cap');
    assert.match(byId.get(1)!.value.toString(), /the limit is 1032192 bytes/);
    assert.is(byId.get(2)!.status, Status.OK, 'three fit');
    assert.is(serverStats(node).responseTooLarge, 1);
    for (let i = 0; i < 20; i++) {
      await client.set(`k${i}`, `${i}`);
      assert.is(String(await client.get(`k${i}`)), `${i}`);
    }
    assert.is(serverStats(node).outputLimitDisconnects, 0, 'the hard cap was never reached');
    assert.ok(!reader.destroyed);
  },
);

Limits('slow reader held at the high-water mark is closed after slowReaderTimeoutMs (Redis soft limit)', async () => {
  const node = await startTestNode({ outputHighWaterBytes: 16 * 1024, slowReaderTimeoutMs: 200 });
  const client = new Client({ nodes: [node.address], routing: 'proxy' });
  clients.push(client);
  await client.set('big', Buffer.alloc(256 * 1024, 2));
  const reader = await nonReader(node.port);
  reader.write(Buffer.concat(Array.from({ length: 100 }, (_, i) => encodeRequest({ opcode: Opcode.GET, requestId: i + 1, key: 'big' }))));
  await eventually(() => serverStats(node).slowReaderDisconnects === 1, 'the slow reader to time out');
  assert.is(serverStats(node).outputLimitDisconnects, 1);
  assert.ok(serverStats(node).backpressurePauses >= 1);
  assert.is(String(await client.get('big').then((v) => (v as Buffer).length)), String(256 * 1024));
});

Limits('RESP slow reader is closed after slowReaderTimeoutMs', async () => {
  const { server, port } = await startRespTestServer({ outputHighWaterBytes: 16 * 1024, slowReaderTimeoutMs: 200 });
  const setter = await RespTestClient.connect(port);
  assert.is(await setter.call('SET', 'big', 'x'.repeat(256 * 1024)), 'OK');
  const reader = await nonReader(port);
  reader.write(Buffer.concat(Array.from({ length: 100 }, () => encodeCommand(['GET', 'big']))));
  await eventually(() => server.stats.slowReaderDisconnects === 1, 'the RESP slow reader to time out');
  assert.is(await setter.call('PING'), 'PONG');
});

Limits('fairness: past maxRequestsPerRead a connection yields (conn_yields) and every request is answered', async () => {
  const node = await startTestNode({ maxRequestsPerRead: 4 });
  const p = await peer(node.port);
  const other = await peer(node.port);
  p.write(Buffer.concat(Array.from({ length: 100 }, (_, i) => encodeRequest({ opcode: Opcode.PING, requestId: i + 1 }))));
  other.write(encodeRequest({ opcode: Opcode.PING, requestId: 7 }));
  const responses = await p.waitForResponses(100);
  assert.equal(
    responses.map((r) => r.requestId),
    Array.from({ length: 100 }, (_, i) => i + 1),
  );
  await other.waitForResponses(1);
  assert.ok(serverStats(node).connYields >= 20, `conn_yields ${serverStats(node).connYields}`);

  const { server, port } = await startRespTestServer({ maxRequestsPerRead: 4 });
  const c = await RespTestClient.connect(port);
  c.sendRaw(Buffer.concat(Array.from({ length: 50 }, () => encodeCommand(['PING']))));
  assert.ok((await c.take(50)).every((reply) => reply === 'PONG'));
  assert.ok(server.stats.connYields >= 10);
});

Limits('in-flight cap: forwarded requests past maxInflightPerConnection pause reading; all are answered', async () => {
  const nodes = await startCluster(2, { maxInflightPerConnection: 2 });
  const proxy = new Client({ nodes: [nodes[0]!.address], routing: 'proxy' });
  clients.push(proxy);
  const keys = Array.from({ length: 80 }, (_, i) => `key-${i}`);
  await Promise.all(keys.map((key) => proxy.set(key, key)));
  const values = await Promise.all(keys.map((key) => proxy.get(key)));
  assert.equal(values.map(String), keys);
  assert.ok(serverStats(nodes[0]!).inflightPauses > 0, 'reading paused for in-flight replies');
});

Limits('a connection closed for bad input is gone within a bounded time even if the peer never reads what is owed', async () => {
  // A high-water mark above what is asked for, so every request runs, and no slow-reader timeout: only the close's
  // own deadline can end these connections once the kernel's buffers are full and the replies sit in Node's queue.
  const limits = { outputHighWaterBytes: 48 * 1024 * 1024, outputHardLimitBytes: 256 * 1024 * 1024, slowReaderTimeoutMs: 0 };
  const node = await startTestNode(limits);
  const { server, port: respPort } = await startRespTestServer(limits);
  const client = new Client({ nodes: [node.address], routing: 'proxy' });
  clients.push(client);
  await client.set('big', Buffer.alloc(512 * 1024, 3));
  const setter = await RespTestClient.connect(respPort);
  assert.is(await setter.call('SET', 'big', 'x'.repeat(512 * 1024)), 'OK');
  const clientConnections = serverStats(node).connections;
  const binary = await nonReader(node.port);
  const resp = await nonReader(respPort);
  // 32 MiB of replies nobody reads, then bytes that are not a request: the error reply queues behind them.
  binary.write(
    Buffer.concat([
      ...Array.from({ length: 64 }, (_, i) => encodeRequest({ opcode: Opcode.GET, requestId: i + 1, key: 'big' })),
      Buffer.alloc(24, 0xee),
    ]),
  );
  resp.write(Buffer.concat([...Array.from({ length: 64 }, () => encodeCommand(['GET', 'big'])), Buffer.from('*x\r\n')]));
  await eventually(() => serverStats(node).protocolErrors === 1 && server.stats.protocolErrors === 1, 'both ports to see the bad input');
  await eventually(() => serverStats(node).connections === clientConnections, 'the binary port to close the connection that never reads');
  await eventually(() => server.connectionCount === 1, 'the RESP port to close the connection that never reads (the setter stays)');
  assert.is(await setter.call('PING'), 'PONG');
});

Limits.run();
