// PLACEHOLDER — being written; replaced by the real model.
#include "models/factories.hpp"
namespace edgerec {
std::unique_ptr<Model> make_ials() { throw Error("model ials is not built yet"); }
}  // namespace edgerec
