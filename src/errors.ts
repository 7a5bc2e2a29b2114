/**
 * Typed errors with stable codes. Every error the library raises on purpose is a DCacheError (or one of
 * Node's own TypeError/RangeError for argument-shape mistakes caught at the API boundary), so callers can
 * switch on `err.code` instead of parsing messages. Codes never change once published.
 */

export type ErrorCode =
  | 'ERR_KEY_EMPTY'
  | 'ERR_KEY_TOO_LARGE'
  | 'ERR_VALUE_TOO_LARGE'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_NOT_INTEGER'
  | 'ERR_OVERFLOW'
  | 'ERR_OUT_OF_MEMORY'
  | 'ERR_STORE_CLOSED'
  | 'ERR_PROTOCOL'
  | 'ERR_FRAME_TOO_LARGE'
  | 'ERR_UNKNOWN_OPCODE'
  | 'ERR_TIMEOUT'
  | 'ERR_CONNECTION'
  | 'ERR_QUEUE_FULL'
  | 'ERR_CLIENT_CLOSED'
  | 'ERR_SHUTTING_DOWN'
  | 'ERR_SERVER'
  | 'ERR_UNAVAILABLE'
  | 'ERR_CONFIG'
  | 'ERR_AUTH'
  | 'ERR_FORBIDDEN'
  | 'ERR_RESPONSE_TOO_LARGE'
  | 'ERR_OUTCOME_UNKNOWN';

export class DCacheError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The key is zero bytes long. */
export class KeyEmptyError extends DCacheError {
  constructor() {
    super('ERR_KEY_EMPTY', 'key must not be empty');
  }
}

/** The key (as UTF-8 bytes) is longer than the configured maximum. */
export class KeyTooLargeError extends DCacheError {
  constructor(
    readonly length: number,
    readonly limit: number,
  ) {
    super('ERR_KEY_TOO_LARGE', `key is ${length} bytes; the limit is ${limit} bytes (maxKeyBytes)`);
  }
}

/** The value is longer than the configured maximum. */
export class ValueTooLargeError extends DCacheError {
  constructor(
    readonly length: number,
    readonly limit: number,
  ) {
    super('ERR_VALUE_TOO_LARGE', `value is ${length} bytes; the limit is ${limit} bytes (maxValueBytes / --max-value-size)`);
  }
}

/** An argument has the right type but an unusable value (a negative TTL, a fractional delta…). */
export class InvalidArgumentError extends DCacheError {
  constructor(message: string) {
    super('ERR_INVALID_ARGUMENT', message);
  }
}

/** INCR on a value that is not a decimal signed 64-bit integer. */
export class NotIntegerError extends DCacheError {
  constructor() {
    super('ERR_NOT_INTEGER', 'value is not an integer or out of range');
  }
}

/** INCR whose result would leave the signed 64-bit range. */
export class OverflowError extends DCacheError {
  constructor() {
    super('ERR_OVERFLOW', 'increment or decrement would overflow a signed 64-bit integer');
  }
}

/** The item cannot be stored even after eviction (the memory limit is smaller than one page of its class). */
export class OutOfMemoryError extends DCacheError {
  constructor(message: string) {
    super('ERR_OUT_OF_MEMORY', message);
  }
}

/** The store was closed; it accepts no more commands. */
export class StoreClosedError extends DCacheError {
  constructor() {
    super('ERR_STORE_CLOSED', 'the store is closed');
  }
}

/** Bytes on the wire that do not form a valid frame. */
export class ProtocolError extends DCacheError {
  constructor(message: string) {
    super('ERR_PROTOCOL', message);
  }
}

/** A frame declares more bytes than the limit allows; nothing was allocated for it. */
export class FrameTooLargeError extends DCacheError {
  constructor(
    readonly length: number,
    readonly limit: number,
  ) {
    super('ERR_FRAME_TOO_LARGE', `frame body is ${length} bytes; the limit is ${limit} bytes`);
  }
}

/** The server does not know the opcode. */
export class UnknownOpcodeError extends DCacheError {
  constructor(readonly opcode: number) {
    super('ERR_UNKNOWN_OPCODE', `unknown opcode 0x${opcode.toString(16).padStart(2, '0')}`);
  }
}

/** A request did not complete before its deadline. */
export class TimeoutError extends DCacheError {
  constructor(message: string) {
    super('ERR_TIMEOUT', message);
  }
}

/** The connection could not be made or was lost with the request outstanding. */
export class ConnectionError extends DCacheError {
  constructor(message: string) {
    super('ERR_CONNECTION', message);
  }
}

/** The client's queue of pending requests is full; the request was not sent. */
export class QueueFullError extends DCacheError {
  constructor(readonly limit: number) {
    super('ERR_QUEUE_FULL', `too many pending requests (limit ${limit}, maxPending); wait for responses or raise the limit`);
  }
}

/** The client was closed before or while the request ran. */
export class ClientClosedError extends DCacheError {
  constructor() {
    super('ERR_CLIENT_CLOSED', 'the client is closed');
  }
}

/** The node is draining for shutdown; retry on another node. */
export class ShuttingDownError extends DCacheError {
  constructor() {
    super('ERR_SHUTTING_DOWN', 'the node is shutting down; retry on another node');
  }
}

/** The server answered with an error status that has no more specific class. */
export class ServerError extends DCacheError {
  constructor(message: string) {
    super('ERR_SERVER', message);
  }
}

/** The key's owner could not be reached. */
export class UnavailableError extends DCacheError {
  constructor(message: string) {
    super('ERR_UNAVAILABLE', message);
  }
}

/** A configuration value is unusable (CLI flags, startNode options). */
export class ConfigError extends DCacheError {
  constructor(message: string) {
    super('ERR_CONFIG', message);
  }
}

/** Authentication failed or is required. */
export class AuthError extends DCacheError {
  constructor(message: string) {
    super('ERR_AUTH', message);
  }
}

/** A member-only request from a connection that is not an authenticated member (a client speaking for the cluster). */
export class ForbiddenError extends DCacheError {
  constructor(message: string) {
    super('ERR_FORBIDDEN', message);
  }
}

/** The response would exceed what the node sends for one request; nothing was allocated for it. */
export class ResponseTooLargeError extends DCacheError {
  constructor(message: string) {
    super('ERR_RESPONSE_TOO_LARGE', message);
  }
}

/**
 * The connection closed after the request was sent and before its answer, and the request is not one the
 * client sends twice (INCR, SET NX): it may or may not have been applied. `cause` is the connection's error.
 */
export class OutcomeUnknownError extends DCacheError {
  constructor(
    message: string,
    override readonly cause: Error,
  ) {
    super('ERR_OUTCOME_UNKNOWN', message);
  }
}
