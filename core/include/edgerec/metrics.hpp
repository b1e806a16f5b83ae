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

double catalogue_coverage(const std::vector<std::vector<index_t>>& lists, index_t n_items);
double popularity_gini(const std::vector<std::vector<index_t>>& lists, index_t n_items);

// Accumulates per-user ranking metrics and reports their means.
class RankingAccumulator {
 public:
  explicit RankingAccumulator(int k = 10, std::string prefix = "") : k_(k), prefix_(std::move(prefix)) {}
  // `ranked` must contain every candidate (needed for MRR and AUC), best first.
  void add(const std::vector<index_t>& ranked, const std::vector<index_t>& relevant);
  std::size_t users() const { return n_; }
  // Keys: hr@K ndcg@K recall@K precision@K map@K mrr auc (with the prefix, e.g. "full_").
  std::map<std::string, double> means() const;
  void merge(const RankingAccumulator& other);

 private:
  int k_;
  std::string prefix_;
  std::size_t n_ = 0;
  double hr_ = 0, ndcg_ = 0, recall_ = 0, precision_ = 0, map_ = 0, mrr_ = 0, auc_ = 0;
};

}  // namespace edgerec
