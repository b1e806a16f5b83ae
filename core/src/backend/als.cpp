// The reference implicit-ALS half-step: conjugate gradient per row (Takacs, Pilaszy, Tikk 2011),
// as in the `implicit` library, warm-started from the row's current value.
//
// Speed matters here (it is most of iALS training), so the inner loop is written for the
// compiler: the row's columns are visited once per CG step with one fused dot + axpy against the
// same contiguous item row, and the common factor counts get a compile-time width so that the
// accumulators stay in registers. Every row is solved independently of every other, so the
// result is the same for any chunking and thread count.
#include <algorithm>
#include <cstring>
#include <vector>

#include "edgerec/backend.hpp"

namespace edgerec {
namespace {

// Width known at compile time (F > 0) or read from `f` (F == 0).
template <int F>
struct Width {
  explicit Width(int) {}
  static constexpr int get() { return F; }
};
template <>
struct Width<0> {
  explicit Width(int f) : n(f) {}
  int get() const { return n; }
  int n;
};

// Float sums are not reassociated by the compiler (no -ffast-math), so the dot product keeps
// kLanes partial sums itself: the lane loop vectorises and the sum order is fixed.
constexpr int kLanes = 16;

template <int F>
inline float dot(const float* __restrict a, const float* __restrict b, Width<F> w) {
  const int f = w.get();
  const int body = f - f % kLanes;
  float acc[kLanes] = {};
  for (int k = 0; k < body; k += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += a[k + l] * b[k + l];
  float tail = 0.0f;
  for (int k = body; k < f; ++k) tail += a[k] * b[k];
  for (int h = kLanes / 2; h > 0; h /= 2)
    for (int l = 0; l < h; ++l) acc[l] += acc[l + h];
  return acc[0] + tail;
}

// out = M v for symmetric row-major M, as a sum of M's rows (no horizontal sums).
template <int F>
inline void matvec(const float* __restrict M, const float* __restrict v, float* __restrict out,
                   Width<F> w) {
  const int f = w.get();
  for (int i = 0; i < f; ++i) out[i] = 0.0f;
  for (int j = 0; j < f; ++j) {
    const float* __restrict m = M + static_cast<std::size_t>(j) * f;
    const float vj = v[j];
    for (int i = 0; i < f; ++i) out[i] += vj * m[i];
  }
}

// One row: improves x towards the solution of (YtY + reg I + sum_j v_j y_j y_j') x = sum_j (1+v_j) y_j.
// `G` is YtY + reg I. Scratch r, p, ap hold f floats each.
template <int F>
void cg_row(const index_t* cols, const float* vals, std::size_t n, const float* __restrict Y,
            const float* __restrict G, float* __restrict x, int steps, float* __restrict r,
            float* __restrict p, float* __restrict ap, Width<F> w) {
  const int f = w.get();
  // r = b - A x, computed in one pass over the row's columns.
  matvec(G, x, r, w);
  for (int k = 0; k < f; ++k) r[k] = -r[k];
  for (std::size_t e = 0; e < n; ++e) {
    const float* __restrict y = Y + static_cast<std::size_t>(cols[e]) * f;
    const float c1 = vals[e];
    const float coef = (1.0f + c1) - c1 * dot(y, x, w);
    for (int k = 0; k < f; ++k) r[k] += coef * y[k];
  }
  std::memcpy(p, r, sizeof(float) * static_cast<std::size_t>(f));
  float rs = dot(r, r, w);
  // Below this the residual is float noise; stepping on it would only add rounding error.
  constexpr float kTiny = 1e-20f;
  for (int it = 0; it < steps && rs > kTiny; ++it) {
    matvec(G, p, ap, w);
    for (std::size_t e = 0; e < n; ++e) {
      const float* __restrict y = Y + static_cast<std::size_t>(cols[e]) * f;
      const float coef = vals[e] * dot(y, p, w);
      for (int k = 0; k < f; ++k) ap[k] += coef * y[k];
    }
    const float pap = dot(p, ap, w);
    if (!(pap > 0.0f)) break;  // only reachable through float breakdown: A is positive definite
    const float a = rs / pap;
    for (int k = 0; k < f; ++k) {
      x[k] += a * p[k];
      r[k] -= a * ap[k];
    }
    const float rs_new = dot(r, r, w);
    const float beta = rs_new / rs;
    for (int k = 0; k < f; ++k) p[k] = r[k] + beta * p[k];
    rs = rs_new;
  }
}

template <int F>
void half_step(Backend& backend, const Csr& conf, const Matrix& Y, const Matrix& G, Matrix& X,
               int steps) {
  const int f = static_cast<int>(Y.cols());
  const std::size_t rows = conf.rows();
  // Many more chunks than threads: rows differ a lot in length and chunks are scheduled
  // dynamically. The result does not depend on the chunking.
  const int chunks = static_cast<int>(std::min<std::size_t>(rows, 64u * static_cast<unsigned>(backend.threads())));
  backend.parallel_for(rows, std::max(chunks, 1), [&](std::size_t begin, std::size_t end, int) {
    std::vector<float> scratch(3 * static_cast<std::size_t>(f));
    const Width<F> w(f);
    for (std::size_t row = begin; row < end; ++row) {
      float* x = X.data() + row * static_cast<std::size_t>(f);
      const index_t r = static_cast<index_t>(row);
      const std::size_t n = conf.row_size(r);
      if (n == 0) {
        std::fill(x, x + f, 0.0f);
        continue;
      }
      cg_row(conf.row_indices(r), conf.row_values(r), n, Y.data(), G.data(), x, steps,
             scratch.data(), scratch.data() + f, scratch.data() + 2 * f, w);
    }
  });
}

}  // namespace

void Backend::als_half_step(const Csr& confidence, const Matrix& Y, const Matrix& YtY, Matrix& X,
                            const AlsStep& step) {
  const Eigen::Index f = Y.cols();
  if (X.cols() != f || YtY.rows() != f || YtY.cols() != f)
    throw Error("als_half_step: factor matrices disagree on the number of factors");
  if (X.rows() != static_cast<Eigen::Index>(confidence.rows()) ||
      Y.rows() < static_cast<Eigen::Index>(confidence.cols()))
    throw Error("als_half_step: confidence matrix shape does not match the factor matrices");
  if (step.cg_steps < 0) throw Error("als_half_step: cg_steps must be >= 0");
  Matrix G = YtY;
  G.diagonal().array() += step.reg;
  switch (f) {
    case 16: return half_step<16>(*this, confidence, Y, G, X, step.cg_steps);
    case 32: return half_step<32>(*this, confidence, Y, G, X, step.cg_steps);
    case 48: return half_step<48>(*this, confidence, Y, G, X, step.cg_steps);
    case 64: return half_step<64>(*this, confidence, Y, G, X, step.cg_steps);
    case 96: return half_step<96>(*this, confidence, Y, G, X, step.cg_steps);
    case 128: return half_step<128>(*this, confidence, Y, G, X, step.cg_steps);
    case 192: return half_step<192>(*this, confidence, Y, G, X, step.cg_steps);
    case 256: return half_step<256>(*this, confidence, Y, G, X, step.cg_steps);
    default: return half_step<0>(*this, confidence, Y, G, X, step.cg_steps);
  }
}

}  // namespace edgerec
