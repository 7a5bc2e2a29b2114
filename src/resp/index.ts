/**
 * The Redis-protocol (RESP2) port: what the node, the CLI and a cluster backend need.
 *
 *   parser.ts + inline.ts   resumable request parser (arrays of bulk strings, inline lines), views into reads
 *   writer.ts               RESP2 reply encoder into the shared OutputBatch
 *   commands*.ts            the command table and the commands, Redis 7.2 semantics and error wording
 *   backend.ts              RespBackend: what commands need from the data (sync or Promise per call)
 *   local-backend.ts        LocalRespBackend over one node's Store (all synchronous; node-only scope)
 *   cluster-backend.ts      ClusterRespBackend: keys routed to their ring owner (forwarded once), cluster-wide
 *                           DBSIZE/FLUSHALL/INFO (cluster-scope.ts), owners' answers (cluster-wire.ts)
 *   connection.ts           per-read batching, in-order replies across async answers, backpressure
 *   connection-auth.ts      a connection's password state and pre-auth limits
 *   response-guard.ts       reply size: MGET over maxResponseBytes, large replies while output is over budget
 *   server.ts               RespServer / startRespServer: listener, limits, graceful close
 *   node-resp.ts            createNodeRespServer: the port configured from a node's options (startNode)
 *
 * Decisions: RESP2 only (HELLO 3 → NOPROTO); one database (SELECT 0); no password yet (AUTH answers as Redis
 * does without requirepass); empty keys are refused (the store needs ≥ 1 byte); strings only (no lists,
 * hashes…: those are unknown commands); a bulk string may be up to maxValueBytes + 64 KiB (beyond: protocol
 * error and close); at most 131,072 arguments and max(64 MiB, 2 × the bulk limit) declared per command
 * (server.ts); inline lines ≤ 64 KiB with sdssplitargs quoting. Memory held for requests counts in the
 * node-wide budgets (src/server/budget-shares.ts); replies are bounded by maxResponseBytes (response-guard.ts).
 */
export {
  ExpireFlags,
  REPLIED,
  SetFlags,
  type BackendInfo,
  type InfoFields,
  type MaybePromise,
  type Replied,
  type RespArgs,
  type RespBackend,
} from './backend';
export { LocalRespBackend, type LocalRespBackendOptions } from './local-backend';
export { ClusterRespBackend, type RespClusterView } from './cluster-backend';
export { createNodeRespServer, type NodeRespLimits, type NodeRespOptions } from './node-resp';
export { RespParser, PARSE_COMMAND, PARSE_ERROR, PARSE_NEED_MORE, type ParserLimits } from './parser';
export { RespServer, startRespServer, BULK_SLACK, type RespServerOptions } from './server';
export { RespStats } from './stats';
export { RespWriter } from './writer';
