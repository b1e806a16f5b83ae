// Internal: the base of every model in factor form (see Embeddings in edgerec/model.hpp).
// Subclasses fill emb_ in fit_impl() and implement fold_in(); scoring, similarity, prediction,
// default explanations and (de)serialisation of the embeddings are shared here.
#pragma once

#include <Eigen/Core>

#include <memory>
#include <mutex>

#include "edgerec/model.hpp"
#include "edgerec/model_file.hpp"

namespace edgerec {

using RowVector = Eigen::Matrix<float, 1, Eigen::Dynamic>;

class EmbeddingModel : public Model {
 public:
  const Embeddings* embeddings() const override { return &emb_; }
  void drop_users() override;
  void score(index_t user, float* out) const override;
  void score_new(const std::vector<ItemValue>& history, float* out) const override;
  std::vector<TopK> top_k(index_t user, int k, const std::uint8_t* skip, float* scratch,
                          NormIndex::Stats* stats = nullptr) const override;
  std::vector<TopK> top_k_new(const std::vector<ItemValue>& history, int k,
                              const std::uint8_t* skip, float* scratch,
                              NormIndex::Stats* stats = nullptr) const override;
  bool fold_in_vector(const std::vector<ItemValue>& history, float* u,
                      float* offset) const override;
  const NormIndex* serving_index() const override { return &item_index(); }
  float predict(index_t user, index_t item) const override;
  // Cosine similarity of the latent factors (bias columns left out).
  void similar(index_t item, float* out) const override;
  // Default, for kinds whose score ignores the history (popularity): zero weights, the whole
  // score in base. Every kind with user factors overrides it.
  Attribution explain(const std::vector<ItemValue>& history, index_t item,
                      std::int64_t user) const override;

 protected:
  // The user vector (a row of U's width) and offset of a new user from their interactions.
  // Never called with an empty history (score_new() falls back to popularity).
  virtual void fold_in(const std::vector<ItemValue>& history, RowVector& u,
                       float& offset) const = 0;
  // fold_in() that refuses a non-finite vector or offset (Error), as every serving path needs.
  void checked_fold_in(const std::vector<ItemValue>& history, RowVector& u, float& offset) const;
  void save_embeddings(Writer& w) const;
  // Reads what save_embeddings() wrote and checks its shape against the id maps.
  void load_embeddings(Reader& r);

  void params_changed() override;

  Embeddings emb_;

 private:
  // The NormIndex over emb_.V, built on the first top-K (so training and evaluation, which never
  // ask for one, do not pay for it) under a lock, then shared read-only.
  const NormIndex& item_index() const;
  // The queries the index's visit-or-scan choice is made from: known users' vectors with their
  // seen items skipped (what recommend serves) or, without users (a stripped model), fold-ins
  // of histories drawn by training popularity.
  NormIndex::Sample serving_sample() const;
  mutable std::mutex index_mutex_;
  mutable std::shared_ptr<const NormIndex> index_;
};

}  // namespace edgerec
