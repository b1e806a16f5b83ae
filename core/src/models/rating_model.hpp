// Internal: the base of the explicit-rating models (mean-baseline, baseline, svd, svd++). They
// share the factor form with one bias column and a global mean, so they share its persistence:
// embeddings, then the f32 global mean (subclasses append their own fields after it), in a v3
// section after the kind's hyper-parameters (serialize_rating) as in a v1/v2 model part.
#pragma once

#include "models/embedding_model.hpp"
#include "models/explicit_util.hpp"
#include "models/linalg.hpp"

namespace edgerec {

class RatingModel : public EmbeddingModel {
 public:
  bool predicts_ratings() const override { return true; }

 protected:
  // latent_dims: the latent columns a loaded file must have (0 for the baselines), -1 for any.
  explicit RatingModel(int latent_dims) : latent_dims_(latent_dims) {}
  float mu_ = 0.0f;  // global mean rating of the training data

  // The fields every rating model's section has (format v3 on): the embeddings, then f32
  // global_mean; subclasses write their own fields after them.
  template <class Archive>
  void serialize_rating(Archive& ar) {
    serialize_embeddings(ar);
    if constexpr (Archive::is_loading::value)
      explicit_models::check_layout(ar, emb_, latent_dims_, 1);
    ar(cereal::make_nvp("global_mean", mu_));
  }

  // The explanation of SGD-trained user factors (svd, svd++): p_u and b_u are not a linear
  // function of the user's ratings, so the weights split the ridge solution of the user's part
  // of the training objective with the items fixed (SGD's per-rating L2 steps sum to reg * n on
  // p and bias_reg * n on b_u), over rows x_j = [q_j, 1]. Returns g_j (linalg::ridge_gains):
  // rating target t_j contributes t_j g_j to `item`'s score.
  std::vector<double> ridge_user_gains(const std::vector<ItemValue>& history, index_t item) const {
    const Hyper h = hyper.merged_over(defaults());
    const int k = emb_.factor_dims;
    const std::size_t d = static_cast<std::size_t>(k) + 1, n = history.size();
    std::vector<double> X(n * d), x(d), reg(d, double(*h.reg) * double(n));
    reg[d - 1] = double(*h.bias_reg) * double(n);
    for (std::size_t j = 0; j < n; ++j) {
      for (int f = 0; f < k; ++f) X[j * d + static_cast<std::size_t>(f)] = emb_.V(history[j].item, f);
      X[j * d + d - 1] = 1.0;
    }
    for (int f = 0; f < k; ++f) x[static_cast<std::size_t>(f)] = emb_.V(item, f);
    x[d - 1] = 1.0;
    return linalg::ridge_gains(X, n, static_cast<int>(d), reg, x);
  }

 private:
  int latent_dims_;
};

}  // namespace edgerec
