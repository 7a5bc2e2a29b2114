/**
 * One RESP client connection. Per read: parse every complete command, run each, and answer the whole read with
 * one socket write (the replies go into the server's shared OutputBatch, taken before the handler returns).
 *
 * Order: replies leave in request order even when the backend answers some commands with a promise. Such a
 * command gets a slot in a per-connection queue; replies written before it go out now, replies written after
 * it are taken from the batch into "done" slots behind it; when the promise settles its reply fills its slot
 * and every done slot at the head of the queue is written. With nothing pending (a fully local pipeline)
 * the queue is never touched: no promise, no slot, one write.
 *
 * Backpressure, as the binary server (src/server/connection.ts): once the batch plus what the socket holds
 * plus the replies held in the queue pass the high-water mark, or too many replies are pending, parsing stops
 * mid-read (the rest of the read stays in the parser) and the socket is paused until it drains; past the hard
 * limit the connection is closed. A protocol error is answered (in order) and the connection closed after it,
 * as Redis does; QUIT likewise after its +OK.
 *
 * Node-wide (src/net/budget-shares.ts): the input held for a half-received command and the output queued for the
 * client count in the budgets both ports share; past the input cap the largest holders are closed, past the
 * output cap no connection runs its next command until the total is back under it, and the slow readers
 * holding the most are closed.
 *
 * Fairness: at most maxRequestsPerRead commands run per turn; then the connection yields (resumes on
 * setImmediate), so one pipelining client cannot starve the others. With a password (the node's token), only
 * AUTH, HELLO and QUIT run before it is given (others get -NOAUTH, as Redis); until then a command may declare at
 * most 16 KiB and 10 arguments (a bigger one is a protocol error that closes the connection), and more than 3
 * wrong passwords close it.
 */
import type { Socket } from 'node:net';
import type { NodeBudgets } from '../net/held-memory';
import type { Authenticator } from '../net/auth';
import { errorReply, unknownCommandError, arityError } from './args';
import type { RespArgs, RespBackend } from './backend';
import { BudgetShares } from '../net/budget-shares';
import { arityOk } from './command-table';
import { ConnectionAuth, NOAUTH } from './connection-auth';
import { COMMANDS } from './commands';
import type { ClientState, CommandContext, Deferred, ReplyFn, RespServerInfo } from './context';
import { PARSE_ERROR, PARSE_NEED_MORE, RespParser, type ParserLimits } from './parser';
import type { RespStats } from './stats';
import type { RespWriter } from './writer';

export interface ConnectionLimits {
  outputHighWaterBytes: number;
  outputHardLimitBytes: number;
  /** Replies awaiting a promise before reading pauses. */
  maxPendingReplies: number;
  /** Commands run per turn before the connection yields to others. */
  maxRequestsPerRead: number;
}

/** What every connection of a server shares. */
export interface ConnectionShared {
  readonly writer: RespWriter;
  readonly backend: RespBackend;
  readonly server: RespServerInfo;
  readonly stats: RespStats;
  readonly parserLimits: ParserLimits;
  readonly limits: ConnectionLimits;
  /** The password (node token); `required` false: none. */
  readonly auth: Authenticator;
  /** The node-wide input and output budgets (shared with the binary port when the node passes them). */
  readonly budgets: NodeBudgets;
}

// Module-local aliases: transpilers that emit live-binding getters for imports (tsx/esbuild) would otherwise
// call a getter per command on the hot path.
const TABLE = COMMANDS;
const NEED_MORE = PARSE_NEED_MORE;
const ERROR = PARSE_ERROR;
const arityMatches = arityOk;

/** How long a connection closed for bad input or QUIT may take to flush its last replies. */
const CLOSE_GRACE_MS = 500;
const EMPTY = Buffer.alloc(0);

interface Slot {
  done: boolean;
  data: Buffer;
}

export class RespConnection implements CommandContext {
  readonly client: ClientState;
  readonly backend: RespBackend;
  readonly server: RespServerInfo;
  /** When the command being received started arriving (0: none half-received); the server's sweep reads it. */
  partialSince = 0;
  private readonly parser: RespParser;
  private readonly w: RespWriter;
  private readonly stats: RespStats;
  private readonly limits: ConnectionLimits;
  private readonly slots: Slot[] = [];
  private slotHead = 0;
  /** Slots whose promise has not settled. */
  private waiting = 0;
  /** Bytes in done slots not written yet (behind a pending one). */
  private held = 0;
  private paused = false;
  private resumeScheduled = false;
  private corked = false;
  /** No more commands are read; the socket ends once the queued replies are written. */
  private closing = false;
  private closed = false;
  /** socket.end() was called. */
  private ended = false;
  /** When bytes last arrived: the server's idle sweep reads it. */
  lastActivity = Date.now();
  private readonly auth: ConnectionAuth;
  private yielding = false;
  private readonly shares: BudgetShares;
  private readonly resumeFn = (): void => this.maybeResume();

  constructor(
    readonly socket: Socket,
    id: number,
    shared: ConnectionShared,
  ) {
    this.backend = shared.backend;
    this.server = shared.server;
    this.stats = shared.stats;
    this.limits = shared.limits;
    this.w = shared.writer;
    this.auth = new ConnectionAuth(shared.auth, shared.parserLimits, this.stats);
    this.parser = new RespParser(this.auth.parserLimits);
    this.shares = new BudgetShares(shared.budgets, socket, shared.limits.outputHighWaterBytes, this.stats, () => this.destroy());
    this.client = {
      id,
      name: '',
      libName: '',
      libVer: '',
      createdAt: Date.now(),
      addr: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`,
      laddr: `${socket.localAddress ?? '?'}:${socket.localPort ?? 0}`,
    };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      this.shares.noteOutput(this.held);
      this.maybeResume();
    });
    // Errors (ECONNRESET and the like) end this connection only; 'close' does the bookkeeping.
    socket.on('error', () => undefined);
    socket.once('close', () => {
      this.closed = true;
      this.closing = true;
      this.parser.destroy();
      this.shares.release();
    });
  }

  /** Since when queued replies have stayed above the high-water mark (0: they are not): the slow-reader sweep. */
  get outputBlockedSince(): number {
    return this.shares.blockedSince;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Replies not yet handed to the socket, or handed and not yet sent. */
  get hasPendingOutput(): boolean {
    return this.waiting > 0 || this.held > 0 || this.socket.writableLength > 0;
  }

  quit(): void {
    this.closing = true;
  }

  get needsAuth(): boolean {
    return !this.auth.authenticated;
  }

  authenticate(a: RespArgs, user: number, password: number): 'ok' | 'wrong' | 'nopass' {
    const result = this.auth.check(a, user, password);
    if (this.auth.exhausted) this.closing = true;
    return result;
  }

  /** True when nothing arrived since `since` and nothing is owed to the client. */
  isIdleSince(since: number): boolean {
    return this.lastActivity < since && !this.hasPendingOutput && !this.closing;
  }

  /** Closes a client whose replies stayed above the high-water mark too long (it does not read them). */
  closeSlowReader(): void {
    this.stats.outputLimitDisconnects++;
    this.stats.slowReaderDisconnects++;
    this.destroy();
  }

  /** Stops reading and closes once queued replies are written (at most graceMs later, then destroys). */
  closeGracefully(graceMs = CLOSE_GRACE_MS): void {
    if (this.closed) return;
    this.closing = true;
    this.parser.destroy();
    this.finishIfDone();
    setTimeout(() => this.socket.destroy(), graceMs).unref();
  }

  destroy(): void {
    this.closing = true;
    this.parser.destroy();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.stats.bytesIn += chunk.length;
    this.lastActivity = Date.now();
    if (this.closing) return;
    this.parser.push(chunk);
    this.drive();
  }

  /** Runs the commands the parser has, until it needs more bytes or output must wait; then writes. */
  private drive(): void {
    const parser = this.parser;
    const w = this.w;
    const batch = w.batch;
    const socket = this.socket;
    const highWater = this.limits.outputHighWaterBytes;
    const perRead = this.limits.maxRequestsPerRead;
    let ran = 0;
    while (!this.paused && !this.closing) {
      if (ran >= perRead) {
        // Fairness: the rest of this read waits for the next turn; other connections run first.
        this.stats.connYields++;
        this.yielding = true;
        this.pause(false);
        break;
      }
      const status = parser.next();
      if (status === NEED_MORE) break;
      if (status === ERROR) {
        this.stats.protocolErrors++;
        if (!this.auth.authenticated) this.stats.preauthLimitDisconnects++;
        w.error(`ERR ${parser.error}`);
        this.closing = true;
        break;
      }
      this.stats.commands++;
      ran++;
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
      if (
        batch.length + socket.writableLength + this.held > highWater ||
        this.waiting >= this.limits.maxPendingReplies ||
        this.shares.outputOver
      ) {
        this.pause();
      }
    }
    this.flush();
    this.partialSince = parser.hasPartialCommand ? this.partialSince || Date.now() : 0;
    // Last: past the node's input cap this may close connections, this one included.
    this.shares.reportInput(parser.heldBytes);
  }

  /** A reply that comes later: what the batch holds goes before it, what comes after waits behind it. */
  private enqueue(pending: Deferred): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
    }
    this.seal();
    const slot: Slot = { done: false, data: EMPTY };
    this.slots.push(slot);
    this.waiting++;
    pending.then(
      (write) => this.settle(slot, write),
      (error: unknown) => this.settle(slot, (w) => w.error(errorReply(error))),
    );
  }

  /** Takes what the batch holds: written now if nothing is pending, else queued as a done slot. */
  private seal(): void {
    const out = this.w.batch.take();
    if (out.length === 0) return;
    if (this.slotHead === this.slots.length) this.write(out);
    else {
      this.slots.push({ done: true, data: out });
      this.held += out.length;
    }
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
    this.waiting--;
    this.held += slot.data.length;
    if (this.closed) return;
    try {
      this.writeReadySlots();
      this.shares.noteOutput(this.held);
      this.checkOutputLimit();
      this.finishIfDone();
      this.maybeResume();
    } catch {
      // Never an unhandled rejection out of a promise callback: this connection alone goes.
      this.w.batch.discard();
      this.destroy();
    }
  }

  private writeReadySlots(): void {
    const slots = this.slots;
    let head = this.slotHead;
    if (head >= slots.length || !slots[head]!.done) return;
    this.socket.cork();
    while (head < slots.length && slots[head]!.done) {
      const slot = slots[head++]!;
      const data = slot.data;
      slot.data = EMPTY;
      this.held -= data.length;
      if (data.length > 0) this.write(data);
    }
    this.socket.uncork();
    if (head === slots.length) {
      slots.length = 0;
      head = 0;
    }
    this.slotHead = head;
  }

  private write(out: Buffer): void {
    if (this.closed) return;
    this.stats.bytesOut += out.length;
    this.socket.write(out);
  }

  private flush(): void {
    this.seal();
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
    this.checkOutputLimit();
    this.finishIfDone();
    this.shares.noteOutput(this.held);
    const canGoOn = this.yielding || (this.socket.writableLength === 0 && this.waiting < this.limits.maxPendingReplies);
    if (this.paused && !this.resumeScheduled && canGoOn) {
      // Nothing queued on the socket means no 'drain' will come: look again on the next turn.
      this.resumeScheduled = true;
      setImmediate(() => {
        this.resumeScheduled = false;
        this.maybeResume();
      });
    }
  }

  private checkOutputLimit(): void {
    if (this.closed) return;
    if (this.socket.writableLength + this.held > this.limits.outputHardLimitBytes) {
      this.stats.outputLimitDisconnects++;
      this.destroy();
    }
  }

  private finishIfDone(): void {
    if (this.closing && !this.ended && !this.closed && this.slotHead === this.slots.length) {
      this.ended = true;
      this.parser.destroy();
      this.socket.end();
      setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
    }
  }

  private pause(backpressure = true): void {
    if (this.paused) return;
    this.paused = true;
    if (backpressure) this.stats.backpressurePauses++;
    this.socket.pause();
    // No 'drain' may come for what this connection holds: the budget itself calls back once it has room.
    if (this.shares.outputOver) this.shares.whenOutputUnder(this.resumeFn);
  }

  private maybeResume(): void {
    if (!this.paused || this.closing) return;
    if (this.socket.writableLength + this.held > this.limits.outputHighWaterBytes) return;
    this.shares.blockedSince = 0;
    if (this.waiting >= this.limits.maxPendingReplies) return;
    if (this.shares.outputOver) {
      this.shares.whenOutputUnder(this.resumeFn);
      return;
    }
    this.paused = false;
    this.yielding = false;
    this.drive();
    if (!this.paused && !this.closing) this.socket.resume();
  }
}
