/**
 * The TCP listener: accepts connections up to the limit, sweeps half-sent frames, idle connections and slow
 * readers, and shuts down gracefully (stop accepting, answer what arrived, let queued responses drain up to a
 * deadline, then close).
 */
import * as net from 'node:net';
import { once } from 'node:events';
import { BufferPool } from '../protocol/buffer-pool';
import { maxBodyBytesFor } from '../protocol/constants';
import { OutputBatch } from '../protocol/output-batch';
import { formatHostPort, type HostPort } from '../net/address';
import { Authenticator } from '../net/auth';
import { ServerConnection, writeTooManyConnections, type MemberHandshake, type RequestHandler } from './connection';
import { NodeBudgets } from '../net/held-memory';
import { HelloRefused } from './member-auth';
import type { Logger } from '../logger';
import type { ResolvedNodeOptions } from './options';
import { installSharedReads } from '../net/shared-reads';
import { sweepIntervalFor } from '../net/sweep';
import type { ServerStats } from './stats';

export class CacheServer {
  private readonly server: net.Server;
  private readonly connections = new Set<ServerConnection>();
  /** Request bodies that span reads and output storage are reused across connections (buffer-pool.ts). */
  readonly bufferPool = new BufferPool();
  /**
   * One batch serves every connection: each read is decoded, answered and written without yielding. It is
   * always sent with writeTo(), so large GET values go out as pinned views of the store (commands.ts).
   */
  private readonly batch = new OutputBatch(undefined, this.bufferPool, true);
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private boundAddress: HostPort | undefined;
  private readonly auth: Authenticator;
  /** Every connection's reads land here when sharedReads is on (readBufferBytes > 0 and this Node allows it). */
  private readonly readBuffer: Buffer | null;
  /** Reads go into readBuffer instead of a Node allocation per read (STATS reports it). */
  sharedReads = false;
  /** The cluster's handshake checker, known once the node's id is (after listen): see setMemberHandshake. */
  private memberGate: MemberHandshake | undefined;
  /** What connections call: refuses hellos until the cluster is there. */
  private readonly members: MemberHandshake = {
    admit: (value) =>
      this.memberGate === undefined ? Promise.reject(new HelloRefused('the node is starting')) : this.memberGate.admit(value),
    confirm: (value) => this.memberGate !== undefined && this.memberGate.confirm(value),
  };

  constructor(
    private readonly options: ResolvedNodeOptions,
    private readonly handler: RequestHandler,
    private readonly stats: ServerStats,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
    private readonly budgets: NodeBudgets = new NodeBudgets(options.inputTotalLimitBytes, options.outputTotalLimitBytes),
  ) {
    this.auth = new Authenticator(options.authToken);
    this.readBuffer = options.readBufferBytes > 0 ? Buffer.allocUnsafe(options.readBufferBytes) : null;
    // Node's own accept path: used until listening, and for good where shared reads are off or unavailable.
    this.server = net.createServer({ noDelay: true }, (socket) => {
      const connection = this.onConnection(socket);
      if (connection !== undefined) socket.on('data', (chunk: Buffer) => connection.receive(chunk));
    });
    this.server.on('error', (error) => this.logger.error(`listener error: ${error.message}`));
  }

  /** host:port actually bound (the real port when 0 was asked for). */
  get address(): HostPort {
    if (!this.boundAddress) throw new Error('the server is not listening');
    return this.boundAddress;
  }

  /** Member handshakes are checked by `gate` from now on (the node's id is known only after listen). */
  setMemberHandshake(gate: MemberHandshake): void {
    this.memberGate = gate;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  async listen(): Promise<HostPort> {
    const { host, port } = this.options.listen;
    const listening = once(this.server, 'listening');
    const failed = once(this.server, 'error').then(([error]) => {
      throw error as Error;
    });
    this.server.listen({ host, port, backlog: 1024 });
    await Promise.race([listening, failed]);
    const bound = this.server.address() as net.AddressInfo;
    this.boundAddress = { host, port: bound.port };
    if (this.readBuffer !== null) {
      this.sharedReads = installSharedReads(this.server, this.readBuffer, (socket) => {
        const connection = this.onConnection(socket);
        return connection === undefined ? undefined : (chunk) => connection.receive(chunk);
      });
      if (!this.sharedReads) this.logger.debug('shared read buffer unavailable on this Node: each read allocates');
    }
    const { frameTimeoutMs, idleTimeoutMs, slowReaderTimeoutMs } = this.options;
    this.sweepTimer = setInterval(() => this.sweep(), sweepIntervalFor(frameTimeoutMs, idleTimeoutMs, slowReaderTimeoutMs)).unref();
    this.logger.info(`listening on ${formatHostPort(this.boundAddress)}`);
    return this.boundAddress;
  }

  /**
   * Stops accepting, gives queued responses up to drainTimeoutMs to reach their clients, then closes every
   * connection. Requests that arrive meanwhile are answered by the handler (SHUTTING_DOWN while draining).
   */
  async close(drainTimeoutMs = this.options.drainTimeoutMs): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const deadline = this.clock() + drainTimeoutMs;
    while (this.clock() < deadline && [...this.connections].some((connection) => connection.hasPendingOutput)) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // Not events.once: it rejects on 'error', and a reset from a client is no reason to fail a shutdown.
    const closing = [...this.connections].map((connection) => new Promise((resolve) => connection.socket.once('close', resolve)));
    const graceMs = Math.max(0, deadline - this.clock()) + 100;
    for (const connection of this.connections) connection.closeGracefully(graceMs);
    // closeGracefully's own timer does not hold the process open; this one does, so a shutdown always ends.
    const backstop = setTimeout(() => {
      for (const connection of this.connections) connection.destroy();
    }, graceMs + 50);
    await Promise.all(closing);
    clearTimeout(backstop);
    await stopped;
  }

  /** Takes an accepted socket on as a connection; undefined when it was refused (closing, over the limit). */
  private onConnection(socket: net.Socket): ServerConnection | undefined {
    if (this.closed) {
      socket.destroy();
      return undefined;
    }
    if (this.connections.size >= this.options.maxConnections) {
      this.stats.rejectedConnections++;
      socket.on('error', () => undefined);
      socket.end(writeTooManyConnections(this.batch, this.options.maxConnections));
      setTimeout(() => socket.destroy(), 1000).unref();
      return undefined;
    }
    const connection = new ServerConnection(
      socket,
      this.handler,
      this.batch,
      this.stats,
      {
        maxBodyBytes: maxBodyBytesFor(this.options.maxKeyBytes, this.options.maxValueBytes),
        outputHighWaterBytes: this.options.outputHighWaterBytes,
        outputHardLimitBytes: this.options.outputHardLimitBytes,
        maxInflight: this.options.maxInflightPerConnection,
        maxRequestsPerRead: this.options.maxRequestsPerRead,
      },
      this.clock,
      { auth: this.auth, bufferPool: this.bufferPool, members: this.members, budgets: this.budgets },
    );
    this.connections.add(connection);
    this.stats.connections = this.connections.size;
    this.stats.totalConnections++;
    socket.once('close', () => {
      this.connections.delete(connection);
      this.stats.connections = this.connections.size;
    });
    return connection;
  }

  private sweep(): void {
    const now = this.clock();
    const { frameTimeoutMs, idleTimeoutMs, slowReaderTimeoutMs } = this.options;
    const idleBefore = idleTimeoutMs > 0 ? now - idleTimeoutMs : -Infinity;
    for (const connection of this.connections) {
      if (connection.partialFrameSince !== 0 && !connection.isPaused && now - connection.partialFrameSince > frameTimeoutMs) {
        this.stats.frameTimeouts++;
        connection.destroy();
      } else if (
        slowReaderTimeoutMs > 0 &&
        connection.outputBlockedSince !== 0 &&
        now - connection.outputBlockedSince > slowReaderTimeoutMs
      ) {
        connection.closeForOutputLimit(true);
      } else if (connection.isIdleSince(idleBefore)) {
        this.stats.idleKicks++;
        connection.destroy();
      }
    }
  }
}
