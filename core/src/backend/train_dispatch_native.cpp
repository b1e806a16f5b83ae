// Chooses the training-kernel flavour of native builds (train_flavours.hpp).
#include <cstdlib>
#include <cstring>

#include "backend/train_flavours.hpp"
#include "edgerec/kernels.hpp"

namespace edgerec {

std::vector<const TrainFlavour*> train_flavours() {
  std::vector<const TrainFlavour*> out{&train_generic::flavour()};
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) out.push_back(&train_avx2::flavour());
  if (__builtin_cpu_supports("avx512f")) out.push_back(&train_avx512::flavour());
#endif
  return out;
}

const TrainFlavour& train_active_flavour() {
  static const TrainFlavour& active = [] () -> const TrainFlavour& {
    const char* env = std::getenv("EDGEREC_KERNELS");
    if (env && std::strcmp(env, "generic") == 0) return train_generic::flavour();
    return *train_flavours().back();
  }();
  return active;
}

const char* kernels::train_flavour() { return train_active_flavour().name; }

}  // namespace edgerec
