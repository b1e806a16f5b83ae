// Internal: the base of the explicit-rating models (mean-baseline, baseline, svd, svd++). They
// share the factor form with one bias column and a global mean, so they share its persistence:
// embeddings, then the f32 global mean (subclasses append their own fields after it).
#pragma once

#include "models/embedding_model.hpp"
#include "models/explicit_util.hpp"

namespace edgerec {

class RatingModel : public EmbeddingModel {
 public:
  bool predicts_ratings() const override { return true; }
  void save_params(Writer& w) const override {
    save_embeddings(w);
    w.f32(mu_);
  }
  void load_params(Reader& r) override {
    load_embeddings(r);
    explicit_models::check_layout(r, emb_, latent_dims_, 1);
    mu_ = r.f32("global_mean");
  }

 protected:
  // latent_dims: the latent columns a loaded file must have (0 for the baselines), -1 for any.
  explicit RatingModel(int latent_dims) : latent_dims_(latent_dims) {}
  float mu_ = 0.0f;  // global mean rating of the training data

 private:
  int latent_dims_;
};

}  // namespace edgerec
