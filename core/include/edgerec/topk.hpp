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
// k is clamped to n (a huge k reserves no more than n entries).
std::vector<TopK> select_top_k(const float* scores, index_t n, int k,
                               const std::uint8_t* skip = nullptr);

// Exact top-K of dot(u, V.row(i)) + offset over an item matrix V, either by a norm-bounded visit
// or by a plain scan, chosen per index at construction from a sample of queries (see Sample).
//
// The visit takes items in decreasing norm order and stops as soon as Cauchy–Schwarz
// (|u.v| <= |u| |v|, widened by a bound on float rounding) proves no unvisited item can still
// enter the top K. It pays only when a few long items hold the best scores for most queries:
// on the synthetic benchmark catalogue (100k items, iALS 64 factors) it scores ~1% of the items;
// on iALS, BPR and SVD models of MovieLens 100K and 1M it cannot stop before the give-up point
// (a quarter of the catalogue, after which it scans everything), which costs ~1.5x a plain scan.
// Hence the choice: the construction runs the visit on the sample and keeps it only where its
// estimated cost is at most half a plain scan's; otherwise top_k() scans. Either way the result
// is identical, items and scores bit for bit, to select_top_k() over kernels::score_all(), which
// the tests check on both targets. The bound never prunes while the k-th score is infinite, and
// a bound that is not a finite float means "cannot prune" (float scores can overflow).
//
// Precision::int8 is the quantised flavour: the visit scores rows from int8 codes stored in
// visit order (a contiguous scan, a quarter of the bytes), keeps the best k + k/8 + 2 by those
// approximate scores (exact with respect to them), then re-scores that short list in f32 and
// returns its best k: f32 scores, but an item the codes ranked low can be missed (top-10
// overlap with f32 measured 1.0 on the benchmark model; the tests require >= 0.99). Its visit is
// never worse than a scan of the codes (it reads them in order), so it makes no choice.
//
// Ownership: the index copies what it needs from V (norms, visit order, int8 codes) and borrows
// nothing; top_k() takes the same V again, which must be unchanged (its shape is checked).
// Memory: 8 bytes per item, plus the codes (dim rounded up to 8, bytes per item) for int8.
// Thread-safety: const methods may run concurrently.
class NormIndex {
 public:
  enum class Precision { f32, int8 };
  // How top_k() searches: as chosen at construction, by the visit, or by a plain scan.
  enum class Mode { chosen, visit, scan };

  struct Stats {
    std::size_t scored = 0;  // items whose score was computed
    bool full_scan = false;  // every item was scored (a scan, or a visit that gave up)
    bool scanned = false;    // a plain scan from the start (the choice, or Mode::scan)
  };

  // Queries standing for the ones the index will serve, for the choice: offsets.size() queries,
  // each V.cols() floats of `queries` (one after another) with its offset and, optionally, the
  // items it skips (query q skips skip[skip_end[q - 1], skip_end[q]); skip_end empty: none).
  struct Sample {
    std::vector<float> queries;
    std::vector<float> offsets;
    std::vector<index_t> skip;
    std::vector<std::size_t> skip_end;
    int k = 10;
    const char* source = "";  // what the queries are, for reports (a static string)
  };

  // What the construction chose, and from what. Without a sample (or for int8) the visit is used.
  struct Choice {
    bool visit = true;         // top_k(Mode::chosen) visits; false: it scans every item
    std::size_t queries = 0;   // sample queries run (the run stops once the scan is certain)
    double scored = 0;         // mean share of the items the visit scored on them (give-up: 1)
    double cost = 0;           // estimated mean cost of the visit, in plain scans (see below)
    const char* source = "";   // Sample::source
  };

  // The choice's cost model, in plain scans of the catalogue (score every item, then select):
  // a visited item costs about two scanned ones (a gathered row instead of a streamed one, plus
  // bound checks and heap offers; measured 2.1 natively on ML-1M iALS), and a visit that gives
  // up (after a quarter of the catalogue) costs what it visited plus a whole scan. The visit is
  // kept when its mean estimated cost over the sample is at most kMaxVisitCost: a margin for
  // the sample's error, and for the median query being worse than the mean.
  static constexpr double kVisitedItemCost = 2.0;
  static constexpr double kMaxVisitCost = 0.5;

  NormIndex() = default;
  explicit NormIndex(const Matrix& V, Precision precision = Precision::f32,
                     const Sample* sample = nullptr);

  Precision precision() const { return precision_; }
  const Choice& choice() const { return choice_; }
  std::size_t rows() const { return order_.size(); }
  std::size_t bytes() const;

  // The k best items for query u (V.cols() floats) with `offset` added to every score, skipping
  // items where skip (nullable, V.rows() bytes) is non-zero; k is clamped to V.rows().
  // `scratch` holds V.rows() floats (scans write there). Throws Error when V's shape differs
  // from the index. `mode` forces the visit or the scan (benchmarks, tests); int8 ignores it.
  std::vector<TopK> top_k(const Matrix& V, const float* u, float offset, int k,
                          const std::uint8_t* skip, float* scratch, Stats* stats = nullptr,
                          Mode mode = Mode::chosen) const;

 private:
  void choose(const Matrix& V, const Sample& sample);
  std::vector<TopK> top_k_int8(const Matrix& V, const float* u, float offset, int k,
                               const std::uint8_t* skip, Stats* stats) const;

  Precision precision_ = Precision::f32;
  Choice choice_;
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
