/**
 * The smart client's second tries (docs/ARCHITECTURE.md, "Decisions", "Client retries"): a request whose
 * connection closed (the member left or crashed, the node reset it, the ring moved it to another connection) or
 * that a draining node refused goes again to the key's owner in a fresh topology, within the request's own
 * deadline. Whether it may go again is request-fate.ts's rule; this file is the loop.
 */
import { ClientClosedError, ConnectionError, TimeoutError } from '../errors';
import { opcodeName } from '../protocol/constants';
import type { NodeConnection } from './connection';
import { fateOf, outcomeUnknown, repeatable } from './request-fate';

/** Tries in all (the first included); the deadline bounds them too. */
export const MAX_ATTEMPTS = 8;
/** Pause before the third try and after, doubling: a node that drains refuses until its leave has spread. */
const FIRST_PAUSE_MS = 5;
const MAX_PAUSE_MS = 100;

/** What the loop needs of the client. */
export interface RetryHost {
  isClosed(): boolean;
  /** Identifies the ring requests are routed by now (a new one whenever the topology moves it). */
  routingRing(): object | undefined;
  /** Resolves once a topology fetched after this call has been applied (or the fetch failed). */
  freshTopology(): Promise<void>;
  /**
   * The connection for the key now (its owner, else for a read a live replica, else any live node; key null:
   * any live node), or null.
   */
  route(key: Uint8Array | string | null, opcode: number): NodeConnection | null;
}

export interface RetrySpec<T> {
  opcode: number;
  flags: number;
  key: Uint8Array | string | null;
  /** performance.now() after which the request has failed (issue time + timeoutMs). */
  deadline: number;
  /** The ring the failed try was routed by. */
  ring: object | undefined;
  send(connection: NodeConnection): Promise<T>;
}

/**
 * Sends the request again while its failure allows and its deadline has time left; rejects with the error a
 * caller should see (never ClientClosedError while the client is open).
 */
export async function retryRequest<T>(host: RetryHost, spec: RetrySpec<T>, first: unknown): Promise<T> {
  let error = first;
  let ring = spec.ring;
  let unavailable = 0;
  for (let attempt = 1; ; attempt++) {
    if (host.isClosed()) throw error instanceof ClientClosedError ? error : new ClientClosedError();
    const fate = fateOf(error);
    if (fate === 'final') throw visible(error);
    if (!repeatable(spec.opcode, spec.flags)) {
      // Run at most once: again only when it certainly did not run.
      if (fate === 'maybe-applied') throw outcomeUnknown(spec.opcode, spec.flags, error as Error);
      if (fate === 'unavailable') throw error;
    }
    if (attempt >= MAX_ATTEMPTS || performance.now() >= spec.deadline) throw visible(error);
    if (attempt >= 2) await pause(Math.min(MAX_PAUSE_MS, FIRST_PAUSE_MS * 2 ** (attempt - 2)), spec.deadline);
    await withinDeadline(host.freshTopology(), spec.deadline).catch(() => undefined);
    if (host.isClosed()) throw new ClientClosedError();
    // UNAVAILABLE: the node that forwarded could not reach the owner. Its view may have been behind (the owner
    // had just left): one more try; after that only a moved ring names another owner, else the answer stands.
    if (fate === 'unavailable' && ++unavailable > 1 && host.routingRing() === ring) throw error;
    const connection = host.route(spec.key, spec.opcode);
    if (connection === null) throw visible(error);
    ring = host.routingRing();
    const left = spec.deadline - performance.now();
    if (left <= 0) throw visible(error);
    try {
      return await withinDeadline(spec.send(connection), spec.deadline, () => retryTimeout(spec, connection, attempt, error));
    } catch (next) {
      error = next;
    }
  }
}

/** ERR_CLIENT_CLOSED is for a client the user closed; a connection this client closed is a connection error. */
function visible(error: unknown): unknown {
  if (error instanceof ClientClosedError)
    return new ConnectionError(`the connection closed with the request outstanding (${error.message})`);
  return error;
}

function retryTimeout(spec: RetrySpec<unknown>, connection: NodeConnection, attempt: number, previous: unknown): TimeoutError {
  const why = previous instanceof Error ? previous.message : String(previous);
  return new TimeoutError(
    `${opcodeName(spec.opcode)} to ${connection.address.id} timed out after ${connection.timeoutMs} ms (timeoutMs) ` +
      `on try ${attempt + 1}, sent again after: ${why}`,
  );
}

function pause(ms: number, deadline: number): Promise<void> {
  const wait = Math.min(ms, deadline - performance.now());
  return wait <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, wait));
}

/** `promise`, or a rejection (timeout(), else undefined) once the deadline passes, whichever comes first. */
function withinDeadline<T>(promise: Promise<T>, deadline: number, timeout?: () => Error): Promise<T> {
  const left = deadline - performance.now();
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(timeout?.()), Math.max(0, left));
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * performance.now() read at most once per run of synchronous code: requests issued together share the reading,
 * so a request's deadline costs no clock read of its own (the connection stamps its batches the same way).
 */
export class TurnClock {
  private value = 0;
  private valid = false;
  private readonly expire = (): void => {
    this.valid = false;
  };

  now(): number {
    if (!this.valid) {
      this.valid = true;
      this.value = performance.now();
      queueMicrotask(this.expire);
    }
    return this.value;
  }
}
