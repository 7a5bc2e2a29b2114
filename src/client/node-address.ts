/**
 * Node addresses as clients write them: `HOST:PORT`, `[IPv6]:PORT`, or `:PORT` for 127.0.0.1:PORT (the same
 * spelling the CLI's --addr takes). A bad address is a configuration mistake, reported at construction.
 */
import { ConfigError } from '../errors';

export interface NodeAddress {
  readonly host: string;
  readonly port: number;
  /** Canonical `host:port` (`[v6]:port`), used in messages and as the node's id. */
  readonly id: string;
}

const DEFAULT_CLIENT_HOST = '127.0.0.1';

const PORT_RE = /^\d{1,5}$/;
const HOST_RE = /^[A-Za-z0-9._-]+$/;

/**
 * Parses one node address; throws TypeError for a non-string, ConfigError for an unusable one. Port 0 ("any
 * free port") is accepted only where a node listens, never where something connects.
 */
export function parseNodeAddress(text: unknown, what = 'node address', allowPortZero = false): NodeAddress {
  if (typeof text !== 'string') {
    throw new TypeError(`${what} must be a string like "127.0.0.1:7000" or ":7000", got ${describe(text)}`);
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) throw new ConfigError(`${what} ${JSON.stringify(text)} has no port: write HOST:PORT or :PORT`);
  let host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (host.startsWith('[') && host.endsWith(']')) {
    host = host.slice(1, -1);
    if (!/^[0-9A-Fa-f:.]+(%[\w.-]+)?$/.test(host)) {
      throw new ConfigError(`${what} ${JSON.stringify(text)} has a bad IPv6 host between the brackets`);
    }
  } else if (host.includes(':')) {
    throw new ConfigError(`${what} ${JSON.stringify(text)}: write an IPv6 host in brackets, e.g. [::1]:7000`);
  } else if (host === '') {
    host = DEFAULT_CLIENT_HOST;
  } else if (!HOST_RE.test(host)) {
    throw new ConfigError(`${what} ${JSON.stringify(text)} has a bad host ${JSON.stringify(host)}`);
  }
  const port = Number(portText);
  const lowest = allowPortZero ? 0 : 1;
  if (!PORT_RE.test(portText) || port < lowest || port > 65535) {
    throw new ConfigError(`${what} ${JSON.stringify(text)} has a bad port: use ${lowest}-65535`);
  }
  const id = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return { host, port, id };
}

/** Parses the `nodes` option: a non-empty array of distinct addresses. */
export function parseNodeList(nodes: unknown): NodeAddress[] {
  if (!Array.isArray(nodes)) {
    throw new TypeError(`nodes must be an array of "HOST:PORT" strings, got ${describe(nodes)}`);
  }
  if (nodes.length === 0) throw new ConfigError('nodes must name at least one node, e.g. ["127.0.0.1:7000"]');
  const seen = new Set<string>();
  const out: NodeAddress[] = [];
  nodes.forEach((text: unknown, i) => {
    const address = parseNodeAddress(text, `nodes[${i}]`);
    if (seen.has(address.id)) throw new ConfigError(`nodes[${i}] ${address.id} is listed twice`);
    seen.add(address.id);
    out.push(address);
  });
  return out;
}

/** A short description of a value for error messages (type, and the value when it is small). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return value.length > 40 ? `a string of length ${value.length}` : `the string ${JSON.stringify(value)}`;
    case 'number':
    case 'bigint':
    case 'boolean':
      return `${typeof value} ${String(value)}`;
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    default:
      return value instanceof Uint8Array ? 'a Uint8Array' : `an object (${Object.prototype.toString.call(value)})`;
  }
}
