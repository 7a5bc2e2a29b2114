/**
 * Error statuses → typed errors. The code comes from STATUS_ERROR_CODES (the protocol's single mapping); the
 * message is the server's (the response value), so the caller sees what the server said to change.
 */
import {
  AuthError,
  ConnectionError,
  DCacheError,
  type ErrorCode,
  FrameTooLargeError,
  InvalidArgumentError,
  KeyTooLargeError,
  NotIntegerError,
  OutOfMemoryError,
  OverflowError,
  ProtocolError,
  ServerError,
  ShuttingDownError,
  UnavailableError,
  UnknownOpcodeError,
  ValueTooLargeError,
  ForbiddenError,
  ResponseTooLargeError,
} from '../errors';
import { STATUS_ERROR_CODES, opcodeName, statusName } from '../protocol/constants';

/** "N bytes; the limit is M bytes" → [N, M] (NaN when the server phrased it otherwise). */
function sizes(message: string): [number, number] {
  const m = /(\d+) bytes; the limit is (\d+)/.exec(message);
  return m === null ? [Number.NaN, Number.NaN] : [Number(m[1]), Number(m[2])];
}

function withMessage<E extends DCacheError>(error: E, message: string): E {
  if (message.length > 0) error.message = message;
  return error;
}

function build(code: ErrorCode | undefined, opcode: number, status: number, message: string): DCacheError {
  switch (code) {
    case 'ERR_PROTOCOL':
      return new ProtocolError(message || 'the server could not parse a request (MALFORMED)');
    case 'ERR_KEY_TOO_LARGE': {
      const [length, limit] = sizes(message);
      return withMessage(new KeyTooLargeError(length, limit), message);
    }
    case 'ERR_VALUE_TOO_LARGE': {
      const [length, limit] = sizes(message);
      return withMessage(new ValueTooLargeError(length, limit), message);
    }
    case 'ERR_FRAME_TOO_LARGE': {
      const [length, limit] = sizes(message);
      return withMessage(new FrameTooLargeError(length, limit), message);
    }
    case 'ERR_UNKNOWN_OPCODE':
      return withMessage(new UnknownOpcodeError(opcode), message);
    case 'ERR_NOT_INTEGER':
      return withMessage(new NotIntegerError(), message);
    case 'ERR_INVALID_ARGUMENT':
      return new InvalidArgumentError(message || `the server rejected an argument of ${opcodeName(opcode)}`);
    case 'ERR_OVERFLOW':
      return withMessage(new OverflowError(), message);
    case 'ERR_SHUTTING_DOWN':
      return withMessage(new ShuttingDownError(), message);
    case 'ERR_CONNECTION':
      return new ConnectionError(message || 'the server refused the connection');
    case 'ERR_UNAVAILABLE':
      return new UnavailableError(message || "the key's owner could not be reached");
    case 'ERR_AUTH':
      return new AuthError(message || 'the connection must authenticate first');
    case 'ERR_OUT_OF_MEMORY':
      return new OutOfMemoryError(message || 'the server is out of memory');
    case 'ERR_SERVER':
      return new ServerError(message || 'internal server error');
    case 'ERR_FORBIDDEN':
      return new ForbiddenError(message || 'only an authenticated cluster member may send this');
    case 'ERR_RESPONSE_TOO_LARGE':
      return new ResponseTooLargeError(message || 'the response would be larger than the node sends for one request');
    default:
      return new ServerError(`${opcodeName(opcode)} failed with status ${statusName(status)}${message ? `: ${message}` : ''}`);
  }
}

/** The typed error for an error status (≥ 0x80) of a response to `opcode`, with the server's message. */
export function errorForStatus(status: number, opcode: number, message: string): DCacheError {
  return build(STATUS_ERROR_CODES[status], opcode, status, message);
}
