// PLACEHOLDER — being written; replaced by the real model.
#include "models/factories.hpp"
namespace edgerec {
std::unique_ptr<Model> make_popularity() { throw Error("model popularity is not built yet"); }
}  // namespace edgerec
