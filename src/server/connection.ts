/**
 * One client connection: decode every complete frame of a read, run each, and answer the whole read with one
 * socket write (and the reads of one event-loop turn with one writev). Backpressure: once queued output (the batch being built plus what the socket holds) passes the
 * high-water mark, decoding pauses mid-read (the rest of the read is held, at most one chunk) and the socket
 * stops being read until it drains; past the hard limit the connection is closed. So a client that never reads
 * holds at most about high-water + one response + one read of server memory. A framing error (bad magic,
 * oversized frame) is answered once and the connection closed.
 *
 * Limits besides output: at most maxInflight replies begun and not sent (forwarded requests) before reading
 * pauses until one is sent; at most maxRequestsPerRead requests per read before the connection yields (the
 * decoder pauses and resumes on setImmediate, so other connections are served in between); the server's sweep
 * closes idle connections and slow readers (output above the high-water mark for slowReaderTimeoutMs).
 *
 * Authentication (when the node has a token): only AUTH (and the member handshake) is served until it succeeds;
 * other requests get AUTH_REQUIRED. Until then every frame header is checked before its body is read: a body
 * over 16 KiB closes the connection, so an unauthenticated client cannot make the server allocate; so do more
 * than MAX_AUTH_FAILURES wrong tokens.
 *
 * Principals (member-auth.ts): member-only requests (membership opcodes, FORWARDED requests) are served only
 * once the connection completed the member handshake (MEMBER_HELLO, checked by calling the named member back);
 * on any other connection, authenticated client or not, they are answered FORBIDDEN, counted, and the
 * connection is closed. Reading waits while the handshake's call-back runs, so what the member pipelined
 * behind its hello is read as the member's.
 */
import type { Socket } from 'node:net';
import { Flag, MEMBERSHIP_OPCODE_FIRST, MEMBERSHIP_OPCODE_LAST, Opcode, Status, opcodeName } from '../protocol/constants';
import type { BufferPool } from '../protocol/buffer-pool';
import { FrameDecoder, type DecodeFailure, type Frame } from '../protocol/decoder';
import type { OutputBatch } from '../protocol/output-batch';
import { validateRequest } from '../protocol/validate';
import { MAX_AUTH_FAILURES, PREAUTH_MAX_REQUEST_BYTES, type Authenticator } from '../net/auth';
import { BudgetShares } from '../net/budget-shares';
import type { NodeBudgets } from '../net/held-memory';
import { PreauthGuard } from '../net/preauth-guard';
import type { ServerStats } from './stats';

/**
 * Runs one decoded request and appends its response to the batch, or, for work that completes later (a
 * request forwarded to its owner, a membership probe), takes a reply slot with replies.begin() and fills it
 * when the answer is there. Responses carry request ids, so later answers may overtake earlier ones.
 */
export interface RequestHandler {
  handle(frame: Frame, out: OutputBatch, replies: AsyncReplies): void;
}

export interface AsyncReply {
  /** Appends the response (once) and writes it; dropped when the connection has closed meanwhile. */
  send(write: (out: OutputBatch) => void): void;
}

export interface AsyncReplies {
  begin(): AsyncReply;
  /** The member this connection authenticated as (member handshake); undefined for a client. */
  readonly memberId: string | undefined;
  /** Answers FORBIDDEN, counts it and closes the connection: a member-only rule was broken. */
  forbid(opcode: number, requestId: number, message: string): void;
}

/** The receiver's half of the member handshake (member-auth.ts), as the connection needs it. */
export interface MemberHandshake {
  /** Resolves with the member id a MEMBER_HELLO proves; rejects with the reason it does not. */
  admit(value: Uint8Array): Promise<string>;
  /** MEMBER_VERIFY: true when this node sent the hello asked about. */
  confirm(value: Uint8Array): boolean;
}

/** What every connection of a server shares. */
export interface ConnectionShared {
  /** The client token's checker; absent or not required: no AUTH needed. */
  auth?: Authenticator;
  /** Where bodies that span reads get their buffers. */
  bufferPool?: BufferPool;
  /** The member handshake's receiving half (absent: this server takes no members). */
  members?: MemberHandshake;
  /** The node-wide input and output budgets. */
  budgets: NodeBudgets;
}

/** Membership messages and anything a member forwards: only a connection that is a member may send them. */
export function isMemberOnly(frame: Frame): boolean {
  return (frame.opcode >= MEMBERSHIP_OPCODE_FIRST && frame.opcode <= MEMBERSHIP_OPCODE_LAST) || (frame.flags & Flag.FORWARDED) !== 0;
}

export interface ConnectionLimits {
  maxBodyBytes: number;
  outputHighWaterBytes: number;
  outputHardLimitBytes: number;
  /** Replies begun and not sent before reading pauses (default: unlimited). */
  maxInflight?: number;
  /** Requests run per read before the connection yields to others (default: unlimited). */
  maxRequestsPerRead?: number;
}

/** AUTH has no key: the request limits only matter for the shape check. */
const AUTH_SHAPE_LIMITS = { maxKeyBytes: 0, maxValueBytes: 0 };

/** How long a connection closed for bad input may take to flush its last error frame. */
const CLOSE_GRACE_MS = 500;

export class ServerConnection implements AsyncReplies {
  /** Set when a frame is half received; the server's sweep closes connections stuck that way too long. */
  partialFrameSince = 0;
  /** Replies begun and not yet sent: a graceful shutdown waits for them. */
  pendingReplies = 0;
  /** When bytes last arrived (or the connection opened): the server's idle sweep reads it. */
  lastActivity: number;
  private readonly decoder: FrameDecoder;
  private readonly maxInflight: number;
  private readonly maxRequestsPerRead: number;
  private paused = false;
  private closing = false;
  /** Requests run since the last read or resume (the fairness cap). */
  private requestsThisTurn = 0;
  /** The decoder was paused by the fairness cap: resume on the next turn, not on 'drain'. */
  private yieldRequested = false;
  private resumeScheduled = false;
  /** A write went out in this event-loop turn; later ones in the same turn are corked (see flush). */
  private wroteThisTurn = false;
  private corked = false;
  private readonly endTurnFn = (): void => {
    this.wroteThisTurn = false;
    if (!this.corked) return;
    this.corked = false;
    if (!this.socket.destroyed) this.socket.uncork();
  };
  private authenticated: boolean;
  private authFailures = 0;
  private readonly auth: Authenticator | undefined;
  private readonly members: MemberHandshake | undefined;
  /** Set once the member handshake succeeded: the member id this connection speaks for. */
  memberId: string | undefined;
  /** A MEMBER_HELLO's call-back is under way: nothing more is read until it is answered. */
  private handshaking = false;
  /** This connection's shares of the node-wide input and output budgets (budget-shares.ts). */
  private readonly shares: BudgetShares;
  private readonly resumeFn = (): void => this.tryResume();
  /** Reads frame headers ahead of the decoder until the connection authenticates (preauth-guard.ts). */
  private readonly guard: PreauthGuard;

  constructor(
    readonly socket: Socket,
    private readonly handler: RequestHandler,
    private readonly batch: OutputBatch,
    private readonly stats: ServerStats,
    private readonly limits: ConnectionLimits,
    private readonly clock: () => number,
    shared: ConnectionShared,
  ) {
    const { auth, bufferPool, budgets } = shared;
    this.auth = auth;
    this.members = shared.members;
    this.maxInflight = limits.maxInflight ?? Number.MAX_SAFE_INTEGER;
    this.maxRequestsPerRead = limits.maxRequestsPerRead ?? Number.MAX_SAFE_INTEGER;
    this.authenticated = auth === undefined || !auth.required;
    this.lastActivity = clock();
    this.decoder = new FrameDecoder({
      kind: 'request',
      maxBodyBytes: limits.maxBodyBytes,
      onFrame: (frame) => this.onFrame(frame),
      onError: (_error, failure) => this.onDecodeFailure(failure),
      bodyPool: bufferPool,
    });
    this.guard = new PreauthGuard(this.decoder, {
      authenticated: () => this.authenticated,
      closing: () => this.closing,
      tooLarge: (requestId, opcode, body) => this.preauthTooLarge(requestId, opcode, body),
    });
    socket.setNoDelay(true);
    this.shares = new BudgetShares(budgets, socket, limits.outputHighWaterBytes, stats, () => this.destroy(), clock);
    socket.on('drain', () => {
      this.shares.noteOutput(0);
      this.tryResume();
    });
    // Errors (ECONNRESET and the like) end this connection only; 'close' does the bookkeeping.
    socket.on('error', () => undefined);
    // A body half received when the peer went away goes back to the shared pool.
    socket.once('close', () => {
      this.decoder.destroy();
      this.guard.drop();
      this.shares.release();
    });
  }

  /** True while reading is stopped because the client is not reading its responses. */
  get isPaused(): boolean {
    return this.paused;
  }

  get hasPendingOutput(): boolean {
    return this.socket.writableLength > 0 || this.pendingReplies > 0;
  }

  /** True when the connection neither sent anything since `since` nor waits for anything from the server. */
  isIdleSince(since: number): boolean {
    return this.lastActivity < since && this.pendingReplies === 0 && this.socket.writableLength === 0 && !this.closing;
  }

  begin(): AsyncReply {
    this.pendingReplies++;
    let sent = false;
    return {
      send: (write) => {
        if (sent) return;
        sent = true;
        this.pendingReplies--;
        if (this.socket.destroyed) return;
        // Outside a read the shared batch is empty (every read takes what it appended), so this reply
        // cannot mix with another connection's bytes.
        write(this.batch);
        this.flush();
        if (this.paused && this.pendingReplies < this.maxInflight) this.tryResume();
      },
    };
  }

  /** Closes after queued output is flushed (graceful shutdown, bad input), destroying it if that takes too long. */
  closeGracefully(graceMs = CLOSE_GRACE_MS): void {
    if (this.closing) return;
    this.closing = true;
    this.decoder.destroy();
    this.guard.drop();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), graceMs).unref();
  }

  destroy(): void {
    this.closing = true;
    this.decoder.destroy();
    this.guard.drop();
    this.socket.destroy();
  }

  /**
   * One read from the socket (the server wires its reads here). The chunk may be a view of a buffer the next
   * read overwrites (shared-reads.ts): nothing here keeps it past this call.
   */
  receive(chunk: Buffer): void {
    this.stats.bytesIn += chunk.length;
    this.lastActivity = this.clock();
    this.requestsThisTurn = 0;
    if (this.authenticated) this.decoder.push(chunk);
    else this.guard.push(chunk);
    this.flush();
    this.partialFrameSince = this.decoder.hasPartialFrame ? this.partialFrameSince || this.clock() : 0;
    this.reportInput();
  }

  /** Tells the node-wide input budget what this connection holds now (past its cap the largest are closed). */
  private reportInput(): void {
    this.shares.reportInput(this.socket.destroyed ? 0 : this.decoder.heldInputBytes + this.guard.stashedBytes);
  }

  /** Since when output has stayed above the high-water mark (0: it is not): the slow-reader sweep reads it. */
  get outputBlockedSince(): number {
    return this.shares.blockedSince;
  }

  private preauthTooLarge(requestId: number, opcode: number, body: number): void {
    this.stats.preauthFrameTooLarge++;
    this.stats.errorResponses++;
    this.batch.appendResponseString(
      opcode,
      Status.FRAME_TOO_LARGE,
      requestId,
      0,
      `frame body is ${body} bytes; the limit is ${PREAUTH_MAX_REQUEST_BYTES} bytes before AUTH`,
    );
    this.flush();
    this.closeGracefully();
  }

  private onFrame(frame: Frame): void {
    this.stats.commands++;
    this.stats.commandsByOpcode[frame.opcode]!++;
    const opcode = frame.opcode;
    if (opcode === Opcode.AUTH) this.onAuth(frame);
    else if (opcode === Opcode.MEMBER_HELLO) this.onMemberHello(frame);
    else if (opcode === Opcode.MEMBER_VERIFY) this.onMemberVerify(frame);
    else if (this.memberId === undefined && isMemberOnly(frame)) {
      this.forbid(
        opcode,
        frame.requestId,
        `${opcodeName(opcode)}${(frame.flags & Flag.FORWARDED) !== 0 ? ' (FORWARDED)' : ''} is for cluster members only: this connection did not complete the member handshake`,
      );
    } else if (!this.authenticated) this.refuseUnauthenticated(frame);
    else this.handler.handle(frame, this.batch, this);
    if (this.closing) return;
    if (this.handshaking) {
      this.decoder.pause();
    } else if (++this.requestsThisTurn >= this.maxRequestsPerRead) {
      // Fairness: one pipelining client must not hold the event loop; the others get a turn first.
      this.yieldRequested = true;
      this.decoder.pause();
    } else if (
      // Responses of one read accumulate before the write; a read full of GETs for large values must not
      // build an unbounded batch: stop after this frame and continue once the socket drains.
      this.batch.length + this.socket.writableLength > this.limits.outputHighWaterBytes ||
      this.pendingReplies >= this.maxInflight ||
      this.shares.outputOver
    ) {
      this.decoder.pause();
    }
  }

  private onAuth(frame: Frame): void {
    const { opcode, requestId } = frame;
    const problem = validateRequest(frame, AUTH_SHAPE_LIMITS);
    if (problem !== null) {
      this.stats.errorResponses++;
      this.batch.appendResponseString(opcode, problem.status, requestId, 0, problem.message);
      return;
    }
    const auth = this.auth;
    if (auth === undefined || !auth.required) {
      // No token here: accepted, so clients can be given the token before the nodes are (rolling rollout).
      this.batch.appendResponseHeader(opcode, Status.OK, requestId, 0, 0);
      return;
    }
    if (auth.check(frame.value())) {
      this.stats.authSuccesses++;
      this.authenticated = true;
      this.batch.appendResponseHeader(opcode, Status.OK, requestId, 0, 0);
      return;
    }
    this.stats.authFailures++;
    this.stats.errorResponses++;
    this.authenticated = false;
    const closing = ++this.authFailures > MAX_AUTH_FAILURES;
    this.batch.appendResponseString(
      opcode,
      Status.AUTH_REQUIRED,
      requestId,
      0,
      closing
        ? `invalid auth token; ${this.authFailures} failed attempts, closing the connection`
        : 'invalid auth token (the node was started with --auth-token / DCACHE_AUTH_TOKEN)',
    );
    if (closing) {
      this.stats.authFailureDisconnects++;
      this.flush();
      this.closeGracefully();
    }
  }

  private refuseUnauthenticated(frame: Frame): void {
    this.stats.authRequiredRejections++;
    this.stats.errorResponses++;
    this.batch.appendResponseString(
      frame.opcode,
      Status.AUTH_REQUIRED,
      frame.requestId,
      0,
      "authentication required: send AUTH with the node's token first (client option authToken)",
    );
  }

  forbid(opcode: number, requestId: number, message: string): void {
    if (this.closing) return;
    this.stats.memberOnlyRefusals++;
    this.stats.errorResponses++;
    this.batch.appendResponseString(opcode, Status.FORBIDDEN, requestId, 0, message);
    this.flush();
    this.closeGracefully();
  }

  /**
   * The member handshake: the call-back runs asynchronously; until it answers nothing more is read (onFrame
   * pauses the decoder), so frames the member pipelined behind its hello run as the member's.
   */
  private onMemberHello(frame: Frame): void {
    const { opcode, requestId } = frame;
    const members = this.members;
    if (members === undefined || this.memberId !== undefined || frame.keyLength !== 0) {
      this.stats.memberHandshakeFailures++;
      this.forbid(opcode, requestId, members === undefined ? 'this node takes no members' : 'a malformed or repeated member hello');
      return;
    }
    this.handshaking = true;
    this.pendingReplies++;
    members.admit(Buffer.from(frame.value())).then(
      (id) => {
        this.handshaking = false;
        this.pendingReplies--;
        if (this.socket.destroyed || this.closing) return;
        this.memberId = id;
        this.authenticated = true;
        this.stats.memberHandshakes++;
        this.batch.appendResponseHeader(opcode, Status.OK, requestId, 0, 0);
        this.flush();
        this.tryResume();
      },
      (error: unknown) => {
        this.handshaking = false;
        this.pendingReplies--;
        this.stats.memberHandshakeFailures++;
        if (this.socket.destroyed || this.closing) return;
        this.forbid(opcode, requestId, `member handshake refused: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
  }

  /** Another node asks whether this node sent a hello (the call-back of its handshake): no state changes. */
  private onMemberVerify(frame: Frame): void {
    const confirmed = this.members !== undefined && frame.keyLength === 0 && this.members.confirm(frame.value());
    if (confirmed) this.batch.appendResponseHeader(frame.opcode, Status.OK, frame.requestId, 0, 0);
    else this.batch.appendResponseString(frame.opcode, Status.FORBIDDEN, frame.requestId, 0, 'this node sent no such hello');
  }

  private onDecodeFailure(failure: DecodeFailure): void {
    this.stats.protocolErrors++;
    this.stats.errorResponses++;
    const requestId = failure.requestId < 0 ? 0 : failure.requestId;
    const opcode = failure.opcode < 0 ? 0 : failure.opcode;
    this.batch.appendResponseString(opcode, failure.status, requestId, 0, failure.error.message);
    this.flush();
    this.closeGracefully();
  }

  /** Closes a connection whose queued output passed a limit (hard cap, or slow reader past its time). */
  closeForOutputLimit(slowReader = false): void {
    this.stats.outputLimitDisconnects++;
    if (slowReader) this.stats.slowReaderDisconnects++;
    this.destroy();
  }

  private flush(): void {
    if (this.socket.destroyed) {
      this.batch.discard();
      return;
    }
    if (this.batch.length > 0) {
      // libuv delivers up to 32 reads of a busy socket in one turn, each answered here. The first answer of a
      // turn leaves at once (a lone request waits for nothing); later ones are corked until the turn ends
      // (setImmediate) and leave in one writev: with large values (one frame per read) that is one write
      // syscall, and one trip through the loopback TCP stack, instead of one per read. writableLength counts
      // corked bytes, so the limits below see them.
      if (!this.wroteThisTurn) {
        this.wroteThisTurn = true;
        setImmediate(this.endTurnFn);
      } else if (!this.corked) {
        this.corked = true;
        this.socket.cork();
      }
      this.stats.bytesOut += this.batch.writeTo(this.socket);
    }
    this.shares.noteOutput(0);
    const queued = this.socket.writableLength;
    if (queued > this.limits.outputHardLimitBytes) {
      this.closeForOutputLimit();
      return;
    }
    if ((queued > this.limits.outputHighWaterBytes || this.decoder.isPaused || this.guard.hasStash) && !this.paused && !this.closing) {
      this.paused = true;
      if (this.handshaking) {
        // waiting for the member handshake's call-back, not for the client
      } else if (this.yieldRequested) this.stats.connYields++;
      else if (this.pendingReplies >= this.maxInflight) this.stats.inflightPauses++;
      else this.stats.backpressurePauses++;
      this.socket.pause();
    }
    // Nothing queued means no 'drain' will come: look again on the next turn (a yield always does).
    if (this.paused && (this.yieldRequested || queued === 0)) this.scheduleResume();
  }

  private scheduleResume(): void {
    if (this.resumeScheduled) return;
    this.resumeScheduled = true;
    setImmediate(() => {
      this.resumeScheduled = false;
      this.tryResume();
    });
  }

  private tryResume(): void {
    if (!this.paused || this.closing || this.handshaking) return;
    if (this.socket.writableLength > this.limits.outputHighWaterBytes) return; // 'drain' comes
    this.shares.blockedSince = 0;
    if (this.pendingReplies >= this.maxInflight) return; // a reply's send() comes
    if (this.shares.outputOver) {
      // The node holds too much output for all its clients: everyone waits until some of it is read.
      this.shares.whenOutputUnder(this.resumeFn);
      return;
    }
    this.paused = false;
    this.yieldRequested = false;
    this.requestsThisTurn = 0;
    this.decoder.resume();
    if (this.guard.hasStash && !this.decoder.isPaused && !this.closing) {
      const stash = this.guard.takeStash()!;
      if (this.authenticated) this.decoder.push(stash);
      else this.guard.push(stash);
    }
    this.flush();
    if (!this.paused && !this.closing) this.socket.resume();
    this.partialFrameSince = this.decoder.hasPartialFrame ? this.partialFrameSince || this.clock() : 0;
  }
}

/** The frame a connection over the limit gets before it is closed. */
export function writeTooManyConnections(batch: OutputBatch, limit: number): Buffer {
  batch.appendResponseString(0, Status.TOO_MANY_CONNECTIONS, 0, 0, `too many connections (limit ${limit}, --max-connections)`);
  return batch.take();
}
