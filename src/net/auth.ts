/**
 * Authentication of clients: a token checked in constant time, and the protected-mode rule that a node
 * reachable beyond loopback must have one. Members prove a separate secret (member-auth.ts).
 *
 * Constant time: both sides are hashed with SHA-256 first and the fixed-length digests compared with
 * crypto.timingSafeEqual, so neither the position of the first differing byte nor the token's length leaks
 * through the time a wrong guess takes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../errors';
import { formatHostPort, isLoopbackHost, type HostPort } from './address';

/** Before authenticating, a frame (binary) or command (RESP) declaring more than this closes the connection. */
export const PREAUTH_MAX_REQUEST_BYTES = 16 * 1024;
/** Failed AUTH attempts a connection may make; one more closes it. */
export const MAX_AUTH_FAILURES = 3;
/** Longest token accepted (it must fit, with room, in a pre-auth frame). */
export const MAX_TOKEN_BYTES = 1024;
/** The environment variable the CLI reads the token from when --auth-token is not given. */
export const AUTH_TOKEN_ENV = 'DCACHE_AUTH_TOKEN';
/** The environment variable the CLI reads the members' secret from when --cluster-token is not given. */
export const CLUSTER_TOKEN_ENV = 'DCACHE_CLUSTER_TOKEN';

function digest(token: string | Uint8Array): Buffer {
  return createHash('sha256').update(token).digest();
}

/** True when both tokens are the same bytes; takes the same time whatever they are (lengths included). */
export function tokensEqual(a: string | Uint8Array, b: string | Uint8Array): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** Holds the configured token's digest (never the token) and checks candidates against it. */
export class Authenticator {
  private readonly expected: Buffer | undefined;

  constructor(token: string | undefined) {
    this.expected = token === undefined ? undefined : digest(token);
  }

  /** True when connections must authenticate before any other command. */
  get required(): boolean {
    return this.expected !== undefined;
  }

  /** True when the candidate is the token (false when none is configured). */
  check(candidate: Uint8Array): boolean {
    if (this.expected === undefined) return false;
    return timingSafeEqual(digest(candidate), this.expected);
  }
}

/** Checks a configured token: 1..MAX_TOKEN_BYTES bytes of UTF-8 without control characters. */
export function validateToken(token: unknown, what = 'authToken'): string | undefined {
  if (token === undefined) return undefined;
  if (typeof token !== 'string') throw new ConfigError(`${what} must be a string`);
  const bytes = Buffer.byteLength(token, 'utf8');
  if (bytes === 0) throw new ConfigError(`${what} must not be empty (unset it, or set a long random string)`);
  if (bytes > MAX_TOKEN_BYTES) throw new ConfigError(`${what} is ${bytes} bytes; the limit is ${MAX_TOKEN_BYTES} bytes`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f]/.test(token)) throw new ConfigError(`${what} must not contain spaces or control characters`);
  return token;
}

/**
 * Protected mode: a listener on a non-loopback address without a token refuses to start, unless the operator
 * said they accept the risk. Thrown before anything listens.
 */
export function checkProtectedMode(
  listeners: Array<[string, HostPort | undefined]>,
  token: string | undefined,
  insecureNoAuth: boolean,
): void {
  if (token !== undefined || insecureNoAuth) return;
  for (const [flag, address] of listeners) {
    if (address === undefined || isLoopbackHost(address.host)) continue;
    throw new ConfigError(
      `refusing to listen on ${formatHostPort(address)} (${flag}) without authentication: anyone who can reach it could read ` +
        `and change the cache. Set a token with --auth-token TOKEN or the ${AUTH_TOKEN_ENV} environment variable ` +
        `(authToken in startNode), bind a loopback address (:PORT is 127.0.0.1), or pass --insecure-no-auth ` +
        `(insecureNoAuth) to accept the risk`,
    );
  }
}
