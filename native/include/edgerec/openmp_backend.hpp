// edgerec/openmp_backend.hpp — the native multi-threaded CPU backend.
//
// It overrides only parallel_for(), so every heavy operation runs the CPU reference arithmetic;
// results equal the reference for the same thread count (ALS, scoring: for any thread count).
// threads = 0 means all hardware threads (omp_get_max_threads()).
#pragma once

#include <memory>

#include "edgerec/backend.hpp"

namespace edgerec {

std::unique_ptr<Backend> make_openmp_backend(int threads = 0);
// The best backend available for `name` ("cpu", "openmp", "auto"); throws Error otherwise.
std::unique_ptr<Backend> make_backend(const std::string& name, int threads = 0);

}  // namespace edgerec
