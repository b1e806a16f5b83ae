// SVD++ (Koren 2008, "Factorization meets the neighborhood", section 4):
//   r_hat(u, i) = mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 sum_{j in N(u)} y_j)
// with N(u) the items u rated in training. Trained by SGD user by user (users in a seeded
// shuffle each epoch, each user's ratings in a seeded shuffle): the implicit part z_u is computed
// once per user, held fixed over the user's ratings, and the y_j take the summed step at the end
// of the user (models/sgd_math.hpp, svdpp_user_pass). That costs O(|R(u)| k) per user instead of
// Surprise's O(|R(u)|^2 k), which is what makes SVD++ usable at all; per rating it takes the same
// gradient steps. Training stays in model code: it is sequential like SVD's epoch.
// Serving: U = [p_u + z_u, 1] is precomputed, so scoring is the plain dot of every embedding
// model; V = [q_i, b_i], user_offset = mu + b_u. y is kept for fold-in.
#include <algorithm>
#include <cmath>
#include <vector>

#include "models/rating_model.hpp"
#include "models/factories.hpp"
#include "models/sgd_math.hpp"
#include "serve_only.hpp"

namespace edgerec {
namespace {

namespace em = explicit_models;

constexpr std::uint64_t kTrainStream = 0x5350u;  // "SP"
constexpr std::uint64_t kFoldInStream = 0x5351u;

class SvdppModel final : public RatingModel {
 public:
  // Its model file section: factors, epochs, lr, reg, bias_reg, init_std and the seed, then the
  // rating model fields and the implicit factors y_j (n_items x factor_dims).
  static constexpr std::uint32_t kSectionVersion = 1;
  void save_section(SaveArchive& ar) const override;
  void load_section(LoadArchive& ar) override;
  SvdppModel() : RatingModel(-1) {}
  ModelKind kind() const override { return ModelKind::svdpp; }
  Hyper defaults() const override {
    Hyper h;
    // Chosen by `edgerec tune` on the validation part of ML-100K's holdout training part (see
    // models/README.md for the command and the score); init_std is not searched.
    h.factors = 20;
    h.epochs = 14;
    h.lr = 0.018f;
    h.reg = 0.106f;
    h.bias_reg = 0.00409f;
    h.init_std = 0.1f;
    return h;
  }

  // The implicit part z_u = |N|^-1/2 sum_j y_j is additive in the history: item j adds
  // |N|^-1/2 q_i . y_j to the score of i, exactly. The SGD-trained p_u and b_u are not a linear
  // function of the ratings: as for svd, they are split by the ridge solution of the user's
  // ratings (targets r_j - mu - b_j - q_j . z_u), and the residual is reported.
  Attribution explain(const std::vector<ItemValue>& history, index_t item,
                      std::int64_t) const override {
    em::check_history(history, n_items());
    if (item >= n_items()) throw Error("explain: item index out of range");
    Attribution a;
    a.base = double(mu_) + emb_.V(item, emb_.factor_dims);
    a.exact = false;
    a.note = "exact implicit terms plus a split of the ridge solution standing in for the "
             "SGD-trained user factors; rest: mu + b_i + the difference";
    if (history.empty()) return a;
    const int k = emb_.factor_dims;
    const std::size_t kk = static_cast<std::size_t>(k);
    std::vector<index_t> items(history.size());
    for (std::size_t j = 0; j < history.size(); ++j) items[j] = history[j].item;
    std::vector<float> z(kk);
    sgd::svdpp_implicit(Y_.data(), items.data(), items.size(), k, z.data());
    const float norm = 1.0f / std::sqrt(static_cast<float>(history.size()));
    const auto g = ridge_user_gains(history, item);
    for (std::size_t j = 0; j < history.size(); ++j) {
      const index_t i = history[j].item;
      const double implicit = double(norm) * sgd::dot(emb_.V.row(item).data(), Y_.row(i).data(), k);
      const double t = double(history[j].value) - mu_ - emb_.V(i, k) -
                       sgd::dot(emb_.V.row(i).data(), z.data(), k);
      a.weights.push_back({i, static_cast<float>(implicit + t * g[j])});
    }
    return a;
  }


 protected:
  void fit_impl(const Interactions& train, Backend&, const Progress& progress) override {
    EDGEREC_TRAINING_ONLY("training");
    em::check_row_count(train);
    const int k = *hyper.factors, epochs = *hyper.epochs;
    const float lr = *hyper.lr, reg = *hyper.reg, bias_reg = *hyper.bias_reg;
    mu_ = em::global_mean(train);
    Rng rng(mix_seed(hyper.seed, kTrainStream));
    Matrix P(n_users(), k), Q(n_items(), k);
    Y_.resize(n_items(), k);
    em::fill_normal(P, rng, *hyper.init_std);
    em::fill_normal(Q, rng, *hyper.init_std);
    em::fill_normal(Y_, rng, *hyper.init_std);
    Vector bu = Vector::Zero(n_users()), bi = Vector::Zero(n_items());

    std::vector<float> z(static_cast<std::size_t>(k)), acc(static_cast<std::size_t>(k));
    std::vector<std::uint32_t> user_order = em::iota(n_users());
    std::vector<std::uint32_t> rating_order;
    for (int epoch = 0; epoch < epochs; ++epoch) {
      em::shuffle(user_order, rng);
      double se = 0;
      for (const std::uint32_t u : user_order) {
        const std::size_t n = seen.row_size(u);
        if (n == 0) continue;
        rating_order = em::iota(n);
        em::shuffle(rating_order, rng);
        const index_t* items = seen.row_indices(u);
        se += sgd::svdpp_user_pass(mu_, bu[u], P.row(u).data(), items, seen.row_values(u),
                                   rating_order.data(), n, items, n, Q.data(), bi.data(), Y_.data(),
                                   k, lr, reg, bias_reg, z.data(), acc.data());
      }
      const double loss = se / static_cast<double>(seen.nnz());
      em::check_epoch_loss(loss, "svdpp", epoch);
      info.loss.push_back(static_cast<float>(loss));
      if (progress) progress("svdpp", epoch + 1, epochs);
    }

    for (index_t i = 0; i < n_items(); ++i)
      if (item_popularity[i] == 0) {
        Q.row(i).setZero();
        Y_.row(i).setZero();
      }
    emb_.factor_dims = k;
    emb_.U.resize(n_users(), k + 1);
    for (index_t u = 0; u < n_users(); ++u) {
      const std::size_t n = seen.row_size(u);
      sgd::svdpp_implicit(Y_.data(), seen.row_indices(u), n, k, z.data());
      for (int f = 0; f < k; ++f)
        emb_.U(u, f) = n ? P(u, f) + z[static_cast<std::size_t>(f)] : 0.0f;
      emb_.U(u, k) = 1.0f;
    }
    emb_.V.resize(n_items(), k + 1);
    emb_.V << Q, bi;
    emb_.user_offset = Vector::Constant(n_users(), mu_) + bu;
  }

  // The implicit part from the history's items, then SVD's fold-in SGD on p_u and b_u with the
  // items (q, b_i, y) held fixed: `epochs` passes in a seeded shuffle from p_u = 0, b_u = 0.
  void fold_in(const std::vector<ItemValue>& history, RowVector& u, float& offset) const override {
    em::check_history(history, n_items());
    const Hyper h = hyper.merged_over(defaults());
    const int k = emb_.factor_dims;
    const std::size_t kk = static_cast<std::size_t>(k);
    std::vector<index_t> items(history.size());
    for (std::size_t j = 0; j < history.size(); ++j) items[j] = history[j].item;
    std::vector<float> z(kk), p(kk, 0.0f), pz(kk);
    sgd::svdpp_implicit(Y_.data(), items.data(), items.size(), k, z.data());
    float bu = 0.0f;
    Rng rng(mix_seed(h.seed, kFoldInStream));
    std::vector<std::uint32_t> order = em::iota(history.size());
    for (int pass = 0; pass < *h.epochs; ++pass) {
      em::shuffle(order, rng);
      for (const std::uint32_t j : order) {
        const index_t i = history[j].item;
        // p + z against the fixed item: SVD's user step on the effective vector, with the
        // regulariser pulling only p (not z) towards zero.
        for (std::size_t f = 0; f < kk; ++f) pz[f] = p[f] + z[f];
        const float* q = emb_.V.row(i).data();
        const float e = history[j].value - (mu_ + bu + emb_.V(i, k) + sgd::dot(pz.data(), q, k));
        bu += *h.lr * (e - *h.bias_reg * bu);
        for (std::size_t f = 0; f < kk; ++f) p[f] += *h.lr * (e * q[f] - *h.reg * p[f]);
      }
    }
    for (std::size_t f = 0; f < kk; ++f) u[static_cast<Eigen::Index>(f)] = p[f] + z[f];
    u[k] = 1.0f;
    offset = mu_ + bu;
  }

 private:
  Matrix Y_;  // items x k implicit factors y_j

  friend class cereal::access;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    io::section_start(ar, version, kSectionVersion, hyper,
                      io::kFactors | io::kEpochs | io::kLr | io::kReg | io::kBiasReg | io::kInitStd);
    serialize_rating(ar);
    ar(cereal::make_nvp("implicit_factors", io::shaped(Y_, n_items(), emb_.factor_dims)));
  }
};

}  // namespace
}  // namespace edgerec

EDGEREC_MODEL_SECTION(edgerec::SvdppModel)

namespace edgerec {

std::unique_ptr<Model> make_svdpp() {
  return std::make_unique<SvdppModel>();
}

}  // namespace edgerec
