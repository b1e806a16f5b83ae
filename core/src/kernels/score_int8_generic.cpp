// Portable int8 scoring kernel. The integer dot product is exact, so the compiler may reorder
// and vectorise it freely (unlike a float reduction); g++ -O3 turns it into pmaddwd on x86.
#include <cstdint>

#include "edgerec/kernels.hpp"

namespace edgerec::kernels {

void score_all_int8(const std::int16_t* uq, float u_scale, const std::int8_t* Q,
                    const float* row_scale, std::size_t n, std::size_t dim, float bias_add,
                    float* out) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::int8_t* q = Q + i * dim;
    std::int32_t acc = 0;
    for (std::size_t d = 0; d < dim; ++d) acc += static_cast<std::int32_t>(uq[d]) * q[d];
    out[i] = static_cast<float>(acc) * (u_scale * row_scale[i]) + bias_add;
  }
}

}  // namespace edgerec::kernels
