// Internal: the per-sample arithmetic of the explicit-feedback SGD models (SVD, SVD++).
//
// Training runs these functions with T = float; the gradient-check tests run the very same
// templates with T = double and compare the step each one takes with central finite differences
// of the matching *_loss function. Every step is "x -= lr * dL/dx" with all partial derivatives
// taken at the parameters before the step, so (x_before - x_after) / lr is exactly the analytic
// gradient, which is what the tests read back.
//
// Per-sample loss of SVD (Funk 2006; Koren, Bell, Volinsky 2009), e = r - r_hat:
//   r_hat = mu + b_u + b_i + p_u . q_i
//   L     = e^2/2 + reg/2 (|p_u|^2 + |q_i|^2) + bias_reg/2 (b_u^2 + b_i^2)
// SVD++ (Koren 2008) adds the implicit part z_u = |N(u)|^-1/2 sum_{j in N(u)} y_j:
//   r_hat = mu + b_u + b_i + q_i . (p_u + z_u)
//   L     = e^2/2 + reg/2 (|p_u|^2 + |q_i|^2 + sum_j |y_j|^2) + bias_reg/2 (b_u^2 + b_i^2)
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include <Eigen/Core>

namespace edgerec::sgd {

template <class T>
using ConstVec = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>;

// Eigen's dot: SIMD partial sums in an order fixed by the build (deterministic run to run).
// A plain loop stays scalar without -ffast-math, and GCC 12 vectorises a hand-split one badly.
template <class T>
inline T dot(const T* a, const T* b, int k) {
  return ConstVec<T>(a, k).dot(ConstVec<T>(b, k));
}

template <class T>
inline T squared_norm(const T* a, int k) {
  return dot(a, a, k);
}

// ---- SVD ---------------------------------------------------------------------------------------

template <class T>
inline T svd_predict(T mu, T bu, T bi, const T* p, const T* q, int k) {
  return mu + bu + bi + dot(p, q, k);
}

template <class T>
inline T svd_loss(T r, T mu, T bu, T bi, const T* p, const T* q, int k, T reg, T bias_reg) {
  const T e = r - svd_predict(mu, bu, bi, p, q, k);
  return e * e / 2 + reg / 2 * (squared_norm(p, k) + squared_norm(q, k)) +
         bias_reg / 2 * (bu * bu + bi * bi);
}

// One SGD step on one rating; returns e (before the step). p and q must not overlap.
template <class T>
inline T svd_step(T r, T mu, T& bu, T& bi, T* __restrict__ p, T* __restrict__ q, int k, T lr, T reg,
                  T bias_reg) {
  const T e = r - svd_predict(mu, bu, bi, p, q, k);
  bu += lr * (e - bias_reg * bu);
  bi += lr * (e - bias_reg * bi);
  for (int f = 0; f < k; ++f) {
    const T pf = p[f], qf = q[f];
    p[f] = pf + lr * (e * qf - reg * pf);
    q[f] = qf + lr * (e * pf - reg * qf);
  }
  return e;
}

// The fold-in step: the same step with the item's parameters held fixed.
template <class T>
inline T svd_user_step(T r, T mu, T& bu, T bi, T* __restrict__ p, const T* __restrict__ q, int k,
                       T lr, T reg, T bias_reg) {
  const T e = r - svd_predict(mu, bu, bi, p, q, k);
  bu += lr * (e - bias_reg * bu);
  for (int f = 0; f < k; ++f) p[f] += lr * (e * q[f] - reg * p[f]);
  return e;
}

// ---- SVD++ -------------------------------------------------------------------------------------

// z = |N|^-1/2 sum_{j in N} Y.row(j), for N = items[0..n) (z = 0 when n = 0).
template <class T, class Index>
inline void svdpp_implicit(const T* Y, const Index* items, std::size_t n, int k, T* z) {
  for (int f = 0; f < k; ++f) z[f] = 0;
  if (n == 0) return;
  for (std::size_t j = 0; j < n; ++j) {
    const T* y = Y + static_cast<std::size_t>(items[j]) * static_cast<std::size_t>(k);
    for (int f = 0; f < k; ++f) z[f] += y[f];
  }
  const T norm = T(1) / std::sqrt(static_cast<T>(n));
  for (int f = 0; f < k; ++f) z[f] *= norm;
}

template <class T, class Index>
inline T svdpp_loss(T r, T mu, T bu, T bi, const T* p, const T* q, const T* Y,
                    const Index* implicit_items, std::size_t n_implicit, int k, T reg, T bias_reg,
                    T* z_scratch) {
  svdpp_implicit(Y, implicit_items, n_implicit, k, z_scratch);
  T pz_dot_q = 0, ny = 0;
  for (int f = 0; f < k; ++f) pz_dot_q += (p[f] + z_scratch[f]) * q[f];
  for (std::size_t j = 0; j < n_implicit; ++j)
    ny += squared_norm(Y + static_cast<std::size_t>(implicit_items[j]) * k, k);
  const T e = r - (mu + bu + bi + pz_dot_q);
  return e * e / 2 + reg / 2 * (squared_norm(p, k) + squared_norm(q, k) + ny) +
         bias_reg / 2 * (bu * bu + bi * bi);
}

// One SGD step on one rating of a user whose implicit part z is held fixed during the user's
// pass; adds e * q_i (the rating's gradient with respect to z, negated) to acc. Returns e.
template <class T>
inline T svdpp_rating_step(T r, T mu, T& bu, T& bi, T* __restrict__ p, T* __restrict__ q,
                           const T* __restrict__ z, T* __restrict__ acc, int k, T lr, T reg,
                           T bias_reg) {
  const T d = (ConstVec<T>(p, k) + ConstVec<T>(z, k)).dot(ConstVec<T>(q, k));
  const T e = r - (mu + bu + bi + d);
  bu += lr * (e - bias_reg * bu);
  bi += lr * (e - bias_reg * bi);
  for (int f = 0; f < k; ++f) {
    const T pf = p[f], qf = q[f];
    p[f] = pf + lr * (e * qf - reg * pf);
    q[f] = qf + lr * (e * (pf + z[f]) - reg * qf);
    acc[f] += e * qf;
  }
  return e;
}

// The implicit factors' step after a user's pass: for j in N(u),
//   y_j += lr (|N|^-1/2 acc - sqrt(ratings) reg y_j),
// i.e. the sum of the per-rating gradient steps of the pass, taken at once so that z needs
// computing only once per user. The shrinkage grows like the gradient sum does (|R(u)| terms
// times |N|^-1/2, so ~ sqrt(|R(u)|)): shrinking once per rating, as Surprise does, over-shrinks
// the items of heavy raters, once per user under-shrinks them. Chosen on validation only: each
// scheme got the same `edgerec tune --data ml-100k/u.data --model svdpp --protocol holdout
// --trials 100 --threads 1 --seed S` (S = 0..3: four validation parts and searches) in a build
// where the scheme was switchable; best validation RMSE, mean of the four seeds: sqrt 0.9053,
// once per user 0.9064, once per rating 0.9128 (sqrt best on three of the four seeds). For a single rating all three are the same
// gradient step on svdpp_loss.
template <class T, class Index>
inline void svdpp_implicit_step(T* Y, const Index* items, std::size_t n, const T* acc,
                                std::size_t ratings, int k, T lr, T reg) {
  if (n == 0) return;
  const T g = lr / std::sqrt(static_cast<T>(n));
  const T shrink = lr * reg * std::sqrt(static_cast<T>(ratings));
  for (std::size_t j = 0; j < n; ++j) {
    T* y = Y + static_cast<std::size_t>(items[j]) * static_cast<std::size_t>(k);
    for (int f = 0; f < k; ++f) y[f] += g * acc[f] - shrink * y[f];
  }
}

// One SVD++ pass over one user's ratings in the order `order` (indices into items/ratings):
// z from N(u) = implicit_items, then one rating step each, then the implicit step. Returns the
// sum of e^2. z and acc are k scratch floats each. This is what training runs per user, and with
// a single rating it is exactly one gradient step on svdpp_loss (what the gradient test checks).
template <class T, class Index>
inline double svdpp_user_pass(T mu, T& bu, T* p, const Index* items, const T* ratings,
                              const std::uint32_t* order, std::size_t n,
                              const Index* implicit_items, std::size_t n_implicit, T* Q,
                              T* item_bias, T* Y, int k, T lr, T reg, T bias_reg, T* z, T* acc) {
  svdpp_implicit(Y, implicit_items, n_implicit, k, z);
  for (int f = 0; f < k; ++f) acc[f] = 0;
  double se = 0;
  for (std::size_t t = 0; t < n; ++t) {
    const std::size_t j = order[t];
    const std::size_t i = static_cast<std::size_t>(items[j]);
    const T e = svdpp_rating_step(ratings[j], mu, bu, item_bias[i], p, Q + i * k, z, acc, k, lr,
                                  reg, bias_reg);
    se += static_cast<double>(e) * static_cast<double>(e);
  }
  svdpp_implicit_step(Y, implicit_items, n_implicit, acc, n, k, lr, reg);
  return se;
}

}  // namespace edgerec::sgd
