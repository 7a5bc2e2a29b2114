/**
 * What every connection of both ports does, whatever its wire format (docs/ARCHITECTURE.md, "Connections"):
 * reads in, requests run in turns, output out, and the limits between them. The wire format is a WireSession
 * (binary frames: server/frame-session.ts; RESP: resp/resp-session.ts) that parses a read, runs each request
 * and appends its reply to the listener's shared OutputBatch, asking afterRequest() before running the next.
 *
 * Per read: every complete request runs and the whole read is answered with one socket write. Under load (more
 * than one connection wrote in the turn before) it is corked until the event-loop turn ends (setImmediate, right
 * after the poll phase has run every read that was ready), so the writes of all connections leave back to back;
 * a lone client's first write of a turn leaves at once; a connection's later writes in a turn join in one writev
 * at the turn's end (write-turn.ts; see "Turns" in docs/ARCHITECTURE.md for why). writableLength counts corked
 * bytes, so the limits below see them.
 *
 * Reading stops (the session holds the rest of the read, the socket is paused) when
 *   - maxRequestsPerRead requests ran since the read: fairness, the others get a turn first (resumes next turn);
 *   - queued output (the batch being built, the socket's queue, replies the session holds in order) passes the
 *     high-water mark (resumes on 'drain');
 *   - maxPendingReplies replies are begun and not written (forwarded requests, deferred RESP replies);
 *   - the node-wide output budget is over its cap (budget-shares.ts; resumes when it is under);
 *   - the session waits for something of its own (the member handshake's call-back).
 * Past the hard output limit the connection is closed. So a client that never reads holds at most about
 * high-water + one reply + one read of server memory; the listener's sweep closes it after slowReaderTimeoutMs.
 *
 * Closing: closeGracefully() stops reading and ends the socket once the replies owed are written (at most
 * graceMs, then it is destroyed), so a client that never reads cannot keep a closing connection open.
 */
import type { Socket } from 'node:net';
import type { OutputBatch } from '../protocol/output-batch';
import { BudgetShares } from './budget-shares';
import type { NodeBudgets } from './held-memory';
import type { TurnCorked, WriteTurn } from './write-turn';

/** The wire format's half of a connection. */
export interface WireSession {
  /**
   * Takes one read and runs its requests until it is used up or afterRequest() says stop; the rest is held.
   * The chunk may be a view of a buffer the next read overwrites (shared-reads.ts): copy what must outlive it.
   */
  receive(chunk: Buffer): void;
  /** Runs the input held while reading was paused (may stop again). */
  resume(): void;
  /** Input held and not run yet (reported to the node's input budget). */
  readonly heldInputBytes: number;
  /** A request is half received (the sweep's half-request timeout). */
  readonly hasPartialRequest: boolean;
  /** Replies ready but held back behind one not ready yet (RESP keeps replies in order). */
  readonly heldOutputBytes: number;
  /** The session waits for something of its own (a handshake): nothing is read until it is over. */
  readonly waiting: boolean;
  /**
   * Called before every write of the batch: a session that keeps replies in order moves what the batch holds
   * behind a reply still pending, and writes (writeHeld) the replies that are now first in line.
   */
  prepareOutput(): void;
  /** Parsing ends for good: let go of held input. */
  stop(): void;
}

/** The counters every connection keeps (both ports' stats classes have these fields). */
export interface ConnectionCounters {
  bytesIn: number;
  bytesOut: number;
  backpressurePauses: number;
  inflightPauses: number;
  connYields: number;
  outputLimitDisconnects: number;
  slowReaderDisconnects: number;
  inputLimitDisconnects: number;
}

export interface CoreLimits {
  /** Queued output above which reading pauses until the socket drains. */
  outputHighWaterBytes: number;
  /** Queued output above which the connection is closed. */
  outputHardLimitBytes: number;
  /** Replies begun and not written before reading pauses. */
  maxPendingReplies: number;
  /** Requests run per read (or resume) before the connection yields to others. */
  maxRequestsPerRead: number;
}

/** What every connection of a listener shares. */
export interface CoreShared {
  readonly batch: OutputBatch;
  readonly counters: ConnectionCounters;
  readonly limits: CoreLimits;
  readonly budgets: NodeBudgets;
  readonly clock: () => number;
  /** The listener's event-loop turn of writes (write-turn.ts). */
  readonly turn: WriteTurn;
}

/** A reply that completes later (a forwarded request): send() appends it to the batch and writes it, once. */
export interface AsyncReply {
  send(write: (out: OutputBatch) => void): void;
}

/** Why reading stopped (counted once per pause). */
const RUNNING = 0;
const YIELD = 1;
const OUTPUT = 2;
const PENDING = 3;
const WAITING = 4;

/** How long a connection closed for bad input may take to flush its last replies. */
export const CLOSE_GRACE_MS = 500;

export class ConnectionCore<S extends WireSession = WireSession> implements TurnCorked {
  /** When bytes last arrived (or the connection opened): the idle sweep reads it. */
  lastActivity: number;
  /** Since when a request has been half received (0: none): the half-request sweep reads it. */
  partialSince = 0;
  /** Replies begun and not yet written: a graceful shutdown waits for them. */
  pendingReplies = 0;
  readonly session: S;
  readonly batch: OutputBatch;
  private readonly counters: ConnectionCounters;
  private readonly limits: CoreLimits;
  private readonly clock: () => number;
  private readonly shares: BudgetShares;
  private paused = false;
  private stopReason = RUNNING;
  private closing = false;
  private ended = false;
  private requestsThisTurn = 0;
  private resumeScheduled = false;
  private readonly turn: WriteTurn;
  /** The turn of this connection's last write (-1: none yet). */
  private writeTurn = -1;
  /** The socket is corked until the turn ends. */
  private corked = false;
  private readonly resumeFn = (): void => this.tryResume();
  private readonly scheduledResumeFn = (): void => {
    this.resumeScheduled = false;
    this.tryResume();
  };

  constructor(
    readonly socket: Socket,
    shared: CoreShared,
    createSession: (core: ConnectionCore<S>) => S,
  ) {
    this.batch = shared.batch;
    this.counters = shared.counters;
    this.limits = shared.limits;
    this.clock = shared.clock;
    this.turn = shared.turn;
    this.lastActivity = this.clock();
    socket.setNoDelay(true);
    this.shares = new BudgetShares(
      shared.budgets,
      socket,
      this.limits.outputHighWaterBytes,
      this.counters,
      () => this.destroy(),
      this.clock,
    );
    this.session = createSession(this);
    socket.on('drain', () => {
      this.shares.noteOutput(this.session.heldOutputBytes);
      this.tryResume();
    });
    // Errors (ECONNRESET and the like) end this connection only; 'close' does the bookkeeping.
    socket.on('error', () => undefined);
    socket.once('close', () => {
      this.closing = true;
      this.session.stop();
      this.shares.release();
    });
  }

  /** True while reading is stopped (the sweep does not time out a half request the server itself holds back). */
  get isPaused(): boolean {
    return this.paused;
  }

  get isClosing(): boolean {
    return this.closing;
  }

  /** Replies owed: begun and not written, held in order, or queued on the socket. */
  get hasPendingOutput(): boolean {
    return this.pendingReplies > 0 || this.session.heldOutputBytes > 0 || this.socket.writableLength > 0;
  }

  /** True when nothing arrived since `since` and nothing is owed to the client. */
  isIdleSince(since: number): boolean {
    return this.lastActivity < since && !this.hasPendingOutput && !this.closing;
  }

  /** Since when output has stayed above the high-water mark (0: it has not): the slow-reader sweep reads it. */
  get outputBlockedSince(): number {
    return this.shares.blockedSince;
  }

  /** One read from the socket (the listener wires reads here). */
  receive(chunk: Buffer): void {
    this.counters.bytesIn += chunk.length;
    this.lastActivity = this.clock();
    if (this.closing) return;
    this.requestsThisTurn = 0;
    this.session.receive(chunk);
    this.afterRun();
  }

  /**
   * The session ran a request: true when it may run the next one now. False stops it (it holds the rest of
   * the input) and reading pauses until the reason is gone.
   */
  afterRequest(): boolean {
    if (this.closing) return false;
    let reason = RUNNING;
    if (this.session.waiting) reason = WAITING;
    else if (++this.requestsThisTurn >= this.limits.maxRequestsPerRead) reason = YIELD;
    else if (this.pendingReplies >= this.limits.maxPendingReplies) reason = PENDING;
    else if (
      this.batch.length + this.socket.writableLength + this.session.heldOutputBytes > this.limits.outputHighWaterBytes ||
      this.shares.outputOver
    ) {
      reason = OUTPUT;
    }
    if (reason === RUNNING) return true;
    if (this.stopReason === RUNNING) this.stopReason = reason;
    return false;
  }

  /** Starts a reply that completes later; the connection counts it until it is sent. */
  beginReply(): AsyncReply {
    this.pendingReplies++;
    let sent = false;
    return {
      send: (write) => {
        if (sent) return;
        sent = true;
        if (!this.socket.destroyed) write(this.batch);
        this.endReply();
      },
    };
  }

  /** Counts a reply begun elsewhere (the session keeps its own slot for it). */
  replyBegun(): void {
    this.pendingReplies++;
  }

  /**
   * A reply begun is done (its bytes are in the batch, or held by the session). Outside a read the shared batch
   * holds only this connection's bytes (every read takes what it appended), so writing it now is safe.
   */
  endReply(): void {
    this.pendingReplies--;
    this.flush();
    if (this.paused) this.tryResume();
  }

  /** Writes bytes the session took out of the batch earlier (replies it held in order). */
  writeHeld(data: Buffer): void {
    if (this.socket.destroyed) return;
    this.turnCork();
    this.counters.bytesOut += data.length;
    this.socket.write(data);
  }

  /** Writes what the batch holds and applies the output limits. */
  flush(): void {
    const socket = this.socket;
    if (socket.destroyed) {
      this.batch.discard();
      return;
    }
    this.session.prepareOutput();
    if (this.batch.length > 0) {
      this.turnCork();
      this.counters.bytesOut += this.batch.writeTo(socket);
    }
    const held = this.session.heldOutputBytes;
    this.shares.noteOutput(held);
    const queued = socket.writableLength + held;
    if (queued > this.limits.outputHardLimitBytes) {
      this.closeForOutputLimit();
      return;
    }
    if (this.closing) {
      this.endIfDone();
      return;
    }
    if (!this.paused && (this.stopReason !== RUNNING || queued > this.limits.outputHighWaterBytes)) this.pause();
    // Nothing queued means no 'drain' will come: look again on the next turn (a yield always does).
    if (this.paused && (this.stopReason === YIELD || socket.writableLength === 0)) this.scheduleResume();
  }

  /** Stops reading; closes once the replies owed are written, destroying the socket if that takes over graceMs. */
  closeGracefully(graceMs = CLOSE_GRACE_MS): void {
    if (this.closing) return;
    this.closing = true;
    this.session.stop();
    setTimeout(() => this.socket.destroy(), graceMs).unref();
    // What the batch holds (the reply that explains the close) goes first; the socket ends once nothing is owed.
    this.flush();
  }

  destroy(): void {
    this.closing = true;
    this.session.stop();
    this.socket.destroy();
  }

  /** Closes a connection whose queued output passed a limit (hard cap, or slow reader past its time). */
  closeForOutputLimit(slowReader = false): void {
    this.counters.outputLimitDisconnects++;
    if (slowReader) this.counters.slowReaderDisconnects++;
    this.destroy();
  }

  /** Resumes reading if it is paused and nothing holds it back any more. */
  tryResume(): void {
    if (!this.paused || this.closing || this.session.waiting) return;
    if (this.socket.writableLength + this.session.heldOutputBytes > this.limits.outputHighWaterBytes) return; // 'drain' comes
    this.shares.blockedSince = 0;
    if (this.pendingReplies >= this.limits.maxPendingReplies) return; // endReply() comes
    if (this.shares.outputOver) {
      // The node holds too much output for all its clients: everyone waits until some of it is read.
      this.shares.whenOutputUnder(this.resumeFn);
      return;
    }
    this.paused = false;
    this.stopReason = RUNNING;
    this.requestsThisTurn = 0;
    this.session.resume();
    this.afterRun();
    if (!this.paused && !this.closing) this.socket.resume();
  }

  private afterRun(): void {
    this.flush();
    this.partialSince = this.session.hasPartialRequest ? this.partialSince || this.clock() : 0;
    // Last: past the node's input cap this may close connections, this one included.
    this.shares.reportInput(this.socket.destroyed ? 0 : this.session.heldInputBytes);
  }

  private pause(): void {
    this.paused = true;
    const reason = this.stopReason;
    if (reason === YIELD) this.counters.connYields++;
    else if (reason === PENDING) this.counters.inflightPauses++;
    else if (reason !== WAITING) this.counters.backpressurePauses++;
    this.socket.pause();
    // No 'drain' may come for what this connection holds: the budget itself calls back once it has room.
    if (this.shares.outputOver) this.shares.whenOutputUnder(this.resumeFn);
  }

  private scheduleResume(): void {
    if (this.resumeScheduled) return;
    this.resumeScheduled = true;
    setImmediate(this.scheduledResumeFn);
  }

  /** Under load every write of a turn waits, corked, for the turn's end; a lone client's first does not. */
  private turnCork(): void {
    const turn = this.turn.enter();
    if (this.writeTurn !== turn) {
      this.writeTurn = turn;
      if (this.turn.firstWrite()) return;
    }
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      this.turn.hold(this);
    }
  }

  /** The turn this connection corked in has ended: what it wrote in the turn leaves now. */
  endTurn(): void {
    this.corked = false;
    if (!this.socket.destroyed) this.socket.uncork();
  }

  private endIfDone(): void {
    if (this.ended || this.socket.destroyed || this.pendingReplies > 0 || this.session.heldOutputBytes > 0) return;
    this.ended = true;
    this.socket.end();
  }
}
