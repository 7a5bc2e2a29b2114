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
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../errors';
import { BufferPool } from '../protocol/buffer-pool';
import { OutputBatch } from '../protocol/output-batch';
import { formatHostPort, parseHostPort, type HostPort } from '../net/address';
import { Authenticator, validateToken } from '../net/auth';
import { silentLogger, type Logger } from '../logger';
import { NodeBudgets } from '../net/held-memory';
import { Listener } from '../net/listener';
import type { RespBackend } from './backend';
import { RespSession, type RespSessionShared } from './resp-session';
import type { ClientState, RespServerInfo } from './context';
import { DEFAULT_MAX_ARGS, DEFAULT_MAX_INLINE_BYTES } from './parser';
import { ResponseCap } from '../net/response-cap';
import { ResponseGuard, acceptsResponseGuard } from './response-guard';
import { RespStats } from './resp-stats';
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
  /**
   * Bytes of the one buffer every connection's reads land in, instead of a Node allocation per read (default
   * 1 MiB; 0: Node allocates). The parser copies what it keeps of a read (parser.ts, detach).
   */
  readBufferBytes?: number;
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
  private readonly listener: Listener<RespSession>;
  private readonly listenAt: HostPort;
  private readonly drainTimeoutMs: number;
  /** The budgets the connections report into; stopped on close when this server made them. */
  readonly budgets: NodeBudgets;
  private readonly ownBudgets: boolean;
  private nextClientId = 1;
  private closing: Promise<void> | undefined;

  constructor(options: RespServerOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    if (options.backend === undefined || options.backend === null) throw new ConfigError('options.backend is required (a RespBackend)');
    this.listenAt = parseHostPort(options.addr, 'resp addr');
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
    const commandTimeoutMs = int('commandTimeoutMs', 10_000, 0, 3_600_000);
    this.drainTimeoutMs = int('drainTimeoutMs', 10_000, 0, 3_600_000);
    const outputHighWaterBytes = int('outputHighWaterBytes', 1024 * 1024, 16 * 1024, 2 ** 32);
    const outputHardLimitBytes = int('outputHardLimitBytes', 64 * 1024 * 1024, outputHighWaterBytes, 2 ** 40);
    const maxPendingReplies = int('maxPendingReplies', 1024, 1, 1_000_000);
    const maxMemoryBytes = int('maxMemoryBytes', 0, 0, 2 ** 50);
    const idleTimeoutMs = int('idleTimeoutMs', 0, 0, 2 ** 31 - 1);
    const slowReaderTimeoutMs = int('slowReaderTimeoutMs', 30_000, 0, 2 ** 31 - 1);
    const readBufferBytes = int('readBufferBytes', 1024 * 1024, 0, 16 * 1024 * 1024);
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
      ['timeout', String(Math.ceil(idleTimeoutMs / 1000))],
      ['tcp-keepalive', '0'],
      ['cluster-enabled', 'no'],
    ]);
    const shared: RespSessionShared = {
      // Pooled storage, and room for pinned store values (writer.externalBulk): replies leave with writeTo().
      writer: new RespWriter(new OutputBatch(undefined, new BufferPool(), true), this.stats),
      backend: options.backend,
      server: this,
      stats: this.stats,
      parserLimits: { maxArgs, maxBulkBytes, maxRequestBytes, maxInlineBytes: DEFAULT_MAX_INLINE_BYTES },
      auth,
      sharedReadBuffer: () => this.listener.readBuffer,
    };
    this.listener = new Listener<RespSession>({
      listen: this.listenAt,
      logPrefix: 'resp ',
      logger: options.logger ?? silentLogger,
      maxConnections: this.maxClients,
      refusal: () => MAX_CLIENTS_REPLY,
      partialTimeoutMs: commandTimeoutMs,
      onPartialTimeout: () => this.stats.commandTimeouts++,
      idleTimeoutMs,
      slowReaderTimeoutMs,
      readBufferBytes,
      answerWhileDraining: false,
      counters: this.stats,
      core: {
        batch: shared.writer.batch,
        counters: this.stats,
        limits: { outputHighWaterBytes, outputHardLimitBytes, maxPendingReplies, maxRequestsPerRead },
        budgets: this.budgets,
        clock: Date.now,
      },
      createSession: (core) => new RespSession(core, this.nextClientId++, shared),
    });
  }

  /** host:port actually bound (the real port when 0 was asked for). */
  get address(): string {
    return formatHostPort(this.listener.address);
  }

  get host(): string {
    return this.listener.address.host;
  }

  get port(): number {
    return this.listener.isListening ? this.listener.address.port : this.listenAt.port;
  }

  get connectionCount(): number {
    return this.listener.connections.size;
  }

  /** Reads go into one buffer instead of a Node allocation per read. */
  get sharedReads(): boolean {
    return this.listener.sharedReads;
  }

  *clients(): Iterable<ClientState> {
    for (const connection of this.listener.connections) yield connection.session.client;
  }

  async listen(): Promise<string> {
    await this.listener.listen();
    return this.address;
  }

  /**
   * Stops accepting and reading; replies still pending (promises of a remote backend, bytes queued on sockets)
   * get up to drainTimeoutMs; then every connection is closed. Idempotent.
   */
  close(drainTimeoutMs = this.drainTimeoutMs): Promise<void> {
    this.closing ??= this.listener.close(drainTimeoutMs).then(() => {
      if (this.ownBudgets) this.budgets.stop();
    });
    return this.closing;
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
