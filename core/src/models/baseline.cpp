// The regularised baseline r_hat(u, i) = mu + b_u + b_i, fitted by alternating least squares as
// in Surprise's BaselineOnly (Koren 2010, "Factor in the neighbors", section 2.1): each epoch
// sets every b_i to its ridge solution given b_u, then every b_u given b_i:
//   b_i = sum_{u in R(i)} (r_ui - mu - b_u) / (reg_i + |R(i)|)
//   b_u = sum_{i in R(u)} (r_ui - mu - b_i) / (reg_u + |R(u)|)
// Hyper: `reg` is reg_u (user biases), `bias_reg` is reg_i (item biases), `epochs` the sweeps.
// Factor form: U = [1], V = [b_i], user_offset = mu + b_u.
#include <algorithm>
#include <vector>

#include "models/rating_model.hpp"
#include "models/factories.hpp"
#include "serve_only.hpp"

namespace edgerec {
namespace {

class BaselineModel final : public RatingModel {
 public:
  // Its model file section: epochs, reg, bias_reg and the seed, then the rating model fields.
  static constexpr std::uint32_t kSectionVersion = 1;
  void save_section(SaveArchive& ar) const override;
  void load_section(LoadArchive& ar) override;
  BaselineModel() : RatingModel(0) {}
  ModelKind kind() const override { return ModelKind::baseline; }
  Hyper defaults() const override {
    Hyper h;
    // Chosen by `edgerec tune` on the validation part of ML-100K's holdout training part (see
    // models/README.md for the command and the score).
    h.epochs = 19;
    h.reg = 0.608f;     // reg_u
    h.bias_reg = 3.74f; // reg_i
    return h;
  }

 protected:
  void fit_impl(const Interactions& train, Backend&, const Progress& progress) override {
    EDGEREC_TRAINING_ONLY("training");
    const int epochs = *hyper.epochs;
    const double reg_u = *hyper.reg, reg_i = *hyper.bias_reg;
    mu_ = explicit_models::global_mean(train);
    std::vector<double> bu(n_users(), 0.0), bi(n_items(), 0.0);
    std::vector<double> un(n_users(), 0.0), in(n_items(), 0.0);
    for (const auto& r : train.rows) {
      un[r.user] += 1;
      in[r.item] += 1;
    }
    std::vector<double> sum_u(n_users()), sum_i(n_items());
    for (int epoch = 0; epoch < epochs; ++epoch) {
      std::fill(sum_i.begin(), sum_i.end(), 0.0);
      for (const auto& r : train.rows) sum_i[r.item] += r.value - mu_ - bu[r.user];
      // An id without training ratings keeps a zero bias (and no 0/0 when a reg is 0).
      for (index_t i = 0; i < n_items(); ++i) bi[i] = in[i] > 0 ? sum_i[i] / (reg_i + in[i]) : 0.0;
      std::fill(sum_u.begin(), sum_u.end(), 0.0);
      for (const auto& r : train.rows) sum_u[r.user] += r.value - mu_ - bi[r.item];
      for (index_t u = 0; u < n_users(); ++u) bu[u] = un[u] > 0 ? sum_u[u] / (reg_u + un[u]) : 0.0;

      double se = 0;
      for (const auto& r : train.rows) {
        const double e = r.value - (mu_ + bu[r.user] + bi[r.item]);
        se += e * e;
      }
      info.loss.push_back(static_cast<float>(se / static_cast<double>(train.rows.size())));
      if (progress) progress("baseline", epoch + 1, epochs);
    }
    emb_.factor_dims = 0;
    emb_.U = Matrix::Ones(n_users(), 1);
    emb_.V.resize(n_items(), 1);
    emb_.user_offset.resize(n_users());
    for (index_t i = 0; i < n_items(); ++i) emb_.V(i, 0) = static_cast<float>(bi[i]);
    for (index_t u = 0; u < n_users(); ++u) emb_.user_offset[u] = static_cast<float>(mu_ + bu[u]);
  }

  // The user half-step of the ALS for the new user alone: exact given the item biases.
  void fold_in(const std::vector<ItemValue>& history, RowVector& u, float& offset) const override {
    explicit_models::check_history(history, n_items());
    const double reg_u = *hyper.merged_over(defaults()).reg;
    double s = 0;
    for (const auto& h : history) s += h.value - mu_ - emb_.V(h.item, 0);
    u.setOnes();
    offset = static_cast<float>(mu_ + s / (reg_u + static_cast<double>(history.size())));
  }

 public:
  // b_u is the ALS user step given the item biases, sum_j (r_j - mu - b_j) / (reg_u + n) (the
  // last sweep ends with it, and the fold-in is it): each rating's term is its exact weight.
  Attribution explain(const std::vector<ItemValue>& history, index_t item,
                      std::int64_t) const override {
    explicit_models::check_history(history, n_items());
    if (item >= n_items()) throw Error("explain: item index out of range");
    const double reg_u = *hyper.merged_over(defaults()).reg;
    const double denom = reg_u + static_cast<double>(history.size());
    Attribution a;
    for (const auto& h : history)
      a.weights.push_back({h.item, static_cast<float>((h.value - mu_ - emb_.V(h.item, 0)) / denom)});
    a.base = double(mu_) + emb_.V(item, 0);
    a.note = "exact shares of the user bias; rest: mu + b_i";
    return a;
  }
 private:
  friend class cereal::access;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    io::section_start(ar, version, kSectionVersion, hyper, io::kEpochs | io::kReg | io::kBiasReg);
    serialize_rating(ar);
  }
};

}  // namespace
}  // namespace edgerec

EDGEREC_MODEL_SECTION(edgerec::BaselineModel)

namespace edgerec {

std::unique_ptr<Model> make_baseline() {
  return std::make_unique<BaselineModel>();
}

}  // namespace edgerec
