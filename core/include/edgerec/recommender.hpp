// edgerec/recommender.hpp — the serving API: top-K, filters, batch, similar items, fold-in and
// explanations, in the user's own string ids. The wasm bindings expose exactly this.
//
// Ownership: a Recommender borrows the Model (which must outlive it) and owns only scratch
// space; it is cheap to create. Thread-safety: one Recommender per thread (it reuses a score
// buffer); the Model may be shared by many Recommenders.
// Ordering: results are sorted by score descending, ties by item index ascending, so they are
// identical on every platform for the same model file.
// Scores: a rating model's (Model::predicts_ratings) recommend* scores are predicted ratings
// clipped to the training rating range [rating_min, rating_max], as Model::predict and eval
// report them; the order is that of the unclipped scores (items clipped to the same value keep
// it). similar() and explanations are not ratings and are never clipped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgerec/model.hpp"
#include "edgerec/topk.hpp"

namespace edgerec {

struct Recommendation {
  std::string item;
  float score;
};

struct Explanation {
  std::string item;     // one of the user's items
  float weight;         // its contribution to the recommended item's score
};

// Why an item scores what it does for a user: score = sum(weights) + others + rest, to double
// precision (rest is computed as the difference, so the identity holds by construction).
// What the weights are per model kind (Model::explain):
//   itemknn          exact: value_j * sim(j, item), the terms of the score; rest 0.
//   mean-baseline    exact: rating_j / n, the user mean's terms; rest = item mean - global mean.
//   baseline         exact: (r_j - mu - b_j) / (reg + n), the user bias's terms; rest mu + b_i.
//   popularity       exact: every weight 0 (the score ignores the history); rest = the score.
//   ials             Hu-Koren-Volinsky's split c_j y_j' W^-1 q_i of the exact least-squares
//                    solve: exact for a new user (that solve is the fold-in); for a known user
//                    the served vector is training's conjugate-gradient solution, so rest holds
//                    their difference (typically under 1% of the score) and exact is false.
//   svd, svd++       not exact: SGD-trained user factors are not a linear function of the
//                    ratings; weights split the ridge solution of the user's ratings with the
//                    items fixed (svd++ adds each item's exact implicit term |N|^-1/2 q_i.y_j);
//                    rest = mu + b_i + the difference from the served factors.
//   bpr              not exact: weights split the ridge projection of the user vector onto the
//                    factors of the user's items; rest = b_i + the part outside their span.
// `residual` is the part of rest that is no bias or offset term, i.e. what the weights leave
// unexplained (float rounding when exact). Whenever a kind that claims exactness has a residual
// above 1e-4 of the score (stored parameters that do not match the closed form, e.g. a baseline
// trained for 0 epochs, or a served rating clipped to the rating range), exact is set to false
// and the note says so.
struct ScoreExplanation {
  std::string item;                   // the explained item
  float score = 0;                    // what recommend() / recommend_for() serve for it
  std::vector<Explanation> weights;   // one per history item, largest first (the k largest)
  double others = 0;                  // the sum of the weights left out by k (0 for all)
  double rest = 0;                    // score - sum of all weights
  double residual = 0;                // rest minus the model's bias and offset terms
  bool exact = true;
  std::string note;                   // what the weights are and what rest holds
  HistoryReport history;              // new users: how the given (known) items were used
  int unknown = 0;                    // new users: interactions with unknown item ids, ignored
  bool popularity = false;            // new user with no known item: the popularity score
};

struct RecommendOptions {
  int k = 10;
  bool exclude_seen = true;            // skip the user's own (training or given) items
  std::vector<std::string> include;    // when non-empty, only these items may be returned
  std::vector<std::string> exclude;    // never return these items
  bool ignore_unknown_items = true;    // unknown ids in include/exclude are skipped, else Error
};

// A user's own interaction given by the caller (fold-in), in external ids.
struct UserInteraction {
  std::string item;
  float value = 1.0f;
};

// The split behind ScoreExplanation, in item indices, for bindings that serve by index (the C
// ABI): Model::explain() of `item` for `history` (user >= 0: that known user's training
// history; -1: a new user's, already through Model::prepare_history()), measured against the
// served `score`. Weights sorted largest first (ties by history order), the k largest kept
// (k < 0: all).
struct ScoreSplit {
  std::vector<Contribution> weights;
  double others = 0, rest = 0, residual = 0;
  bool exact = true;
  std::string note;
};
ScoreSplit split_score(const Model& model, const std::vector<ItemValue>& history, index_t item,
                       std::int64_t user, float score, int k);

class Recommender {
 public:
  explicit Recommender(const Model& model);

  // Top-K for a known user. Throws Error("unknown user id 'x'") for an unknown user.
  std::vector<Recommendation> recommend(const std::string& user,
                                        const RecommendOptions& options = {});
  // Top-K for many users at once (the batch path uses the backend's scoring kernel for
  // embedding models). Unknown users throw before any work is done.
  std::vector<std::vector<Recommendation>> recommend_batch(const std::vector<std::string>& users,
                                                           const RecommendOptions& options,
                                                           Backend& backend);
  // Top-K for a new or anonymous user from a handful of interactions (fold-in; popularity when
  // no interaction names a known item: then `report->popularity` is set). Unknown items in
  // `interactions` are ignored (counted in `*ignored`); the known ones are cleaned by
  // Model::prepare_history() (last value per item, the kMaxFoldInHistory most recent items,
  // ratings clamped to the model's range), which `report` (nullable) describes.
  std::vector<Recommendation> recommend_for(const std::vector<UserInteraction>& interactions,
                                            const RecommendOptions& options = {},
                                            int* ignored = nullptr,
                                            ScoreExplanation* report = nullptr);
  // Top-K for a new user from their interactions (as recommend_for(); may be empty) and their row
  // `row` of a user-feature file `users` (load_user_meta(); -1: no row): the user vector of
  // Model::fold_in_vector_described(), scored by the serving kernel over every item. For models
  // that read user features (two-tower trained with --user-meta); throws Error for others. Not in
  // the serving-only (wasm) build.
  std::vector<Recommendation> recommend_described(const std::vector<UserInteraction>& interactions,
                                                  const ItemMeta& users, std::int64_t row,
                                                  const RecommendOptions& options = {}, int* ignored = nullptr);
  // The k items most similar to `item` (the item itself excluded).
  std::vector<Recommendation> similar(const std::string& item, int k = 10);
  // How `item`'s served score splits over the known user's training items (see
  // ScoreExplanation); `k` >= 0 keeps the k largest weights (the others summed in `others`),
  // k < 0 all of them. Throws Error for an unknown user or item.
  ScoreExplanation explain(const std::string& user, const std::string& item, int k = -1);
  // The same for a new user's interactions (cleaned as recommend_for() cleans them).
  ScoreExplanation explain_for(const std::vector<UserInteraction>& interactions,
                               const std::string& item, int k = -1);

  const Model& model() const { return model_; }

 private:
  std::vector<ItemValue> to_history(const std::vector<UserInteraction>& interactions,
                                    int* ignored, HistoryReport* report) const;
  // The skip mask for `options` and `seen` (nullptr when nothing is skipped), in skip_.
  const std::uint8_t* skip_mask(const std::vector<ItemValue>* seen, const RecommendOptions& options);
  std::vector<Recommendation> to_recommendations(const std::vector<TopK>& top) const;
  // A recommended item's score as served: clipped to the rating range for rating models.
  float served(float score) const;
  std::vector<Recommendation> to_served(const std::vector<TopK>& top) const;
  const Model& model_;
  std::vector<float> scores_;
  std::vector<std::uint8_t> skip_;
};

}  // namespace edgerec
