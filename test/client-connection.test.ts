/** NodeConnection on its own: connect deadline, deadlines while connecting, backoff schedule, epochs. */
import * as net from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseNodeAddress } from '../src/client/node-address';
import { NodeConnection } from '../src/client/connection';
import type { NodeConnectionOptions } from '../src/client/connection-options';
import { ConnectionError, QueueFullError, TimeoutError } from '../src/errors';
import { Flag, Opcode, Status } from '../src/protocol/constants';
import { closeAllFakeServers, FakeServer } from './helpers/fake-server';
import { freePort } from './helpers/free-port';

const connections = new Set<NodeConnection>();
function connection(address: string, options: Partial<NodeConnectionOptions> = {}): NodeConnection {
  const c = new NodeConnection(parseNodeAddress(address), { timeoutMs: 1000, connectTimeoutMs: 1000, maxPending: 1000, ...options });
  connections.add(c);
  return c;
}

function settle<T>(promise: Promise<T>): Promise<T | Error> {
  return promise.catch((error: unknown) => error as Error);
}

/** A DNS lookup that never answers: the connect attempt hangs without touching the network. */
const hangingLookup: net.LookupFunction = () => undefined;

const conn = suite('NodeConnection');
conn.after.each(async () => {
  await Promise.all([...connections].map((c) => c.close()));
  connections.clear();
  await closeAllFakeServers();
});

conn('a connect attempt that hangs is abandoned after connectTimeoutMs, failing queued requests', async () => {
  const backoff: number[] = [];
  const c = connection('never.invalid:7000', {
    connectTimeoutMs: 100,
    timeoutMs: 5000,
    lookup: hangingLookup,
    onBackoff: (_c, delayMs) => backoff.push(delayMs),
  });
  const started = performance.now();
  const error = await settle(c.request(Opcode.GET, 0, 'k', null, 0));
  const elapsed = performance.now() - started;
  assert.instance(error, ConnectionError);
  assert.ok((error as Error).message.includes('connectTimeoutMs'), (error as Error).message);
  assert.ok(elapsed < 5 * 100, `hang check: ${elapsed.toFixed(0)} ms`);
  assert.is(c.state, 'backoff');
  assert.is(backoff.length, 1);
  // Known down: fail fast.
  const fast = await settle(c.request(Opcode.GET, 0, 'k', null, 0));
  assert.instance(fast, ConnectionError);
});

conn('requests queued while connecting time out at their own deadline', async () => {
  const c = connection('never.invalid:7000', { connectTimeoutMs: 2000, timeoutMs: 60, lookup: hangingLookup });
  const error = await settle(c.request(Opcode.SET, 0, 'k', 'v', 0));
  assert.instance(error, TimeoutError);
  assert.ok((error as Error).message.includes('while connecting'), (error as Error).message);
  assert.is(c.state, 'connecting');
});

conn('failed attempts back off exponentially with jitter', async () => {
  const port = await freePort();
  const delays: number[] = [];
  let done: () => void = () => undefined;
  const sixDelays = new Promise<void>((resolve) => (done = resolve));
  const c = connection(`127.0.0.1:${port}`, {
    backoffBaseMs: 4,
    backoffMaxMs: 32,
    onBackoff: (_c, delayMs, error) => {
      assert.instance(error, ConnectionError);
      delays.push(delayMs);
      if (delays.length === 6) done();
    },
  });
  c.connect();
  await sixDelays;
  const bases = [4, 8, 16, 32, 32, 32];
  delays.forEach((d, i) => assert.ok(d >= bases[i]! / 2 && d <= bases[i]!, `attempt ${i + 1}: ${d} ms, base ${bases[i]}`));
});

conn('a healthy connection that drops reconnects at once; epochs are tracked', async () => {
  const server = await FakeServer.start({ epoch: 3 });
  const epochs: number[] = [];
  let connects = 0;
  let backoffs = 0;
  let reconnected: () => void = () => undefined;
  const second = new Promise<void>((resolve) => (reconnected = resolve));
  const c = connection(server.address, {
    onEpoch: (_c, epoch) => epochs.push(epoch),
    onBackoff: () => backoffs++,
    onConnect: () => {
      connects++;
      if (connects === 2) reconnected();
    },
  });
  assert.is(await c.request(Opcode.PING, 0, null, null, 0), undefined);
  assert.is(c.lastEpoch, 3);
  server.epoch = 5;
  server.dropConnections();
  await second;
  assert.is(backoffs, 0, 'no backoff after a healthy connection');
  await c.request(Opcode.PING, 0, null, null, 0);
  server.epoch = 4;
  await c.request(Opcode.PING, 0, null, null, 0);
  assert.equal(epochs, [3, 5, 4], 'every change is reported, down as well as up');
  assert.is(c.lastEpoch, 4, 'the latest epoch');
  assert.is(c.highestEpoch, 5, 'the highest epoch seen');
});

conn('requestRaw relays any status with flags as given; it rejects only when no answer comes', async () => {
  const server = await FakeServer.start({
    record: true,
    epoch: 2,
    handler: (r) => (r.key.toString() === 'bad' ? { status: Status.NOT_INTEGER, value: 'not an integer' } : undefined),
  });
  const c = connection(server.address, { timeoutMs: 100 });
  const set = await c.requestRaw(Opcode.SET, Flag.FORWARDED, Buffer.from('k'), Buffer.from('v'), 0);
  assert.equal(
    { ...set, value: set.value.toString() },
    { opcode: Opcode.SET, status: Status.OK, epoch: 2, extrasHigh: 0, extrasLow: 0, value: '' },
  );
  const got = await c.requestRaw(Opcode.GET, Flag.FORWARDED, 'k', null, 0);
  assert.is(got.value.toString(), 'v');
  const incr = await c.requestRaw(Opcode.INCR, 0, 'n', null, -3);
  assert.is(incr.extrasHigh, 0xffffffff);
  assert.is(incr.extrasLow, 0xfffffffd);
  const bad = await c.requestRaw(Opcode.INCR, 0, 'bad', null, 1);
  assert.is(bad.status, Status.NOT_INTEGER);
  assert.is(bad.value.toString(), 'not an integer');
  assert.equal(
    server.requests.map((r) => r.flags),
    [Flag.FORWARDED, Flag.FORWARDED, 0, 0],
  );
  server.behavior = 'silent';
  assert.instance(await settle(c.requestRaw(Opcode.PING, 0, null, null, 0)), TimeoutError);
});

conn('a node that stops reading: past maxQueuedBytes new requests fail fast with QueueFullError', async () => {
  const server = await FakeServer.start({ behavior: 'stalled' });
  const c = connection(server.address, { maxQueuedBytes: 1024 * 1024, timeoutMs: 10_000 });
  const value = Buffer.alloc(256 * 1024, 1);
  const sent: Array<Promise<unknown>> = [];
  let refused: Error | null = null;
  // The kernel's socket buffers take a few MB first; keep writing one batch per tick until the client refuses.
  for (let batch = 0; batch < 400 && refused === null; batch++) {
    for (let i = 0; i < 4; i++) sent.push(settle(c.request(Opcode.SET, 0, `k${batch}:${i}`, value, 0)));
    refused = await Promise.race([
      sent[sent.length - 1]!.then((r) => (r instanceof Error ? r : null)),
      new Promise<null>((resolve) => setImmediate(() => resolve(null))),
    ]);
  }
  assert.instance(refused, QueueFullError);
  assert.ok(refused!.message.includes('not reading'), refused!.message);
  assert.ok(sent.length < 400 * 4, 'refused before the loop ran out');
  await c.close();
  for (const result of await Promise.all(sent)) assert.instance(result, Error);
});

conn.run();
