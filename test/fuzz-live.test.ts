/**
 * Live-server fuzz: several connections send seeded random bytes and mutated valid frames (random
 * chunking, reconnecting whenever the server closes them) for a bounded time, while a canary client checks
 * SET/GET round trips. Pass: zero canary errors, the server up and answering, protocol errors counted.
 * The seed is printed; FUZZ_SEED=<n> replays a run, FUZZ_MS=<ms> changes its length.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ServerStats } from '../src/server/server-stats';
import * as net from 'node:net';
import { once } from 'node:events';
import { Client } from '../src/client/client';
import { ALLOWED_REQUEST_FLAGS, Opcode } from '../src/protocol/constants';
import { encodeRequest } from '../src/protocol/encoder';
import { closeAllNodes, startTestNode } from './helpers/node';
import { seededRandom } from './helpers/random';

const Fuzz = suite('fuzz: live server');
const FUZZ_MS = Number(process.env.FUZZ_MS ?? 3000);
const FUZZERS = 4;
// FLUSH is left out: it would (rightly) empty the canary's keys.
const OPCODES = [
  Opcode.GET,
  Opcode.SET,
  Opcode.DELETE,
  Opcode.TOUCH,
  Opcode.TTL,
  Opcode.INCR,
  Opcode.MGET,
  Opcode.MSET,
  Opcode.PING,
  Opcode.STATS,
  Opcode.TOPOLOGY,
  Opcode.AUTH,
  Opcode.JOIN,
  Opcode.PROBE,
  Opcode.SYNC,
  0x30,
  0xff,
];

const sockets = new Set<net.Socket>();
let canary: Client | undefined;
Fuzz.after.each(async () => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await canary?.close();
  await closeAllNodes();
});

function bytes(random: () => number, n: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** A valid frame of a random opcode, then maybe mutated (bytes flipped, lengths changed, truncated). */
function frame(random: () => number): Buffer {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const opcode = pick(OPCODES);
  const key = random() < 0.8 ? `fz:${Math.floor(random() * 1000)}` : '';
  const value = random() < 0.5 ? bytes(random, Math.floor(random() * 512)) : null;
  const flags = Math.floor(random() * (ALLOWED_REQUEST_FLAGS + 1)) & ALLOWED_REQUEST_FLAGS;
  const extras = random() < 0.5 ? 0n : BigInt(Math.floor(random() * 2 ** 32)) << BigInt(Math.floor(random() * 32));
  const buf = encodeRequest({ opcode, requestId: Math.floor(random() * 2 ** 32), flags, key, value, extras: BigInt.asUintN(64, extras) });
  const roll = random();
  if (roll < 0.5) return buf;
  if (roll < 0.7) {
    for (let i = 0, n = 1 + Math.floor(random() * 4); i < n; i++) buf[Math.floor(random() * buf.length)] = Math.floor(random() * 256);
  } else if (roll < 0.85) {
    buf.writeUInt32BE(Math.floor(random() * 2 ** 32), 12); // value length: anything up to 4 GiB
  } else {
    return buf.subarray(0, Math.floor(random() * buf.length));
  }
  if (buf[2] === Opcode.FLUSH) buf[2] = Opcode.PING;
  return buf;
}

/** One fuzzing connection until `until`; reconnects when the server closes it. Returns the frames sent. */
async function fuzzer(port: number, seed: number, until: number): Promise<number> {
  const random = seededRandom(seed);
  let sent = 0;
  while (Date.now() < until) {
    const socket = net.connect({ port, host: '127.0.0.1' });
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    const closed = new Promise((resolve) => socket.once('close', resolve));
    try {
      await once(socket, 'connect');
    } catch {
      await closed;
      sockets.delete(socket);
      continue;
    }
    while (Date.now() < until && !socket.destroyed && socket.writable) {
      const parts: Buffer[] = [];
      for (let i = 0, n = 1 + Math.floor(random() * 20); i < n; i++) {
        parts.push(random() < 0.15 ? bytes(random, Math.floor(random() * 300)) : frame(random));
        sent++;
      }
      const data = Buffer.concat(parts);
      // Random chunking: the decoder must resume across any boundary.
      for (let at = 0; at < data.length;) {
        const end = Math.min(data.length, at + 1 + Math.floor(random() * 2048));
        socket.write(data.subarray(at, end));
        at = end;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    socket.destroy();
    await closed;
    sockets.delete(socket);
  }
  return sent;
}

Fuzz('seeded random and mutated frames from several connections; the canary sees no error', async () => {
  const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
  console.log(`  fuzz seed ${seed} (FUZZ_SEED=${seed} to replay), ${FUZZ_MS} ms, ${FUZZERS} connections`);
  const node = await startTestNode({ frameTimeoutMs: 500, maxMemoryBytes: 128 * 1024 * 1024 });
  canary = new Client({ nodes: [node.address], routing: 'proxy', timeoutMs: 2000 });
  const until = Date.now() + FUZZ_MS;
  const fuzzing = Promise.all(Array.from({ length: FUZZERS }, (_, i) => fuzzer(node.port, seed + i, until)));
  let checks = 0;
  const errors: string[] = [];
  while (Date.now() < until) {
    const key = `canary:${checks}`;
    const value = `value-${seed}-${checks}`;
    try {
      await canary.set(key, value);
      const got = await canary.get(key);
      if (String(got) !== value) errors.push(`${key}: got ${String(got)}`);
    } catch (error) {
      errors.push(`${key}: ${(error as Error).message}`);
    }
    checks++;
  }
  const sent = (await fuzzing).reduce((a, b) => a + b, 0);
  const stats = node.stats().server as unknown as ServerStats;
  console.log(`  ${sent} fuzz frames, ${stats.protocolErrors} protocol errors, ${checks} canary checks`);
  assert.equal(errors, [], `canary errors with seed ${seed}`);
  assert.ok(checks > 50, `only ${checks} canary checks ran`);
  assert.ok(stats.protocolErrors > 0);
  // Still up: a fresh round trip after the storm.
  await canary.set('after', 'ok');
  assert.is(String(await canary.get('after')), 'ok');
});

Fuzz.run();
