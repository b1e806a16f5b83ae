// PLACEHOLDER — being written; replaced by the real model.
#include "models/factories.hpp"
namespace edgerec {
std::unique_ptr<Model> make_svd() { throw Error("model svd is not built yet"); }
}  // namespace edgerec
