#include "edgerec/topk.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "edgerec/error.hpp"
#include "edgerec/kernels.hpp"

namespace edgerec {
namespace {

// A kept-k min-heap on better(): the front is the worst kept item, so most candidates cost one
// compare. Which items end up kept does not depend on the visit order (better() is a strict
// total order), which is what lets NormIndex visit items by norm instead of by index.
class Heap {
 public:
  explicit Heap(std::size_t k) : cap_(k) { items_.reserve(k + 1); }
  bool full() const { return items_.size() == cap_; }
  // The k-th best score once full (anything must beat it to enter).
  float worst() const { return items_.front().score; }
  void offer(index_t i, float s) {
    if (std::isnan(s)) return;
    const TopK c{i, s};
    if (items_.size() < cap_) {
      items_.push_back(c);
      std::push_heap(items_.begin(), items_.end(), better);
    } else if (better(c, items_.front())) {
      std::pop_heap(items_.begin(), items_.end(), better);
      items_.back() = c;
      std::push_heap(items_.begin(), items_.end(), better);
    }
  }
  std::vector<TopK> sorted() && {
    std::sort(items_.begin(), items_.end(), better);
    return std::move(items_);
  }

 private:
  std::size_t cap_;
  std::vector<TopK> items_;
};

// sqrt(sum x^2) in double, rounded up to a float, so that |x| <= the result holds exactly.
float norm_up(const float* x, std::size_t n) {
  double s = 0.0;
  for (std::size_t d = 0; d < n; ++d) s += static_cast<double>(x[d]) * x[d];
  const double r = std::sqrt(s);
  float f = static_cast<float>(r);
  if (static_cast<double>(f) < r) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  return f;
}

// True when no item whose bound norm is at most `norm` can score at least `kth`: its float
// score is at most fl(fl(u.v) + offset) with fl(u.v) <= |u| |v| (1 + gamma) (gamma bounds the
// rounding of a `dim`-term float dot product, ~dim * 2^-24, taken twice over for safety), and the
// final addition rounds by at most 2^-24 relative, covered by the 2^-22 slack. Strict, so an
// unvisited item cannot tie the k-th (a tie with a lower index would displace it).
// Overflow: a float score can round to +inf, which equals an infinite k-th score, so nothing is
// pruned while the k-th is not finite; and a bound above FLT_MAX proves nothing (the float
// score may overflow). NaN anywhere: false.
inline bool cannot_reach(double u_norm, double gamma, float norm, float offset, float kth) {
  constexpr double kMax = std::numeric_limits<float>::max();
  if (!(std::fabs(kth) <= std::numeric_limits<float>::max())) return false;
  const double bound = u_norm * static_cast<double>(norm) * (1.0 + gamma) + static_cast<double>(offset);
  if (!(bound <= kMax)) return false;
  return bound + std::fabs(bound) * 0x1p-22 + 1e-30 < static_cast<double>(kth);
}

// Visits run in blocks: the bound is checked once per block and the block's rows are scored
// with one gathered kernel call.
constexpr std::size_t kBlock = 16;
// Per-query scratch that fits the usual sizes lives on the stack (no allocation per query).
constexpr std::size_t kMaxStackDim = 512;
constexpr std::size_t kMaxShortlistStack = 256;

// The visit gives up after a quarter of the catalogue: past it, the gathered visit costs more
// than the plain scan it then falls back to.
inline std::size_t give_up_point(std::size_t n) { return n / 4; }

// The visit itself: items in order_ by blocks, stopping when the bound proves the heap final
// (true) or after about `limit` items (false, the heap not proven).
bool visit(const std::vector<index_t>& order, const std::vector<float>& sorted_norm, std::size_t dim,
           const Matrix& V, const float* u, float offset, const std::uint8_t* skip, std::size_t limit,
           Heap& heap, std::size_t& scored) {
  const std::size_t n = order.size();
  const double u_norm = norm_up(u, dim);
  const double gamma = 2.0 * static_cast<double>(dim + 2) * 0x1p-24;
  index_t rows[kBlock];
  float scores[kBlock];
  for (std::size_t j = 0; j < n; j += kBlock) {
    if (heap.full() && cannot_reach(u_norm, gamma, sorted_norm[j], offset, heap.worst())) return true;
    if (j >= limit && j > 0) return false;
    std::size_t m = 0;
    for (std::size_t b = j; b < std::min(n, j + kBlock); ++b)
      if (!skip || !skip[order[b]]) rows[m++] = order[b];
    kernels::score_rows(u, V.data(), dim, rows, m, offset, scores);
    scored += m;
    for (std::size_t b = 0; b < m; ++b) heap.offer(rows[b], scores[b]);
  }
  return true;
}

}  // namespace

std::vector<TopK> select_top_k(const float* scores, index_t n, int k, const std::uint8_t* skip) {
  if (k <= 0 || n == 0) return {};
  Heap heap(std::min<std::size_t>(static_cast<std::size_t>(k), n));
  std::size_t i = 0;
  for (; i < n && !heap.full(); ++i)
    if (!skip || !skip[i]) heap.offer(static_cast<index_t>(i), scores[i]);
  // Once k items are kept, the scan for the rare item that beats the k-th best runs in the SIMD
  // kernel next_above(). An equal score never displaces a kept item: every kept item has a
  // lower index.
  if (heap.full()) {
    while ((i = kernels::next_above(scores, i, n, heap.worst())) < n) {
      if (!skip || !skip[i]) heap.offer(static_cast<index_t>(i), scores[i]);
      ++i;
    }
  }
  return std::move(heap).sorted();
}

NormIndex::NormIndex(const Matrix& V, Precision precision, const Sample* sample)
    : precision_(precision), dim_(static_cast<std::size_t>(V.cols())) {
  const std::size_t n = static_cast<std::size_t>(V.rows());
  if (n >= std::numeric_limits<index_t>::max()) throw Error("too many items for an index");
  std::vector<float> norm(n);
  if (precision == Precision::f32) {
    for (std::size_t i = 0; i < n; ++i) norm[i] = norm_up(V.data() + i * dim_, dim_);
  } else {
    // Whole 8-column steps for the SIMD kernel; the padding columns are zero in both operands.
    stride_ = (dim_ + 7) & ~std::size_t{7};
    // Two passes, so the codes are written once, straight into visit order: this one only
    // measures each row's codes.
    std::vector<std::int8_t> row(stride_);
    float scale;
    for (std::size_t i = 0; i < n; ++i) {
      kernels::quantize_rows_int8(V.data() + i * dim_, 1, dim_, stride_, row.data(), &scale);
      std::int64_t s = 0;
      for (std::size_t d = 0; d < dim_; ++d) s += std::int64_t{row[d]} * row[d];
      const double r = std::sqrt(static_cast<double>(s)) * scale;
      norm[i] = static_cast<float>(r);
      if (static_cast<double>(norm[i]) < r) norm[i] = std::nextafter(norm[i], std::numeric_limits<float>::infinity());
    }
  }
  // Sorted as 64-bit keys: a non-negative float's bits order like its value, so (~bits, index)
  // ascending is norm descending, ties by index (integer sort, no comparator calls).
  std::vector<std::uint64_t> keys(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, &norm[i], sizeof bits);
    keys[i] = (std::uint64_t{~bits} << 32) | i;
  }
  std::sort(keys.begin(), keys.end());
  order_.resize(n);
  sorted_norm_.resize(n);
  for (std::size_t j = 0; j < n; ++j) {
    order_[j] = static_cast<index_t>(keys[j] & 0xffffffffu);
    sorted_norm_[j] = norm[order_[j]];
  }
  if (precision == Precision::int8) {
    // The codes are ours, so they are stored in visit order: a visit is a contiguous scan.
    codes_.reset(new std::int8_t[n * stride_]);
    scale_.resize(n);
    for (std::size_t j = 0; j < n; ++j)
      kernels::quantize_rows_int8(V.data() + std::size_t{order_[j]} * dim_, 1, dim_, stride_,
                                  codes_.get() + j * stride_, &scale_[j]);
  }
  if (sample && precision == Precision::f32) choose(V, *sample);
}

void NormIndex::choose(const Matrix& V, const Sample& sample) {
  const std::size_t n = order_.size();
  // Queries with a vector and an offset; skip lists past the sample's are taken as empty.
  const std::size_t m = std::min(sample.offsets.size(), dim_ ? sample.queries.size() / dim_ : 0);
  const auto& ends = sample.skip_end;
  choice_ = Choice{};
  choice_.source = sample.source;
  // No queries, no evidence that the visit pays: scan, which is never slower than a scan.
  choice_.visit = false;
  if (n == 0 || m == 0) return;
  const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(std::max(sample.k, 1)), n);
  std::vector<std::uint8_t> mask(ends.empty() ? 0 : n, 0);
  const double budget = NormIndex::kMaxVisitCost * static_cast<double>(m);
  double cost = 0, share = 0;
  for (std::size_t q = 0; q < m; ++q) {
    const std::size_t to = q < ends.size() ? std::min(ends[q], sample.skip.size()) : 0;
    const std::size_t from = q == 0 || q > ends.size() ? to : std::min(ends[q - 1], to);
    for (std::size_t j = from; j < to; ++j)
      if (sample.skip[j] < n) mask[sample.skip[j]] = 1;
    Heap heap(k);
    std::size_t scored = 0;
    const bool done = visit(order_, sorted_norm_, dim_, V, sample.queries.data() + q * dim_, sample.offsets[q],
                            mask.empty() ? nullptr : mask.data(), give_up_point(n), heap, scored);
    const double visited = static_cast<double>(scored) / static_cast<double>(n);
    cost += NormIndex::kVisitedItemCost * visited + (done ? 0.0 : 1.0);
    share += done ? visited : 1.0;
    ++choice_.queries;
    for (std::size_t j = from; j < to; ++j)
      if (sample.skip[j] < n) mask[sample.skip[j]] = 0;
    // The mean over the whole sample can only be higher than the budget now: scan.
    if (cost > budget) break;
  }
  choice_.cost = cost / static_cast<double>(choice_.queries);
  choice_.scored = share / static_cast<double>(choice_.queries);
  choice_.visit = cost <= budget;
}

std::size_t NormIndex::bytes() const {
  return order_.size() * (sizeof(index_t) + sizeof(float)) + (codes_ ? order_.size() * stride_ : 0) +
         scale_.size() * sizeof(float);
}

std::vector<TopK> NormIndex::top_k(const Matrix& V, const float* u, float offset, int k,
                                   const std::uint8_t* skip, float* scratch, Stats* stats, Mode mode) const {
  const std::size_t n = order_.size();
  if (static_cast<std::size_t>(V.rows()) != n || static_cast<std::size_t>(V.cols()) != dim_)
    throw Error("item index is out of date: the item matrix changed shape");
  Stats local;
  Stats& st = stats ? *stats : local;
  st = {};
  if (k <= 0 || n == 0) return {};
  k = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(k), n));
  if (precision_ == Precision::int8) return top_k_int8(V, u, offset, k, skip, &st);

  auto scan = [&] {
    st.full_scan = true;
    st.scored = n;
    kernels::score_all(u, V.data(), n, dim_, offset, scratch);
    return select_top_k(scratch, static_cast<index_t>(n), k, skip);
  };
  if (mode == Mode::scan || (mode == Mode::chosen && !choice_.visit)) {
    st.scanned = true;
    return scan();
  }
  Heap heap(static_cast<std::size_t>(k));
  if (visit(order_, sorted_norm_, dim_, V, u, offset, skip, give_up_point(n), heap, st.scored))
    return std::move(heap).sorted();
  return scan();
}

std::vector<TopK> NormIndex::top_k_int8(const Matrix& V, const float* u, float offset, int k,
                                        const std::uint8_t* skip, Stats* stats) const {
  const std::size_t n = order_.size();
  // The short list, exact with respect to the codes' scores (so at least as good as scanning
  // every code), then re-scored in f32. Three places of margin at k = 10 keep the top-10 overlap
  // with f32 at 1.0 on the benchmark model (the codes' error is ~0.4% of a row's largest entry);
  // each place of margin costs visits, and visits are what the int8 flavour saves.
  const std::size_t keep = std::min<std::size_t>(n, std::size_t(k) + std::size_t(k) / 8 + 2);
  if (keep == 0) return {};
  std::int16_t uq[kMaxStackDim];
  std::vector<std::int16_t> uq_heap;
  std::int16_t* q = uq;
  if (stride_ > kMaxStackDim) {
    uq_heap.resize(stride_);
    q = uq_heap.data();
  }
  const float us = kernels::quantize_query_int16(u, dim_, stride_, q);
  double uq_norm = 0.0;
  for (std::size_t d = 0; d < stride_; ++d) uq_norm += double(q[d]) * q[d];
  // The code dot product is exact in int32, so its Cauchy–Schwarz bound is exact too; only the
  // conversion and the two multiplications by the scales round (a few 2^-24, covered by gamma).
  const double u_norm = std::sqrt(uq_norm) * us;
  const double gamma = 0x1p-20;
  Heap heap(keep);
  float scores[kBlock];
  // No fallback needed: the codes are in visit order, so visiting everything is a plain scan.
  for (std::size_t j = 0; j < n; j += kBlock) {
    if (heap.full() && cannot_reach(u_norm, gamma, sorted_norm_[j], offset, heap.worst())) break;
    const std::size_t m = std::min(n - j, kBlock);
    kernels::score_all_int8(q, us, codes_.get() + j * stride_, scale_.data() + j, m, stride_, offset, scores);
    stats->scored += m;
    for (std::size_t b = 0; b < m; ++b)
      if (!skip || !skip[order_[j + b]]) heap.offer(order_[j + b], scores[b]);
  }
  if (stats->scored == n) stats->full_scan = true;
  // Re-score the short list in f32 so results carry the same scores as the f32 flavour.
  const std::vector<TopK> shortlist = std::move(heap).sorted();
  index_t ids[kMaxShortlistStack];
  std::vector<index_t> ids_heap;
  index_t* id = ids;
  std::vector<float> exact(shortlist.size());
  if (shortlist.size() > kMaxShortlistStack) {
    ids_heap.resize(shortlist.size());
    id = ids_heap.data();
  }
  for (std::size_t j = 0; j < shortlist.size(); ++j) id[j] = shortlist[j].item;
  kernels::score_rows(u, V.data(), dim_, id, shortlist.size(), offset, exact.data());
  Heap best(static_cast<std::size_t>(k));
  for (std::size_t j = 0; j < shortlist.size(); ++j) best.offer(id[j], exact[j]);
  return std::move(best).sorted();
}

}  // namespace edgerec
