/**
 * The C allocator's settings for a node process: a fixed trim threshold, so memory freed at the top of the heap
 * (Node's 64 KiB read buffers, one per socket read) is kept for reuse instead of being returned to the kernel
 * and faulted in again on the next read. See native/allocator.h for the measurements behind it.
 *
 * Only the `distributed-cache` command applies it: it changes the whole process, so an application that embeds
 * startNode() or the Client decides for itself. Applied through the native addon (glibc's mallopt); without the
 * addon, or on another C library, nothing changes and the node only runs slower with large values.
 */
import { nativeBinding } from '../consistent/native';

/** Freed heap memory kept before any is returned to the kernel. */
export const TRIM_THRESHOLD_BYTES = 32 * 2 ** 20;
/** Allocations from this size up are mapped on their own (slab pages: a flush returns them to the kernel). */
export const MMAP_THRESHOLD_BYTES = 512 * 2 ** 10;

let tuned = false;

/** Whether this process runs with the settings (STATS reports it as allocator.tuned). */
export function isAllocatorTuned(): boolean {
  return tuned;
}

/** Applies the settings; returns whether they were applied. */
export function tuneAllocatorForServer(): boolean {
  const binding = nativeBinding;
  if (binding === undefined || typeof binding.tuneAllocator !== 'function') return false;
  tuned = binding.tuneAllocator(TRIM_THRESHOLD_BYTES, MMAP_THRESHOLD_BYTES) || tuned;
  return tuned;
}
