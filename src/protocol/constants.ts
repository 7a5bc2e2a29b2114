/**
 * The wire format's numbers, in one place. docs/PROTOCOL.md is the spec; every value here is named there.
 * All integers on the wire are big-endian. A frame is a 24-byte header followed by the body (key bytes, then
 * value bytes). Requests start with 0xDC, responses with 0xDD, so a frame sent the wrong way is caught at once.
 */

import type { ErrorCode } from '../errors';

export const REQUEST_MAGIC = 0xdc;
export const RESPONSE_MAGIC = 0xdd;
export const PROTOCOL_VERSION = 0x01;
export const HEADER_SIZE = 24;

/** Byte offsets inside a request header. */
export const RequestOffset = {
  MAGIC: 0,
  VERSION: 1,
  OPCODE: 2,
  FLAGS: 3,
  REQUEST_ID: 4,
  KEY_LENGTH: 8,
  RESERVED: 10,
  VALUE_LENGTH: 12,
  EXTRAS: 16,
} as const;

/** Byte offsets inside a response header. */
export const ResponseOffset = {
  MAGIC: 0,
  VERSION: 1,
  OPCODE: 2,
  STATUS: 3,
  REQUEST_ID: 4,
  EPOCH: 8,
  VALUE_LENGTH: 12,
  EXTRAS: 16,
} as const;

export const Opcode = {
  GET: 0x01,
  SET: 0x02,
  DELETE: 0x03,
  TOUCH: 0x04,
  TTL: 0x05,
  INCR: 0x06,
  MGET: 0x07,
  MSET: 0x08,
  PING: 0x09,
  STATS: 0x0a,
  FLUSH: 0x0b,
  /** The node's ring (members, epoch, limits) for clients that route themselves (docs/PROTOCOL.md, Topology). */
  TOPOLOGY: 0x10,
  /** Authenticate the connection: the value is the node's token. OK, or AUTH_REQUIRED for a wrong token. */
  AUTH: 0x11,
  /**
   * A member introduces itself on a connection it opened to another member: the value is a JSON hello naming
   * its id (src/server/member-auth.ts). Answered once the receiver has called the id back (MEMBER_VERIFY) and
   * checked the proof; the connection may then carry member-only traffic.
   */
  MEMBER_HELLO: 0x12,
  /** The receiver of a hello asks the named member whether it sent that hello (its nonce); OK or FORBIDDEN. */
  MEMBER_VERIFY: 0x13,
  /** Reserved for membership (SWIM) messages between nodes, range 0x40–0x4F. */
  JOIN: 0x40,
  PROBE: 0x41,
  PROBE_REQ: 0x42,
  SYNC: 0x43,
  LEAVE: 0x44,
  /**
   * Data movement between members, range 0x50–0x5F (docs/PROTOCOL.md, "Data movement"). FETCH: one key's copy
   * (value, expiry, version) for a new owner's read-through, whoever owns it now.
   */
  FETCH: 0x50,
  /** A batch of the items the asking member owns in the ring named by its checksum, from a slot cursor on. */
  PULL: 0x51,
  /** The asking member holds everything the receiver had for it in that ring: the receiver may drop its copies. */
  PULL_DONE: 0x52,
  /**
   * The owner's writes to a key's replicas (docs/PROTOCOL.md, "Replicas"): each key's state after the write,
   * applied by version. The owner acknowledges its client once every replica answered OK.
   */
  REPLICATE: 0x53,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** First and last opcode of the range reserved for membership messages. */
export const MEMBERSHIP_OPCODE_FIRST = 0x40;
export const MEMBERSHIP_OPCODE_LAST = 0x4f;
/** First and last opcode of the range reserved for data movement between members. */
export const MOVEMENT_OPCODE_FIRST = 0x50;
export const MOVEMENT_OPCODE_LAST = 0x5f;

const OPCODE_NAME_TABLE: Record<number, string> = {};
for (const [name, value] of Object.entries(Opcode)) OPCODE_NAME_TABLE[value] = name;

/** 'GET', 'SET', … or '0x2a' for an opcode without a name. */
export function opcodeName(opcode: number): string {
  return OPCODE_NAME_TABLE[opcode] ?? `0x${opcode.toString(16).padStart(2, '0')}`;
}

export const Status = {
  OK: 0x00,
  NOT_FOUND: 0x01,
  /** A SET with NX or XX whose condition failed. */
  NOT_STORED: 0x02,
  /** The frame could not be parsed; the server closes the connection after sending this. */
  MALFORMED: 0x80,
  KEY_TOO_LARGE: 0x81,
  VALUE_TOO_LARGE: 0x82,
  /** The body is over the limit; the server closes the connection after sending this. */
  FRAME_TOO_LARGE: 0x83,
  UNKNOWN_OPCODE: 0x84,
  NOT_INTEGER: 0x85,
  /** A well-formed frame with an unusable argument (empty key, bad mode, TTL over 2^53-1, bad MGET body…). */
  BAD_ARGUMENT: 0x86,
  OVERFLOW: 0x87,
  SHUTTING_DOWN: 0x88,
  INTERNAL_ERROR: 0x89,
  /** Sent (request id 0) before closing a connection over the limit. */
  TOO_MANY_CONNECTIONS: 0x8a,
  /** The key's owner could not be reached (cluster). */
  UNAVAILABLE: 0x8b,
  /** The connection must authenticate first (AUTH), or AUTH carried a wrong token. */
  AUTH_REQUIRED: 0x8c,
  OUT_OF_MEMORY: 0x8d,
  /**
   * A member-only request (membership, forwarded) on a connection that is not an authenticated member, or a
   * membership message whose sender is not the connection's member; the connection is closed after it.
   */
  FORBIDDEN: 0x8e,
  /** The response would be larger than the node may send for one request: split the request. */
  RESPONSE_TOO_LARGE: 0x8f,
} as const;
export type Status = (typeof Status)[keyof typeof Status];

const STATUS_NAME_TABLE: Record<number, string> = {};
for (const [name, value] of Object.entries(Status)) STATUS_NAME_TABLE[value] = name;

/** Status → name, e.g. STATUS_NAMES[0x80] === 'MALFORMED'. */
export const STATUS_NAMES: Readonly<Record<number, string>> = STATUS_NAME_TABLE;

/** 'NOT_FOUND', … or '0x7f' for a status without a name. */
export function statusName(status: number): string {
  return STATUS_NAME_TABLE[status] ?? `0x${status.toString(16).padStart(2, '0')}`;
}

/** Statuses 0x80–0xFF are errors; their value is a UTF-8 message. */
export function isErrorStatus(status: number): boolean {
  return status >= 0x80;
}

/** The server closes the connection after a response with one of these statuses. */
export function closesConnection(status: number): boolean {
  return (
    status === Status.MALFORMED ||
    status === Status.FRAME_TOO_LARGE ||
    status === Status.TOO_MANY_CONNECTIONS ||
    status === Status.FORBIDDEN
  );
}

/** The stable error code (src/errors.ts) a client raises for an error status. */
export const STATUS_ERROR_CODES: Readonly<Record<number, ErrorCode>> = {
  [Status.MALFORMED]: 'ERR_PROTOCOL',
  [Status.KEY_TOO_LARGE]: 'ERR_KEY_TOO_LARGE',
  [Status.VALUE_TOO_LARGE]: 'ERR_VALUE_TOO_LARGE',
  [Status.FRAME_TOO_LARGE]: 'ERR_FRAME_TOO_LARGE',
  [Status.UNKNOWN_OPCODE]: 'ERR_UNKNOWN_OPCODE',
  [Status.NOT_INTEGER]: 'ERR_NOT_INTEGER',
  [Status.BAD_ARGUMENT]: 'ERR_INVALID_ARGUMENT',
  [Status.OVERFLOW]: 'ERR_OVERFLOW',
  [Status.SHUTTING_DOWN]: 'ERR_SHUTTING_DOWN',
  [Status.INTERNAL_ERROR]: 'ERR_SERVER',
  [Status.TOO_MANY_CONNECTIONS]: 'ERR_CONNECTION',
  [Status.UNAVAILABLE]: 'ERR_UNAVAILABLE',
  [Status.AUTH_REQUIRED]: 'ERR_AUTH',
  [Status.OUT_OF_MEMORY]: 'ERR_OUT_OF_MEMORY',
  [Status.FORBIDDEN]: 'ERR_FORBIDDEN',
  [Status.RESPONSE_TOO_LARGE]: 'ERR_RESPONSE_TOO_LARGE',
};

/** Request flag bits (header byte 3). */
export const Flag = {
  /** Set by a node that forwards a request to the key's owner; the owner serves it and never forwards again. */
  FORWARDED: 0x01,
  /** Bits 1–2: the SET mode (SetMode). */
  SET_MODE_MASK: 0x06,
  /** Reserved for "no response on success"; must be 0 in version 1. */
  QUIET: 0x08,
  /**
   * With FORWARDED: a member that got a forwarded request for a key it does not own (its view differs from the
   * sender's) sent it on to the owner it sees. A rerouted request is served where it lands: at most two hops.
   */
  REROUTED: 0x10,
  /**
   * With FORWARDED, on a read: the key's owner did not answer, so a member that holds a replica of the key
   * serves it from its copy (docs/ARCHITECTURE.md, "Replicas"); one that does not answers UNAVAILABLE.
   */
  REPLICA_READ: 0x20,
} as const;

export const SET_MODE_SHIFT = 1;

/** Flag bits a version-1 request may set; any other bit makes the frame MALFORMED. */
export const ALLOWED_REQUEST_FLAGS = Flag.FORWARDED | Flag.SET_MODE_MASK | Flag.REROUTED | Flag.REPLICA_READ;

export const SetMode = {
  /** Store unconditionally. */
  SET: 0,
  /** Store only if the key is absent (Redis SET NX, memcached add). */
  NX: 1,
  /** Store only if the key is present (Redis SET XX, memcached replace). */
  XX: 2,
} as const;
export type SetMode = (typeof SetMode)[keyof typeof SetMode];

/** The flags byte for a SET with this mode (optionally forwarded). */
export function setModeFlags(mode: SetMode, forwarded = false): number {
  return (mode << SET_MODE_SHIFT) | (forwarded ? Flag.FORWARDED : 0);
}

/** The SET mode encoded in a flags byte: 0, 1, 2, or 3 (invalid: BAD_ARGUMENT). */
export function setModeOf(flags: number): number {
  return (flags & Flag.SET_MODE_MASK) >>> SET_MODE_SHIFT;
}

/** Largest key the u16 key-length field can carry. Servers configure a lower maxKeyBytes. */
export const MAX_WIRE_KEY_BYTES = 0xffff;
/** Largest value the u32 value-length field can carry. */
export const MAX_WIRE_VALUE_BYTES = 0xffffffff;
/** Largest TTL in ms (2^53 - 1: exact in a JS number). */
export const MAX_TTL_MS = Number.MAX_SAFE_INTEGER;
/** PTTL results carried in a TTL response's extras. */
export const PTTL_NO_EXPIRY = -1;
export const PTTL_MISSING = -2;
/** MGET response: the length that marks a missing key. */
export const MGET_MISSING = 0xffffffff;

export const DEFAULT_MAX_KEY_BYTES = 1024;
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;
/** Decoder limit on key length + value length when none is given. */
export const DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024;
/**
 * Room an MGET/MSET body gets on top of one maximal key + value. A client that keeps each multi-key body at or
 * under this size (or sends one oversized entry alone) fits any server's limit.
 */
export const MULTI_SLACK_BYTES = 1024 * 1024;

/** The decoder limit a server with these key/value limits should use. */
export function maxBodyBytesFor(maxKeyBytes: number, maxValueBytes: number): number {
  return maxKeyBytes + maxValueBytes + MULTI_SLACK_BYTES;
}

/** The value of a PING response when the request carried none. */
export const PONG = Buffer.from('PONG', 'latin1');
