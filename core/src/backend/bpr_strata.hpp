// Internal: the strata of the BPR epoch (see bpr.cpp): the user blocks and each epoch's random
// item partition. Shared by the CPU reference and the CUDA backend (native/cuda/), which runs the
// same strata with the same random streams.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "edgerec/data.hpp"
#include "edgerec/split.hpp"

namespace edgerec::bpr_strata {

// Streams of the epoch's random numbers (the third argument of mix_seed).
constexpr std::uint64_t kPartitionStream = 0xB10C;

// Boundaries b[0] = 0 < ... < b[T] = n cutting [0, n) into T ranges of about equal weight.
inline std::vector<index_t> balanced_cuts(const Csr& rows, int T) {
  const index_t n = rows.rows();
  const std::uint64_t total = rows.nnz();
  std::vector<index_t> cuts(static_cast<std::size_t>(T) + 1, n);
  cuts[0] = 0;
  index_t i = 0;
  for (int t = 1; t < T; ++t) {
    const std::uint64_t target = total * static_cast<std::uint64_t>(t) / static_cast<std::uint64_t>(T);
    while (i < n && rows.indptr[i + 1] <= target) ++i;
    // Every block keeps at least one row, so none is empty while n >= T.
    cuts[t] = std::clamp<index_t>(i, cuts[t - 1] + 1, n - static_cast<index_t>(T - t));
    i = cuts[t];
  }
  return cuts;
}

// This epoch's item partition into T blocks: block_of[i], and each block's items (ascending).
inline void item_partition(index_t n_items, int T, std::uint64_t epoch_seed, std::vector<index_t>& block_of,
                           std::vector<std::vector<index_t>>& block_items) {
  block_of.assign(n_items, 0);
  block_items.assign(static_cast<std::size_t>(T), {});
  std::vector<index_t> perm(n_items);
  for (index_t i = 0; i < n_items; ++i) perm[i] = i;
  if (T > 1) {
    Rng rng(mix_seed(epoch_seed, kPartitionStream, static_cast<std::uint64_t>(T)));
    for (index_t k = n_items; k > 1; --k) std::swap(perm[k - 1], perm[rng.below(k)]);
  }
  for (index_t k = 0; k < n_items; ++k)
    block_of[perm[k]] = static_cast<index_t>(std::uint64_t{k} * static_cast<std::uint64_t>(T) / n_items);
  for (index_t i = 0; i < n_items; ++i) block_items[block_of[i]].push_back(i);
}

}  // namespace edgerec::bpr_strata
