// PLACEHOLDER — being written.
#include "edgerec/backend.hpp"
namespace edgerec {
double Backend::bpr_epoch(const Csr&, Matrix&, Matrix&, Vector&, const BprStep&) {
  throw Error("bpr_epoch is not built yet");
}
}  // namespace edgerec
