// Quantisers for the int8 item-matrix path (kernels.hpp). Plain portable code shared by every
// kernel flavour (native x86 builds compile it once more for AVX2: avx2_native.cpp). Rounding is
// nearbyint (round half to even, one instruction with SSE4.1 and in wasm) rather than lround, a
// library call in wasm.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "edgerec/kernels.hpp"
#include "flavours.hpp"

namespace EDGEREC_KERNEL_NAMESPACE {

void quantize_rows_int8(const float* V, std::size_t n, std::size_t dim, std::size_t stride,
                        std::int8_t* Q, float* row_scale) {
  for (std::size_t i = 0; i < n; ++i) {
    const float* v = V + i * dim;
    std::int8_t* q = Q + i * stride;
    float m = 0.0f;
    for (std::size_t d = 0; d < dim; ++d) m = std::max(m, std::fabs(v[d]));
    // Symmetric codes in [-127, 127]: -128 would make the range lopsided for no gain. A row whose
    // scale m / 127 would be subnormal (m < 127 FLT_MIN ~ 1.5e-36, where 127 / m can even
    // overflow to inf and 0 * inf is NaN) is stored as zero: scale 0, codes 0, each entry then
    // off by less than 1.5e-36.
    const bool tiny = !(m >= 127.0f * std::numeric_limits<float>::min());
    float scale = tiny ? 0.0f : m / 127.0f;
    // Near FLT_MAX, m / 127 can round up so that scale * 127 overflows: a step or two down
    // keeps every dequantised entry finite (and costs 2^-22 relative, far below half a step).
    if (!(scale * 127.0f <= std::numeric_limits<float>::max())) scale -= scale * 0x1p-23f;
    const float inv = tiny ? 0.0f : 127.0f / m;
    // Finite values times a finite inv land in [-127, 127] up to rounding: the clamp keeps the
    // casts defined.
    for (std::size_t d = 0; d < dim; ++d)
      q[d] = static_cast<std::int8_t>(std::clamp(std::nearbyint(v[d] * inv), -127.0f, 127.0f));
    std::fill(q + dim, q + stride, std::int8_t{0});
    row_scale[i] = scale;
  }
}

std::size_t dequantize_rows_int8(const std::int8_t* Q, const float* row_scale, std::size_t n,
                                 std::size_t dim, float* out) {
  for (std::size_t i = 0; i < n; ++i) {
    const std::int8_t* q = Q + i * dim;
    // Branch-free min per row (vectorises), then the rare bad row is searched.
    std::int8_t lo = 0;
    for (std::size_t d = 0; d < dim; ++d) lo = std::min(lo, q[d]);
    if (lo == -128)
      for (std::size_t d = 0; d < dim; ++d)
        if (q[d] == -128) return i * dim + d;
    const float s = row_scale[i];
    float* o = out + i * dim;
    for (std::size_t d = 0; d < dim; ++d) o[d] = s * static_cast<float>(q[d]);
  }
  return n * dim;
}

float quantize_query_int16(const float* u, std::size_t dim, std::size_t stride, std::int16_t* uq) {
  // |sum| <= stride * 127 * qmax must fit in int32, so long vectors get fewer query levels.
  const long bound = static_cast<long>(2147483647.0 / (127.0 * static_cast<double>(std::max<std::size_t>(stride, 1))));
  const long qmax = std::min(32767L, bound);
  const float limit = static_cast<float>(qmax);
  float m = 0.0f;
  for (std::size_t d = 0; d < dim; ++d) m = std::max(m, std::fabs(u[d]));
  // As for rows: a query whose scale m / qmax would be subnormal (m < qmax FLT_MIN, ~4e-34 at
  // most) is quantised to zero (codes 0, scale 0), so every approximate score is the offset.
  const bool tiny = !(m >= limit * std::numeric_limits<float>::min());
  const float inv = tiny ? 0.0f : limit / m;
  for (std::size_t d = 0; d < dim; ++d)
    uq[d] = static_cast<std::int16_t>(std::clamp(std::nearbyint(u[d] * inv), -limit, limit));
  std::fill(uq + dim, uq + stride, std::int16_t{0});
  return tiny ? 0.0f : m / limit;
}

}  // namespace EDGEREC_KERNEL_NAMESPACE
