#!/usr/bin/env node
/**
 * The `distributed-cache` command: start a node (`distributed-cache --addr :7000`). Flags map one to one onto
 * startNode's options; a bad flag or value prints what is wrong and exits 2. SIGINT/SIGTERM drain and exit 0;
 * a second signal exits at once.
 */
import { ConfigError } from './errors';
import { formatHelp, parseFlags, UsageError, type FlagSpec } from './cli/flags';
import { createLogger, LOG_LEVELS, type LogLevel } from './logger';
import { NODE_DEFAULTS, type NodeOptions } from './server/node-options';
import { parseSize } from './server/size';
import { startNode } from './node/start-node';
import { printStatus } from './cli/status';
import { AUTH_TOKEN_ENV, CLUSTER_TOKEN_ENV } from './net/auth';
import { tuneAllocatorForServer } from './server/allocator';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require('../package.json') as { version: string };

const FLAGS: FlagSpec[] = [
  {
    name: 'addr',
    kind: 'string',
    placeholder: 'HOST:PORT',
    help: 'where to listen; :PORT binds 127.0.0.1',
    defaultText: NODE_DEFAULTS.addr,
  },
  { name: 'max-memory', kind: 'string', placeholder: 'SIZE', help: 'item memory limit, pages and index included', defaultText: '64mb' },
  { name: 'max-key-size', kind: 'string', placeholder: 'SIZE', help: 'largest key', defaultText: '1kb' },
  { name: 'max-value-size', kind: 'string', placeholder: 'SIZE', help: 'largest value (1kb to 128mb)', defaultText: '1mb' },
  {
    name: 'max-connections',
    kind: 'string',
    placeholder: 'N',
    help: 'open connections allowed',
    defaultText: String(NODE_DEFAULTS.maxConnections),
  },
  {
    name: 'frame-timeout',
    kind: 'string',
    placeholder: 'MS',
    help: 'close a connection whose frame stays half-sent this long',
    defaultText: String(NODE_DEFAULTS.frameTimeoutMs),
  },
  {
    name: 'drain-timeout',
    kind: 'string',
    placeholder: 'MS',
    help: 'on SIGINT/SIGTERM, how long in-flight responses may drain',
    defaultText: String(NODE_DEFAULTS.drainTimeoutMs),
  },
  {
    name: 'handoff-timeout',
    kind: 'string',
    placeholder: 'MS',
    help: 'on SIGINT/SIGTERM, how long the members gaining its ranges may pull them first (a second signal skips it)',
    defaultText: String(NODE_DEFAULTS.handoffTimeoutMs),
  },
  {
    name: 'transfer-share',
    kind: 'string',
    placeholder: 'PERCENT',
    help: 'share of the time pulls of moved ranges may take while requests are served (100: full speed)',
    defaultText: String(NODE_DEFAULTS.transferSharePercent),
  },
  {
    name: 'replicas',
    kind: 'string',
    placeholder: 'N',
    help: 'copies of each key, 1-5; a write is acknowledged once every live copy has it (same on every member)',
    defaultText: String(NODE_DEFAULTS.replicas),
  },
  {
    name: 'auth-token',
    kind: 'string',
    placeholder: 'TOKEN',
    help: `the clients' secret, sent first (AUTH); also ${AUTH_TOKEN_ENV}`,
    defaultText: 'none',
  },
  {
    name: 'cluster-token',
    kind: 'string',
    placeholder: 'TOKEN',
    help: `the members' secret (member handshake), distinct from --auth-token; also ${CLUSTER_TOKEN_ENV}`,
    defaultText: '--auth-token',
  },
  {
    name: 'insecure-no-auth',
    kind: 'boolean',
    help: 'allow a non-loopback --addr/--resp-addr without --auth-token (anyone who reaches it can use it)',
  },
  {
    name: 'idle-timeout',
    kind: 'string',
    placeholder: 'MS',
    help: 'close a connection with no traffic for this long (0: never)',
    defaultText: String(NODE_DEFAULTS.idleTimeoutMs),
  },
  {
    name: 'max-inflight',
    kind: 'string',
    placeholder: 'N',
    help: 'per connection: unanswered (forwarded) requests before reading pauses',
    defaultText: String(NODE_DEFAULTS.maxInflightPerConnection),
  },
  {
    name: 'max-requests-per-read',
    kind: 'string',
    placeholder: 'N',
    help: 'per connection: requests run before yielding to other connections',
    defaultText: String(NODE_DEFAULTS.maxRequestsPerRead),
  },
  {
    name: 'output-limit',
    kind: 'string',
    placeholder: 'SIZE',
    help: 'per connection: queued output that closes it (a client that never reads)',
    defaultText: '64mb',
  },
  {
    name: 'output-high-water',
    kind: 'string',
    placeholder: 'SIZE',
    help: 'per connection: queued output that pauses reading until it drains',
    defaultText: '1mb',
  },
  {
    name: 'slow-reader-timeout',
    kind: 'string',
    placeholder: 'MS',
    help: 'close a connection whose output stays above the high-water mark this long (0: off)',
    defaultText: String(NODE_DEFAULTS.slowReaderTimeoutMs),
  },
  {
    name: 'input-total-limit',
    kind: 'string',
    placeholder: 'SIZE',
    help: 'node-wide: bytes held in unfinished requests; past it the connections holding the most close',
    defaultText: 'max(64mb, max-memory/4)',
  },
  {
    name: 'output-total-limit',
    kind: 'string',
    placeholder: 'SIZE',
    help: 'node-wide: unread responses; past it reading pauses and non-readers close',
    defaultText: 'max(2 x output-limit, max-memory/2)',
  },
  {
    name: 'read-buffer',
    kind: 'string',
    placeholder: 'SIZE',
    help: 'the one buffer all connections read into (0: Node allocates per read)',
    defaultText: '1mb',
  },
  {
    name: 'resp-addr',
    kind: 'string',
    placeholder: 'HOST:PORT',
    help: 'also serve the Redis protocol (RESP2) here; :PORT binds 127.0.0.1',
    defaultText: 'off',
  },
  {
    name: 'join',
    kind: 'list',
    placeholder: 'HOST:PORT[,…]',
    help: 'seeds to join through (repeat or comma-separate); none: a new cluster',
  },
  {
    name: 'advertise',
    kind: 'string',
    placeholder: 'HOST:PORT',
    help: 'the address members and clients reach this node at',
    defaultText: 'the bound address',
  },
  {
    name: 'vnodes',
    kind: 'string',
    placeholder: 'N',
    help: 'virtual nodes per member on the ring',
    defaultText: String(NODE_DEFAULTS.vnodes),
  },
  {
    name: 'probe-interval',
    kind: 'string',
    placeholder: 'MS',
    help: 'SWIM: probe one member this often',
    defaultText: String(NODE_DEFAULTS.probeIntervalMs),
  },
  {
    name: 'probe-timeout',
    kind: 'string',
    placeholder: 'MS',
    help: 'SWIM: a probe unanswered this long goes to indirect probes',
    defaultText: String(NODE_DEFAULTS.probeTimeoutMs),
  },
  {
    name: 'indirect-probes',
    kind: 'string',
    placeholder: 'K',
    help: 'SWIM: members asked to probe before suspecting',
    defaultText: String(NODE_DEFAULTS.indirectProbes),
  },
  {
    name: 'suspicion-timeout',
    kind: 'string',
    placeholder: 'MS',
    help: 'SWIM: a suspect that does not refute within this is dead once others confirm it (4x unconfirmed)',
    defaultText: String(NODE_DEFAULTS.suspicionTimeoutMs),
  },
  {
    name: 'sync-interval',
    kind: 'string',
    placeholder: 'MS',
    help: 'full state sync with a random member this often',
    defaultText: String(NODE_DEFAULTS.syncIntervalMs),
  },
  {
    name: 'forward-timeout',
    kind: 'string',
    placeholder: 'MS',
    help: "deadline for a request forwarded to its key's owner",
    defaultText: String(NODE_DEFAULTS.forwardTimeoutMs),
  },
  { name: 'log-level', kind: 'string', placeholder: 'LEVEL', help: `one of ${LOG_LEVELS.join(', ')}`, defaultText: 'info' },
  { name: 'help', kind: 'boolean', help: 'print this help and exit' },
  { name: 'version', kind: 'boolean', help: 'print the version and exit' },
];

const USAGE = `Usage: distributed-cache [options]

Starts a cache node. Examples:
  distributed-cache --addr :7000                      a new cluster of one
  distributed-cache --addr :7001 --join :7000         a node joining it
  distributed-cache status --server :7000             the member table as that node sees it`;

function integerFlag(text: string, name: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(text)}`);
  return Number(text);
}

function optionsFromFlags(values: Map<string, string[]>, env: NodeJS.ProcessEnv): { options: NodeOptions; logLevel: LogLevel } {
  const one = (name: string): string | undefined => values.get(name)?.[0];
  const options: NodeOptions = {};
  const authToken = one('auth-token') ?? (env[AUTH_TOKEN_ENV] || undefined);
  if (authToken !== undefined) options.authToken = authToken;
  const clusterToken = one('cluster-token') ?? (env[CLUSTER_TOKEN_ENV] || undefined);
  if (clusterToken !== undefined) options.clusterToken = clusterToken;
  if (values.has('insecure-no-auth')) options.insecureNoAuth = true;
  const inputTotal = one('input-total-limit');
  if (inputTotal !== undefined) options.inputTotalLimitBytes = parseSize(inputTotal, '--input-total-limit');
  const outputTotal = one('output-total-limit');
  if (outputTotal !== undefined) options.outputTotalLimitBytes = parseSize(outputTotal, '--output-total-limit');
  const outputLimit = one('output-limit');
  if (outputLimit !== undefined) options.outputHardLimitBytes = parseSize(outputLimit, '--output-limit');
  const outputHighWater = one('output-high-water');
  if (outputHighWater !== undefined) options.outputHighWaterBytes = parseSize(outputHighWater, '--output-high-water');
  const readBuffer = one('read-buffer');
  if (readBuffer !== undefined) options.readBufferBytes = parseSize(readBuffer, '--read-buffer');
  const addr = one('addr');
  if (addr !== undefined) options.addr = addr;
  const maxMemory = one('max-memory');
  if (maxMemory !== undefined) options.maxMemoryBytes = parseSize(maxMemory, '--max-memory');
  const maxKey = one('max-key-size');
  if (maxKey !== undefined) options.maxKeyBytes = parseSize(maxKey, '--max-key-size');
  const maxValue = one('max-value-size');
  if (maxValue !== undefined) options.maxValueBytes = parseSize(maxValue, '--max-value-size');
  const maxConnections = one('max-connections');
  if (maxConnections !== undefined) options.maxConnections = integerFlag(maxConnections, 'max-connections');
  const frameTimeout = one('frame-timeout');
  if (frameTimeout !== undefined) options.frameTimeoutMs = integerFlag(frameTimeout, 'frame-timeout');
  const drainTimeout = one('drain-timeout');
  if (drainTimeout !== undefined) options.drainTimeoutMs = integerFlag(drainTimeout, 'drain-timeout');
  const handoffTimeout = one('handoff-timeout');
  if (handoffTimeout !== undefined) options.handoffTimeoutMs = integerFlag(handoffTimeout, 'handoff-timeout');
  const transferShare = one('transfer-share');
  if (transferShare !== undefined) options.transferSharePercent = integerFlag(transferShare, 'transfer-share');
  const replicas = one('replicas');
  if (replicas !== undefined) options.replicas = integerFlag(replicas, 'replicas');
  const seeds = (values.get('join') ?? [])
    .flatMap((list) => list.split(','))
    .map((seed) => seed.trim())
    .filter(Boolean);
  if (seeds.length > 0) options.join = seeds;
  const respAddr = one('resp-addr');
  if (respAddr !== undefined) options.respAddr = respAddr;
  const advertise = one('advertise');
  if (advertise !== undefined) options.advertise = advertise;
  type IntegerOption =
    | 'vnodes'
    | 'probeIntervalMs'
    | 'probeTimeoutMs'
    | 'indirectProbes'
    | 'suspicionTimeoutMs'
    | 'syncIntervalMs'
    | 'forwardTimeoutMs'
    | 'idleTimeoutMs'
    | 'maxInflightPerConnection'
    | 'maxRequestsPerRead'
    | 'slowReaderTimeoutMs';
  const integers: Array<[string, IntegerOption]> = [
    ['vnodes', 'vnodes'],
    ['probe-interval', 'probeIntervalMs'],
    ['probe-timeout', 'probeTimeoutMs'],
    ['indirect-probes', 'indirectProbes'],
    ['suspicion-timeout', 'suspicionTimeoutMs'],
    ['sync-interval', 'syncIntervalMs'],
    ['forward-timeout', 'forwardTimeoutMs'],
    ['idle-timeout', 'idleTimeoutMs'],
    ['max-inflight', 'maxInflightPerConnection'],
    ['max-requests-per-read', 'maxRequestsPerRead'],
    ['slow-reader-timeout', 'slowReaderTimeoutMs'],
  ];
  for (const [flag, option] of integers) {
    const text = one(flag);
    if (text !== undefined) options[option] = integerFlag(text, flag);
  }
  const logLevel = (one('log-level') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel))
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  return { options, logLevel };
}

const STATUS_FLAGS: FlagSpec[] = [
  { name: 'server', kind: 'string', placeholder: 'HOST:PORT', help: 'the node to ask', defaultText: ':7000' },
  {
    name: 'auth-token',
    kind: 'string',
    placeholder: 'TOKEN',
    help: `the cluster's token, when its nodes have one; also ${AUTH_TOKEN_ENV}`,
    defaultText: 'none',
  },
  { name: 'help', kind: 'boolean', help: 'print this help and exit' },
];

async function status(argv: string[]): Promise<number> {
  try {
    const { values, positional } = parseFlags(argv, STATUS_FLAGS);
    if (values.has('help')) {
      process.stdout.write(
        formatHelp(
          'Usage: distributed-cache status [--server HOST:PORT] [--auth-token TOKEN]\n\nPrints the member table as that node sees it.',
          STATUS_FLAGS,
        ),
      );
      return 0;
    }
    if (positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positional[0])}`);
    const authToken = values.get('auth-token')?.[0] ?? (process.env[AUTH_TOKEN_ENV] || undefined);
    return await printStatus(values.get('server')?.[0] ?? ':7000', (text) => process.stdout.write(text), authToken);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`distributed-cache status: ${message}\n`);
    return error instanceof UsageError || error instanceof ConfigError ? 2 : 1;
  }
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'status') return status(argv.slice(1));
  let parsed: ReturnType<typeof optionsFromFlags>;
  try {
    const { values, positional } = parseFlags(argv, FLAGS);
    if (values.has('help')) {
      process.stdout.write(formatHelp(USAGE, FLAGS));
      return 0;
    }
    if (values.has('version')) {
      process.stdout.write(`${version}\n`);
      return 0;
    }
    if (positional.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positional[0])} (see --help)`);
    parsed = optionsFromFlags(values, process.env);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      process.stderr.write(`distributed-cache: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const logger = createLogger(parsed.logLevel);
  if (!tuneAllocatorForServer()) logger.debug('allocator settings not applied (no native addon, or not glibc): large values run slower');
  // Signal handlers go in before the node starts, so a signal that arrives as soon as it listens still drains.
  let stopRequested: NodeJS.Signals | undefined;
  let requestStop: (signal: NodeJS.Signals) => void = (signal) => (stopRequested = signal);
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn(`${signal} again: exiting at once`);
      process.exit(1);
    }
    requestStop(signal);
  };
  let stopping = false;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let node: Awaited<ReturnType<typeof startNode>>;
  try {
    node = await startNode({ ...parsed.options, logger });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`distributed-cache: ${message}\n`);
    return error instanceof ConfigError ? 2 : 1;
  }
  return new Promise<number>((resolve) => {
    requestStop = (signal) => {
      stopRequested = signal;
      stopping = true;
      logger.info(`${signal}: draining and shutting down`);
      node.close().then(
        () => {
          logger.info('shut down cleanly');
          resolve(0);
        },
        (error: unknown) => {
          logger.error(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
          resolve(1);
        },
      );
    };
    if (stopRequested !== undefined) requestStop(stopRequested);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`distributed-cache: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
