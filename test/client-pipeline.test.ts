/** Pipelining: request ids, out-of-order answers, one write per tick, the bounded queue. */
// These tests drive one connection against a fake node that does not speak TOPOLOGY: proxy routing.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '../src/client/client';
import { LARGE_VALUE_BYTES } from '../src/client/outgoing';
import { Pending, PendingTable } from '../src/client/pending';
import { ClientClosedError, QueueFullError } from '../src/errors';
import { Opcode } from '../src/protocol/constants';
import { closeAllFakeServers, FakeServer } from './helpers/fake-server';

const clients = new Set<Client>();
function clientFor(server: FakeServer, options: Partial<ConstructorParameters<typeof Client>[0]> = {}): Client {
  const client = new Client({ routing: 'proxy', nodes: [server.address], ...options });
  clients.add(client);
  return client;
}

const pipeline = suite('client pipelining');
pipeline.after.each(async () => {
  await Promise.all([...clients].map((c) => c.close()));
  clients.clear();
  await closeAllFakeServers();
});

pipeline('10k pipelined requests answered out of order all resolve with their own answer', async () => {
  const server = await FakeServer.start({ reorder: true, record: true });
  const client = clientFor(server, { timeoutMs: 10_000, maxPending: 20_000 });
  const n = 10_000;
  const entries: Array<[string, string]> = [];
  for (let i = 0; i < n; i++) entries.push([`key:${i}`, `value:${i}:${'x'.repeat(i % 50)}`]);
  await client.mset(entries);
  const gets = entries.map(([key]) => client.get(key));
  const incrs = Array.from({ length: 100 }, (_, i) => client.incr(`counter:${i % 10}`, i));
  const values = await Promise.all(gets);
  for (let i = 0; i < n; i++) assert.is(values[i]!.toString(), entries[i]![1], `get ${i}`);
  await Promise.all(incrs);
  const ids = server.requests.filter((r) => r.opcode === Opcode.GET).map((r) => r.requestId);
  assert.is(new Set(ids).size, n, 'every request in flight had its own id');
  assert.ok(!ids.includes(0), 'id 0 is never used');
  // Answers really came back out of order: the server reversed each read's batch.
  assert.ok(server.reads < n / 10, `${server.reads} reads for ${n} requests`);
  assert.is(client.status()[0]!.pending, 0);
});

pipeline('requests issued in one tick leave in one write', async () => {
  const server = await FakeServer.start();
  const client = clientFor(server);
  await client.ping();
  const before = server.reads;
  await Promise.all(Array.from({ length: 200 }, (_, i) => client.set(`k${i}`, 'v')));
  assert.ok(server.reads - before <= 3, `${server.reads - before} reads for one tick of requests`);
});

pipeline('large values (sent by reference) interleave with small frames in order, also when queued before connecting', async () => {
  const server = await FakeServer.start({ reorder: true });
  const client = clientFor(server, { timeoutMs: 10_000 });
  const sizes = [LARGE_VALUE_BYTES - 1, LARGE_VALUE_BYTES, 3, 200_000, 0, LARGE_VALUE_BYTES + 7, 64 * 1024, 10];
  const values = sizes.map((size, i) => {
    const value = Buffer.allocUnsafe(size);
    for (let j = 0; j < size; j++) value[j] = (i * 31 + j * 7) & 0xff;
    return value;
  });
  // The first batch goes out while the connection is still being made.
  await Promise.all(values.map((value, i) => client.set(`big:${i}`, value)));
  await Promise.all(values.map((value, i) => client.set(`again:${i}`, value)));
  const got = await Promise.all(values.flatMap((_, i) => [client.get(`big:${i}`), client.get(`again:${i}`)]));
  for (let i = 0; i < values.length; i++) {
    assert.ok(got[2 * i]?.equals(values[i]!), `big:${i} (${sizes[i]} bytes)`);
    assert.ok(got[2 * i + 1]?.equals(values[i]!), `again:${i} (${sizes[i]} bytes)`);
  }
  // Requests leave in the order they were issued: the small SET issued last wins.
  await Promise.all([client.set('order', values[3]!), client.set('order', 'small')]);
  assert.is((await client.get('order'))?.toString(), 'small');
});

pipeline('a second flush in one event-loop turn is corked until the turn ends, then sent in order', async () => {
  const server = await FakeServer.start({ record: true });
  const client = clientFor(server, { timeoutMs: 2000 });
  await client.ping(); // connected: flushes now write to the socket
  const first = client.set('turn:a', '1'); // flushed on the next tick: written at once
  await new Promise((resolve) => process.nextTick(resolve)); // still the same event-loop turn
  const second = client.set('turn:b', '2'); // a second flush in this turn: corked
  const third = client.set('turn:c', '3'); // same batch as the second
  // A cork that is never undone would leave these two unsent until their deadline.
  assert.equal(await Promise.all([first, second, third]), [true, true, true]);
  const keys = server.requests.filter((r) => r.opcode === Opcode.SET).map((r) => r.key.toString());
  assert.equal(keys, ['turn:a', 'turn:b', 'turn:c']);
});

pipeline('past maxPending a request fails fast with QueueFullError and is not sent', async () => {
  const server = await FakeServer.start({ behavior: 'silent' });
  const client = clientFor(server, { maxPending: 100, timeoutMs: 10_000 });
  const inFlight = Array.from({ length: 100 }, (_, i) => client.get(`k${i}`).catch((e: unknown) => e));
  let overflow: unknown;
  try {
    await client.get('one-too-many');
  } catch (error) {
    overflow = error;
  }
  assert.instance(overflow, QueueFullError);
  assert.is((overflow as QueueFullError).code, 'ERR_QUEUE_FULL');
  await server.waitForRequests(100);
  assert.is(server.received, 100);
  await client.close();
  for (const result of await Promise.all(inFlight)) assert.instance(result, ClientClosedError);
});

pipeline('a freed slot makes room again under maxPending', async () => {
  const server = await FakeServer.start();
  const client = clientFor(server, { maxPending: 10 });
  for (let round = 0; round < 5; round++) {
    const batch = Array.from({ length: 10 }, (_, i) => client.set(`k${i}`, `${round}`));
    assert.equal(await Promise.all(batch), Array(10).fill(true));
  }
});

const table = suite('PendingTable');

table('ids are sequential, never 0, wrap at 2^32 and skip ids still in flight', () => {
  const t = new PendingTable(4);
  const a = new Pending();
  const b = new Pending();
  assert.is(t.add(a), 1);
  assert.is(t.add(b), 2);
  assert.is(t.take(1), a);
  assert.is(t.take(1), null, 'taken once');
  assert.is(t.take(99), null, 'unknown id');
  (t as unknown as { nextId: number }).nextId = 0xffffffff;
  const c = new Pending();
  assert.is(t.add(c), 0xffffffff);
  const d = new Pending();
  assert.is(t.add(d), 1, 'wraps past 0');
  const e = new Pending();
  assert.is(t.add(e), 3, 'skips 2, still in flight');
  assert.is(t.take(0xffffffff), c);
  assert.is(t.size, 3);
  assert.equal(t.drain(), [b, d, e], 'send order');
  assert.is(t.size, 0);
  assert.is(t.head, null);
});

table('slot collisions skip ahead; growth keeps every request findable', () => {
  const t = new PendingTable(5000);
  const kept: Pending[] = [];
  for (let i = 0; i < 3000; i++) {
    const p = new Pending();
    t.add(p);
    if (i % 3 === 0) kept.push(p);
    else assert.is(t.take(p.id), p);
  }
  for (const p of kept) assert.is(t.take(p.id), p);
  assert.is(t.size, 0);
  const ids = new Set<number>();
  for (let i = 0; i < 4000; i++) ids.add(t.add(new Pending()));
  assert.is(ids.size, 4000);
});

pipeline.run();
table.run();
