/**
 * Membership message bodies. They ride in the value of frames with the membership opcodes (0x40-0x4F) on the
 * node's binary port, as UTF-8 JSON: these messages are small and rare next to cache traffic, and JSON keeps
 * them readable in a capture. Everything a peer sends is parsed defensively: a bad body is rejected whole.
 */
import { parseMemberUpdate, type MemberUpdate } from './member';

export interface MembershipMessage {
  /** The sender's id. */
  from: string;
  /** Piggybacked updates (a probe), or the sender's whole table (join, sync). */
  updates: MemberUpdate[];
  /** PROBE_REQ: the member to probe on the sender's behalf. */
  target?: string;
  /** PROBE_REQ reply: whether the target answered. */
  ack?: boolean;
}

/** A peer cannot make us parse or store more than this. */
const MAX_MESSAGE_BYTES = 1024 * 1024;
const MAX_UPDATES = 10_000;

export function encodeMessage(message: MembershipMessage): Buffer {
  return Buffer.from(JSON.stringify(message), 'utf8');
}

export function decodeMessage(bytes: Uint8Array): MembershipMessage | undefined {
  if (bytes.length === 0 || bytes.length > MAX_MESSAGE_BYTES) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
  } catch {
    return undefined;
  }
  if (raw === null || typeof raw !== 'object') return undefined;
  const { from, updates, target, ack } = raw as Record<string, unknown>;
  if (typeof from !== 'string' || from.length === 0 || from.length > 300) return undefined;
  if (!Array.isArray(updates) || updates.length > MAX_UPDATES) return undefined;
  const parsed: MemberUpdate[] = [];
  for (const item of updates) {
    const update = parseMemberUpdate(item);
    if (!update) return undefined;
    parsed.push(update);
  }
  const message: MembershipMessage = { from, updates: parsed };
  if (target !== undefined) {
    if (typeof target !== 'string' || target.length === 0 || target.length > 300) return undefined;
    message.target = target;
  }
  if (ack !== undefined) {
    if (typeof ack !== 'boolean') return undefined;
    message.ack = ack;
  }
  return message;
}
