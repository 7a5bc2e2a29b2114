// xxHash32, written from the published XXH32 algorithm description (xxhash_spec.md, "XXH32 Algorithm
// Description"). Lanes are read little-endian whatever the host byte order, so every platform computes the
// same hash and therefore the same ring owner.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dcache {

constexpr uint32_t kPrime1 = 0x9E3779B1u;
constexpr uint32_t kPrime2 = 0x85EBCA77u;
constexpr uint32_t kPrime3 = 0xC2B2AE3Du;
constexpr uint32_t kPrime4 = 0x27D4EB2Fu;
constexpr uint32_t kPrime5 = 0x165667B1u;

inline uint32_t RotateLeft(uint32_t value, int bits) {
  return (value << bits) | (value >> (32 - bits));
}

inline uint32_t ReadLane(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

inline uint32_t Round(uint32_t accumulator, uint32_t lane) {
  return RotateLeft(accumulator + lane * kPrime2, 13) * kPrime1;
}

inline uint32_t Xxh32(const uint8_t* input, size_t length, uint32_t seed) {
  const uint8_t* p = input;
  const uint8_t* const end = input + length;
  uint32_t accumulator;

  if (length >= 16) {
    uint32_t v1 = seed + kPrime1 + kPrime2;
    uint32_t v2 = seed + kPrime2;
    uint32_t v3 = seed;
    uint32_t v4 = seed - kPrime1;
    const uint8_t* const lastStripe = end - 16;
    do {
      v1 = Round(v1, ReadLane(p));
      v2 = Round(v2, ReadLane(p + 4));
      v3 = Round(v3, ReadLane(p + 8));
      v4 = Round(v4, ReadLane(p + 12));
      p += 16;
    } while (p <= lastStripe);
    accumulator = RotateLeft(v1, 1) + RotateLeft(v2, 7) + RotateLeft(v3, 12) + RotateLeft(v4, 18);
  } else {
    accumulator = seed + kPrime5;
  }

  accumulator += static_cast<uint32_t>(length);

  while (p + 4 <= end) {
    accumulator = RotateLeft(accumulator + ReadLane(p) * kPrime3, 17) * kPrime4;
    p += 4;
  }
  while (p < end) {
    accumulator = RotateLeft(accumulator + static_cast<uint32_t>(*p) * kPrime5, 11) * kPrime1;
    p += 1;
  }

  accumulator ^= accumulator >> 15;
  accumulator *= kPrime2;
  accumulator ^= accumulator >> 13;
  accumulator *= kPrime3;
  accumulator ^= accumulator >> 16;
  return accumulator;
}

}  // namespace dcache
