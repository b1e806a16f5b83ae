// edgerec/kernels.hpp — hot loops with a portable version and per-ISA versions beside it
// (kernels/*_generic.cpp, kernels/*_wasm_simd128.cpp). The build picks one per target.
// All take raw pointers with explicit sizes; none allocates; all are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace edgerec::kernels {

// out[i] = dot(u, V + i*dim) + bias_add for i in [0, n). V is row-major n x dim.
void score_all(const float* u, const float* V, std::size_t n, std::size_t dim, float bias_add,
               float* out);

// Name of the compiled kernel flavour ("generic", "wasm-simd128").
const char* flavour();

}  // namespace edgerec::kernels
