/**
 * Node options, their defaults and their validation. Every limit a connection or the store enforces is named
 * here once, so the CLI, startNode and the docs agree. A bad option is a ConfigError that says what to change.
 */
import { ConfigError } from '../errors';
import { maxBodyBytesFor } from '../protocol/constants';
import { checkProtectedMode, validateToken } from '../net/auth';
import { formatHostPort, parseHostPort, type HostPort } from '../net/address';
import type { Logger } from '../logger';

export interface NodeOptions {
  /** Where to listen: `:PORT` (127.0.0.1), `HOST:PORT`. Default `:7000`; `:0` picks a free port. */
  addr?: string;
  /** Item memory limit in bytes, pages and index included (default 64 MiB). */
  maxMemoryBytes?: number;
  /** Largest key in bytes (default 1 KiB). */
  maxKeyBytes?: number;
  /** Largest value in bytes (default 1 MiB). */
  maxValueBytes?: number;
  /** Open connections allowed; the next one gets TOO_MANY_CONNECTIONS and is closed (default 10,000). */
  maxConnections?: number;
  /** A frame that stays half-sent this long closes its connection (default 10 s). */
  frameTimeoutMs?: number;
  /** Queued output above which a connection stops being read until it drains (default 1 MiB). */
  outputHighWaterBytes?: number;
  /** Queued output above which a connection is closed: a client that never reads (default 64 MiB). */
  outputHardLimitBytes?: number;
  /** How long close() lets in-flight responses drain before destroying connections (default 10 s). */
  drainTimeoutMs?: number;
  /**
   * How long close() waits, as a `leaving` member, for the members that gain its ranges to pull them before it
   * leaves (default 30 s; 0 leaves at once, cold).
   */
  handoffTimeoutMs?: number;
  /**
   * Share of the wall time, in percent, a pull of moved ranges may take while the node serves requests (default
   * 25; 100: full speed). Lower keeps foreground latency closer to idle and makes joins and leaves slower.
   */
  transferSharePercent?: number;
  /**
   * Copies of each key, 1–5 (default 1): the owner and the next distinct members in ring order hold it, and a
   * write is acknowledged once every live holder has it (docs/ARCHITECTURE.md, "Replicas"). Every member of a
   * cluster must run with the same value.
   */
  replicas?: number;
  /** Where log lines go (default: stderr at 'info'). */
  logger?: Logger;
  /** The store's clock (ms); injectable for tests. */
  clock?: () => number;
  /** Seeds to join through (host:port); none: start a cluster of one that others join. */
  join?: readonly string[];
  /** The address other members and clients reach this node at (default: the bound address). */
  advertise?: string;
  /** Virtual nodes per member on the ring (default 160). */
  vnodes?: number;
  /** SWIM: one member probed per interval (default 300 ms). */
  probeIntervalMs?: number;
  /** SWIM: a probe unanswered this long goes to indirect probes (default 300 ms). */
  probeTimeoutMs?: number;
  /** SWIM: members asked to probe on this node's behalf before suspecting (default 2). */
  indirectProbes?: number;
  /** SWIM: a suspect that does not refute within this becomes dead (default 1500 ms). */
  suspicionTimeoutMs?: number;
  /** Full state sync with a random member, dead ones included, every this often (default 2000 ms). */
  syncIntervalMs?: number;
  /** Deadline for a request forwarded to its owner (default 500 ms, below the client's 1 s). */
  forwardTimeoutMs?: number;
  /** Also serve the Redis protocol (RESP2) here: `:PORT` or `HOST:PORT`. Off unless given. */
  respAddr?: string;
  /**
   * Shared secret: every connection (clients, RESP clients, other members) must send it (AUTH) before any other
   * command. Required to listen on a non-loopback address unless insecureNoAuth is set.
   */
  authToken?: string;
  /**
   * The members' secret (member-auth.ts): a node proves it holds it when it connects to another member, and
   * only such connections may send membership messages and forwarded requests. Must differ from authToken.
   * Unset: members prove authToken instead (so a client holding it could run a node and join).
   */
  clusterToken?: string;
  /** Allow a non-loopback listener without authToken (protected mode off): the operator accepts the risk. */
  insecureNoAuth?: boolean;
  /**
   * Bytes held in unfinished frames and commands, summed over every connection of both ports; past it the
   * connections holding the most are closed (default: a quarter of maxMemoryBytes, at least 64 MiB).
   */
  inputTotalLimitBytes?: number;
  /**
   * Bytes of responses queued for clients that have not read them, summed over every connection of both
   * ports; past it reading pauses everywhere and connections that do not read are closed, the largest first
   * (default: half of maxMemoryBytes, at least 2 × outputHardLimitBytes).
   */
  outputTotalLimitBytes?: number;
  /** A connection that sends nothing for this long (and awaits nothing) is closed; 0 = never (default). */
  idleTimeoutMs?: number;
  /** Requests of one connection whose responses are not written yet (forwarded ones): past it, reading pauses (default 1024). */
  maxInflightPerConnection?: number;
  /** Requests run per read of one connection before it yields to the others (default 1024). */
  maxRequestsPerRead?: number;
  /**
   * A connection whose output stays above outputHighWaterBytes (so reading is paused) this long is closed: a
   * client that never reads (default 30 s; 0 = only the hard limit applies).
   */
  slowReaderTimeoutMs?: number;
  /**
   * Size of the one buffer every connection's reads land in (shared-reads.ts), instead of Node allocating
   * 64 KiB per read; 0 = Node's own per-read buffers (default 1 MiB).
   */
  readBufferBytes?: number;
}

export interface ResolvedNodeOptions {
  listen: HostPort;
  maxMemoryBytes: number;
  maxKeyBytes: number;
  maxValueBytes: number;
  maxConnections: number;
  frameTimeoutMs: number;
  outputHighWaterBytes: number;
  outputHardLimitBytes: number;
  drainTimeoutMs: number;
  handoffTimeoutMs: number;
  transferSharePercent: number;
  replicas: number;
  join: string[];
  advertise: HostPort | undefined;
  vnodes: number;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  indirectProbes: number;
  suspicionTimeoutMs: number;
  syncIntervalMs: number;
  forwardTimeoutMs: number;
  respListen: HostPort | undefined;
  authToken: string | undefined;
  clusterToken: string | undefined;
  insecureNoAuth: boolean;
  inputTotalLimitBytes: number;
  outputTotalLimitBytes: number;
  /**
   * The largest response one request may get: the hard output limit less the high-water mark (reading pauses
   * at the high-water mark, so one more response of this size still fits under the hard limit).
   */
  maxResponseBytes: number;
  idleTimeoutMs: number;
  maxInflightPerConnection: number;
  maxRequestsPerRead: number;
  slowReaderTimeoutMs: number;
  readBufferBytes: number;
}

export const NODE_DEFAULTS = {
  addr: ':7000',
  maxMemoryBytes: 64 * 1024 * 1024,
  maxKeyBytes: 1024,
  maxValueBytes: 1024 * 1024,
  maxConnections: 10_000,
  frameTimeoutMs: 10_000,
  outputHighWaterBytes: 1024 * 1024,
  outputHardLimitBytes: 64 * 1024 * 1024,
  drainTimeoutMs: 10_000,
  handoffTimeoutMs: 30_000,
  transferSharePercent: 25,
  replicas: 1,
  vnodes: 160,
  probeIntervalMs: 300,
  probeTimeoutMs: 300,
  indirectProbes: 2,
  suspicionTimeoutMs: 1500,
  syncIntervalMs: 2000,
  forwardTimeoutMs: 500,
  idleTimeoutMs: 0,
  maxInflightPerConnection: 1024,
  maxRequestsPerRead: 1024,
  slowReaderTimeoutMs: 30_000,
  readBufferBytes: 1024 * 1024,
} as const;

/** Values over what the wire can carry or memory can hold are refused at startup, not discovered under load. */
const LIMITS = {
  maxMemoryBytes: [4 * 1024 * 1024, 2 ** 46],
  maxKeyBytes: [1, 0xffff],
  maxValueBytes: [1024, 128 * 1024 * 1024],
  maxConnections: [1, 1_000_000],
  frameTimeoutMs: [10, 3_600_000],
  outputHighWaterBytes: [16 * 1024, 2 ** 32],
  outputHardLimitBytes: [64 * 1024, 2 ** 40],
  drainTimeoutMs: [0, 3_600_000],
  handoffTimeoutMs: [0, 3_600_000],
  transferSharePercent: [1, 100],
  replicas: [1, 5],
  vnodes: [1, 4096],
  probeIntervalMs: [10, 60_000],
  probeTimeoutMs: [5, 60_000],
  indirectProbes: [0, 16],
  suspicionTimeoutMs: [10, 600_000],
  syncIntervalMs: [10, 600_000],
  forwardTimeoutMs: [10, 60_000],
  idleTimeoutMs: [0, 2 ** 31 - 1],
  maxInflightPerConnection: [1, 1_000_000],
  maxRequestsPerRead: [1, 1_000_000],
  slowReaderTimeoutMs: [0, 2 ** 31 - 1],
  readBufferBytes: [0, 16 * 1024 * 1024],
  inputTotalLimitBytes: [1024 * 1024, 2 ** 46],
  outputTotalLimitBytes: [1024 * 1024, 2 ** 46],
} as const;

export function resolveNodeOptions(options: NodeOptions): ResolvedNodeOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const pick = (name: keyof typeof LIMITS, fallback?: number): number => {
    const value = options[name] ?? fallback ?? NODE_DEFAULTS[name as keyof typeof NODE_DEFAULTS];
    const [low, high] = LIMITS[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < low || value > high) {
      throw new ConfigError(`${name} must be an integer from ${low} to ${high}, got ${String(value)}`);
    }
    return value;
  };
  const resolved: ResolvedNodeOptions = {
    listen: parseHostPort(options.addr ?? NODE_DEFAULTS.addr, 'addr'),
    maxMemoryBytes: pick('maxMemoryBytes'),
    maxKeyBytes: pick('maxKeyBytes'),
    maxValueBytes: pick('maxValueBytes'),
    maxConnections: pick('maxConnections'),
    frameTimeoutMs: pick('frameTimeoutMs'),
    outputHighWaterBytes: pick('outputHighWaterBytes'),
    outputHardLimitBytes: pick('outputHardLimitBytes'),
    drainTimeoutMs: pick('drainTimeoutMs'),
    handoffTimeoutMs: pick('handoffTimeoutMs'),
    transferSharePercent: pick('transferSharePercent'),
    replicas: pick('replicas'),
    join: (options.join ?? []).map((seed) => formatSeed(seed)),
    advertise: options.advertise === undefined ? undefined : parseHostPort(options.advertise, 'advertise'),
    vnodes: pick('vnodes'),
    probeIntervalMs: pick('probeIntervalMs'),
    probeTimeoutMs: pick('probeTimeoutMs'),
    indirectProbes: pick('indirectProbes'),
    suspicionTimeoutMs: pick('suspicionTimeoutMs'),
    syncIntervalMs: pick('syncIntervalMs'),
    forwardTimeoutMs: pick('forwardTimeoutMs'),
    respListen: options.respAddr === undefined ? undefined : parseHostPort(options.respAddr, 'respAddr'),
    authToken: validateToken(options.authToken),
    clusterToken: validateToken(options.clusterToken, 'clusterToken'),
    insecureNoAuth: options.insecureNoAuth === true,
    inputTotalLimitBytes: 0,
    outputTotalLimitBytes: 0,
    maxResponseBytes: 0,
    idleTimeoutMs: pick('idleTimeoutMs'),
    maxInflightPerConnection: pick('maxInflightPerConnection'),
    maxRequestsPerRead: pick('maxRequestsPerRead'),
    slowReaderTimeoutMs: pick('slowReaderTimeoutMs'),
    readBufferBytes: pick('readBufferBytes'),
  };
  if (options.insecureNoAuth !== undefined && typeof options.insecureNoAuth !== 'boolean') {
    throw new ConfigError(`insecureNoAuth must be a boolean, got ${String(options.insecureNoAuth)}`);
  }
  checkProtectedMode(
    [
      ['--addr', resolved.listen],
      ['--resp-addr', resolved.respListen],
    ],
    resolved.authToken,
    resolved.insecureNoAuth,
  );
  if (resolved.outputHardLimitBytes < resolved.outputHighWaterBytes) {
    throw new ConfigError('outputHardLimitBytes must be at least outputHighWaterBytes');
  }
  if (resolved.clusterToken !== undefined && resolved.clusterToken === resolved.authToken) {
    throw new ConfigError('clusterToken (--cluster-token) must differ from authToken: a client holding it could speak for the cluster');
  }
  resolved.maxResponseBytes = resolved.outputHardLimitBytes - resolved.outputHighWaterBytes;
  // One GET of the largest value must fit: header, and an MGET of one key's 8 bytes of counts.
  const smallestUseful = resolved.maxValueBytes + 64;
  if (resolved.maxResponseBytes < smallestUseful) {
    throw new ConfigError(
      `outputHardLimitBytes (${resolved.outputHardLimitBytes}) less outputHighWaterBytes (${resolved.outputHighWaterBytes}) is the largest response a ` +
        `request may get, and must hold one value of maxValueBytes (${resolved.maxValueBytes}): raise --output-limit or lower --max-value-size`,
    );
  }
  resolved.inputTotalLimitBytes = pick('inputTotalLimitBytes', Math.max(64 * 1024 * 1024, Math.floor(resolved.maxMemoryBytes / 4)));
  resolved.outputTotalLimitBytes = pick(
    'outputTotalLimitBytes',
    Math.max(2 * resolved.outputHardLimitBytes, Math.floor(resolved.maxMemoryBytes / 2)),
  );
  if (resolved.outputTotalLimitBytes < resolved.maxResponseBytes) {
    throw new ConfigError(
      `outputTotalLimitBytes (${resolved.outputTotalLimitBytes}) must hold the largest response (${resolved.maxResponseBytes} bytes: --output-limit less --output-high-water)`,
    );
  }
  // The largest binary frame, or the largest RESP bulk (a value plus its 64 KiB slack), whichever is larger.
  const largestFrame = Math.max(maxBodyBytesFor(resolved.maxKeyBytes, resolved.maxValueBytes), resolved.maxValueBytes + 64 * 1024);
  if (resolved.inputTotalLimitBytes < largestFrame) {
    throw new ConfigError(
      `inputTotalLimitBytes (${resolved.inputTotalLimitBytes}) must hold the largest frame a client may send (${largestFrame} bytes)`,
    );
  }
  return resolved;
}

/** A seed as a member id: `:7000` → `127.0.0.1:7000`. */
function formatSeed(seed: string): string {
  return formatHostPort(parseHostPort(seed, 'join seed'));
}
