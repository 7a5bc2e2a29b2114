/**
 * The binary port's request handler in a cluster (docs/ARCHITECTURE.md, "How a request flows"): membership
 * messages and TOPOLOGY are answered here; a keyed frame is checked, translated into the request model and
 * handed to the one KeyRouter (routing/key-router.ts) with the binary reply sink; everything else (PING,
 * STATS, FLUSH) goes to the local command handler.
 */
import { decodeMessage, encodeMessage, type MembershipMessage } from '../discovery/messages';
import {
  MEMBERSHIP_OPCODE_FIRST,
  MEMBERSHIP_OPCODE_LAST,
  MOVEMENT_OPCODE_FIRST,
  MOVEMENT_OPCODE_LAST,
  Opcode,
  Status,
} from '../protocol/constants';
import type { Frame } from '../protocol/decoder';
import type { OutputBatch } from '../protocol/output-batch';
import type { RequestLimits } from '../protocol/validate';
import type { KeyRouter } from '../routing/key-router';
import { isKeyed, type LocalCommandHandler } from './local-commands';
import type { AsyncReplies, RequestHandler } from './request-handler';

export type { PeerRequester, RawResponse } from '../routing/peer-answers';

/** Answers membership messages and describes the topology. */
export interface ClusterView {
  /** senderId: the member the connection authenticated as (the message's `from` was checked against it). */
  handleMembership(opcode: number, message: MembershipMessage, senderId: string): Promise<MembershipMessage>;
  /** A data-movement request (FETCH, PULL, PULL_DONE) from the member `senderId`. */
  handleMovement(opcode: number, senderId: string, key: Buffer, value: Buffer): Promise<{ status: number; value: Buffer }>;
  /** A REPLICATE batch from the member `senderId`, applied now (its body a view valid during the call). */
  applyReplicas(senderId: string, body: Buffer): { status: number; value: Buffer };
  topology(): Record<string, unknown>;
  /** Still joining through its seeds: its view of the members is partial (Cluster.joining). */
  readonly joining: boolean;
}

export class ClusterRouter implements RequestHandler {
  private readonly membershipCounters = { membershipMessages: 0, rejectedMembershipMessages: 0, spoofedSenders: 0 };
  /** The limits TOPOLOGY tells clients, so they split multi-key requests to fit (docs/PROTOCOL.md, Topology). */
  private readonly advertisedLimits: Record<string, number>;

  constructor(
    private readonly local: LocalCommandHandler,
    readonly keys: KeyRouter,
    private readonly cluster: ClusterView,
    limits: RequestLimits,
  ) {
    this.advertisedLimits = {
      maxKeyBytes: limits.maxKeyBytes,
      maxValueBytes: limits.maxValueBytes,
      maxResponseBytes: local.responseCap.maxResponseBytes,
    };
  }

  /** Requests forwarded, owners that could not be reached, requests served for peers, membership messages. */
  get counters(): Record<string, number> {
    return { ...this.keys.counters, keysHeldInOrder: this.keys.keysHeldInOrder, ...this.membershipCounters };
  }

  handle(frame: Frame, out: OutputBatch, replies: AsyncReplies): void {
    const opcode = frame.opcode;
    if (isKeyed(opcode)) {
      const local = this.local;
      const keys = this.keys;
      if (keys.cutOff) keys.refuse(local.sinkFor(frame, out, replies));
      else if (local.admits(frame, out)) keys.route(local.requestOf(frame), local.sinkFor(frame, out, replies));
      return;
    }
    if (opcode >= MEMBERSHIP_OPCODE_FIRST && opcode <= MEMBERSHIP_OPCODE_LAST) {
      this.membership(frame, out, replies);
      return;
    }
    if (opcode >= MOVEMENT_OPCODE_FIRST && opcode <= MOVEMENT_OPCODE_LAST) {
      this.movement(frame, out, replies);
      return;
    }
    if (opcode === Opcode.TOPOLOGY) {
      // A joining node's view is partial: clients are told, so none routes by it (a key it seems to own may be a
      // member's it has not met yet).
      const joining = this.cluster.joining ? { joining: true } : {};
      const topology = { ...this.cluster.topology(), limits: this.advertisedLimits, ...joining };
      out.appendResponseString(opcode, Status.OK, frame.requestId, this.local.epoch, JSON.stringify(topology));
      return;
    }
    this.local.handle(frame, out);
  }

  private movement(frame: Frame, out: OutputBatch, replies: AsyncReplies): void {
    const { opcode, requestId } = frame;
    const sender = replies.memberId;
    if (sender === undefined) {
      replies.forbid(opcode, requestId, 'data movement is for members only');
      return;
    }
    if (opcode === Opcode.REPLICATE) {
      // Applied and answered in the read it arrived in: the owner waits on it before answering its client.
      const answer = this.cluster.applyReplicas(sender, frame.value());
      out.appendResponse(opcode, answer.status, requestId, this.local.epoch, 0, answer.value);
      return;
    }
    // The frame's views are valid only now: copy what the answer, which may come later, needs.
    const key = Buffer.from(frame.key());
    const value = Buffer.from(frame.value());
    const reply = replies.begin();
    this.cluster.handleMovement(opcode, sender, key, value).then(
      (answer) => reply.send((o) => o.appendResponse(opcode, answer.status, requestId, this.local.epoch, 0, answer.value)),
      (error: unknown) =>
        reply.send((o) => o.appendResponseString(opcode, Status.INTERNAL_ERROR, requestId, this.local.epoch, String(error))),
    );
  }

  private membership(frame: Frame, out: OutputBatch, replies: AsyncReplies): void {
    const counters = this.membershipCounters;
    counters.membershipMessages++;
    const message = decodeMessage(frame.value());
    const { opcode, requestId } = frame;
    if (message === undefined) {
      counters.rejectedMembershipMessages++;
      out.appendResponseString(opcode, Status.BAD_ARGUMENT, requestId, this.local.epoch, 'malformed membership message');
      return;
    }
    const sender = replies.memberId;
    if (sender === undefined || message.from !== sender) {
      // The connection's handshake proved who is speaking: a message in another member's name is a lie.
      counters.rejectedMembershipMessages++;
      counters.spoofedSenders++;
      replies.forbid(
        opcode,
        requestId,
        `membership message from ${message.from} on the connection of member ${sender ?? '(none)'}: a member speaks only for itself`,
      );
      return;
    }
    const reply = replies.begin();
    this.cluster.handleMembership(opcode, message, sender).then(
      (answer) => reply.send((o) => o.appendResponse(opcode, Status.OK, requestId, this.local.epoch, 0, encodeMessage(answer))),
      (error: unknown) =>
        reply.send((o) => o.appendResponseString(opcode, Status.INTERNAL_ERROR, requestId, this.local.epoch, String(error))),
    );
  }
}
