// The bandits' arm context from a base model's embeddings (see edgerec/bandit.hpp).
#include <algorithm>
#include <cmath>
#include <string>

#include "edgerec/bandit.hpp"
#include "edgerec/error.hpp"
#include "serve_only.hpp"

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

// The serving build's path (wasm): the same projection with plain loops and a cyclic Jacobi
// eigen-solver, so Eigen's decompositions and double GEMM stay out of the package (they cost
// more bytes than every policy together). Natively Eigen's solver is used; the two agree to
// rounding (the eigenvectors of a symmetric matrix with distinct eigenvalues are unique up to
// the sign, which is fixed the same way).

// Eigenvalues (returned) and eigenvectors (columns of `vectors`) of the symmetric n x n `a`
// (row-major; destroyed).
std::vector<double> jacobi_eigen(std::vector<double>& a, int n, std::vector<double>& vectors) {
  auto at = [n](std::vector<double>& m, int i, int j) -> double& { return m[static_cast<std::size_t>(i) * n + j]; };
  vectors.assign(static_cast<std::size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) at(vectors, i, i) = 1.0;
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, total = 0;
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) (i == j ? total : off) += at(a, i, j) * at(a, i, j);
    if (off <= 1e-30 * (total + off)) break;
    for (int p = 0; p < n - 1; ++p) {
      for (int q = p + 1; q < n; ++q) {
        const double apq = at(a, p, q);
        if (apq == 0.0) continue;
        const double theta = (at(a, q, q) - at(a, p, p)) / (2.0 * apq);
        const double t = (theta >= 0 ? 1.0 : -1.0) / (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
        const double c = 1.0 / std::sqrt(t * t + 1.0), sn = t * c;
        for (int k = 0; k < n; ++k) {  // columns p, q
          const double akp = at(a, k, p), akq = at(a, k, q);
          at(a, k, p) = c * akp - sn * akq;
          at(a, k, q) = sn * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {  // rows p, q
          const double apk = at(a, p, k), aqk = at(a, q, k);
          at(a, p, k) = c * apk - sn * aqk;
          at(a, q, k) = sn * apk + c * aqk;
        }
        for (int k = 0; k < n; ++k) {
          const double vkp = at(vectors, k, p), vkq = at(vectors, k, q);
          at(vectors, k, p) = c * vkp - sn * vkq;
          at(vectors, k, q) = sn * vkp + c * vkq;
        }
      }
    }
  }
  std::vector<double> values(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = at(a, i, i);
  return values;
}

// unit(M.leftCols(f) P) with plain loops (M float row-major, P f x D).
MatrixD project_rows_plain(const Matrix& M, int f, const MatrixD& P) {
  const auto D = P.cols();
  MatrixD out(M.rows(), D);
  for (Eigen::Index r = 0; r < M.rows(); ++r) {
    double norm = 0;
    for (Eigen::Index j = 0; j < D; ++j) {
      double x = 0;
      for (int k = 0; k < f; ++k) x += static_cast<double>(M(r, k)) * P(k, j);
      out(r, j) = x;
      norm += x * x;
    }
    if (norm > 0)
      for (Eigen::Index j = 0; j < D; ++j) out(r, j) /= std::sqrt(norm);
  }
  return out;
}

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
  if constexpr (kServeOnly) {
    // VᵀV in double, its leading eigenvectors (sign fixed as below), the projected unit rows.
    std::vector<double> gram(static_cast<std::size_t>(f) * f, 0.0), vectors;
    for (Eigen::Index r = 0; r < e->V.rows(); ++r)
      for (int i = 0; i < f; ++i)
        for (int j = 0; j < f; ++j)
          gram[static_cast<std::size_t>(i) * f + j] += static_cast<double>(e->V(r, i)) * e->V(r, j);
    const std::vector<double> values = jacobi_eigen(gram, f, vectors);
    std::vector<int> order(static_cast<std::size_t>(f));
    for (int i = 0; i < f; ++i) order[static_cast<std::size_t>(i)] = i;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return values[static_cast<std::size_t>(a)] > values[static_cast<std::size_t>(b)]; });
    proj_.resize(f, dims_);
    for (int j = 0; j < dims_; ++j) {
      const int c = dims_ < f ? order[static_cast<std::size_t>(j)] : j;
      int at = 0;
      for (int i = 0; i < f; ++i) {
        const double v = dims_ < f ? vectors[static_cast<std::size_t>(i) * f + c] : (i == j ? 1.0 : 0.0);
        proj_(i, j) = v;
        if (std::fabs(v) > std::fabs(proj_(at, j))) at = i;
      }
      if (proj_(at, j) < 0)
        for (int i = 0; i < f; ++i) proj_(i, j) = -proj_(i, j);
    }
    item_ = project_rows_plain(e->V, f, proj_);
    if (e->U.rows() > 0) user_ = project_rows_plain(e->U, f, proj_);
  } else {
    init_projection(*e, f);
  }
  init_score_scale(*e);
}

void BanditFeatures::init_projection(const Embeddings& emb, int f) {
  const Embeddings* e = &emb;
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
}

void BanditFeatures::init_score_scale(const Embeddings& emb) {
  const Embeddings* e = &emb;
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
