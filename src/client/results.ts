/**
 * A response frame → what the caller's promise resolves with (docs/PROTOCOL.md, "Opcodes"), or the Error to
 * reject it with. Runs inside the decoder's callback: the frame's bytes are only valid now, so values the
 * caller keeps are copied out here (exactly the value bytes, nothing else).
 */
import { ProtocolError } from '../errors';
import { Opcode, PTTL_MISSING, Status, opcodeName, statusName } from '../protocol/constants';
import { type Frame, readInt64 } from '../protocol/frame';
import { decodeMgetResponse } from '../protocol/multi';
import type { Pending } from './pending';
import { errorForStatus } from './status-errors';

// Plain numbers for the switch below: tsx compiles `Opcode.GET` through getters (see connection.ts, `hot`).
const { GET, SET, DELETE, TOUCH, TTL, INCR, MGET, MSET, PING, STATS, FLUSH } = Opcode;
const { OK, NOT_FOUND, NOT_STORED } = Status;
const int64 = readInt64;

/** What a request of each opcode resolves with (resultOf decodes it so): the client's typed view of the protocol. */
export interface OpcodeResults {
  [Opcode.GET]: Buffer | null;
  [Opcode.SET]: boolean;
  [Opcode.DELETE]: boolean;
  [Opcode.TOUCH]: boolean;
  [Opcode.TTL]: number;
  [Opcode.INCR]: number | bigint;
  [Opcode.MGET]: Array<Buffer | null>;
  [Opcode.MSET]: void;
  [Opcode.PING]: Buffer;
  [Opcode.STATS]: Record<string, unknown>;
  [Opcode.FLUSH]: void;
}

/** The opcodes a client sends and gets a decoded result for. */
export type ClientOpcode = keyof OpcodeResults;

/** The value bytes of a response, copied out of the read buffer. */
export function copyValue(frame: Frame): Buffer {
  const n = frame.valueLength;
  // A large value that spanned reads already sits in a buffer of its own: a view of it is the copy.
  if (frame.ownsBuffer) return frame.buffer.subarray(frame.valueOffset, frame.valueOffset + n);
  const out = Buffer.allocUnsafe(n);
  const src = frame.buffer;
  const from = frame.valueOffset;
  if (n <= 32) {
    for (let i = 0; i < n; i++) out[i] = src[from + i]!;
  } else {
    src.copy(out, 0, from, from + n);
  }
  return out;
}

function text(frame: Frame): string {
  return frame.buffer.toString('utf8', frame.valueOffset, frame.valueOffset + frame.valueLength);
}

function unexpected(frame: Frame): ProtocolError {
  return new ProtocolError(`unexpected status ${statusName(frame.status)} in a ${opcodeName(frame.opcode)} response`);
}

/** A response as it came, for callers that relay it (a node forwarding to a peer) rather than interpret it. */
export interface RawResponse {
  opcode: number;
  status: number;
  epoch: number;
  extrasHigh: number;
  extrasLow: number;
  /** The value bytes, copied out of the read buffer. */
  value: Buffer;
}

export function rawResponseOf(frame: Frame): RawResponse {
  return {
    opcode: frame.opcode,
    status: frame.status,
    epoch: frame.epoch,
    extrasHigh: frame.extrasHigh,
    extrasLow: frame.extrasLow,
    value: copyValue(frame),
  };
}

/** The result for p from its response frame, or the Error to reject p with. */
export function resultOf(p: Pending, frame: Frame): unknown {
  const status = frame.status;
  if (frame.opcode !== p.opcode) {
    return new ProtocolError(`response ${frame.requestId} is for ${opcodeName(frame.opcode)}, but the request was ${opcodeName(p.opcode)}`);
  }
  if (status >= 0x80) return errorForStatus(status, frame.opcode, text(frame));
  switch (frame.opcode) {
    case GET:
      if (status === OK) return copyValue(frame);
      return status === NOT_FOUND ? null : unexpected(frame);
    case SET:
      if (status === OK) return true;
      return status === NOT_STORED ? false : unexpected(frame);
    case DELETE:
    case TOUCH:
      if (status === OK) return true;
      return status === NOT_FOUND ? false : unexpected(frame);
    case TTL:
      if (status === OK) return int64(frame);
      return status === NOT_FOUND ? PTTL_MISSING : unexpected(frame);
    case INCR:
      return status === OK ? int64(frame) : unexpected(frame);
    case MGET: {
      if (status !== OK) return unexpected(frame);
      const values = decodeMgetResponse(frame.buffer, frame.valueOffset, frame.valueLength);
      if (values === null || values.length !== p.aux) {
        return new ProtocolError(`malformed MGET response: expected ${p.aux} values`);
      }
      return values;
    }
    case STATS: {
      if (status !== OK) return unexpected(frame);
      try {
        return JSON.parse(text(frame)) as unknown;
      } catch (error) {
        return new ProtocolError(`STATS response is not JSON: ${(error as Error).message}`);
      }
    }
    case MSET:
    case PING:
    case FLUSH:
      return status === OK ? undefined : unexpected(frame);
    default:
      return unexpected(frame);
  }
}
