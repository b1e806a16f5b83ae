// Portable scoring kernel. Eigen's dot product carries its own SIMD packets for the host ISA
// (SSE/AVX/NEON); a plain `acc += u[d] * v[d]` loop is a strict-order float reduction that the
// compiler may not vectorise without -ffast-math (measured: ~6x slower at 64 dims).
#include <Eigen/Core>

#include "edgerec/kernels.hpp"
#include "flavours.hpp"

namespace EDGEREC_KERNEL_NAMESPACE {

void score_all(const float* u, const float* V, std::size_t n, std::size_t dim, float bias_add,
               float* out) {
  const auto d = static_cast<Eigen::Index>(dim);
  const Eigen::Map<const Eigen::VectorXf> uv(u, d);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = uv.dot(Eigen::Map<const Eigen::VectorXf>(V + i * dim, d)) + bias_add;
}

void score_rows(const float* u, const float* V, std::size_t dim, const std::uint32_t* rows,
                std::size_t count, float bias_add, float* out) {
  // The same expression per row as score_all(): Eigen picks its packet alignment from the
  // addresses, which are the same, so the sums are too.
  const auto d = static_cast<Eigen::Index>(dim);
  const Eigen::Map<const Eigen::VectorXf> uv(u, d);
  for (std::size_t j = 0; j < count; ++j)
    out[j] = uv.dot(Eigen::Map<const Eigen::VectorXf>(V + std::size_t{rows[j]} * dim, d)) + bias_add;
}

}  // namespace EDGEREC_KERNEL_NAMESPACE
