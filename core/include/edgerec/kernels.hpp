// edgerec/kernels.hpp — hot loops with a portable version and per-ISA versions beside it
// (kernels/*_generic.cpp, kernels/avx2_native.cpp, kernels/*_wasm_simd128.cpp). wasm builds have
// one flavour; native x86-64 builds choose theirs once per process at run time (AVX2 + FMA where
// the CPU has both, else the portable one; EDGEREC_KERNELS=generic forces the portable one), and
// every call in the process uses it. Flavours differ in f32 rounding only (summation order).
// All take raw pointers with explicit sizes; none allocates; all are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgerec::kernels {

// out[i] = dot(u, V + i*dim) + bias_add for i in [0, n). V is row-major n x dim.
void score_all(const float* u, const float* V, std::size_t n, std::size_t dim, float bias_add,
               float* out);

// score_all() over listed rows only: out[j] = dot(u, V + rows[j]*dim) + bias_add, each value
// bit-identical to the one score_all() computes for that row (exact top-K relies on it).
void score_rows(const float* u, const float* V, std::size_t dim, const std::uint32_t* rows,
                std::size_t count, float bias_add, float* out);

// The int8 item-matrix flavour. Each row i of V is stored as int8 codes Q (row-major n x dim)
// with a per-row scale: V(i, d) ~ row_scale[i] * Q(i, d). The query is int16 codes uq with one
// scale: u(d) ~ u_scale * uq(d). Then
//   out[i] = u_scale * row_scale[i] * sum_d uq(d) * Q(i, d) + bias_add,
// the sum computed exactly in 32-bit integers (quantize_query_int16() keeps it from overflowing).
void score_all_int8(const std::int16_t* uq, float u_scale, const std::int8_t* Q,
                    const float* row_scale, std::size_t n, std::size_t dim, float bias_add,
                    float* out);

// score_all_int8() over listed rows only (rows of `stride` codes).
void score_rows_int8(const std::int16_t* uq, float u_scale, const std::int8_t* Q,
                     const float* row_scale, std::size_t stride, const std::uint32_t* rows,
                     std::size_t count, float bias_add, float* out);

// Symmetric per-row quantisation of V (n x dim, row-major) into Q (n x stride, stride >= dim,
// columns past dim zeroed so kernels may run over the padded width) and row_scale (n floats).
// A row whose largest |value| m is below 127 FLT_MIN (~1.5e-36: zero, subnormal or tiny, where
// the scale m / 127 would be subnormal) gets scale 0 and codes 0; near FLT_MAX the scale is
// kept such that scale * 127 is finite. Values must be finite (a NaN or infinity would reach a
// float-to-integer cast: every caller passes a matrix the reader or the writer checked).
void quantize_rows_int8(const float* V, std::size_t n, std::size_t dim, std::size_t stride,
                        std::int8_t* Q, float* row_scale);

// out(i, d) = row_scale[i] * Q(i, d) for an n x dim code matrix (no padding). Returns the index
// of the first code equal to -128 (not a valid code: out is then incomplete), or n * dim.
std::size_t dequantize_rows_int8(const std::int8_t* Q, const float* row_scale, std::size_t n,
                                 std::size_t dim, float* out);

// Quantises a query of `dim` floats into `stride` int16 codes (zero padded) and returns its
// scale. The largest code is bounded so that a `stride`-term dot with int8 rows fits in int32.
// A query whose largest |value| is below (largest code) FLT_MIN gets codes 0 and scale 0; values
// must be finite, as for rows.
float quantize_query_int16(const float* u, std::size_t dim, std::size_t stride, std::int16_t* uq);

// The first index i in [begin, n) with scores[i] > threshold, or n when there is none (a NaN
// score never is). Top-K selection calls it with its current k-th best score, so the scan for
// the rare item that can enter the top K runs at SIMD speed.
std::size_t next_above(const float* scores, std::size_t begin, std::size_t n, float threshold);

// Name of the kernel flavour in use: "generic", "avx2-fma" (x86-64, chosen at run time) or
// "wasm-simd128".
const char* flavour();

// C = alpha op(A) op(B) + beta C for row-major buffers, op(X) = X' when trans_x: op(A) is m x k,
// op(B) k x n, C m x n; lda, ldb, ldc are the row strides in floats of A, B, C as stored.
// beta == 0 overwrites C (old values, NaN included, are ignored); C must not overlap A or B.
// Eigen's product, single-threaded (callers split rows across threads). Native x86-64 builds run
// it compiled for AVX-512F, AVX2 + FMA or the baseline (gemm_flavour() names the one in use),
// chosen like the other kernels; flavours differ in rounding (FMA, blocking), and a product's
// bits may also depend on its shape (Eigen's cache blocking), so a caller that splits rows
// gets results that depend on the split. The wasm build has one flavour, "wasm-simd128"
// (kernels/gemm_wasm_simd128.cpp, not Eigen: Eigen has no wasm SIMD packets): it sums k in order
// for each element, so its bits are those of Backend::gemm's reference loop, for any shape.
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
          const float* A, std::size_t lda, const float* B, std::size_t ldb, float beta, float* C,
          std::size_t ldc);
const char* gemm_flavour();
// The flavour of the training kernels (the iALS solver, the BPR epoch) in this process: "avx512",
// "avx2" or "generic"; all give the same bits.
const char* train_flavour();

}  // namespace edgerec::kernels
