// PLACEHOLDER — being written; replaced by the real model.
#include "models/factories.hpp"
namespace edgerec {
std::unique_ptr<Model> make_mean_baseline() { throw Error("model mean_baseline is not built yet"); }
}  // namespace edgerec
