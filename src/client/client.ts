/**
 * The public client. Every method returns a promise and reports every failure through it (bad arguments
 * included), with typed errors: TypeError naming the argument for a wrong type, KeyEmptyError /
 * KeyTooLargeError / InvalidArgumentError for a wrong value, then TimeoutError, ConnectionError,
 * QueueFullError, ClientClosedError and the errors mapped from the server's statuses.
 *
 * Routing lives here and only here: today every request goes to the first node of `nodes` that is ready
 * (see pick() for the order); a node whose last connect attempt failed is skipped until it reconnects, and
 * one that answered SHUTTING_DOWN is avoided while another node is usable. Requests already sent are never
 * resent elsewhere (a SET or INCR may have run). The per-node NodeConnection knows nothing of keys,
 * so the cluster's smart routing (a ring from the TOPOLOGY opcode, one connection per node, refreshed when
 * the epoch moves) plugs in by replacing `pick()`.
 *
 * Events (never 'error'): 'connect' (nodeId) when a connection is up; 'disconnect' (nodeId, error) when a
 * connection that was up is lost; 'reconnecting' (nodeId, delayMs, error) when a node is marked down and the
 * next attempt is scheduled; 'epoch' (epoch, nodeId, previous) when a node's responses carry a new ring epoch.
 * Like a socket, a client keeps the process alive until close() (also while it waits to reconnect).
 */
import { EventEmitter } from 'node:events';
import { AuthError, ClientClosedError, ConnectionError, type DCacheError } from '../errors';
import { MULTI_SLACK_BYTES, Opcode, setModeFlags, type SetMode } from '../protocol/constants';
import { BufferPool } from '../protocol/buffer-pool';
import type { MsetEntry } from '../protocol/multi';
import { type Bytes, deltaError, keyError, optionsError, parseMode, ttlError, valueError } from './arg-checks';
import { NodeConnection } from './connection';
import type { ConnectionState } from './connection-options';
import { DEFAULT_NODE_LIMITS, type MsetInput, type MultiPart, mgetKeysPerFrame, planMget, planMset } from './multi-plan';
import { type ClientOptions, resolveClientOptions } from './client-options';
import { parseNodeAddress } from './node-address';
import type { ClientOpcode, OpcodeResults } from './results';
import { type ClusterMember, type TopologySnapshot, parseTopology, ringOf } from './topology';
import type { HashRing } from '../consistent/ring';
import { Status, statusName } from '../protocol/constants';

/** Free output storage a client keeps for reuse, for all its connections together. */
const CLIENT_POOL_BYTES = 4 * 1024 * 1024;

const TOPOLOGY_REFRESH_MS = 5000;

/** Plain numbers and local function aliases: tsx compiles imports to getter calls (see connection.ts, `hot`). */
const { GET, SET, DELETE, TOUCH, TTL, INCR, MGET, MSET, PING, STATS, FLUSH } = Opcode;
const checkKey = keyError;
const checkValue = valueError;

export type SetModeName = 'set' | 'nx' | 'xx';

export interface SetOptions {
  /** Time to live in ms; 0 or undefined = no expiry. */
  ttlMs?: number;
  /** 'set' (default), 'nx' (only if absent), 'xx' (only if present). */
  mode?: SetModeName;
}

export interface MsetOptions {
  /** Time to live in ms for every entry; 0 or undefined = no expiry. */
  ttlMs?: number;
}

export interface NodeStatus {
  id: string;
  state: ConnectionState;
  pending: number;
  /** Epoch of the node's latest response. */
  lastEpoch: number;
  /** The node answered SHUTTING_DOWN: requests go to another ready node while there is one. */
  draining: boolean;
  lastError: string | null;
}

export class Client extends EventEmitter {
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly maxPending: number;
  /** The largest response body this client accepts; MGETs are split to fit it and the node's own limit. */
  readonly maxResponseBytes: number;
  readonly routing: 'proxy' | 'smart';
  private readonly connections: NodeConnection[];
  /** Every connection by node id: the seeds from `nodes`, plus members learnt from the topology (smart). */
  private readonly byId = new Map<string, NodeConnection>();
  private readonly hooks: ConstructorParameters<typeof NodeConnection>[1];
  private closed = false;
  private maxEpoch = 0;
  /** Smart routing: the ring of the last topology, undefined until one is known (requests then proxy). */
  private ring: HashRing | undefined;
  private topology: TopologySnapshot | undefined;
  private refreshing: Promise<void> | undefined;
  private refreshAgain = false;
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(options: ClientOptions) {
    super();
    const o = resolveClientOptions(options);
    this.timeoutMs = o.timeoutMs;
    this.connectTimeoutMs = o.connectTimeoutMs;
    this.maxPending = o.maxPending;
    this.maxResponseBytes = o.maxResponseBytes;
    const hooks = {
      timeoutMs: o.timeoutMs,
      connectTimeoutMs: o.connectTimeoutMs,
      maxPending: o.maxPending,
      maxResponseBytes: o.maxResponseBytes,
      // The connections' outgoing batch storage, reused once written (outgoing.ts).
      bufferPool: new BufferPool(CLIENT_POOL_BYTES),
      ...(o.authToken === undefined ? {} : { authToken: o.authToken }),
      onConnect: (c: NodeConnection) => this.emit('connect', c.address.id),
      onDisconnect: (c: NodeConnection, error: Error) => {
        this.emit('disconnect', c.address.id, error);
        this.scheduleRefresh();
      },
      onBackoff: (c: NodeConnection, delayMs: number, error: Error) => {
        this.emit('reconnecting', c.address.id, delayMs, error);
        this.scheduleRefresh();
      },
      onEpoch: (c: NodeConnection, epoch: number, previous: number) => {
        if (epoch > this.maxEpoch) this.maxEpoch = epoch;
        this.emit('epoch', epoch, c.address.id, previous);
        // Epochs are per node: a change on the node that gave us the topology, or on one we route to,
        // means its ring moved.
        if (previous !== 0) this.scheduleRefresh();
      },
    };
    this.hooks = hooks;
    this.routing = o.routing;
    this.connections = o.nodes.map((address) => new NodeConnection(address, hooks));
    for (const c of this.connections) this.byId.set(c.address.id, c);
    this.connections[0]!.connect();
    if (this.routing === 'smart') {
      this.scheduleRefresh();
      // A slow safety net: a topology fetched at most every 5 s even when no epoch change was seen.
      this.refreshTimer = setInterval(() => this.scheduleRefresh(), TOPOLOGY_REFRESH_MS);
      this.refreshTimer.unref();
    }
  }

  /**
   * The cluster's members as the node asked last sees them (smart routing fetches the topology if it has none;
   * proxy routing asks the first reachable node).
   */
  async members(): Promise<ClusterMember[]> {
    if (this.closed) throw new ClientClosedError();
    if (this.topology === undefined || this.routing === 'proxy') await this.refresh();
    return (this.topology?.members ?? []).map((member) => ({ ...member }));
  }

  /** Node ids ("host:port"), in the order given. */
  get nodes(): string[] {
    return this.connections.map((c) => c.address.id);
  }

  /** Highest ring epoch any response has carried (0 outside a cluster). Per node: status()[i].lastEpoch. */
  get highestEpoch(): number {
    return this.maxEpoch;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Per-node connection state, for diagnostics and health checks. */
  status(): NodeStatus[] {
    return this.connections.map((c) => ({
      id: c.address.id,
      state: c.state,
      pending: c.pendingCount,
      lastEpoch: c.lastEpoch,
      draining: c.draining,
      lastError: c.lastError === null ? null : c.lastError.message,
    }));
  }

  /** The value, or null when the key is missing. */
  get(key: Bytes): Promise<Buffer | null> {
    const error = checkKey(key);
    if (error !== null) return Promise.reject(error);
    return this.send(GET, 0, key, null, 0);
  }

  /** Stores the value; false when an 'nx'/'xx' condition failed. */
  set(key: Bytes, value: Bytes, options?: SetOptions): Promise<boolean> {
    const error = checkKey(key) ?? checkValue(value);
    if (error !== null) return Promise.reject(error);
    if (options === undefined) return this.send(SET, 0, key, value, 0);
    const optionError = optionsError(options) ?? ttlError(options.ttlMs, 'options.ttlMs', true);
    if (optionError !== null) return Promise.reject(optionError);
    const mode = parseMode(options.mode);
    if (typeof mode !== 'number') return Promise.reject(mode);
    return this.send(SET, setModeFlags(mode as SetMode), key, value, options.ttlMs ?? 0);
  }

  /** True when the key existed. */
  delete(key: Bytes): Promise<boolean> {
    const error = checkKey(key);
    if (error !== null) return Promise.reject(error);
    return this.send(DELETE, 0, key, null, 0);
  }

  /** Sets a new TTL (0 = no expiry); true when the key existed. */
  touch(key: Bytes, ttlMs: number): Promise<boolean> {
    const error = checkKey(key) ?? ttlError(ttlMs, 'ttlMs', false);
    if (error !== null) return Promise.reject(error);
    return this.send(TOUCH, 0, key, null, ttlMs);
  }

  /** Remaining time to live in ms, Redis PTTL style: -1 = no expiry, -2 = missing. */
  ttl(key: Bytes): Promise<number> {
    const error = checkKey(key);
    if (error !== null) return Promise.reject(error);
    return this.send(TTL, 0, key, null, 0);
  }

  /**
   * Adds `by` (default 1, may be negative, number or bigint) to the integer stored at key (a missing key
   * counts as 0); resolves with the new value: a number when it is a safe integer, else a bigint.
   */
  incr(key: Bytes, by: number | bigint = 1): Promise<number | bigint> {
    const error = checkKey(key) ?? deltaError(by);
    if (error !== null) return Promise.reject(error);
    return this.send(INCR, 0, key, null, by);
  }

  /** The values in key order, null for each missing key. */
  mget(keys: readonly Bytes[]): Promise<Array<Buffer | null>> {
    const parts = planMget(keys, MULTI_SLACK_BYTES, mgetKeysPerFrame(this.topology?.limits ?? DEFAULT_NODE_LIMITS, this.maxResponseBytes));
    if (parts instanceof Error) return Promise.reject(parts);
    if (parts.length === 0) return this.whenOpen([]);
    if (parts.length === 1) return this.sendMulti(MGET, parts[0]!, 0);
    return Promise.all(parts.map((part) => this.sendMulti(MGET, part, 0))).then((results) => results.flat());
  }

  /**
   * Stores every entry ([key, value] pairs, a Map, or an object). A batch over the server's multi-key body
   * size is sent as several MSET frames, each applied on its own.
   */
  mset(entries: MsetInput, options?: MsetOptions): Promise<void> {
    const error = optionsError(options) ?? ttlError(options?.ttlMs, 'options.ttlMs', true);
    if (error !== null) return Promise.reject(error);
    const parts = planMset(entries);
    if (parts instanceof Error) return Promise.reject(parts);
    const ttlMs = options?.ttlMs ?? 0;
    if (parts.length === 0) return this.whenOpen(undefined);
    if (parts.length === 1) return this.sendMulti(MSET, parts[0]!, ttlMs);
    return Promise.all(parts.map((part) => this.sendMulti(MSET, part, ttlMs))).then(() => undefined);
  }

  /** Round trip to the node; resolves with the latency in ms. */
  ping(): Promise<number> {
    const start = performance.now();
    return this.send(PING, 0, null, null, 0).then(() => performance.now() - start);
  }

  /** The node's STATS document (server counters and store statistics). */
  stats(): Promise<Record<string, unknown>> {
    return this.send(STATS, 0, null, null, 0);
  }

  /** Removes every key on the node. */
  flush(): Promise<void> {
    return this.send(FLUSH, 0, null, null, 0);
  }

  /**
   * Closes the client: outstanding requests fail with ClientClosedError, timers stop, sockets are destroyed.
   * Later calls fail with ClientClosedError. Resolves once every socket has closed.
   */
  close(): Promise<void> {
    this.closed = true;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    return Promise.all([...this.byId.values()].map((c) => c.close())).then(() => undefined);
  }

  private send<O extends ClientOpcode>(
    opcode: O,
    flags: number,
    key: Bytes | null,
    value: Bytes | null,
    extras: number | bigint,
  ): Promise<OpcodeResults[O]> {
    const ring = this.ring;
    if (ring !== undefined && key !== null) {
      const owner = this.ownerConnection(ring, key);
      if (owner !== null) {
        const sent = owner.request(opcode, flags, key, value, extras);
        // Only a cluster has another owner to retry on: a single node pays nothing for this.
        return ring.size > 1
          ? sent.then(undefined, (error: DCacheError) => this.retryElsewhere(error, opcode, flags, key, value, extras))
          : sent;
      }
    }
    const c = this.pick();
    if (c === null) return Promise.reject(this.unreachable());
    return c.request(opcode, flags, key, value, extras);
  }

  /** The owner's connection when it can take the request now; null to fall back to any live node. */
  private ownerConnection(ring: HashRing, key: Bytes): NodeConnection | null {
    const id = ring.lookup(typeof key === 'string' ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength));
    if (id === undefined) return null;
    let c = this.byId.get(id);
    if (c === undefined) {
      c = new NodeConnection(parseNodeAddress(id, 'member address'), this.hooks);
      this.byId.set(id, c);
    }
    return c.usable && !c.draining ? c : null;
  }

  /**
   * A request refused with SHUTTING_DOWN never ran: the node is leaving and has announced it, so a fresh
   * topology names the new owner. Retried once; any other error is the caller's.
   */
  private async retryElsewhere<O extends ClientOpcode>(
    error: DCacheError,
    opcode: O,
    flags: number,
    key: Bytes,
    value: Bytes | null,
    extras: number | bigint,
  ): Promise<OpcodeResults[O]> {
    if (error.code !== 'ERR_SHUTTING_DOWN' || this.closed) throw error;
    await this.refresh().catch(() => undefined);
    const owner = this.ring === undefined ? null : this.ownerConnection(this.ring, key);
    const c = owner ?? this.pick();
    if (c === null) throw error;
    return c.request(opcode, flags, key, value, extras);
  }

  /** Fetches the topology soon (coalescing triggers); errors are left for the next trigger. */
  private scheduleRefresh(): void {
    if (this.closed || this.routing !== 'smart') return;
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    void this.refresh().catch(() => undefined);
  }

  /** Asks a live node for TOPOLOGY and rebuilds the ring from it. */
  private refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    this.refreshing = (async () => {
      try {
        do {
          this.refreshAgain = false;
          const c = this.pick();
          if (c === null) throw this.unreachable();
          const response = await c.requestRaw(Opcode.TOPOLOGY, 0, null, null, 0);
          if (response.status !== Status.OK)
            throw new ConnectionError(`${c.address.id} answered TOPOLOGY with ${statusName(response.status)}`);
          this.apply(parseTopology(response.value.toString('utf8')));
        } while (this.refreshAgain && !this.closed);
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  private apply(snapshot: TopologySnapshot): void {
    this.topology = snapshot;
    if (this.routing !== 'smart') return;
    if (this.ring?.checksum !== snapshot.checksum) this.ring = ringOf(snapshot);
    // Connections to members that are gone are closed, unless they were given as seeds.
    const seeds = new Set(this.connections.map((c) => c.address.id));
    const present = new Set(snapshot.members.filter((m) => m.state === 'alive' || m.state === 'suspect').map((m) => m.id));
    for (const [id, c] of this.byId) {
      if (!present.has(id) && !seeds.has(id)) {
        this.byId.delete(id);
        void c.close();
      }
    }
  }

  private sendMulti<O extends typeof Opcode.MGET | typeof Opcode.MSET>(
    opcode: O,
    part: MultiPart<Bytes> | MultiPart<MsetEntry>,
    ttlMs: number,
  ): Promise<OpcodeResults[O]> {
    const c = this.pick();
    if (c === null) return Promise.reject(this.unreachable());
    return c.requestMulti(opcode, part.items, part.bodyLength, ttlMs);
  }

  /**
   * The connection this request goes to: the first ready node that is not draining, else the first
   * connecting, else the first idle (which starts connecting), else a draining one. Backing-off nodes are
   * skipped: they are known down.
   */
  private pick(): NodeConnection | null {
    const connections = this.connections;
    const first = connections[0]!;
    if (first.state === 'ready' && !first.draining) return first;
    let ready: NodeConnection | null = null;
    let connecting: NodeConnection | null = null;
    let idle: NodeConnection | null = null;
    for (const c of connections) {
      if (c.state === 'ready') {
        if (!c.draining) return c;
        if (ready === null) ready = c;
      } else if (c.state === 'connecting') {
        if (connecting === null) connecting = c;
      } else if (c.state === 'idle' && idle === null) {
        idle = c;
      }
    }
    // A draining node answers SHUTTING_DOWN to everything but PING and STATS: any other node is better.
    return connecting ?? idle ?? ready;
  }

  private unreachable(): DCacheError {
    if (this.closed) return new ClientClosedError();
    const reasons = this.connections.map((c) => `${c.address.id}: ${c.lastError?.message ?? c.state}`).join('; ');
    // Every node refused the token: a configuration problem, typed as such rather than as a network one.
    if (this.connections.every((c) => c.lastError instanceof AuthError))
      return new AuthError(`no node accepted the auth token (${reasons})`);
    return new ConnectionError(`no node is reachable (${reasons}); reconnecting in the background`);
  }

  /** A result for a request with nothing to send, still failing like any other once the client is closed. */
  private whenOpen<T>(value: T): Promise<T> {
    return this.closed ? Promise.reject(new ClientClosedError()) : Promise.resolve(value);
  }
}
