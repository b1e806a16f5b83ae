// Portable top-K scan helper (kernels.hpp).
#include "edgerec/kernels.hpp"
#include "flavours.hpp"

namespace EDGEREC_KERNEL_NAMESPACE {

std::size_t next_above(const float* scores, std::size_t begin, std::size_t n, float threshold) {
  for (std::size_t i = begin; i < n; ++i)
    if (scores[i] > threshold) return i;
  return n;
}

}  // namespace EDGEREC_KERNEL_NAMESPACE
