// PLACEHOLDER — being written; replaced by the real model.
#include "models/factories.hpp"
namespace edgerec {
std::unique_ptr<Model> make_baseline() { throw Error("model baseline is not built yet"); }
}  // namespace edgerec
