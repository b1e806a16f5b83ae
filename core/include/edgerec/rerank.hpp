// edgerec/rerank.hpp — beyond-accuracy metrics (intra-list diversity, novelty, calibration) and
// the re-rankers that trade accuracy for them (MMR, calibrated recommendations, popularity-bias
// mitigation).
//
// Definitions (a "list" is one user's top-K, best first; K = list length):
//   intra-list diversity  mean over the K(K-1)/2 pairs of the list of 1 - cos(v_i, v_j), over
//                         unit item vectors (item_unit_vectors: the model's item factors when it
//                         has embeddings, else the content features of its item metadata); a
//                         zero vector has cosine 0 with everything. Lists shorter than 2: none.
//   novelty               mean over the list of -log2 p(i), p(i) = training interactions of i /
//                         training users (the share of users who interacted with i, duplicates
//                         merged); an item with no training interaction counts as 1.
//   calibration KL        Steck (2018): KL(p || q~) = sum_g p(g) ln(p(g) / q~(g)), natural log,
//                         p = the genre distribution of the user's training items, q = that of
//                         the list, q~ = (1 - alpha) q + alpha p with alpha = 0.01. An item's
//                         genre distribution puts 1/n on each of its n genres; a set's is the
//                         mean over its items that have a genre (items without are ignored).
// Coverage and popularity Gini of the lists are in metrics.hpp (catalogue_coverage,
// popularity_gini).
//
// Re-rankers take a user's candidates (the model's top pool_factor * K, best first, with their
// scores) and pick K of them greedily. Scores are first min-max scaled to [0, 1] over the
// candidates, so lambda weighs quantities of the same range whatever the model's score scale.
//   MMR (Carbonell & Goldstein 1998): next = argmax lambda s_i - (1 - lambda) max_{j in S} cos(i, j);
//       lambda = 1 keeps the model's order.
//   calibrated (Steck 2018): next = argmax (1 - lambda) sum_{j in S+i} s_j - lambda KL(p || q~(S+i));
//       lambda = 0 keeps the model's order.
//   popularity (smooth xQuAD over two item groups, Abdollahpouri, Burke & Mobasher 2019,
//       "Managing popularity bias in recommender systems with personalized re-ranking"):
//       next = argmax (1 - lambda) s_i + lambda P(c_i | u) (1 - |S ∩ c_i| / |S|), where c_i is the
//       group of item i, the short head H or the long tail T; the last factor is 1 while S is
//       empty. P(H | u) = the share of the user's history in H (1/2 for an empty history), P(T | u)
//       = 1 - P(H | u): each user's tail gets the room their own history gives it. H (short_head):
//       the ceil(0.2 n) items with the most training interactions (ties: the lower index).
//       lambda = 0 keeps the model's order.
// Ties keep the candidate order. All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgerec/backend.hpp"
#include "edgerec/data.hpp"
#include "edgerec/item_meta.hpp"
#include "edgerec/recommender.hpp"

namespace edgerec {

class Model;

// The C ABI numbers them in this order (edgerec_rerank): append only.
enum class RerankKind { none, mmr, calibrated, popularity };
// "none", "mmr", "calibrated", "popularity"; anything else throws Error.
RerankKind parse_rerank(std::string_view name);
const char* rerank_name(RerankKind kind);

struct RerankOptions {
  RerankKind kind = RerankKind::none;
  // Trade-off (see above); default 0.5 for every kind. Must lie in [0, 1].
  double lambda = 0.5;
  // Candidates per list: the model's top pool_factor * K.
  int pool_factor = 10;
  // Choose lambda on a validation part instead (evaluation only; edgerec/eval.hpp,
  // EvalOptions::rerank): the grid 0, 0.1, ..., 1; the lambda whose re-ranked lists gain the
  // most on the kind's own objective (mmr: ild@K up; calibrated: calibration_kl@K down;
  // popularity: gini@K down) while their ndcg@K, less one standard error of its per-user change
  // (rerank_ndcg_se@K), stays >= (1 - max_ndcg_loss) x the model's own ndcg@K there. The lambda
  // that changes nothing always qualifies.
  bool auto_lambda = false;
  double max_ndcg_loss = 0.05;
  // With auto_lambda: choose pool_factor on the same validation part too, the grid being every
  // (pool factor in kAutoPoolFactors, lambda) pair and the criterion the same. A small pool keeps
  // the re-ranker among relevant items, a large one gives it more to choose from: which costs
  // less ndcg for the same gain depends on the data and the kind.
  bool auto_pool = false;
};
inline constexpr int kAutoPoolFactors[] = {2, 3, 5, 10, 20};

// ---- Metrics ---------------------------------------------------------------------------------

// `unit_rows`: one unit-length (or zero) row per item. Returns 0 for lists shorter than 2.
double intra_list_diversity(const std::vector<index_t>& list, const Matrix& unit_rows);
// `counts`: training interactions per item; `n_users` > 0.
double novelty(const std::vector<index_t>& list, const std::vector<float>& counts, double n_users);
// The genre distribution (genres.vocabulary.size() entries) of `items`; all zeros when none of
// them has a genre. Rows beyond the field's rows count as genre-less.
std::vector<double> genre_distribution(const index_t* items, std::size_t n,
                                       const ItemMeta::Categorical& genres);
// KL(p || (1 - alpha) q + alpha p), natural log; p and q of the same size.
double calibration_kl(const std::vector<double>& p, const std::vector<double>& q, double alpha = 0.01);

// The unit item vectors of intra-list diversity and MMR for `model`'s items (n_items() rows):
// its item factors (Embeddings::V's first factor_dims columns) when it has embeddings, else
// the content features (ItemFeatures) of `meta` (aligned to the model: row r = item r), else an
// empty matrix. *space (if non-null) receives "embeddings", "content" or "".
Matrix item_unit_vectors(const Model& model, const ItemMeta* meta, std::string* space = nullptr);

// ---- Re-rankers ------------------------------------------------------------------------------

// `candidates` best first, `scores` theirs; returns min(k, candidates) items: the set the
// re-ranker's greedy objective picks, listed in the model's order (descending score, ties in
// candidate order). Diversity, calibration and popularity mix are properties of the set; the
// order only decides nDCG, so the model's order serves it best.
std::vector<index_t> mmr_rerank(const std::vector<index_t>& candidates,
                                 const std::vector<float>& scores, const Matrix& unit_rows,
                                 double lambda, int k);
// `target`: the user's genre distribution p (genre_distribution of their history).
std::vector<index_t> calibrated_rerank(const std::vector<index_t>& candidates,
                                       const std::vector<float>& scores,
                                       const ItemMeta::Categorical& genres,
                                       const std::vector<double>& target, double lambda, int k,
                                       double alpha = 0.01);

// The short head of popularity re-ranking: one byte per item of `counts` (training
// interactions, whole numbers; a fraction is dropped), 1 for the ceil(share x n) items with the
// most (ties: the lower index).
// `share` in (0, 1].
std::vector<std::uint8_t> short_head(const std::vector<float>& counts, double share = 0.2);
// P(H | u): the share of `history` (item indices) in the short head; 0.5 for an empty history.
// Items beyond `head` count as tail.
double head_share(const index_t* history, std::size_t n, const std::vector<std::uint8_t>& head);
// `head` as short_head() gives it (items beyond it count as tail); `p_head` = P(H | u) in [0, 1].
std::vector<index_t> popularity_rerank(const std::vector<index_t>& candidates,
                                       const std::vector<float>& scores,
                                       const std::vector<std::uint8_t>& head, double p_head,
                                       double lambda, int k);

// A re-ranker prepared once for `model` and `kind`, from the model's own item metadata (or
// `meta`, aligned to the model's items, when given: eval's --item-meta): the item unit vectors
// (mmr: its item factors, else the metadata's content), the short head of its training
// popularity (popularity) or the metadata's "genres" field (calibrated). Throws Error naming what
// the model lacks. The CLI's recommend, its batches, eval and the wasm package's edgerec_rerank
// share it; pick() is const, safe from many threads. Holds O(items x dims) floats for mmr, one
// byte per item for popularity.
class Reranker {
 public:
  Reranker(const Model& model, RerankKind kind, std::shared_ptr<const ItemMeta> meta = nullptr);
  RerankKind kind() const { return kind_; }
  // min(k, candidates) of `candidates` (model item indices, best first; `scores` theirs)
  // re-ranked with trade-off `lambda` (RerankOptions) for a user whose items are history[0, n)
  // (calibrated's target distribution, popularity's P(H | u)). RerankKind::none: the first k.
  std::vector<index_t> pick(const std::vector<index_t>& candidates, const std::vector<float>& scores,
                            const index_t* history, std::size_t n, double lambda, int k) const;

 private:
  RerankKind kind_;
  Matrix unit_;
  std::vector<std::uint8_t> head_;
  std::shared_ptr<const ItemMeta> meta_;  // keeps genres_ alive
  const ItemMeta::Categorical* genres_ = nullptr;
};

// Serving: `pool` (a Recommender list of the model's items, best first, e.g. its top
// pool_factor * K) re-ranked to k items by `reranker` (built for this model), `history` the
// user's items (model item indices). Items of `pool` the model does not know are an Error.
std::vector<Recommendation> rerank_recommendations(const Model& model, const Reranker& reranker,
                                                   const std::vector<Recommendation>& pool,
                                                   const std::vector<index_t>& history, double lambda,
                                                   int k);

}  // namespace edgerec
