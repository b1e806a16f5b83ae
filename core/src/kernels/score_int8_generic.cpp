// Portable int8 scoring kernel. The integer dot product is exact, so the compiler may reorder
// and vectorise it freely (unlike a float reduction); g++ -O3 turns it into pmaddwd on x86.
#include <cstdint>

#include "edgerec/kernels.hpp"
#include "flavours.hpp"

namespace EDGEREC_KERNEL_NAMESPACE {

namespace {
inline float score_row_int8(const std::int16_t* uq, float u_scale, const std::int8_t* q,
                            float row_scale, std::size_t dim, float bias_add) {
  std::int32_t acc = 0;
  for (std::size_t d = 0; d < dim; ++d) acc += static_cast<std::int32_t>(uq[d]) * q[d];
  return static_cast<float>(acc) * (u_scale * row_scale) + bias_add;
}
}  // namespace

void score_all_int8(const std::int16_t* uq, float u_scale, const std::int8_t* Q,
                    const float* row_scale, std::size_t n, std::size_t dim, float bias_add,
                    float* out) {
  for (std::size_t i = 0; i < n; ++i)
    out[i] = score_row_int8(uq, u_scale, Q + i * dim, row_scale[i], dim, bias_add);
}

void score_rows_int8(const std::int16_t* uq, float u_scale, const std::int8_t* Q,
                     const float* row_scale, std::size_t stride, const std::uint32_t* rows,
                     std::size_t count, float bias_add, float* out) {
  for (std::size_t j = 0; j < count; ++j)
    out[j] = score_row_int8(uq, u_scale, Q + std::size_t{rows[j]} * stride, row_scale[rows[j]], stride, bias_add);
}

}  // namespace EDGEREC_KERNEL_NAMESPACE
