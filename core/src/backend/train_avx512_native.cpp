// The training kernels (als.cpp, bpr.cpp) compiled for AVX-512F, chosen at run time where the CPU has
// it (train_flavours.hpp). A pragma rather than a compiler flag on the file: the standard-library
// and Eigen templates included before it stay baseline code, so the linker can never pick a AVX-512F
// copy of them for the rest of the build.
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__EMSCRIPTEN__)

#include <algorithm>
#include <cstring>
#include <vector>

#include "backend/train_flavours.hpp"
#include "edgerec/backend.hpp"
#include "edgerec/split.hpp"
#include "models/bpr_sample.hpp"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f")
#endif

#define EDGEREC_TRAIN_NAMESPACE edgerec::train_avx512
#define EDGEREC_TRAIN_FLAVOUR_ONLY
#include "als.cpp"
#include "bpr.cpp"

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace edgerec::train_avx512 {
const TrainFlavour& flavour() {
  static const TrainFlavour f{"avx512", &als_solve_rows, &bpr_epoch};
  return f;
}
}  // namespace edgerec::train_avx512

#endif  // x86
