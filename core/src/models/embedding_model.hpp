// Internal: the base of every model in factor form (see Embeddings in edgerec/model.hpp).
// Subclasses fill emb_ in fit_impl() and implement fold_in(); scoring, similarity, prediction,
// default explanations and (de)serialisation of the embeddings are shared here.
#pragma once

#include <Eigen/Core>

#include <memory>
#include <mutex>

#include "edgerec/model.hpp"
#include "edgerec/model_file.hpp"
#include "io/archive.hpp"

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
  // The embeddings' fields of a kind's section: i32 factor_dims, user_factors (n_users rows),
  // u8 item_matrix_encoding (0 f32, 1 int8: SaveOptions::int8_items; format version 2 on: a
  // version 1 file has no such byte and an f32 matrix), item_factors (n_items rows, as many
  // columns as user_factors), user_offset (n_users). Loading checks those shapes and drops what
  // was derived from the previous parameters.
  template <class Archive>
  void serialize_embeddings(Archive& ar);

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

template <class Archive>
void EmbeddingModel::serialize_embeddings(Archive& ar) {
  constexpr bool loading = Archive::is_loading::value;
  if constexpr (loading) params_changed();
  std::uint8_t encoding = 0;
  if constexpr (!loading) encoding = ar.options().int8_items ? 1 : 0;
  ar(cereal::make_nvp("factor_dims", emb_.factor_dims),
     cereal::make_nvp("user_factors", io::shaped(emb_.U, n_users(), -1)));
  bool has_encoding = true;
  if constexpr (loading) has_encoding = ar.format_version() >= 2;
  if (has_encoding) ar(cereal::make_nvp("item_matrix_encoding", encoding));
  if constexpr (loading) {
    if (emb_.factor_dims < 0 || emb_.factor_dims > 4096) ar.fail("factor_dims", "out of range");
    if (encoding > 1)
      ar.fail("item_matrix_encoding", std::to_string(encoding) + " is not 0 (f32) or 1 (int8)");
    emb_.items_int8 = encoding == 1;
  }
  ar(cereal::make_nvp("item_factors",
                      io::item_matrix(emb_.V, encoding == 1, n_items(), emb_.U.cols())),
     cereal::make_nvp("user_offset", io::shaped(emb_.user_offset, n_users())));
  if constexpr (loading)
    if (emb_.factor_dims > emb_.V.cols()) ar.fail("factor_dims", "larger than the factor matrix");
}

}  // namespace edgerec
