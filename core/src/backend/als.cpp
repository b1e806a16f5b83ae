// PLACEHOLDER — being written.
#include "edgerec/backend.hpp"
namespace edgerec {
void Backend::als_half_step(const Csr&, const Matrix&, const Matrix&, Matrix&, const AlsStep&) {
  throw Error("als_half_step is not built yet");
}
}  // namespace edgerec
