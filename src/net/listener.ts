/**
 * The TCP listener both ports use (docs/ARCHITECTURE.md, "Connections"): accepts connections up to the limit
 * (the next one gets the port's refusal and is closed, within a second even if it never reads), gives each a
 * ConnectionCore with the port's WireSession, reads into one shared buffer where it can (shared-reads.ts),
 * sweeps half-received requests, idle connections and slow readers, and shuts down gracefully.
 */
import type * as net from 'node:net';
import type { Logger } from '../logger';
import { formatHostPort, type HostPort } from './address';
import { bindListener } from './bind';
import { ConnectionCore, type CoreShared, type WireSession } from './connection-core';
import { installSharedReads } from './shared-reads';
import { WriteTurn } from './write-turn';
import { sweepIntervalFor } from './sweep';

/** A refused connection is destroyed this long after its refusal was queued, read or not. */
const REFUSAL_GRACE_MS = 1000;

export interface ListenerCounters {
  connections: number;
  totalConnections: number;
  rejectedConnections: number;
  idleKicks: number;
}

export interface ListenerOptions<S extends WireSession> {
  listen: HostPort;
  /** Put before the log lines' text ("listening on …" for the binary port, "resp listening on …"). */
  logPrefix: string;
  logger: Logger;
  maxConnections: number;
  /** The bytes a connection over the limit gets before it is closed. */
  refusal: () => Buffer;
  /** A request half received this long closes its connection (0: never). */
  partialTimeoutMs: number;
  /** Counts a connection closed by the half-request timeout. */
  onPartialTimeout: () => void;
  /** No traffic (and nothing owed) this long closes a connection (0: never). */
  idleTimeoutMs: number;
  /** Output above the high-water mark this long closes a connection (0: never). */
  slowReaderTimeoutMs: number;
  /** Bytes of the buffer every read lands in (0: Node allocates each read). */
  readBufferBytes: number;
  /**
   * While closing, keep reading and answering (the binary port answers SHUTTING_DOWN) until nothing is owed or
   * the drain deadline passes; otherwise stop reading at once and let what is owed drain.
   */
  answerWhileDraining: boolean;
  counters: ListenerCounters;
  core: Omit<CoreShared, 'turn'>;
  createSession: (core: ConnectionCore<S>) => S;
}

export class Listener<S extends WireSession> {
  readonly connections = new Set<ConnectionCore<S>>();
  /** Reads go into one buffer the listener owns instead of a Node allocation per read. */
  sharedReads = false;
  private server: net.Server | undefined;
  private readonly core: CoreShared;
  private readonly readBufferStorage: Buffer | null;
  private sweepTimer: NodeJS.Timeout | undefined;
  private bound: HostPort | undefined;
  private closed = false;

  constructor(private readonly options: ListenerOptions<S>) {
    this.core = { ...options.core, turn: new WriteTurn() };
    this.readBufferStorage = options.readBufferBytes > 0 ? Buffer.allocUnsafe(options.readBufferBytes) : null;
  }

  /** host:port actually bound (the real port when 0 was asked for). */
  get address(): HostPort {
    if (this.bound === undefined) throw new Error(`the ${this.options.logPrefix}listener is not listening`);
    return this.bound;
  }

  /** The memory every read is a view of, while shared reads are on (null: each read has its own). */
  get readBuffer(): ArrayBufferLike | null {
    return this.sharedReads && this.readBufferStorage !== null ? this.readBufferStorage.buffer : null;
  }

  get isListening(): boolean {
    return this.bound !== undefined;
  }

  /** Binds the listen address and serves it (see serve()). */
  async listen(): Promise<HostPort> {
    return this.serve(await bindListener(this.options.listen));
  }

  /**
   * Starts taking connections on `server`, already bound (bind.ts) and with no connection handler: each gets a
   * ConnectionCore, reading into the shared buffer where Node allows.
   */
  serve(server: net.Server): HostPort {
    if (this.server !== undefined) throw new Error(`the ${this.options.logPrefix}listener already serves`);
    this.server = server;
    server.on('error', (error) => this.options.logger.error(`${this.options.logPrefix}listener error: ${error.message}`));
    // Node's own accept path: for good where shared reads are off or unavailable.
    server.on('connection', (socket: net.Socket) => {
      const connection = this.accept(socket);
      if (connection !== undefined) socket.on('data', (chunk: Buffer) => connection.receive(chunk));
    });
    const bound = server.address() as net.AddressInfo;
    this.bound = { host: this.options.listen.host, port: bound.port };
    if (this.readBufferStorage !== null) {
      this.sharedReads = installSharedReads(server, this.readBufferStorage, (socket) => {
        const connection = this.accept(socket);
        return connection === undefined ? undefined : (chunk) => connection.receive(chunk);
      });
      if (!this.sharedReads) this.options.logger.debug('shared read buffer unavailable on this Node: each read allocates');
    }
    const { partialTimeoutMs, idleTimeoutMs, slowReaderTimeoutMs } = this.options;
    if (partialTimeoutMs > 0 || idleTimeoutMs > 0 || slowReaderTimeoutMs > 0) {
      const interval = sweepIntervalFor(partialTimeoutMs, idleTimeoutMs, slowReaderTimeoutMs);
      this.sweepTimer = setInterval(() => this.sweep(), interval).unref();
    }
    this.options.logger.info(`${this.options.logPrefix}listening on ${formatHostPort(this.bound)}`);
    return this.bound;
  }

  /**
   * Stops accepting; what is owed gets up to drainTimeoutMs to reach its clients (see answerWhileDraining);
   * then every connection is closed. Resolves once all are closed. Idempotent.
   */
  async close(drainTimeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const server = this.server;
    const stopped = server === undefined ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    const clock = this.options.core.clock;
    const deadline = clock() + drainTimeoutMs;
    if (this.options.answerWhileDraining) {
      while (clock() < deadline && [...this.connections].some((connection) => connection.hasPendingOutput)) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
    // Not events.once: it rejects on 'error', and a reset from a client is no reason to fail a shutdown.
    const closing = [...this.connections].map((connection) => new Promise((resolve) => connection.socket.once('close', resolve)));
    const graceMs = Math.max(0, deadline - clock()) + 100;
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
  private accept(socket: net.Socket): ConnectionCore<S> | undefined {
    const counters = this.options.counters;
    if (this.closed) {
      socket.destroy();
      return undefined;
    }
    if (this.connections.size >= this.options.maxConnections) {
      counters.rejectedConnections++;
      socket.on('error', () => undefined);
      socket.end(this.options.refusal());
      setTimeout(() => socket.destroy(), REFUSAL_GRACE_MS).unref();
      return undefined;
    }
    const connection = new ConnectionCore(socket, this.core, this.options.createSession);
    this.connections.add(connection);
    counters.connections = this.connections.size;
    counters.totalConnections++;
    socket.once('close', () => {
      this.connections.delete(connection);
      counters.connections = this.connections.size;
    });
    return connection;
  }

  private sweep(): void {
    const now = this.options.core.clock();
    const { partialTimeoutMs, idleTimeoutMs, slowReaderTimeoutMs } = this.options;
    const idleBefore = idleTimeoutMs > 0 ? now - idleTimeoutMs : -Infinity;
    for (const connection of this.connections) {
      if (
        partialTimeoutMs > 0 &&
        connection.partialSince !== 0 &&
        !connection.isPaused &&
        now - connection.partialSince > partialTimeoutMs
      ) {
        this.options.onPartialTimeout();
        connection.destroy();
      } else if (
        slowReaderTimeoutMs > 0 &&
        connection.outputBlockedSince !== 0 &&
        now - connection.outputBlockedSince > slowReaderTimeoutMs
      ) {
        connection.closeForOutputLimit(true);
      } else if (connection.isIdleSince(idleBefore)) {
        this.options.counters.idleKicks++;
        connection.destroy();
      }
    }
  }
}
