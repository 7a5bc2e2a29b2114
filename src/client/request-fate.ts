/**
 * What a failed request may have done on the node, which decides whether the smart client may send it again
 * (docs/ARCHITECTURE.md, "Decisions", "Client retries"):
 *  - unsent: it never left this process (queued on a connection that closed or never connected, or refused by
 *    a connection retired because its member left the topology): nothing ran, any request may go again.
 *  - refused: the node answered SHUTTING_DOWN, which it does before running anything: any request may go again.
 *  - maybe-applied: it was written to the socket and the connection closed before its answer: the node may have
 *    run it or not, so only a request that gives the same result when it runs twice may go again.
 *  - unavailable: a node answered UNAVAILABLE (the owner it forwarded to was unreachable, or it is cut off from
 *    the majority): a forwarded request may have run. Tried once more, then only when the ring has moved.
 *  - final: anything else (a timeout, a full queue, a refused token, a protocol error, an error status the
 *    request itself caused): the caller's.
 * The connection marks the first kind apart from the third when a socket closes (connection.ts, failAll);
 * which errors carry a mark is kept here, so no error class grows a field for it.
 */
import { DCacheError, OutcomeUnknownError } from '../errors';
import { Opcode, SetMode, opcodeName, setModeOf } from '../protocol/constants';

export type RequestFate = 'unsent' | 'maybe-applied' | 'refused' | 'unavailable' | 'final';

const marks = new WeakMap<Error, 'unsent' | 'maybe-applied'>();

/** Marks an error a socket close fails requests with; returns it. */
export function markClosed<E extends Error>(error: E, fate: 'unsent' | 'maybe-applied'): E {
  marks.set(error, fate);
  return error;
}

export function fateOf(error: unknown): RequestFate {
  if (!(error instanceof Error)) return 'final';
  const mark = marks.get(error);
  if (mark !== undefined) return mark;
  if (!(error instanceof DCacheError)) return 'final';
  if (error.code === 'ERR_SHUTTING_DOWN') return 'refused';
  if (error.code === 'ERR_UNAVAILABLE') return 'unavailable';
  return 'final';
}

/**
 * True when running the request twice leaves the same state and gives the caller a true answer: reads, SET
 * (plain or XX), DELETE, TOUCH, MSET. Not INCR (it would count twice) and not SET NX (the second run finds the
 * key the first one stored and answers false: a caller using NX as a lock would think another holds it).
 * DELETE run twice may answer false where the first run deleted the key; its effect is the same.
 */
export function repeatable(opcode: number, flags: number): boolean {
  if (opcode === Opcode.INCR) return false;
  if (opcode === Opcode.SET) return setModeOf(flags) !== SetMode.NX;
  return true;
}

/** The error for a request that may have run and is not sent again. */
export function outcomeUnknown(opcode: number, flags: number, cause: Error): OutcomeUnknownError {
  const what = opcode === Opcode.SET && setModeOf(flags) === SetMode.NX ? 'SET NX' : opcodeName(opcode);
  return new OutcomeUnknownError(
    `${what} may or may not have been applied: ${cause.message}. It was not sent again, since running it twice ` +
      `would not be the same as once; read the key to learn its state`,
    cause,
  );
}
