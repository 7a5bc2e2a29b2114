/**
 * The RESP port's bounds: request limits sized for a cache (maxArgs 128 Ki, maxRequestBytes max(64 MiB, 2 ×
 * the bulk limit) and within the input budget), the node-wide input and output budgets (held-memory.ts) that
 * close the connections holding the most, and the reply-size rule (MGET over maxResponseBytes, large replies
 * while the output budget is over: "-ERR response too large", the connection kept).
 *
 * Waits are for events (replies, closes) or for a counter, re-checked every event-loop turn; no test sleeps or
 * asserts a duration. Every server, node, client and budget is closed in after.each.
 */
import { suite } from 'uvu';
import { eventually } from './helpers/wait';
import * as assert from 'uvu/assert';
import { RespReplyError, RespTestClient, closeAllClients, encodeCommand, text, type RespValue } from './helpers/resp-client';
import { closeAllRespServers, startRespTestServer } from './helpers/resp-server';
import { startCluster } from './helpers/cluster';
import { closeAllNodes } from './helpers/node';
import type { CacheNode } from '../src/node/cache-node';
import { nodeInternals } from '../src/node/internals';
import { NodeBudgets, type OutputHolder } from '../src/net/held-memory';
import { DEFAULT_MAX_ARGS } from '../src/resp/parser';
import { defaultMaxRequestBytes } from '../src/resp/resp-server';

/** Every event-loop turn (or every few ms), as this file has always waited. */
const waitUntil = (check: () => boolean, what: string, timeoutMs = 10000): Promise<number> => eventually(check, what, timeoutMs, 0);

const KiB = 1024;
const MiB = 1024 * 1024;

const Limits = suite('resp limits');

const budgetsMade = new Set<NodeBudgets>();

function budgets(inputBytes: number, outputBytes: number): NodeBudgets {
  const made = new NodeBudgets(inputBytes, outputBytes);
  budgetsMade.add(made);
  return made;
}

Limits.after.each(async () => {
  // uvu drops a failed test's error when after.each throws too: a cleanup problem is logged, never thrown.
  const cleanup = async (what: string, step: () => unknown): Promise<void> => {
    try {
      await step();
    } catch (error) {
      console.error(`after.each: ${what} failed:`, error);
    }
  };
  await cleanup('closing clients', closeAllClients);
  await cleanup('closing RESP servers', closeAllRespServers);
  await cleanup('closing nodes', closeAllNodes);
  for (const made of budgetsMade) made.stop();
  budgetsMade.clear();
});

/** An MSET of `pairs` keys with values of `valueBytes`, cut `missing` bytes before the end of the last value. */
function cutMset(prefix: string, pairs: number, valueBytes: number, missing: number): Buffer {
  const args: Array<string | Buffer> = ['MSET'];
  for (let i = 0; i < pairs; i++) args.push(`${prefix}${i}`, Buffer.alloc(valueBytes, 0x61 + i));
  const whole = encodeCommand(args);
  return whole.subarray(0, whole.length - 2 - missing);
}

/** The bytes cutMset left out: the rest of the last value and its CRLF. */
function restOfMset(pairs: number, missing: number): Buffer {
  return Buffer.concat([Buffer.alloc(missing, 0x61 + pairs - 1), Buffer.from('\r\n')]);
}

/** A SET and a GET on the canary connection: both replies must be right. */
async function canaryRound(canary: RespTestClient, round: number): Promise<void> {
  assert.is(await canary.call('SET', `canary:${round}`, `value ${round}`), 'OK');
  assert.is(await canary.str('GET', `canary:${round}`), `value ${round}`);
}

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`\\r\\n${field}:([^\\r]*)\\r\\n`).exec(info)?.[1];
}

// ---- request limits ----

Limits(
  'maxArgs defaults to 128 Ki: 131,072 arguments are read, 131,073 are refused at the count line and the connection closed',
  async () => {
    assert.is(DEFAULT_MAX_ARGS, 131_072);
    const t = await startRespTestServer();
    const over = await RespTestClient.connect(t.port);
    over.sendRaw('*131073\r\n');
    await over.closedWithin();
    assert.is(over.received.toString(), '-ERR Protocol error: invalid multibulk length\r\n');
    assert.is(t.server.stats.protocolErrors, 1);
    assert.is(t.server.budgets.input.peak, 0, 'nothing was held for the refused command');
    // The limit itself is accepted: EXISTS with 131,071 keys.
    const at = await RespTestClient.connect(t.port);
    at.sendRaw(Buffer.concat([Buffer.from('*131072\r\n$6\r\nEXISTS\r\n'), Buffer.from('$1\r\nk\r\n'.repeat(131_071))]));
    assert.equal(await at.take(1), [0]);
    assert.is(await at.call('PING'), 'PONG');
  },
);

Limits('a configured maxArgs is checked on the count line: one more is refused and the connection closed', async () => {
  const t = await startRespTestServer({ maxArgs: 4 });
  const ok = await RespTestClient.connect(t.port);
  assert.is(await ok.call('MSET', 'a', '1'), 'OK'); // 3 arguments
  assert.equal(text(await ok.call('MGET', 'a', 'b', 'c')), ['1', null, null]); // 4
  const over = await RespTestClient.connect(t.port);
  over.sendRaw('*5\r\n');
  await over.closedWithin();
  assert.is(over.received.toString(), '-ERR Protocol error: invalid multibulk length\r\n');
  assert.is(t.server.stats.protocolErrors, 1);
});

Limits('maxRequestBytes: a command declaring more is refused at the length that passes it, before its bulk is allocated', async () => {
  // The smallest allowed: one bulk of the largest size (1 KiB + 64 KiB slack), so SET k <that> passes it.
  const t = await startRespTestServer({ store: { maxValueBytes: 1024 }, maxRequestBytes: 1024 + 64 * KiB });
  const c = await RespTestClient.connect(t.port);
  c.sendRaw(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$${1024 + 64 * KiB}\r\n`);
  await c.closedWithin();
  assert.is(c.received.toString(), `-ERR Protocol error: request larger than ${1024 + 64 * KiB} bytes\r\n`);
  assert.is(t.server.budgets.input.peak, 0, 'no bulk buffer was allocated');
  const fresh = await RespTestClient.connect(t.port);
  assert.is(await fresh.call('PING'), 'PONG');
});

Limits('maxRequestBytes defaults to max(64 MiB, 2 × the bulk limit): two 32 MiB bulks pass it, the second is refused', async () => {
  assert.is(defaultMaxRequestBytes(MiB + 64 * KiB, 2 ** 40), 64 * MiB);
  assert.is(defaultMaxRequestBytes(48 * MiB, 2 ** 40), 96 * MiB);
  assert.is(defaultMaxRequestBytes(MiB + 64 * KiB, 8 * MiB), 8 * MiB, 'not above the input budget');
  // The bulk limit is 32 MiB + 64 KiB, so the default is 2 × that (the old default was 128 MiB).
  const bulk = 32 * MiB + 64 * KiB;
  const t = await startRespTestServer({ maxValueBytes: 32 * MiB });
  const c = await RespTestClient.connect(t.port);
  c.sendRaw(
    Buffer.concat([
      Buffer.from(`*5\r\n$4\r\nMSET\r\n$1\r\na\r\n$${bulk}\r\n`),
      Buffer.alloc(bulk, 0x61),
      Buffer.from(`\r\n$1\r\nb\r\n$${bulk}\r\n`),
    ]),
  );
  await c.closedWithin();
  assert.is(c.received.toString(), `-ERR Protocol error: request larger than ${2 * bulk} bytes\r\n`);
  assert.is(t.server.stats.protocolErrors, 1);
});

Limits('with a node budget, maxRequestBytes defaults to the input cap: a command declaring more is refused', async () => {
  const shared = budgets(MiB, 128 * MiB);
  const t = await startRespTestServer({ budgets: shared, store: { maxValueBytes: 512 * KiB } });
  const c = await RespTestClient.connect(t.port);
  c.sendRaw(`*5\r\n$4\r\nMSET\r\n$1\r\na\r\n$${512 * KiB}\r\n${'x'.repeat(512 * KiB)}\r\n$1\r\nb\r\n$${512 * KiB}\r\n`);
  await c.closedWithin();
  assert.is(c.received.toString(), `-ERR Protocol error: request larger than ${MiB} bytes\r\n`);
});

Limits("before the password: 10 arguments and 16 KiB per command; after it, the server's limits (connection-auth.ts)", async () => {
  const token = 'limits-test-token-0123456789abcdef';
  const t = await startRespTestServer({ authToken: token });
  const many = await RespTestClient.connect(t.port);
  assert.is(await many.err('GET', 'k'), 'NOAUTH Authentication required.');
  many.send('MGET', ...Array.from({ length: 10 }, (_, i) => `k${i}`)); // 11 arguments
  await many.closedWithin();
  assert.match(many.received.toString(), /-ERR Protocol error: invalid multibulk length\r\n$/);
  const wrong = await RespTestClient.connect(t.port);
  for (let i = 0; i < 3; i++) assert.match(await wrong.err('AUTH', `guess${i}`), /^WRONGPASS/);
  assert.ok(wrong.isOpen);
  assert.match(await wrong.err('AUTH', 'guess3'), /^WRONGPASS/);
  await wrong.closedWithin();
  const ok = await RespTestClient.connect(t.port);
  assert.is(await ok.call('AUTH', 'default', token), 'OK');
  assert.is(await ok.call('MSET', ...Array.from({ length: 20 }, (_, i) => `k${i}`)), 'OK');
  assert.is(await ok.call('SET', 'big', 'v'.repeat(100_000)), 'OK');
  assert.is(t.server.stats.preauthLimitDisconnects, 1);
  assert.is(t.server.stats.authFailureDisconnects, 1);
  assert.is(t.server.stats.authSuccesses, 1);
});

// ---- input budget ----

Limits('input budget: past the node-wide cap the connection holding the most is closed; the others and a canary go on', async () => {
  const shared = budgets(MiB, 128 * MiB);
  const t = await startRespTestServer({ budgets: shared, store: { maxValueBytes: 512 * KiB, maxMemoryBytes: 64 * MiB } });
  const canary = await RespTestClient.connect(t.port);
  await canaryRound(canary, 0);

  // A declares 2 × 400,000 bytes and sends all but 100,000 of the second value: it holds about 800 KB.
  const a = await RespTestClient.connect(t.port);
  a.sendRaw(cutMset('a', 2, 400_000, 100_000));
  await waitUntil(() => shared.input.bytes >= 800_000, 'A to hold its MSET');
  assert.ok(shared.input.bytes <= MiB, `A alone (${shared.input.bytes} bytes) is within the cap`);
  await canaryRound(canary, 1);

  // B declares 2 × 150,000: together they pass 1 MiB, and A, holding the most, goes.
  const b = await RespTestClient.connect(t.port);
  b.sendRaw(cutMset('b', 2, 150_000, 50_000));
  await a.closedWithin();
  assert.is(a.received.length, 0, 'A got no reply: its command never ran');
  assert.is(t.server.stats.inputLimitDisconnects, 1);
  assert.is(shared.input.stats().closed, 1);
  assert.ok(shared.input.peak > MiB, `the total passed the cap (peak ${shared.input.peak})`);
  assert.ok(shared.input.bytes > 0 && shared.input.bytes < 600_000, `only B counts now (${shared.input.bytes} bytes)`);
  await canaryRound(canary, 2);

  // D holds a little more: the total stays within the cap, nobody else is closed.
  const d = await RespTestClient.connect(t.port);
  d.sendRaw(cutMset('d', 1, 100_000, 10_000));
  await waitUntil(() => shared.input.bytes >= 400_000, 'B and D to be counted');
  assert.is(t.server.stats.inputLimitDisconnects, 1);
  await canaryRound(canary, 3);

  // Both finish: their commands run and the budget is back to 0.
  b.sendRaw(restOfMset(2, 50_000));
  d.sendRaw(restOfMset(1, 10_000));
  assert.is((await b.take(1))[0], 'OK');
  assert.is((await d.take(1))[0], 'OK');
  await waitUntil(() => shared.input.bytes === 0, 'the budget to drop to 0');
  assert.is(await canary.call('STRLEN', 'b1'), 150_000);
  assert.is(await canary.call('EXISTS', 'a0', 'a1'), 0, "A's MSET never ran");
  assert.is(infoField((await canary.str('INFO', 'stats'))!, 'dcache_input_limit_disconnects'), '1');
  assert.ok(b.isOpen && d.isOpen && canary.isOpen);
});

Limits('input budget: closing a connection with a half-received command gives its bytes back', async () => {
  const shared = budgets(64 * MiB, 128 * MiB);
  const t = await startRespTestServer({ budgets: shared, store: { maxValueBytes: 512 * KiB } });
  const c = await RespTestClient.connect(t.port);
  c.sendRaw(cutMset('k', 1, 300_000, 1000));
  await waitUntil(() => shared.input.bytes >= 300_000, 'the half command to be counted');
  c.destroy();
  await waitUntil(() => shared.input.bytes === 0 && t.server.connectionCount === 0, 'the bytes to be released');
  assert.is(t.server.stats.inputLimitDisconnects, 0);
});

// ---- reply size ----

Limits(
  'MGET whose reply would pass maxResponseBytes gets "-ERR response too large" with the sizes; the connection stays usable',
  async () => {
    const t = await startRespTestServer({ maxResponseBytes: 100_000, store: { maxValueBytes: 64 * KiB } });
    const c = await RespTestClient.connect(t.port);
    const value = 'v'.repeat(40_000);
    for (const key of ['k1', 'k2', 'k3']) assert.is(await c.call('SET', key, value), 'OK');
    const two = await c.call('MGET', 'k1', 'k2');
    assert.ok(Array.isArray(two) && two.length === 2);
    // 3 × ($40000\r\n + 40,000 + \r\n) + *3\r\n = 120,034 bytes.
    const message = await c.err('MGET', 'k1', 'k2', 'k3');
    assert.match(message, /^ERR response too large: the response would be 120034 bytes; the limit is 100000 bytes/);
    assert.match(message, /fewer keys/);
    assert.is(t.server.stats.responseTooLarge, 1);
    // Missing keys count as nil: the same MGET with one key absent fits.
    assert.equal(text(await c.call('MGET', 'k1', 'nope', 'k3')), [value, null, value]);
    assert.is(await c.call('PING'), 'PONG');
    assert.is(await c.str('GET', 'k3'), value, 'a single value is never refused for maxResponseBytes');
    assert.is(infoField((await c.str('INFO', 'stats'))!, 'dcache_response_too_large'), '1');
  },
);

Limits('maxResponseBytes defaults to outputHardLimitBytes less outputHighWaterBytes', async () => {
  const t = await startRespTestServer({
    outputHighWaterBytes: 64 * KiB,
    outputHardLimitBytes: 256 * KiB,
    store: { maxValueBytes: 64 * KiB },
  });
  const c = await RespTestClient.connect(t.port);
  const value = 'v'.repeat(50_000);
  const keys = ['a', 'b', 'c', 'd'];
  for (const key of keys) assert.is(await c.call('SET', key, value), 'OK');
  assert.equal(text(await c.call('MGET', 'a', 'b', 'c')), [value, value, value]); // 150 KB < 192 KiB
  assert.match(await c.err('MGET', ...keys), /^ERR response too large: the response would be 200044 bytes; the limit is 196608 bytes/);
  assert.is(t.server.stats.responseTooLarge, 1);
  assert.is(t.server.stats.outputLimitDisconnects, 0);
  assert.is(await c.call('DBSIZE'), 4);
});

Limits('while the output budget is over, a GET or MGET reply over 1 MiB is refused; small ones are served; after it, all are', async () => {
  const shared = budgets(64 * MiB, 4 * MiB);
  const t = await startRespTestServer({ budgets: shared, store: { maxValueBytes: 2 * MiB, maxMemoryBytes: 64 * MiB } });
  const setup = await RespTestClient.connect(t.port);
  const big = Buffer.alloc(1536 * KiB, 0x62);
  assert.is(await setup.call('SET', 'big', big), 'OK');
  assert.is(await setup.call('SET', 'small', 'tiny'), 'OK');
  // Another connection's unread output, as the budget sees it (never eligible to be closed: not blocked).
  const other: OutputHolder = { held: 0, shed: () => undefined, blockedSince: () => 0 };
  shared.output.report(other, 5 * MiB);
  assert.ok(shared.output.over);
  // Each command below is the first of its connection's read: it runs, then the connection waits for room.
  const get = await RespTestClient.connect(t.port);
  assert.match(
    await get.err('GET', 'big'),
    /^ERR response too large: the response would be 1572876 bytes while the node holds more unread responses than --output-total-limit \(4194304 bytes\)/,
  );
  const mget = await RespTestClient.connect(t.port);
  assert.match(await mget.err('MGET', 'small', 'big'), /^ERR response too large: the response would be \d+ bytes while the node holds/);
  const smallGet = await RespTestClient.connect(t.port);
  assert.is(await smallGet.str('GET', 'small'), 'tiny');
  assert.is(t.server.stats.responseTooLarge, 2);
  // The queued commands of the waiting connections run once the budget has room again.
  const later = get.call('GET', 'big');
  const laterMget = mget.call('MGET', 'small', 'big');
  shared.output.release(other);
  const value = await later;
  assert.ok(Buffer.isBuffer(value) && value.equals(big));
  assert.equal(text(await laterMget), ['tiny', big.toString()]);
  assert.is(t.server.stats.responseTooLarge, 2);
});

Limits('cluster node: MGET is sized from its local part before anything is forwarded, and whole before it is written', async () => {
  // maxResponseBytes = 256 KiB - 64 KiB = 192 KiB.
  const nodes = await startCluster(2, {
    respAddr: '127.0.0.1:0',
    maxValueBytes: 64 * KiB,
    outputHighWaterBytes: 64 * KiB,
    outputHardLimitBytes: 256 * KiB,
  });
  const [self, peer] = nodes as [CacheNode, CacheNode];
  const ring = nodeInternals(self).cluster.ring;
  const owned = (owner: CacheNode, count: number): string[] => {
    const keys: string[] = [];
    for (let i = 0; keys.length < count; i++) if (ring.lookup(`key:${i}`) === owner.address) keys.push(`key:${i}`);
    return keys;
  };
  const local = owned(self, 4);
  const remote = owned(peer, 2);
  const c = await RespTestClient.connect(self.respPort!);
  const value = 'v'.repeat(50_000);
  for (const key of [...local, ...remote]) assert.is(await c.call('SET', key, value), 'OK');
  const peerReads = (): number => nodeInternals(peer).store.stats().hits + nodeInternals(peer).store.stats().misses;

  // Local part alone too large: refused before the owner is asked.
  const before = peerReads();
  assert.match(
    await c.err('MGET', ...local, remote[0]!),
    /^ERR response too large: the response would be \d+ bytes; the limit is 196608 bytes/,
  );
  assert.is(peerReads(), before, 'nothing was forwarded');
  // Local part fits, the joined reply does not: refused after the owner answered, before it is written.
  assert.match(
    await c.err('MGET', local[0]!, local[1]!, ...remote),
    /^ERR response too large: the response would be 200044 bytes; the limit is 196608 bytes/,
  );
  assert.is(peerReads(), before + 2, 'the remote part was fetched');
  // Within the limit: served, in key order.
  assert.equal(text(await c.call('MGET', local[0]!, remote[0]!, 'absent')), [value, value, null]);
  assert.is(infoField((await c.str('INFO', 'stats'))!, 'dcache_response_too_large'), '2');
});

// ---- output budget ----

Limits('output budget: a client that never reads is closed once the node is over its cap; a canary keeps getting answers', async () => {
  const shared = budgets(64 * MiB, 256 * KiB);
  const t = await startRespTestServer({
    budgets: shared,
    outputHighWaterBytes: 64 * KiB,
    store: { maxValueBytes: MiB, maxMemoryBytes: 64 * MiB },
  });
  const canary = await RespTestClient.connect(t.port);
  const value = Buffer.alloc(512 * KiB, 0x76);
  const mid = Buffer.alloc(32 * KiB, 0x6d); // above the socket's own mark, below the connection's
  assert.is(await canary.call('SET', 'big', value), 'OK');
  assert.is(await canary.call('SET', 'mid', mid), 'OK');
  const reader = await RespTestClient.connect(t.port);
  const stalled = await RespTestClient.connect(t.port);
  stalled.socket.pause();
  // 32 MiB of replies: far more than the socket buffers hold, so the server queues them.
  stalled.sendRaw(Buffer.concat(Array.from({ length: 64 }, () => encodeCommand(['GET', 'big']))));
  let round = 0;
  const deadline = Date.now() + 10_000;
  while (t.server.stats.outputLimitDisconnects === 0) {
    if (Date.now() > deadline) assert.unreachable('the client that never reads was not closed');
    await canaryRound(canary, round++);
    // A reader of replies above the socket's own mark is served too: its output drains, so it is not closed.
    const got = await reader.call('GET', 'mid');
    assert.ok(Buffer.isBuffer(got) && got.equals(mid));
  }
  assert.is(t.server.stats.outputLimitDisconnects, 1);
  assert.is(t.server.stats.slowReaderDisconnects, 0, 'closed by the budget, not by the slow-reader sweep');
  assert.is(shared.output.stats().closed, 1);
  assert.ok(shared.output.peak > 256 * KiB, `the node went over its cap (peak ${shared.output.peak})`);
  await waitUntil(() => t.server.connectionCount === 2, 'the stalled connection to be gone');
  for (let i = 0; i < 5; i++) await canaryRound(canary, round++);
  const last: RespValue = await reader.call('GET', 'big');
  assert.ok(Buffer.isBuffer(last) && last.equals(value), 'the reader gets a large reply once the node has room');
  await waitUntil(() => shared.output.bytes === 0, 'the output budget to empty');
  assert.ok(canary.isOpen && reader.isOpen);
  stalled.socket.resume(); // a paused socket never reports its end
  await stalled.closedWithin();
  assert.ok(stalled.received.length < 64 * value.length, 'it was closed before getting every reply');
});

Limits(
  'the per-connection hard limit still closes a client that never reads when one reply can pass it (maxResponseBytes raised)',
  async () => {
    const t = await startRespTestServer({
      outputHighWaterBytes: 16 * KiB,
      outputHardLimitBytes: 64 * KiB,
      maxResponseBytes: 16 * MiB,
      store: { maxValueBytes: 256 * KiB },
    });
    const c = await RespTestClient.connect(t.port);
    await c.call('SET', 'big', 'v'.repeat(200 * KiB));
    c.socket.pause();
    c.send('MGET', ...Array.from({ length: 50 }, () => 'big'));
    await waitUntil(() => t.server.stats.outputLimitDisconnects === 1, 'the disconnect');
    await waitUntil(
      () => t.server.connectionCount === 0 && t.server.budgets.output.bytes === 0,
      'the connection and its output to be gone',
    );
    assert.is(t.server.stats.responseTooLarge, 0);
    c.socket.resume();
    await c.closedWithin();
  },
);

Limits('without maxResponseBytes raised, that MGET is refused instead and the connection is kept', async () => {
  const t = await startRespTestServer({
    outputHighWaterBytes: 16 * KiB,
    outputHardLimitBytes: 64 * KiB,
    store: { maxValueBytes: 256 * KiB },
  });
  const c = await RespTestClient.connect(t.port);
  await c.call('SET', 'big', 'v'.repeat(200 * KiB));
  const reply = await c.call('MGET', ...Array.from({ length: 50 }, () => 'big'));
  assert.ok(reply instanceof RespReplyError && reply.message.startsWith('ERR response too large'), String(reply));
  assert.is(t.server.stats.outputLimitDisconnects, 0);
  assert.is(await c.call('PING'), 'PONG');
});

Limits.run();
