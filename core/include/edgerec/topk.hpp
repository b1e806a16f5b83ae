// edgerec/topk.hpp — top-K selection, and exact top-K by inner product without scoring every item.
//
// Ordering everywhere: score descending, ties by item index ascending; NaN scores are never
// returned. So results are identical on every platform for the same model file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "edgerec/backend.hpp"

namespace edgerec {

// Strict "better than" of the one ordering: higher score, then lower index.
inline bool better(const TopK& a, const TopK& b) {
  return a.score > b.score || (a.score == b.score && a.item < b.item);
}

// Indices of the k largest of scores[0, n), skipping i where skip (nullable, n bytes) is non-zero.
std::vector<TopK> select_top_k(const float* scores, index_t n, int k,
                               const std::uint8_t* skip = nullptr);

// Exact top-K of dot(u, V.row(i)) + offset over an item matrix V, visiting items in decreasing
// norm order and stopping as soon as Cauchy–Schwarz (|u.v| <= |u| |v|, widened by a bound on
// float rounding) proves no unvisited item can still enter the top K. Factor models trained on
// real data have very unequal item norms (popular items are long), so a query typically scores
// a few percent of the catalogue; when the norms are flat it falls back to scanning everything.
// The result is identical, items and scores bit for bit, to select_top_k() over
// kernels::score_all(), which the tests check on both targets.
//
// Precision::int8 is the quantised flavour: the visit scores rows from int8 codes stored in
// visit order (a contiguous scan, a quarter of the bytes), keeps the best k + k/8 + 2 by those
// approximate scores (exact with respect to them), then re-scores that short list in f32 and
// returns its best k: f32 scores, but an item the codes ranked low can be missed (top-10
// overlap with f32 measured 1.0 on the benchmark model; the tests require >= 0.99).
//
// Ownership: the index copies what it needs from V (norms, visit order, int8 codes) and borrows
// nothing; top_k() takes the same V again, which must be unchanged (its shape is checked).
// Memory: 8 bytes per item, plus the codes (dim rounded up to 8, bytes per item) for int8.
// Thread-safety: const methods may run concurrently.
class NormIndex {
 public:
  enum class Precision { f32, int8 };

  struct Stats {
    std::size_t scored = 0;  // items whose score was computed
    bool full_scan = false;  // the bound pruned too little and every item was scored
  };

  NormIndex() = default;
  explicit NormIndex(const Matrix& V, Precision precision = Precision::f32);

  Precision precision() const { return precision_; }
  std::size_t rows() const { return order_.size(); }
  std::size_t bytes() const;

  // The k best items for query u (V.cols() floats) with `offset` added to every score, skipping
  // items where skip (nullable, V.rows() bytes) is non-zero. `scratch` holds V.rows() floats
  // (the full-scan fallback writes there). Throws Error when V's shape differs from the index.
  std::vector<TopK> top_k(const Matrix& V, const float* u, float offset, int k,
                          const std::uint8_t* skip, float* scratch, Stats* stats = nullptr) const;

 private:
  std::vector<TopK> top_k_int8(const Matrix& V, const float* u, float offset, int k,
                               const std::uint8_t* skip, Stats* stats) const;

  Precision precision_ = Precision::f32;
  std::size_t dim_ = 0;
  std::vector<index_t> order_;        // items by decreasing bound norm, ties by index
  std::vector<float> sorted_norm_;    // the bound norm of order_[j], rounded up
  // int8 only, in visit order: codes of V (rows padded to stride_ columns with zeros) and
  // scales, so V(order_[j], d) ~ scale_[j] * codes_(j, d); sorted_norm_[j] is then
  // scale_[j] * |codes_ row j|.
  // (An array, not a vector: resizing a vector zeroes it element by element in the -Os wasm
  // build, where its code is shared with cold files; every code is written anyway.)
  std::size_t stride_ = 0;
  std::unique_ptr<std::int8_t[]> codes_;
  std::vector<float> scale_;
};

}  // namespace edgerec
