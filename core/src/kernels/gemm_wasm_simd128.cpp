// kernels::gemm() for wasm SIMD128: the wasm build's only GEMM (gemm.cpp, Eigen's product, is
// native-only: Eigen 3.4 has no wasm SIMD packets, so there it ran scalar).
//
// Packed and register-blocked: op(A) is packed once into panels of 4 rows (k x 4, row index
// fastest), op(B) one panel of 8 columns at a time (k x 8), both zero-padded at the edges, so
// every transpose case runs the same 4 x 8 micro-kernel: per k step two f32x4 loads of B, four
// 32-bit splat loads of A, and 8 multiply-adds into 8 accumulators (8 + 2 + 1 live registers fit
// the 16 SIMD registers V8 has on x86-64 and ARM64 alike).
//
// Rounding: every C element is one accumulator lane that starts at 0 and adds fl(a * b) for
// p = 0, 1, ..., k-1 in order (wasm has no fused multiply-add), then C = alpha * acc (+ beta * C).
// That is the arithmetic of the reference loop in Backend::gemm (core/src/backend/tensor_ops.cpp,
// compiled with -ffp-contract=off), so this kernel gives the reference's bits, for any shape and
// transpose (tests/wasm/test_wasm_kernels.cpp checks it bit for bit). It is not bit-identical to
// the native kernels::gemm (Eigen's blocking and FMA round differently: relative differences
// around 1e-6 of sum |a b|).
//
// Memory: the packing buffers are kept per thread and grow to the largest product seen
// (m x k + 8 k floats), so steady-state calls do not allocate.
#include <wasm_simd128.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "edgerec/kernels.hpp"
#include "kernels/gemm_body.hpp"

namespace edgerec::kernels {
namespace {

constexpr std::size_t kMr = 4;  // rows of C per micro-kernel
constexpr std::size_t kNr = 8;  // columns of C per micro-kernel

// Rows [i0, i0 + mr) of op(A), mr <= 4, into Ap[p * 4 + r] (rows past mr are zero).
void pack_a(bool trans_a, const float* A, std::size_t lda, std::size_t k, std::size_t i0,
            std::size_t mr, float* Ap) {
  if (mr < kMr) std::memset(Ap, 0, k * kMr * sizeof(float));
  if (trans_a) {
    // op(A)(i, p) = A[p * lda + i]: the 4 rows of the panel are contiguous in A.
    for (std::size_t p = 0; p < k; ++p) {
      const float* src = A + p * lda + i0;
      if (mr == kMr)
        wasm_v128_store(Ap + p * kMr, wasm_v128_load(src));
      else
        for (std::size_t r = 0; r < mr; ++r) Ap[p * kMr + r] = src[r];
    }
  } else {
    for (std::size_t r = 0; r < mr; ++r) {
      const float* src = A + (i0 + r) * lda;
      for (std::size_t p = 0; p < k; ++p) Ap[p * kMr + r] = src[p];
    }
  }
}

// Columns [j0, j0 + nr) of op(B), nr <= 8, into Bp[p * 8 + c] (columns past nr are zero).
void pack_b(bool trans_b, const float* B, std::size_t ldb, std::size_t k, std::size_t j0,
            std::size_t nr, float* Bp) {
  if (nr < kNr) std::memset(Bp, 0, k * kNr * sizeof(float));
  if (trans_b) {
    // op(B)(p, j) = B[j * ldb + p]: each column of the panel is a row of B.
    for (std::size_t c = 0; c < nr; ++c) {
      const float* src = B + (j0 + c) * ldb;
      for (std::size_t p = 0; p < k; ++p) Bp[p * kNr + c] = src[p];
    }
  } else {
    for (std::size_t p = 0; p < k; ++p) {
      const float* src = B + p * ldb + j0;
      if (nr == kNr) {
        wasm_v128_store(Bp + p * kNr, wasm_v128_load(src));
        wasm_v128_store(Bp + p * kNr + 4, wasm_v128_load(src + 4));
      } else {
        for (std::size_t c = 0; c < nr; ++c) Bp[p * kNr + c] = src[c];
      }
    }
  }
}

// C rows [0, mr) x columns [0, nr) (mr <= 4, nr <= 8, ldc its row stride) = alpha * acc
// (+ beta * C), from the packed panels.
inline void micro_kernel(std::size_t k, const float* Ap, const float* Bp, float alpha, float beta,
                         float* C, std::size_t ldc, std::size_t mr, std::size_t nr) {
  v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
         c30 = c00, c31 = c00;
  for (std::size_t p = 0; p < k; ++p, Ap += kMr, Bp += kNr) {
    const v128_t b0 = wasm_v128_load(Bp), b1 = wasm_v128_load(Bp + 4);
    v128_t a = wasm_v128_load32_splat(Ap);
    c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(a, b0));
    c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(a, b1));
    a = wasm_v128_load32_splat(Ap + 1);
    c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(a, b0));
    c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(a, b1));
    a = wasm_v128_load32_splat(Ap + 2);
    c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(a, b0));
    c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(a, b1));
    a = wasm_v128_load32_splat(Ap + 3);
    c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(a, b0));
    c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(a, b1));
  }
  const v128_t acc[kMr][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
  const v128_t al = wasm_f32x4_splat(alpha), be = wasm_f32x4_splat(beta);
  if (mr == kMr && nr == kNr) {
    for (std::size_t r = 0; r < kMr; ++r) {
      float* row = C + r * ldc;
      for (std::size_t h = 0; h < 2; ++h) {
        v128_t v = wasm_f32x4_mul(al, acc[r][h]);
        // beta == 0 ignores C's old contents (NaN included), as the reference does.
        if (beta != 0.0f) v = wasm_f32x4_add(v, wasm_f32x4_mul(be, wasm_v128_load(row + 4 * h)));
        wasm_v128_store(row + 4 * h, v);
      }
    }
    return;
  }
  // An edge tile: the same arithmetic, lane by lane, on the valid part only.
  float tile[kMr][kNr];
  for (std::size_t r = 0; r < kMr; ++r) {
    wasm_v128_store(&tile[r][0], acc[r][0]);
    wasm_v128_store(&tile[r][4], acc[r][1]);
  }
  for (std::size_t r = 0; r < mr; ++r) {
    float* row = C + r * ldc;
    for (std::size_t c = 0; c < nr; ++c)
      row[c] = beta == 0.0f ? alpha * tile[r][c] : alpha * tile[r][c] + beta * row[c];
  }
}

}  // namespace

EDGEREC_GEMM_SIGNATURE {
  if (m == 0 || n == 0) return;
  thread_local std::vector<float> a_pack, b_pack;
  const std::size_t panels = (m + kMr - 1) / kMr;
  // k == 0 still runs the micro-kernel (acc = 0, so C = alpha * 0 + beta * C, as the reference);
  // one float keeps the buffers' data() valid.
  const std::size_t a_size = std::max<std::size_t>(1, panels * kMr * k);
  const std::size_t b_size = std::max<std::size_t>(1, kNr * k);
  if (a_pack.size() < a_size) a_pack.resize(a_size);
  if (b_pack.size() < b_size) b_pack.resize(b_size);
  float* Ap = a_pack.data();
  float* Bp = b_pack.data();
  for (std::size_t ip = 0; ip < panels; ++ip)
    pack_a(trans_a, A, lda, k, ip * kMr, std::min(kMr, m - ip * kMr), Ap + ip * kMr * k);
  for (std::size_t j0 = 0; j0 < n; j0 += kNr) {
    const std::size_t nr = std::min(kNr, n - j0);
    pack_b(trans_b, B, ldb, k, j0, nr, Bp);
    for (std::size_t ip = 0; ip < panels; ++ip) {
      const std::size_t i0 = ip * kMr;
      micro_kernel(k, Ap + i0 * k, Bp, alpha, beta, C + i0 * ldc + j0, ldc, std::min(kMr, m - i0), nr);
    }
  }
}

std::vector<GemmFlavour> gemm_flavours() { return {{"wasm-simd128", &gemm}}; }

const char* gemm_flavour() { return "wasm-simd128"; }

}  // namespace edgerec::kernels
