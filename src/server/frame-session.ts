/**
 * The binary port's half of a connection (the other half, shared with the RESP port, is net/connection-core.ts):
 * decodes frames, gates them on authentication and the member handshake, and hands the rest to the request
 * handler (docs/ARCHITECTURE.md, "Connections"). A framing error (bad magic, oversized frame) is answered once
 * and the connection closed.
 *
 * Authentication (when the node has a token): only AUTH (and the member handshake) is served until it succeeds;
 * other requests get AUTH_REQUIRED. Until then every frame header is checked before its body is read
 * (preauth-guard.ts): a body over 16 KiB closes the connection, so an unauthenticated client cannot make the
 * server allocate; so do more than MAX_AUTH_FAILURES wrong tokens.
 *
 * Principals (docs/ARCHITECTURE.md, "Principals"): member-only requests (membership opcodes, FORWARDED requests)
 * are served only once the connection completed the member handshake (MEMBER_HELLO, checked by calling the named
 * member back); on any other connection, authenticated client or not, they are answered FORBIDDEN, counted, and
 * the connection is closed. Nothing more is read while the handshake's call-back runs, so what the member
 * pipelined behind its hello is read as the member's.
 */
import { Flag, Opcode, Status, opcodeName } from '../protocol/constants';
import type { BufferPool } from '../protocol/buffer-pool';
import { FrameDecoder, type DecodeFailure, type Frame } from '../protocol/decoder';
import type { OutputBatch } from '../protocol/output-batch';
import { validateRequest } from '../protocol/validate';
import { MAX_AUTH_FAILURES, PREAUTH_MAX_REQUEST_BYTES, type Authenticator } from '../net/auth';
import type { AsyncReply, ConnectionCore, WireSession } from '../net/connection-core';
import { PreauthGuard } from '../net/preauth-guard';
import { isMemberOnly, type AsyncReplies, type MemberHandshake, type RequestHandler } from './request-handler';
import type { ServerStats } from './server-stats';

/** What every binary session of a listener shares. */
export interface FrameSessionShared {
  readonly handler: RequestHandler;
  readonly stats: ServerStats;
  /** The largest frame body accepted. */
  readonly maxBodyBytes: number;
  /** The client token's checker; absent or not required: no AUTH needed. */
  readonly auth?: Authenticator;
  /** Where bodies that span reads get their buffers. */
  readonly bufferPool?: BufferPool;
  /** The member handshake's receiving half (absent: this listener takes no members). */
  readonly members?: MemberHandshake;
}

/** AUTH has no key: the request limits only matter for the shape check. */
const AUTH_SHAPE_LIMITS = { maxKeyBytes: 0, maxValueBytes: 0 };

export class FrameSession implements WireSession, AsyncReplies {
  /** Set once the member handshake succeeded: the member id this connection speaks for. */
  memberId: string | undefined;
  private readonly decoder: FrameDecoder;
  /** Reads frame headers ahead of the decoder until the connection authenticates (preauth-guard.ts). */
  private readonly guard: PreauthGuard;
  private readonly stats: ServerStats;
  private readonly batch: OutputBatch;
  private authenticated: boolean;
  private authFailures = 0;
  /** A MEMBER_HELLO's call-back is under way: nothing more is read until it is answered. */
  private handshaking = false;

  constructor(
    private readonly core: ConnectionCore,
    private readonly shared: FrameSessionShared,
  ) {
    this.stats = shared.stats;
    this.batch = core.batch;
    this.authenticated = shared.auth === undefined || !shared.auth.required;
    this.decoder = new FrameDecoder({
      kind: 'request',
      maxBodyBytes: shared.maxBodyBytes,
      onFrame: (frame) => this.onFrame(frame),
      onError: (_error, failure) => this.onDecodeFailure(failure),
      bodyPool: shared.bufferPool,
    });
    this.guard = new PreauthGuard(this.decoder, {
      authenticated: () => this.authenticated,
      closing: () => core.isClosing,
      tooLarge: (requestId, opcode, body) => this.preauthTooLarge(requestId, opcode, body),
    });
  }

  receive(chunk: Buffer): void {
    if (this.authenticated) this.decoder.push(chunk);
    else this.guard.push(chunk);
  }

  resume(): void {
    this.decoder.resume();
    if (this.guard.hasStash && !this.decoder.isPaused && !this.core.isClosing) {
      const stash = this.guard.takeStash()!;
      if (this.authenticated) this.decoder.push(stash);
      else this.guard.push(stash);
    }
  }

  get heldInputBytes(): number {
    return this.decoder.heldInputBytes + this.guard.stashedBytes;
  }

  get hasPartialRequest(): boolean {
    return this.decoder.hasPartialFrame;
  }

  get heldOutputBytes(): number {
    return 0;
  }

  get waiting(): boolean {
    return this.handshaking;
  }

  prepareOutput(): void {
    // Responses carry request ids: they leave as soon as they are appended.
  }

  stop(): void {
    this.decoder.destroy();
    this.guard.drop();
  }

  begin(): AsyncReply {
    return this.core.beginReply();
  }

  forbid(opcode: number, requestId: number, message: string): void {
    if (this.core.isClosing) return;
    this.stats.memberOnlyRefusals++;
    this.stats.errorResponses++;
    this.batch.appendResponseString(opcode, Status.FORBIDDEN, requestId, 0, message);
    this.core.closeGracefully();
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
    else this.shared.handler.handle(frame, this.batch, this);
    if (!this.core.afterRequest()) this.decoder.pause();
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
    this.core.closeGracefully();
  }

  private onAuth(frame: Frame): void {
    const { opcode, requestId } = frame;
    const problem = validateRequest(frame, AUTH_SHAPE_LIMITS);
    if (problem !== null) {
      this.stats.errorResponses++;
      this.batch.appendResponseString(opcode, problem.status, requestId, 0, problem.message);
      return;
    }
    const auth = this.shared.auth;
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
      this.core.closeGracefully();
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

  /**
   * The member handshake: the call-back runs asynchronously; until it answers nothing more is read (`waiting`
   * stops the core after this frame), so frames the member pipelined behind its hello run as the member's.
   */
  private onMemberHello(frame: Frame): void {
    const { opcode, requestId } = frame;
    const members = this.shared.members;
    if (members === undefined || this.memberId !== undefined || frame.keyLength !== 0) {
      this.stats.memberHandshakeFailures++;
      this.forbid(opcode, requestId, members === undefined ? 'this node takes no members' : 'a malformed or repeated member hello');
      return;
    }
    this.handshaking = true;
    const reply = this.core.beginReply();
    members.admit(Buffer.from(frame.value())).then(
      (id) => {
        this.handshaking = false;
        if (this.core.isClosing) {
          reply.send(() => undefined);
          return;
        }
        this.memberId = id;
        this.authenticated = true;
        this.stats.memberHandshakes++;
        reply.send((out) => out.appendResponseHeader(opcode, Status.OK, requestId, 0, 0));
      },
      (error: unknown) => {
        this.handshaking = false;
        this.stats.memberHandshakeFailures++;
        // Closing first, so ending the reply does not resume reading.
        this.forbid(opcode, requestId, `member handshake refused: ${error instanceof Error ? error.message : String(error)}`);
        reply.send(() => undefined);
      },
    );
  }

  /** Another node asks whether this node sent a hello (the call-back of its handshake): no state changes. */
  private onMemberVerify(frame: Frame): void {
    const members = this.shared.members;
    const confirmed = members !== undefined && frame.keyLength === 0 && members.confirm(frame.value());
    if (confirmed) this.batch.appendResponseHeader(frame.opcode, Status.OK, frame.requestId, 0, 0);
    else this.batch.appendResponseString(frame.opcode, Status.FORBIDDEN, frame.requestId, 0, 'this node sent no such hello');
  }

  private onDecodeFailure(failure: DecodeFailure): void {
    this.stats.protocolErrors++;
    this.stats.errorResponses++;
    const requestId = failure.requestId < 0 ? 0 : failure.requestId;
    const opcode = failure.opcode < 0 ? 0 : failure.opcode;
    this.batch.appendResponseString(opcode, failure.status, requestId, 0, failure.error.message);
    this.core.closeGracefully();
  }
}

/** The frame a connection over the limit gets before it is closed. */
export function tooManyConnectionsFrame(batch: OutputBatch, limit: number): Buffer {
  batch.appendResponseString(0, Status.TOO_MANY_CONNECTIONS, 0, 0, `too many connections (limit ${limit}, --max-connections)`);
  return batch.take();
}
