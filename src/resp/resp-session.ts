/**
 * The RESP port's half of a connection (the other half, shared with the binary port, is net/connection-core.ts;
 * docs/ARCHITECTURE.md, "Connections"): parses commands, gates them on the password, runs them, and keeps their
 * replies in request order.
 *
 * Order: a command the backend answers with a promise gets a slot in a per-connection queue; replies written
 * before it go out now, replies written after it are taken from the batch into "done" slots behind it; when the
 * promise settles its reply fills its slot and every done slot at the head of the queue is written. With nothing
 * pending (a fully local pipeline) the queue is never touched: no promise, no slot, one write per read.
 *
 * A protocol error is answered (in order) and the connection closed after it, as Redis does; QUIT likewise after
 * its +OK. With a password (the node's token), only AUTH, HELLO and QUIT run before it is given (others get
 * -NOAUTH, as Redis); until then a command may declare at most 16 KiB and 10 arguments (a bigger one is a protocol
 * error that closes the connection), and more than 3 wrong passwords close it (connection-auth.ts).
 */
import type { Authenticator } from '../net/auth';
import type { ConnectionCore, WireSession } from '../net/connection-core';
import { errorReply, unknownCommandError, arityError } from './resp-args';
import type { RespArgs, RespBackend } from './backend';
import { arityOk } from './command-table';
import { ConnectionAuth, NOAUTH } from './connection-auth';
import { COMMANDS } from './commands';
import type { ClientState, CommandContext, Deferred, ReplyFn, RespServerInfo } from './context';
import { PARSE_ERROR, PARSE_NEED_MORE, RespParser, type ParserLimits } from './parser';
import type { RespStats } from './resp-stats';
import type { RespWriter } from './writer';

/** What every RESP session of a listener shares. */
export interface RespSessionShared {
  readonly writer: RespWriter;
  readonly backend: RespBackend;
  readonly server: RespServerInfo;
  readonly stats: RespStats;
  readonly parserLimits: ParserLimits;
  /** The password (node token); `required` false: none. */
  readonly auth: Authenticator;
  /** The buffer reads land in when the listener shares one (null: each read is a buffer of its own). */
  sharedReadBuffer(): ArrayBufferLike | null;
}

// Module-local aliases: transpilers that emit live-binding getters for imports (tsx/esbuild) would otherwise
// call a getter per command on the hot path.
const TABLE = COMMANDS;
const NEED_MORE = PARSE_NEED_MORE;
const ERROR = PARSE_ERROR;
const arityMatches = arityOk;

const EMPTY = Buffer.alloc(0);

interface Slot {
  done: boolean;
  data: Buffer;
}

export class RespSession implements WireSession, CommandContext {
  readonly client: ClientState;
  readonly backend: RespBackend;
  readonly server: RespServerInfo;
  private readonly parser: RespParser;
  private readonly w: RespWriter;
  private readonly stats: RespStats;
  private readonly auth: ConnectionAuth;
  private readonly slots: Slot[] = [];
  private slotHead = 0;
  /** Bytes in done slots not written yet (behind a pending one). */
  private held = 0;
  /** QUIT, or too many wrong passwords: close once this command's reply is written. */
  private closeAfterCommand = false;
  /** The listener's shared read buffer (null: reads are buffers of their own); known before any connection. */
  private readonly sharedReads: ArrayBufferLike | null;

  constructor(
    private readonly core: ConnectionCore<RespSession>,
    id: number,
    shared: RespSessionShared,
  ) {
    this.backend = shared.backend;
    this.server = shared.server;
    this.stats = shared.stats;
    this.w = shared.writer;
    this.auth = new ConnectionAuth(shared.auth, shared.parserLimits, this.stats);
    this.parser = new RespParser(this.auth.parserLimits);
    this.sharedReads = shared.sharedReadBuffer();
    const socket = core.socket;
    this.client = {
      id,
      name: '',
      libName: '',
      libVer: '',
      createdAt: Date.now(),
      addr: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`,
      laddr: `${socket.localAddress ?? '?'}:${socket.localPort ?? 0}`,
    };
  }

  receive(chunk: Buffer): void {
    this.parser.push(chunk);
    this.run();
    const shared = this.sharedReads;
    if (shared !== null && chunk.buffer === shared) this.parser.detach(shared);
  }

  resume(): void {
    this.run();
  }

  get heldInputBytes(): number {
    return this.parser.heldBytes;
  }

  get hasPartialRequest(): boolean {
    return this.parser.hasPartialCommand;
  }

  get heldOutputBytes(): number {
    return this.held;
  }

  get waiting(): boolean {
    return false;
  }

  stop(): void {
    this.parser.destroy();
  }

  quit(): void {
    this.closeAfterCommand = true;
  }

  get needsAuth(): boolean {
    return !this.auth.authenticated;
  }

  authenticate(a: RespArgs, user: number, password: number): 'ok' | 'wrong' | 'nopass' {
    const result = this.auth.check(a, user, password);
    if (this.auth.exhausted) this.closeAfterCommand = true;
    return result;
  }

  /** Runs the commands the parser has, until it needs more bytes or the core says stop. */
  private run(): void {
    const parser = this.parser;
    const w = this.w;
    const core = this.core;
    for (;;) {
      const status = parser.next();
      if (status === NEED_MORE) return;
      if (status === ERROR) {
        this.stats.protocolErrors++;
        if (!this.auth.authenticated) this.stats.preauthLimitDisconnects++;
        w.error(`ERR ${parser.error}`);
        core.closeGracefully();
        return;
      }
      this.stats.commands++;
      const spec = TABLE.lookup(parser.bufs[0]!, parser.offs[0]!, parser.lens[0]!);
      let pending: Deferred | undefined;
      if (spec === undefined) w.error(unknownCommandError(parser));
      else if (!arityMatches(spec.arity, parser.argc)) w.error(arityError(spec.name));
      else if (!this.auth.authenticated && !spec.flags.includes('no_auth') && spec.name !== 'quit') {
        this.stats.authRequiredRejections++;
        w.error(NOAUTH);
      } else {
        try {
          pending = spec.run(this, parser, w);
        } catch (error) {
          w.error(errorReply(error));
        }
      }
      if (pending !== undefined) this.enqueue(pending);
      if (this.closeAfterCommand) {
        core.closeGracefully();
        return;
      }
      if (!core.afterRequest()) return;
    }
  }

  /** A reply that comes later: what the batch holds goes before it, what comes after waits behind it. */
  private enqueue(pending: Deferred): void {
    if (this.slotHead === this.slots.length) {
      // Nothing pending before it: what the batch holds leaves now, ahead of this reply.
      const out = this.w.batch.take();
      if (out.length > 0) this.core.writeHeld(out);
    } else {
      this.seal();
    }
    const slot: Slot = { done: false, data: EMPTY };
    this.slots.push(slot);
    this.core.replyBegun();
    pending.then(
      (write) => this.settle(slot, write),
      (error: unknown) => this.settle(slot, (w) => w.error(errorReply(error))),
    );
  }

  /** Takes what the batch holds into a done slot behind the pending ones. */
  private seal(): void {
    const out = this.w.batch.take();
    if (out.length === 0) return;
    this.slots.push({ done: true, data: out });
    this.held += out.length;
  }

  /** Runs in a promise callback: the shared batch is empty here (every read takes what it wrote). */
  private settle(slot: Slot, write: ReplyFn): void {
    const batch = this.w.batch;
    try {
      write(this.w);
    } catch (error) {
      batch.discard(); // only this reply's bytes are pending
      this.w.error(errorReply(error));
    }
    slot.data = batch.take();
    slot.done = true;
    this.held += slot.data.length;
    try {
      this.core.endReply();
    } catch {
      // Never an unhandled rejection out of a promise callback: this connection alone goes.
      batch.discard();
      this.core.destroy();
    }
  }

  prepareOutput(): void {
    if (this.slotHead === this.slots.length) return;
    this.seal();
    const slots = this.slots;
    let head = this.slotHead;
    while (head < slots.length && slots[head]!.done) {
      const slot = slots[head++]!;
      const data = slot.data;
      slot.data = EMPTY;
      this.held -= data.length;
      if (data.length > 0) this.core.writeHeld(data);
    }
    if (head === slots.length) {
      slots.length = 0;
      head = 0;
    }
    this.slotHead = head;
  }
}
