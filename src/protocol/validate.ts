/**
 * Per-opcode argument rules (docs/PROTOCOL.md, "Opcodes"). The decoder checks framing only; a frame that parsed
 * but breaks these rules gets an error response and the connection stays open. validateRequest returns null for
 * a valid request (the hot path allocates nothing) and a {status, message} only on the error path.
 */

import { Flag, MAX_TTL_MS, Opcode, Status, setModeOf } from './constants';
import type { Frame } from './frame';
import { MultiKeyCursor } from './multi';

export interface RequestLimits {
  /** Longest key accepted (1 ≤ key length ≤ maxKeyBytes). */
  readonly maxKeyBytes: number;
  /** Longest value accepted (SET, and each MSET entry). */
  readonly maxValueBytes: number;
}

export interface RequestProblem {
  readonly status: number;
  readonly message: string;
}

const TWO_32 = 4294967296;

// What each opcode carries: a key (K), a value (V: SET; B: a multi-key body; P: PING's payload, AUTH's token),
// a TTL (T) or a delta (D) in the extras.
const KEY = 1;
const VALUE = 2;
const BODY = 4;
const PAYLOAD = 8;
const TTL = 16;
const DELTA = 32;

const SHAPE: Int8Array = (() => {
  const s = new Int8Array(256).fill(-1);
  s[Opcode.GET] = KEY;
  s[Opcode.SET] = KEY | VALUE | TTL;
  s[Opcode.DELETE] = KEY;
  s[Opcode.TOUCH] = KEY | TTL;
  s[Opcode.TTL] = KEY;
  s[Opcode.INCR] = KEY | DELTA;
  s[Opcode.MGET] = BODY;
  s[Opcode.MSET] = BODY | TTL;
  s[Opcode.PING] = PAYLOAD;
  s[Opcode.STATS] = 0;
  s[Opcode.FLUSH] = 0;
  // AUTH: the token is the value; no key, no extras (answered by the connection, before any handler).
  s[Opcode.AUTH] = PAYLOAD;
  return s;
})();

/** True for the opcodes this protocol version serves (reserved opcodes are not). */
export function isServedOpcode(opcode: number): boolean {
  return SHAPE[opcode]! >= 0;
}

function problem(status: number, message: string): RequestProblem {
  return { status, message };
}

const cursor = new MultiKeyCursor();

/**
 * Checks a decoded request against the opcode's rules and the server's limits. Returns null when the server
 * may run it, or the error status and message to answer with. Order: opcode, key, value, extras, flags.
 */
export function validateRequest(frame: Frame, limits: RequestLimits): RequestProblem | null {
  const shape = SHAPE[frame.opcode]!;
  if (shape < 0) return problem(Status.UNKNOWN_OPCODE, `unknown opcode 0x${frame.opcode.toString(16).padStart(2, '0')}`);

  if ((shape & KEY) !== 0) {
    if (frame.keyLength === 0) return problem(Status.BAD_ARGUMENT, 'key must not be empty');
    if (frame.keyLength > limits.maxKeyBytes) {
      return problem(Status.KEY_TOO_LARGE, `key is ${frame.keyLength} bytes; the limit is ${limits.maxKeyBytes} bytes (maxKeyBytes)`);
    }
  } else if (frame.keyLength !== 0) {
    return problem(Status.BAD_ARGUMENT, 'this opcode takes no key: key length must be 0');
  }

  if ((shape & VALUE) !== 0) {
    if (frame.valueLength > limits.maxValueBytes) return valueTooLarge(frame.valueLength, limits);
  } else if ((shape & BODY) !== 0) {
    const p = checkMultiBody(frame, limits);
    if (p !== null) return p;
  } else if ((shape & PAYLOAD) === 0 && frame.valueLength !== 0) {
    return problem(Status.BAD_ARGUMENT, 'this opcode takes no value: value length must be 0');
  }

  if ((shape & TTL) !== 0) {
    if (frame.extrasHigh * TWO_32 + frame.extrasLow > MAX_TTL_MS) {
      return problem(Status.BAD_ARGUMENT, `TTL must be at most ${MAX_TTL_MS} ms`);
    }
  } else if ((shape & DELTA) === 0 && (frame.extrasHigh !== 0 || frame.extrasLow !== 0)) {
    return problem(Status.BAD_ARGUMENT, 'this opcode takes no extras: bytes 16-23 must be 0');
  }

  const mode = setModeOf(frame.flags);
  if (mode !== 0) {
    if (frame.opcode !== Opcode.SET) return problem(Status.BAD_ARGUMENT, 'SET mode flags are only valid on SET');
    if (mode === 3) return problem(Status.BAD_ARGUMENT, 'SET mode 3 is invalid (0 = set, 1 = NX, 2 = XX)');
  }
  return null;
}

/** True when the request came from a node forwarding it to its owner (serve it here, never forward it again). */
export function isForwarded(frame: Frame): boolean {
  return (frame.flags & Flag.FORWARDED) !== 0;
}

function valueTooLarge(length: number, limits: RequestLimits): RequestProblem {
  return problem(
    Status.VALUE_TOO_LARGE,
    `value is ${length} bytes; the limit is ${limits.maxValueBytes} bytes (maxValueBytes / --max-value-size)`,
  );
}

function checkMultiBody(frame: Frame, limits: RequestLimits): RequestProblem | null {
  const isMset = frame.opcode === Opcode.MSET;
  const name = isMset ? 'MSET' : 'MGET';
  const c = cursor;
  try {
    if (c.begin(frame.buffer, frame.valueOffset, frame.valueLength) < 0) {
      return problem(Status.BAD_ARGUMENT, `${name} body must start with a 4-byte count`);
    }
    while (isMset ? c.nextEntry() : c.nextKey()) {
      if (c.keyLength === 0) return problem(Status.BAD_ARGUMENT, `${name} key ${c.index - 1} is empty`);
      if (c.keyLength > limits.maxKeyBytes) {
        return problem(
          Status.KEY_TOO_LARGE,
          `${name} key ${c.index - 1} is ${c.keyLength} bytes; the limit is ${limits.maxKeyBytes} bytes (maxKeyBytes)`,
        );
      }
      if (isMset && c.valueLength > limits.maxValueBytes) return valueTooLarge(c.valueLength, limits);
    }
    if (!c.complete) {
      return problem(
        Status.BAD_ARGUMENT,
        `${name} body does not hold exactly the ${c.count} ${isMset ? 'entries' : 'keys'} its count announces`,
      );
    }
    return null;
  } finally {
    c.release();
  }
}
