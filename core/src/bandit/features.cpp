// The bandits' arm context from a base model's embeddings (see edgerec/bandit.hpp).
#include <algorithm>
#include <cmath>
#include <string>

#include "edgerec/bandit.hpp"
#include "edgerec/error.hpp"

namespace edgerec {
namespace {

// Rows scaled to unit length; a zero row stays zero (an item without interactions).
MatrixD unit_rows(MatrixD m) {
  for (Eigen::Index r = 0; r < m.rows(); ++r) {
    const double n = m.row(r).norm();
    if (n > 0) m.row(r) /= n;
  }
  return m;
}

constexpr index_t kScoreSampleUsers = 256;

}  // namespace

BanditFeatures::BanditFeatures(const Model& model, int context_dims) : model_(&model) {
  const Embeddings* e = model.embeddings();
  if (!e)
    throw Error(std::string("bandit: the base model (") + kind_name(model.kind()) +
                ") has no item embeddings; use an embedding model (ials, svd, svdpp, bpr)");
  if (context_dims < 1) throw Error("--context-dims must be at least 1");
  const int f = e->factor_dims > 0 ? e->factor_dims : static_cast<int>(e->V.cols());
  if (f < 1) throw Error("bandit: the base model has no latent factors");
  dims_ = std::min(context_dims, f);
  const MatrixD V = e->V.leftCols(f).cast<double>();
  MatrixD P = MatrixD::Identity(f, f);
  if (dims_ < f) {
    // Leading eigenvectors of VᵀV (uncentred: they keep the largest part of the dot products).
    Eigen::SelfAdjointEigenSolver<MatrixD> eig(V.transpose() * V);
    if (eig.info() != Eigen::Success) throw Error("bandit: eigen-decomposition of the item factors failed");
    P.resize(f, dims_);
    for (int j = 0; j < dims_; ++j) {
      VectorD col = eig.eigenvectors().col(f - 1 - j);  // eigenvalues ascend
      // A fixed sign (the largest entry positive), so the features do not depend on the solver.
      Eigen::Index at = 0;
      col.cwiseAbs().maxCoeff(&at);
      if (col[at] < 0) col = -col;
      P.col(j) = col;
    }
  }
  proj_ = P;
  item_ = unit_rows(V * P);
  if (e->U.rows() > 0) user_ = unit_rows(e->U.leftCols(f).cast<double>() * P);

  // The base score's scale over (a sample of) users x every item.
  const index_t users = static_cast<index_t>(e->U.rows());
  const index_t sample = std::min(users, kScoreSampleUsers);
  double sum = 0, sum_sq = 0, n = 0;
  for (index_t j = 0; j < sample; ++j) {
    const index_t u = static_cast<index_t>(static_cast<std::uint64_t>(j) * users / sample);
    const Eigen::VectorXd s = (e->V * e->U.row(u).transpose()).cast<double>().array() +
                              static_cast<double>(e->user_offset.size() > static_cast<Eigen::Index>(u) ? e->user_offset[u] : 0.0f);
    sum += s.sum();
    sum_sq += s.squaredNorm();
    n += static_cast<double>(s.size());
  }
  if (n > 0) {
    score_mean_ = sum / n;
    const double var = std::max(0.0, sum_sq / n - score_mean_ * score_mean_);
    score_std_ = var > 1e-24 ? std::sqrt(var) : 1.0;
  }
}

float BanditFeatures::base_score(index_t user, index_t item) const {
  const Embeddings* e = model_->embeddings();
  const float offset = e->user_offset.size() > static_cast<Eigen::Index>(user) ? e->user_offset[user] : 0.0f;
  return e->U.row(user).dot(e->V.row(item)) + offset;
}

void BanditFeatures::fill(index_t user, BanditEvent& e) const {
  if (user >= static_cast<index_t>(user_.rows()))
    throw Error("bandit: user index " + std::to_string(user) + " is not in the base model");
  const int D = dims_;
  const auto u = user_.row(user);
  e.x.resize(D + 1);
  e.x.head(D) = u.transpose();
  e.x[D] = 1.0;
  const std::size_t n = e.items.size();
  e.z.resize(static_cast<Eigen::Index>(n), arm_dims());
  e.base.resize(n);
  for (std::size_t a = 0; a < n; ++a) {
    const index_t item = e.items[a];
    if (item >= static_cast<index_t>(item_.rows()))
      throw Error("bandit: item index " + std::to_string(item) + " is not in the base model");
    const auto v = item_.row(item);
    const float s = base_score(user, item);
    auto row = e.z.row(static_cast<Eigen::Index>(a));
    row.head(D) = u.cwiseProduct(v);
    row.segment(D, D) = v;
    row[2 * D] = (static_cast<double>(s) - score_mean_) / score_std_;
    row[2 * D + 1] = 1.0;
    e.base[a] = s;
  }
}

void BanditFeatures::fill_vector(const float* user, float offset, BanditEvent& e) const {
  const Embeddings* emb = model_->embeddings();
  const int D = dims_;
  e.x.setZero(D + 1);
  if (user) {
    const Eigen::Map<const Eigen::VectorXf> u(user, emb->V.cols());
    VectorD p = proj_.transpose() * u.head(proj_.rows()).cast<double>();
    const double n = p.norm();
    if (n > 0) e.x.head(D) = p / n;
  }
  e.x[D] = 1.0;
  const std::size_t n = e.items.size();
  e.z.resize(static_cast<Eigen::Index>(n), arm_dims());
  e.base.resize(n);
  for (std::size_t a = 0; a < n; ++a) {
    const index_t item = e.items[a];
    if (item >= static_cast<index_t>(item_.rows()))
      throw Error("bandit: item index " + std::to_string(item) + " is not in the base model");
    const auto v = item_.row(item);
    const float s = (user ? emb->V.row(item).dot(Eigen::Map<const Eigen::RowVectorXf>(user, emb->V.cols())) : 0.0f) + offset;
    auto row = e.z.row(static_cast<Eigen::Index>(a));
    row.head(D) = e.x.head(D).transpose().cwiseProduct(v);
    row.segment(D, D) = v;
    row[2 * D] = (static_cast<double>(s) - score_mean_) / score_std_;
    row[2 * D + 1] = 1.0;
    e.base[a] = s;
  }
}

std::uint64_t BanditFeatures::fingerprint() const {
  // FNV-1a over the bytes; enough to tell models apart, not a cryptographic hash.
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&](const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  const auto rows = static_cast<std::uint64_t>(item_.rows());
  mix(&rows, sizeof rows);
  mix(&dims_, sizeof dims_);
  mix(item_.data(), static_cast<std::size_t>(item_.size()) * sizeof(double));
  mix(&score_mean_, sizeof score_mean_);
  mix(&score_std_, sizeof score_std_);
  return h;
}

void BanditFeatures::candidates(index_t user, int n, bool exclude_seen, BanditEvent& e) const {
  if (n < 1) throw Error("bandit: the candidate count must be at least 1");
  if (user >= model_->n_users())
    throw Error("bandit: user index " + std::to_string(user) + " is not in the base model");
  std::vector<std::uint8_t> skip;
  if (exclude_seen && model_->seen.rows() > user) {
    skip.assign(model_->n_items(), 0);
    const index_t* cols = model_->seen.row_indices(user);
    for (std::size_t j = 0; j < model_->seen.row_size(user); ++j) skip[cols[j]] = 1;
  }
  std::vector<float> scratch(model_->n_items());
  const auto top = model_->top_k(user, n, skip.empty() ? nullptr : skip.data(), scratch.data());
  e.items.clear();
  for (const auto& t : top) e.items.push_back(t.item);
  fill(user, e);
}

}  // namespace edgerec
