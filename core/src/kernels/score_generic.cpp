// Portable scoring kernel. Written as a plain fused loop (not Eigen GEMV): g++ -O3 vectorises
// it for the host ISA, and it avoids a second pass over the scores.
#include "edgerec/kernels.hpp"

namespace edgerec::kernels {

void score_all(const float* u, const float* V, std::size_t n, std::size_t dim, float bias_add,
               float* out) {
  for (std::size_t i = 0; i < n; ++i) {
    const float* v = V + i * dim;
    float acc = 0.0f;
    for (std::size_t d = 0; d < dim; ++d) acc += u[d] * v[d];
    out[i] = acc + bias_add;
  }
}

const char* flavour() { return "generic"; }

}  // namespace edgerec::kernels
