/**
 * The RESP port as a node runs it: the node's limits (connections, value size, memory, frame timeout, output
 * marks, drain time, idle timeout, fairness, in-flight cap, largest response) and its auth token carried over
 * from its resolved options, its node-wide memory budgets (shared with the binary port), and LocalRespBackend
 * over its store unless a backend is given (the cluster passes its own). startNode calls this when `respAddr` is set.
 */
import type { Store } from '../cache/store';
import type { NodeBudgets } from '../net/held-memory';
import type { Logger } from '../logger';
import type { ResolvedNodeOptions } from './node-options';
import type { RespBackend } from '../resp/backend';
import { LocalRespBackend } from '../resp/local-backend';
import { RespServer } from '../resp/resp-server';

export type NodeRespLimits = Pick<
  ResolvedNodeOptions,
  | 'maxConnections'
  | 'maxValueBytes'
  | 'maxMemoryBytes'
  | 'frameTimeoutMs'
  | 'outputHighWaterBytes'
  | 'outputHardLimitBytes'
  | 'drainTimeoutMs'
> &
  Partial<
    Pick<
      ResolvedNodeOptions,
      | 'authToken'
      | 'idleTimeoutMs'
      | 'maxInflightPerConnection'
      | 'maxRequestsPerRead'
      | 'slowReaderTimeoutMs'
      | 'maxResponseBytes'
      | 'readBufferBytes'
    >
  >;

export interface NodeRespOptions {
  /** `--resp-addr`: `:PORT`, `HOST:PORT`. */
  addr: string;
  store: Store;
  limits: NodeRespLimits;
  logger: Logger;
  /** The store's clock, when it was given one (tests). */
  clock?: () => number;
  /** Default: LocalRespBackend over `store` (this node only). */
  backend?: RespBackend;
  /** The node's budgets (the binary port's): input held for unfinished commands, output queued for clients. Default: the server's own. */
  budgets?: NodeBudgets;
}

/** A RespServer configured like the node's binary listener; call listen() on it. */
export function createNodeRespServer(options: NodeRespOptions): RespServer {
  const { limits } = options;
  return new RespServer({
    addr: options.addr,
    backend: options.backend ?? new LocalRespBackend(options.store, options.clock ? { clock: options.clock } : {}),
    logger: options.logger,
    maxConnections: limits.maxConnections,
    maxValueBytes: limits.maxValueBytes,
    maxMemoryBytes: limits.maxMemoryBytes,
    commandTimeoutMs: limits.frameTimeoutMs,
    outputHighWaterBytes: limits.outputHighWaterBytes,
    outputHardLimitBytes: limits.outputHardLimitBytes,
    drainTimeoutMs: limits.drainTimeoutMs,
    ...(limits.authToken === undefined ? {} : { authToken: limits.authToken }),
    ...(limits.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: limits.idleTimeoutMs }),
    ...(limits.maxInflightPerConnection === undefined ? {} : { maxPendingReplies: limits.maxInflightPerConnection }),
    ...(limits.maxRequestsPerRead === undefined ? {} : { maxRequestsPerRead: limits.maxRequestsPerRead }),
    ...(limits.slowReaderTimeoutMs === undefined ? {} : { slowReaderTimeoutMs: limits.slowReaderTimeoutMs }),
    ...(limits.readBufferBytes === undefined ? {} : { readBufferBytes: limits.readBufferBytes }),
    ...(limits.maxResponseBytes === undefined ? {} : { maxResponseBytes: limits.maxResponseBytes }),
    ...(options.budgets === undefined ? {} : { budgets: options.budgets }),
  });
}
