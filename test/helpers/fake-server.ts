/**
 * A small in-memory stand-in for a node, for client tests: decodes requests with the real FrameDecoder and
 * answers with the real encoder. Misbehaviour on demand: answer each read's requests in reverse order, never
 * answer (a frozen process still accepts TCP), drop every connection, or a custom reply per request (which may
 * drop the connection instead of answering).
 * Every server started here is closed by closeAllFakeServers() (call it from uvu's after/after.each hooks).
 */
import * as net from 'node:net';
import { once } from 'node:events';
import { Opcode, PONG, Status, setModeOf } from '../../src/protocol/constants';
import { FrameDecoder } from '../../src/protocol/decoder';
import { readDelta, readTtlMs } from '../../src/protocol/frame';
import { type Bytes, encodeResponse } from '../../src/protocol/encoder';
import { decodeMgetBody, decodeMsetBody, encodeMgetResponseBody } from '../../src/protocol/multi';

export interface FakeRequest {
  opcode: number;
  flags: number;
  requestId: number;
  key: Buffer;
  value: Buffer;
  extrasHigh: number;
  extrasLow: number;
}

export interface FakeReply {
  status: number;
  value?: Bytes | null;
  extras?: number | bigint;
  /** Override the request id in the reply (e.g. 0 for a connection-level error). */
  requestId?: number;
  /** Close the connection after writing this reply. */
  close?: boolean;
  /** Destroy the connection instead of answering (the client cannot tell whether the request ran). */
  drop?: boolean;
}

/** normal: answers; silent: reads but never answers; stalled: never reads (its socket stays paused). */
export type Behavior = 'normal' | 'silent' | 'stalled';

export interface FakeServerOptions {
  behavior?: Behavior;
  /** Answer the requests of each read chunk in reverse order. */
  reorder?: boolean;
  /** Epoch stamped on every response. */
  epoch?: number;
  /** Custom reply; return undefined to fall through to the built-in store. */
  handler?: (request: FakeRequest) => FakeReply | undefined;
  /** Keep a copy of every request in `requests`. */
  record?: boolean;
}

interface Item {
  value: Buffer;
  expiresAt: number;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const servers = new Set<FakeServer>();

export class FakeServer {
  behavior: Behavior;
  reorder: boolean;
  epoch: number;
  handler: FakeServerOptions['handler'];
  readonly record: boolean;
  readonly requests: FakeRequest[] = [];
  readonly store = new Map<string, Item>();
  /** Connections accepted since start. */
  accepted = 0;
  /** Requests decoded since start (recorded or not). */
  received = 0;
  /** 'data' events (socket reads) since start. */
  reads = 0;
  private server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private waiters: Array<{ count: number; resolve: () => void }> = [];
  private connectionWaiters: Array<{ count: number; resolve: () => void }> = [];
  port = 0;

  private constructor(options: FakeServerOptions) {
    this.behavior = options.behavior ?? 'normal';
    this.reorder = options.reorder ?? false;
    this.epoch = options.epoch ?? 0;
    this.handler = options.handler;
    this.record = options.record ?? false;
    this.server = this.createServer();
  }

  static async start(options: FakeServerOptions = {}, port = 0): Promise<FakeServer> {
    const fake = new FakeServer(options);
    servers.add(fake);
    await fake.listen(port);
    return fake;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get openConnections(): number {
    return this.sockets.size;
  }

  /** Resolves once `count` requests in total have been decoded. */
  waitForRequests(count: number): Promise<void> {
    if (this.received >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  /** Resolves once `count` connections in total have been accepted. */
  waitForConnections(count: number): Promise<void> {
    if (this.accepted >= count) return Promise.resolve();
    return new Promise((resolve) => this.connectionWaiters.push({ count, resolve }));
  }

  /** Destroys every open connection (the listener stays up). */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /** Stops listening and destroys every connection. */
  async stop(): Promise<void> {
    this.dropConnections();
    if (!this.server.listening) return;
    const closed = once(this.server, 'close');
    this.server.close();
    await closed;
  }

  /** Listens again on the same port (after stop()). */
  async restart(): Promise<void> {
    this.server = this.createServer();
    await this.listen(this.port);
  }

  async close(): Promise<void> {
    servers.delete(this);
    await this.stop();
  }

  private createServer(): net.Server {
    const server = net.createServer((socket) => this.onConnection(socket));
    server.on('error', () => undefined);
    return server;
  }

  private async listen(port: number): Promise<void> {
    const server = this.server;
    server.listen({ host: '127.0.0.1', port });
    await once(server, 'listening');
    this.port = (server.address() as net.AddressInfo).port;
  }

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket);
    this.accepted++;
    this.connectionWaiters = this.connectionWaiters.filter((w) => {
      if (this.accepted < w.count) return true;
      w.resolve();
      return false;
    });
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    if (this.behavior === 'stalled') socket.pause();
    socket.on('close', () => this.sockets.delete(socket));
    let replies: Buffer[] = [];
    let closeAfter = false;
    let dropAfter = false;
    const decoder = new FrameDecoder({
      kind: 'request',
      maxBodyBytes: 64 * 1024 * 1024,
      onFrame: (frame) => {
        const request: FakeRequest = {
          opcode: frame.opcode,
          flags: frame.flags,
          requestId: frame.requestId,
          key: Buffer.from(frame.key()),
          value: Buffer.from(frame.value()),
          extrasHigh: frame.extrasHigh,
          extrasLow: frame.extrasLow,
        };
        this.received++;
        if (this.record) this.requests.push(request);
        if (this.behavior === 'silent') return;
        const reply = this.handler?.(request) ?? this.execute(request);
        if (reply.drop === true) dropAfter = true;
        if (dropAfter) return;
        replies.push(
          encodeResponse({
            opcode: request.opcode,
            status: reply.status,
            requestId: reply.requestId ?? request.requestId,
            epoch: this.epoch,
            value: reply.value ?? null,
            extras: reply.extras ?? 0,
          }),
        );
        if (reply.close === true) closeAfter = true;
      },
      onError: () => socket.destroy(),
    });
    socket.on('data', (chunk: Buffer) => {
      this.reads++;
      decoder.push(chunk);
      this.waiters = this.waiters.filter((w) => {
        if (this.received < w.count) return true;
        w.resolve();
        return false;
      });
      if (replies.length > 0) {
        if (this.reorder) replies.reverse();
        socket.write(Buffer.concat(replies));
        replies = [];
      }
      if (dropAfter) {
        decoder.destroy();
        socket.destroy();
      } else if (closeAfter) {
        decoder.destroy();
        socket.end();
      }
    });
  }

  private find(key: Buffer): Item | undefined {
    const k = key.toString('latin1');
    const item = this.store.get(k);
    if (item !== undefined && item.expiresAt !== 0 && item.expiresAt <= Date.now()) {
      this.store.delete(k);
      return undefined;
    }
    return item;
  }

  private put(key: Buffer, value: Buffer, ttlMs: number): void {
    this.store.set(key.toString('latin1'), { value, expiresAt: ttlMs === 0 ? 0 : Date.now() + ttlMs });
  }

  /** The built-in store: the semantics docs/PROTOCOL.md gives each opcode. */
  private execute(r: FakeRequest): FakeReply {
    switch (r.opcode) {
      case Opcode.GET: {
        const item = this.find(r.key);
        return item === undefined ? { status: Status.NOT_FOUND } : { status: Status.OK, value: item.value };
      }
      case Opcode.SET: {
        const mode = setModeOf(r.flags);
        const exists = this.find(r.key) !== undefined;
        if ((mode === 1 && exists) || (mode === 2 && !exists)) return { status: Status.NOT_STORED };
        this.put(r.key, r.value, readTtlMs(r));
        return { status: Status.OK };
      }
      case Opcode.DELETE:
        return { status: this.find(r.key) !== undefined && this.store.delete(r.key.toString('latin1')) ? Status.OK : Status.NOT_FOUND };
      case Opcode.TOUCH: {
        const item = this.find(r.key);
        if (item === undefined) return { status: Status.NOT_FOUND };
        const ttl = readTtlMs(r);
        item.expiresAt = ttl === 0 ? 0 : Date.now() + ttl;
        return { status: Status.OK };
      }
      case Opcode.TTL: {
        const item = this.find(r.key);
        const pttl = item === undefined ? -2 : item.expiresAt === 0 ? -1 : Math.max(0, item.expiresAt - Date.now());
        return { status: Status.OK, extras: pttl };
      }
      case Opcode.INCR: {
        const item = this.find(r.key);
        let current = 0n;
        if (item !== undefined) {
          const text = item.value.toString('latin1');
          if (!/^-?\d{1,19}$/.test(text)) return { status: Status.NOT_INTEGER, value: 'value is not an integer or out of range' };
          current = BigInt(text);
          if (current < INT64_MIN || current > INT64_MAX)
            return { status: Status.NOT_INTEGER, value: 'value is not an integer or out of range' };
        }
        const next = current + readDelta(r);
        if (next < INT64_MIN || next > INT64_MAX) return { status: Status.OVERFLOW, value: 'increment or decrement would overflow' };
        const ttl = item === undefined ? 0 : item.expiresAt === 0 ? 0 : Math.max(1, item.expiresAt - Date.now());
        this.put(r.key, Buffer.from(next.toString(), 'latin1'), ttl);
        return { status: Status.OK, extras: next };
      }
      case Opcode.MGET: {
        const keys = decodeMgetBody(r.value, 0, r.value.length);
        if (keys === null) return { status: Status.BAD_ARGUMENT, value: 'bad MGET body' };
        return { status: Status.OK, value: encodeMgetResponseBody(keys.map((k) => this.find(k)?.value ?? null)) };
      }
      case Opcode.MSET: {
        const entries = decodeMsetBody(r.value, 0, r.value.length);
        if (entries === null) return { status: Status.BAD_ARGUMENT, value: 'bad MSET body' };
        for (const [k, v] of entries) this.put(Buffer.from(k), Buffer.from(v), readTtlMs(r));
        return { status: Status.OK };
      }
      case Opcode.PING:
        return { status: Status.OK, value: r.value.length > 0 ? r.value : PONG };
      case Opcode.STATS:
        return {
          status: Status.OK,
          value: JSON.stringify({ server: { connections: this.sockets.size }, store: { items: this.store.size } }),
        };
      case Opcode.FLUSH:
        this.store.clear();
        return { status: Status.OK };
      default:
        return { status: Status.UNKNOWN_OPCODE, value: `unknown opcode 0x${r.opcode.toString(16)}` };
    }
  }
}

/** Closes every fake server still open (test cleanup). */
export async function closeAllFakeServers(): Promise<void> {
  const open = [...servers];
  servers.clear();
  await Promise.all(open.map((s) => s.stop()));
}
