// Popularity: every user gets the items ranked by how often they were interacted with in
// training. In factor form V = [log1p(count)], U = [1], so it scores through the same kernel as
// every embedding model; log1p keeps the scores readable and matches Model::popularity_scores.
#include <cmath>

#include "models/embedding_model.hpp"
#include "models/explicit_util.hpp"
#include "models/factories.hpp"
#include "serve_only.hpp"

namespace edgerec {
namespace {

class PopularityModel final : public EmbeddingModel {
 public:
  ModelKind kind() const override { return ModelKind::popularity; }
  Hyper defaults() const override { return Hyper{}; }  // nothing to tune

  // Scores are log-counts, not ratings: never clip them to the rating range.
  float predict(index_t user, index_t item) const override {
    return emb_.U.row(user).dot(emb_.V.row(item)) + emb_.user_offset[user];
  }

  // Its model file section: no hyper-parameters but the seed, then the embeddings.
  static constexpr std::uint32_t kSectionVersion = 1;
  void save_section(SaveArchive& ar) const override;
  void load_section(LoadArchive& ar) override;

 protected:
  void fit_impl(const Interactions&, Backend&, const Progress& progress) override {
    EDGEREC_TRAINING_ONLY("training");
    emb_.factor_dims = 0;
    emb_.U = Matrix::Ones(n_users(), 1);
    emb_.V.resize(n_items(), 1);
    for (index_t i = 0; i < n_items(); ++i) emb_.V(i, 0) = std::log1p(item_popularity[i]);
    emb_.user_offset = Vector::Zero(n_users());
    if (progress) progress("popularity", 1, 1);
  }

  // A new user's history does not change what is popular.
  void fold_in(const std::vector<ItemValue>&, RowVector& u, float& offset) const override {
    u.setOnes();
    offset = 0.0f;
  }

 private:
  friend class cereal::access;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    io::section_start(ar, version, kSectionVersion, hyper, 0);
    serialize_embeddings(ar);
    if constexpr (Archive::is_loading::value) explicit_models::check_layout(ar, emb_, 0, 1);
  }
};

}  // namespace
}  // namespace edgerec

EDGEREC_MODEL_SECTION(edgerec::PopularityModel)

namespace edgerec {

std::unique_ptr<Model> make_popularity() {
  return std::make_unique<PopularityModel>();
}

}  // namespace edgerec
