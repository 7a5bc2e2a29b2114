import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RespTestClient, closeAllClients, encodeCommand, text } from './helpers/resp-client';
import { closeAllRespServers, startRespTestServer } from './helpers/resp-server';
import { ScrambledBackend } from './helpers/resp-async-backend';
import { seededRandom } from './helpers/random';
import { eventually } from './helpers/wait';

const SharedReads = suite('resp shared read buffer');
SharedReads.after.each(async () => {
  closeAllClients();
  await closeAllRespServers();
});

SharedReads('the RESP port reads every connection into one buffer, and allocates per read when told to', async () => {
  const shared = await startRespTestServer();
  assert.ok(shared.server.sharedReads, 'shared reads are on by default on this Node');
  const perRead = await startRespTestServer({ readBufferBytes: 0 });
  assert.not.ok(perRead.server.sharedReads);
  for (const t of [shared, perRead]) {
    const c = await RespTestClient.connect(t.port);
    c.send('SET', 'k', 'v');
    c.send('GET', 'k');
    assert.equal((await c.take(2)).map(text), ['OK', 'v']);
  }
});

SharedReads('the finished arguments of a half-received command survive the next read of another connection', async () => {
  const t = await startRespTestServer();
  const a = await RespTestClient.connect(t.port);
  const b = await RespTestClient.connect(t.port);
  // A's command stops after its key: SET and the key are views of the shared buffer until A's next read.
  const first = '*3\r\n$3\r\nSET\r\n$8\r\nkey-of-a\r\n';
  a.sendRaw(first);
  await eventually(() => t.server.stats.bytesIn >= first.length, 'the server read the first half');
  // B's read lands in the same buffer, over the bytes A's arguments were in.
  b.send('SET', 'key-of-b', 'value-of-b');
  assert.equal((await b.take(1)).map(text), ['OK']);
  a.sendRaw('$10\r\nvalue-of-a\r\n');
  assert.equal((await a.take(1)).map(text), ['OK']);
  b.send('MGET', 'key-of-a', 'key-of-b');
  assert.equal((await b.take(1)).map(text), [['value-of-a', 'value-of-b']]);
});

/**
 * Several connections send pipelined SETs and GETs, some with values larger than a read, in random pieces at
 * once, while replies come back late and out of order (so reading pauses and input is held): each gets its own
 * replies in order. Input kept as a view of the shared buffer would come back with another connection's bytes.
 */
SharedReads('interleaved pipelines in random pieces, with paused reading, all come back intact', async () => {
  const t = await startRespTestServer({
    maxPendingReplies: 4,
    readBufferBytes: 64 * 1024,
    wrap: (local) => new ScrambledBackend(local, 5, 0.3),
  });
  const random = seededRandom(11);
  const clients = await Promise.all(Array.from({ length: 5 }, () => RespTestClient.connect(t.port)));
  const expected: string[][] = [];
  clients.forEach((client, peer) => {
    const parts: Buffer[] = [];
    const replies: string[] = [];
    for (let i = 0; i < 60; i++) {
      const size = random() < 0.2 ? 70_000 + Math.floor(random() * 50_000) : Math.floor(random() * 300);
      const value = `${peer}:${i}:`.padEnd(size, String.fromCharCode(97 + ((peer * 7 + i) % 26)));
      parts.push(encodeCommand(['SET', `p${peer}-k${i}`, value]), encodeCommand(['GET', `p${peer}-k${i}`]));
      replies.push('OK', value);
    }
    expected.push(replies);
    const bytes = Buffer.concat(parts);
    for (let at = 0; at < bytes.length;) {
      const n = 1 + Math.floor(random() * 20_000);
      client.sendRaw(bytes.subarray(at, at + n));
      at += n;
    }
  });
  const got = await Promise.all(clients.map((client, peer) => client.take(expected[peer]!.length)));
  got.forEach((replies, peer) => assert.equal(replies.map(text), expected[peer], `connection ${peer}`));
});

SharedReads.run();
