/**
 * The binary port, bound before the node is built (docs/ARCHITECTURE.md, "The composition root"). The node's
 * member id is its address, and with `:0` the port is known only once bound; membership and the router need the
 * id. So start-node.ts binds first (net/bind.ts), builds store → membership → router, and then serves the bound
 * port with a CacheServer built with the router and the member handshake checker: nothing is late-bound.
 *
 * No connection can be taken in between: from the moment bind()'s promise resumes to serve() everything runs
 * synchronously, and libuv accepts connections only in its poll phase, which cannot run meanwhile. Connections
 * that arrive wait in the kernel's backlog.
 */
import type * as net from 'node:net';
import type { HostPort } from '../net/address';
import { bindListener } from '../net/bind';
import type { ResolvedNodeOptions } from '../server/node-options';

/** The bound, not yet served, binary port: its address, and how to let it go if the node cannot start. */
export class BoundPort {
  private constructor(
    readonly server: net.Server,
    readonly address: HostPort,
  ) {}

  /** Binds `options.listen`; rejects with the listen error (the port is in use, the address is not local…). */
  static async bind(options: ResolvedNodeOptions): Promise<BoundPort> {
    const server = await bindListener(options.listen);
    const { port } = server.address() as net.AddressInfo;
    return new BoundPort(server, { host: options.listen.host, port });
  }

  /** The node will not start: stop listening. */
  release(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
