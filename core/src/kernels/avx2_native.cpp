// The AVX2 + FMA kernel flavour (x86-64 only; flavours.hpp), chosen at run time on CPUs that have
// both, while the rest of the build stays baseline x86-64. Everything here is compiled for that
// target through a pragma rather than -mavx2 on the file: the standard-library templates this
// file instantiates (std::max, std::clamp, ...) are then not emitted as AVX2 copies that the
// linker could pick for the baseline code too.
//
// The quantisers and the int8 kernels are the portable sources compiled once more for AVX2 (the
// integer sums are exact and the quantisers do the same IEEE operations, so their results equal
// the portable flavour's bit for bit; the compiler vectorises them with 256-bit lanes). The f32
// kernels and the top-K scan are written here with intrinsics: a float reduction's order is part
// of its result, so the compiler may not vectorise the portable loop, and Eigen's packets are
// fixed when it is compiled (baseline: SSE2). f32 scores differ from the portable flavour's by
// rounding only (another summation order, with FMA): a few ulp of sum |u_d v_d|.
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "edgerec/kernels.hpp"
#include "flavours.hpp"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#undef EDGEREC_KERNEL_NAMESPACE
#define EDGEREC_KERNEL_NAMESPACE edgerec::kernels::avx2
#include "quantize.cpp"
#include "score_int8_generic.cpp"

namespace edgerec::kernels::avx2 {
namespace {

// One row's dot product: eight partial sums over the first d8 columns (a multiple of 8), two
// accumulators to halve the chain of dependent FMAs, folded to four lanes and summed as
// (x0 + x2) + (x1 + x3), then the leftover columns (bias columns make widths like 66), scalar.
// score_all() and score_rows() both score every row with this one function, so a row's score
// does not depend on which call computed it (exact top-K relies on it). Rows are scored one at a
// time, each read start to end: blocking four rows (as the wasm kernel does) was measured 1.4x
// slower here, in and out of the cache.
inline float dot(const float* u, const float* r, std::size_t dim) {
  const std::size_t d8 = dim & ~std::size_t{7};
  __m256 a = _mm256_setzero_ps(), b = a;
  std::size_t d = 0;
  for (; d + 16 <= d8; d += 16) {
    a = _mm256_fmadd_ps(_mm256_loadu_ps(u + d), _mm256_loadu_ps(r + d), a);
    b = _mm256_fmadd_ps(_mm256_loadu_ps(u + d + 8), _mm256_loadu_ps(r + d + 8), b);
  }
  if (d < d8) a = _mm256_fmadd_ps(_mm256_loadu_ps(u + d), _mm256_loadu_ps(r + d), a);
  const __m256 ab = _mm256_add_ps(a, b);
  const __m128 x = _mm_add_ps(_mm256_castps256_ps128(ab), _mm256_extractf128_ps(ab, 1));
  // [x0 + x2, x1 + x3, ...], then lane 0 + lane 1.
  const __m128 y = _mm_add_ps(x, _mm_movehl_ps(x, x));
  float s = _mm_cvtss_f32(_mm_add_ss(y, _mm_shuffle_ps(y, y, 1)));
  float t = 0;
  for (d = d8; d < dim; ++d) t += u[d] * r[d];
  return s + t;
}

}  // namespace

void score_all(const float* u, const float* V, std::size_t n, std::size_t dim, float bias_add,
               float* out) {
  for (std::size_t i = 0; i < n; ++i) out[i] = dot(u, V + i * dim, dim) + bias_add;
}

void score_rows(const float* u, const float* V, std::size_t dim, const std::uint32_t* rows,
                std::size_t count, float bias_add, float* out) {
  for (std::size_t j = 0; j < count; ++j) out[j] = dot(u, V + std::size_t{rows[j]} * dim, dim) + bias_add;
}

std::size_t next_above(const float* scores, std::size_t begin, std::size_t n, float threshold) {
  // Thirty-two scores per test: once the top K has filled, almost every block fails it. An
  // ordered compare is false for NaN, as `>` is.
  const __m256 t = _mm256_set1_ps(threshold);
  std::size_t i = begin;
  for (; i + 32 <= n; i += 32) {
    const __m256 m = _mm256_or_ps(
        _mm256_or_ps(_mm256_cmp_ps(_mm256_loadu_ps(scores + i), t, _CMP_GT_OQ),
                     _mm256_cmp_ps(_mm256_loadu_ps(scores + i + 8), t, _CMP_GT_OQ)),
        _mm256_or_ps(_mm256_cmp_ps(_mm256_loadu_ps(scores + i + 16), t, _CMP_GT_OQ),
                     _mm256_cmp_ps(_mm256_loadu_ps(scores + i + 24), t, _CMP_GT_OQ)));
    if (_mm256_movemask_ps(m) != 0) break;
  }
  for (; i < n; ++i)
    if (scores[i] > threshold) return i;
  return n;
}

}  // namespace edgerec::kernels::avx2

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace edgerec::kernels::avx2 {

const KernelTable& table() {
  static const KernelTable t{"avx2-fma",          &score_all,           &score_rows,
                             &score_all_int8,     &score_rows_int8,     &quantize_rows_int8,
                             &quantize_query_int16, &dequantize_rows_int8, &next_above};
  return t;
}

}  // namespace edgerec::kernels::avx2

#endif  // x86
