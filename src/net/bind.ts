/**
 * Binding a TCP port before anything serves it (docs/ARCHITECTURE.md, "The composition root"): a node's member id
 * is its address, known only once `:0` is bound, and membership and the router need it before the port may take
 * connections. The server returned has no connection handler yet; Listener.serve() attaches one. Connections that
 * arrive in between wait in the kernel's backlog: libuv accepts only in its poll phase, and the caller attaches
 * synchronously after this promise resumes.
 */
import * as net from 'node:net';
import { once } from 'node:events';
import type { HostPort } from './address';

/** A server bound to `at` (backlog 1024) that accepts nothing yet; rejects with the listen error. */
export async function bindListener(at: HostPort): Promise<net.Server> {
  const server = net.createServer({ noDelay: true });
  const listening = once(server, 'listening');
  const failed = once(server, 'error').then(([error]) => {
    throw error as Error;
  });
  server.listen({ host: at.host, port: at.port, backlog: 1024 });
  await Promise.race([listening, failed]);
  return server;
}
