/** Client ↔ fake node: every method's encoding and decoding, typed errors for statuses and bad arguments. */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '../src/client/client';
import { DEFAULT_NODE_LIMITS, mgetKeysPerFrame } from '../src/client/multi-plan';
import {
  ConfigError,
  DCacheError,
  InvalidArgumentError,
  KeyEmptyError,
  KeyTooLargeError,
  NotIntegerError,
  OutOfMemoryError,
  OverflowError,
  ProtocolError,
  ServerError,
  ShuttingDownError,
  UnavailableError,
  UnknownOpcodeError,
  ValueTooLargeError,
} from '../src/errors';
import { MULTI_SLACK_BYTES, Opcode, SetMode, Status, setModeOf } from '../src/protocol/constants';
import { decodeMgetBody, decodeMsetBody } from '../src/protocol/multi';
import { closeAllFakeServers, FakeServer } from './helpers/fake-server';

const clients = new Set<Client>();
function clientFor(server: FakeServer, options: Partial<ConstructorParameters<typeof Client>[0]> = {}): Client {
  const client = new Client({ nodes: [server.address], ...options });
  clients.add(client);
  return client;
}

async function cleanup(): Promise<void> {
  await Promise.all([...clients].map((c) => c.close()));
  clients.clear();
  await closeAllFakeServers();
}

async function rejects(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new assert.Assertion({ message: 'expected the promise to reject', operator: 'rejects' } as never);
}

const roundTrip = suite('client round trips');
roundTrip.after.each(cleanup);

roundTrip('get/set/delete with string and Buffer keys and values', async () => {
  const server = await FakeServer.start({ record: true });
  const client = clientFor(server);
  assert.is(await client.get('missing'), null);
  assert.is(await client.set('k', 'v'), true);
  const value = await client.get('k');
  assert.ok(Buffer.isBuffer(value));
  assert.is(value!.toString(), 'v');
  const binary = Buffer.from([0, 1, 2, 255, 254]);
  assert.is(await client.set(Buffer.from([0xff, 0x00]), binary), true);
  assert.equal(await client.get(Buffer.from([0xff, 0x00])), binary);
  assert.is(await client.set('ключ', 'значение 🎉'), true);
  assert.is((await client.get('ключ'))!.toString('utf8'), 'значение 🎉');
  assert.equal(server.requests.find((r) => r.opcode === Opcode.SET && r.key.toString() === 'ключ')!.key, Buffer.from('ключ'));
  const big = Buffer.alloc(300_000, 7);
  assert.is(await client.set('big', big), true);
  assert.equal(await client.get('big'), big);
  assert.is(await client.set('empty', ''), true);
  assert.equal(await client.get('empty'), Buffer.alloc(0));
  assert.is(await client.delete('k'), true);
  assert.is(await client.delete('k'), false);
  assert.is(await client.get('k'), null);
});

roundTrip('the value handed out is a copy, not a view of the read buffer', async () => {
  const server = await FakeServer.start();
  const client = clientFor(server);
  await client.set('a', 'aaaa');
  await client.set('b', 'bbbb');
  const [a, b] = await Promise.all([client.get('a'), client.get('b')]);
  assert.is(a!.buffer === b!.buffer && a!.byteOffset + 4 > b!.byteOffset && b!.byteOffset + 4 > a!.byteOffset, false);
  a!.fill(0x7a);
  assert.is(b!.toString(), 'bbbb');
});

roundTrip('set modes and TTLs go on the wire as flags and extras', async () => {
  const server = await FakeServer.start({ record: true });
  const client = clientFor(server);
  assert.is(await client.set('n', '1', { mode: 'xx' }), false);
  assert.is(await client.set('n', '1', { mode: 'nx' }), true);
  assert.is(await client.set('n', '2', { mode: 'nx' }), false);
  assert.is(await client.set('n', '3', { mode: 'xx', ttlMs: 60_000 }), true);
  assert.is(await client.set('n', '4', { mode: 'set', ttlMs: 2 ** 40 }), true);
  const sets = server.requests.filter((r) => r.opcode === Opcode.SET);
  assert.equal(
    sets.map((r) => setModeOf(r.flags)),
    [SetMode.XX, SetMode.NX, SetMode.NX, SetMode.XX, SetMode.SET],
  );
  assert.is(sets[3]!.extrasLow, 60_000);
  assert.is(sets[4]!.extrasHigh, 2 ** 8);
  assert.is(sets[4]!.extrasLow, 0);
});

roundTrip('ttl follows PTTL semantics; touch sets and clears expiry', async () => {
  const server = await FakeServer.start();
  const client = clientFor(server);
  assert.is(await client.ttl('nope'), -2);
  await client.set('forever', 'x');
  assert.is(await client.ttl('forever'), -1);
  await client.set('soon', 'x', { ttlMs: 50_000 });
  const left = await client.ttl('soon');
  assert.ok(left > 40_000 && left <= 50_000, `ttl ${left}`);
  assert.is(await client.touch('soon', 0), true);
  assert.is(await client.ttl('soon'), -1);
  assert.is(await client.touch('forever', 10_000), true);
  assert.ok((await client.ttl('forever')) > 0);
  assert.is(await client.touch('nope', 1000), false);
});

roundTrip('incr: default 1, negative, bigint deltas and bigint results outside the safe range', async () => {
  const server = await FakeServer.start();
  const client = clientFor(server);
  assert.is(await client.incr('c'), 1);
  assert.is(await client.incr('c', 41), 42);
  assert.is(await client.incr('c', -50), -8);
  assert.is(await client.incr('c', 8n), 0);
  const big = await client.incr('big', 2n ** 62n);
  assert.is(typeof big, 'bigint');
  assert.is(big, 2n ** 62n);
  assert.is(await client.incr('big', -(2n ** 62n) + 5n), 5);
  assert.is(await client.incr('edge', Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
  assert.is(await client.incr('edge', 1), 2n ** 53n);
  assert.is(await client.incr('neg', -(2n ** 63n)), -(2n ** 63n));
  assert.is((await client.get('neg'))!.toString(), (-(2n ** 63n)).toString());
});

roundTrip('mget keeps key order and returns null for misses', async () => {
  const server = await FakeServer.start();
  const client = clientFor(server);
  await client.set('a', '1');
  await client.set(Buffer.from('c'), '3');
  const values = await client.mget(['a', 'b', Buffer.from('c'), 'a']);
  assert.equal(
    values.map((v) => (v === null ? null : v.toString())),
    ['1', null, '3', '1'],
  );
  assert.equal(await client.mget([]), []);
});

roundTrip('mset accepts pairs, Maps and objects, with a TTL', async () => {
  const server = await FakeServer.start({ record: true });
  const client = clientFor(server);
  await client.mset([
    ['x', '1'],
    [Buffer.from('y'), Buffer.from('2')],
  ]);
  await client.mset(new Map([['z', '3']]));
  await client.mset({ w: '4', v: Buffer.from('5') }, { ttlMs: 30_000 });
  await client.mset([]);
  const values = await client.mget(['x', 'y', 'z', 'w', 'v']);
  assert.equal(
    values.map((v) => v!.toString()),
    ['1', '2', '3', '4', '5'],
  );
  const msets = server.requests.filter((r) => r.opcode === Opcode.MSET);
  assert.is(msets.length, 3);
  assert.is(msets[2]!.extrasLow, 30_000);
  assert.is(msets[0]!.key.length, 0);
  assert.ok((await client.ttl('w')) > 0);
});

roundTrip('mset and mget bodies over the multi-key limit are split into several frames', async () => {
  const server = await FakeServer.start({ record: true });
  const client = clientFor(server);
  const chunk = Buffer.alloc(400 * 1024, 1);
  const entries: Array<[string, Buffer]> = [];
  for (let i = 0; i < 7; i++) entries.push([`big:${i}`, Buffer.alloc(chunk.length, i)]);
  entries.push(['huge', Buffer.alloc(MULTI_SLACK_BYTES + 10, 9)]);
  entries.push(['tail', Buffer.from('t')]);
  await client.mset(entries);
  const msets = server.requests.filter((r) => r.opcode === Opcode.MSET);
  assert.ok(msets.length >= 4, `${msets.length} MSET frames`);
  const sent = msets.flatMap((r) => decodeMsetBody(r.value, 0, r.value.length)!);
  assert.equal(
    sent.map(([k]) => k.toString()),
    entries.map(([k]) => k),
  );
  for (const r of msets) {
    const n = decodeMsetBody(r.value, 0, r.value.length)!.length;
    assert.ok(r.value.length <= MULTI_SLACK_BYTES || n === 1, `frame of ${r.value.length} bytes holds ${n} entries`);
  }
  // MGET: 200 keys of 8000 bytes is ~1.6 MB of keys; frames hold at most as many keys as a node with the
  // default limits can answer whatever their values (62 of up to 1 MiB in its 63 MiB response cap).
  const perFrame = mgetKeysPerFrame(DEFAULT_NODE_LIMITS, client.maxResponseBytes);
  assert.is(perFrame, 62);
  const longKeys = Array.from({ length: 200 }, (_, i) => `${String(i).padStart(6, '0')}${'k'.repeat(7994)}`);
  const values = await client.mget([...longKeys, 'big:3', 'tail']);
  assert.is(values.length, 202);
  assert.ok(values.slice(0, 200).every((v) => v === null));
  assert.equal(values[200], Buffer.alloc(chunk.length, 3));
  assert.is(values[201]!.toString(), 't');
  let mgets = server.requests.filter((r) => r.opcode === Opcode.MGET);
  assert.is(mgets.length, Math.ceil(202 / perFrame));
  for (const r of mgets) assert.ok(r.value.length <= MULTI_SLACK_BYTES && decodeMgetBody(r.value, 0, r.value.length)!.length <= perFrame);
  assert.equal(
    mgets.flatMap((r) => decodeMgetBody(r.value, 0, r.value.length)!.map((k) => k.toString())),
    [...longKeys, 'big:3', 'tail'],
  );
  // 600 short keys: frames of at most perFrame keys, which bounds each response.
  server.requests.length = 0;
  const shortKeys = Array.from({ length: 600 }, (_, i) => (i === 599 ? 'tail' : `short:${i}`));
  const shortValues = await client.mget(shortKeys);
  assert.is(shortValues.length, 600);
  assert.is(shortValues[599]!.toString(), 't');
  mgets = server.requests.filter((r) => r.opcode === Opcode.MGET);
  const sizes = mgets.map((r) => decodeMgetBody(r.value, 0, r.value.length)!.length);
  assert.equal(sizes, [...Array<number>(Math.floor(600 / perFrame)).fill(perFrame), 600 % perFrame]);
});

roundTrip('ping, stats and flush', async () => {
  const server = await FakeServer.start({ epoch: 7 });
  const client = clientFor(server);
  const latency = await client.ping();
  assert.is(typeof latency, 'number');
  assert.ok(latency >= 0);
  await client.set('a', '1');
  const stats = await client.stats();
  assert.equal(stats, { server: { connections: 1 }, store: { items: 1 } });
  await client.flush();
  assert.is(await client.get('a'), null);
  assert.is(client.highestEpoch, 7);
  assert.is(client.status()[0]!.lastEpoch, 7);
});

const errors = suite('client typed errors');
errors.after.each(cleanup);

errors('error statuses map to typed errors with stable codes and the server message', async () => {
  const replies: Record<string, [number, string]> = {
    ktl: [Status.KEY_TOO_LARGE, 'key is 300 bytes; the limit is 250 bytes (maxKeyBytes)'],
    vtl: [Status.VALUE_TOO_LARGE, 'value is 2000000 bytes; the limit is 1048576 bytes (maxValueBytes / --max-value-size)'],
    bad: [Status.BAD_ARGUMENT, 'TTL must be at most 9007199254740991 ms'],
    nint: [Status.NOT_INTEGER, 'value is not an integer or out of range'],
    ovf: [Status.OVERFLOW, 'would overflow'],
    down: [Status.SHUTTING_DOWN, 'the node is shutting down; retry on another node'],
    int: [Status.INTERNAL_ERROR, 'internal error: boom'],
    unav: [Status.UNAVAILABLE, 'owner 10.0.0.2:7000 unreachable'],
    oom: [Status.OUT_OF_MEMORY, 'out of memory'],
    unk: [Status.UNKNOWN_OPCODE, 'unknown opcode 0x01'],
    odd: [0xf0, 'something new'],
  };
  const server = await FakeServer.start({
    handler: (r) => {
      const reply = replies[r.key.toString()];
      return reply === undefined ? undefined : { status: reply[0], value: reply[1] };
    },
  });
  const client = clientFor(server);
  const expect: Array<[string, new (...args: never[]) => DCacheError, string]> = [
    ['ktl', KeyTooLargeError, 'ERR_KEY_TOO_LARGE'],
    ['vtl', ValueTooLargeError, 'ERR_VALUE_TOO_LARGE'],
    ['bad', InvalidArgumentError, 'ERR_INVALID_ARGUMENT'],
    ['nint', NotIntegerError, 'ERR_NOT_INTEGER'],
    ['ovf', OverflowError, 'ERR_OVERFLOW'],
    ['down', ShuttingDownError, 'ERR_SHUTTING_DOWN'],
    ['int', ServerError, 'ERR_SERVER'],
    ['unav', UnavailableError, 'ERR_UNAVAILABLE'],
    ['oom', OutOfMemoryError, 'ERR_OUT_OF_MEMORY'],
    ['unk', UnknownOpcodeError, 'ERR_UNKNOWN_OPCODE'],
    ['odd', ServerError, 'ERR_SERVER'],
  ];
  for (const [key, type, code] of expect) {
    const error = await rejects(client.get(key));
    assert.instance(error, type, key);
    assert.is((error as DCacheError).code, code, key);
    assert.ok(error.message.includes(replies[key]![1]), `${key}: ${error.message}`);
  }
  const ktl = (await rejects(client.get('ktl'))) as KeyTooLargeError;
  assert.is(ktl.length, 300);
  assert.is(ktl.limit, 250);
  // The connection stays usable after error statuses.
  assert.is(await client.set('fine', '1'), true);
});

errors('incr on a non-integer and past int64 rejects with the server error', async () => {
  const server = await FakeServer.start();
  const client = clientFor(server);
  await client.set('text', 'hello');
  const notInt = await rejects(client.incr('text'));
  assert.instance(notInt, NotIntegerError);
  await client.incr('max', 2n ** 63n - 1n);
  const overflow = await rejects(client.incr('max'));
  assert.instance(overflow, OverflowError);
  assert.is((overflow as DCacheError).code, 'ERR_OVERFLOW');
});

errors('a reply with an unexpected status or opcode is a ProtocolError', async () => {
  const server = await FakeServer.start({
    handler: (r) => (r.key.toString() === 'weird' ? { status: Status.NOT_STORED } : undefined),
  });
  const client = clientFor(server);
  const error = await rejects(client.get('weird'));
  assert.instance(error, ProtocolError);
  assert.is((error as DCacheError).code, 'ERR_PROTOCOL');
});

errors('bad arguments reject (never throw) with TypeError or typed errors', async () => {
  const server = await FakeServer.start();
  const client = clientFor(server);
  const any = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const cases: Array<[string, () => Promise<unknown>, new (...args: never[]) => Error, string?]> = [
    ['get(123)', () => any.get!(123), TypeError, 'key'],
    ['get(undefined)', () => any.get!(undefined), TypeError, 'key'],
    ["get('')", () => client.get(''), KeyEmptyError],
    ['get(empty Buffer)', () => client.get(Buffer.alloc(0)), KeyEmptyError],
    ['get(65536 bytes)', () => client.get('k'.repeat(65_536)), KeyTooLargeError],
    ['get(22000 × 3-byte chars)', () => client.get('€'.repeat(22_000)), KeyTooLargeError],
    ['set(k, 5)', () => any.set!('k', 5), TypeError, 'value'],
    ['set(k, null)', () => any.set!('k', null), TypeError, 'value'],
    ['set ttl -1', () => client.set('k', 'v', { ttlMs: -1 }), InvalidArgumentError, 'ttlMs'],
    ['set ttl 1.5', () => client.set('k', 'v', { ttlMs: 1.5 }), InvalidArgumentError, 'ttlMs'],
    ['set ttl NaN', () => client.set('k', 'v', { ttlMs: Number.NaN }), InvalidArgumentError, 'ttlMs'],
    ['set ttl 2^53', () => client.set('k', 'v', { ttlMs: 2 ** 53 }), InvalidArgumentError, 'ttlMs'],
    ['set ttl "5"', () => any.set!('k', 'v', { ttlMs: '5' }), TypeError, 'ttlMs'],
    ['set mode', () => any.set!('k', 'v', { mode: 'NXX' }), InvalidArgumentError, 'mode'],
    ['set mode type', () => any.set!('k', 'v', { mode: 1 }), TypeError, 'mode'],
    ['set options', () => any.set!('k', 'v', 'nx'), TypeError, 'options'],
    ['touch no ttl', () => any.touch!('k'), TypeError, 'ttlMs'],
    ['touch ttl -5', () => client.touch('k', -5), InvalidArgumentError, 'ttlMs'],
    ['incr 1.5', () => client.incr('k', 1.5), InvalidArgumentError, 'by'],
    ['incr 2^53', () => client.incr('k', 2 ** 53), InvalidArgumentError, 'by'],
    ['incr 2^63n', () => client.incr('k', 2n ** 63n), InvalidArgumentError, 'by'],
    ['incr "1"', () => any.incr!('k', '1'), TypeError, 'by'],
    ['mget not array', () => any.mget!('k'), TypeError, 'keys'],
    ['mget bad key', () => any.mget!(['a', 3]), TypeError, 'keys[1]'],
    ['mget empty key', () => client.mget(['a', '']), KeyEmptyError],
    ['mset not pairs', () => any.mset!([['a']]), TypeError, 'entries[0]'],
    ['mset bad value', () => any.mset!({ a: 1 }), TypeError, 'entries[0] value'],
    ['mset number', () => any.mset!(42), TypeError, 'entries'],
    ['mset ttl', () => client.mset({ a: '1' }, { ttlMs: -1 }), InvalidArgumentError, 'ttlMs'],
  ];
  for (const [name, call, type, mentions] of cases) {
    let promise: Promise<unknown> | undefined;
    try {
      promise = call();
    } catch (error) {
      assert.unreachable(`${name} threw synchronously: ${String(error)}`);
    }
    const error = await rejects(promise!);
    assert.instance(error, type, name);
    if (mentions !== undefined) assert.ok(error.message.includes(mentions), `${name}: ${error.message}`);
  }
  assert.is(server.received, 0, 'no bad request reached the server');
});

errors('bad options throw at construction', () => {
  const bad: Array<[unknown, new (...args: never[]) => Error]> = [
    [undefined, TypeError],
    [{ nodes: '127.0.0.1:7000' }, TypeError],
    [{ nodes: [] }, ConfigError],
    [{ nodes: [7000] }, TypeError],
    [{ nodes: ['127.0.0.1'] }, ConfigError],
    [{ nodes: ['127.0.0.1:0'] }, ConfigError],
    [{ nodes: ['127.0.0.1:65536'] }, ConfigError],
    [{ nodes: ['127.0.0.1:7x'] }, ConfigError],
    [{ nodes: ['::1:7000'] }, ConfigError],
    [{ nodes: ['a b:7000'] }, ConfigError],
    [{ nodes: [':7000', '127.0.0.1:7000'] }, ConfigError],
    [{ nodes: [':7000'], timeoutMs: 0 }, ConfigError],
    [{ nodes: [':7000'], timeoutMs: '5' }, TypeError],
    [{ nodes: [':7000'], connectTimeoutMs: Infinity }, ConfigError],
    [{ nodes: [':7000'], maxPending: 0 }, ConfigError],
    [{ nodes: [':7000'], maxPending: 1.5 }, ConfigError],
    [{ nodes: [':7000'], maxResponseBytes: 0 }, ConfigError],
    [{ nodes: [':7000'], routing: 'direct' }, ConfigError],
  ];
  for (const [options, type] of bad) {
    assert.throws(
      () => new Client(options as never),
      (e: unknown) => e instanceof type,
      JSON.stringify(options),
    );
  }
});

errors('addresses: ":PORT" means 127.0.0.1, IPv6 in brackets', async () => {
  const server = await FakeServer.start();
  const client = new Client({ nodes: [`:${server.port}`, '[::1]:7001', 'localhost:7002'] });
  clients.add(client);
  assert.equal(client.nodes, [`127.0.0.1:${server.port}`, '[::1]:7001', 'localhost:7002']);
  assert.is(await client.set('a', 'b'), true);
});

roundTrip.run();
errors.run();
