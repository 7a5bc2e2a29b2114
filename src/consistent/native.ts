/**
 * Loads the native addon through node-gyp-build (a prebuilt binary from prebuilds/, else build/Release) and
 * falls back to the TypeScript implementation when none loads. DCACHE_FORCE_JS=1 forces the fallback, so the
 * same suite can run against both. Results are bit-identical either way; only speed differs.
 */
import * as path from 'node:path';

export interface NativeRingHandle {
  setPoints(points: Uint32Array, owners: Int32Array): void;
  lookupBatch(buffer: Uint8Array, spans: Uint32Array, count: number, out: Int32Array): void;
}

export interface NativeBinding {
  hash32(buffer: Uint8Array, offset: number, length: number, seed: number): number;
  NativeRing: new () => NativeRingHandle;
  /** glibc mallopt of the trim and mmap thresholds (native/allocator.h); false where not applied. */
  tuneAllocator(trimThresholdBytes: number, mmapThresholdBytes: number): boolean;
}

/** Why the addon is not in use (undefined when it is). */
export let nativeUnavailableReason: string | undefined;

function loadBinding(): NativeBinding | undefined {
  if (process.env['DCACHE_FORCE_JS'] === '1') {
    nativeUnavailableReason = 'DCACHE_FORCE_JS=1';
    return undefined;
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as (directory: string) => NativeBinding;
    // This file sits in src/consistent (tsx) or dist/consistent (compiled): the package root is two up.
    return nodeGypBuild(path.join(__dirname, '..', '..'));
  } catch (error) {
    if (process.env['DCACHE_REQUIRE_NATIVE'] === '1') throw error;
    nativeUnavailableReason = `${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`;
    return undefined;
  }
}

export const nativeBinding: NativeBinding | undefined = loadBinding();

/** True when the C++ addon loaded and backs hash32 batches and ring lookups. */
export const isNativeAccelerationEnabled: boolean = nativeBinding !== undefined;
