/**
 * What the binary port's sessions and the request handlers behind them agree on (docs/ARCHITECTURE.md,
 * "Connections"): a handler runs one decoded request and appends its reply, or begins a reply that completes later.
 */
import { Flag, MEMBERSHIP_OPCODE_FIRST, MOVEMENT_OPCODE_LAST } from '../protocol/constants';
import type { Frame } from '../protocol/decoder';
import type { OutputBatch } from '../protocol/output-batch';
import type { AsyncReply } from '../net/connection-core';

export type { AsyncReply } from '../net/connection-core';

/**
 * Runs one decoded request and appends its response to the batch, or, for work that completes later (a
 * request forwarded to its owner, a membership probe), takes a reply slot with replies.begin() and fills it
 * when the answer is there. Responses carry request ids, so later answers may overtake earlier ones.
 */
export interface RequestHandler {
  handle(frame: Frame, out: OutputBatch, replies: AsyncReplies): void;
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

/**
 * Membership messages, data movement and anything a member forwards: only a connection that is a member may
 * send them.
 */
export function isMemberOnly(frame: Frame): boolean {
  return (frame.opcode >= MEMBERSHIP_OPCODE_FIRST && frame.opcode <= MOVEMENT_OPCODE_LAST) || (frame.flags & Flag.FORWARDED) !== 0;
}
