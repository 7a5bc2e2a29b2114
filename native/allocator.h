// The C allocator's settings for a node process (glibc malloc only; elsewhere nothing changes).
//
// Why: Node allocates a fresh 64 KiB buffer for every socket read, and a node answering 64 KiB SETs frees one
// per request. With glibc's defaults (a trim threshold of 128 KiB that moves with use), the freed memory at
// the top of the heap goes back to the kernel and is faulted in again on the next read: measured here, 5 to 8
// page faults per 64 KiB SET and about half of the node's CPU time in the kernel. Fixing the two thresholds
// keeps that memory for reuse. Allocations of at least mmapThreshold bytes (the store's 1 MiB slab pages) are
// still mapped on their own, so flushing the store still returns their memory.
#pragma once

#include <cstdlib>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace dcache {

// Returns whether the allocator took both settings.
inline bool TuneAllocator(int trimThresholdBytes, int mmapThresholdBytes) {
#if defined(__GLIBC__)
  return mallopt(M_TRIM_THRESHOLD, trimThresholdBytes) == 1 && mallopt(M_MMAP_THRESHOLD, mmapThresholdBytes) == 1;
#else
  (void)trimThresholdBytes;
  (void)mmapThresholdBytes;
  return false;
#endif
}

}  // namespace dcache
