/**
 * Memory held for requests is bounded node-wide, measured as an operator would: the RSS of a node started with
 * the CLI, before, at the peak (sampled while the attack runs) and after. Reproductions 3 and 4 of the security
 * review: one 1.7 KB MGET of 340 copies of a 1 MiB value took a node from 52 MB to 842 MB (1.96 GB with four at
 * once); 200 connections each holding a 2 MiB frame less one byte held 456 MB. A canary client keeps working
 * throughout with no errors.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { once } from 'node:events';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Client } from '../src/client/client';
import { HEADER_SIZE, Opcode, Status } from '../src/protocol/constants';
import { encodeRequest, writeRequestHeader } from '../src/protocol/encoder';
import { encodeMgetBody } from '../src/protocol/multi';
import * as path from 'node:path';
import { killAllChildren, startCliNode, waitForLog, type CliProcess } from './helpers/cli';
import { eventually } from './helpers/cluster';
import { runCanary } from './helpers/members';
import { RawPeer } from './helpers/raw-socket';

const MiB = 1024 * 1024;
const Memory = suite('limits: memory held for requests');
const clients: Client[] = [];
const sockets: Array<net.Socket | RawPeer> = [];

Memory.after.each(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(clients.splice(0).map((client) => client.close()));
  killAllChildren();
});

function rssOf(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? 0 : Number(match[1]) * 1024;
}

/** Samples a process's RSS every 10 ms until stopped; returns the highest seen. */
function rssPeak(pid: number): { stop(): number } {
  let peak = rssOf(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 10);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, rssOf(pid));
    },
  };
}

interface Held {
  bytes: number;
  limit: number;
  peak: number;
  closed: number;
}

async function statsOf(client: Client): Promise<{
  server: { responseTooLarge: number; outputLimitDisconnects: number; inputLimitDisconnects: number; connections: number };
  heldMemory: { input: Held; output: Held };
}> {
  return (await client.stats()) as never;
}

/** A socket that sends and never reads (its receive window fills, then the node's socket queue). */
async function nonReader(port: number): Promise<net.Socket> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.pause();
  sockets.push(socket);
  return socket;
}

const mb = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

/** CLI nodes whose garbage a test can collect on demand (SIGUSR2, helpers/gc-on-signal.js). */
const GC_ON_SIGNAL = { NODE_OPTIONS: `--require ${path.join(__dirname, 'helpers', 'gc-on-signal.js')}` };

/**
 * Collects the node's garbage and returns its RSS then: the lowest of a few collections, since V8 frees the
 * memory behind Buffers on a background thread after a collection returns.
 */
async function rssAfterGc(node: CliProcess): Promise<number> {
  let lowest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 5; i++) {
    const collected = (node.stderr().match(/gc-on-signal: collected/g) ?? []).length;
    process.kill(node.pid, 'SIGUSR2');
    await waitForLog(node, new RegExp(`(gc-on-signal: collected[\\s\\S]*){${collected + 1}}`));
    await new Promise((resolve) => setTimeout(resolve, 50));
    lowest = Math.min(lowest, rssOf(node.pid));
  }
  return lowest;
}

/** DCACHE_TEST_REPORT=1 prints the figures (for the README and before/after comparisons). */
function report(what: string, before: number, peak: number, after: number): void {
  if (process.env.DCACHE_TEST_REPORT === '1') console.log(`${what}: RSS before ${mb(before)}, peak ${mb(peak)}, after ${mb(after)}`);
}

Memory('reproduction 3: an MGET of 340 copies of a 1 MiB value is refused before it is built; four at once leave RSS flat', async () => {
  const node = await startCliNode();
  const client = new Client({ nodes: [node.address] });
  clients.push(client);
  await client.set('big', Buffer.alloc(MiB, 7));
  const canary = runCanary(new Client({ nodes: [node.address] }), clients);
  await canary.runFor(50);
  const before = rssOf(node.pid);
  const peak = rssPeak(node.pid);
  const body = encodeMgetBody(Array<string>(340).fill('big'));
  assert.ok(HEADER_SIZE + body.length < 2000, 'the request is under 2 KB');
  const peers = await Promise.all([0, 1, 2, 3].map(() => RawPeer.connect(node.port)));
  sockets.push(...peers);
  for (const peer of peers) peer.write(encodeRequest({ opcode: Opcode.MGET, requestId: 1, value: body }));
  const answers = await Promise.all(peers.map((peer) => peer.waitForResponses(1)));
  for (const [answer] of answers) {
    assert.is(answer!.status, Status.RESPONSE_TOO_LARGE);
    assert.match(
      answer!.value.toString(),
      new RegExp(`the response would be ${340 * (4 + MiB) + 4} bytes; the limit is ${63 * MiB} bytes`),
    );
  }
  await canary.runFor(200);
  const high = peak.stop();
  report('MGET 340 x 1 MiB, four at once', before, high, rssOf(node.pid));
  const stats = await statsOf(client);
  assert.is(stats.server.responseTooLarge, 4);
  assert.ok(high - before < 32 * MiB, `RSS ${mb(before)} → peak ${mb(high)}`);
  const result = await canary.stop();
  assert.is(result.errors, 0, result.firstError);
  // The largest MGET a node answers (62 values of 1 MiB: what the client sends per frame) is still served.
  const values = await client.mget(Array<string>(62).fill('big'));
  assert.is(values.length, 62);
  assert.ok(values.every((value) => value !== null && value.length === MiB && value[MiB - 1] === 7));
});

Memory(
  'responses queued for clients that never read stay under the node-wide output cap; non-readers are closed, a canary keeps working',
  async () => {
    const node = await startCliNode(['--output-total-limit', '96mb']);
    const client = new Client({ nodes: [node.address] });
    clients.push(client);
    for (let i = 0; i < 8; i++) await client.set(`big:${i}`, Buffer.alloc(MiB, i));
    const canary = runCanary(new Client({ nodes: [node.address] }), clients);
    await canary.runFor(50);
    const before = rssOf(node.pid);
    const peak = rssPeak(node.pid);
    // Each asks for 62 MiB (the most one request may get) and never reads it: eight would queue 496 MiB.
    const keys = Array.from({ length: 62 }, (_, i) => `big:${i % 8}`);
    for (let i = 0; i < 8; i++) {
      const socket = await nonReader(node.port);
      socket.write(encodeRequest({ opcode: Opcode.MGET, requestId: 1, value: encodeMgetBody(keys) }));
    }
    const settled = async () => {
      const stats = await statsOf(client);
      return stats.server.responseTooLarge + stats.heldMemory.output.closed >= 7;
    };
    for (let i = 0; i < 500 && !(await settled()); i++) await canary.runFor(20);
    const high = peak.stop();
    report('eight non-readers of 62 MiB each', before, high, rssOf(node.pid));
    const stats = await statsOf(client);
    assert.ok(stats.heldMemory.output.closed >= 1, 'a non-reader was closed');
    assert.ok(stats.server.outputLimitDisconnects >= 1);
    assert.ok(stats.heldMemory.output.peak <= 96 * MiB + 63 * MiB, `output held peaked at ${mb(stats.heldMemory.output.peak)}`);
    // The cap, one response over it, and the node's own working memory.
    assert.ok(high - before < 96 * MiB + 63 * MiB + 64 * MiB, `RSS ${mb(before)} → peak ${mb(high)}`);
    const result = await canary.stop();
    assert.ok(result.ok > 0);
    assert.is(result.errors, 0, result.firstError);
  },
);

Memory(
  'reproduction 4: 200 connections each holding a 2 MiB frame less one byte: the largest holders are closed at the input cap',
  async () => {
    const node = await startCliNode(['--max-connections', '1000'], GC_ON_SIGNAL);
    const client = new Client({ nodes: [node.address] });
    clients.push(client);
    const canary = runCanary(new Client({ nodes: [node.address] }), clients);
    await canary.runFor(50);
    const before = rssOf(node.pid);
    const peak = rssPeak(node.pid);
    const valueLength = 2 * MiB - 8;
    const header = Buffer.alloc(HEADER_SIZE);
    writeRequestHeader(header, 0, Opcode.SET, 0, 1, 8, valueLength, 0);
    const almost = Buffer.concat([header, Buffer.from('holdkey!'), Buffer.alloc(valueLength - 1, 1)]);
    const holders: net.Socket[] = [];
    for (let i = 0; i < 200; i++) {
      const socket = net.connect({ port: node.port, host: '127.0.0.1' });
      socket.on('error', () => undefined);
      sockets.push(socket);
      holders.push(socket);
      await once(socket, 'connect');
      socket.write(almost);
    }
    await eventually(
      () => holders.filter((socket) => socket.destroyed || socket.readableEnded).length >= 150,
      'most holders to be closed',
      30_000,
    ).catch(() => undefined);
    await canary.runFor(200);
    const high = peak.stop();
    const stats = await statsOf(client);
    for (const socket of holders) socket.destroy();
    for (let i = 0; i < 400 && (await statsOf(client)).server.connections > 2; i++) await canary.runFor(5);
    const after = await rssAfterGc(node);
    report('200 connections holding 2 MiB frames', before, high, after);
    // Memory held for a connection is given back when it closes: once collected, RSS is back near where it was
    // (the body buffer pool keeps at most 16 MiB of free buffers for reuse).
    assert.ok(after - before < 16 * MiB + 16 * MiB, `RSS ${mb(before)} → after closing and collecting ${mb(after)}`);
    // 64 MiB is the default input cap (a quarter of --max-memory, at least 64 MiB): 32 such frames at most.
    assert.ok(stats.server.inputLimitDisconnects >= 200 - 33, `${stats.server.inputLimitDisconnects} closed`);
    assert.ok(stats.heldMemory.input.peak <= 64 * MiB + 2 * MiB + 64 * 1024, `input held peaked at ${mb(stats.heldMemory.input.peak)}`);
    assert.ok(high - before < 64 * MiB + 64 * MiB, `RSS ${mb(before)} → peak ${mb(high)}`);
    const result = await canary.stop();
    assert.is(result.errors, 0, result.firstError);
  },
);

Memory.run();
