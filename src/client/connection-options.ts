/**
 * What a NodeConnection is told (timeouts, bounds, backoff, credentials, hooks) and the states it reports.
 * The defaults the connection applies are the constants here.
 */
import type * as net from 'node:net';
import { DEFAULT_MAX_VALUE_BYTES } from '../protocol/constants';
import type { BufferPool } from '../protocol/buffer-pool';
import type { NodeConnection } from './connection';
import { MGET_KEYS_PER_FRAME } from './multi-plan';

/** Room for an MGET frame's worst case against a node with the default value limit, plus slack. */
export const DEFAULT_MAX_RESPONSE_BYTES = MGET_KEYS_PER_FRAME * (4 + DEFAULT_MAX_VALUE_BYTES) + 64 * 1024;
/**
 * Bytes of requests the socket may hold beyond what the kernel took. maxPending bounds the requests tracked,
 * but a node that stops reading (a frozen process) leaves the bytes of requests that already timed out in the
 * socket: past this, new requests fail with QueueFullError until the socket drains.
 */
export const MAX_QUEUED_BYTES = 64 * 1024 * 1024;

export type ConnectionState = 'idle' | 'connecting' | 'ready' | 'backoff' | 'closed';

export interface NodeConnectionOptions {
  timeoutMs: number;
  connectTimeoutMs: number;
  /** Requests in flight (sent or queued) on this connection; past it a request fails with QueueFullError. */
  maxPending: number;
  /** Largest response body accepted (a bigger one fails the connection); default about 256 MiB. */
  maxResponseBytes?: number;
  /** First reconnect delay; doubles per failed attempt up to backoffMaxMs. Defaults 50 and 2000. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Bytes the socket may hold unsent before new requests fail with QueueFullError; default MAX_QUEUED_BYTES. */
  maxQueuedBytes?: number;
  /**
   * The node's token: sent (AUTH) as the first frame of every connection, before any queued request. A wrong
   * token fails the connection's requests with AuthError and backs off like a failed connect.
   */
  authToken?: string;
  /**
   * A node's connections to other members: instead of AUTH, the first frame is MEMBER_HELLO with the value this
   * returns (a fresh hello per connection, src/server/member-auth.ts). A refused hello fails like a wrong token.
   */
  memberHello?: () => Buffer;
  /** DNS lookup for hostnames (net.connect's `lookup`); default dns.lookup. */
  lookup?: net.LookupFunction;
  /** Source address for the connection (a node's peer connections leave from the node's own address). */
  localAddress?: string;
  /** Where the outgoing batch's storage comes from and goes back to (a client shares one among its connections). */
  bufferPool?: BufferPool;
  onConnect?: (connection: NodeConnection) => void;
  onDisconnect?: (connection: NodeConnection, error: Error) => void;
  /** Called when the node is marked down and a reconnect is scheduled in delayMs. */
  onBackoff?: (connection: NodeConnection, delayMs: number, error: Error) => void;
  /**
   * Called when a response's ring epoch differs from the previous response's (docs/PROTOCOL.md: epochs say
   * "changed or not"; a smart client refreshes its topology then).
   */
  onEpoch?: (connection: NodeConnection, epoch: number, previous: number) => void;
}
