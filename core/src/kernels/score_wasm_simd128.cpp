// wasm-simd128 scoring kernels (Eigen 3.4 has no wasm SIMD backend, so its GEMV runs scalar
// there: ~8x slower than this). Four item rows are scored at once so that each load of the
// user vector feeds four multiply-adds and four independent accumulator chains hide the
// latency of f32x4.add; the four sums are then transposed into one vector and stored together.
// The score_rows variants do the same over gathered rows (the pruned top-K's visits).
// For the usual widths the d loop is unrolled at compile time (score4_fixed): V8 then folds every
// load's offset into the instruction, where the run-time loop pays an address computation per
// load, which made the 100k x 64 scan ~1.6x slower than a plain read of the matrix in Chromium
// (measured); unrolled it runs at the speed of that read.
#include <wasm_simd128.h>

#include <cstdint>

#include "edgerec/kernels.hpp"

namespace edgerec::kernels {
namespace {

// [sum(a), sum(b), sum(c), sum(d)] of four f32x4 accumulators.
inline v128_t hsum4_f32(v128_t a, v128_t b, v128_t c, v128_t d) {
  const v128_t ab = wasm_f32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
  const v128_t cd = wasm_f32x4_add(wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), wasm_i32x4_shuffle(c, d, 2, 6, 3, 7));
  return wasm_f32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}

inline v128_t hsum4_i32(v128_t a, v128_t b, v128_t c, v128_t d) {
  const v128_t ab = wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
  const v128_t cd = wasm_i32x4_add(wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), wasm_i32x4_shuffle(c, d, 2, 6, 3, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}

inline float hsum_f32(v128_t a) {
  return (wasm_f32x4_extract_lane(a, 0) + wasm_f32x4_extract_lane(a, 2)) +
         (wasm_f32x4_extract_lane(a, 1) + wasm_f32x4_extract_lane(a, 3));
}

inline std::int32_t hsum_i32(v128_t a) {
  return wasm_i32x4_extract_lane(a, 0) + wasm_i32x4_extract_lane(a, 1) +
         wasm_i32x4_extract_lane(a, 2) + wasm_i32x4_extract_lane(a, 3);
}

// dot(u, r0..r3) as one vector. score_all() and score_rows() both go through this (and
// score1()), so a row's score does not depend on which call or which group computed it; the
// lane sums of hsum4_f32 and hsum_f32 add in the same order, so the groups agree too.
inline v128_t score4(const float* u, const float* r0, const float* r1, const float* r2,
                     const float* r3, std::size_t dim) {
  const std::size_t d4 = dim & ~std::size_t{3};
  v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
  for (std::size_t d = 0; d < d4; d += 4) {
    const v128_t x = wasm_v128_load(u + d);
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(x, wasm_v128_load(r0 + d)));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(x, wasm_v128_load(r1 + d)));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(x, wasm_v128_load(r2 + d)));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(x, wasm_v128_load(r3 + d)));
  }
  v128_t s = hsum4_f32(a0, a1, a2, a3);
  if (d4 < dim) {
    // Leftover columns (bias columns make widths like 66): scalar, added lane by lane.
    float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    for (std::size_t d = d4; d < dim; ++d) {
      t0 += u[d] * r0[d];
      t1 += u[d] * r1[d];
      t2 += u[d] * r2[d];
      t3 += u[d] * r3[d];
    }
    s = wasm_f32x4_add(s, wasm_f32x4_make(t0, t1, t2, t3));
  }
  return s;
}

// score4() with the number of whole f32x4 steps, B = dim / 4, known at compile time: the same
// operations in the same order (so the same bits), fully unrolled. Each row keeps its own base
// pointer, so any row stride (and any leftover columns, added as score4 adds them) works.
// Kept apart from score4 on purpose: one template sharing the step as a lambda (unrolled loop
// under `if constexpr`) made the bench's 100k x 64 plain scan 2.1-2.5 ms instead of 0.73 in
// Chromium (measured; the unroll no longer happened).
template <std::size_t B>
inline v128_t score4_fixed(const float* u, const float* r0, const float* r1, const float* r2,
                           const float* r3, std::size_t dim) {
  v128_t a0 = wasm_f32x4_splat(0.0f), a1 = a0, a2 = a0, a3 = a0;
#pragma clang loop unroll(full)
  for (std::size_t d = 0; d < 4 * B; d += 4) {
    const v128_t x = wasm_v128_load(u + d);
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(x, wasm_v128_load(r0 + d)));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(x, wasm_v128_load(r1 + d)));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(x, wasm_v128_load(r2 + d)));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(x, wasm_v128_load(r3 + d)));
  }
  v128_t s = hsum4_f32(a0, a1, a2, a3);
  if (4 * B < dim) {
    float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    for (std::size_t d = 4 * B; d < dim; ++d) {
      t0 += u[d] * r0[d];
      t1 += u[d] * r1[d];
      t2 += u[d] * r2[d];
      t3 += u[d] * r3[d];
    }
    s = wasm_f32x4_add(s, wasm_f32x4_make(t0, t1, t2, t3));
  }
  return s;
}

// B = 0 stands for "not fixed": score4's run-time loop.
template <std::size_t B>
inline v128_t score4_any(const float* u, const float* r0, const float* r1, const float* r2,
                         const float* r3, std::size_t dim) {
  if constexpr (B == 0) return score4(u, r0, r1, r2, r3, dim);
  else return score4_fixed<B>(u, r0, r1, r2, r3, dim);
}

inline float score1(const float* u, const float* r, std::size_t dim) {
  const std::size_t d4 = dim & ~std::size_t{3};
  v128_t a = wasm_f32x4_splat(0.0f);
  for (std::size_t d = 0; d < d4; d += 4)
    a = wasm_f32x4_add(a, wasm_f32x4_mul(wasm_v128_load(u + d), wasm_v128_load(r + d)));
  float t = 0;
  for (std::size_t d = d4; d < dim; ++d) t += u[d] * r[d];
  return hsum_f32(a) + t;
}

// The int8 counterparts: load8x8 sign-extends eight int8 codes to i16x8, and i32x4.dot_i16x8_s
// multiplies and adds pairs into exact int32 lanes (so here any grouping gives the same sums).
inline v128_t dot4_int8(const std::int16_t* uq, const std::int8_t* r0, const std::int8_t* r1,
                        const std::int8_t* r2, const std::int8_t* r3, std::size_t dim) {
  const std::size_t d8 = dim & ~std::size_t{7};
  v128_t a0 = wasm_i32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
  for (std::size_t d = 0; d < d8; d += 8) {
    const v128_t x = wasm_v128_load(uq + d);
    a0 = wasm_i32x4_add(a0, wasm_i32x4_dot_i16x8(x, wasm_i16x8_load8x8(r0 + d)));
    a1 = wasm_i32x4_add(a1, wasm_i32x4_dot_i16x8(x, wasm_i16x8_load8x8(r1 + d)));
    a2 = wasm_i32x4_add(a2, wasm_i32x4_dot_i16x8(x, wasm_i16x8_load8x8(r2 + d)));
    a3 = wasm_i32x4_add(a3, wasm_i32x4_dot_i16x8(x, wasm_i16x8_load8x8(r3 + d)));
  }
  v128_t s = hsum4_i32(a0, a1, a2, a3);
  if (d8 < dim) {
    std::int32_t t0 = 0, t1 = 0, t2 = 0, t3 = 0;
    for (std::size_t d = d8; d < dim; ++d) {
      t0 += uq[d] * r0[d];
      t1 += uq[d] * r1[d];
      t2 += uq[d] * r2[d];
      t3 += uq[d] * r3[d];
    }
    s = wasm_i32x4_add(s, wasm_i32x4_make(t0, t1, t2, t3));
  }
  return s;
}

inline std::int32_t dot1_int8(const std::int16_t* uq, const std::int8_t* r, std::size_t dim) {
  const std::size_t d8 = dim & ~std::size_t{7};
  v128_t a = wasm_i32x4_splat(0);
  for (std::size_t d = 0; d < d8; d += 8)
    a = wasm_i32x4_add(a, wasm_i32x4_dot_i16x8(wasm_v128_load(uq + d), wasm_i16x8_load8x8(r + d)));
  std::int32_t s = hsum_i32(a);
  for (std::size_t d = d8; d < dim; ++d) s += uq[d] * r[d];
  return s;
}

template <std::size_t B>
void score_all_b(const float* u, const float* V, std::size_t n, std::size_t dim, float bias_add,
                 float* out) {
  const v128_t bias = wasm_f32x4_splat(bias_add);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float* r = V + i * dim;
    wasm_v128_store(out + i, wasm_f32x4_add(score4_any<B>(u, r, r + dim, r + 2 * dim, r + 3 * dim, dim), bias));
  }
  for (; i < n; ++i) out[i] = score1(u, V + i * dim, dim) + bias_add;
}

template <std::size_t B>
void score_rows_b(const float* u, const float* V, std::size_t dim, const std::uint32_t* rows,
                  std::size_t count, float bias_add, float* out) {
  const v128_t bias = wasm_f32x4_splat(bias_add);
  std::size_t j = 0;
  for (; j + 4 <= count; j += 4) {
    const v128_t s = score4_any<B>(u, V + std::size_t{rows[j]} * dim, V + std::size_t{rows[j + 1]} * dim,
                                   V + std::size_t{rows[j + 2]} * dim, V + std::size_t{rows[j + 3]} * dim, dim);
    wasm_v128_store(out + j, wasm_f32x4_add(s, bias));
  }
  for (; j < count; ++j) out[j] = score1(u, V + std::size_t{rows[j]} * dim, dim) + bias_add;
}

// Calls F<B> for the widths unrolled at compile time (factor counts 8..128 in the usual steps,
// with up to three bias columns), F<0> (the run-time loop) for the rest. Each width costs
// ~1-3 KB of wasm for the two kernels.
#define EDGEREC_WASM_WIDTHS(F, ...)      \
  switch (dim / 4) {                     \
    case 2: return F<2>(__VA_ARGS__);    \
    case 4: return F<4>(__VA_ARGS__);    \
    case 8: return F<8>(__VA_ARGS__);    \
    case 12: return F<12>(__VA_ARGS__);  \
    case 16: return F<16>(__VA_ARGS__);  \
    case 24: return F<24>(__VA_ARGS__);  \
    case 32: return F<32>(__VA_ARGS__);  \
    default: return F<0>(__VA_ARGS__);   \
  }

}  // namespace

void score_all(const float* u, const float* V, std::size_t n, std::size_t dim, float bias_add,
               float* out) {
  EDGEREC_WASM_WIDTHS(score_all_b, u, V, n, dim, bias_add, out)
}

void score_rows(const float* u, const float* V, std::size_t dim, const std::uint32_t* rows,
                std::size_t count, float bias_add, float* out) {
  EDGEREC_WASM_WIDTHS(score_rows_b, u, V, dim, rows, count, bias_add, out)
}

#undef EDGEREC_WASM_WIDTHS

void score_all_int8(const std::int16_t* uq, float u_scale, const std::int8_t* Q,
                    const float* row_scale, std::size_t n, std::size_t dim, float bias_add,
                    float* out) {
  const v128_t bias = wasm_f32x4_splat(bias_add);
  const v128_t us = wasm_f32x4_splat(u_scale);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const std::int8_t* r = Q + i * dim;
    const v128_t s = dot4_int8(uq, r, r + dim, r + 2 * dim, r + 3 * dim, dim);
    const v128_t scale = wasm_f32x4_mul(us, wasm_v128_load(row_scale + i));
    wasm_v128_store(out + i, wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), scale), bias));
  }
  for (; i < n; ++i)
    out[i] = static_cast<float>(dot1_int8(uq, Q + i * dim, dim)) * (u_scale * row_scale[i]) + bias_add;
}

void score_rows_int8(const std::int16_t* uq, float u_scale, const std::int8_t* Q,
                     const float* row_scale, std::size_t stride, const std::uint32_t* rows,
                     std::size_t count, float bias_add, float* out) {
  const v128_t bias = wasm_f32x4_splat(bias_add);
  const v128_t us = wasm_f32x4_splat(u_scale);
  std::size_t j = 0;
  for (; j + 4 <= count; j += 4) {
    const v128_t s = dot4_int8(uq, Q + std::size_t{rows[j]} * stride, Q + std::size_t{rows[j + 1]} * stride,
                               Q + std::size_t{rows[j + 2]} * stride, Q + std::size_t{rows[j + 3]} * stride, stride);
    const v128_t scale = wasm_f32x4_mul(us, wasm_f32x4_make(row_scale[rows[j]], row_scale[rows[j + 1]],
                                                            row_scale[rows[j + 2]], row_scale[rows[j + 3]]));
    wasm_v128_store(out + j, wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_convert_i32x4(s), scale), bias));
  }
  for (; j < count; ++j)
    out[j] = static_cast<float>(dot1_int8(uq, Q + std::size_t{rows[j]} * stride, stride)) *
                 (u_scale * row_scale[rows[j]]) + bias_add;
}

std::size_t next_above(const float* scores, std::size_t begin, std::size_t n, float threshold) {
  // Sixteen scores per test: once the top K has filled, almost every block fails it.
  const v128_t t = wasm_f32x4_splat(threshold);
  std::size_t i = begin;
  for (; i + 16 <= n; i += 16) {
    const v128_t m = wasm_v128_or(
        wasm_v128_or(wasm_f32x4_gt(wasm_v128_load(scores + i), t), wasm_f32x4_gt(wasm_v128_load(scores + i + 4), t)),
        wasm_v128_or(wasm_f32x4_gt(wasm_v128_load(scores + i + 8), t), wasm_f32x4_gt(wasm_v128_load(scores + i + 12), t)));
    if (wasm_v128_any_true(m)) break;
  }
  for (; i < n; ++i)
    if (scores[i] > threshold) return i;
  return n;
}

const char* flavour() { return "wasm-simd128"; }

}  // namespace edgerec::kernels
