// The classic baseline predictor r_hat(u, i) = mean_u + mean_i - mu (unregularised means of the
// training ratings). A user or item without training ratings takes mu as its mean, so its
// deviation is zero. Factor form: U = [1], V = [mean_i - mu], user_offset = mean_u.
#include <vector>

#include "models/rating_model.hpp"
#include "models/factories.hpp"
#include "serve_only.hpp"

namespace edgerec {
namespace {

class MeanBaselineModel final : public RatingModel {
 public:
  // Its model file section: no hyper-parameters but the seed, then the rating model fields.
  static constexpr std::uint32_t kSectionVersion = 1;
  void save_section(SaveArchive& ar) const override;
  void load_section(LoadArchive& ar) override;
  MeanBaselineModel() : RatingModel(0) {}
  ModelKind kind() const override { return ModelKind::mean_baseline; }
  Hyper defaults() const override { return Hyper{}; }  // closed form, nothing to tune

 protected:
  void fit_impl(const Interactions& train, Backend&, const Progress& progress) override {
    EDGEREC_TRAINING_ONLY("training");
    mu_ = explicit_models::global_mean(train);
    std::vector<double> us(n_users(), 0.0), is(n_items(), 0.0);
    std::vector<std::uint64_t> un(n_users(), 0), in(n_items(), 0);
    for (const auto& r : train.rows) {
      us[r.user] += r.value;
      ++un[r.user];
      is[r.item] += r.value;
      ++in[r.item];
    }
    emb_.factor_dims = 0;
    emb_.U = Matrix::Ones(n_users(), 1);
    emb_.V.resize(n_items(), 1);
    emb_.user_offset.resize(n_users());
    for (index_t u = 0; u < n_users(); ++u)
      emb_.user_offset[u] = un[u] ? static_cast<float>(us[u] / static_cast<double>(un[u])) : mu_;
    for (index_t i = 0; i < n_items(); ++i)
      emb_.V(i, 0) = in[i] ? static_cast<float>(is[i] / static_cast<double>(in[i]) - mu_) : 0.0f;

    double se = 0;
    for (const auto& r : train.rows) {
      const double e = r.value - (emb_.user_offset[r.user] + emb_.V(r.item, 0));
      se += e * e;
    }
    info.loss.push_back(static_cast<float>(se / static_cast<double>(train.rows.size())));
    if (progress) progress("mean-baseline", 1, 1);
  }

  // The new user's mean is the mean of the given ratings.
  void fold_in(const std::vector<ItemValue>& history, RowVector& u, float& offset) const override {
    explicit_models::check_history(history, n_items());
    double s = 0;
    for (const auto& h : history) s += h.value;
    u.setOnes();
    offset = static_cast<float>(s / static_cast<double>(history.size()));
  }

 public:
  // The user's mean is the mean of their ratings: rating / count is each one's exact weight.
  Attribution explain(const std::vector<ItemValue>& history, index_t item,
                      std::int64_t) const override {
    explicit_models::check_history(history, n_items());
    if (item >= n_items()) throw Error("explain: item index out of range");
    Attribution a;
    const double n = static_cast<double>(history.size());
    for (const auto& h : history) a.weights.push_back({h.item, static_cast<float>(h.value / n)});
    a.base = emb_.V(item, 0);
    a.note = "exact shares of the user mean; rest: item mean - global mean";
    return a;
  }
 private:
  friend class cereal::access;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    io::section_start(ar, version, kSectionVersion, hyper, 0);
    serialize_rating(ar);
  }
};

}  // namespace
}  // namespace edgerec

EDGEREC_MODEL_SECTION(edgerec::MeanBaselineModel)

namespace edgerec {

std::unique_ptr<Model> make_mean_baseline() {
  return std::make_unique<MeanBaselineModel>();
}

}  // namespace edgerec
