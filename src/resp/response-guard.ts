/**
 * How big a reply the RESP port builds: the binary port's rule (src/net/response-cap.ts).
 *   - An MGET whose reply would pass maxResponseBytes (default: outputHardLimitBytes less outputHighWaterBytes,
 *     so one reply always fits between the mark where reading pauses and the hard limit; 63 MiB by default) is
 *     refused before any value is copied: its size is computed from lookups and value lengths first (only
 *     when the worst case, every key holding a value of maxValueBytes, could pass a limit).
 *   - While the node holds more unread output than its budget (held-memory.ts), a reply over
 *     LARGE_RESPONSE_BYTES (1 MiB), GET or MGET, is refused too: otherwise the budget would grow by one large
 *     reply per connection. A GET is never refused otherwise (one value is the least a client can ask for).
 * A refusal is an error reply `-ERR response too large: …` with the size and the limit (the connection stays
 * open), counted in RespStats.responseTooLarge.
 *
 * The server makes one guard and hands it to its backend when the backend takes one (useResponseGuard:
 * LocalRespBackend and ClusterRespBackend do); another backend is not limited. Until then a backend has
 * UNLIMITED.
 */
import { ResponseTooLargeError } from '../errors';
import { ResponseCap, UNCAPPED } from '../net/response-cap';

export class ResponseGuard {
  constructor(
    readonly cap: ResponseCap,
    private readonly counter: { responseTooLarge: number },
  ) {}

  get maxResponseBytes(): number {
    return this.cap.maxResponseBytes;
  }

  /** True when an MGET reply of at most `worst` bytes could be refused: only then is its exact size computed. */
  mayRefuse(worst: number): boolean {
    return this.cap.mayRefuse(worst);
  }

  /** Throws ResponseTooLargeError (counted) when an MGET reply of `size` bytes may not be sent now. */
  checkMget(size: number): void {
    this.refuseIf(this.cap.refusal(size));
  }

  /** Throws when a GET reply of `size` bytes may not be sent now: only a large one while the output budget is over. */
  checkGet(size: number): void {
    this.refuseIf(this.cap.busyRefusal(size));
  }

  /** A GET's value fetched from another member, once checked (checkGet): returned as it is. */
  checkedGet(value: Uint8Array | null): Uint8Array | null {
    if (value !== null) this.checkGet(bulkReplyBytes(value.length));
    return value;
  }

  /** MGET's values joined from the members, once their whole reply is checked (checkMget): returned as they are. */
  checkedMget<T extends ReadonlyArray<Uint8Array | null>>(values: T): T {
    this.checkMget(mgetReplyBytes(values));
    return values;
  }

  private refuseIf(refusal: string | null): void {
    if (refusal === null) return;
    this.counter.responseTooLarge++;
    throw new ResponseTooLargeError(`response too large: ${refusal}`);
  }
}

/** No limit (a backend no server has given a guard yet). */
export const UNLIMITED = new ResponseGuard(UNCAPPED, { responseTooLarge: 0 });

/** A backend that takes the server's guard. */
export interface GuardedBackend {
  useResponseGuard(guard: ResponseGuard): void;
}

export function acceptsResponseGuard(backend: object): backend is GuardedBackend {
  return typeof (backend as Partial<GuardedBackend>).useResponseGuard === 'function';
}

function digits(n: number): number {
  let d = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) d++;
  return d;
}

/** RESP bytes of a bulk reply of `length` bytes (`$len\r\n…\r\n`); a nil (`$-1\r\n`) is 5. */
export function bulkReplyBytes(length: number): number {
  return length + 5 + digits(length);
}

/** RESP bytes of an array's header (`*count\r\n`). */
function arrayHeaderBytes(count: number): number {
  return 3 + digits(count);
}

/** MGET's reply when every key holds a value of maxValueBytes: the most it can be. */
export function worstMgetReplyBytes(count: number, maxValueBytes: number): number {
  return arrayHeaderBytes(count) + count * bulkReplyBytes(maxValueBytes);
}

/** MGET's reply size for these values. */
export function mgetReplyBytes(values: ReadonlyArray<Uint8Array | null>): number {
  let size = arrayHeaderBytes(values.length);
  for (const value of values) size += value === null ? 5 : bulkReplyBytes(value.length);
  return size;
}
