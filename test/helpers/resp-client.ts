/**
 * A raw-socket RESP2 client for tests, independent of the server's code: encodes commands as arrays of bulk
 * strings (or sends any bytes), decodes every reply type, and reports when the server closes the connection.
 * Replies: simple string → string, error → RespReplyError, integer → number (bigint past 2^53), bulk →
 * Buffer, nil → null, array → RespValue[] (nil array → null).
 */
import * as net from 'node:net';
import { once } from 'node:events';

export class RespReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RespReplyError';
  }
}

export type RespValue = string | number | bigint | Buffer | null | RespReplyError | RespValue[];

/** Decodes replies from a growing buffer; returns undefined until a whole reply is there. */
export class ReplyDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;

  push(chunk: Buffer): void {
    this.buf = this.pos < this.buf.length ? Buffer.concat([this.buf.subarray(this.pos), chunk]) : chunk;
    this.pos = 0;
  }

  next(): RespValue | undefined {
    const start = this.pos;
    const value = this.read();
    if (value === undefined) this.pos = start;
    return value;
  }

  private line(): string | undefined {
    const nl = this.buf.indexOf('\r\n', this.pos);
    if (nl < 0) return undefined;
    const text = this.buf.toString('latin1', this.pos, nl);
    this.pos = nl + 2;
    return text;
  }

  private read(): RespValue | undefined {
    if (this.pos >= this.buf.length) return undefined;
    const type = String.fromCharCode(this.buf[this.pos++]!);
    const line = this.line();
    if (line === undefined) return undefined;
    switch (type) {
      case '+':
        return line;
      case '-':
        return new RespReplyError(line);
      case ':': {
        const big = BigInt(line);
        return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
      }
      case '$': {
        const len = Number(line);
        if (len < 0) return null;
        if (this.buf.length - this.pos < len + 2) return undefined;
        const value = Buffer.from(this.buf.subarray(this.pos, this.pos + len));
        this.pos += len + 2;
        return value;
      }
      case '*': {
        const n = Number(line);
        if (n < 0) return null;
        const items: RespValue[] = [];
        for (let i = 0; i < n; i++) {
          const item = this.read();
          if (item === undefined) return undefined;
          items.push(item);
        }
        return items;
      }
      default:
        throw new Error(`bad reply type ${JSON.stringify(type)} in ${JSON.stringify(this.buf.toString('latin1'))}`);
    }
  }
}

/** A command as RESP bytes: an array of bulk strings. */
export function encodeCommand(args: Array<string | Buffer | number>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg));
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

const open = new Set<RespTestClient>();

export class RespTestClient {
  readonly replies: RespValue[] = [];
  readonly closed: Promise<void>;
  private readonly chunks: Buffer[] = [];
  private readonly decoder = new ReplyDecoder();
  private taken = 0;
  private waiters: Array<() => void> = [];
  private isClosed = false;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.decoder.push(chunk);
      for (let value = this.decoder.next(); value !== undefined; value = this.decoder.next()) this.replies.push(value);
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closed = once(socket, 'close').then(() => {
      this.isClosed = true;
      open.delete(this);
      this.wake();
    });
  }

  /** Connects to 127.0.0.1:port, or to a unix socket path. */
  static async connect(port: number | string, host = '127.0.0.1'): Promise<RespTestClient> {
    const socket = typeof port === 'string' ? net.connect({ path: port }) : net.connect({ port, host });
    const client = new RespTestClient(socket);
    open.add(client);
    await once(socket, 'connect');
    return client;
  }

  /** Raw bytes received (for exact-byte assertions). */
  get received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** Resolves when the server has closed the connection; rejects after timeoutMs. */
  async closedWithin(timeoutMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the connection was still open after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  send(...args: Array<string | Buffer | number>): void {
    this.socket.write(encodeCommand(args));
  }

  sendRaw(bytes: string | Buffer): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /**
   * The next `count` replies not taken yet; rejects if the connection closes first or when no reply came for
   * timeoutMs (so a broken server fails the test instead of hanging it).
   */
  async take(count: number, timeoutMs = 10_000): Promise<RespValue[]> {
    while (this.replies.length - this.taken < count) {
      if (this.isClosed) throw new Error(`connection closed after ${this.replies.length - this.taken} of ${count} replies`);
      let timer: NodeJS.Timeout | undefined;
      const progressed = await new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
        this.waiters.push(() => resolve(true));
      });
      clearTimeout(timer);
      if (!progressed) throw new Error(`no reply for ${timeoutMs} ms (have ${this.replies.length - this.taken} of ${count})`);
    }
    const out = this.replies.slice(this.taken, this.taken + count);
    this.taken += count;
    return out;
  }

  async call(...args: Array<string | Buffer | number>): Promise<RespValue> {
    this.send(...args);
    return (await this.take(1))[0]!;
  }

  /** A call whose reply is a bulk string (as UTF-8 text) or nil. */
  async str(...args: Array<string | Buffer | number>): Promise<string | null> {
    const reply = await this.call(...args);
    if (reply === null) return null;
    if (!Buffer.isBuffer(reply)) throw new Error(`expected a bulk string, got ${describe(reply)}`);
    return reply.toString();
  }

  /** A call that must fail: the error reply's text. */
  async err(...args: Array<string | Buffer | number>): Promise<string> {
    const reply = await this.call(...args);
    if (!(reply instanceof RespReplyError)) throw new Error(`expected an error reply, got ${describe(reply)}`);
    return reply.message;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

export function describe(value: RespValue): string {
  if (Buffer.isBuffer(value)) return `bulk ${JSON.stringify(value.toString())}`;
  if (value instanceof RespReplyError) return `error ${JSON.stringify(value.message)}`;
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
}

/** Bulk strings in a reply turned into text, recursively (for deep equality checks). */
export function text(value: RespValue): unknown {
  if (Buffer.isBuffer(value)) return value.toString();
  if (Array.isArray(value)) return value.map(text);
  if (value instanceof RespReplyError) return `ERROR: ${value.message}`;
  return value;
}

export function closeAllClients(): void {
  for (const client of open) client.destroy();
  open.clear();
}
