/**
 * The binary port: a Listener (net/listener.ts) whose connections speak frames (frame-session.ts). Shutdown
 * answers what still arrives (the handler replies SHUTTING_DOWN while the node drains) until queued responses
 * have reached their clients or the drain deadline passes.
 */
import { BufferPool } from '../protocol/buffer-pool';
import { maxBodyBytesFor } from '../protocol/constants';
import { OutputBatch } from '../protocol/output-batch';
import type * as net from 'node:net';
import type { HostPort } from '../net/address';
import { Authenticator } from '../net/auth';
import { NodeBudgets } from '../net/held-memory';
import { Listener } from '../net/listener';
import type { Logger } from '../logger';
import type { MemberHandshake, RequestHandler } from './request-handler';
import { FrameSession, tooManyConnectionsFrame } from './frame-session';
import type { ResolvedNodeOptions } from './node-options';
import type { ServerStats } from './server-stats';

export class CacheServer {
  /** Request bodies that span reads and output storage are reused across connections (buffer-pool.ts). */
  readonly bufferPool = new BufferPool();
  /**
   * One batch serves every connection: each read is decoded, answered and written without yielding. It is
   * always sent with writeTo(), so large GET values go out as pinned views of the store (binary-sink.ts).
   */
  private readonly batch = new OutputBatch(undefined, this.bufferPool, true);
  private readonly listener: Listener<FrameSession>;

  constructor(
    private readonly options: ResolvedNodeOptions,
    handler: RequestHandler,
    /** The member handshake's receiving half (the cluster's MemberGate). */
    members: MemberHandshake,
    stats: ServerStats,
    logger: Logger,
    clock: () => number = Date.now,
    budgets: NodeBudgets = new NodeBudgets(options.inputTotalLimitBytes, options.outputTotalLimitBytes),
  ) {
    const shared = {
      handler,
      stats,
      maxBodyBytes: maxBodyBytesFor(options.maxKeyBytes, options.maxValueBytes),
      auth: new Authenticator(options.authToken),
      bufferPool: this.bufferPool,
      members,
    };
    this.listener = new Listener<FrameSession>({
      listen: options.listen,
      logPrefix: '',
      logger,
      maxConnections: options.maxConnections,
      refusal: () => tooManyConnectionsFrame(this.batch, options.maxConnections),
      partialTimeoutMs: options.frameTimeoutMs,
      onPartialTimeout: () => stats.frameTimeouts++,
      idleTimeoutMs: options.idleTimeoutMs,
      slowReaderTimeoutMs: options.slowReaderTimeoutMs,
      readBufferBytes: options.readBufferBytes,
      answerWhileDraining: true,
      counters: stats,
      core: {
        batch: this.batch,
        counters: stats,
        limits: {
          outputHighWaterBytes: options.outputHighWaterBytes,
          outputHardLimitBytes: options.outputHardLimitBytes,
          maxPendingReplies: options.maxInflightPerConnection,
          maxRequestsPerRead: options.maxRequestsPerRead,
        },
        budgets,
        clock,
      },
      createSession: (core) => new FrameSession(core, shared),
    });
  }

  /** host:port actually bound (the real port when 0 was asked for). */
  get address(): HostPort {
    return this.listener.address;
  }

  /** Reads go into one buffer instead of a Node allocation per read (STATS reports it). */
  get sharedReads(): boolean {
    return this.listener.sharedReads;
  }

  get connectionCount(): number {
    return this.listener.connections.size;
  }

  /** Binds options.listen and serves it. */
  listen(): Promise<HostPort> {
    return this.listener.listen();
  }

  /** Serves a port bound beforehand (net/bind.ts): the composition root binds first to learn the node's id. */
  serve(bound: net.Server): HostPort {
    return this.listener.serve(bound);
  }

  /**
   * Stops accepting, gives queued responses up to drainTimeoutMs to reach their clients, then closes every
   * connection. Requests that arrive meanwhile are answered by the handler (SHUTTING_DOWN while draining).
   */
  close(drainTimeoutMs = this.options.drainTimeoutMs): Promise<void> {
    return this.listener.close(drainTimeoutMs);
  }
}
