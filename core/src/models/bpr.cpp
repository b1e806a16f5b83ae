// BPR (Rendle, Freudenthaler, Gantner, Schmidt-Thieme 2009): matrix factorisation with an item
// bias, trained by SGD on (user, positive, sampled negative) triples; see models/bpr_sample.hpp
// for the per-sample step and backend/bpr.cpp for the stratified epoch.
//
// Every interaction counts as a positive whatever its value (ratings included); load with
// --implicit-threshold to keep only the liked ones. Determinism: the same seed and backend
// thread count give the same bytes; a different thread count changes the sampling strata and so
// the result (within noise).
//
// Factor form: U = [P | 1], V = [Q | b], factor_dims = factors, user_offset = 0.
#include <algorithm>
#include <cmath>

#include "edgerec/split.hpp"
#include "models/bpr_sample.hpp"
#include "models/embedding_model.hpp"
#include "models/factories.hpp"
#include "models/linalg.hpp"
#include "serve_only.hpp"

namespace edgerec {
namespace {

// Fold-in: SGD passes over the new user's items, with items held fixed.
constexpr int kFoldInPasses = 40;
// The step size falls linearly from --lr to kFinalLr * --lr over the epochs: the late, small
// steps settle the factors (+0.01 hr@10 on ML-1M over a constant rate).
constexpr float kFinalLr = 0.1f;
constexpr std::uint64_t kFoldInStream = 0xF01D1;

class Bpr final : public EmbeddingModel {
 public:
  // Its model file section: factors, epochs, lr, reg, bias_reg, init_std and the seed, then the
  // embeddings (an item bias column after the factors).
  static constexpr std::uint32_t kSectionVersion = 1;
  void save_section(SaveArchive& ar) const override;
  void load_section(LoadArchive& ar) override;
  ModelKind kind() const override { return ModelKind::bpr; }

  Hyper defaults() const override {
    // Chosen by `edgerec tune` on the validation part of the ML-1M NCF training pairs (see
    // models/README.md for the command and the score); bias_reg and init_std are not searched.
    Hyper h;
    h.factors = 32;
    h.epochs = 67;
    h.lr = 0.23f;
    h.reg = 0.00208f;
    h.bias_reg = 0.0f;
    h.init_std = 0.1f;
    return h;
  }

  // BPR's user vector is trained by SGD on sampled pairs, not a linear function of the history.
  // The weights split its ridge projection onto the factors of the user's items: targets
  // t_j = p . q_j (the user's own score of item j), so item j weighs t_j g_j
  // (linalg::ridge_gains), with a ridge of 1e-3 of the mean squared item norm. The residual is
  // the part of p outside those items' span (pushes away from the sampled negatives, the
  // initial noise).
  Attribution explain(const std::vector<ItemValue>& history, index_t item,
                      std::int64_t user) const override {
    if (item >= n_items()) throw Error("explain: item index out of range");
    const int f = emb_.factor_dims;
    Attribution a;
    a.base = emb_.V(item, f);
    a.exact = false;
    a.note = "split of the ridge projection of the SGD-trained user vector onto the user's "
             "items; rest: b_i + the part outside their span";
    if (history.empty()) return a;
    RowVector u = RowVector::Zero(emb_.V.cols());
    float offset = 0.0f;
    if (user >= 0) u = emb_.U.row(static_cast<Eigen::Index>(user));
    else checked_fold_in(history, u, offset);
    const std::size_t d = static_cast<std::size_t>(f), n = history.size();
    std::vector<double> X(n * d), x(d), t(n, 0.0);
    double trace = 0;
    for (std::size_t j = 0; j < n; ++j) {
      if (history[j].item >= n_items()) throw Error("explain: item index out of range");
      for (std::size_t c = 0; c < d; ++c) {
        const double q = emb_.V(history[j].item, static_cast<Eigen::Index>(c));
        X[j * d + c] = q;
        t[j] += q * u[static_cast<Eigen::Index>(c)];
        trace += q * q;
      }
    }
    for (std::size_t c = 0; c < d; ++c) x[c] = emb_.V(item, static_cast<Eigen::Index>(c));
    const double ridge = std::max(1e-3 * trace / static_cast<double>(n), 1e-12);
    const auto g = linalg::ridge_gains(X, n, f, std::vector<double>(d, ridge), x);
    for (std::size_t j = 0; j < n; ++j) a.weights.push_back({history[j].item, static_cast<float>(t[j] * g[j])});
    return a;
  }


 protected:
  void fit_impl(const Interactions&, Backend& backend, const Progress& progress) override {
    EDGEREC_TRAINING_ONLY("training");
    const int f = *hyper.factors;
    const int epochs = *hyper.epochs;
    Rng rng(mix_seed(hyper.seed, static_cast<std::uint64_t>(ModelKind::bpr)));
    const float std_dev = *hyper.init_std;
    Matrix P(n_users(), f), Q(n_items(), f);
    for (Eigen::Index k = 0; k < P.size(); ++k) P.data()[k] = std_dev * static_cast<float>(rng.normal());
    for (Eigen::Index k = 0; k < Q.size(); ++k) Q.data()[k] = std_dev * static_cast<float>(rng.normal());
    Vector bias = Vector::Zero(n_items());

    BprStep step;
    step.lr = *hyper.lr;
    step.reg = *hyper.reg;
    step.bias_reg = *hyper.bias_reg;
    const auto step_of = [&](int e) {
      BprStep s = step;
      s.seed = mix_seed(hyper.seed, static_cast<std::uint64_t>(e) + 1, 0xB9);
      s.lr = learning_rate(e, epochs);
      return s;
    };
    backend.bpr_fit(seen, P, Q, bias, epochs, step_of, [&](int e, double loss) {
      info.loss.push_back(static_cast<float>(loss));
      if (!std::isfinite(info.loss.back()))
        throw Error("bpr diverged at epoch " + std::to_string(e + 1) + " (try a smaller --lr)");
      if (progress) progress("bpr", e + 1, epochs);
    });

    if (!P.allFinite() || !Q.allFinite() || !bias.allFinite())
      throw Error("bpr diverged (try a smaller --lr)");
    emb_.U.resize(n_users(), f + 1);
    emb_.U.leftCols(f) = P;
    emb_.U.col(f).setOnes();
    emb_.V.resize(n_items(), f + 1);
    emb_.V.leftCols(f) = Q;
    emb_.V.col(f) = bias;
    emb_.user_offset = Vector::Zero(n_users());
    emb_.factor_dims = f;
  }

  float learning_rate(int epoch, int epochs) const {
    return *hyper.lr * (1.0f - (1.0f - kFinalLr) * static_cast<float>(epoch) / static_cast<float>(epochs));
  }

  void fold_in(const std::vector<ItemValue>& history, RowVector& u, float& offset) const override {
    const int f = emb_.factor_dims;
    u = RowVector::Zero(emb_.V.cols());
    u[f] = 1.0f;
    offset = 0.0f;
    std::vector<index_t> pos;
    for (const auto& h : history)
      if (h.item < n_items()) pos.push_back(h.item);
    std::sort(pos.begin(), pos.end());
    pos.erase(std::unique(pos.begin(), pos.end()), pos.end());
    if (pos.empty() || pos.size() >= n_items()) return;

    // Same seed for every call: a given history always folds in to the same vector.
    Rng rng(mix_seed(hyper.seed, kFoldInStream));
    const float reg = *hyper.reg;
    std::vector<index_t> order = pos;
    for (int pass = 0; pass < kFoldInPasses; ++pass) {
      const float lr = learning_rate(pass, kFoldInPasses);
      for (std::size_t k = order.size(); k > 1; --k) std::swap(order[k - 1], order[rng.below(k)]);
      for (const index_t i : order) {
        index_t j = i;
        bool found = false;
        for (int tries = 0; tries < 32 && !found; ++tries) {
          j = static_cast<index_t>(rng.below(n_items()));
          found = !std::binary_search(pos.begin(), pos.end(), j);
        }
        if (!found) continue;
        // The bias column of V is the item bias; u's bias column stays 1.
        bpr::user_step(u.data(), emb_.V.row(i).data(), emb_.V.row(j).data(), emb_.V(i, f),
                       emb_.V(j, f), f, lr, reg);
      }
    }
  }
 private:
  friend class cereal::access;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    io::section_start(ar, version, kSectionVersion, hyper,
                      io::kFactors | io::kEpochs | io::kLr | io::kReg | io::kBiasReg | io::kInitStd);
    serialize_embeddings(ar);
    if constexpr (Archive::is_loading::value)
      if (emb_.factor_dims + 1 != emb_.V.cols())
        ar.fail("factor_dims", "must be the factor count minus the bias column for bpr");
  }
};

}  // namespace
}  // namespace edgerec

EDGEREC_MODEL_SECTION(edgerec::Bpr)

namespace edgerec {

std::unique_ptr<Model> make_bpr() { return std::make_unique<Bpr>(); }

}  // namespace edgerec
