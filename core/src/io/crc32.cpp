// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), bit-compatible with zlib's crc32().
//
// Every model load checksums the whole file before parsing it, so this is the hottest loop of a
// load. Slice-by-16: sixteen 256-entry tables let one step consume 16 bytes with independent
// lookups. Large inputs are cut in two halves whose CRCs are computed in one interleaved loop
// (two independent dependency chains: about 35% faster natively, 15% in wasm) and then combined
// (zlib's crc32_combine). Words are read little-endian whatever the host, with no alignment
// requirement.
//
// The wasm build compiles this file with -Os, which inlines little (emcc's -Os inlines only
// functions declared `inline`, and those only when small): the tables are plain C arrays (with
// std::array, operator[] stayed a called function, one call per lookup, ~7x slower) and the
// helpers of the loop are forced inline. The tables are built on first use rather than at
// compile time, so their 16 KiB are not part of the wasm download.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "edgerec/model_file.hpp"

#if defined(__GNUC__) || defined(__clang__)
#define EDGEREC_CRC_INLINE inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define EDGEREC_CRC_INLINE __forceinline
#else
#define EDGEREC_CRC_INLINE inline
#endif
#if defined(__GNUC__) || defined(__clang__)
#define EDGEREC_CRC_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define EDGEREC_CRC_NOINLINE __declspec(noinline)
#else
#define EDGEREC_CRC_NOINLINE
#endif

namespace edgerec {
namespace {

constexpr std::uint32_t kPoly = 0xEDB88320u;
constexpr int kSlices = 16;

struct Tables {
  std::uint32_t t[kSlices][256];
  Tables() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ kPoly : c >> 1;
      t[0][i] = c;
    }
    for (std::uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < kSlices; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFFu];
  }
};
using Table = std::uint32_t[kSlices][256];

// A function-local static: built once, thread-safely, on the first checksum (a few microseconds).
const Table& tables() {
  static const Tables t;
  return t.t;
}

// One unaligned 32-bit load on little-endian hosts: assembling the word from bytes is what the
// format means, but clang -O3 for wasm does not fuse the four byte loads once they are inlined.
EDGEREC_CRC_INLINE std::uint32_t load_le32(const unsigned char* p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
#else
  return std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
         std::uint32_t(p[3]) << 24;
#endif
}

// The CRC register c (inverted form) after the 16 bytes at p.
EDGEREC_CRC_INLINE std::uint32_t step16(const Table& T, std::uint32_t c, const unsigned char* p) {
  const std::uint32_t a = load_le32(p) ^ c;
  const std::uint32_t b = load_le32(p + 4);
  const std::uint32_t d = load_le32(p + 8);
  const std::uint32_t e = load_le32(p + 12);
  return T[15][a & 0xFFu] ^ T[14][(a >> 8) & 0xFFu] ^ T[13][(a >> 16) & 0xFFu] ^ T[12][a >> 24] ^
         T[11][b & 0xFFu] ^ T[10][(b >> 8) & 0xFFu] ^ T[9][(b >> 16) & 0xFFu] ^ T[8][b >> 24] ^
         T[7][d & 0xFFu] ^ T[6][(d >> 8) & 0xFFu] ^ T[5][(d >> 16) & 0xFFu] ^ T[4][d >> 24] ^
         T[3][e & 0xFFu] ^ T[2][(e >> 8) & 0xFFu] ^ T[1][(e >> 16) & 0xFFu] ^ T[0][e >> 24];
}

// The register c after `size` bytes, 16 at a time, then byte by byte.
std::uint32_t run(const Table& T, std::uint32_t c, const unsigned char* p, std::size_t size) {
  for (; size >= 16; size -= 16, p += 16) c = step16(T, c, p);
  for (; size > 0; --size) c = (c >> 8) ^ T[0][(c ^ *p++) & 0xFFu];
  return c;
}

// a * b modulo the CRC polynomial; polynomials in the CRC's reflected order (bit 31 is x^0).
std::uint32_t multmodp(std::uint32_t a, std::uint32_t b) {
  std::uint32_t p = 0;
  for (std::uint32_t m = 1u << 31; m != 0; m >>= 1) {
    if (a & m) p ^= b;
    b = (b & 1u) ? (b >> 1) ^ kPoly : b >> 1;
  }
  return p;
}

// x^(8n) modulo the CRC polynomial: appending n bytes multiplies a CRC's polynomial by it.
std::uint32_t x8nmodp(std::size_t n) {
  std::uint32_t p = 1u << 31;   // x^0
  std::uint32_t sq = 1u << 23;  // x^8, then x^16, x^32, ...
  for (; n != 0; n >>= 1) {
    if (n & 1u) p = multmodp(sq, p);
    sq = multmodp(sq, sq);
  }
  return p;
}

// The CRC of A followed by B, from crc1 = CRC(A), crc2 = CRC(B) and B's length (zlib's
// crc32_combine).
std::uint32_t combine(std::uint32_t crc1, std::uint32_t crc2, std::size_t len2) {
  return multmodp(x8nmodp(len2), crc1) ^ crc2;
}

// Below this, the split is not worth its combine step (about a microsecond).
constexpr std::size_t kSplitBytes = std::size_t{1} << 16;

// The CRC of `size` bytes, continuing `crc`.
EDGEREC_CRC_NOINLINE std::uint32_t crc32_part(const unsigned char* p, std::size_t size,
                                              std::uint32_t crc) {
  const Table& T = tables();
  if (size < kSplitBytes) return ~run(T, ~crc, p, size);

  // The first half is `part` bytes (a multiple of 16), the second half the rest.
  const std::size_t part = size / 2 & ~std::size_t{15};
  const unsigned char* p1 = p + part;
  std::uint32_t c0 = ~crc, c1 = ~0u;
  for (std::size_t i = 0; i < part; i += 16) {
    c0 = step16(T, c0, p + i);
    c1 = step16(T, c1, p1 + i);
  }
  c1 = run(T, c1, p1 + part, size - 2 * part);
  return combine(~c0, ~c1, size - part);
}

// V8 (Node, Chromium) runs a wasm function's first call in its baseline compiler's code to the
// end, even once the optimised code is ready: one call per MiB lets the first checksum (a page
// usually loads one model) switch to the optimised loop after its first few MiB.
constexpr std::size_t kCallBytes = std::size_t{1} << 20;

}  // namespace

std::uint32_t crc32(const void* data, std::size_t size, std::uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (; size > kCallBytes; p += kCallBytes, size -= kCallBytes) crc = crc32_part(p, kCallBytes, crc);
  return crc32_part(p, size, crc);
}

}  // namespace edgerec
