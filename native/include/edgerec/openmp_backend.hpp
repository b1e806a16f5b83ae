// edgerec/openmp_backend.hpp — the native multi-threaded CPU backend.
//
// It overrides parallel_for(), so every heavy operation runs the CPU reference arithmetic, and
// the tensor gemm (Eigen GEMM, which may differ from the reference by rounding);
// results equal the reference for the same thread count (ALS, scoring: for any thread count).
// threads = 0 means OpenMP's default: OMP_NUM_THREADS when set, else all hardware threads
// (omp_get_max_threads()).
#pragma once

#include <memory>

#include "edgerec/backend.hpp"

namespace edgerec {

// The most threads a backend runs (more than any CPU this targets has; libgomp itself crashes
// when asked for 65536). The count is also saved in model files, whose reader allows 65536.
constexpr int kMaxThreads = 1024;

// Throws Error when `threads` is negative or above kMaxThreads, or when it is 0 and
// OMP_NUM_THREADS asks for more than kMaxThreads.
std::unique_ptr<Backend> make_openmp_backend(int threads = 0);
// The backend named `name`: "cpu" (the serial reference), "openmp", "cuda" (Error naming why when
// this build or machine has none: edgerec/cuda_backend.hpp), or "auto": CUDA where this build has
// it and a device is present, else OpenMP. Throws Error for any other name.
std::unique_ptr<Backend> make_backend(const std::string& name, int threads = 0);

}  // namespace edgerec
