/** Human sizes for flags: `64mb`, `1MiB`, `512k`, `1048576`. Units are binary (k = 1024), as memcached's -m. */
import { ConfigError } from '../errors';

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

export function parseSize(text: string, what: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined)
    throw new ConfigError(`${what} must be a size like 64mb, 512kb or 1048576, got ${JSON.stringify(text)}`);
  const bytes = Math.floor(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new ConfigError(`${what} is too large: ${text}`);
  return bytes;
}
