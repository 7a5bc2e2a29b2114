/**
 * The server's counters, reported by STATS next to the store's own. Names follow memcached and Redis where
 * they have one (curr_connections → connections, rejected_connections, …) so operators recognise them.
 */
import { opcodeName } from '../protocol/constants';

export class ServerStats {
  readonly startedAt = Date.now();
  connections = 0;
  totalConnections = 0;
  rejectedConnections = 0;
  /** Bad magic, bad version, oversized frames: connections closed for unparseable input. */
  protocolErrors = 0;
  frameTimeouts = 0;
  /** Connections closed because their queued output passed the hard limit (a client that never reads). */
  outputLimitDisconnects = 0;
  /** Connections closed because the node's input budget (--input-total-limit) was full and they held the most. */
  inputLimitDisconnects = 0;
  /** Requests refused because their response would be over the largest response a request may get. */
  responseTooLarge = 0;
  /** Times a connection stopped being read because its output passed the high-water mark. */
  backpressurePauses = 0;
  /** Connections closed because their output stayed above the high-water mark longer than slowReaderTimeoutMs. */
  slowReaderDisconnects = 0;
  /** Times a connection stopped being read because maxInflightPerConnection replies were pending. */
  inflightPauses = 0;
  /** Times a connection yielded after maxRequestsPerRead requests of one read (memcached conn_yields). */
  connYields = 0;
  /** Connections closed after idleTimeoutMs without traffic (memcached idle_kicks). */
  idleKicks = 0;
  /** AUTH requests that succeeded / carried a wrong token. */
  authSuccesses = 0;
  authFailures = 0;
  /** Requests refused with AUTH_REQUIRED because the connection had not authenticated. */
  authRequiredRejections = 0;
  /**
   * Member-only requests (membership messages, forwarded requests) from a connection that is not an
   * authenticated member, or a member's message sent in another member's name: answered FORBIDDEN and closed.
   */
  memberOnlyRefusals = 0;
  /** Member handshakes (MEMBER_HELLO) that proved their id, and those refused. */
  memberHandshakes = 0;
  memberHandshakeFailures = 0;
  /** Connections closed before authenticating: a frame over 16 KiB, or more than 3 failed AUTH attempts. */
  preauthFrameTooLarge = 0;
  authFailureDisconnects = 0;
  bytesIn = 0;
  bytesOut = 0;
  commands = 0;
  errorResponses = 0;
  readonly commandsByOpcode = new Uint32Array(256);

  snapshot(): Record<string, unknown> {
    const byOpcode: Record<string, number> = {};
    this.commandsByOpcode.forEach((count, opcode) => {
      if (count > 0) byOpcode[opcodeName(opcode)] = count;
    });
    return {
      uptimeMs: Date.now() - this.startedAt,
      connections: this.connections,
      totalConnections: this.totalConnections,
      rejectedConnections: this.rejectedConnections,
      protocolErrors: this.protocolErrors,
      frameTimeouts: this.frameTimeouts,
      outputLimitDisconnects: this.outputLimitDisconnects,
      inputLimitDisconnects: this.inputLimitDisconnects,
      responseTooLarge: this.responseTooLarge,
      backpressurePauses: this.backpressurePauses,
      slowReaderDisconnects: this.slowReaderDisconnects,
      inflightPauses: this.inflightPauses,
      connYields: this.connYields,
      idleKicks: this.idleKicks,
      authSuccesses: this.authSuccesses,
      authFailures: this.authFailures,
      authRequiredRejections: this.authRequiredRejections,
      memberOnlyRefusals: this.memberOnlyRefusals,
      memberHandshakes: this.memberHandshakes,
      memberHandshakeFailures: this.memberHandshakeFailures,
      preauthFrameTooLarge: this.preauthFrameTooLarge,
      authFailureDisconnects: this.authFailureDisconnects,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      commands: this.commands,
      errorResponses: this.errorResponses,
      commandsByOpcode: byOpcode,
    };
  }
}
