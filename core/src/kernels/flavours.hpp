// Kernel flavours and runtime dispatch (native builds). The portable kernels (*_generic.cpp,
// quantize.cpp) are compiled for the baseline ISA into namespace kernels::generic, and once more
// for AVX2 + FMA (avx2_native.cpp) on x86-64; the public kernels:: functions (kernels.hpp) call
// the flavour chosen once per process (dispatch_native.cpp): the best one the CPU runs, or the
// portable one when EDGEREC_KERNELS=generic. Every caller in a process uses the same flavour, so
// score_rows() and score_all() stay bit-identical. The wasm build has one flavour
// (score_wasm_simd128.cpp) and no dispatch: there these files define kernels:: directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

// The namespace the shared kernel sources define their functions in.
#ifndef EDGEREC_KERNEL_NAMESPACE
#ifdef __EMSCRIPTEN__
#define EDGEREC_KERNEL_NAMESPACE edgerec::kernels
#else
#define EDGEREC_KERNEL_NAMESPACE edgerec::kernels::generic
#endif
#endif

namespace edgerec::kernels {

// One flavour's kernels, with the signatures of kernels.hpp.
struct KernelTable {
  const char* name;
  void (*score_all)(const float*, const float*, std::size_t, std::size_t, float, float*);
  void (*score_rows)(const float*, const float*, std::size_t, const std::uint32_t*, std::size_t,
                     float, float*);
  void (*score_all_int8)(const std::int16_t*, float, const std::int8_t*, const float*, std::size_t,
                         std::size_t, float, float*);
  void (*score_rows_int8)(const std::int16_t*, float, const std::int8_t*, const float*,
                          std::size_t, const std::uint32_t*, std::size_t, float, float*);
  void (*quantize_rows_int8)(const float*, std::size_t, std::size_t, std::size_t, std::int8_t*,
                             float*);
  float (*quantize_query_int16)(const float*, std::size_t, std::size_t, std::int16_t*);
  std::size_t (*dequantize_rows_int8)(const std::int8_t*, const float*, std::size_t, std::size_t,
                                      float*);
  std::size_t (*next_above)(const float*, std::size_t, std::size_t, float);
};

// Every flavour this build has that this CPU runs, portable first (tests compare them).
std::vector<const KernelTable*> available_flavours();

// The flavour the public kernels use in this process (chosen on the first call).
const KernelTable& active_flavour();

namespace generic {
void score_all(const float* u, const float* V, std::size_t n, std::size_t dim, float bias_add,
               float* out);
void score_rows(const float* u, const float* V, std::size_t dim, const std::uint32_t* rows,
                std::size_t count, float bias_add, float* out);
void score_all_int8(const std::int16_t* uq, float u_scale, const std::int8_t* Q,
                    const float* row_scale, std::size_t n, std::size_t dim, float bias_add,
                    float* out);
void score_rows_int8(const std::int16_t* uq, float u_scale, const std::int8_t* Q,
                     const float* row_scale, std::size_t stride, const std::uint32_t* rows,
                     std::size_t count, float bias_add, float* out);
void quantize_rows_int8(const float* V, std::size_t n, std::size_t dim, std::size_t stride,
                        std::int8_t* Q, float* row_scale);
std::size_t dequantize_rows_int8(const std::int8_t* Q, const float* row_scale, std::size_t n,
                                 std::size_t dim, float* out);
float quantize_query_int16(const float* u, std::size_t dim, std::size_t stride, std::int16_t* uq);
std::size_t next_above(const float* scores, std::size_t begin, std::size_t n, float threshold);
const KernelTable& table();
}  // namespace generic
#if defined(__x86_64__) || defined(__i386__)
namespace avx2 {
const KernelTable& table();  // call only where the CPU has AVX2 and FMA
}
#endif

}  // namespace edgerec::kernels
