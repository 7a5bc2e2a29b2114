/**
 * The errors a NodeConnection fails requests with, worded once: each says which node, what happened, and what
 * the caller can do (fail over, wait, check a token).
 */
import { AuthError, ConnectionError, DCacheError, QueueFullError, TimeoutError } from '../errors';
import { Opcode, opcodeName, statusName } from '../protocol/constants';

/** A request refused because the node's socket holds more unsent bytes than maxQueuedBytes. */
export function congestedError(maxPending: number, nodeId: string, queuedBytes: number, maxQueuedBytes: number): QueueFullError {
  const error = new QueueFullError(maxPending);
  error.message =
    `${queuedBytes} bytes of requests wait to be sent to ${nodeId}, which is not ` +
    `reading them (limit ${maxQueuedBytes} bytes); wait for the node or fail over`;
  return error;
}

/** A request while the node is known down (backing off): fail fast so the caller can fail over. */
export function nodeDownError(nodeId: string, lastError: Error | null): Error {
  if (lastError instanceof AuthError) return lastError;
  return new ConnectionError(`node ${nodeId} is down (${lastError?.message ?? 'not connected'}); reconnecting in the background`);
}

export function timeoutError(opcode: number, nodeId: string, timeoutMs: number, connecting: boolean): TimeoutError {
  return new TimeoutError(
    `${opcodeName(opcode)} to ${nodeId} timed out after ${timeoutMs} ms (timeoutMs)` + (connecting ? ' while connecting' : ''),
  );
}

/** The node refused the AUTH token or the member hello (`opcode` says which). */
export function authFailedError(nodeId: string, opcode: number, message: string, status: number): AuthError {
  const what = opcode === Opcode.AUTH ? 'client option authToken' : 'member handshake';
  return new AuthError(`authentication to ${nodeId} failed: ${message || statusName(status)} (${what})`);
}

/** The node answered with a status that closes the connection. */
export function closedByNodeError(nodeId: string, status: number, message: string): ConnectionError {
  return new ConnectionError(`${nodeId} closed the connection (${statusName(status)}${message ? `: ${message}` : ''})`);
}

/**
 * What the requests outstanding on a socket that closed fail with: the typed cause when there is one; else a
 * lost connection (the request may have run: never resent) or a failed connect.
 */
export function socketClosedError(nodeId: string, cause: Error | null, wasReady: boolean): Error {
  if (cause instanceof DCacheError) return cause;
  if (wasReady) {
    return new ConnectionError(`connection to ${nodeId} lost${cause ? `: ${cause.message}` : ''}; the request may or may not have run`);
  }
  return new ConnectionError(`cannot connect to ${nodeId}: ${cause ? cause.message : 'connection closed'}`);
}

/** For requests still waiting to be written when the connection was lost: they never left. */
export function notSentError(nodeId: string, cause: Error | null): ConnectionError {
  return new ConnectionError(`connection to ${nodeId} lost${cause ? ` (${cause.message})` : ''} before the request was sent`);
}
