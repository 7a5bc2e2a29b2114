/**
 * The public client. Every method returns a promise and reports every failure through it (bad arguments
 * included), with typed errors: TypeError naming the argument for a wrong type, KeyEmptyError /
 * KeyTooLargeError / InvalidArgumentError for a wrong value, then TimeoutError, ConnectionError,
 * QueueFullError, ClientClosedError and the errors mapped from the server's statuses.
 *
 * Routing lives here and only here. Proxy routing sends every request to the first node of `nodes` that is
 * ready (see pick() for the order); a node whose last connect attempt failed is skipped until it reconnects,
 * and one that answered SHUTTING_DOWN is avoided while another node is usable; a failed request is the
 * caller's. Smart routing sends each key to its owner on the ring of the last TOPOLOGY (one connection per
 * member, refreshed when an epoch moves) and tries a request again when its connection closed or a draining
 * node refused it, within its deadline and only where running it twice is harmless (retry.ts, request-fate.ts;
 * docs/ARCHITECTURE.md, "Decisions", "Client retries"). The per-node NodeConnection knows nothing of keys.
 *
 * Events (never 'error'): 'connect' (nodeId) when a connection is up; 'disconnect' (nodeId, error) when a
 * connection that was up is lost; 'reconnecting' (nodeId, delayMs, error) when a node is marked down and the
 * next attempt is scheduled; 'epoch' (epoch, nodeId, previous) when a node's responses carry a new ring epoch.
 * Like a socket, a client keeps the process alive until close() (also while it waits to reconnect).
 */
import { EventEmitter } from 'node:events';
import { ClientClosedError, type DCacheError } from '../errors';
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
import { type ClusterMember, type TopologySnapshot, ringOf } from './topology';
import { type RetryHost, TurnClock, retryRequest } from './retry';
import { pickNode, unreachableError } from './pick-node';
import { TopologyFetch } from './topology-fetch';
import type { HashRing } from '../consistent/ring';

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
  /** Connections to members that left the topology, closing once their requests in flight are answered. */
  private readonly retired = new Set<NodeConnection>();
  private readonly clock = new TurnClock();
  /** What retry.ts needs of this client, kept off its public surface. */
  private readonly retryHost: RetryHost = {
    isClosed: () => this.closed,
    routingRing: () => this.ring,
    freshTopology: () => this.fetcher.fresh(),
    route: (key, opcode) => this.route(key, opcode),
  };
  private readonly hooks: ConstructorParameters<typeof NodeConnection>[1];
  private closed = false;
  private maxEpoch = 0;
  /** Smart routing: the ring of the last topology, undefined until one is known (requests then proxy). */
  private ring: HashRing | undefined;
  private topology: TopologySnapshot | undefined;
  /** Members the last topology named suspect: reads of their keys go to a replica first. */
  private suspects = new Set<string>();
  /** Asks a live node for TOPOLOGY, one fetch at a time (topology-fetch.ts). */
  private readonly fetcher = new TopologyFetch(
    () => this.pick() ?? this.unreachable(),
    (snapshot) => this.apply(snapshot),
    () => this.closed,
  );
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
    if (this.topology === undefined || this.routing === 'proxy') await this.fetcher.fetch();
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
    return Promise.all([...this.byId.values(), ...this.retired].map((c) => c.close())).then(() => undefined);
  }

  private send<O extends ClientOpcode>(
    opcode: O,
    flags: number,
    key: Bytes | null,
    value: Bytes | null,
    extras: number | bigint,
  ): Promise<OpcodeResults[O]> {
    const ring = this.ring;
    const c = key === null ? this.pick() : this.route(key, opcode);
    if (c === null) return Promise.reject(this.unreachable());
    const sent = c.request(opcode, flags, key, value, extras);
    // Only a smart client in a cluster has another owner to try: a single node pays nothing for this.
    if (key === null || !this.mayRetry(ring)) return sent;
    const deadline = this.clock.now() + this.timeoutMs;
    return sent.then(undefined, (error: unknown) =>
      retryRequest(
        this.retryHost,
        { opcode, flags, key, deadline, ring, send: (to) => to.request(opcode, flags, key, value, extras) },
        error,
      ),
    );
  }

  /** Smart routing tries failed requests again unless the ring has a single member (or proxy routing). */
  private mayRetry(ring: HashRing | undefined): boolean {
    return this.routing === 'smart' && (ring === undefined || ring.size > 1);
  }

  /**
   * The key's owner when its connection can take the request now. A read of a key with replicas goes to the
   * first holder after it whose connection can while the owner's cannot, answers nothing (its oldest request
   * waited over a quarter of the timeout) or the owner is suspect: a holder serves it from its copy
   * (docs/ARCHITECTURE.md, "Replicas"). Else any live node (pick()), which forwards it.
   */
  private route(key: Bytes | null, opcode: number): NodeConnection | null {
    const ring = this.ring;
    if (ring !== undefined && key !== null) {
      const bytes = typeof key === 'string' ? key : Buffer.from(key.buffer, key.byteOffset, key.byteLength);
      const id = ring.lookup(bytes);
      const replicas = this.topology?.replicas ?? 1;
      const read = replicas > 1 && (opcode === Opcode.GET || opcode === Opcode.TTL);
      const owner = this.usableConnection(id);
      // A read of a key with replicas goes to a replica while the owner is suspect or answers nothing.
      if (owner !== null && !(read && (owner.stalled || this.suspects.has(id!)))) return owner;
      if (read) {
        const holders = ring.lookupN(bytes, replicas);
        for (let i = 1; i < holders.length; i++) {
          const replica = this.usableConnection(holders[i]);
          if (replica !== null) return replica;
        }
      }
    }
    return this.pick();
  }

  /** The member's connection when it can take a request now; null to fall back to another node. */
  private usableConnection(id: string | undefined): NodeConnection | null {
    if (id === undefined) return null;
    let c = this.byId.get(id);
    if (c === undefined) {
      c = new NodeConnection(parseNodeAddress(id, 'member address'), this.hooks);
      this.byId.set(id, c);
    }
    return c.usable && !c.draining ? c : null;
  }

  /** Fetches the topology soon (coalescing triggers); errors are left for the next trigger. */
  private scheduleRefresh(): void {
    if (!this.closed && this.routing === 'smart') this.fetcher.soon();
  }

  private apply(snapshot: TopologySnapshot): void {
    this.topology = snapshot;
    // A joining node's view is partial: keys it seems to own may be members' it has not met yet.
    if (this.routing !== 'smart' || snapshot.joining === true) return;
    if (this.ring?.checksum !== snapshot.checksum) this.ring = ringOf(snapshot);
    this.suspects = new Set(snapshot.members.filter((m) => m.state === 'suspect').map((m) => m.id));
    // Connections to members that are gone are retired, unless they were given as seeds: a member that leaves
    // gracefully still answers what it was sent, and closing now would fail those requests for nothing.
    const seeds = new Set(this.connections.map((c) => c.address.id));
    const present = new Set(snapshot.members.filter((m) => m.state === 'alive' || m.state === 'suspect').map((m) => m.id));
    for (const [id, c] of this.byId) {
      if (!present.has(id) && !seeds.has(id)) {
        this.byId.delete(id);
        this.retired.add(c);
        void c.retire().then(() => this.retired.delete(c));
      }
    }
  }

  private sendMulti<O extends typeof Opcode.MGET | typeof Opcode.MSET>(
    opcode: O,
    part: MultiPart<Bytes> | MultiPart<MsetEntry>,
    ttlMs: number,
  ): Promise<OpcodeResults[O]> {
    const ring = this.ring;
    const c = this.pick();
    if (c === null) return Promise.reject(this.unreachable());
    const sent = c.requestMulti(opcode, part.items, part.bodyLength, ttlMs);
    if (!this.mayRetry(ring)) return sent;
    // A part goes to any live node, which splits it per owner (docs/ARCHITECTURE.md, "The key router"); a part
    // that failed goes again the same way: MGET and MSET may run twice.
    const deadline = this.clock.now() + this.timeoutMs;
    const send = (to: NodeConnection): Promise<OpcodeResults[O]> => to.requestMulti(opcode, part.items, part.bodyLength, ttlMs);
    return sent.then(undefined, (error: unknown) =>
      retryRequest(this.retryHost, { opcode, flags: 0, key: null, deadline, ring, send }, error),
    );
  }

  /** Any live node: the seeds first, then members learnt from the topology (pick-node.ts). */
  private pick(): NodeConnection | null {
    return pickNode(this.connections, this.byId);
  }

  private unreachable(): DCacheError {
    return this.closed ? new ClientClosedError() : unreachableError(this.connections);
  }

  /** A result for a request with nothing to send, still failing like any other once the client is closed. */
  private whenOpen<T>(value: T): Promise<T> {
    return this.closed ? Promise.reject(new ClientClosedError()) : Promise.resolve(value);
  }
}
