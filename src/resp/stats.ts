/** Counters of the RESP listener, reported by INFO (stats and clients sections) next to the backend's. */
export class RespStats {
  readonly startedAt = Date.now();
  connections = 0;
  totalConnections = 0;
  rejectedConnections = 0;
  commands = 0;
  /** Error replies of every kind (-ERR, -NOPROTO, -OOM…). */
  errorReplies = 0;
  /** Connections closed for unparseable input (each got its "-ERR Protocol error: …" first). */
  protocolErrors = 0;
  /** Connections closed because a command stayed half-received longer than commandTimeoutMs. */
  commandTimeouts = 0;
  /** Connections closed because their queued replies passed the hard limit (a client that never reads). */
  outputLimitDisconnects = 0;
  /** Times a connection stopped being read because its replies piled up. */
  backpressurePauses = 0;
  bytesIn = 0;
  bytesOut = 0;
}
