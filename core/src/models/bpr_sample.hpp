// Internal: the per-sample mathematics of BPR (Rendle et al. 2009), shared by the backend's
// training epoch, the model's fold-in and the gradient-check test, so that the test checks the
// very code that trains.
//
// For a triple (u, i, j) — i a positive of u, j a sampled negative — with
//   x = p_u . (q_i - q_j) + b_i - b_j
// the per-sample objective (minimised) is
//   L = -ln sigmoid(x) + reg/2 (|p_u|^2 + |q_i|^2 + |q_j|^2) + bias_reg/2 (b_i^2 + b_j^2),
// and one SGD step moves every parameter by -lr dL/dparam, all gradients taken at the old values.
#pragma once

#include <cmath>

namespace edgerec::bpr {

// Partial sums in kLanes lanes: the compiler may not reorder a float sum itself, and one long
// dependency chain would dominate the step.
constexpr int kLanes = 8;

inline float margin(const float* p, const float* qi, const float* qj, float bi, float bj, int f) {
  const int body = f - f % kLanes;
  float acc[kLanes] = {};
  for (int k = 0; k < body; k += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += p[k + l] * (qi[k + l] - qj[k + l]);
  float x = bi - bj;
  for (int k = body; k < f; ++k) x += p[k] * (qi[k] - qj[k]);
  for (int h = kLanes / 2; h > 0; h /= 2)
    for (int l = 0; l < h; ++l) acc[l] += acc[l + h];
  return x + acc[0];
}

// -ln sigmoid(x) = ln(1 + e^-x), without overflow for large |x|.
inline float neg_log_sigmoid(float x) {
  return x > 0 ? std::log1p(std::exp(-x)) : -x + std::log1p(std::exp(x));
}

// sigmoid(-x) = d/dx ln sigmoid(x): how hard the sample still pushes i above j.
inline float sigmoid_neg(float x) { return 1.0f / (1.0f + std::exp(x)); }

// The per-sample objective L above (for tests and diagnostics).
inline double objective(const float* p, const float* qi, const float* qj, float bi, float bj,
                        int f, float reg, float bias_reg) {
  double sq = 0;
  for (int k = 0; k < f; ++k) sq += double(p[k]) * p[k] + double(qi[k]) * qi[k] + double(qj[k]) * qj[k];
  return neg_log_sigmoid(margin(p, qi, qj, bi, bj, f)) + 0.5 * reg * sq +
         0.5 * bias_reg * (double(bi) * bi + double(bj) * bj);
}

// sigmoid(-x) and -ln sigmoid(x) from one exp.
inline void weight_and_loss(float x, float& g, float& loss) {
  const float t = std::exp(-std::abs(x));
  if (x >= 0) {
    g = t / (1.0f + t);
    loss = std::log1p(t);
  } else {
    g = 1.0f / (1.0f + t);
    loss = -x + std::log1p(t);
  }
}

// One SGD step on every parameter of the triple. Returns -ln sigmoid(x) before the step.
// p, qi, qj must not alias (i != j, and users and items live in different matrices).
inline float step(float* __restrict p, float* __restrict qi, float* __restrict qj, float& bi,
                  float& bj, int f, float lr, float reg, float bias_reg) {
  const float x = margin(p, qi, qj, bi, bj, f);
  float g, loss;
  weight_and_loss(x, g, loss);
  for (int k = 0; k < f; ++k) {
    const float pk = p[k], qik = qi[k], qjk = qj[k];
    p[k] = pk + lr * (g * (qik - qjk) - reg * pk);
    qi[k] = qik + lr * (g * pk - reg * qik);
    qj[k] = qjk + lr * (-g * pk - reg * qjk);
  }
  const float bi0 = bi, bj0 = bj;
  bi = bi0 + lr * (g - bias_reg * bi0);
  bj = bj0 + lr * (-g - bias_reg * bj0);
  return loss;
}

// The same step with the items held fixed: only p moves (fold-in of a new user).
inline float user_step(float* __restrict p, const float* __restrict qi,
                       const float* __restrict qj, float bi, float bj, int f, float lr,
                       float reg) {
  const float x = margin(p, qi, qj, bi, bj, f);
  const float g = sigmoid_neg(x);
  for (int k = 0; k < f; ++k) p[k] += lr * (g * (qi[k] - qj[k]) - reg * p[k]);
  return neg_log_sigmoid(x);
}

}  // namespace edgerec::bpr
