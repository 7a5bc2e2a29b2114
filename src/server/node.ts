/**
 * startNode: the embeddable node (store + command handler + TCP server). The CLI is a thin shell around it.
 */
import { Store } from '../cache/store';
import { formatHostPort } from './address';
import { LocalCommandHandler } from './commands';
import { createLogger } from './logger';
import { resolveNodeOptions, type NodeOptions } from './options';
import { CacheServer } from './server';
import { ServerStats } from './stats';

export interface CacheNode {
  /** host:port the node listens on (the real port when 0 was asked for). */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** The node's store, for embedding applications and tests. */
  readonly store: Store;
  /** The STATS snapshot, as a client would receive it. */
  stats(): Record<string, unknown>;
  /** Stops accepting, drains in-flight responses (up to drainTimeoutMs), closes connections and the store. */
  close(): Promise<void>;
}

export async function startNode(options: NodeOptions = {}): Promise<CacheNode> {
  const resolved = resolveNodeOptions(options);
  const logger = options.logger ?? createLogger('info');
  const store = new Store({
    maxMemoryBytes: resolved.maxMemoryBytes,
    maxKeyBytes: resolved.maxKeyBytes,
    maxValueBytes: resolved.maxValueBytes,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const stats = new ServerStats();
  const handler = new LocalCommandHandler(store, stats, resolved);
  const server = new CacheServer(resolved, handler, stats, logger);
  try {
    await server.listen();
  } catch (error) {
    store.close();
    throw error;
  }
  const { host, port } = server.address;
  let closing: Promise<void> | undefined;
  return {
    address: formatHostPort({ host, port }),
    host,
    port,
    store,
    stats: () => handler.statsSnapshot(),
    close() {
      closing ??= (async () => {
        handler.draining = true;
        await server.close();
        store.close();
      })();
      return closing;
    },
  };
}
