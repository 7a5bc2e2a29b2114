/** Deadlines, lost connections, reconnects, failover and close() against a misbehaving fake node. */
// These tests drive one connection against a fake node that does not speak TOPOLOGY: proxy routing.
import * as net from 'node:net';
import { once } from 'node:events';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '../src/client/client';
import { ClientClosedError, ConnectionError, type DCacheError, ProtocolError, ShuttingDownError, TimeoutError } from '../src/errors';
import { Opcode, Status } from '../src/protocol/constants';
import { closeAllFakeServers, FakeServer } from './helpers/fake-server';
import { freePort } from './helpers/free-port';

const clients = new Set<Client>();
const rawServers = new Set<net.Server>();
const rawSockets = new Set<net.Socket>();

function track(client: Client): Client {
  clients.add(client);
  return client;
}

function settle<T>(promise: Promise<T>): Promise<T | Error> {
  return promise.catch((error: unknown) => error as Error);
}

const faults = suite('client faults');
faults.after.each(async () => {
  await Promise.all([...clients].map((c) => c.close()));
  clients.clear();
  for (const socket of rawSockets) socket.destroy();
  rawSockets.clear();
  await Promise.all([...rawServers].map((server) => new Promise((resolve) => server.close(resolve))));
  rawServers.clear();
  await closeAllFakeServers();
});

faults('against a node that accepts but never answers, each request fails with TimeoutError', async () => {
  const server = await FakeServer.start({ behavior: 'silent' });
  const timeoutMs = 200;
  const client = track(new Client({ routing: 'proxy', nodes: [server.address], timeoutMs }));
  const started = performance.now();
  const results = await Promise.all([
    settle(client.get('a')),
    settle(client.set('b', 'v')),
    settle(client.incr('c')),
    settle(client.mget(['a', 'b'])),
    settle(client.ping()),
    ...Array.from({ length: 100 }, (_, i) => settle(client.get(`k${i}`))),
  ]);
  const elapsed = performance.now() - started;
  for (const result of results) {
    assert.instance(result, TimeoutError);
    assert.is((result as DCacheError).code, 'ERR_TIMEOUT');
  }
  assert.ok((results[0] as Error).message.includes('timeoutMs'), (results[0] as Error).message);
  assert.ok(elapsed < 5 * timeoutMs, `hang check: ${elapsed.toFixed(0)} ms`);
  assert.is(server.received, 105, 'the requests were sent');
  // The connection stays: later requests time out the same way.
  const again = await settle(client.get('later'));
  assert.instance(again, TimeoutError);
});

faults('requests outstanding when the connection drops fail with ConnectionError, and are not resent', async () => {
  const server = await FakeServer.start({ behavior: 'silent' });
  const client = track(new Client({ routing: 'proxy', nodes: [server.address], timeoutMs: 10_000 }));
  const pending = [settle(client.set('k', 'v')), settle(client.incr('n'))];
  await server.waitForRequests(2);
  const disconnected = once(client, 'disconnect');
  server.dropConnections();
  for (const result of await Promise.all(pending)) {
    assert.instance(result, ConnectionError);
    assert.is((result as DCacheError).code, 'ERR_CONNECTION');
  }
  const [nodeId, error] = (await disconnected) as [string, Error];
  assert.is(nodeId, server.address);
  assert.instance(error, ConnectionError);
  server.behavior = 'normal';
  await once(client, 'connect');
  assert.is(await client.get('k'), null, 'the SET was not replayed');
  assert.is(server.received, 3);
});

faults('reconnects after the node stops and restarts on the same port', async () => {
  const server = await FakeServer.start();
  const client = track(new Client({ routing: 'proxy', nodes: [server.address] }));
  assert.is(await client.set('k', 'v'), true);
  const down = once(client, 'reconnecting');
  await server.stop();
  const [nodeId, delayMs, error] = (await down) as [string, number, Error];
  assert.is(nodeId, server.address);
  assert.ok(delayMs > 0 && delayMs <= 2000);
  assert.instance(error, ConnectionError);
  // Known down: requests fail fast instead of waiting for their deadline.
  const fast = await settle(client.get('k'));
  assert.instance(fast, ConnectionError);
  assert.ok((fast as Error).message.includes(server.address), (fast as Error).message);
  const up = once(client, 'connect');
  await server.restart();
  await up;
  assert.equal(await client.get('k'), Buffer.from('v'));
  assert.is(client.status()[0]!.state, 'ready');
});

faults('fails over to the next node while the first is down, and back when it returns', async () => {
  const first = await FakeServer.start();
  const second = await FakeServer.start();
  const client = track(new Client({ routing: 'proxy', nodes: [first.address, second.address] }));
  await client.set('where', 'first');
  assert.is(first.received, 1);
  const down = once(client, 'reconnecting');
  await first.stop();
  await down;
  assert.is(await client.set('where', 'second'), true);
  assert.is(second.received, 1);
  const back = new Promise<void>((resolve) => {
    const onConnect = (id: string): void => {
      if (id !== first.address) return;
      client.off('connect', onConnect);
      resolve();
    };
    client.on('connect', onConnect);
  });
  await first.restart();
  await back;
  await client.get('where');
  assert.is(first.received, 2, 'back on the first node');
});

faults('a node that answers SHUTTING_DOWN is avoided while another node is usable', async () => {
  const draining = await FakeServer.start({
    handler: (r) =>
      r.opcode === Opcode.PING ? undefined : { status: Status.SHUTTING_DOWN, value: 'the node is shutting down; retry on another node' },
  });
  const other = await FakeServer.start();
  const client = track(new Client({ routing: 'proxy', nodes: [draining.address, other.address] }));
  const error = await settle(client.set('k', 'v'));
  assert.instance(error, ShuttingDownError);
  assert.is((error as DCacheError).code, 'ERR_SHUTTING_DOWN');
  assert.is(client.status()[0]!.draining, true);
  assert.is(await client.set('k', 'v'), true);
  assert.is(other.received, 1);
  assert.is(draining.received, 1);
});

faults('a node that refuses connections fails requests with ConnectionError, not a timeout', async () => {
  const port = await freePort();
  const client = track(new Client({ routing: 'proxy', nodes: [`:${port}`], timeoutMs: 5000 }));
  const started = performance.now();
  const error = await settle(client.get('k'));
  assert.instance(error, ConnectionError);
  assert.ok(performance.now() - started < 2000);
  assert.ok((error as Error).message.includes(`127.0.0.1:${port}`), (error as Error).message);
});

faults('a connection-closing status fails the connection with a typed error', async () => {
  const server = await FakeServer.start({
    handler: (r) =>
      r.key.toString() === 'crowded'
        ? { status: Status.TOO_MANY_CONNECTIONS, requestId: 0, value: 'too many connections (limit 1)', close: true }
        : r.key.toString() === 'garbled'
          ? { status: Status.MALFORMED, value: 'bad frame', close: true }
          : undefined,
  });
  const client = track(new Client({ routing: 'proxy', nodes: [server.address], timeoutMs: 5000 }));
  const crowded = await settle(client.get('crowded'));
  assert.instance(crowded, ConnectionError);
  assert.ok((crowded as Error).message.includes('too many connections'), (crowded as Error).message);
  await once(client, 'connect');
  const garbled = await settle(client.get('garbled'));
  assert.instance(garbled, ProtocolError);
  assert.ok((garbled as Error).message.includes('bad frame'));
});

faults('a peer that is not a distributed-cache node fails requests with ProtocolError', async () => {
  const server = net.createServer((socket) => {
    rawSockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('data', () => socket.write('-ERR unknown command\r\n'));
  });
  rawServers.add(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const client = track(new Client({ routing: 'proxy', nodes: [`127.0.0.1:${port}`] }));
  const error = await settle(client.get('k'));
  assert.instance(error, ProtocolError);
  assert.ok((error as Error).message.includes('first byte 0x2d'), (error as Error).message);
});

faults('close() fails outstanding requests with ClientClosedError; later calls reject the same way', async () => {
  const server = await FakeServer.start({ behavior: 'silent' });
  const client = track(new Client({ routing: 'proxy', nodes: [server.address], timeoutMs: 10_000 }));
  const outstanding = [settle(client.get('a')), settle(client.mset({ a: '1' })), settle(client.stats())];
  await server.waitForRequests(3);
  await client.close();
  for (const result of await Promise.all(outstanding)) {
    assert.instance(result, ClientClosedError);
    assert.is((result as DCacheError).code, 'ERR_CLIENT_CLOSED');
  }
  const later: Array<Promise<unknown>> = [
    client.get('a'),
    client.set('a', 'b'),
    client.mget([]),
    client.mset([]),
    client.ping(),
    client.flush(),
  ];
  for (const call of later) {
    assert.instance(await settle(call), ClientClosedError);
  }
  await client.close();
  assert.ok(client.isClosed);
  assert.is(client.status()[0]!.state, 'closed');
});

faults('close() while still connecting', async () => {
  const server = await FakeServer.start();
  const client = track(new Client({ routing: 'proxy', nodes: [server.address] }));
  const request = settle(client.get('a'));
  await client.close();
  assert.instance(await request, ClientClosedError);
});

faults.run();
