#!/usr/bin/env node
/**
 * The `distributed-cache` command: start a node (`distributed-cache --addr :7000`). Flags map one to one onto
 * startNode's options; a bad flag or value prints what is wrong and exits 2. SIGINT/SIGTERM drain and exit 0;
 * a second signal exits at once.
 */
import { ConfigError } from './errors';
import { formatHelp, parseFlags, UsageError, type FlagSpec } from './cli/flags';
import { createLogger, LOG_LEVELS, type LogLevel } from './server/logger';
import { NODE_DEFAULTS, type NodeOptions } from './server/options';
import { parseSize } from './server/size';
import { startNode } from './server/node';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require('../package.json') as { version: string };

const FLAGS: FlagSpec[] = [
  { name: 'addr', kind: 'string', placeholder: 'HOST:PORT', help: 'where to listen; :PORT binds 127.0.0.1', defaultText: NODE_DEFAULTS.addr },
  { name: 'max-memory', kind: 'string', placeholder: 'SIZE', help: 'item memory limit, pages and index included', defaultText: '64mb' },
  { name: 'max-key-size', kind: 'string', placeholder: 'SIZE', help: 'largest key', defaultText: '1kb' },
  { name: 'max-value-size', kind: 'string', placeholder: 'SIZE', help: 'largest value (1kb to 128mb)', defaultText: '1mb' },
  { name: 'max-connections', kind: 'string', placeholder: 'N', help: 'open connections allowed', defaultText: String(NODE_DEFAULTS.maxConnections) },
  { name: 'frame-timeout', kind: 'string', placeholder: 'MS', help: 'close a connection whose frame stays half-sent this long', defaultText: String(NODE_DEFAULTS.frameTimeoutMs) },
  { name: 'drain-timeout', kind: 'string', placeholder: 'MS', help: 'on SIGINT/SIGTERM, how long in-flight responses may drain', defaultText: String(NODE_DEFAULTS.drainTimeoutMs) },
  { name: 'log-level', kind: 'string', placeholder: 'LEVEL', help: `one of ${LOG_LEVELS.join(', ')}`, defaultText: 'info' },
  { name: 'help', kind: 'boolean', help: 'print this help and exit' },
  { name: 'version', kind: 'boolean', help: 'print the version and exit' },
];

const USAGE = `Usage: distributed-cache [options]

Starts a cache node. Example: distributed-cache --addr :7000 --max-memory 256mb`;

function integerFlag(text: string, name: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`--${name} must be a whole number, got ${JSON.stringify(text)}`);
  return Number(text);
}

function optionsFromFlags(values: Map<string, string[]>): { options: NodeOptions; logLevel: LogLevel } {
  const one = (name: string): string | undefined => values.get(name)?.[0];
  const options: NodeOptions = {};
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
  const logLevel = (one('log-level') ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  return { options, logLevel };
}

async function main(argv: string[]): Promise<number> {
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
    parsed = optionsFromFlags(values);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      process.stderr.write(`distributed-cache: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const logger = createLogger(parsed.logLevel);
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
