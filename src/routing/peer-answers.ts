/**
 * Members as the key router sees them: who sends requests to them (PeerRequester, the node's PeerPool), and
 * what their binary answers mean as results. Each error status becomes the error a single node raises for the
 * same case, so a remote key answers with the local wording (NOT_INTEGER → NotIntegerError, OVERFLOW →
 * OverflowError, …).
 */
import {
  InvalidArgumentError,
  NotIntegerError,
  OutOfMemoryError,
  OverflowError,
  ServerError,
  ShuttingDownError,
  UnavailableError,
} from '../errors';
import { Status, statusName } from '../protocol/constants';
import type { RawResponse } from './sink';

export type { RawResponse };

/** Sends requests to other members (pooled, pipelined connections). Rejects when the peer is unreachable. */
export interface PeerRequester {
  request(
    peerId: string,
    opcode: number,
    flags: number,
    key: Uint8Array | null,
    value: Uint8Array | null,
    extras: number | bigint,
  ): Promise<RawResponse>;
}

const TWO_32 = 4294967296;

export function valueOf(owner: string, r: RawResponse): Buffer | null {
  if (r.status === Status.NOT_FOUND) return null;
  expectOk(owner, r);
  // RawResponse values are already copied out of the peer connection's read buffer.
  return r.value;
}

export function foundOrNot(owner: string, r: RawResponse): boolean {
  if (r.status === Status.NOT_FOUND) return false;
  expectOk(owner, r);
  return true;
}

export function storedOrNot(owner: string, r: RawResponse): boolean {
  if (r.status === Status.NOT_STORED) return false;
  expectOk(owner, r);
  return true;
}

/** The signed int64 in a response's extras (INCR's new value). */
export function int64Of(owner: string, r: RawResponse): bigint {
  expectOk(owner, r);
  return BigInt.asIntN(64, (BigInt(r.extrasHigh) << 32n) | BigInt(r.extrasLow));
}

/** A TTL answer's PTTL: ms left, −1 without expiry, −2 absent. */
export function pttlOf(owner: string, r: RawResponse): number {
  expectOk(owner, r);
  return (r.extrasHigh | 0) * TWO_32 + r.extrasLow;
}

/** Throws the error a single node would raise for the owner's error status (same wording). */
export function expectOk(owner: string, r: RawResponse): void {
  if (r.status === Status.OK) return;
  const message = r.value.toString('utf8');
  switch (r.status) {
    case Status.NOT_INTEGER:
      throw new NotIntegerError();
    case Status.OVERFLOW:
      throw new OverflowError();
    case Status.OUT_OF_MEMORY:
      throw new OutOfMemoryError(message);
    case Status.KEY_TOO_LARGE:
    case Status.VALUE_TOO_LARGE:
    case Status.BAD_ARGUMENT:
      throw new InvalidArgumentError(message);
    case Status.SHUTTING_DOWN: {
      const error = new ShuttingDownError();
      error.message = `the key's owner ${owner} is shutting down; retry once it has left (its keys move to other members)`;
      throw error;
    }
    case Status.UNAVAILABLE:
      throw new UnavailableError(`${owner}: ${message}`);
    default:
      throw new ServerError(`${owner} answered ${statusName(r.status)}${message === '' ? '' : `: ${message}`}`);
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
