// Implicit ALS (Hu, Koren, Volinsky 2008) with conjugate-gradient half-steps (Takacs et al.
// 2011), as in the `implicit` library.
//
// Confidence: c_ui = 1 + alpha * r_ui with r_ui the interaction's value as given — 1 for implicit
// data; for explicit data the rating itself (Hu et al. use the raw count or duration), so on star
// ratings a smaller alpha, or --implicit-threshold at load time, is the usual choice. Values
// <= 0 carry no preference and are left out (as r_ui = 0 in the paper).
//
// The model keeps Y'Y of its item factors, so folding in a user is the exact closed-form solve
//   x_u = (Y'Y + Y'(C_u - I)Y + reg I)^-1 Y' C_u p_u,
// and an explanation is the exact split of that score over the user's items (as implicit's
// explain()): score_i = sum_j c_uj q_i' W_u^-1 y_j, W_u the matrix above.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "edgerec/split.hpp"
#include "models/embedding_model.hpp"
#include "models/factories.hpp"
#include "models/linalg.hpp"
#include "serve_only.hpp"

namespace edgerec {
namespace {

class Ials final : public EmbeddingModel {
 public:
  // Its model file section: factors, epochs, reg, alpha, init_std, cg_steps and the seed, then the
  // embeddings and Y'Y of the item factors (f x f).
  static constexpr std::uint32_t kSectionVersion = 1;
  void save_section(SaveArchive& ar) const override;
  void load_section(LoadArchive& ar) override;
  ModelKind kind() const override { return ModelKind::ials; }

  Hyper defaults() const override {
    // Chosen by `edgerec tune` on the validation part of the ML-1M NCF training pairs (each
    // user's last training pair; see models/README.md for the command and the score). reg is
    // lambda of Hu et al.'s objective, which sums over every user-item pair. init_std is not
    // searched.
    Hyper h;
    h.factors = 192;
    h.epochs = 19;
    h.reg = 4.33f;
    h.alpha = 0.863f;
    h.cg_steps = 3;
    h.init_std = 0.01f;
    return h;
  }

  // Hu et al.'s split (as implicit's explain()): with W the matrix of the exact solve for this
  // history, score_i = sum_j c_j y_j' W^-1 q_i. A folded-in user is that solve, so the split is
  // exact; a known user's stored vector is the conjugate-gradient solution of training, so the
  // residual is its (small) difference from the exact solve.
  Attribution explain(const std::vector<ItemValue>& history, index_t item,
                      std::int64_t user) const override {
    Attribution out;
    if (item >= n_items()) throw Error("explain: item index out of range");
    out.exact = user < 0;
    out.note = user < 0 ? "exact split of the fold-in (Hu et al.)"
                        : "split of the exact solve (Hu et al.); rest: its difference from the "
                          "stored conjugate-gradient vector";
    const int f = static_cast<int>(emb_.V.cols());
    std::vector<double> A, b;
    normal_equations(history, A, b);
    std::vector<double> w(emb_.V.row(item).data(), emb_.V.row(item).data() + f);
    linalg::cholesky_solve(A, f, w);
    for (const auto& h : history) {
      double weight = 0.0;
      if (usable(h)) {
        const float* y = emb_.V.row(h.item).data();
        for (int k = 0; k < f; ++k) weight += y[k] * w[static_cast<std::size_t>(k)];
        weight *= 1.0 + double(alpha()) * h.value;
      }
      out.weights.push_back({h.item, static_cast<float>(weight)});
    }
    return out;
  }


 protected:
  void fit_impl(const Interactions&, Backend& backend, const Progress& progress) override {
    EDGEREC_TRAINING_ONLY("training");
    const int f = *hyper.factors;
    const int epochs = *hyper.epochs;
    if (*hyper.cg_steps < 1 || *hyper.cg_steps > 1000) throw Error("--cg-steps must be in 1..1000");

    // Confidence minus one, alpha * r, by user and by item.
    Csr cu = confidence(seen);
    const Csr ci = cu.transpose();

    Rng rng(mix_seed(hyper.seed, static_cast<std::uint64_t>(ModelKind::ials)));
    const float std_dev = *hyper.init_std;
    emb_.U.resize(n_users(), f);
    emb_.V.resize(n_items(), f);
    for (Eigen::Index k = 0; k < emb_.U.size(); ++k) emb_.U.data()[k] = std_dev * static_cast<float>(rng.normal());
    for (Eigen::Index k = 0; k < emb_.V.size(); ++k) emb_.V.data()[k] = std_dev * static_cast<float>(rng.normal());
    emb_.user_offset = Vector::Zero(n_users());
    emb_.factor_dims = f;

    AlsStep step;
    step.reg = *hyper.reg;
    step.cg_steps = *hyper.cg_steps;
    backend.als_fit(cu, ci, emb_.U, emb_.V, step, epochs, [&](int e, double) {
      if (progress) progress("ials", e + 1, epochs);
    });
    gram_matrix(backend, emb_.V, gram_);
  }

  void fold_in(const std::vector<ItemValue>& history, RowVector& u, float& offset) const override {
    const int f = static_cast<int>(emb_.V.cols());
    std::vector<double> A, b;
    normal_equations(history, A, b);
    linalg::cholesky_solve(A, f, b);
    u.resize(f);
    for (int k = 0; k < f; ++k) u[k] = static_cast<float>(b[static_cast<std::size_t>(k)]);
    offset = 0.0f;
  }

 private:
  float alpha() const { return *hyper.alpha; }
  // A history entry that carries preference (see the confidence rule at the top).
  bool usable(const ItemValue& h) const {
    return h.item < n_items() && h.value > 0 && std::isfinite(h.value);
  }

  Csr confidence(const Csr& by_user) const {
    Csr c;
    c.cols = by_user.cols;
    c.indptr.reserve(by_user.indptr.size());
    c.indices.reserve(by_user.nnz());
    c.values.reserve(by_user.nnz());
    for (index_t r = 0; r < by_user.rows(); ++r) {
      for (std::size_t e = 0; e < by_user.row_size(r); ++e) {
        const float v = by_user.row_values(r)[e];
        if (!(v > 0)) continue;
        c.indices.push_back(by_user.row_indices(r)[e]);
        c.values.push_back(alpha() * v);
      }
      c.indptr.push_back(c.indices.size());
    }
    return c;
  }

  // W_u = Y'Y + reg I + sum_j (c_j - 1) y_j y_j' (lower triangle, row-major, in double) and
  // b = sum_j c_j y_j for a history.
  void normal_equations(const std::vector<ItemValue>& history, std::vector<double>& A,
                        std::vector<double>& b) const {
    const std::size_t f = static_cast<std::size_t>(emb_.V.cols());
    A.assign(f * f, 0.0);
    b.assign(f, 0.0);
    for (std::size_t r = 0; r < f; ++r) {
      for (std::size_t c = 0; c <= r; ++c) A[r * f + c] = gram_(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c));
      A[r * f + r] += *hyper.reg;
    }
    for (const auto& h : history) {
      if (!usable(h)) continue;
      const double c1 = double(alpha()) * h.value;
      const float* y = emb_.V.row(h.item).data();
      for (std::size_t r = 0; r < f; ++r) {
        const double cy = c1 * y[r];
        for (std::size_t c = 0; c <= r; ++c) A[r * f + c] += cy * y[c];
        b[r] += (1.0 + c1) * y[r];
      }
    }
  }

  Matrix gram_;  // V'V of the final item factors
 private:
  friend class cereal::access;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    io::section_start(ar, version, kSectionVersion, hyper,
                      io::kFactors | io::kEpochs | io::kReg | io::kAlpha | io::kInitStd | io::kCgSteps);
    serialize_embeddings(ar);
    if constexpr (Archive::is_loading::value)
      if (emb_.factor_dims != emb_.V.cols())
        ar.fail("factor_dims", "must equal the factor count for ials");
    ar(cereal::make_nvp("item_gram", io::shaped(gram_, emb_.V.cols(), emb_.V.cols())));
  }
};

}  // namespace
}  // namespace edgerec

EDGEREC_MODEL_SECTION(edgerec::Ials)

namespace edgerec {

std::unique_ptr<Model> make_ials() { return std::make_unique<Ials>(); }

}  // namespace edgerec
