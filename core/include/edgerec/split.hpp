// edgerec/split.hpp — deterministic train/test splits and protocols' data preparation.
//
// Every split keeps the full id maps, so train and test share one index space, and is a pure
// function of (data, options, seed): the same seed gives the same split on every platform
// (the RNG is edgerec's own SplitMix64/xoshiro, never std::uniform_*_distribution, whose
// output differs between standard libraries).
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "edgerec/data.hpp"

namespace edgerec {

struct Split {
  Interactions train;
  Interactions test;
};

// Each row goes to test with probability `test_fraction` (exact count: round(n * fraction),
// chosen by a seeded shuffle). Both parts keep the rows in file order. Throws Error on empty
// data or a fraction outside (0, 1).
Split random_holdout(const Interactions& data, double test_fraction, std::uint64_t seed);

// Fold `fold` (0-based) of `folds` after a seeded shuffle; folds partition the rows (every row
// is in exactly one test fold; fold sizes differ by at most one). Throws Error when folds < 2,
// folds > rows or fold is outside [0, folds).
Split kfold(const Interactions& data, int folds, int fold, std::uint64_t seed);

// Each user's last interaction by timestamp (ties by file order: the later row) goes to test;
// users with fewer than `min_interactions` interactions (at least 2 is enforced: a single one
// has nothing to learn from) stay in train only. Without timestamps this is the user's last row
// in the file (loaded files carry their file order as time, Interactions::file_order; rows
// built in code with all times 0 tie, and the later row wins). The seq protocol uses
// min_interactions = 3, as SASRec's data_partition: a user with 3 or more interactions gives
// one to test, one to validation and trains on the rest.
Split leave_last_out(const Interactions& data, int min_interactions = 2);

// Rows with time >= the (1 - test_fraction) quantile of all timestamps go to test: the cut is
// the timestamp of row n - round(n * fraction) in time order, so rows tied with it all go to
// test. Throws Error when the data has no timestamps or nothing would be left to train on.
Split temporal_split(const Interactions& data, double test_fraction);

// For each (user, held-out item): `count` items the user never interacted with in `data`,
// sampled uniformly without replacement with a seeded RNG (the NCF protocol's 99 negatives).
// Entry e uses its own stream mix_seed(seed, e, ...), so it does not depend on the others.
// Each list is sorted ascending; a user with fewer than `count` free items gets all of them.
// Throws Error on a user index outside data's users or count < 0.
std::vector<std::vector<index_t>> sample_negatives(const Interactions& data,
                                                   const std::vector<index_t>& users,
                                                   int count, std::uint64_t seed);

// A small, portable, seedable RNG (xoshiro256** seeded by SplitMix64).
class Rng {
 public:
  explicit Rng(std::uint64_t seed);
  std::uint64_t next();
  // Uniform integer in [0, n) without modulo bias.
  std::uint64_t below(std::uint64_t n);
  // Uniform float in [0, 1).
  double uniform();
  // Standard normal (Box-Muller, deterministic).
  double normal();
  // The generator's whole state, to save a stream and continue it later (a bandit's state).
  const std::uint64_t* state() const { return s_; }
  void set_state(const std::uint64_t (&s)[4]) { std::copy(s, s + 4, s_); }

 private:
  std::uint64_t s_[4];
};
// Mixes several integers into one seed (for per-epoch / per-block streams).
std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b, std::uint64_t c = 0);

// Fisher–Yates with Rng (std::shuffle's output differs between standard libraries): a uniform
// random order of v, the same for the same stream on every platform. Every seeded shuffle in
// edgerec is this one loop, so a change to it changes every published draw.
template <class T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<std::size_t>(rng.below(i))]);
}
// The forward, partial Fisher–Yates: v's first m entries become a uniform sample of v without
// replacement, in random order (the rest: the others, in no useful order). m <= v.size().
template <class T>
void shuffle_prefix(std::vector<T>& v, std::size_t m, Rng& rng) {
  for (std::size_t i = 0; i < m; ++i) std::swap(v[i], v[i + static_cast<std::size_t>(rng.below(v.size() - i))]);
}

}  // namespace edgerec
