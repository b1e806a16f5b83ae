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
  // the list is empty). Unknown items in `interactions` are ignored (counted in `*ignored`).
  std::vector<Recommendation> recommend_for(const std::vector<UserInteraction>& interactions,
                                            const RecommendOptions& options = {},
                                            int* ignored = nullptr);
  // The k items most similar to `item` (the item itself excluded).
  std::vector<Recommendation> similar(const std::string& item, int k = 10);
  // Which of the known user's items contributed most to `item`, at most `k` of them.
  std::vector<Explanation> explain(const std::string& user, const std::string& item, int k = 5);
  std::vector<Explanation> explain_for(const std::vector<UserInteraction>& interactions,
                                       const std::string& item, int k = 5);

  const Model& model() const { return model_; }

 private:
  std::vector<ItemValue> to_history(const std::vector<UserInteraction>& interactions,
                                    int* ignored) const;
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
