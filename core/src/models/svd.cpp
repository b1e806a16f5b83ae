// Biased matrix factorisation trained by SGD, "SVD" (Funk 2006; Koren, Bell, Volinsky 2009), the
// algorithm of Surprise's SVD:  r_hat(u, i) = mu + b_u + b_i + p_u . q_i.
// Factors start N(0, init_std^2), biases 0; each epoch visits every training rating once in a
// fresh seeded shuffle through Backend::mf_sgd_epoch (sequential, so any thread count gives the
// same model). Users and items without training ratings get zero factors and biases, so they
// are predicted by the rest of the baseline rather than by their random initial factors.
// Factor form: U = [p_u, 1], V = [q_i, b_i], user_offset = mu + b_u, factor_dims = k.
#include <vector>

#include "models/rating_model.hpp"
#include "models/factories.hpp"
#include "models/sgd_math.hpp"
#include "serve_only.hpp"

namespace edgerec {
namespace {

namespace em = explicit_models;

// Seed streams (mixed with Hyper::seed), so that training and fold-in never share random numbers.
constexpr std::uint64_t kTrainStream = 0x5344u;  // "SD"
constexpr std::uint64_t kFoldInStream = 0x5346u;

class SvdModel final : public RatingModel {
 public:
  // Its model file section: factors, epochs, lr, reg, bias_reg, init_std and the seed, then the
  // rating model fields.
  static constexpr std::uint32_t kSectionVersion = 1;
  void save_section(SaveArchive& ar) const override;
  void load_section(LoadArchive& ar) override;
  SvdModel() : RatingModel(-1) {}
  ModelKind kind() const override { return ModelKind::svd; }
  Hyper defaults() const override {
    Hyper h;
    // Chosen by `edgerec tune` on the validation part of ML-100K's holdout training part (see
    // models/README.md for the command and the score).
    h.factors = 20;
    h.epochs = 32;
    h.lr = 0.0102f;
    h.reg = 0.0365f;
    h.bias_reg = 0.0438f;
    h.init_std = 0.0104f;
    return h;
  }

 protected:
  void fit_impl(const Interactions& train, Backend& backend, const Progress& progress) override {
    EDGEREC_TRAINING_ONLY("training");
    em::check_row_count(train);
    const int k = *hyper.factors, epochs = *hyper.epochs;
    mu_ = em::global_mean(train);
    Rng rng(mix_seed(hyper.seed, kTrainStream));
    const int width = em::padded_width(k);
    Matrix P = Matrix::Zero(n_users(), width), Q = Matrix::Zero(n_items(), width);
    {
      Matrix init(n_users(), k);
      em::fill_normal(init, rng, *hyper.init_std);
      P.leftCols(k) = init;
      init.resize(n_items(), k);
      em::fill_normal(init, rng, *hyper.init_std);
      Q.leftCols(k) = init;
    }
    Vector bu = Vector::Zero(n_users()), bi = Vector::Zero(n_items());

    MfSgdStep step;
    step.lr = *hyper.lr;
    step.reg = *hyper.reg;
    step.bias_reg = *hyper.bias_reg;
    step.mu = mu_;
    std::vector<std::uint32_t> order = em::iota(train.rows.size());
    backend.mf_sgd_fit(
        train.rows, order, P, Q, bu, bi, step, epochs,
        [&](int, std::vector<std::uint32_t>& o) { em::shuffle(o, rng); },
        [&](int epoch, double loss) {
          em::check_epoch_loss(loss, "svd", epoch);
          info.loss.push_back(static_cast<float>(loss));
          if (progress) progress("svd", epoch + 1, epochs);
        });

    for (index_t u = 0; u < n_users(); ++u)
      if (seen.row_size(u) == 0) P.row(u).setZero();
    for (index_t i = 0; i < n_items(); ++i)
      if (item_popularity[i] == 0) Q.row(i).setZero();
    emb_.factor_dims = k;
    emb_.U.resize(n_users(), k + 1);
    emb_.U << P.leftCols(k), Matrix::Ones(n_users(), 1);
    emb_.V.resize(n_items(), k + 1);
    emb_.V << Q.leftCols(k), bi;
    emb_.user_offset = Vector::Constant(n_users(), mu_) + bu;
  }

  // The training SGD for the new user alone: p_u and b_u start at 0 and take `epochs` passes
  // over the history in a seeded shuffle with the items held fixed, which mirrors what a
  // trained-in user's parameters went through.
  void fold_in(const std::vector<ItemValue>& history, RowVector& u, float& offset) const override {
    em::check_history(history, n_items());
    const Hyper h = hyper.merged_over(defaults());
    const int k = emb_.factor_dims;
    std::vector<float> p(static_cast<std::size_t>(k), 0.0f);
    float bu = 0.0f;
    Rng rng(mix_seed(h.seed, kFoldInStream));
    std::vector<std::uint32_t> order = em::iota(history.size());
    for (int pass = 0; pass < *h.epochs; ++pass) {
      em::shuffle(order, rng);
      for (const std::uint32_t j : order) {
        const index_t i = history[j].item;
        sgd::svd_user_step(history[j].value, mu_, bu, emb_.V(i, k), p.data(), emb_.V.row(i).data(),
                           k, *h.lr, *h.reg, *h.bias_reg);
      }
    }
    for (int f = 0; f < k; ++f) u[f] = p[static_cast<std::size_t>(f)];
    u[k] = 1.0f;
    offset = mu_ + bu;
  }

 public:
  Attribution explain(const std::vector<ItemValue>& history, index_t item,
                      std::int64_t) const override {
    em::check_history(history, n_items());
    if (item >= n_items()) throw Error("explain: item index out of range");
    const int k = emb_.factor_dims;
    Attribution a;
    const auto g = ridge_user_gains(history, item);
    for (std::size_t j = 0; j < history.size(); ++j) {
      const double t = double(history[j].value) - mu_ - emb_.V(history[j].item, k);
      a.weights.push_back({history[j].item, static_cast<float>(t * g[j])});
    }
    a.base = double(mu_) + emb_.V(item, k);
    a.exact = false;
    a.note = "split of the ridge solution standing in for the SGD-trained user factors; rest: "
             "mu + b_i + the difference";
    return a;
  }
 private:
  friend class cereal::access;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    io::section_start(ar, version, kSectionVersion, hyper,
                      io::kFactors | io::kEpochs | io::kLr | io::kReg | io::kBiasReg | io::kInitStd);
    serialize_rating(ar);
  }
};

}  // namespace
}  // namespace edgerec

EDGEREC_MODEL_SECTION(edgerec::SvdModel)

namespace edgerec {

std::unique_ptr<Model> make_svd() {
  return std::make_unique<SvdModel>();
}

}  // namespace edgerec
