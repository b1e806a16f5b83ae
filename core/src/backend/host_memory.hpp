// Internal: zero-filling and copying host memory for the CPU backend's buffers and tensor
// operations. Natively these are memset / memcpy. In wasm they are f32x4 loops: the module links
// emcc's size-optimised libc (-Oz, see CMakeLists.txt), whose memset and memcpy go byte by byte,
// and a forward pass zero-fills every intermediate tensor it allocates (Backend::alloc) and
// copies rows (gather, permute): with libc's loops that was a fifth of a SASRec forward pass
// (edgerec_wasm_bench under node --cpu-prof). The files using these are compiled with
// -fno-builtin-memset/-memcpy in wasm (CMakeLists.txt), so clang does not turn the loops back
// into libc calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#ifdef __EMSCRIPTEN__
#include <wasm_simd128.h>
#endif

namespace edgerec::detail {

inline void host_zero(void* dst, std::size_t bytes) {
#ifdef __EMSCRIPTEN__
  auto* d = static_cast<unsigned char*>(dst);
  std::size_t i = 0;
  const v128_t z = wasm_i32x4_splat(0);
  for (; i + 16 <= bytes; i += 16) wasm_v128_store(d + i, z);
  for (; i < bytes; ++i) d[i] = 0;
#else
  if (bytes) std::memset(dst, 0, bytes);
#endif
}

// Non-overlapping ranges only.
inline void host_copy(void* dst, const void* src, std::size_t bytes) {
#ifdef __EMSCRIPTEN__
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  std::size_t i = 0;
  for (; i + 16 <= bytes; i += 16) wasm_v128_store(d + i, wasm_v128_load(s + i));
  for (; i < bytes; ++i) d[i] = s[i];
#else
  if (bytes) std::memcpy(dst, src, bytes);
#endif
}

}  // namespace edgerec::detail
