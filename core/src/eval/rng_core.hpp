// Internal: the integer core of edgerec's random numbers (Rng in edgerec/split.hpp, the dropout
// hash of the tensor operations), as inline functions that compile for the host and, under nvcc,
// for a CUDA device too (native/cuda/ draws BPR's samples and dropout masks with the very same
// streams). Pure integer arithmetic: identical bits on every platform.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define EDGEREC_HD __host__ __device__
#else
#define EDGEREC_HD
#endif

namespace edgerec::rng_core {

EDGEREC_HD inline std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// SplitMix64's finaliser alone (the dropout hash of Backend::dropout).
EDGEREC_HD inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

EDGEREC_HD inline std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

// xoshiro256** state seeded by SplitMix64 (Rng's constructor).
EDGEREC_HD inline void seed(std::uint64_t s[4], std::uint64_t seed) {
  std::uint64_t x = seed;
  for (int i = 0; i < 4; ++i) s[i] = splitmix64(x);
}

EDGEREC_HD inline std::uint64_t next(std::uint64_t s[4]) {
  const std::uint64_t result = rotl(s[1] * 5, 7) * 9;
  const std::uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

// The high and low 64 bits of a * b.
EDGEREC_HD inline void mul128(std::uint64_t a, std::uint64_t b, std::uint64_t& hi, std::uint64_t& lo) {
#if defined(__CUDA_ARCH__)
  hi = __umul64hi(a, b);
  lo = a * b;
#else
  const unsigned __int128 m = static_cast<unsigned __int128>(a) * b;
  hi = static_cast<std::uint64_t>(m >> 64);
  lo = static_cast<std::uint64_t>(m);
#endif
}

// Uniform integer in [0, n): Lemire's multiply-shift with rejection (unbiased).
EDGEREC_HD inline std::uint64_t below(std::uint64_t s[4], std::uint64_t n) {
  if (n <= 1) return 0;
  std::uint64_t hi, lo;
  mul128(next(s), n, hi, lo);
  if (lo < n) {
    const std::uint64_t threshold = (0 - n) % n;
    while (lo < threshold) mul128(next(s), n, hi, lo);
  }
  return hi;
}

EDGEREC_HD inline std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  std::uint64_t x = a;
  std::uint64_t h = splitmix64(x);
  x = h ^ b;
  h = splitmix64(x);
  x = h ^ c;
  return splitmix64(x);
}

// Backend::dropout: element i is dropped when this is below p.
EDGEREC_HD inline std::uint64_t dropout_key(std::uint64_t seed) { return mix64(seed + 0x9E3779B97F4A7C15ull); }
EDGEREC_HD inline double dropout_uniform(std::uint64_t key, std::uint64_t i) {
  return static_cast<double>(mix64(key ^ (i * 0xD1B54A32D192ED03ull)) >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace edgerec::rng_core
