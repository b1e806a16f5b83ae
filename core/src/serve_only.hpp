// Internal: what a serving-only build (the wasm package) leaves out.
//
// The wasm package serves models trained natively; it never trains (its API has no training call).
// CMake defines EDGEREC_SERVE_ONLY=1 for Emscripten builds: every trainer entry point starts with
// EDGEREC_TRAINING_ONLY("..."), which there throws at once, so the compiler drops the rest of the
// trainer and the linker everything only trainers reach (the fused iALS/BPR/SGD kernels, the
// training loop, the evaluation code the early stopping uses). The same way go the backward passes
// (a Tape records no gradient closures, and the tensor operations only training uses throw; NeuMF's
// fold-in of a new user writes its small gradient out by hand), model saving, and f64 tensors,
// which only gradient checks use. Natively the macro is a no-op.
#pragma once

#include <string>

#include "edgerec/error.hpp"

namespace edgerec {

#if defined(EDGEREC_SERVE_ONLY) && EDGEREC_SERVE_ONLY
inline constexpr bool kServeOnly = true;
#else
inline constexpr bool kServeOnly = false;
#endif

[[noreturn]] inline void not_in_serving_build(const char* what) {
  throw Error(std::string(what) +
              " is not built into this serving-only target (wasm): train natively with the edgerec CLI");
}

}  // namespace edgerec

#define EDGEREC_TRAINING_ONLY(what)                                  \
  do {                                                               \
    if (::edgerec::kServeOnly) ::edgerec::not_in_serving_build(what); \
  } while (0)
