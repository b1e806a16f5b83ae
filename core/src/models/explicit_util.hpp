// Internal: small pieces shared by the explicit-feedback models (popularity, baselines, SVD,
// SVD++): the global mean, seeded initialisation and shuffles, and the checks on a fold-in
// history and on a loaded file's shapes.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "edgerec/model.hpp"
#include "edgerec/model_file.hpp"
#include "io/archive.hpp"
#include "edgerec/split.hpp"

namespace edgerec::explicit_models {

// Mean rating of the training rows (summed in double so the order of 10^7 rows does not matter).
inline float global_mean(const Interactions& train) {
  double s = 0;
  for (const auto& r : train.rows) s += r.value;
  return train.rows.empty() ? 0.0f : static_cast<float>(s / static_cast<double>(train.rows.size()));
}

using edgerec::shuffle;

inline std::vector<std::uint32_t> iota(std::size_t n) {
  std::vector<std::uint32_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint32_t>(i);
  return v;
}

// N(0, std^2) entries, row by row.
inline void fill_normal(Matrix& m, Rng& rng, float std) {
  float* d = m.data();
  const std::size_t n = static_cast<std::size_t>(m.size());
  for (std::size_t i = 0; i < n; ++i) d[i] = static_cast<float>(rng.normal()) * std;
}

// The width of training factor rows for k factors: padded to whole 64-byte lines when that adds
// at most a quarter more work, so the SIMD loops run aligned without tails (k = 100 -> 112: an SGD
// step goes from 47 to 33 ns here). Padding columns start at 0 and stay exactly 0, since their
// gradient e * 0 - reg * 0 is 0, so they never change the model.
inline int padded_width(int k) {
  const int p = (k + 15) / 16 * 16;
  return (p - k) * 4 <= k ? p : k;
}

// Fold-in input comes from callers outside the model: reject what would index out of bounds or
// poison the arithmetic.
inline void check_history(const std::vector<ItemValue>& history, index_t n_items) {
  for (const auto& h : history) {
    if (h.item >= n_items)
      throw Error("fold-in: item index " + std::to_string(h.item) + " is out of range (" +
                  std::to_string(n_items) + " items)");
    if (!std::isfinite(h.value)) throw Error("fold-in: a rating is not a finite number");
  }
}

// SGD with too large a learning rate overflows; say so instead of saving a model of NaNs.
inline void check_epoch_loss(double loss, const char* model, int epoch) {
  if (!std::isfinite(loss))
    throw Error(std::string(model) + " training diverged in epoch " + std::to_string(epoch + 1) +
                " (the loss is not finite): lower --lr");
}

// Training sets index ratings with 32-bit positions in the shuffled order.
inline void check_row_count(const Interactions& train) {
  const std::uint64_t rows = train.rows.size();  // a u64 so wasm32 compiles it without a warning
  if (rows > 0xFFFFFFFFull) throw Error("too many training rows for one model (at most 2^32 - 1)");
}

// A loaded model's layout: `bias_cols` extra columns after factor_dims latent ones.
inline void check_layout(LoadArchive& r, const Embeddings& e, int expected_factor_dims_or_minus1,
                         int bias_cols) {
  if (expected_factor_dims_or_minus1 >= 0 && e.factor_dims != expected_factor_dims_or_minus1)
    r.fail("factor_dims", "must be " + std::to_string(expected_factor_dims_or_minus1) +
                              " for this model kind, not " + std::to_string(e.factor_dims));
  if (e.U.cols() != e.factor_dims + bias_cols)
    r.fail("user_factors", "has " + std::to_string(e.U.cols()) + " columns, expected " +
                               std::to_string(e.factor_dims + bias_cols));
}

}  // namespace edgerec::explicit_models
