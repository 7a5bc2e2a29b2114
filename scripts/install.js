#!/usr/bin/env node
'use strict';
/**
 * The package's install step. In order: a prebuilt binary that loads (prebuilds/<platform>-<arch>/, what
 * releases carry), else a source build with node-gyp (python3, make and a C++17 compiler), else the TypeScript
 * fallback: one line says why and how to get the native addon, and the install still succeeds. Everything works
 * either way, with bit-identical results; only hashing and ring lookups are slower without the addon.
 *
 * DCACHE_REQUIRE_NATIVE=1 turns the fallback into a failed install (and, at run time, into an error).
 * DCACHE_FORCE_JS=1 skips the native addon altogether. DCACHE_INSTALL_VERBOSE=1 prints the build's output.
 */
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const required = process.env.DCACHE_REQUIRE_NATIVE === '1';
const target = `${process.platform}-${process.arch}`;

function loads() {
  try {
    require('node-gyp-build')(root);
    return true;
  } catch {
    return false;
  }
}

/** The first line of a failed build that says what was missing. */
function reason(output) {
  const lines = output.split('\n').map((line) => line.trim());
  const python = lines.find((line) => /find Python|Could not find any Python/i.test(line));
  if (python !== undefined) return 'no python3 for node-gyp';
  const missing = lines.find((line) => /not found: (make|cc|c\+\+|g\+\+|clang)/i.test(line) || /command not found/i.test(line));
  if (missing !== undefined) return missing.replace(/^gyp ERR! (stack )?/, '');
  const error = lines.find((line) => line.startsWith('gyp ERR!') && !/not ok|cwd|node -v|node-gyp -v|System|command/.test(line));
  return error === undefined ? 'the source build failed' : error.replace(/^gyp ERR! (stack )?/, '');
}

function main() {
  if (process.env.DCACHE_FORCE_JS === '1' && !required) {
    console.log('distributed-cache: DCACHE_FORCE_JS=1, not building the native addon; the TypeScript implementation will be used');
    return 0;
  }
  if (loads()) return 0;
  const build = spawnSync(process.execPath, [require.resolve('node-gyp-build/bin.js')], { cwd: root, encoding: 'utf8', env: process.env });
  const output = `${build.stdout ?? ''}${build.stderr ?? ''}${build.error ? String(build.error) : ''}`;
  if (process.env.DCACHE_INSTALL_VERBOSE === '1' || required) process.stderr.write(output);
  if (build.status === 0 && loads()) {
    console.log(`distributed-cache: built the native addon from source for ${target}`);
    return 0;
  }
  const why = reason(output);
  if (required) {
    console.error(`distributed-cache: DCACHE_REQUIRE_NATIVE=1 but no native addon for ${target}: no prebuilt binary, and ${why}`);
    return 1;
  }
  console.warn(
    `distributed-cache: no native addon for ${target} (no prebuilt binary; source build: ${why}): the TypeScript fallback will be used ` +
      '(same results, slower hashing). For the native addon install python3, make and a C++ compiler, then run `npm rebuild distributed-cache`.',
  );
  return 0;
}

process.exitCode = main();
