// Splits keep rows in file order on both sides: later steps (leave-last-out ties, duplicate
// policies, the "last" rating) read file order as meaning, so a split must not scramble it.
#include "edgerec/split.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "eval/grouping.hpp"

namespace edgerec {
namespace {

void check_not_empty(const Interactions& data, const char* what) {
  if (data.rows.empty())
    throw Error(std::string(what) + ": cannot split an empty data set (" + data.source + ")");
}

void check_fraction(double f, const char* what) {
  if (!(f > 0.0 && f < 1.0))
    throw Error(std::string(what) + ": test fraction must be strictly between 0 and 1 (got " +
                std::to_string(f) + ")");
}

// A seeded Fisher-Yates permutation of [0, n).
std::vector<std::size_t> permutation(std::size_t n, std::uint64_t seed) {
  std::vector<std::size_t> p(n);
  std::iota(p.begin(), p.end(), std::size_t{0});
  Rng rng(seed);
  shuffle(p, rng);
  return p;
}

Split split_by_mask(const Interactions& data, const std::vector<std::uint8_t>& to_test) {
  Split s{data.empty_like(), data.empty_like()};
  std::size_t n_test = 0;
  for (auto t : to_test) n_test += t;
  s.test.rows.reserve(n_test);
  s.train.rows.reserve(data.rows.size() - n_test);
  for (std::size_t i = 0; i < data.rows.size(); ++i)
    (to_test[i] ? s.test : s.train).rows.push_back(data.rows[i]);
  return s;
}

}  // namespace

Split random_holdout(const Interactions& data, double test_fraction, std::uint64_t seed) {
  check_not_empty(data, "holdout");
  check_fraction(test_fraction, "holdout");
  const std::size_t n = data.rows.size();
  const auto n_test = static_cast<std::size_t>(std::llround(static_cast<double>(n) * test_fraction));
  const auto p = permutation(n, seed);
  std::vector<std::uint8_t> to_test(n, 0);
  for (std::size_t i = 0; i < n_test; ++i) to_test[p[i]] = 1;
  return split_by_mask(data, to_test);
}

Split kfold(const Interactions& data, int folds, int fold, std::uint64_t seed) {
  check_not_empty(data, "kfold");
  if (folds < 2) throw Error("kfold: --folds must be at least 2 (got " + std::to_string(folds) + ")");
  if (static_cast<std::size_t>(folds) > data.rows.size())
    throw Error("kfold: " + std::to_string(folds) + " folds need at least as many rows (have " +
                std::to_string(data.rows.size()) + ")");
  if (fold < 0 || fold >= folds)
    throw Error("kfold: fold " + std::to_string(fold) + " is outside 0.." + std::to_string(folds - 1));
  // Every fold draws the same permutation from the seed and takes its own contiguous slice,
  // so the folds partition the rows exactly (sizes differ by at most one).
  const std::size_t n = data.rows.size();
  const auto p = permutation(n, seed);
  const std::size_t begin = n * static_cast<std::size_t>(fold) / static_cast<std::size_t>(folds);
  const std::size_t end = n * static_cast<std::size_t>(fold + 1) / static_cast<std::size_t>(folds);
  std::vector<std::uint8_t> to_test(n, 0);
  for (std::size_t i = begin; i < end; ++i) to_test[p[i]] = 1;
  return split_by_mask(data, to_test);
}

Split leave_last_out(const Interactions& data, int min_interactions) {
  check_not_empty(data, "leave-last-out");
  const auto groups = detail::group_by_user(data);
  const std::size_t least = static_cast<std::size_t>(std::max(2, min_interactions));
  std::vector<std::uint8_t> to_test(data.rows.size(), 0);
  for (index_t u = 0; u < data.n_users(); ++u) {
    if (groups.size(u) < least) continue;  // too short to give one away: training only
    std::uint64_t last = *groups.begin(u);
    // Rows of a user are in file order, so `>=` lets a later row win a timestamp tie.
    for (const std::uint64_t* r = groups.begin(u); r != groups.end(u); ++r)
      if (data.rows[*r].time >= data.rows[last].time) last = *r;
    to_test[last] = 1;
  }
  return split_by_mask(data, to_test);
}

Split temporal_split(const Interactions& data, double test_fraction) {
  check_not_empty(data, "temporal split");
  check_fraction(test_fraction, "temporal split");
  if (!data.has_time)
    throw Error("temporal split: " + data.source + " has no timestamps");
  std::vector<std::int64_t> times(data.rows.size());
  for (std::size_t i = 0; i < times.size(); ++i) times[i] = data.rows[i].time;
  std::sort(times.begin(), times.end());
  const std::size_t n = times.size();
  const auto n_test = std::max<std::size_t>(
      1, static_cast<std::size_t>(std::llround(static_cast<double>(n) * test_fraction)));
  const std::int64_t cut = times[n - std::min(n, n_test)];
  std::vector<std::uint8_t> to_test(n, 0);
  std::size_t n_in_test = 0;
  for (std::size_t i = 0; i < n; ++i) n_in_test += to_test[i] = data.rows[i].time >= cut;
  if (n_in_test == n)
    throw Error("temporal split: every row of " + data.source + " is at or after the cut-off time " +
                std::to_string(cut) + ", so nothing is left to train on");
  return split_by_mask(data, to_test);
}

std::vector<std::vector<index_t>> sample_negatives(const Interactions& data,
                                                   const std::vector<index_t>& users, int count,
                                                   std::uint64_t seed) {
  if (count < 0) throw Error("negative samples: count must be >= 0 (got " + std::to_string(count) + ")");
  const index_t n_items = data.n_items();
  const auto groups = detail::group_by_user(data);
  std::vector<std::vector<index_t>> out(users.size());
  // mark[i] == stamp means "not available for entry e" (interacted or already drawn); a new
  // stamp per entry avoids clearing the array.
  std::vector<std::uint32_t> mark(n_items, 0);
  std::uint32_t stamp = 0;
  std::vector<index_t> pool;
  for (std::size_t e = 0; e < users.size(); ++e) {
    const index_t u = users[e];
    if (u >= data.n_users())
      throw Error("negative samples: user index " + std::to_string(u) + " is outside the " +
                  std::to_string(data.n_users()) + " users of " + data.source);
    if (++stamp == 0) {  // wrapped after 4 billion entries: start the stamps afresh
      std::fill(mark.begin(), mark.end(), 0);
      stamp = 1;
    }
    std::size_t interacted = 0;
    for (const std::uint64_t* r = groups.begin(u); r != groups.end(u); ++r) {
      auto& m = mark[data.rows[*r].item];
      interacted += m != stamp;
      m = stamp;
    }
    const std::size_t available = n_items - interacted;
    const std::size_t want = std::min(available, static_cast<std::size_t>(count));
    // Each entry has its own stream, so entry e's sample does not depend on the others.
    Rng rng(mix_seed(seed, e, 0x6e656773ull /* "negs" */));
    auto& negs = out[e];
    negs.reserve(want);
    if (want * 2 <= available && available * 2 >= n_items) {
      // Most items are available: rejection sampling touches only ~want items.
      while (negs.size() < want) {
        const auto i = static_cast<index_t>(rng.below(n_items));
        if (mark[i] == stamp) continue;
        mark[i] = stamp;
        negs.push_back(i);
      }
    } else {
      // A heavy user or a large sample: draw from the explicit pool by a partial shuffle.
      pool.clear();
      for (index_t i = 0; i < n_items; ++i)
        if (mark[i] != stamp) pool.push_back(i);
      for (std::size_t j = 0; j < want; ++j) {
        std::swap(pool[j], pool[j + rng.below(pool.size() - j)]);
        negs.push_back(pool[j]);
      }
    }
    std::sort(negs.begin(), negs.end());
  }
  return out;
}

}  // namespace edgerec
