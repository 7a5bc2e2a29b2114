/**
 * A RESP connection's password state (the node's token; user `default`, as Redis's requirepass). Until the
 * password is given the parser takes at most 10 arguments and 16 KiB per command (Redis's limits for an
 * unauthenticated client; a bigger command is a protocol error that closes the connection); more than
 * MAX_AUTH_FAILURES wrong passwords close it. Without a password any AUTH with user `default` passes.
 */
import { MAX_AUTH_FAILURES, PREAUTH_MAX_REQUEST_BYTES, type Authenticator } from '../net/auth';
import { argIs } from './resp-args';
import type { RespArgs } from './backend';
import type { ParserLimits } from './parser';
import type { RespStats } from './resp-stats';

export const NOAUTH = 'NOAUTH Authentication required.';

/** What an unauthenticated client may send (Redis: 10 arguments, 16 KiB bulk strings). */
const PREAUTH_PARSER_LIMITS: ParserLimits = {
  maxArgs: 10,
  maxBulkBytes: PREAUTH_MAX_REQUEST_BYTES,
  maxRequestBytes: PREAUTH_MAX_REQUEST_BYTES,
  maxInlineBytes: PREAUTH_MAX_REQUEST_BYTES,
};

export class ConnectionAuth {
  /** The password was given (or there is none). */
  authenticated: boolean;
  /** Too many wrong passwords: the connection closes after this reply. */
  exhausted = false;
  /** The connection's parser limits: the pre-auth ones until the password is given, then the server's (changed in place). */
  readonly parserLimits: ParserLimits;
  private failures = 0;

  constructor(
    private readonly auth: Authenticator,
    private readonly fullLimits: ParserLimits,
    private readonly stats: RespStats,
  ) {
    this.authenticated = !auth.required;
    this.parserLimits = { ...(this.authenticated ? fullLimits : PREAUTH_PARSER_LIMITS) };
  }

  /** AUTH / HELLO AUTH: argument `password` (and `user`, -1 when absent); see CommandContext.authenticate. */
  check(a: RespArgs, user: number, password: number): 'ok' | 'wrong' | 'nopass' {
    if (!this.auth.required) {
      // No password: Redis's default user is "nopass": any password with user default passes.
      if (user < 0) return 'nopass';
      return argIs(a, user, 'default') ? 'ok' : 'wrong';
    }
    // Both checks always run: the time taken does not say which one failed.
    const userOk = user < 0 || argIs(a, user, 'default');
    const start = a.offs[password]!;
    const passOk = this.auth.check(a.bufs[password]!.subarray(start, start + a.lens[password]!));
    if (userOk && passOk) {
      this.stats.authSuccesses++;
      if (!this.authenticated) {
        this.authenticated = true;
        Object.assign(this.parserLimits, this.fullLimits);
      }
      return 'ok';
    }
    this.stats.authFailures++;
    if (++this.failures > MAX_AUTH_FAILURES) {
      this.stats.authFailureDisconnects++;
      this.exhausted = true;
    }
    return 'wrong';
  }
}
