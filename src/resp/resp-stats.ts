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
  /**
   * Connections closed because their queued replies passed the hard limit (a client that never reads), or,
   * past the node-wide output budget, because they held the most without reading.
   */
  outputLimitDisconnects = 0;
  /** Connections closed past the node-wide input budget: they held the most for unfinished commands. */
  inputLimitDisconnects = 0;
  /** GET/MGET refused with "-ERR response too large" (over maxResponseBytes, or large while the output budget is over). */
  responseTooLarge = 0;
  /** Times a connection stopped being read because its replies piled up. */
  backpressurePauses = 0;
  /** Connections closed because their replies stayed above the high-water mark longer than slowReaderTimeoutMs. */
  slowReaderDisconnects = 0;
  /** Times a connection yielded after maxRequestsPerRead commands of one read. */
  connYields = 0;
  /** Times a connection stopped being read because too many replies awaited the backend. */
  inflightPauses = 0;
  /** Connections closed after idleTimeoutMs without traffic (Redis `timeout`). */
  idleKicks = 0;
  authSuccesses = 0;
  /** AUTH / HELLO AUTH with a wrong password (-WRONGPASS). */
  authFailures = 0;
  /** Commands refused with -NOAUTH. */
  authRequiredRejections = 0;
  /** Connections closed before authenticating: a command over 16 KiB (or over 10 arguments). */
  preauthLimitDisconnects = 0;
  /** Connections closed after more than 3 wrong passwords. */
  authFailureDisconnects = 0;
  bytesIn = 0;
  bytesOut = 0;
}
