/**
 * The binary port, bound before the node is built. The node's member id is its address, and with `:0` the
 * port is known only once bound; membership and the router need the id. So the composition root (start-node.ts)
 * binds this port first, builds store → membership → router, and then attaches the router and the member
 * handshake checker here.
 *
 * Between bind() and attach() the port holds an explicit "accept later" gate rather than a half-built node:
 *   - start-node.ts calls attach() in the same synchronous run that bind()'s promise resumes: the 'listening'
 *     event, the promise chain and everything up to attach() run from process.nextTick and microtasks, and libuv
 *     hands over connections and their reads only in its poll phase, which cannot run in between. No request
 *     can arrive before attach(): connections wait in the kernel's backlog.
 *   - Should an await ever slip in between, the gate still answers correctly: a request gets UNAVAILABLE ("the
 *     node is starting") and a member hello is refused the same way by CacheServer until attach().
 * The gate lives here because CacheServer takes its handler at construction and binds inside listen(); with a
 * constructor that takes the handler and the handshake checker and a listener already bound, this file reduces
 * to bind() (docs/ARCHITECTURE.md, "The composition root").
 */
import type { Logger } from '../logger';
import type { HostPort } from '../net/address';
import type { NodeBudgets } from '../net/held-memory';
import type { BufferPoolStats } from '../protocol/buffer-pool';
import { Status } from '../protocol/constants';
import type { Frame } from '../protocol/frame';
import type { OutputBatch } from '../protocol/output-batch';
import type { AsyncReplies, MemberHandshake, RequestHandler } from '../server/connection';
import type { ResolvedNodeOptions } from '../server/options';
import { CacheServer } from '../server/server';
import type { ServerStats } from '../server/stats';

const STARTING = 'the node is starting';

export class BinaryPort {
  private handler: RequestHandler | undefined;
  private readonly server: CacheServer;

  private constructor(options: ResolvedNodeOptions, stats: ServerStats, logger: Logger, budgets: NodeBudgets) {
    const gate: RequestHandler = {
      handle: (frame: Frame, out: OutputBatch, replies: AsyncReplies) => {
        if (this.handler !== undefined) this.handler.handle(frame, out, replies);
        else out.appendResponseString(frame.opcode, Status.UNAVAILABLE, frame.requestId, 0, STARTING);
      },
    };
    this.server = new CacheServer(options, gate, stats, logger, Date.now, budgets);
  }

  /** Binds `options.listen`; rejects with the listen error (the port is in use, the address is not local…). */
  static async bind(options: ResolvedNodeOptions, stats: ServerStats, logger: Logger, budgets: NodeBudgets): Promise<BinaryPort> {
    const port = new BinaryPort(options, stats, logger, budgets);
    await port.server.listen();
    return port;
  }

  /** host:port bound (the real port when 0 was asked for). */
  get address(): HostPort {
    return this.server.address;
  }

  /** The node is built: requests go to `handler`, member hellos to `members`. Call once, right after bind(). */
  attach(handler: RequestHandler, members: MemberHandshake): void {
    if (this.handler !== undefined) throw new Error('the binary port is already attached');
    this.server.setMemberHandshake(members);
    this.handler = handler;
  }

  /** For STATS: the body buffers reused across connections, and whether reads share one buffer. */
  readStats(readBufferBytes: number): { bufferPool: BufferPoolStats; reads: { shared: boolean; bufferBytes: number } } {
    return { bufferPool: this.server.bufferPool.stats(), reads: { shared: this.server.sharedReads, bufferBytes: readBufferBytes } };
  }

  /** CacheServer.close: stop accepting, drain up to drainTimeoutMs (default the node's), close connections. */
  close(drainTimeoutMs?: number): Promise<void> {
    return this.server.close(drainTimeoutMs);
  }
}
