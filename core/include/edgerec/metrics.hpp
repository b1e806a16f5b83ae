// edgerec/metrics.hpp — accuracy and ranking metrics, the field's standard definitions.
//
// Ranking metrics take one user's ranked list (best first) and that user's relevant items.
// Binary relevance throughout. Definitions (K = cut-off, rel = relevant set, hits = relevant
// items in the top K):
//   HR@K        1 if hits > 0 else 0
//   Precision@K hits / K
//   Recall@K    hits / |rel|
//   NDCG@K      sum over hits at 1-based rank r of 1/log2(r+1), divided by the ideal
//               sum for min(|rel|, K) hits
//   MAP@K       (1/min(|rel|, K)) * sum over hits at rank r of Precision@r
//   MRR         1 / rank of the first relevant item in the whole ranked list (0 if none)
//   AUC         fraction of (relevant, non-relevant) pairs among the ranked candidates where
//               the relevant one ranks higher
// Catalogue coverage = distinct recommended items / catalogue size. Popularity Gini = Gini
// coefficient of how often each catalogue item appears in the recommendation lists (0 = every
// item equally often, 1 = one item only).
// All functions are pure and thread-safe.
//
// Edge cases: a user with no relevant items has no defined recall/NDCG/MAP; the per-user
// functions return 0 and RankingAccumulator does not count such a user. AUC with no
// non-relevant candidate is 0.5 (no pair to order). Precision@K divides by K even when fewer
// than K items are ranked. Duplicates in `relevant` count once; a relevant item that appears in
// `ranked` more than once counts at its first position.
//
// Ties (rank_relevant): scores carry ties (a popularity model gives many items the same
// count; a constant model gives every item the same score), and ordering tied items by index
// would let a model score well by accident. edgerec uses the conservative rule: a relevant
// item is ranked below every non-relevant candidate whose score is >= its own. Relevant items
// tied with each other keep index order (which of them is first does not change any metric
// here). NaN scores count as -infinity, so a NaN never ranks a relevant item up.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "edgerec/data.hpp"

namespace edgerec {

double rmse(const std::vector<float>& predicted, const std::vector<float>& actual);
double mae(const std::vector<float>& predicted, const std::vector<float>& actual);

// `ranked` is sorted best first; `relevant` is sorted ascending (any order accepted).
double hit_rate_at(const std::vector<index_t>& ranked, const std::vector<index_t>& relevant, int k);
double precision_at(const std::vector<index_t>& ranked, const std::vector<index_t>& relevant, int k);
double recall_at(const std::vector<index_t>& ranked, const std::vector<index_t>& relevant, int k);
double ndcg_at(const std::vector<index_t>& ranked, const std::vector<index_t>& relevant, int k);
double map_at(const std::vector<index_t>& ranked, const std::vector<index_t>& relevant, int k);
double reciprocal_rank(const std::vector<index_t>& ranked, const std::vector<index_t>& relevant);
// `ranked` holds every candidate (relevant and not), best first.
double auc(const std::vector<index_t>& ranked, const std::vector<index_t>& relevant);

// Errors: an item index >= n_items or n_items == 0 throws Error. Empty lists give 0.
double catalogue_coverage(const std::vector<std::vector<index_t>>& lists, index_t n_items);
// Normalised Gini sum_i (2i - n + 1) c_(i) / ((n - 1) sum c), counts c sorted ascending
// (0-based i), so it is exactly 0 for equal counts and 1 when one item takes every slot.
double popularity_gini(const std::vector<std::vector<index_t>>& lists, index_t n_items);

// 1-based ranks, ascending, of the `relevant` items among the candidates [0, n) not marked in
// `skip` (n bytes, non-zero = not a candidate; may be null), ordered by score descending with
// the conservative tie rule above. Relevant items that are skipped or >= n are ignored (so the
// result may be shorter than `relevant`). `*candidates` (if non-null) receives the number of
// candidates. One pass over the scores (O(n log |relevant|)), no sort of the catalogue.
std::vector<std::uint32_t> rank_relevant(const float* scores, index_t n,
                                         const std::vector<index_t>& relevant,
                                         const std::uint8_t* skip, std::size_t* candidates);

// Accumulates per-user ranking metrics and reports their means.
class RankingAccumulator {
 public:
  explicit RankingAccumulator(int k = 10, std::string prefix = "") : k_(k), prefix_(std::move(prefix)) {}
  // `ranked` must contain every candidate (needed for MRR and AUC), best first.
  void add(const std::vector<index_t>& ranked, const std::vector<index_t>& relevant);
  // The same metrics from the 1-based ranks of one user's relevant items among `candidates`
  // ranked items (strictly ascending, each <= candidates; what rank_relevant() returns), so
  // full-catalogue evaluation never materialises or sorts the ranked list. Throws Error on
  // ranks that are not strictly ascending within [1, candidates]. Empty ranks: not counted.
  void add_ranks(const std::vector<std::uint32_t>& ranks, std::size_t candidates);
  std::size_t users() const { return n_; }
  // Keys: hr@K ndcg@K recall@K precision@K map@K mrr auc (with the prefix, e.g. "full_").
  // Empty when no user was counted (there is no mean to report).
  std::map<std::string, double> means() const;
  // Adds other's sums to this one's. Sums are floating point, so merge in a fixed order
  // (edgerec merges per-chunk accumulators in chunk order) for results that do not depend on
  // scheduling. Throws Error when the cut-offs differ.
  void merge(const RankingAccumulator& other);

 private:
  int k_;
  std::string prefix_;
  std::size_t n_ = 0;
  double hr_ = 0, ndcg_ = 0, recall_ = 0, precision_ = 0, map_ = 0, mrr_ = 0, auc_ = 0;
};

}  // namespace edgerec
