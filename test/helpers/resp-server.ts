/**
 * RESP servers for tests: a Store with a fake clock behind LocalRespBackend (or any backend), listening on
 * 127.0.0.1 port 0. closeAllRespServers() closes every server and store started here; suites call it from
 * after.each so a failed assertion never leaks a listener.
 */
import { Store, type StoreOptions } from '../../src/cache/store';
import type { RespBackend } from '../../src/resp/backend';
import { LocalRespBackend } from '../../src/resp/local-backend';
import { RespServer, type RespServerOptions } from '../../src/resp/resp-server';

export class FakeClock {
  constructor(public now = 1_700_000_000_000) {}
  readonly read = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
}

export interface TestRespServer {
  server: RespServer;
  port: number;
  store: Store;
  clock: FakeClock;
  backend: RespBackend;
}

const servers = new Set<RespServer>();
const stores = new Set<Store>();

export interface TestServerOptions extends Partial<Omit<RespServerOptions, 'backend'>> {
  store?: StoreOptions;
  /** Wraps the local backend (e.g. to answer asynchronously). */
  wrap?: (local: LocalRespBackend) => RespBackend;
}

export async function startRespTestServer(options: TestServerOptions = {}): Promise<TestRespServer> {
  const clock = new FakeClock();
  const { store: storeOptions, wrap, ...serverOptions } = options;
  const store = new Store({ clock: clock.read, expiryIntervalMs: 0, ...storeOptions });
  stores.add(store);
  const local = new LocalRespBackend(store, { clock: clock.read });
  const backend = wrap ? wrap(local) : local;
  const server = new RespServer({
    addr: '127.0.0.1:0',
    drainTimeoutMs: 1000,
    maxValueBytes: store.maxValueBytes,
    ...serverOptions,
    backend,
  });
  servers.add(server);
  await server.listen();
  return { server, port: server.port, store, clock, backend };
}

export async function closeAllRespServers(): Promise<void> {
  const all = [...servers];
  servers.clear();
  await Promise.all(all.map((server) => server.close()));
  for (const store of stores) store.close();
  stores.clear();
}
