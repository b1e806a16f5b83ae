// Metric definitions are in edgerec/metrics.hpp; this file follows them literally. Sums are
// kept in double so that averaging over a million users loses nothing visible in the output.
#include "edgerec/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

namespace edgerec {
namespace {

void check_k(int k) {
  if (k < 1) throw Error("ranking cut-off k must be at least 1 (got " + std::to_string(k) + ")");
}

std::vector<index_t> sorted_unique(const std::vector<index_t>& v) {
  std::vector<index_t> s(v);
  std::sort(s.begin(), s.end());
  s.erase(std::unique(s.begin(), s.end()), s.end());
  return s;
}

// 1-based positions in `ranked` of the relevant items it contains, ascending. An item listed
// twice in `ranked` counts at its first position only, so no metric can exceed its maximum.
std::vector<std::uint32_t> hit_positions(const std::vector<index_t>& ranked,
                                         const std::vector<index_t>& rel_sorted) {
  std::vector<std::uint32_t> hits;
  std::vector<std::uint8_t> found(rel_sorted.size(), 0);
  for (std::size_t p = 0; p < ranked.size(); ++p) {
    auto it = std::lower_bound(rel_sorted.begin(), rel_sorted.end(), ranked[p]);
    if (it == rel_sorted.end() || *it != ranked[p]) continue;
    auto& f = found[static_cast<std::size_t>(it - rel_sorted.begin())];
    if (f) continue;
    f = 1;
    hits.push_back(static_cast<std::uint32_t>(p + 1));
  }
  return hits;
}

double discount(double rank) { return 1.0 / std::log2(rank + 1.0); }

double ideal_dcg(std::size_t relevant, int k) {
  double idcg = 0;
  const std::size_t n = std::min(relevant, static_cast<std::size_t>(k));
  for (std::size_t r = 1; r <= n; ++r) idcg += discount(static_cast<double>(r));
  return idcg;
}

std::size_t hits_within(const std::vector<std::uint32_t>& ranks, int k) {
  return static_cast<std::size_t>(
      std::upper_bound(ranks.begin(), ranks.end(), static_cast<std::uint32_t>(k)) - ranks.begin());
}

double dcg_of(const std::vector<std::uint32_t>& ranks, int k) {
  double dcg = 0;
  for (std::size_t j = 0, n = hits_within(ranks, k); j < n; ++j) dcg += discount(ranks[j]);
  return dcg;
}

// sum over hits at rank r <= k of Precision@r; the j-th hit (0-based) at rank r has j+1 hits
// in its top r.
double precision_sum(const std::vector<std::uint32_t>& ranks, int k) {
  double s = 0;
  for (std::size_t j = 0, n = hits_within(ranks, k); j < n; ++j)
    s += static_cast<double>(j + 1) / ranks[j];
  return s;
}

// AUC from ascending ranks of `ranks.size()` relevant items among `candidates`: the relevant
// item with 0-based index j at rank r has r-1-j non-relevant items above it.
double auc_of_ranks(const std::vector<std::uint32_t>& ranks, std::size_t candidates) {
  const std::size_t rel = ranks.size();
  const std::size_t neg = candidates - rel;
  if (rel == 0 || neg == 0) return 0.5;
  double below = 0;
  for (std::size_t j = 0; j < rel; ++j)
    below += static_cast<double>(neg - (ranks[j] - 1 - j));
  return below / (static_cast<double>(rel) * static_cast<double>(neg));
}

std::vector<std::uint64_t> item_counts(const std::vector<std::vector<index_t>>& lists,
                                       index_t n_items) {
  if (n_items == 0) throw Error("coverage/Gini need a catalogue of at least one item");
  std::vector<std::uint64_t> counts(n_items, 0);
  for (const auto& list : lists)
    for (index_t i : list) {
      if (i >= n_items)
        throw Error("recommended item index " + std::to_string(i) + " is outside the catalogue of " +
                    std::to_string(n_items) + " items");
      ++counts[i];
    }
  return counts;
}

float effective(float s) { return std::isnan(s) ? -std::numeric_limits<float>::infinity() : s; }

}  // namespace

double rmse(const std::vector<float>& predicted, const std::vector<float>& actual) {
  if (predicted.size() != actual.size())
    throw Error("rmse: " + std::to_string(predicted.size()) + " predictions for " +
                std::to_string(actual.size()) + " ratings");
  if (actual.empty()) throw Error("rmse of an empty test set");
  double s = 0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double d = static_cast<double>(predicted[i]) - actual[i];
    s += d * d;
  }
  return std::sqrt(s / static_cast<double>(actual.size()));
}

double mae(const std::vector<float>& predicted, const std::vector<float>& actual) {
  if (predicted.size() != actual.size())
    throw Error("mae: " + std::to_string(predicted.size()) + " predictions for " +
                std::to_string(actual.size()) + " ratings");
  if (actual.empty()) throw Error("mae of an empty test set");
  double s = 0;
  for (std::size_t i = 0; i < actual.size(); ++i)
    s += std::fabs(static_cast<double>(predicted[i]) - actual[i]);
  return s / static_cast<double>(actual.size());
}

double hit_rate_at(const std::vector<index_t>& ranked, const std::vector<index_t>& relevant, int k) {
  check_k(k);
  return hits_within(hit_positions(ranked, sorted_unique(relevant)), k) > 0 ? 1.0 : 0.0;
}

double precision_at(const std::vector<index_t>& ranked, const std::vector<index_t>& relevant, int k) {
  check_k(k);
  return static_cast<double>(hits_within(hit_positions(ranked, sorted_unique(relevant)), k)) / k;
}

double recall_at(const std::vector<index_t>& ranked, const std::vector<index_t>& relevant, int k) {
  check_k(k);
  const auto rel = sorted_unique(relevant);
  if (rel.empty()) return 0.0;
  return static_cast<double>(hits_within(hit_positions(ranked, rel), k)) /
         static_cast<double>(rel.size());
}

double ndcg_at(const std::vector<index_t>& ranked, const std::vector<index_t>& relevant, int k) {
  check_k(k);
  const auto rel = sorted_unique(relevant);
  if (rel.empty()) return 0.0;
  return dcg_of(hit_positions(ranked, rel), k) / ideal_dcg(rel.size(), k);
}

double map_at(const std::vector<index_t>& ranked, const std::vector<index_t>& relevant, int k) {
  check_k(k);
  const auto rel = sorted_unique(relevant);
  if (rel.empty()) return 0.0;
  return precision_sum(hit_positions(ranked, rel), k) /
         static_cast<double>(std::min(rel.size(), static_cast<std::size_t>(k)));
}

double reciprocal_rank(const std::vector<index_t>& ranked, const std::vector<index_t>& relevant) {
  const auto hits = hit_positions(ranked, sorted_unique(relevant));
  return hits.empty() ? 0.0 : 1.0 / hits.front();
}

double auc(const std::vector<index_t>& ranked, const std::vector<index_t>& relevant) {
  // Ranks among the distinct candidates (a candidate listed twice is one candidate, at its
  // first position); only relevant items that are candidates form pairs.
  const auto rel = sorted_unique(relevant);
  std::unordered_set<index_t> seen_items;
  seen_items.reserve(ranked.size());
  std::vector<std::uint32_t> ranks;
  std::uint32_t position = 0;
  for (index_t item : ranked) {
    if (!seen_items.insert(item).second) continue;
    ++position;
    if (std::binary_search(rel.begin(), rel.end(), item)) ranks.push_back(position);
  }
  return auc_of_ranks(ranks, seen_items.size());
}

double catalogue_coverage(const std::vector<std::vector<index_t>>& lists, index_t n_items) {
  const auto counts = item_counts(lists, n_items);
  std::size_t distinct = 0;
  for (auto c : counts) distinct += c > 0;
  return static_cast<double>(distinct) / n_items;
}

double popularity_gini(const std::vector<std::vector<index_t>>& lists, index_t n_items) {
  auto counts = item_counts(lists, n_items);
  if (n_items < 2) return 0.0;  // one item cannot be unequally recommended
  std::sort(counts.begin(), counts.end());
  double total = 0, weighted = 0;
  const double n = static_cast<double>(n_items);
  for (std::size_t i = 0; i < counts.size(); ++i) {
    total += static_cast<double>(counts[i]);
    weighted += (2.0 * static_cast<double>(i) - n + 1.0) * static_cast<double>(counts[i]);
  }
  if (total == 0) return 0.0;
  return weighted / ((n - 1.0) * total);
}

std::vector<std::uint32_t> rank_relevant(const float* scores, index_t n,
                                         const std::vector<index_t>& relevant,
                                         const std::uint8_t* skip, std::size_t* candidates) {
  struct Rel {
    float score;
    index_t item;
  };
  std::vector<Rel> rel;
  for (index_t i : sorted_unique(relevant))
    if (i < n && !(skip && skip[i])) rel.push_back({effective(scores[i]), i});
  // The order the tie rule puts relevant items in: score descending, ties by index.
  std::stable_sort(rel.begin(), rel.end(),
                   [](const Rel& a, const Rel& b) { return a.score > b.score; });
  const std::size_t r = rel.size();

  // above[p] counts candidates (relevant included) that are >= exactly the relevant items
  // p, p+1, ..., r-1 (those with score <= the candidate's): one binary search per candidate.
  std::vector<std::uint64_t> above(r + 1, 0);
  std::size_t count = 0;
  if (r == 1) {
    // The NCF / leave-one-out case, kept branch-light because it runs over the whole catalogue
    // for every user.
    // A NaN candidate compares false, which is right (it counts as -inf < s0) unless the
    // relevant item itself is at -inf, where every candidate is >= it.
    const float s0 = rel[0].score;
    const bool bottom = s0 == -std::numeric_limits<float>::infinity();
    std::uint64_t ge = 0;
    if (skip) {
      for (index_t i = 0; i < n; ++i) {
        const unsigned c = skip[i] == 0;
        count += c;
        ge += c & static_cast<unsigned>(scores[i] >= s0);
      }
    } else {
      count = n;
      for (index_t i = 0; i < n; ++i) ge += scores[i] >= s0;
    }
    above[0] = bottom ? count : ge;
  } else if (r <= 64) {
    // A typical test user has a few dozen relevant items: a branch-free count over the sorted
    // relevant scores beats a binary search whose branches the CPU cannot predict.
    std::vector<float> d(r);
    for (std::size_t j = 0; j < r; ++j) d[j] = rel[j].score;
    for (index_t i = 0; i < n; ++i) {
      if (skip && skip[i]) continue;
      ++count;
      const float t = effective(scores[i]);
      std::size_t p = 0;
      for (std::size_t j = 0; j < r; ++j) p += d[j] > t;
      ++above[p];
    }
  } else {
    for (index_t i = 0; i < n; ++i) {
      if (skip && skip[i]) continue;
      ++count;
      const float t = effective(scores[i]);
      const auto p = std::partition_point(rel.begin(), rel.end(),
                                          [t](const Rel& x) { return x.score > t; }) -
                     rel.begin();
      ++above[static_cast<std::size_t>(p)];
    }
  }
  if (candidates) *candidates = count;

  // Relevant item j has C_j = above[0] + ... + above[j] candidates with score >= its own; of
  // those, ge_j are relevant (itself and every relevant item tied with or above it). The rest
  // are non-relevant and go above it; so do the j relevant items ordered before it.
  std::vector<std::uint32_t> ranks(r);
  std::uint64_t cumulative = 0;
  std::size_t tie_end = 0;  // one past the last relevant item tied with item j
  for (std::size_t j = 0; j < r; ++j) {
    cumulative += above[j];
    if (tie_end <= j) {
      tie_end = j + 1;
      while (tie_end < r && rel[tie_end].score == rel[j].score) ++tie_end;
    }
    const std::uint64_t non_relevant_above = cumulative - tie_end;
    ranks[j] = static_cast<std::uint32_t>(1 + j + non_relevant_above);
  }
  return ranks;
}

void RankingAccumulator::add(const std::vector<index_t>& ranked,
                             const std::vector<index_t>& relevant) {
  check_k(k_);
  if (relevant.empty()) return;
  ++n_;
  hr_ += hit_rate_at(ranked, relevant, k_);
  ndcg_ += ndcg_at(ranked, relevant, k_);
  recall_ += recall_at(ranked, relevant, k_);
  precision_ += precision_at(ranked, relevant, k_);
  map_ += map_at(ranked, relevant, k_);
  mrr_ += reciprocal_rank(ranked, relevant);
  auc_ += auc(ranked, relevant);
}

void RankingAccumulator::add_ranks(const std::vector<std::uint32_t>& ranks,
                                   std::size_t candidates) {
  check_k(k_);
  if (ranks.empty()) return;
  for (std::size_t j = 0; j < ranks.size(); ++j)
    if (ranks[j] < 1 || ranks[j] > candidates || (j > 0 && ranks[j] <= ranks[j - 1]))
      throw Error("add_ranks: ranks must be strictly ascending within [1, " +
                  std::to_string(candidates) + "]");
  const std::size_t rel = ranks.size();
  const std::size_t hits = hits_within(ranks, k_);
  ++n_;
  hr_ += hits > 0 ? 1.0 : 0.0;
  ndcg_ += dcg_of(ranks, k_) / ideal_dcg(rel, k_);
  recall_ += static_cast<double>(hits) / static_cast<double>(rel);
  precision_ += static_cast<double>(hits) / k_;
  map_ += precision_sum(ranks, k_) / static_cast<double>(std::min(rel, static_cast<std::size_t>(k_)));
  mrr_ += 1.0 / ranks.front();
  auc_ += auc_of_ranks(ranks, candidates);
}

std::map<std::string, double> RankingAccumulator::means() const {
  std::map<std::string, double> m;
  if (n_ == 0) return m;
  const double n = static_cast<double>(n_);
  const std::string k = std::to_string(k_);
  m[prefix_ + "hr@" + k] = hr_ / n;
  m[prefix_ + "ndcg@" + k] = ndcg_ / n;
  m[prefix_ + "recall@" + k] = recall_ / n;
  m[prefix_ + "precision@" + k] = precision_ / n;
  m[prefix_ + "map@" + k] = map_ / n;
  m[prefix_ + "mrr"] = mrr_ / n;
  m[prefix_ + "auc"] = auc_ / n;
  return m;
}

void RankingAccumulator::merge(const RankingAccumulator& other) {
  if (other.k_ != k_)
    throw Error("cannot merge ranking metrics @" + std::to_string(other.k_) + " into @" +
                std::to_string(k_));
  n_ += other.n_;
  hr_ += other.hr_;
  ndcg_ += other.ndcg_;
  recall_ += other.recall_;
  precision_ += other.precision_;
  map_ += other.map_;
  mrr_ += other.mrr_;
  auc_ += other.auc_;
}

}  // namespace edgerec
