// The reference implicit-ALS half-step: conjugate gradient per row (Takacs, Pilaszy, Tikk 2011),
// as in the `implicit` library, warm-started from the row's current value.
//
// This loop is nearly all of iALS training, so it is written for speed. Factor counts that are a
// multiple of 16 run a kernel on 16-float vectors (GCC/Clang vector extensions: AVX-512 or AVX2
// natively, simd128 in wasm) that keeps x, r, p and Ap in registers and reads each item row once
// per CG step for a fused dot + axpy. Other widths run the same arithmetic on plain loops.
// Every row is solved independently of every other, so the result is the same for any chunking
// and thread count.
// Native x86 builds also compile this file for AVX2 and AVX-512 (train_flavours.hpp).
#include <algorithm>
#include <cstring>
#include <vector>

#include "backend/train_flavours.hpp"
#include "edgerec/backend.hpp"
#include "serve_only.hpp"

#ifndef EDGEREC_TRAIN_NAMESPACE
#define EDGEREC_TRAIN_NAMESPACE edgerec::train_generic
#endif

namespace EDGEREC_TRAIN_NAMESPACE {
namespace {

// Below this squared residual norm the row is solved to float precision; another step would only
// divide by noise.
constexpr float kTiny = 1e-20f;

// ---- vector kernel: f = 16 * NV ------------------------------------------------------------

// Without AVX-512 enabled g++ warns that passing 64-byte vectors by value "changes the ABI".
// These helpers have internal linkage and are all inlined, so no ABI is ever involved.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4), may_alias));
typedef float v8 __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));

inline v16 load(const float* p) { return *reinterpret_cast<const v16u*>(p); }
inline void store(float* p, const v16& v) { *reinterpret_cast<v16u*>(p) = v; }
inline v16 splat(float s) { return v16{} + s; }

inline float hsum(const v16& v) {
  const v8 a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
               __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  const v4 b = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
  return (b[0] + b[2]) + (b[1] + b[3]);
}

// The four horizontal sums of a, b, c, d at once (a transposing reduction tree): cheaper than
// four separate ones and with no chain between them.
inline v4 hsum4(const v16& a, const v16& b, const v16& c, const v16& d) {
  const v16 ab = __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
                 __builtin_shufflevector(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const v16 cd = __builtin_shufflevector(c, d, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
                 __builtin_shufflevector(c, d, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const v16 q = __builtin_shufflevector(ab, cd, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
                __builtin_shufflevector(ab, cd, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
  const v8 h = __builtin_shufflevector(q, q, 0, 1, 4, 5, 8, 9, 12, 13) +
               __builtin_shufflevector(q, q, 2, 3, 6, 7, 10, 11, 14, 15);
  return __builtin_shufflevector(h, h, 0, 2, 4, 6) + __builtin_shufflevector(h, h, 1, 3, 5, 7);
}

template <int NV>
inline float vdot(const v16 (&a)[NV], const v16 (&b)[NV]) {
  v16 s = a[0] * b[0];
  for (int k = 1; k < NV; ++k) s += a[k] * b[k];
  return hsum(s);
}

// out = G v for symmetric row-major G (f x f): the sum of G's rows weighted by v's entries.
template <int NV>
inline void vmatvec(const float* __restrict G, const v16 (&v)[NV], v16 (&out)[NV]) {
  constexpr int F = 16 * NV;
  for (int k = 0; k < NV; ++k) out[k] = v16{};
  for (int k = 0; k < NV; ++k) {
    for (int l = 0; l < 16; ++l) {
      const v16 s = splat(v[k][l]);
      const float* g = G + static_cast<std::size_t>(16 * k + l) * F;
      for (int m = 0; m < NV; ++m) out[m] += s * load(g + 16 * m);
    }
  }
}

// One pass over a row's columns, four at a time:
//   residual: acc += ((1 + c1_e) - c1_e (y_e . v)) y_e     (r = b - A x, with acc = -G x)
//   else:     acc += c1_e (y_e . v) y_e                    (Ap, with acc = G p)
template <int NV, bool kResidual>
inline void sweep(const index_t* cols, const float* vals, std::size_t n, const float* __restrict Y,
                  const v16 (&v)[NV], v16 (&acc)[NV]) {
  constexpr int F = 16 * NV;
  std::size_t e = 0;
  for (; e + 4 <= n; e += 4) {
    const float* y0 = Y + static_cast<std::size_t>(cols[e]) * F;
    const float* y1 = Y + static_cast<std::size_t>(cols[e + 1]) * F;
    const float* y2 = Y + static_cast<std::size_t>(cols[e + 2]) * F;
    const float* y3 = Y + static_cast<std::size_t>(cols[e + 3]) * F;
    v16 d0 = load(y0) * v[0], d1 = load(y1) * v[0], d2 = load(y2) * v[0], d3 = load(y3) * v[0];
    for (int k = 1; k < NV; ++k) {
      d0 += load(y0 + 16 * k) * v[k];
      d1 += load(y1 + 16 * k) * v[k];
      d2 += load(y2 + 16 * k) * v[k];
      d3 += load(y3 + 16 * k) * v[k];
    }
    const v4 c1 = v4{vals[e], vals[e + 1], vals[e + 2], vals[e + 3]};
    v4 coef = c1 * hsum4(d0, d1, d2, d3);
    if constexpr (kResidual) coef = (1.0f + c1) - coef;
    const v16 k0 = splat(coef[0]), k1 = splat(coef[1]), k2 = splat(coef[2]), k3 = splat(coef[3]);
    for (int k = 0; k < NV; ++k)
      acc[k] += k0 * load(y0 + 16 * k) + k1 * load(y1 + 16 * k) + k2 * load(y2 + 16 * k) +
                k3 * load(y3 + 16 * k);
  }
  for (; e < n; ++e) {
    const float* y0 = Y + static_cast<std::size_t>(cols[e]) * F;
    v16 d = load(y0) * v[0];
    for (int k = 1; k < NV; ++k) d += load(y0 + 16 * k) * v[k];
    const float c1 = vals[e];
    float coef = c1 * hsum(d);
    if constexpr (kResidual) coef = (1.0f + c1) - coef;
    const v16 k0 = splat(coef);
    for (int k = 0; k < NV; ++k) acc[k] += k0 * load(y0 + 16 * k);
  }
}

// One row: improves x towards the solution of
//   (G + sum_e c1_e y_e y_e') x = sum_e (1 + c1_e) y_e,   G = YtY + reg I,  c1 = vals.
template <int NV>
void cg_row_vec(const index_t* cols, const float* vals, std::size_t n, const float* __restrict Y,
                const float* __restrict G, float* __restrict xp, int steps) {
  v16 x[NV], r[NV], p[NV], ap[NV];
  for (int k = 0; k < NV; ++k) x[k] = load(xp + 16 * k);
  // r = b - A x in one pass over the row's columns.
  vmatvec<NV>(G, x, r);
  for (int k = 0; k < NV; ++k) r[k] = -r[k];
  sweep<NV, true>(cols, vals, n, Y, x, r);
  for (int k = 0; k < NV; ++k) p[k] = r[k];
  float rs = vdot<NV>(r, r);
  for (int it = 0; it < steps && rs > kTiny; ++it) {
    vmatvec<NV>(G, p, ap);
    sweep<NV, false>(cols, vals, n, Y, p, ap);
    const float pap = vdot<NV>(p, ap);
    if (!(pap > 0.0f)) break;  // only through float breakdown: A is positive definite
    const v16 a = splat(rs / pap);
    for (int k = 0; k < NV; ++k) {
      x[k] += a * p[k];
      r[k] -= a * ap[k];
    }
    const float rs_new = vdot<NV>(r, r);
    const v16 beta = splat(rs_new / rs);
    for (int k = 0; k < NV; ++k) p[k] = r[k] + beta * p[k];
    rs = rs_new;
  }
  for (int k = 0; k < NV; ++k) store(xp + 16 * k, x[k]);
}

// ---- any width: the same arithmetic on plain loops ------------------------------------------

// Float sums are not reassociated by the compiler (no -ffast-math), so the dot product keeps
// kLanes partial sums itself: the lane loop vectorises and the sum order is fixed.
constexpr int kLanes = 8;

inline float dot(const float* __restrict a, const float* __restrict b, int f) {
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

inline void matvec(const float* __restrict G, const float* __restrict v, float* __restrict out, int f) {
  std::fill(out, out + f, 0.0f);
  for (int j = 0; j < f; ++j) {
    const float* __restrict g = G + static_cast<std::size_t>(j) * f;
    const float vj = v[j];
    for (int i = 0; i < f; ++i) out[i] += vj * g[i];
  }
}

void cg_row_any(const index_t* cols, const float* vals, std::size_t n, const float* __restrict Y,
                const float* __restrict G, float* __restrict x, int steps, int f,
                float* __restrict r, float* __restrict p, float* __restrict ap) {
  matvec(G, x, r, f);
  for (int k = 0; k < f; ++k) r[k] = -r[k];
  for (std::size_t e = 0; e < n; ++e) {
    const float* __restrict y = Y + static_cast<std::size_t>(cols[e]) * f;
    const float c1 = vals[e];
    const float coef = (1.0f + c1) - c1 * dot(y, x, f);
    for (int k = 0; k < f; ++k) r[k] += coef * y[k];
  }
  std::memcpy(p, r, sizeof(float) * static_cast<std::size_t>(f));
  float rs = dot(r, r, f);
  for (int it = 0; it < steps && rs > kTiny; ++it) {
    matvec(G, p, ap, f);
    for (std::size_t e = 0; e < n; ++e) {
      const float* __restrict y = Y + static_cast<std::size_t>(cols[e]) * f;
      const float coef = vals[e] * dot(y, p, f);
      for (int k = 0; k < f; ++k) ap[k] += coef * y[k];
    }
    const float pap = dot(p, ap, f);
    if (!(pap > 0.0f)) break;
    const float a = rs / pap;
    for (int k = 0; k < f; ++k) {
      x[k] += a * p[k];
      r[k] -= a * ap[k];
    }
    const float rs_new = dot(r, r, f);
    const float beta = rs_new / rs;
    for (int k = 0; k < f; ++k) p[k] = r[k] + beta * p[k];
    rs = rs_new;
  }
}

// NV > 0: the vector kernel for f = 16 * NV; NV == 0: any f.
template <int NV>
void half_step(Backend& backend, const Csr& conf, const Matrix& Y, const Matrix& G, Matrix& X,
               int steps) {
  const int f = static_cast<int>(Y.cols());
  const std::size_t rows = conf.rows();
  // Many more chunks than threads: rows differ a lot in length and chunks are scheduled
  // dynamically. The result does not depend on the chunking.
  const int chunks = static_cast<int>(
      std::clamp<std::size_t>(rows, 1, 64u * static_cast<unsigned>(std::max(1, backend.threads()))));
  backend.parallel_for(rows, chunks, [&](std::size_t begin, std::size_t end, int) {
    std::vector<float> scratch(NV > 0 ? 0 : 3 * static_cast<std::size_t>(f));
    for (std::size_t row = begin; row < end; ++row) {
      float* x = X.data() + row * static_cast<std::size_t>(f);
      const index_t r = static_cast<index_t>(row);
      const std::size_t n = conf.row_size(r);
      if (n == 0) {
        std::fill(x, x + f, 0.0f);
      } else if constexpr (NV > 0) {
        cg_row_vec<NV>(conf.row_indices(r), conf.row_values(r), n, Y.data(), G.data(), x, steps);
      } else {
        cg_row_any(conf.row_indices(r), conf.row_values(r), n, Y.data(), G.data(), x, steps, f,
                   scratch.data(), scratch.data() + f, scratch.data() + 2 * f);
      }
    }
  });
}

}  // namespace

void als_solve_rows(Backend& backend, const Csr& conf, const Matrix& Y, const Matrix& G,
                    Matrix& X, int steps) {
  switch (Y.cols()) {
    case 16: return half_step<1>(backend, conf, Y, G, X, steps);
    case 32: return half_step<2>(backend, conf, Y, G, X, steps);
    case 48: return half_step<3>(backend, conf, Y, G, X, steps);
    case 64: return half_step<4>(backend, conf, Y, G, X, steps);
    case 96: return half_step<6>(backend, conf, Y, G, X, steps);
    case 128: return half_step<8>(backend, conf, Y, G, X, steps);
    case 192: return half_step<12>(backend, conf, Y, G, X, steps);
    case 256: return half_step<16>(backend, conf, Y, G, X, steps);
    default: return half_step<0>(backend, conf, Y, G, X, steps);
  }
}

}  // namespace EDGEREC_TRAIN_NAMESPACE

// The flavour files compile only the solver above; the entry point is defined once.
#ifndef EDGEREC_TRAIN_FLAVOUR_ONLY
namespace edgerec {

void Backend::als_half_step(const Csr& confidence, const Matrix& Y, const Matrix& YtY, Matrix& X,
                            const AlsStep& step) {
  EDGEREC_TRAINING_ONLY("iALS training");
  const Eigen::Index f = Y.cols();
  if (X.cols() != f || YtY.rows() != f || YtY.cols() != f)
    throw Error("als_half_step: factor matrices disagree on the number of factors");
  if (X.rows() != static_cast<Eigen::Index>(confidence.rows()) ||
      Y.rows() < static_cast<Eigen::Index>(confidence.cols))
    throw Error("als_half_step: confidence matrix shape does not match the factor matrices");
  if (step.cg_steps < 0) throw Error("als_half_step: cg_steps must be >= 0");
  Matrix G = YtY;
  G.diagonal().array() += step.reg;
  train_active_flavour().als_solve_rows(*this, confidence, Y, G, X, step.cg_steps);
}

// Partial sums over a fixed number of row ranges, added in range order, so the result is the same
// for every thread count. (Eigen's GEMM would do, but is not faster at these sizes and its
// AVX-512 kernels trip g++ 12's -Wmaybe-uninitialized.)
void gram_matrix(Backend& backend, const Matrix& M, Matrix& G) {
  constexpr int kChunks = 16;
  const std::size_t f = static_cast<std::size_t>(M.cols());
  std::vector<std::vector<float>> part(kChunks, std::vector<float>(f * f, 0.0f));
  backend.parallel_for(static_cast<std::size_t>(M.rows()), kChunks,
                       [&](std::size_t begin, std::size_t end, int chunk) {
    float* __restrict g = part[static_cast<std::size_t>(chunk)].data();
    for (std::size_t r = begin; r < end; ++r) {
      const float* __restrict v = M.data() + r * f;
      for (std::size_t a = 0; a < f; ++a) {
        const float va = v[a];
        float* __restrict ga = g + a * f;
        for (std::size_t b = 0; b < f; ++b) ga[b] += va * v[b];
      }
    }
  });
  G.setZero(static_cast<Eigen::Index>(f), static_cast<Eigen::Index>(f));
  for (const auto& p : part)
    for (std::size_t k = 0; k < f * f; ++k) G.data()[k] += p[k];
}

void Backend::als_fit(const Csr& by_user, const Csr& by_item, Matrix& U, Matrix& V,
                      const AlsStep& step, int epochs, const EpochHook& after_epoch) {
  EDGEREC_TRAINING_ONLY("iALS training");
  Matrix gram;
  for (int e = 0; e < epochs; ++e) {
    gram_matrix(*this, V, gram);
    als_half_step(by_user, V, gram, U, step);
    gram_matrix(*this, U, gram);
    als_half_step(by_item, U, gram, V, step);
    if (after_epoch) after_epoch(e, 0.0);
  }
}

}  // namespace edgerec
#endif
