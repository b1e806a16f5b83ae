// edgerec's own RNG: xoshiro256** (Blackman & Vigna) seeded through SplitMix64. Portable and
// identical on every platform and standard library, which std::*_distribution is not.
#include <cmath>

#include "edgerec/split.hpp"
#include "eval/rng_core.hpp"

namespace edgerec {

// The integer core is shared with device code (eval/rng_core.hpp).
Rng::Rng(std::uint64_t seed) { rng_core::seed(s_, seed); }

std::uint64_t Rng::next() { return rng_core::next(s_); }

std::uint64_t Rng::below(std::uint64_t n) { return rng_core::below(s_, n); }

double Rng::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  // Box-Muller without caching the second value, so the stream position is simple to reason about.
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
  return rng_core::mix_seed(a, b, c);
}

}  // namespace edgerec
