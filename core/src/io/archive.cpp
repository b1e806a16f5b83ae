// Writer and Reader: the typed, bounds-checked layer between model code and cereal's
// PortableBinary archives (see the layout in edgerec/model_file.hpp).
//
// cereal does the byte order; this layer does the trust. cereal's own std::vector / std::string
// serialisers are not used, because they size the container from the file before anything can
// check the count. Here every count is read as a u64, checked against the caller's limit and the
// bytes that remain, and only then is memory allocated and filled with one bulk read.
#include <cereal/archives/portable_binary.hpp>

#include <cmath>
#include <cstring>
#include <istream>
#include <limits>
#include <optional>
#include <ostream>
#include <streambuf>

#include "edgerec/model_file.hpp"

namespace edgerec {
namespace {

// cereal's PortableBinary archives begin with one byte: 1 when the data is little-endian.
constexpr unsigned char kLittleEndianFlag = 1;

// Appends everything written to a std::string (no put area: every sputn lands in xsputn, which
// is one append, so bulk writes of factor matrices are a single memcpy).
class StringSink : public std::streambuf {
 public:
  std::string bytes;

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    bytes.push_back(traits_type::to_char_type(c));
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    bytes.append(s, static_cast<std::size_t>(n));
    return n;
  }
};

// Reads straight out of the caller's buffer: the get area is the buffer itself, so nothing is
// copied and the bytes left are always egptr() - gptr().
class MemorySource : public std::streambuf {
 public:
  MemorySource(const char* data, std::size_t size) {
    // streambuf wants char*; it never writes through the get area.
    char* p = const_cast<char*>(data);
    setg(p, p, p + size);
  }
  std::size_t left() const { return static_cast<std::size_t>(egptr() - gptr()); }
};

bool all_finite(const float* p, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

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
  StringSink sink;
  std::ostream out{&sink};
  std::optional<cereal::PortableBinaryOutputArchive> ar;

  Impl() { start(); }
  // Writes the archive's endianness byte; the output is little-endian on every host.
  void start() { ar.emplace(out, cereal::PortableBinaryOutputArchive::Options::LittleEndian()); }
  template <class T>
  void pod(T v) {
    (*ar)(v);
  }
  template <class T>
  void bulk(const T* p, std::size_t count) {
    if (count > 0) (*ar)(cereal::binary_data(p, count * sizeof(T)));
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
void Writer::csr(const Csr& c) {
  u32(c.cols);
  u64s(c.indptr);
  indices(c.indices);
  floats(c.values);
}
std::string Writer::take() {
  std::string out = std::move(impl_->sink.bytes);
  impl_->sink.bytes.clear();
  impl_->start();
  return out;
}

// ---- Reader ---------------------------------------------------------------------------------

struct Reader::Impl {
  std::string name;
  MemorySource source;
  std::istream in{&source};
  std::optional<cereal::PortableBinaryInputArchive> ar;

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
    (*ar)(v);
    return v;
  }
  template <class T>
  void bulk(T* p, std::size_t count) {
    if (count > 0) (*ar)(cereal::binary_data(p, count * sizeof(T)));
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
  void check_finite(const std::string& field, const float* p, std::size_t n) const {
    for (std::size_t i = 0; i < n; ++i)
      if (!std::isfinite(p[i])) fail(field, "element " + std::to_string(i) + " is NaN or infinite");
  }
  std::string str(const std::string& field, std::size_t max_bytes) {
    const std::size_t n = count(field, 1, max_bytes, "bytes");
    std::string s(n, '\0');
    bulk(s.data(), n);
    return s;
  }
};

Reader::Reader(const char* data, std::size_t size, std::string name)
    : impl_(std::make_unique<Impl>(data, size, std::move(name))) {
  // cereal would silently byte-swap a big-endian stream; the format allows only little-endian.
  if (size == 0) impl_->fail("endianness", "payload is empty");
  if (static_cast<unsigned char>(data[0]) != kLittleEndianFlag)
    impl_->fail("endianness", "archive flag is " + std::to_string(static_cast<unsigned char>(data[0])) +
                                  ", expected 1 (little-endian)");
  impl_->ar.emplace(impl_->in, cereal::PortableBinaryInputArchive::Options::LittleEndian());
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
  std::vector<std::string> v;
  v.reserve(n);
  const std::string base(field);
  for (std::size_t i = 0; i < n; ++i)
    v.push_back(impl_->str(base + "[" + std::to_string(i) + "]", std::size_t{1} << 16));
  return v;
}

std::vector<float> Reader::floats(const char* field, std::size_t max_count) {
  const std::size_t n = impl_->count(field, sizeof(float), max_count, "floats");
  std::vector<float> v(n);
  impl_->bulk(v.data(), n);
  impl_->check_finite(field, v.data(), n);
  return v;
}

std::vector<index_t> Reader::indices(const char* field, std::size_t max_count, index_t bound) {
  const std::size_t n = impl_->count(field, sizeof(index_t), max_count, "indices");
  std::vector<index_t> v(n);
  impl_->bulk(v.data(), n);
  for (std::size_t i = 0; i < n; ++i)
    if (v[i] >= bound)
      fail(field, "index " + std::to_string(v[i]) + " at position " + std::to_string(i) +
                      " is out of range (must be < " + std::to_string(bound) + ")");
  return v;
}

std::vector<std::uint64_t> Reader::u64s(const char* field, std::size_t max_count) {
  const std::size_t n = impl_->count(field, sizeof(std::uint64_t), max_count, "u64 values");
  std::vector<std::uint64_t> v(n);
  impl_->bulk(v.data(), n);
  return v;
}

Vector Reader::vector(const char* field, std::size_t expected_size) {
  const auto n = impl_->pod<std::uint64_t>(field);
  if (n != expected_size)
    fail(field, "has " + std::to_string(n) + " elements, expected " + std::to_string(expected_size));
  if (n > remaining() / sizeof(float))
    fail(field, std::to_string(n) + " floats exceed the " + std::to_string(remaining()) + " bytes left");
  Vector v(static_cast<Eigen::Index>(n));
  impl_->bulk(v.data(), static_cast<std::size_t>(n));
  impl_->check_finite(field, v.data(), static_cast<std::size_t>(n));
  return v;
}

Matrix Reader::matrix(const char* field, std::int64_t rows, std::int64_t cols) {
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
  if (r > 0 && c > remaining() / sizeof(float) / r)
    fail(field, shape + " floats exceed the " + std::to_string(remaining()) + " bytes left");
  Matrix m(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c));
  const auto n = static_cast<std::size_t>(r * c);
  impl_->bulk(m.data(), n);
  impl_->check_finite(field, m.data(), n);
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
  c.indptr.assign(n_ptr, 0);
  impl_->bulk(c.indptr.data(), n_ptr);
  if (c.indptr[0] != 0) impl_->fail(fp, "does not start at 0");
  for (std::size_t r = 0; r < rows; ++r)
    if (c.indptr[r + 1] < c.indptr[r])
      impl_->fail(fp, "decreases at row " + std::to_string(r + 1));
  const std::uint64_t nnz = c.indptr[rows];

  const std::string fi = f + ".indices";
  const std::size_t n_idx = impl_->count(fi, sizeof(index_t), nnz, "indices");
  if (n_idx != nnz)
    impl_->fail(fi, "has " + std::to_string(n_idx) + " entries, the row offsets say " + std::to_string(nnz));
  c.indices.resize(n_idx);
  impl_->bulk(c.indices.data(), n_idx);
  for (index_t r = 0; r < rows; ++r) {
    for (std::uint64_t j = c.indptr[r]; j < c.indptr[r + 1]; ++j) {
      if (c.indices[j] >= cols)
        impl_->fail(fi, "column " + std::to_string(c.indices[j]) + " in row " + std::to_string(r) +
                            " is out of range (must be < " + std::to_string(cols) + ")");
      // contains() binary-searches, so rows must be sorted.
      if (j > c.indptr[r] && c.indices[j] < c.indices[j - 1])
        impl_->fail(fi, "row " + std::to_string(r) + " is not sorted");
    }
  }

  const std::string fv = f + ".values";
  const std::size_t n_val = impl_->count(fv, sizeof(float), nnz, "values");
  if (n_val != nnz)
    impl_->fail(fv, "has " + std::to_string(n_val) + " entries, the row offsets say " + std::to_string(nnz));
  c.values.resize(n_val);
  impl_->bulk(c.values.data(), n_val);
  impl_->check_finite(fv, c.values.data(), n_val);
  return c;
}

std::size_t Reader::remaining() const { return impl_->source.left(); }

void Reader::fail(const char* field, const std::string& what) const { impl_->fail(field, what); }

}  // namespace edgerec
