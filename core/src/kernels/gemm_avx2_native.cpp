// kernels::gemm() for AVX2 + FMA (gemm.cpp chooses it at run time). This file is compiled with
// the ISA flags (CMakeLists.txt), so Eigen selects those packets; Eigen's namespace is renamed
// for this file only, so none of its templates is emitted under a name that baseline code
// also uses (the linker would keep either copy, and a baseline CPU could then run this one).
// The test kernels_isa_symbols checks the object file exports nothing else a baseline file
// could share.
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__EMSCRIPTEN__)

#define Eigen edgerec_eigen_avx2
#include <Eigen/Core>
#undef Eigen

#include "kernels/gemm_body.hpp"

namespace edgerec::kernels::gemm_avx2 {
EDGEREC_GEMM_SIGNATURE { EDGEREC_GEMM_BODY(edgerec_eigen_avx2) }
}  // namespace edgerec::kernels::gemm_avx2

#endif
