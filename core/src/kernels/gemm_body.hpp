// Internal: the body of kernels::gemm(), included by gemm.cpp (the portable flavour, and wasm's
// only one) and by gemm_*_native.cpp, which rename Eigen's namespace first (see there) so each
// ISA gets its own copy of Eigen's product kernels.
#pragma once

#include <cstddef>
#include <vector>

#define EDGEREC_GEMM_BODY(E)                                                                     \
  using Mat = E::Matrix<float, E::Dynamic, E::Dynamic, E::RowMajor>;                           \
  using Stride = E::OuterStride<>;                                                             \
  const auto rows_a = static_cast<E::Index>(trans_a ? k : m);                                  \
  const auto cols_a = static_cast<E::Index>(trans_a ? m : k);                                  \
  const auto rows_b = static_cast<E::Index>(trans_b ? n : k);                                  \
  const auto cols_b = static_cast<E::Index>(trans_b ? k : n);                                  \
  E::Map<const Mat, 0, Stride> a(A, rows_a, cols_a, Stride(static_cast<E::Index>(lda)));       \
  E::Map<const Mat, 0, Stride> b(B, rows_b, cols_b, Stride(static_cast<E::Index>(ldb)));       \
  E::Map<Mat, 0, Stride> c(C, static_cast<E::Index>(m), static_cast<E::Index>(n),              \
                           Stride(static_cast<E::Index>(ldc)));                                \
  if (beta == 0.0f)                                                                            \
    c.setZero();                                                                               \
  else if (beta != 1.0f)                                                                       \
    c *= beta;                                                                                 \
  if (k == 0 || alpha == 0.0f) return;                                                         \
  if (!trans_a && !trans_b)                                                                    \
    c.noalias() += alpha * a * b;                                                              \
  else if (trans_a && !trans_b)                                                                \
    c.noalias() += alpha * a.transpose() * b;                                                  \
  else if (!trans_a && trans_b)                                                                \
    c.noalias() += alpha * a * b.transpose();                                                  \
  else                                                                                         \
    c.noalias() += alpha * a.transpose() * b.transpose();

#define EDGEREC_GEMM_SIGNATURE                                                                   \
  void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k,           \
            float alpha, const float* A, std::size_t lda, const float* B, std::size_t ldb,      \
            float beta, float* C, std::size_t ldc)

namespace edgerec::kernels {
using GemmFn = void (*)(bool, bool, std::size_t, std::size_t, std::size_t, float, const float*,
                        std::size_t, const float*, std::size_t, float, float*, std::size_t);
struct GemmFlavour {
  const char* name;
  GemmFn fn;
};
// Every GEMM flavour this CPU runs, portable first (tests check each one).
std::vector<GemmFlavour> gemm_flavours();
}  // namespace edgerec::kernels
