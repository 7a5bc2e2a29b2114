// Checks that a folder of prebuilds, or a packed tarball, holds the native addon for every platform a release
// promises (docs/RELEASING.md). Usage: node scripts/check-prebuilds.mjs prebuilds | distributed-cache-X.tgz
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Platform folder → the file names that must be in it: prebuildify names a binary after the package, with the
 * libc tag on Linux (--tag-libc), so musl and glibc builds sit side by side and node-gyp-build picks by libc.
 */
export const EXPECTED = {
  'linux-x64': ['distributed-cache.glibc.node', 'distributed-cache.musl.node'],
  'linux-arm64': ['distributed-cache.glibc.node', 'distributed-cache.musl.node'],
  'darwin-x64': ['distributed-cache.node'],
  'darwin-arm64': ['distributed-cache.node'],
  'win32-x64': ['distributed-cache.node'],
};

function listFolder(folder) {
  const files = [];
  for (const platform of readdirSync(folder)) {
    for (const file of readdirSync(join(folder, platform))) {
      if (statSync(join(folder, platform, file)).size > 0) files.push(`${platform}/${file}`);
    }
  }
  return files;
}

function listTarball(tarball) {
  return execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' })
    .split('\n')
    .filter((path) => path.startsWith('package/prebuilds/'))
    .map((path) => path.slice('package/prebuilds/'.length));
}

const source = process.argv[2];
if (source === undefined) {
  console.error('usage: node scripts/check-prebuilds.mjs <prebuilds folder | package .tgz>');
  process.exit(2);
}
const present = new Set(source.endsWith('.tgz') ? listTarball(source) : listFolder(source));
const missing = Object.entries(EXPECTED).flatMap(([platform, files]) =>
  files.map((file) => `${platform}/${file}`).filter((path) => !present.has(path)),
);
if (missing.length > 0) {
  console.error(`${source} lacks prebuilds: ${missing.join(', ')}`);
  process.exit(1);
}
console.log(`${source}: every platform's prebuild is there (${Object.keys(EXPECTED).join(', ')})`);
