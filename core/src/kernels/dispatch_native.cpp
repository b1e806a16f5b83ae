// The public kernels (kernels.hpp) of native builds: each forwards to the flavour chosen once per
// process (flavours.hpp). The indirect call costs nothing measurable next to a kernel's work.
#include <cstdlib>
#include <cstring>

#include "edgerec/kernels.hpp"
#include "flavours.hpp"

namespace edgerec::kernels {

namespace generic {
const KernelTable& table() {
  static const KernelTable t{"generic",          &score_all,           &score_rows,
                             &score_all_int8,    &score_rows_int8,     &quantize_rows_int8,
                             &quantize_query_int16, &dequantize_rows_int8, &next_above};
  return t;
}
}  // namespace generic

namespace {
bool cpu_has_avx2_fma() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

const KernelTable& select_flavour() {
  // EDGEREC_KERNELS=generic: the portable flavour everywhere (e.g. to compare with another CPU).
  const char* env = std::getenv("EDGEREC_KERNELS");
  if (env && std::strcmp(env, "generic") == 0) return generic::table();
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2_fma()) return avx2::table();
#endif
  return generic::table();
}
}  // namespace

std::vector<const KernelTable*> available_flavours() {
  std::vector<const KernelTable*> out{&generic::table()};
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_has_avx2_fma()) out.push_back(&avx2::table());
#endif
  return out;
}

const KernelTable& active_flavour() {
  static const KernelTable& t = select_flavour();
  return t;
}

void score_all(const float* u, const float* V, std::size_t n, std::size_t dim, float bias_add,
               float* out) {
  active_flavour().score_all(u, V, n, dim, bias_add, out);
}

void score_rows(const float* u, const float* V, std::size_t dim, const std::uint32_t* rows,
                std::size_t count, float bias_add, float* out) {
  active_flavour().score_rows(u, V, dim, rows, count, bias_add, out);
}

void score_all_int8(const std::int16_t* uq, float u_scale, const std::int8_t* Q,
                    const float* row_scale, std::size_t n, std::size_t dim, float bias_add,
                    float* out) {
  active_flavour().score_all_int8(uq, u_scale, Q, row_scale, n, dim, bias_add, out);
}

void score_rows_int8(const std::int16_t* uq, float u_scale, const std::int8_t* Q,
                     const float* row_scale, std::size_t stride, const std::uint32_t* rows,
                     std::size_t count, float bias_add, float* out) {
  active_flavour().score_rows_int8(uq, u_scale, Q, row_scale, stride, rows, count, bias_add, out);
}

void quantize_rows_int8(const float* V, std::size_t n, std::size_t dim, std::size_t stride,
                        std::int8_t* Q, float* row_scale) {
  active_flavour().quantize_rows_int8(V, n, dim, stride, Q, row_scale);
}

std::size_t dequantize_rows_int8(const std::int8_t* Q, const float* row_scale, std::size_t n,
                                 std::size_t dim, float* out) {
  return active_flavour().dequantize_rows_int8(Q, row_scale, n, dim, out);
}

float quantize_query_int16(const float* u, std::size_t dim, std::size_t stride, std::int16_t* uq) {
  return active_flavour().quantize_query_int16(u, dim, stride, uq);
}

std::size_t next_above(const float* scores, std::size_t begin, std::size_t n, float threshold) {
  return active_flavour().next_above(scores, begin, n, threshold);
}

const char* flavour() { return active_flavour().name; }

}  // namespace edgerec::kernels
