// kernels::gemm(): Eigen's single-threaded matrix product over caller-owned row-major buffers.
//
// Why flavours: Eigen picks its SIMD packets when it is compiled, so the portable build's
// products run on SSE2. On x86-64, gemm_avx2_native.cpp and gemm_avx512_native.cpp compile
// the same body for AVX2 + FMA and for AVX-512F, each with Eigen's namespace renamed so its
// templates cannot merge with the baseline copies at link time; this file picks the best one
// the CPU runs, once per process (EDGEREC_KERNELS=generic forces this portable one). One thread,
// 4096 x 64 by 64 x 256 (`edgerec_bench_kernels --benchmark_filter=Gemm`, CPU time, the 2-core
// development machine under load): 37 GFLOP/s portable, 94 AVX2, 169 AVX-512. wasm has this
// file only, where Eigen 3.4 runs scalar (it has no wasm SIMD packets).
#include <Eigen/Core>

#include <cstdlib>
#include <cstring>

#include "edgerec/kernels.hpp"
#include "kernels/gemm_body.hpp"

namespace edgerec::kernels {

namespace gemm_generic {
EDGEREC_GEMM_SIGNATURE { EDGEREC_GEMM_BODY(Eigen) }
}  // namespace gemm_generic

#if (defined(__x86_64__) || defined(__i386__)) && !defined(__EMSCRIPTEN__)
namespace gemm_avx2 {
EDGEREC_GEMM_SIGNATURE;
}
namespace gemm_avx512 {
EDGEREC_GEMM_SIGNATURE;
}
#endif

std::vector<GemmFlavour> gemm_flavours() {
  std::vector<GemmFlavour> out{{"generic", &gemm_generic::gemm}};
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__EMSCRIPTEN__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    out.push_back({"avx2-fma", &gemm_avx2::gemm});
  if (__builtin_cpu_supports("avx512f")) out.push_back({"avx512", &gemm_avx512::gemm});
#endif
  return out;
}

namespace {
const GemmFlavour& active() {
  static const GemmFlavour f = [] {
    const char* env = std::getenv("EDGEREC_KERNELS");
    return env && std::strcmp(env, "generic") == 0 ? gemm_flavours().front()
                                                   : gemm_flavours().back();
  }();
  return f;
}
}  // namespace

EDGEREC_GEMM_SIGNATURE { active().fn(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc); }

const char* gemm_flavour() { return active().name; }

}  // namespace edgerec::kernels
