/**
 * The RESP listener: accepts connections up to the limit (the next one gets Redis's "-ERR max number of
 * clients reached" and is closed), closes connections whose command stays half-received too long, and shuts
 * down gracefully (stop accepting and reading, let pending replies settle and drain up to a deadline, close).
 *
 * Request limits, sized for a cache (checked on the length digits, before anything is allocated; past them
 * the command is a protocol error that closes the connection):
 *   - maxArgs, default 128 Ki (131,072) arguments per command. Redis caps a multibulk at 1024 × 1024; a
 *     cache's MGET/MSET rarely needs more than tens of thousands.
 *   - maxRequestBytes, the bytes one command may declare (Redis's client-query-buffer-limit, 1 GB there),
 *     default max(64 MiB, 2 × the bulk limit), and never more than the node's input budget.
 *   - before the password is given: 10 arguments and 16 KiB (connection-auth.ts).
 * Memory over all connections: the node-wide budgets (src/net/held-memory.ts, shared with the binary port
 * when the node passes its own) bound the input held for unfinished commands and the output queued for clients
 * that do not read (src/net/budget-shares.ts); replies are bounded by maxResponseBytes (response-guard.ts).
 */
import * as net from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../errors';
import { OutputBatch } from '../protocol/output-batch';
import { formatHostPort, parseHostPort, type HostPort } from '../net/address';
import { Authenticator, validateToken } from '../net/auth';
import { sweepIntervalFor } from '../net/sweep';
import { silentLogger, type Logger } from '../logger';
import { NodeBudgets } from '../net/held-memory';
import type { RespBackend } from './backend';
import { RespConnection, type ConnectionShared } from './connection';
import type { ClientState, RespServerInfo } from './context';
import { DEFAULT_MAX_ARGS, DEFAULT_MAX_INLINE_BYTES } from './parser';
import { ResponseCap } from '../net/response-cap';
import { ResponseGuard, acceptsResponseGuard } from './response-guard';
import { RespStats } from './stats';
import { RespWriter } from './writer';

export interface RespServerOptions {
  /** Where to listen: `:PORT` (127.0.0.1), `HOST:PORT`, `[IPv6]:PORT`; `:0` picks a free port. */
  addr: string;
  backend: RespBackend;
  logger?: Logger;
  /** Open connections allowed (default 10,000). */
  maxConnections?: number;
  /** The store's largest value (default 1 MiB). Bulk strings up to this + 64 KiB are read (see BULK_SLACK). */
  maxValueBytes?: number;
  /**
   * Most arguments in one command (default 128 Ki = 131,072; Redis allows 1024 × 1024, more than a cache's
   * MGET/MSET needs).
   */
  maxArgs?: number;
  /**
   * Most bytes one command may declare (Redis's client-query-buffer-limit): default max(64 MiB, 2 × the bulk
   * limit), lowered to the input budget's limit when that is smaller; at most that limit when given.
   */
  maxRequestBytes?: number;
  /** A command half-received this long closes its connection (default 10 s; 0: never). */
  commandTimeoutMs?: number;
  /** Queued replies above which a connection stops being read until it drains (default 1 MiB). */
  outputHighWaterBytes?: number;
  /** Queued replies above which a connection is closed: a client that never reads (default 64 MiB). */
  outputHardLimitBytes?: number;
  /** Replies awaiting the backend's promises before a connection stops being read (default 1024). */
  maxPendingReplies?: number;
  /** How long close() lets pending replies drain before destroying connections (default 10 s). */
  drainTimeoutMs?: number;
  /** Reported by CONFIG GET maxmemory (default 0, "no limit" to Redis tools). */
  maxMemoryBytes?: number;
  /** The password clients must give (AUTH / HELLO AUTH, user `default`) before other commands; none by default. */
  authToken?: string;
  /** A connection with no traffic (and nothing owed to it) this long is closed (Redis `timeout`; default 0: never). */
  idleTimeoutMs?: number;
  /** Commands run per read before a connection yields to others (default 1024). */
  maxRequestsPerRead?: number;
  /** Replies above the high-water mark this long close the connection: a client that never reads (default 30 s; 0: off). */
  slowReaderTimeoutMs?: number;
  /**
   * The node-wide input and output budgets (src/net/held-memory.ts) this server's connections report into;
   * a node passes the one its binary port uses. Default: the server's own, input max(64 MiB, 2 ×
   * maxRequestBytes) and output max(128 MiB, 2 × outputHardLimitBytes).
   */
  budgets?: NodeBudgets;
  /**
   * The largest MGET reply built; a bigger one is refused with "-ERR response too large" before any value is
   * copied (default outputHardLimitBytes less outputHighWaterBytes: 63 MiB with the defaults).
   */
  maxResponseBytes?: number;
}

/**
 * Slack over maxValueBytes for a bulk string: a value up to 64 KiB too big still reaches the store and gets a
 * "-ERR value is … bytes; the limit is …" with the connection kept; keys (≤ 64 KiB - 1) always fit.
 */
export const BULK_SLACK = 64 * 1024;
const MAX_CLIENTS_REPLY = Buffer.from('-ERR max number of clients reached\r\n');

export class RespServer implements RespServerInfo {
  readonly stats = new RespStats();
  readonly runId = randomBytes(20).toString('hex');
  readonly maxClients: number;
  readonly config: ReadonlyMap<string, string>;
  private readonly server: net.Server;
  private readonly connections = new Set<RespConnection>();
  private readonly shared: ConnectionShared;
  private readonly listenAt: HostPort;
  private readonly logger: Logger;
  private readonly commandTimeoutMs: number;
  private readonly drainTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly slowReaderTimeoutMs: number;
  /** The budgets the connections report into; stopped on close when this server made them. */
  readonly budgets: NodeBudgets;
  private readonly ownBudgets: boolean;
  private nextClientId = 1;
  private sweepTimer: NodeJS.Timeout | undefined;
  private bound: HostPort | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: RespServerOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    if (options.backend === undefined || options.backend === null) throw new ConfigError('options.backend is required (a RespBackend)');
    this.listenAt = parseHostPort(options.addr, 'resp addr');
    this.logger = options.logger ?? silentLogger;
    const int = (name: keyof RespServerOptions, fallback: number, min: number, max: number): number => {
      const value = options[name] ?? fallback;
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
        throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
      }
      return value;
    };
    this.maxClients = int('maxConnections', 10_000, 1, 1_000_000);
    const maxValueBytes = int('maxValueBytes', 1024 * 1024, 0, 2 ** 30);
    const maxBulkBytes = maxValueBytes + BULK_SLACK;
    const maxArgs = int('maxArgs', DEFAULT_MAX_ARGS, 1, 16 * 1024 * 1024);
    const given = options.budgets;
    const inputCap = given?.input.limit ?? 2 ** 40;
    if (maxBulkBytes > inputCap) {
      throw new ConfigError(
        `the input budget (${inputCap} bytes) must hold one bulk string of maxValueBytes + ${BULK_SLACK} (${maxBulkBytes} bytes)`,
      );
    }
    const maxRequestBytes = int('maxRequestBytes', defaultMaxRequestBytes(maxBulkBytes, inputCap), maxBulkBytes, inputCap);
    this.commandTimeoutMs = int('commandTimeoutMs', 10_000, 0, 3_600_000);
    this.drainTimeoutMs = int('drainTimeoutMs', 10_000, 0, 3_600_000);
    const outputHighWaterBytes = int('outputHighWaterBytes', 1024 * 1024, 16 * 1024, 2 ** 32);
    const outputHardLimitBytes = int('outputHardLimitBytes', 64 * 1024 * 1024, outputHighWaterBytes, 2 ** 40);
    const maxPendingReplies = int('maxPendingReplies', 1024, 1, 1_000_000);
    const maxMemoryBytes = int('maxMemoryBytes', 0, 0, 2 ** 50);
    this.idleTimeoutMs = int('idleTimeoutMs', 0, 0, 2 ** 31 - 1);
    this.slowReaderTimeoutMs = int('slowReaderTimeoutMs', 30_000, 0, 2 ** 31 - 1);
    const maxRequestsPerRead = int('maxRequestsPerRead', 1024, 1, 1_000_000);
    const maxResponseBytes = int('maxResponseBytes', outputHardLimitBytes - outputHighWaterBytes, 0, 2 ** 40);
    this.ownBudgets = given === undefined;
    this.budgets =
      given ?? new NodeBudgets(Math.max(64 * 1024 * 1024, 2 * maxRequestBytes), Math.max(128 * 1024 * 1024, 2 * outputHardLimitBytes));
    // The backend sizes GET/MGET replies by this rule (LocalRespBackend and ClusterRespBackend take it).
    if (acceptsResponseGuard(options.backend))
      options.backend.useResponseGuard(new ResponseGuard(new ResponseCap(maxResponseBytes, this.budgets.output), this.stats));
    const auth = new Authenticator(validateToken(options.authToken));
    this.config = new Map([
      ['bind', this.listenAt.host],
      ['port', String(this.listenAt.port)],
      ['save', ''],
      ['appendonly', 'no'],
      ['appendfsync', 'no'],
      ['databases', '1'],
      ['maxclients', String(this.maxClients)],
      ['maxmemory', String(maxMemoryBytes)],
      ['maxmemory-policy', 'allkeys-lru'],
      ['proto-max-bulk-len', String(maxBulkBytes)],
      ['timeout', String(Math.ceil(this.idleTimeoutMs / 1000))],
      ['tcp-keepalive', '0'],
      ['cluster-enabled', 'no'],
    ]);
    this.shared = {
      writer: new RespWriter(new OutputBatch(), this.stats),
      backend: options.backend,
      server: this,
      stats: this.stats,
      parserLimits: { maxArgs, maxBulkBytes, maxRequestBytes, maxInlineBytes: DEFAULT_MAX_INLINE_BYTES },
      limits: { outputHighWaterBytes, outputHardLimitBytes, maxPendingReplies, maxRequestsPerRead },
      auth,
      budgets: this.budgets,
    };
    this.server = net.createServer({ noDelay: true }, (socket) => this.onConnection(socket));
    this.server.on('error', (error) => this.logger.error(`resp listener error: ${error.message}`));
  }

  /** host:port actually bound (the real port when 0 was asked for). */
  get address(): string {
    return formatHostPort(this.bound ?? this.notListening());
  }

  get host(): string {
    return (this.bound ?? this.notListening()).host;
  }

  get port(): number {
    return this.bound?.port ?? this.listenAt.port;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  *clients(): Iterable<ClientState> {
    for (const connection of this.connections) yield connection.client;
  }

  async listen(): Promise<string> {
    const listening = once(this.server, 'listening');
    const failed = once(this.server, 'error').then(([error]) => {
      throw error as Error;
    });
    this.server.listen({ host: this.listenAt.host, port: this.listenAt.port, backlog: 1024 });
    await Promise.race([listening, failed]);
    const bound = this.server.address() as net.AddressInfo;
    this.bound = { host: this.listenAt.host, port: bound.port };
    if (this.commandTimeoutMs > 0 || this.idleTimeoutMs > 0 || this.slowReaderTimeoutMs > 0) {
      const interval = sweepIntervalFor(this.commandTimeoutMs, this.idleTimeoutMs, this.slowReaderTimeoutMs);
      this.sweepTimer = setInterval(() => this.sweep(), interval).unref();
    }
    this.logger.info(`resp listening on ${this.address}`);
    return this.address;
  }

  /**
   * Stops accepting and reading; replies still pending (promises of a remote backend, bytes queued on sockets)
   * get up to drainTimeoutMs; then every connection is closed. Idempotent.
   */
  close(drainTimeoutMs = this.drainTimeoutMs): Promise<void> {
    this.closing ??= this.shutdown(drainTimeoutMs);
    return this.closing;
  }

  private async shutdown(drainTimeoutMs: number): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Not events.once: it rejects on 'error', and a client resetting its connection must not fail close().
    const closed = [...this.connections].map((connection) => new Promise((resolve) => connection.socket.once('close', resolve)));
    for (const connection of this.connections) connection.closeGracefully(drainTimeoutMs + 100);
    await Promise.all(closed);
    await stopped;
    if (this.ownBudgets) this.budgets.stop();
  }

  private notListening(): never {
    throw new Error('the RESP server is not listening');
  }

  private onConnection(socket: net.Socket): void {
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.maxClients) {
      this.stats.rejectedConnections++;
      socket.on('error', () => undefined);
      socket.end(MAX_CLIENTS_REPLY);
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    const connection = new RespConnection(socket, this.nextClientId++, this.shared);
    this.connections.add(connection);
    this.stats.connections = this.connections.size;
    this.stats.totalConnections++;
    socket.once('close', () => {
      this.connections.delete(connection);
      this.stats.connections = this.connections.size;
    });
  }

  private sweep(): void {
    const now = Date.now();
    const idleBefore = this.idleTimeoutMs > 0 ? now - this.idleTimeoutMs : -Infinity;
    for (const connection of this.connections) {
      if (
        this.commandTimeoutMs > 0 &&
        connection.partialSince !== 0 &&
        !connection.isPaused &&
        now - connection.partialSince > this.commandTimeoutMs
      ) {
        this.stats.commandTimeouts++;
        connection.destroy();
      } else if (
        this.slowReaderTimeoutMs > 0 &&
        connection.outputBlockedSince !== 0 &&
        now - connection.outputBlockedSince > this.slowReaderTimeoutMs
      ) {
        connection.closeSlowReader();
      } else if (connection.isIdleSince(idleBefore)) {
        this.stats.idleKicks++;
        connection.destroy();
      }
    }
  }
}

/**
 * maxRequestBytes when not given: max(64 MiB, 2 × the bulk limit), so a command may carry two of the largest
 * values; no more than the input budget's cap (a command over it would be closed by the budget anyway).
 */
export function defaultMaxRequestBytes(maxBulkBytes: number, inputCap: number): number {
  return Math.max(maxBulkBytes, Math.min(inputCap, Math.max(64 * 1024 * 1024, 2 * maxBulkBytes)));
}

/** Creates a RespServer and waits until it listens. */
export async function startRespServer(options: RespServerOptions): Promise<RespServer> {
  const server = new RespServer(options);
  await server.listen();
  return server;
}
