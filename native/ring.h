// The ring's points on the native side: sorted uint32 points with a parallel owner table. Set once per ring
// change, searched many times. A bucket table indexed by the hash's top bits (at least 16 buckets per point,
// at most 2^16) gives the search range directly, so a lookup is one hash, one table read and almost never a
// scan: a binary search's unpredictable branches, or even a scan of one point, cost more than the hash. The same scheme lives in
// src/consistent/ring.ts; both return the first point >= hash.
#pragma once

#include <cstdint>
#include <vector>

#include "hash.h"

namespace dcache {

class RingPoints {
 public:
  void Assign(const uint32_t* points, const int32_t* owners, size_t count) {
    points_.assign(points, points + count);
    owners_.assign(owners, owners + count);
    int bits = 8;
    while (bits < 16 && (size_t{1} << bits) < count * 16) bits++;
    shift_ = 32 - bits;
    const size_t buckets = size_t{1} << bits;
    bucketStart_.assign(buckets + 1, static_cast<uint32_t>(count));
    size_t at = 0;
    for (size_t bucket = 0; bucket < buckets; bucket++) {
      const uint64_t lowest = static_cast<uint64_t>(bucket) << shift_;
      while (at < count && points_[at] < lowest) at++;
      bucketStart_[bucket] = static_cast<uint32_t>(at);
    }
  }

  size_t size() const { return points_.size(); }

  // Owner of the first point >= hash, wrapping to the first point; -1 on an empty ring.
  int32_t OwnerOf(uint32_t hash) const {
    const size_t count = points_.size();
    if (count == 0) return -1;
    const uint32_t bucket = hash >> shift_;
    size_t at = bucketStart_[bucket];
    const size_t end = bucketStart_[bucket + 1];
    while (at < end && points_[at] < hash) at++;
    return owners_[at == count ? 0 : at];
  }

  int32_t Lookup(const uint8_t* key, size_t length, uint32_t seed) const {
    return OwnerOf(Xxh32(key, length, seed));
  }

 private:
  std::vector<uint32_t> points_;
  std::vector<int32_t> owners_;
  std::vector<uint32_t> bucketStart_;
  int shift_ = 24;
};

}  // namespace dcache
