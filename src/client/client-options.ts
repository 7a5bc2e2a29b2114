/** Client options: defaults and checks, all done at construction (a bad option throws there, not later). */
import { constants as bufferConstants } from 'node:buffer';
import { ConfigError } from '../errors';
import { MAX_WIRE_VALUE_BYTES } from '../protocol/constants';
import { type NodeAddress, describe, parseNodeList } from './node-address';
import { DEFAULT_MAX_RESPONSE_BYTES } from './connection-options';

export interface ClientOptions {
  /** Node addresses, "HOST:PORT" or ":PORT" (127.0.0.1). Requests go to the first reachable one, in order. */
  nodes: string[];
  /** Deadline of every request, from the moment it is issued; default 1000. */
  timeoutMs?: number;
  /** Bound on one connect attempt; default 1000. */
  connectTimeoutMs?: number;
  /** Requests in flight or queued per node; past it a request fails at once with QueueFullError. Default 10000. */
  maxPending?: number;
  /**
   * Largest response body accepted; a bigger one is treated as a framing error (the connection closes). The
   * default (about 256 MiB) fits any GET and any MGET frame (at most 256 keys) from a node whose values are
   * at most 1 MiB; raise it for nodes with a larger --max-value-size.
   */
  maxResponseBytes?: number;
  /**
   * 'smart' (default): the client fetches the cluster's topology from any node, routes each key straight to
   * its owner with the same ring, refreshes when a response shows a changed epoch or a node fails, and falls
   * back to any live node. 'proxy': every request goes to one node (the first reachable of `nodes`), which
   * forwards what it does not own.
   */
  routing?: 'proxy' | 'smart';
  /**
   * The cluster's token (nodes started with --auth-token): sent as the first frame of every connection and
   * reconnection. A wrong token fails requests with AuthError (code ERR_AUTH).
   */
  authToken?: string;
}

export interface ResolvedClientOptions {
  nodes: NodeAddress[];
  timeoutMs: number;
  connectTimeoutMs: number;
  maxPending: number;
  maxResponseBytes: number;
  routing: 'proxy' | 'smart';
  authToken: string | undefined;
}

/** Node's timers cap out at 2^31 - 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const MAX_PENDING_LIMIT = 2 ** 24;
/** What a u32 value length can declare, capped by what a Buffer can hold. */
const MAX_RESPONSE_LIMIT = Math.min(MAX_WIRE_VALUE_BYTES, bufferConstants.MAX_LENGTH);

function duration(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number of milliseconds, got ${describe(value)}`);
  if (!Number.isFinite(value) || value <= 0 || value > MAX_TIMER_MS) {
    throw new ConfigError(`${name} must be a number of milliseconds in (0, ${MAX_TIMER_MS}], got ${value}`);
  }
  return value;
}

export function resolveClientOptions(options: unknown): ResolvedClientOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`Client options must be an object like { nodes: ['127.0.0.1:7000'] }, got ${describe(options)}`);
  }
  const o = options as Partial<Record<keyof ClientOptions, unknown>>;
  const nodes = parseNodeList(o.nodes);
  const timeoutMs = duration(o.timeoutMs, 'timeoutMs', 1000);
  const connectTimeoutMs = duration(o.connectTimeoutMs, 'connectTimeoutMs', 1000);
  let maxPending = 10_000;
  if (o.maxPending !== undefined) {
    if (typeof o.maxPending !== 'number') throw new TypeError(`maxPending must be a number, got ${describe(o.maxPending)}`);
    if (!Number.isSafeInteger(o.maxPending) || o.maxPending < 1 || o.maxPending > MAX_PENDING_LIMIT) {
      throw new ConfigError(`maxPending must be an integer in [1, ${MAX_PENDING_LIMIT}], got ${o.maxPending}`);
    }
    maxPending = o.maxPending;
  }
  let maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES;
  if (o.maxResponseBytes !== undefined) {
    if (typeof o.maxResponseBytes !== 'number') {
      throw new TypeError(`maxResponseBytes must be a number, got ${describe(o.maxResponseBytes)}`);
    }
    if (!Number.isSafeInteger(o.maxResponseBytes) || o.maxResponseBytes < 1 || o.maxResponseBytes > MAX_RESPONSE_LIMIT) {
      throw new ConfigError(`maxResponseBytes must be an integer in [1, ${MAX_RESPONSE_LIMIT}], got ${o.maxResponseBytes}`);
    }
    maxResponseBytes = o.maxResponseBytes;
  }
  if (o.routing !== undefined && o.routing !== 'proxy' && o.routing !== 'smart') {
    throw new ConfigError(`routing must be 'smart' or 'proxy', got ${describe(o.routing)}`);
  }
  if (o.authToken !== undefined) {
    if (typeof o.authToken !== 'string') throw new TypeError(`authToken must be a string, got ${describe(o.authToken)}`);
    if (o.authToken.length === 0) throw new ConfigError('authToken must not be empty (leave it out when the nodes have none)');
  }
  const authToken = o.authToken as string | undefined;
  return { nodes, timeoutMs, connectTimeoutMs, maxPending, maxResponseBytes, routing: o.routing ?? 'smart', authToken };
}
