// Writer and Reader: the typed, bounds-checked layer between model code and the payload bytes
// (see the layout in edgerec/model_file.hpp), and the cereal archives over them (io/archive.hpp)
// through which format version 3 on writes and reads the payload.
//
// The payload is the byte layout of a cereal PortableBinary archive (a little-endian flag byte,
// then little-endian fixed-width fields), written and read here directly rather than through
// cereal: cereal's archives go through std::istream / std::ostream, which drag libc++'s locale
// and iostream code into the WebAssembly build (95 KB of wasm and 10 KB of JS glue, measured)
// for no byte of difference in the file.
// This layer does the trust: every count is read as a u64, checked against the caller's limit
// and the bytes that remain, and only then is memory allocated and filled with one bulk read.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>

#include "io/archive.hpp"

#include "edgerec/kernels.hpp"
#include "edgerec/model_file.hpp"

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#endif

namespace edgerec {
namespace {

// The payload's first byte (cereal's PortableBinary flag): 1 when the data is little-endian.
constexpr unsigned char kLittleEndianFlag = 1;

// Fields are little-endian on every host; a big-endian host swaps each element's bytes.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
constexpr bool kSwapBytes = true;
#else
constexpr bool kSwapBytes = false;
#endif
template <std::size_t Size>
void swap_elements(void* p, std::size_t count) {
  auto* b = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < count; ++i, b += Size) std::reverse(b, b + Size);
}

// The caller's buffer, read in place: nothing is copied until a field is taken out of it.
class MemorySource {
 public:
  MemorySource(const char* data, std::size_t size) : pos_(data), end_(data + size) {}
  std::size_t left() const { return static_cast<std::size_t>(end_ - pos_); }
  const char* pos() const { return pos_; }
  // Consumes n <= left() bytes.
  void skip(std::size_t n) { pos_ += n; }

 private:
  const char* pos_;
  const char* end_;
};

std::uint64_t load_le64(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | b[i];
  return v;
}

// A float is finite exactly when -max <= x <= max (every comparison with NaN is false).
constexpr float kMaxFloat = std::numeric_limits<float>::max();
inline bool finite(float x) { return (x >= -kMaxFloat) & (x <= kMaxFloat); }

// Whether the block of 256 floats at b holds a NaN or infinity: an OR over the comparisons
// above, with no early exit, so that it is SIMD (std::isfinite per element is not, and the -Os
// wasm build calls it out of line). Spelled out with wasm SIMD, as the wasm build of this file
// (-Os or -Oz) may not vectorise loops; a plain loop elsewhere, which compilers vectorise.
constexpr std::size_t kFiniteBlock = 256;
inline bool block_has_non_finite(const float* b) {
#if defined(__wasm_simd128__)
  const v128_t max = wasm_f32x4_splat(kMaxFloat);
  v128_t bad = wasm_i32x4_splat(0);
  for (std::size_t k = 0; k < kFiniteBlock; k += 4)  // |x| <= max is false for NaN too
    bad = wasm_v128_or(bad, wasm_v128_not(wasm_f32x4_le(wasm_f32x4_abs(wasm_v128_load(b + k)), max)));
  return wasm_v128_any_true(bad);
#else
  unsigned bad = 0;
  for (std::size_t k = 0; k < kFiniteBlock; ++k)
    bad |= !((b[k] >= -kMaxFloat) & (b[k] <= kMaxFloat));  // finite(), spelled out
  return bad != 0;
#endif
}

#if defined(__wasm_simd128__)
// Copies a block of floats from the bytes at src to dst and says whether it holds a NaN or
// infinity: reading a model's floats in one pass rather than a copy and a check. (The copy would
// go through libc's memcpy, a byte loop when the wasm module is linked with -Oz.)
inline bool copy_block_has_non_finite(float* dst, const unsigned char* src) {
  const v128_t max = wasm_f32x4_splat(kMaxFloat);
  v128_t bad = wasm_i32x4_splat(0);
  for (std::size_t k = 0; k < kFiniteBlock; k += 4) {
    const v128_t x = wasm_v128_load(src + k * sizeof(float));
    wasm_v128_store(dst + k, x);
    bad = wasm_v128_or(bad, wasm_v128_not(wasm_f32x4_le(wasm_f32x4_abs(x), max)));
  }
  return wasm_v128_any_true(bad);
}
#endif

// Index of the first NaN or infinity in p[0, n), or n when all are finite: whole blocks are
// tested at once, and only from the first failing block on, and in the last partial block, is
// the element searched for one by one.
std::size_t first_non_finite(const float* p, std::size_t n) {
  std::size_t i = 0;
  for (; n - i >= kFiniteBlock; i += kFiniteBlock)
    if (block_has_non_finite(p + i)) break;
  for (; i < n; ++i)
    if (!finite(p[i])) return i;
  return n;
}

bool all_finite(const float* p, std::size_t n) { return first_non_finite(p, n) == n; }

// A file that cannot be read back must never be written: refuse at save time instead.
[[noreturn]] void refuse_non_finite() {
  throw Error("cannot save a model with NaN or infinite parameters (training diverged; try a "
              "smaller --lr or a larger --reg)");
}
void require_finite(const float* p, std::size_t n) {
  if (!all_finite(p, n)) refuse_non_finite();
}

}  // namespace

// ---- Writer ---------------------------------------------------------------------------------

struct Writer::Impl {
  std::string bytes;

  Impl() { start(); }
  // Writes the endianness flag; the output is little-endian on every host.
  void start() { bytes.push_back(static_cast<char>(kLittleEndianFlag)); }
  template <class T>
  void pod(T v) {
    bulk(&v, 1);
  }
  template <class T>
  void bulk(const T* p, std::size_t count) {
    if (count == 0) return;
    const std::size_t at = bytes.size();
    bytes.append(reinterpret_cast<const char*>(p), count * sizeof(T));
    if constexpr (kSwapBytes && sizeof(T) > 1) swap_elements<sizeof(T)>(bytes.data() + at, count);
  }
};

Writer::Writer() : impl_(std::make_unique<Impl>()) {}
Writer::~Writer() = default;

void Writer::u8(std::uint8_t v) { impl_->pod(v); }
void Writer::u32(std::uint32_t v) { impl_->pod(v); }
void Writer::i32(std::int32_t v) { impl_->pod(v); }
void Writer::u64(std::uint64_t v) { impl_->pod(v); }
void Writer::i64(std::int64_t v) { impl_->pod(v); }
void Writer::f32(float v) {
  require_finite(&v, 1);
  impl_->pod(v);
}
void Writer::f64(double v) {
  if (!std::isfinite(v)) refuse_non_finite();
  impl_->pod(v);
}
void Writer::str(const std::string& v) {
  u64(v.size());
  impl_->bulk(v.data(), v.size());
}
void Writer::strings(const std::vector<std::string>& v) {
  u64(v.size());
  for (const auto& s : v) str(s);
}
void Writer::floats(const std::vector<float>& v) {
  require_finite(v.data(), v.size());
  u64(v.size());
  impl_->bulk(v.data(), v.size());
}
void Writer::indices(const std::vector<index_t>& v) {
  u64(v.size());
  impl_->bulk(v.data(), v.size());
}
void Writer::u64s(const std::vector<std::uint64_t>& v) {
  u64(v.size());
  impl_->bulk(v.data(), v.size());
}
void Writer::vector(const Vector& v) {
  const auto n = static_cast<std::size_t>(v.size());
  require_finite(v.data(), n);
  u64(n);
  impl_->bulk(v.data(), n);
}
void Writer::matrix(const Matrix& m) {
  const auto n = static_cast<std::size_t>(m.size());
  require_finite(m.data(), n);
  u64(static_cast<std::uint64_t>(m.rows()));
  u64(static_cast<std::uint64_t>(m.cols()));
  impl_->bulk(m.data(), n);  // Matrix is row-major, so this is the documented order
}
void Writer::int8_matrix(const Matrix& m) {
  const auto rows = static_cast<std::size_t>(m.rows()), cols = static_cast<std::size_t>(m.cols());
  require_finite(m.data(), rows * cols);
  std::vector<std::int8_t> codes(rows * cols);
  std::vector<float> scales(rows);
  kernels::quantize_rows_int8(m.data(), rows, cols, cols, codes.data(), scales.data());
  u64(rows);
  u64(cols);
  impl_->bulk(scales.data(), rows);
  impl_->bulk(codes.data(), codes.size());
}
void Writer::csr(const Csr& c) {
  u32(c.cols);
  u64s(c.indptr);
  indices(c.indices);
  floats(c.values);
}
std::string Writer::take() {
  std::string out = std::move(impl_->bytes);
  impl_->bytes.clear();
  impl_->start();
  return out;
}

// ---- Reader ---------------------------------------------------------------------------------

struct Reader::Impl {
  std::string name;
  MemorySource source;

  Impl(const char* data, std::size_t size, std::string n)
      : name(std::move(n)), source(data, size) {}

  [[noreturn]] void fail(const std::string& field, const std::string& what) const {
    throw Error(name + ": field '" + field + "': " + what);
  }
  void need(std::size_t bytes, const std::string& field) const {
    if (bytes > source.left())
      fail(field, "needs " + std::to_string(bytes) + " bytes, only " +
                      std::to_string(source.left()) + " left (truncated)");
  }
  template <class T>
  T pod(const std::string& field) {
    need(sizeof(T), field);
    T v{};
    bulk(&v, 1);
    return v;
  }
  // Callers have checked the bytes left (need() or count()); the check here only keeps a
  // missed one from reading past the buffer.
  template <class T>
  void bulk(T* p, std::size_t count) {
    if (count == 0) return;
    const std::size_t bytes = count * sizeof(T);
    need(bytes, "payload");
    std::memcpy(p, source.pos(), bytes);
    source.skip(bytes);
    if constexpr (kSwapBytes && sizeof(T) > 1) swap_elements<sizeof(T)>(p, count);
  }
  // A u64 element count, checked against the caller's limit and against the bytes left (each
  // element takes at least `min_elem_bytes`) before the caller allocates anything.
  std::size_t count(const std::string& field, std::size_t min_elem_bytes,
                    std::uint64_t max_count, const char* what = "elements") {
    const auto n = pod<std::uint64_t>(field);
    if (n > max_count)
      fail(field, std::to_string(n) + " " + what + " exceed the limit of " +
                      std::to_string(max_count));
    if (n > source.left() / min_elem_bytes)
      fail(field, std::to_string(n) + " " + what + " of " + std::to_string(min_elem_bytes) +
                      " bytes exceed the " + std::to_string(source.left()) + " bytes left");
    return static_cast<std::size_t>(n);
  }
  // Bulk reads go a cache-sized chunk at a time, so that checking a chunk reads what the copy
  // has just written from cache rather than from memory.
  static constexpr std::size_t kChunkBytes = 16384;

  // Reads n floats into p and checks that they are finite.
  void finite_floats(const std::string& field, float* p, std::size_t n) {
    std::size_t i = 0;
#if defined(__wasm_simd128__)
    // wasm is little-endian like the file: whole blocks are copied and checked straight from the
    // buffer, up to the first block that fails, which the loop below reads again to name the
    // element.
    const std::size_t whole = std::min(n, source.left() / sizeof(float));
    const auto* src = reinterpret_cast<const unsigned char*>(source.pos());
    while (whole - i >= kFiniteBlock && !copy_block_has_non_finite(p + i, src + i * sizeof(float)))
      i += kFiniteBlock;
    source.skip(i * sizeof(float));
#endif
    constexpr std::size_t kChunk = kChunkBytes / sizeof(float);
    for (; i < n; i += kChunk) {
      const std::size_t m = n - i < kChunk ? n - i : kChunk;
      bulk(p + i, m);
      check_finite(field, p + i, m, i);
    }
  }
  // `offset` is the index of p[0] in the field, for the message.
  void check_finite(const std::string& field, const float* p, std::size_t n,
                    std::size_t offset) const {
    const std::size_t bad = first_non_finite(p, n);
    if (bad != n) fail(field, "element " + std::to_string(offset + bad) + " is NaN or infinite");
  }
  // n elements read from the archive (floats checked finite when `finite_field` is given).
  // std::vector<T>(n) or resize(n) would zero the elements first, one by one and with several
  // out-of-line calls each in the -Os wasm build, which costs more than the copy for the
  // millions of entries of a CSR; instead they are read into an uninitialised buffer and the
  // vector is built from it with the range constructor, which is a memcpy.
  template <class T>
  std::vector<T> read_vector(std::size_t n, const std::string* finite_field = nullptr) {
    if (n == 0) return {};
    const std::unique_ptr<T[]> buf(new T[n]);
    if constexpr (std::is_same_v<T, float>)
      if (finite_field) {
        finite_floats(*finite_field, buf.get(), n);
        return std::vector<T>(buf.get(), buf.get() + n);
      }
    bulk(buf.get(), n);
    return std::vector<T>(buf.get(), buf.get() + n);
  }
  std::string str(const std::string& field, std::size_t max_bytes) {
    const std::size_t n = count(field, 1, max_bytes, "bytes");
    std::string s(n, '\0');
    bulk(s.data(), n);
    return s;
  }
  // The common case of str() without building a field name: reads the string when its length
  // and bytes are all there, else returns false having consumed nothing (the caller then calls
  // str() with the field's name, which fails with the usual message).
  bool try_str(std::string& out, std::size_t max_bytes) {
    const std::size_t left = source.left();
    if (left < sizeof(std::uint64_t)) return false;
    const std::uint64_t n = load_le64(source.pos());
    if (n > max_bytes || n > left - sizeof(std::uint64_t)) return false;
    out.assign(source.pos() + sizeof(std::uint64_t), static_cast<std::size_t>(n));
    source.skip(sizeof(std::uint64_t) + static_cast<std::size_t>(n));
    return true;
  }
};

Reader::Reader(const char* data, std::size_t size, std::string name)
    : impl_(std::make_unique<Impl>(data, size, std::move(name))) {
  // The format allows only little-endian payloads (cereal would byte-swap a big-endian one).
  if (size == 0) impl_->fail("endianness", "payload is empty");
  if (static_cast<unsigned char>(data[0]) != kLittleEndianFlag)
    impl_->fail("endianness", "archive flag is " + std::to_string(static_cast<unsigned char>(data[0])) +
                                  ", expected 1 (little-endian)");
  impl_->source.skip(1);
}
Reader::~Reader() = default;

std::uint8_t Reader::u8(const char* field) { return impl_->pod<std::uint8_t>(field); }
std::uint32_t Reader::u32(const char* field) { return impl_->pod<std::uint32_t>(field); }
std::int32_t Reader::i32(const char* field) { return impl_->pod<std::int32_t>(field); }
std::uint64_t Reader::u64(const char* field) { return impl_->pod<std::uint64_t>(field); }
std::int64_t Reader::i64(const char* field) { return impl_->pod<std::int64_t>(field); }

float Reader::f32(const char* field) {
  const auto v = impl_->pod<float>(field);
  if (!std::isfinite(v)) fail(field, "is NaN or infinite");
  return v;
}

double Reader::f64(const char* field) {
  const auto v = impl_->pod<double>(field);
  if (!std::isfinite(v)) fail(field, "is NaN or infinite");
  return v;
}

std::string Reader::str(const char* field, std::size_t max_bytes) {
  return impl_->str(field, max_bytes);
}

std::vector<std::string> Reader::strings(const char* field, std::size_t max_count) {
  // Each string costs at least its 8-byte length, which bounds the count by the bytes left.
  const std::size_t n = impl_->count(field, sizeof(std::uint64_t), max_count, "strings");
  constexpr std::size_t kMaxBytes = std::size_t{1} << 16;
  std::vector<std::string> v(n);
  for (std::size_t i = 0; i < n; ++i)
    if (!impl_->try_str(v[i], kMaxBytes))
      v[i] = impl_->str(std::string(field) + "[" + std::to_string(i) + "]", kMaxBytes);
  return v;
}

std::vector<float> Reader::floats(const char* field, std::size_t max_count) {
  const std::size_t n = impl_->count(field, sizeof(float), max_count, "floats");
  const std::string f(field);
  return impl_->read_vector<float>(n, &f);
}

std::vector<index_t> Reader::indices(const char* field, std::size_t max_count, index_t bound) {
  const std::size_t n = impl_->count(field, sizeof(index_t), max_count, "indices");
  std::vector<index_t> v = impl_->read_vector<index_t>(n);
  const index_t* p = v.data();  // no operator[] calls in -Os loops
  for (std::size_t i = 0; i < n; ++i)
    if (p[i] >= bound)
      fail(field, "index " + std::to_string(p[i]) + " at position " + std::to_string(i) +
                      " is out of range (must be < " + std::to_string(bound) + ")");
  return v;
}

std::vector<std::uint64_t> Reader::u64s(const char* field, std::size_t max_count) {
  const std::size_t n = impl_->count(field, sizeof(std::uint64_t), max_count, "u64 values");
  return impl_->read_vector<std::uint64_t>(n);
}

Vector Reader::vector(const char* field, std::size_t expected_size) {
  const auto n = impl_->pod<std::uint64_t>(field);
  if (n != expected_size)
    fail(field, "has " + std::to_string(n) + " elements, expected " + std::to_string(expected_size));
  if (n > remaining() / sizeof(float))
    fail(field, std::to_string(n) + " floats exceed the " + std::to_string(remaining()) + " bytes left");
  Vector v(static_cast<Eigen::Index>(n));
  impl_->finite_floats(field, v.data(), static_cast<std::size_t>(n));
  return v;
}

// A matrix's u64 rows and cols, checked against the expected shape (a negative expectation
// accepts any), the dimension limit and the bytes left, at `elem_bytes` per element plus
// `row_bytes` per row (`what` names them in the message).
std::pair<std::size_t, std::size_t> Reader::matrix_shape(const char* field, std::int64_t rows,
                                                        std::int64_t cols, std::size_t elem_bytes,
                                                        std::size_t row_bytes, const char* what) {
  const auto r = impl_->pod<std::uint64_t>(field);
  const auto c = impl_->pod<std::uint64_t>(field);
  if (rows >= 0 && r != static_cast<std::uint64_t>(rows))
    fail(field, "has " + std::to_string(r) + " rows, expected " + std::to_string(rows));
  if (cols >= 0 && c != static_cast<std::uint64_t>(cols))
    fail(field, "has " + std::to_string(c) + " columns, expected " + std::to_string(cols));
  // Eigen::Index is 32 bits on wasm32; a matrix dimension must fit it everywhere.
  constexpr std::uint64_t kMaxDim = std::numeric_limits<std::int32_t>::max();
  const std::string shape = std::to_string(r) + " x " + std::to_string(c);
  if (r > kMaxDim || c > kMaxDim) fail(field, shape + " exceeds the dimension limit");
  // c < 2^31 and elem_bytes <= 4, so the row's byte count cannot overflow.
  if (r > 0 && c * elem_bytes + row_bytes > remaining() / r)
    fail(field, shape + " " + what + " exceed the " + std::to_string(remaining()) + " bytes left");
  return {static_cast<std::size_t>(r), static_cast<std::size_t>(c)};
}

Matrix Reader::matrix(const char* field, std::int64_t rows, std::int64_t cols) {
  const auto [r, c] = matrix_shape(field, rows, cols, sizeof(float), 0, "floats");
  Matrix m(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c));
  impl_->finite_floats(field, m.data(), r * c);
  return m;
}

Matrix Reader::int8_matrix(const char* field, std::int64_t rows, std::int64_t cols) {
  // Each row takes its f32 scale and c one-byte codes.
  const auto [r, c] = matrix_shape(field, rows, cols, 1, sizeof(float), "int8 codes and scales");
  const std::size_t n = r * c;
  std::vector<float> scales(r);
  impl_->finite_floats(field, scales.data(), scales.size());
  // A scale with scale * 127 finite (about FLT_MAX / 127; the float nearest FLT_MAX / 127 is
  // already too large), so every dequantised element is finite.
  for (std::size_t i = 0; i < scales.size(); ++i)
    if (!(scales[i] >= 0.0f && scales[i] * 127.0f <= std::numeric_limits<float>::max()))
      fail(field, "row " + std::to_string(i) + " has a negative or too large scale (must be in [0, FLT_MAX / 127])");
  // The codes are read in place and dequantised by the (-O3, in wasm) kernel.
  const auto* codes = reinterpret_cast<const std::int8_t*>(impl_->source.pos());
  impl_->source.skip(n);
  Matrix m(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c));
  const std::size_t bad = kernels::dequantize_rows_int8(codes, scales.data(), r, c, m.data());
  if (bad != n) fail(field, "code " + std::to_string(bad) + " is -128 (codes are -127..127)");
  return m;
}

Csr Reader::csr(const char* field, index_t rows, index_t cols) {
  const std::string f(field);
  Csr c;
  c.cols = u32(field);
  if (c.cols != cols)
    fail(field, "has " + std::to_string(c.cols) + " columns, expected " + std::to_string(cols));

  const std::string fp = f + ".indptr";
  const std::size_t n_ptr = impl_->count(fp, sizeof(std::uint64_t), std::uint64_t{rows} + 1, "row offsets");
  if (n_ptr != std::uint64_t{rows} + 1)
    impl_->fail(fp, "has " + std::to_string(n_ptr) + " row offsets, expected " +
                        std::to_string(std::uint64_t{rows} + 1));
  c.indptr = impl_->read_vector<std::uint64_t>(n_ptr);
  const std::uint64_t* ptr = c.indptr.data();  // no operator[] calls in -Os loops
  if (ptr[0] != 0) impl_->fail(fp, "does not start at 0");
  for (std::size_t r = 0; r < rows; ++r)
    if (ptr[r + 1] < ptr[r]) impl_->fail(fp, "decreases at row " + std::to_string(r + 1));
  const std::uint64_t nnz = ptr[rows];

  const std::string fi = f + ".indices";
  const std::size_t n_idx = impl_->count(fi, sizeof(index_t), nnz, "indices");
  if (n_idx != nnz)
    impl_->fail(fi, "has " + std::to_string(n_idx) + " entries, the row offsets say " + std::to_string(nnz));
  c.indices = impl_->read_vector<index_t>(n_idx);
  // The offsets are now known to run from 0 up to nnz = n_idx, so they fit a size_t.
  const index_t* idx = c.indices.data();
  for (index_t r = 0; r < rows; ++r) {
    const auto begin = static_cast<std::size_t>(ptr[r]);
    const auto end = static_cast<std::size_t>(ptr[r + 1]);
    for (std::size_t j = begin; j < end; ++j) {
      if (idx[j] >= cols)
        impl_->fail(fi, "column " + std::to_string(idx[j]) + " in row " + std::to_string(r) +
                            " is out of range (must be < " + std::to_string(cols) + ")");
      // contains() binary-searches, so rows must be sorted.
      if (j > begin && idx[j] < idx[j - 1])
        impl_->fail(fi, "row " + std::to_string(r) + " is not sorted");
    }
  }

  const std::string fv = f + ".values";
  const std::size_t n_val = impl_->count(fv, sizeof(float), nnz, "values");
  if (n_val != nnz)
    impl_->fail(fv, "has " + std::to_string(n_val) + " entries, the row offsets say " + std::to_string(nnz));
  c.values = impl_->read_vector<float>(n_val, &fv);
  return c;
}

std::size_t Reader::remaining() const { return impl_->source.left(); }

void Reader::fail(const char* field, const std::string& what) const { impl_->fail(field, what); }

// ---- SaveArchive / LoadArchive (format v3 on) --------------------------------------------------

namespace {
// Nested field names, "a.b.c": push() appends a name, pop() restores the previous path.
void push_name(std::string& path, std::vector<std::size_t>& marks, const char* name) {
  marks.push_back(path.size());
  if (!path.empty()) path += '.';
  path += name;
}
void pop_name(std::string& path, std::vector<std::size_t>& marks) {
  path.resize(marks.back());
  marks.pop_back();
}
std::string join(const std::string& path, const char* name) {
  return path.empty() ? std::string(name) : path + "." + name;
}
}  // namespace

SaveArchive::SaveArchive(const SaveOptions& options) : OutputArchive(this) {
  writer_.set_options(options);
}
void SaveArchive::push(const char* name) { push_name(path_, marks_, name); }
void SaveArchive::pop() { pop_name(path_, marks_); }
void SaveArchive::refuse(const std::string& what) const {
  throw Error("cannot save the model: " + path_ + " " + what + " (the reader would refuse the file)");
}
void SaveArchive::refuse(const char* name, const std::string& what) const {
  throw Error("cannot save the model: " + join(path_, name) + " " + what +
              " (the reader would refuse the file)");
}

LoadArchive::LoadArchive(const char* data, std::size_t size, std::string name)
    : InputArchive(this), reader_(data, size, std::move(name)) {}
void LoadArchive::push(const char* name) { push_name(path_, marks_, name); }
void LoadArchive::pop() { pop_name(path_, marks_); }
void LoadArchive::fail(const char* name, const std::string& what) const {
  reader_.fail(join(path_, name).c_str(), what);
}

void save_scalar(SaveArchive& ar, std::uint8_t v) { ar.writer().u8(v); }
void save_scalar(SaveArchive& ar, std::int32_t v) { ar.writer().i32(v); }
void save_scalar(SaveArchive& ar, std::uint32_t v) { ar.writer().u32(v); }
void save_scalar(SaveArchive& ar, std::int64_t v) { ar.writer().i64(v); }
void save_scalar(SaveArchive& ar, std::uint64_t v) { ar.writer().u64(v); }
void save_scalar(SaveArchive& ar, float v) { ar.writer().f32(v); }
void save_scalar(SaveArchive& ar, double v) { ar.writer().f64(v); }
void load_scalar(LoadArchive& ar, std::uint8_t& v) { v = ar.reader().u8(ar.field_c()); }
void load_scalar(LoadArchive& ar, std::int32_t& v) { v = ar.reader().i32(ar.field_c()); }
void load_scalar(LoadArchive& ar, std::uint32_t& v) { v = ar.reader().u32(ar.field_c()); }
void load_scalar(LoadArchive& ar, std::int64_t& v) { v = ar.reader().i64(ar.field_c()); }
void load_scalar(LoadArchive& ar, std::uint64_t& v) { v = ar.reader().u64(ar.field_c()); }
void load_scalar(LoadArchive& ar, float& v) { v = ar.reader().f32(ar.field_c()); }
void load_scalar(LoadArchive& ar, double& v) { v = ar.reader().f64(ar.field_c()); }

namespace {
void check_saveable_string(SaveArchive& ar, const std::string& s) {
  if (s.size() > kMaxStringBytes)
    ar.refuse("holds a string of " + std::to_string(s.size()) + " bytes, over the " +
              std::to_string(kMaxStringBytes) + "-byte limit");
}
void check_saveable_count(SaveArchive& ar, std::size_t n, std::uint64_t max) {
  if (n > max)
    ar.refuse("has " + std::to_string(n) + " elements, over the limit of " + std::to_string(max));
}
}  // namespace

void save(SaveArchive& ar, const std::string& v) {
  check_saveable_string(ar, v);
  ar.writer().str(v);
}
void load(LoadArchive& ar, std::string& v) { v = ar.reader().str(ar.field_c(), kMaxStringBytes); }
void save(SaveArchive& ar, const std::vector<std::string>& v) {
  check_saveable_count(ar, v.size(), kMaxElements);
  for (const auto& s : v) check_saveable_string(ar, s);
  ar.writer().strings(v);
}
void load(LoadArchive& ar, std::vector<std::string>& v) {
  v = ar.reader().strings(ar.field_c(), kMaxElements);
}
void save(SaveArchive& ar, const std::vector<float>& v) {
  check_saveable_count(ar, v.size(), kMaxElements);
  ar.writer().floats(v);
}
void load(LoadArchive& ar, std::vector<float>& v) { v = ar.reader().floats(ar.field_c(), kMaxElements); }
void save(SaveArchive& ar, const std::vector<index_t>& v) {
  check_saveable_count(ar, v.size(), kMaxElements);
  ar.writer().indices(v);
}
void load(LoadArchive& ar, std::vector<index_t>& v) {
  v = ar.reader().indices(ar.field_c(), kMaxElements, std::numeric_limits<index_t>::max());
}
void save(SaveArchive& ar, const std::vector<std::uint64_t>& v) {
  check_saveable_count(ar, v.size(), kMaxElements);
  ar.writer().u64s(v);
}
void load(LoadArchive& ar, std::vector<std::uint64_t>& v) {
  v = ar.reader().u64s(ar.field_c(), kMaxElements);
}
void save(SaveArchive& ar, const Matrix& m) { ar.writer().matrix(m); }
void load(LoadArchive& ar, Matrix& m) { m = ar.reader().matrix(ar.field_c(), -1, -1); }

void save(SaveArchive& ar, const io::Limited& v) {
  switch (v.type) {
    case io::Limited::Type::floats: {
      const auto& x = *static_cast<const std::vector<float>*>(v.v);
      check_saveable_count(ar, x.size(), v.max);
      ar.writer().floats(x);
      break;
    }
    case io::Limited::Type::indices: {
      const auto& x = *static_cast<const std::vector<index_t>*>(v.v);
      check_saveable_count(ar, x.size(), v.max);
      for (std::size_t i = 0; i < x.size(); ++i)
        if (x[i] >= v.bound)
          ar.refuse("has index " + std::to_string(x[i]) + " at position " + std::to_string(i) +
                    ", out of range (must be < " + std::to_string(v.bound) + ")");
      ar.writer().indices(x);
      break;
    }
    case io::Limited::Type::u64s: {
      const auto& x = *static_cast<const std::vector<std::uint64_t>*>(v.v);
      check_saveable_count(ar, x.size(), v.max);
      ar.writer().u64s(x);
      break;
    }
    case io::Limited::Type::strings: {
      const auto& x = *static_cast<const std::vector<std::string>*>(v.v);
      check_saveable_count(ar, x.size(), v.max);
      for (const auto& s : x) check_saveable_string(ar, s);
      ar.writer().strings(x);
      break;
    }
  }
}
void load(LoadArchive& ar, io::Limited& v) {
  Reader& r = ar.reader();
  switch (v.type) {
    case io::Limited::Type::floats:
      *static_cast<std::vector<float>*>(v.v) = r.floats(ar.field_c(), v.max);
      break;
    case io::Limited::Type::indices:
      *static_cast<std::vector<index_t>*>(v.v) = r.indices(ar.field_c(), v.max, v.bound);
      break;
    case io::Limited::Type::u64s:
      *static_cast<std::vector<std::uint64_t>*>(v.v) = r.u64s(ar.field_c(), v.max);
      break;
    case io::Limited::Type::strings:
      *static_cast<std::vector<std::string>*>(v.v) = r.strings(ar.field_c(), v.max);
      break;
  }
}

namespace {
void check_saveable_shape(SaveArchive& ar, std::int64_t rows, std::int64_t cols, std::int64_t want_rows,
                          std::int64_t want_cols) {
  if ((want_rows >= 0 && rows != want_rows) || (want_cols >= 0 && cols != want_cols))
    ar.refuse("is " + std::to_string(rows) + " x " + std::to_string(cols) + ", expected " +
              (want_rows >= 0 ? std::to_string(want_rows) : std::string("any")) + " x " +
              (want_cols >= 0 ? std::to_string(want_cols) : std::string("any")));
}
}  // namespace

void save(SaveArchive& ar, const io::Shaped& v) {
  switch (v.type) {
    case io::Shaped::Type::matrix: {
      const auto& m = *static_cast<const Matrix*>(v.p);
      check_saveable_shape(ar, m.rows(), m.cols(), v.rows, v.cols);
      ar.writer().matrix(m);
      break;
    }
    case io::Shaped::Type::vector: {
      const auto& x = *static_cast<const Vector*>(v.p);
      check_saveable_shape(ar, x.size(), 1, v.rows, 1);
      ar.writer().vector(x);
      break;
    }
    case io::Shaped::Type::csr: {
      const auto& c = *static_cast<const Csr*>(v.p);
      check_saveable_shape(ar, c.rows(), c.cols, v.rows, v.cols);
      if (c.indptr.empty() || c.indptr.back() != c.indices.size() || c.values.size() != c.indices.size())
        ar.refuse("has inconsistent row offsets, indices and values");
      ar.writer().csr(c);
      break;
    }
  }
}
void load(LoadArchive& ar, io::Shaped& v) {
  Reader& r = ar.reader();
  switch (v.type) {
    case io::Shaped::Type::matrix:
      *static_cast<Matrix*>(v.p) = r.matrix(ar.field_c(), v.rows, v.cols);
      break;
    case io::Shaped::Type::vector:
      *static_cast<Vector*>(v.p) = r.vector(ar.field_c(), static_cast<std::size_t>(v.rows));
      break;
    case io::Shaped::Type::csr:
      *static_cast<Csr*>(v.p) =
          r.csr(ar.field_c(), static_cast<index_t>(v.rows), static_cast<index_t>(v.cols));
      break;
  }
}

void save(SaveArchive& ar, const io::ItemMatrix& v) {
  check_saveable_shape(ar, v.m->rows(), v.m->cols(), v.rows, v.cols);
  if (v.int8)
    ar.writer().int8_matrix(*v.m);
  else
    ar.writer().matrix(*v.m);
}
void load(LoadArchive& ar, io::ItemMatrix& v) {
  *v.m = v.int8 ? ar.reader().int8_matrix(ar.field_c(), v.rows, v.cols)
                : ar.reader().matrix(ar.field_c(), v.rows, v.cols);
}

std::string io::range_text(IntRange r) {
  return "[" + std::to_string(r.lo) + ", " + std::to_string(r.hi) + "]";
}

namespace {
// The optional hyper-parameters in the order of Hyper (the order they are stored in).
struct HyperSpec {
  unsigned flag;
  const char* name;
  std::optional<int> Hyper::*i;    // an i32 field with its range, or
  io::IntRange range;
  std::optional<float> Hyper::*f;  // an f32 field, >= 0
};
const HyperSpec kHyperSpecs[] = {
    {io::kFactors, "factors", &Hyper::factors, io::kFactorsRange, nullptr},
    {io::kEpochs, "epochs", &Hyper::epochs, io::kEpochsRange, nullptr},
    {io::kLr, "lr", nullptr, {}, &Hyper::lr},
    {io::kReg, "reg", nullptr, {}, &Hyper::reg},
    {io::kBiasReg, "bias_reg", nullptr, {}, &Hyper::bias_reg},
    {io::kAlpha, "alpha", nullptr, {}, &Hyper::alpha},
    {io::kInitStd, "init_std", nullptr, {}, &Hyper::init_std},
    {io::kNeighbors, "neighbors", &Hyper::neighbors, io::kNeighborsRange, nullptr},
    {io::kCgSteps, "cg_steps", &Hyper::cg_steps, io::kCgStepsRange, nullptr},
};
}  // namespace

void save(SaveArchive& ar, const io::HyperFields& v) {
  for (const HyperSpec& s : kHyperSpecs) {
    if (!(v.fields & s.flag)) continue;
    ar.push(s.name);
    if (s.i) {
      const std::optional<int>& x = v.h->*s.i;
      if (x && (*x < s.range.lo || *x > s.range.hi))
        ar.refuse("is " + std::to_string(*x) + ", out of range " + io::range_text(s.range));
      ar(x);
    } else {
      const std::optional<float>& x = v.h->*s.f;
      if (x && !(*x >= 0)) ar.refuse("is negative or NaN");
      ar(x);
    }
    ar.pop();
  }
  ar(cereal::make_nvp("seed", v.h->seed));
}
void load(LoadArchive& ar, io::HyperFields& v) {
  Hyper h;
  for (const HyperSpec& s : kHyperSpecs) {
    if (!(v.fields & s.flag)) continue;
    ar.push(s.name);
    if (s.i) {
      std::optional<int>& x = h.*s.i;
      ar(x);
      if (x && (*x < s.range.lo || *x > s.range.hi))
        ar.fail(std::to_string(*x) + " is out of range " + io::range_text(s.range));
    } else {
      std::optional<float>& x = h.*s.f;
      ar(x);
      if (x && *x < 0) ar.fail(std::to_string(*x) + " is negative");
    }
    ar.pop();
  }
  ar(cereal::make_nvp("seed", h.seed));
  *v.h = h;
}

}  // namespace edgerec
