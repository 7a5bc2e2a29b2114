import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as net from 'node:net';
import { once } from 'node:events';
import { HEADER_SIZE, Opcode, SetMode, Status, setModeFlags } from '../src/protocol/constants';
import { encodeRequest } from '../src/protocol/encoder';
import { encodeMgetBody, encodeMsetBody, decodeMgetResponse } from '../src/protocol/multi';
import { closeAllNodes, startTestNode } from './helpers/node';
import { RawPeer } from './helpers/raw-socket';

const Server = suite('server');
Server.after.each(closeAllNodes);

function request(
  opcode: number,
  requestId: number,
  key: string | Buffer | null,
  value: string | Buffer | null = null,
  extras: number | bigint = 0,
  flags = 0,
): Buffer {
  return encodeRequest({ opcode, flags, requestId, key, value, extras });
}

function int64Of(record: { extrasHigh: number; extrasLow: number }): bigint {
  return BigInt.asIntN(64, (BigInt(record.extrasHigh) << 32n) | BigInt(record.extrasLow));
}

Server('every opcode answers over a raw socket with the documented status', async () => {
  const node = await startTestNode();
  const peer = await RawPeer.connect(node.port);
  try {
    peer.write(
      Buffer.concat([
        request(Opcode.SET, 1, 'k', 'v1', 0),
        request(Opcode.GET, 2, 'k'),
        request(Opcode.SET, 3, 'k', 'v2', 0, setModeFlags(SetMode.NX)),
        request(Opcode.SET, 4, 'missing', 'x', 0, setModeFlags(SetMode.XX)),
        request(Opcode.TOUCH, 5, 'k', null, 60_000),
        request(Opcode.TTL, 6, 'k'),
        request(Opcode.TTL, 7, 'missing'),
        request(Opcode.INCR, 8, 'n', null, 41n),
        request(Opcode.INCR, 9, 'n', null, -2n),
        request(Opcode.INCR, 10, 'k', null, 1n),
        request(Opcode.DELETE, 11, 'k'),
        request(Opcode.DELETE, 12, 'k'),
        request(Opcode.GET, 13, 'k'),
        request(
          Opcode.MSET,
          14,
          null,
          encodeMsetBody([
            ['a', '1'],
            ['b', '22'],
          ]),
        ),
        request(Opcode.MGET, 15, null, encodeMgetBody(['a', 'zz', 'b'])),
        request(Opcode.PING, 16, null),
        request(Opcode.STATS, 17, null),
        request(Opcode.FLUSH, 18, null),
        request(Opcode.GET, 19, 'a'),
      ]),
    );
    const responses = await peer.waitForResponses(19);
    const byId = new Map(responses.map((r) => [r.requestId, r]));
    const statusOf = (id: number) => byId.get(id)!.status;
    assert.is(statusOf(1), Status.OK);
    assert.is(byId.get(2)!.value.toString(), 'v1');
    assert.is(statusOf(3), Status.NOT_STORED);
    assert.is(statusOf(4), Status.NOT_STORED);
    assert.is(statusOf(5), Status.OK);
    const ttl = Number(int64Of(byId.get(6)!));
    assert.ok(ttl > 59_000 && ttl <= 60_000, `ttl ${ttl}`);
    assert.is(int64Of(byId.get(7)!), -2n);
    assert.is(int64Of(byId.get(8)!), 41n);
    assert.is(int64Of(byId.get(9)!), 39n);
    assert.is(statusOf(10), Status.NOT_INTEGER);
    assert.is(statusOf(11), Status.OK);
    assert.is(statusOf(12), Status.NOT_FOUND);
    assert.is(statusOf(13), Status.NOT_FOUND);
    assert.is(statusOf(14), Status.OK);
    const mget = byId.get(15)!.value;
    assert.equal(
      decodeMgetResponse(mget, 0, mget.length)!.map((v) => (v === null ? null : v.toString())),
      ['1', null, '22'],
    );
    assert.is(byId.get(16)!.value.toString(), 'PONG');
    const stats = JSON.parse(byId.get(17)!.value.toString()) as {
      server: { commands: number; commandsByOpcode: Record<string, number> };
      store: { items: number };
    };
    assert.ok(stats.server.commands >= 17);
    assert.is(stats.server.commandsByOpcode['SET'], 3);
    assert.is(statusOf(18), Status.OK);
    assert.is(statusOf(19), Status.NOT_FOUND, 'FLUSH emptied the store');
  } finally {
    peer.destroy();
  }
});

Server('10k pipelined requests on one connection are all answered and matched by id', async () => {
  const node = await startTestNode();
  const peer = await RawPeer.connect(node.port);
  try {
    const frames: Buffer[] = [];
    for (let i = 0; i < 5000; i++) frames.push(request(Opcode.SET, 2 * i, `key-${i}`, `value-${i}`));
    for (let i = 0; i < 5000; i++) frames.push(request(Opcode.GET, 2 * i + 1, `key-${i}`));
    peer.write(Buffer.concat(frames));
    const responses = await peer.waitForResponses(10_000);
    assert.is(responses.length, 10_000);
    const seen = new Set<number>();
    for (const response of responses) {
      assert.not.ok(seen.has(response.requestId), `duplicate id ${response.requestId}`);
      seen.add(response.requestId);
      assert.is(response.status, Status.OK);
      if (response.requestId % 2 === 1) assert.is(response.value.toString(), `value-${(response.requestId - 1) / 2}`);
    }
    assert.is(seen.size, 10_000);
  } finally {
    peer.destroy();
  }
});

/** Connects a fresh peer, runs SET+GET and checks the answer: the server is up and serving. */
async function assertServing(port: number): Promise<void> {
  const peer = await RawPeer.connect(port);
  try {
    peer.write(Buffer.concat([request(Opcode.SET, 1, 'canary', 'alive'), request(Opcode.GET, 2, 'canary')]));
    const [set, get] = await peer.waitForResponses(2);
    assert.is(set!.status, Status.OK);
    assert.is(get!.value.toString(), 'alive');
  } finally {
    peer.destroy();
  }
}

function header(fields: {
  magic?: number;
  version?: number;
  opcode?: number;
  flags?: number;
  requestId?: number;
  keyLength?: number;
  reserved?: number;
  valueLength?: number;
}): Buffer {
  const bytes = Buffer.alloc(HEADER_SIZE);
  bytes[0] = fields.magic ?? 0xdc;
  bytes[1] = fields.version ?? 1;
  bytes[2] = fields.opcode ?? Opcode.GET;
  bytes[3] = fields.flags ?? 0;
  bytes.writeUInt32BE(fields.requestId ?? 7, 4);
  bytes.writeUInt16BE(fields.keyLength ?? 0, 8);
  bytes.writeUInt16BE(fields.reserved ?? 0, 10);
  bytes.writeUInt32BE(fields.valueLength ?? 0, 12);
  return bytes;
}

const TLS_CLIENT_HELLO = Buffer.from(
  '16030100c4010000c00303' + 'ab'.repeat(32) + '000004c02bc02f0100009300000010000e00000b6578616d706c652e636f6d',
  'hex',
);

interface CorpusCase {
  name: string;
  bytes: Buffer;
  /** 'error-then-close': one error frame with this status, then the server closes. 'error-keep-open': an error frame, and the connection still serves. */
  outcome: 'error-then-close' | 'error-keep-open' | 'close';
  status?: number;
}

const CORPUS: CorpusCase[] = [
  { name: 'wrong magic', bytes: header({ magic: 0x00 }), outcome: 'error-then-close', status: Status.MALFORMED },
  { name: 'wrong version', bytes: header({ version: 9 }), outcome: 'error-then-close', status: Status.MALFORMED },
  { name: 'unknown opcode', bytes: header({ opcode: 0x3f }), outcome: 'error-keep-open', status: Status.UNKNOWN_OPCODE },
  {
    name: 'key length 0 on GET',
    bytes: header({ opcode: Opcode.GET, keyLength: 0 }),
    outcome: 'error-keep-open',
    status: Status.BAD_ARGUMENT,
  },
  {
    name: 'key over the limit',
    bytes: Buffer.concat([header({ opcode: Opcode.GET, keyLength: 2000 }), Buffer.alloc(2000, 0x61)]),
    outcome: 'error-keep-open',
    status: Status.KEY_TOO_LARGE,
  },
  {
    name: 'value over the limit',
    bytes: Buffer.concat([
      header({ opcode: Opcode.SET, keyLength: 1, valueLength: 1024 * 1024 + 1 }),
      Buffer.alloc(1 + 1024 * 1024 + 1, 0x62),
    ]),
    outcome: 'error-keep-open',
    status: Status.VALUE_TOO_LARGE,
  },
  {
    name: 'value length 0xFFFFFFFF',
    bytes: header({ opcode: Opcode.SET, keyLength: 1, valueLength: 0xffffffff }),
    outcome: 'error-then-close',
    status: Status.FRAME_TOO_LARGE,
  },
  {
    name: 'HTTP request',
    bytes: Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'),
    outcome: 'error-then-close',
    status: Status.MALFORMED,
  },
  { name: 'TLS ClientHello', bytes: TLS_CLIENT_HELLO, outcome: 'error-then-close', status: Status.MALFORMED },
  { name: '1 MiB of zeros', bytes: Buffer.alloc(1024 * 1024), outcome: 'error-then-close', status: Status.MALFORMED },
];

for (const testCase of CORPUS) {
  Server(
    `bad input: ${testCase.name} → ${testCase.outcome} (${testCase.status === undefined ? '' : `status 0x${testCase.status.toString(16)}`}), server keeps serving`,
    async () => {
      const node = await startTestNode();
      const peer = await RawPeer.connect(node.port);
      try {
        peer.write(testCase.bytes);
        const [response] = await peer.waitForResponses(1);
        assert.is(response!.status, testCase.status);
        if (testCase.outcome === 'error-then-close') {
          await peer.closed;
        } else {
          peer.write(request(Opcode.PING, 99, null));
          const responses = await peer.waitForResponses(2);
          assert.is(responses[1]!.requestId, 99);
          assert.is(responses[1]!.status, Status.OK);
        }
        await assertServing(node.port);
      } finally {
        peer.destroy();
      }
    },
  );
}

Server('a header cut at every offset is held (no response) and closed by the frame timeout', async () => {
  const node = await startTestNode({ frameTimeoutMs: 200 });
  const full = request(Opcode.SET, 5, 'key', 'value');
  const peers = await Promise.all(Array.from({ length: HEADER_SIZE - 1 }, () => RawPeer.connect(node.port)));
  try {
    peers.forEach((peer, i) => peer.write(full.subarray(0, i + 1)));
    await Promise.all(peers.map((peer) => peer.closed));
    for (const peer of peers) assert.is(peer.responses.length, 0);
    const stats = node.stats() as { server: { frameTimeouts: number } };
    assert.is(stats.server.frameTimeouts, HEADER_SIZE - 1);
    await assertServing(node.port);
  } finally {
    for (const peer of peers) peer.destroy();
  }
});

Server('a frame whose body stalls half-sent is closed after the timeout; a complete one is served', async () => {
  const node = await startTestNode({ frameTimeoutMs: 200 });
  const stalled = await RawPeer.connect(node.port);
  const full = request(Opcode.SET, 5, 'key', 'a value that will not finish');
  try {
    stalled.write(full.subarray(0, full.length - 3));
    await stalled.closed;
    assert.is(stalled.responses.length, 0);
    await assertServing(node.port);
  } finally {
    stalled.destroy();
  }
});

Server('max connections: the extra connection gets TOO_MANY_CONNECTIONS and is closed; counted in STATS', async () => {
  const node = await startTestNode({ maxConnections: 3 });
  const kept = await Promise.all([1, 2, 3].map(() => RawPeer.connect(node.port)));
  try {
    // Let the server register the three before the fourth arrives.
    for (const peer of kept) {
      peer.write(request(Opcode.PING, 1, null));
      await peer.waitForResponses(1);
    }
    const extra = await RawPeer.connect(node.port);
    const [response] = await extra.waitForResponses(1);
    assert.is(response!.status, Status.TOO_MANY_CONNECTIONS);
    await extra.closed;
    const stats = node.stats() as { server: { rejectedConnections: number; connections: number } };
    assert.is(stats.server.rejectedConnections, 1);
    assert.is(stats.server.connections, 3);
    // A freed slot is usable again.
    kept[0]!.destroy();
    await kept[0]!.closed;
    for (let i = 0; i < 100 && (node.stats() as { server: { connections: number } }).server.connections > 2; i++) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    await assertServing(node.port);
  } finally {
    for (const peer of kept) peer.destroy();
  }
});

Server('a slow reader pipelining GETs of large values is paused or cut off: queued output stays bounded', async () => {
  const hardLimit = 8 * 1024 * 1024;
  const node = await startTestNode({ outputHighWaterBytes: 1024 * 1024, outputHardLimitBytes: hardLimit });
  const value = Buffer.alloc(512 * 1024, 0x5a);
  const writer = await RawPeer.connect(node.port);
  writer.write(request(Opcode.SET, 1, 'big', value));
  await writer.waitForResponses(1);
  writer.destroy();
  // A reader that never reads: 4,000 GETs would queue about 2 GiB of responses without limits.
  const socket = net.connect({ port: node.port, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  socket.pause();
  try {
    await once(socket, 'connect');
    const gets = Buffer.concat(Array.from({ length: 4000 }, (_, i) => request(Opcode.GET, i, 'big')));
    socket.write(gets);
    const rssBefore = process.memoryUsage().rss;
    // Wait until the server has either paused the reader or cut it off.
    for (let i = 0; i < 200; i++) {
      const server = (node.stats() as { server: { backpressurePauses: number; outputLimitDisconnects: number } }).server;
      if (server.outputLimitDisconnects > 0 || server.backpressurePauses > 0) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    const server = (node.stats() as { server: { backpressurePauses: number; outputLimitDisconnects: number; bytesOut: number } }).server;
    assert.ok(server.outputLimitDisconnects + server.backpressurePauses > 0, 'the slow reader was paused or disconnected');
    assert.ok(server.bytesOut <= hardLimit + 2 * value.length + 1024 * 1024, `bytes queued for the slow reader: ${server.bytesOut}`);
    assert.ok(process.memoryUsage().rss - rssBefore < 256 * 1024 * 1024, 'memory stayed bounded');
    await assertServing(node.port);
  } finally {
    socket.destroy();
  }
});

Server.run();
