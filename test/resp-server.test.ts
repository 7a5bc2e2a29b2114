import { suite } from 'uvu';
import { eventually } from './helpers/wait';
import * as assert from 'uvu/assert';
import { once } from 'node:events';
import * as net from 'node:net';
import { RespReplyError, RespTestClient, closeAllClients, encodeCommand, text, type RespValue } from './helpers/resp-client';
import { closeAllRespServers, startRespTestServer } from './helpers/resp-server';
import { ScrambledBackend } from './helpers/resp-async-backend';
import { seededRandom } from './helpers/random';
import { Store } from '../src/cache/store';
import { resolveNodeOptions } from '../src/server/node-options';
import { silentLogger } from '../src/logger';
import { createNodeRespServer } from '../src/server/node-resp';

/** Every event-loop turn (or every few ms), as this file has always waited. */
const waitUntil = (check: () => boolean, what: string, timeoutMs = 5000): Promise<number> => eventually(check, what, timeoutMs, 0);

const Server = suite('resp server');

const rawSockets = new Set<net.Socket>();

Server.after.each(async () => {
  for (const socket of rawSockets) socket.destroy();
  rawSockets.clear();
  closeAllClients();
  await closeAllRespServers();
});

/** A mixed pipeline and the replies a correct server gives, in order. */
function mixedPipeline(count: number, seed: number): { bytes: Buffer; expected: unknown[] } {
  const random = seededRandom(seed);
  const parts: Buffer[] = [];
  const expected: unknown[] = [];
  const model = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const key = `k${Math.floor(random() * 50)}`;
    const roll = random();
    if (roll < 0.35) {
      const value = `v${i}`;
      parts.push(encodeCommand(['SET', key, value]));
      model.set(key, value);
      expected.push('OK');
    } else if (roll < 0.7) {
      parts.push(encodeCommand(['GET', key]));
      expected.push(model.get(key) ?? null);
    } else if (roll < 0.8) {
      parts.push(encodeCommand(['DEL', key]));
      expected.push(model.delete(key) ? 1 : 0);
    } else if (roll < 0.9) {
      parts.push(encodeCommand(['EXISTS', key, key]));
      expected.push(model.has(key) ? 2 : 0);
    } else if (roll < 0.95) {
      parts.push(Buffer.from(`ECHO inline${i}\r\n`));
      expected.push(`inline${i}`);
    } else {
      parts.push(encodeCommand(['INCR', key]));
      const current = model.get(key);
      if (current === undefined || /^-?\d+$/.test(current)) {
        const next = String(Number(current ?? '0') + 1);
        model.set(key, next);
        expected.push(Number(next));
      } else {
        expected.push('ERROR: ERR value is not an integer or out of range');
      }
    }
  }
  return { bytes: Buffer.concat(parts), expected };
}

function chunked(bytes: Buffer, seed: number, maxChunk: number): Buffer[] {
  const random = seededRandom(seed);
  const out: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    const n = 1 + Math.floor(random() * maxChunk);
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

Server('a pipeline of 1,000 commands in one write gets 1,000 replies in order', async () => {
  const t = await startRespTestServer();
  const c = await RespTestClient.connect(t.port);
  const { bytes, expected } = mixedPipeline(1000, 7);
  c.sendRaw(bytes);
  assert.equal((await c.take(1000)).map(text), expected);
});

Server('the same pipeline cut into random small writes gives the same replies', async () => {
  const t = await startRespTestServer();
  const c = await RespTestClient.connect(t.port);
  const { bytes, expected } = mixedPipeline(1000, 8);
  for (const chunk of chunked(bytes, 3, 40)) c.sendRaw(chunk);
  assert.equal((await c.take(1000)).map(text), expected);
});

Server('replies stay in request order when the backend answers some commands later, out of order', async () => {
  let scrambled: ScrambledBackend | undefined;
  const t = await startRespTestServer({ wrap: (local) => (scrambled = new ScrambledBackend(local, 42)) });
  const c = await RespTestClient.connect(t.port);
  const { bytes, expected } = mixedPipeline(1000, 9);
  for (const chunk of chunked(bytes, 5, 3000)) c.sendRaw(chunk);
  assert.equal((await c.take(1000)).map(text), expected);
  // Errors from a rejected promise take their place in the order too.
  c.send('SET', 'big', 'x'.repeat(1024 * 1024 + 10));
  c.send('PING');
  const [tooBig, pong] = await c.take(2);
  assert.ok(tooBig instanceof RespReplyError && tooBig.message.startsWith('ERR value is'), String(tooBig));
  assert.is(pong, 'PONG');
  assert.is(scrambled!.pending, 0);
});

Server('with few replies allowed to wait on the backend, reading pauses and resumes as they settle', async () => {
  const t = await startRespTestServer({ maxPendingReplies: 3, wrap: (local) => new ScrambledBackend(local, 77, 0.9) });
  const c = await RespTestClient.connect(t.port);
  const { bytes, expected } = mixedPipeline(1000, 10);
  c.sendRaw(bytes);
  assert.equal((await c.take(1000)).map(text), expected);
  assert.ok(t.server.stats.inflightPauses > 0, 'reading paused on pending replies');
});

Server('a protocol error after pending replies: they come first, then the error, then the close', async () => {
  let scrambled: ScrambledBackend | undefined;
  const t = await startRespTestServer({ wrap: (local) => (scrambled = new ScrambledBackend(local, 1)) });
  scrambled!.hold();
  const c = await RespTestClient.connect(t.port);
  c.sendRaw(Buffer.concat([encodeCommand(['SET', 'a', '1']), encodeCommand(['GET', 'a']), Buffer.from('PING\r\n*x\r\n')]));
  await waitUntil(() => scrambled!.pending === 2, 'two answers held');
  scrambled!.release();
  await c.closedWithin();
  assert.is(c.received.toString(), '+OK\r\n$1\r\n1\r\n+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n');
});

Server('bad input: each gets its Redis-worded error and the connection is closed; the server lives on', async () => {
  const t = await startRespTestServer();
  const cases: Array<[string, string]> = [
    ['*2\r\n$3\r\nGET\r\n*1\r\n$4\r\nPING\r\n', "-ERR Protocol error: expected '$', got '*'\r\n"],
    ['*-0\r\n', '-ERR Protocol error: invalid multibulk length\r\n'],
    ['*1\r\n$-1\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
    ['*1\r\n$-5\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
    ['*1\r\n$99999999999\r\n', '-ERR Protocol error: invalid bulk length\r\n'],
    ['*9999999999\r\n', '-ERR Protocol error: invalid multibulk length\r\n'],
    ['*1\r\n$4\r\nPINGGG\r\n', "-ERR Protocol error: expected '\\r\\n' after bulk data\r\n"],
    ['SET a "unbalanced\r\n', '-ERR Protocol error: unbalanced quotes in request\r\n'],
    [`${'x'.repeat(70 * 1024)}\r\n`, '-ERR Protocol error: too big inline request\r\n'],
  ];
  for (const [input, reply] of cases) {
    const c = await RespTestClient.connect(t.port);
    c.sendRaw(input);
    await c.closedWithin();
    assert.is(c.received.toString('latin1'), reply, JSON.stringify(input.slice(0, 40)));
  }
  assert.is(t.server.stats.protocolErrors, cases.length);
  const fresh = await RespTestClient.connect(t.port);
  assert.is(await fresh.call('PING'), 'PONG');
});

Server('an unbalanced array (fewer elements than announced) waits, then times out and closes', async () => {
  const t = await startRespTestServer({ commandTimeoutMs: 200 });
  const c = await RespTestClient.connect(t.port);
  c.sendRaw('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n');
  await c.closedWithin();
  assert.is(c.received.length, 0);
  assert.is(t.server.stats.commandTimeouts, 1);
  const fresh = await RespTestClient.connect(t.port);
  assert.is(await fresh.call('GET', 'k'), null, 'the half command was never run');
});

Server('a desync flood (*\\x00 then endless bytes) is answered and closed at once; the process stays up', async () => {
  const t = await startRespTestServer();
  const socket = net.connect({ port: t.port, host: '127.0.0.1' });
  rawSockets.add(socket);
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  const closed = once(socket, 'close');
  let open = true;
  void closed.then(() => (open = false));
  socket.write('*\x00');
  const junk = Buffer.alloc(64 * 1024, 0x41);
  let sent = 0;
  // Keep flooding until the server hangs up (bounded, so a broken server fails instead of hanging).
  while (open && sent < 256 * 1024 * 1024) {
    if (!socket.write(junk)) await Promise.race([once(socket, 'drain'), closed]);
    sent += junk.length;
  }
  await Promise.race([
    closed,
    new Promise((_, reject) => setTimeout(() => reject(new Error('still open after the flood')), 10_000).unref()),
  ]);
  assert.ok(sent < 64 * 1024 * 1024, `closed after ${sent} bytes of flood`);
  assert.is(received, '-ERR Protocol error: invalid multibulk length\r\n');
  const fresh = await RespTestClient.connect(t.port);
  assert.is(await fresh.call('SET', 'after', 'flood'), 'OK');
  assert.is(await fresh.str('GET', 'after'), 'flood');
});

Server('inline commands, empty lines and *0 are handled as Redis does', async () => {
  const t = await startRespTestServer();
  const c = await RespTestClient.connect(t.port);
  c.sendRaw('SET greeting "hello world"\r\n\r\n*0\r\nGET greeting\nset n 5\r\nincrby n 10\r\n');
  assert.equal((await c.take(4)).map(text), ['OK', 'hello world', 'OK', 15]);
});

Server('a large value arriving in many chunks is stored whole', async () => {
  const t = await startRespTestServer({ store: { maxValueBytes: 2 * 1024 * 1024, maxMemoryBytes: 64 * 1024 * 1024 } });
  const c = await RespTestClient.connect(t.port);
  const value = Buffer.alloc(1024 * 1024 + 3);
  for (let i = 0; i < value.length; i++) value[i] = (i * 31) & 0xff;
  for (const chunk of chunked(encodeCommand(['SET', 'big', value]), 11, 50_000)) c.sendRaw(chunk);
  assert.is((await c.take(1))[0], 'OK');
  const got = await c.call('GET', 'big');
  assert.ok(Buffer.isBuffer(got) && got.equals(value));
});

Server("connections over maxConnections get Redis's error and are closed", async () => {
  const t = await startRespTestServer({ maxConnections: 2 });
  const a = await RespTestClient.connect(t.port);
  const b = await RespTestClient.connect(t.port);
  await Promise.all([a.call('PING'), b.call('PING')]);
  const c = await RespTestClient.connect(t.port);
  await c.closedWithin();
  assert.is(c.received.toString(), '-ERR max number of clients reached\r\n');
  assert.is(t.server.stats.rejectedConnections, 1);
  a.destroy();
  await a.closed;
  await waitUntil(() => t.server.connectionCount === 1, 'the server to see the close');
  const d = await RespTestClient.connect(t.port);
  assert.is(await d.call('PING'), 'PONG');
});

Server('a client that stops reading pauses its connection; reading resumes and every reply arrives', async () => {
  const t = await startRespTestServer({ outputHighWaterBytes: 16 * 1024, store: { maxValueBytes: 64 * 1024 } });
  const c = await RespTestClient.connect(t.port);
  const value = 'v'.repeat(32 * 1024);
  await c.call('SET', 'big', value);
  c.socket.pause();
  const n = 2000; // ~64 MB of replies: far more than the socket buffers hold
  const batch = Buffer.concat(Array.from({ length: 100 }, () => encodeCommand(['GET', 'big'])));
  for (let i = 0; i < n / 100; i++) c.sendRaw(batch);
  await waitUntil(() => t.server.stats.backpressurePauses > 0, 'a backpressure pause');
  c.socket.resume();
  const replies = await c.take(n);
  assert.ok(replies.every((r: RespValue) => Buffer.isBuffer(r) && r.length === value.length));
  assert.is(await c.call('PING'), 'PONG');
});

Server('a client that never reads is disconnected once its replies pass the hard limit', async () => {
  // maxResponseBytes raised above the hard limit (a node never does this): the only way one reply can pass it.
  const t = await startRespTestServer({
    outputHighWaterBytes: 16 * 1024,
    outputHardLimitBytes: 64 * 1024,
    maxResponseBytes: 16 * 1024 * 1024,
    store: { maxValueBytes: 256 * 1024 },
  });
  const c = await RespTestClient.connect(t.port);
  await c.call('SET', 'big', 'v'.repeat(200 * 1024));
  c.socket.pause();
  // Reading pauses after each command past the high-water mark, so only one reply bigger than the hard
  // limit can pass it: an MGET of 50 × 200 KiB.
  c.send('MGET', ...Array.from({ length: 50 }, () => 'big'));
  await waitUntil(() => t.server.stats.outputLimitDisconnects === 1, 'the disconnect');
  await waitUntil(() => t.server.connectionCount === 0, 'the connection to be gone');
  c.socket.resume(); // a paused socket never reports its end
  await c.closedWithin();
});

Server('close() lets pending replies reach their clients, then closes', async () => {
  let scrambled: ScrambledBackend | undefined;
  const t = await startRespTestServer({ wrap: (local) => (scrambled = new ScrambledBackend(local, 3)) });
  const c = await RespTestClient.connect(t.port);
  assert.is(await c.call('SET', 'k', 'v'), 'OK');
  scrambled!.hold();
  c.send('GET', 'k');
  await waitUntil(() => scrambled!.pending === 1, 'the GET to be held');
  const closing = t.server.close();
  scrambled!.release();
  await closing;
  assert.equal((await c.take(1)).map(text), ['v']);
  await c.closedWithin();
});

Server('INFO counts commands, connections and bytes', async () => {
  const t = await startRespTestServer();
  const c = await RespTestClient.connect(t.port);
  for (let i = 0; i < 10; i++) await c.call('PING');
  const info = (await c.str('INFO', 'stats'))!;
  assert.match(info, /total_commands_processed:11\r\n/);
  assert.match(info, /total_connections_received:1\r\n/);
  assert.match(info, /total_net_input_bytes:\d+\r\n/);
});

Server("createNodeRespServer carries a node's limits over (what startNode uses for --resp-addr)", async () => {
  const limits = resolveNodeOptions({ maxMemoryBytes: 8 * 1024 * 1024, maxValueBytes: 2048 });
  const store = new Store({ maxMemoryBytes: limits.maxMemoryBytes, maxValueBytes: limits.maxValueBytes });
  const server = createNodeRespServer({ addr: '127.0.0.1:0', store, limits, logger: silentLogger });
  try {
    await server.listen();
    assert.match(server.address, /^127\.0\.0\.1:\d+$/);
    const c = await RespTestClient.connect(server.port);
    assert.equal(text(await c.call('CONFIG', 'GET', 'maxmemory')), ['maxmemory', String(8 * 1024 * 1024)]);
    assert.match(await c.err('SET', 'k', 'x'.repeat(2049)), /^ERR value is 2049 bytes; the limit is 2048 bytes/);
    assert.is(await c.call('SET', 'k', 'v'), 'OK');
    assert.is(store.get('k')?.toString(), 'v');
  } finally {
    closeAllClients();
    await server.close();
    store.close();
  }
});

Server.run();
