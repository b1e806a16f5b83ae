// The model file: Writer/Reader, header checks, round trips of every kind, the committed golden
// files of every format version, corrupted and forged files, and atomic saves.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include <sys/resource.h>
#include <unistd.h>

// cereal's own iostream archive, to check that SaveArchive writes the same bytes.
#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

#include "edgerec/edgerec.hpp"
#include "io/archive.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;
using namespace edgerec;

namespace {

// ---- helpers -------------------------------------------------------------------------------

std::uint32_t get_le32(const std::string& b, std::size_t at) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(b[at + i]);
  return v;
}
std::uint64_t get_le64(const std::string& b, std::size_t at) {
  return std::uint64_t(get_le32(b, at)) | std::uint64_t(get_le32(b, at + 4)) << 32;
}
void put_le(std::string& b, std::size_t at, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xFFu);
}

// Builds a model file around `payload` exactly as the header documents it, so forged files
// carry a valid checksum and reach the parser.
std::string pack(std::uint32_t kind, const std::string& payload,
                 std::uint32_t version = kModelFormatVersion, std::uint32_t flags = 0) {
  std::string f(kModelHeaderBytes, '\0');
  std::memcpy(f.data(), kModelMagic, 4);
  put_le(f, 4, version, 4);
  put_le(f, 8, kind, 4);
  put_le(f, 12, flags, 4);
  put_le(f, 16, payload.size(), 8);
  f += payload;
  f.resize(f.size() + 4);
  put_le(f, f.size() - 4, crc32(f.data(), f.size() - 4), 4);
  return f;
}

// Recomputes the checksum after a deliberate edit (the edit must then be caught by parsing).
void reseal(std::string& file) {
  put_le(file, file.size() - 4, crc32(file.data(), file.size() - 4), 4);
}

std::unique_ptr<Model> load_bytes(const std::string& b, const std::string& name = "m.edgerec") {
  return model_from_bytes(b.data(), b.size(), name);
}

// Loads a file that may be damaged: a clean Error is fine, a loaded model must be usable.
// Returns true when it loaded.
bool load_or_error(const std::string& b) {
  std::unique_ptr<Model> m;
  try {
    m = load_bytes(b);
  } catch (const Error&) {
    return false;
  }
  std::vector<float> s(m->n_items());
  for (index_t u = 0; u < m->n_users(); ++u) m->score(u, s.data());
  try {
    m->score_new(m->history(0), s.data());
  } catch (const Error&) {
    return false;  // a clean refusal: forged huge factors give a non-finite fold-in
  }
  return true;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> temp_leftovers(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp-") != std::string::npos)
      out.push_back(e.path().string());
  return out;
}

// A small trained model of each kind (explicit data for rating models, implicit otherwise).
std::unique_ptr<Model> train_small(ModelKind kind, std::uint64_t seed = 3) {
  auto model = make_model(kind);
  SyntheticOptions o;
  o.users = 25;
  o.items = 18;
  o.interactions = 220;
  o.clusters = 3;
  o.genres = 4;
  o.ratings = model->predicts_ratings();
  o.seed = seed;
  const auto cat = generate_synthetic(o);
  Hyper h;
  h.factors = 3;
  h.epochs = 4;
  h.seed = seed;
  auto backend = make_cpu_backend();
  model->fit(cat.data, h, *backend);
  return model;
}

// A common part written field by field by the test itself (following the documented layout of
// format version `version`), so each case can damage exactly one piece.
struct CommonSpec {
  std::vector<std::string> users;
  std::vector<std::string> items;
  Csr seen;
  std::vector<float> popularity;
  std::uint8_t factors_flag = 0;  // version 2: hyper.factors presence
  std::int32_t threads = 1;
  float rating_min = 0, rating_max = 0;
  std::string tag = "edgerec-model";
  std::uint8_t sequences_flag = 0;  // version 3 on
  std::vector<std::uint64_t> sequence_offsets;
  std::vector<index_t> sequence_items;
  std::uint8_t item_meta_flag = 0;  // version 4 on (the section itself is tested apart)
};

void write_common(Writer& w, const CommonSpec& s, std::uint32_t version) {
  w.str(s.tag);
  w.strings(s.users);
  w.strings(s.items);
  w.csr(s.seen);
  w.floats(s.popularity);
  if (version <= 2) {
    w.u8(s.factors_flag);
    if (s.factors_flag == 1) w.i32(4);
    for (int i = 0; i < 8; ++i) w.u8(0);  // the other eight optional hyper-parameters, unset
    w.u64(7);                             // seed
  }
  w.f64(0.5);
  w.u64(0);
  w.str("test");
  w.floats({});
  w.i32(s.threads);
  w.f32(s.rating_min);
  w.f32(s.rating_max);
  if (version >= 3) {
    w.u8(s.sequences_flag);
    if (s.sequences_flag == 1) {
      w.u64s(s.sequence_offsets);
      w.indices(s.sequence_items);
    }
  }
  if (version >= 4) w.u8(s.item_meta_flag);
}

// The popularity model part for `users` x `items` (counts `pop`), written by hand: from version 3
// on its section version and hyper-parameters (the seed) come first.
void write_popularity_part(Writer& w, std::size_t users, const std::vector<float>& pop,
                           std::uint32_t version, std::uint32_t section_version = 1) {
  if (version >= 3) {
    w.u32(section_version);  // cereal's class version of the popularity section
    w.u64(7);                // hyper.seed
  }
  w.i32(0);                  // factor_dims
  w.matrix(Matrix::Ones(static_cast<Eigen::Index>(users), 1));
  if (version >= 2) w.u8(0);  // item_matrix_encoding: f32
  Matrix v(static_cast<Eigen::Index>(pop.size()), 1);
  for (std::size_t i = 0; i < pop.size(); ++i) v(static_cast<Eigen::Index>(i), 0) = std::log1p(pop[i]);
  w.matrix(v);
  w.vector(Vector::Zero(static_cast<Eigen::Index>(users)));
}

// ---- top-K for the golden files (score desc, index asc; seen items skipped) --------------

struct Ranked {
  index_t item;
  float score;
};

std::vector<Ranked> top_unseen(const Model& m, index_t user, std::size_t k) {
  std::vector<float> s(m.n_items());
  m.score(user, s.data());
  std::vector<Ranked> all;
  for (index_t i = 0; i < m.n_items(); ++i)
    if (!m.seen.contains(user, i)) all.push_back({i, s[i]});
  std::sort(all.begin(), all.end(), [](const Ranked& a, const Ranked& b) {
    return a.score != b.score ? a.score > b.score : a.item < b.item;
  });
  if (all.size() > k) all.resize(k);
  return all;
}

}  // namespace

// ---- CRC ------------------------------------------------------------------------------------

TEST_CASE("crc32 matches zlib's known answers", "[model_file]") {
  const char* check = "123456789";
  CHECK(crc32(check, 9) == 0xCBF43926u);
  CHECK(crc32("", 0) == 0u);
  CHECK(crc32("a", 1) == 0xE8B7BE43u);
  const std::string fox = "The quick brown fox jumps over the lazy dog";
  CHECK(crc32(fox.data(), fox.size()) == 0x414FA339u);
  // Chained calls equal one call, from every split point and at every alignment.
  for (std::size_t split = 0; split <= fox.size(); ++split)
    CHECK(crc32(fox.data() + split, fox.size() - split, crc32(fox.data(), split)) == 0x414FA339u);
}

TEST_CASE("crc32 slice-by-8 agrees with the bitwise definition", "[model_file]") {
  auto bitwise = [](const unsigned char* p, std::size_t n) {
    std::uint32_t c = 0xFFFFFFFFu;
    for (std::size_t i = 0; i < n; ++i) {
      c ^= p[i];
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    }
    return ~c;
  };
  Rng rng(11);
  std::vector<unsigned char> buf(300);
  for (auto& b : buf) b = static_cast<unsigned char>(rng.next());
  for (std::size_t off = 0; off < 9; ++off)
    for (std::size_t n = 0; n + off <= buf.size(); n += 7)
      REQUIRE(crc32(buf.data() + off, n) == bitwise(buf.data() + off, n));
}

// ---- Writer / Reader ------------------------------------------------------------------------

TEST_CASE("Writer and Reader round-trip every field type", "[model_file]") {
  Writer w;
  w.u8(0xAB);
  w.u32(0xDEADBEEFu);
  w.i32(-123456);
  w.u64(std::numeric_limits<std::uint64_t>::max());
  w.i64(std::numeric_limits<std::int64_t>::min());
  w.f32(-1.5e-7f);
  w.f64(3.141592653589793);
  w.str("");
  w.str(std::string("nul\0inside", 10));
  w.strings({"alpha", "", "γ"});
  w.floats({1.0f, -2.5f, 1e30f});
  w.indices({0, 7, 4294967294u});
  w.u64s({0, 1ull << 40});
  Vector v(3);
  v << 1.0f, 2.0f, 3.0f;
  w.vector(v);
  Matrix m(2, 3);
  m << 1, 2, 3, 4, 5, 6;
  w.matrix(m);
  Csr c;
  c.indptr = {0, 2, 2, 3};
  c.indices = {1, 4, 0};
  c.values = {0.5f, 1.5f, 2.5f};
  c.cols = 5;
  w.csr(c);
  const std::string bytes = w.take();

  Reader r(bytes.data(), bytes.size(), "rt");
  CHECK(r.u8("a") == 0xAB);
  CHECK(r.u32("b") == 0xDEADBEEFu);
  CHECK(r.i32("c") == -123456);
  CHECK(r.u64("d") == std::numeric_limits<std::uint64_t>::max());
  CHECK(r.i64("e") == std::numeric_limits<std::int64_t>::min());
  CHECK(r.f32("f") == -1.5e-7f);
  CHECK(r.f64("g") == 3.141592653589793);
  CHECK(r.str("h").empty());
  CHECK(r.str("i") == std::string("nul\0inside", 10));
  CHECK(r.strings("j", 10) == std::vector<std::string>{"alpha", "", "γ"});
  CHECK(r.floats("k", 10) == std::vector<float>{1.0f, -2.5f, 1e30f});
  CHECK(r.indices("l", 10, 4294967295u) == std::vector<index_t>{0, 7, 4294967294u});
  CHECK(r.u64s("m", 10) == std::vector<std::uint64_t>{0, 1ull << 40});
  CHECK(r.vector("n", 3) == v);
  const Matrix m2 = r.matrix("o", 2, 3);
  CHECK(m2 == m);
  const Csr c2 = r.csr("p", 3, 5);
  CHECK(c2.indptr == c.indptr);
  CHECK(c2.indices == c.indices);
  CHECK(c2.values == c.values);
  CHECK(c2.cols == 5u);
  CHECK(r.remaining() == 0);
}

TEST_CASE("Writer output is the documented little-endian layout", "[model_file]") {
  Writer w;
  w.u32(0x01020304u);
  w.str("ab");
  Matrix m(2, 2);
  m << 1, 2, 3, 4;
  w.matrix(m);
  const std::string b = w.take();
  REQUIRE(b.size() == 1 + 4 + 8 + 2 + 16 + 16);
  CHECK(b[0] == 1);  // cereal's little-endian flag
  CHECK(get_le32(b, 1) == 0x01020304u);
  CHECK(static_cast<unsigned char>(b[1]) == 0x04);
  CHECK(get_le64(b, 5) == 2);
  CHECK(b.substr(13, 2) == "ab");
  CHECK(get_le64(b, 15) == 2);
  CHECK(get_le64(b, 23) == 2);
  float second;
  std::memcpy(&second, b.data() + 31 + 4, 4);
  CHECK(second == 2.0f);  // row-major: row 0 is (1, 2)

  // take() leaves a fresh, empty archive behind.
  w.u8(9);
  const std::string again = w.take();
  CHECK(again == std::string("\x01\x09", 2));
}

TEST_CASE("Writer refuses NaN and infinity instead of writing an unloadable file",
          "[model_file]") {
  Writer w;
  CHECK_THROWS_AS(w.f32(std::numeric_limits<float>::quiet_NaN()), Error);
  CHECK_THROWS_AS(w.f64(std::numeric_limits<double>::infinity()), Error);
  CHECK_THROWS_AS(w.floats({1.0f, std::numeric_limits<float>::infinity()}), Error);
  Matrix m = Matrix::Zero(2, 2);
  m(1, 1) = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS_AS(w.matrix(m), Error);
}

TEST_CASE("Reader checks every count, index and value before trusting it", "[model_file]") {
  auto reader_error = [](const std::function<void(Writer&)>& write,
                         const std::function<void(Reader&)>& read) {
    Writer w;
    write(w);
    const std::string b = w.take();
    return test::error_of([&] {
      Reader r(b.data(), b.size(), "x.edgerec");
      read(r);
    });
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto raw_f32 = [](Writer& w, float f) {  // bypasses the Writer's own NaN check
    std::uint32_t bits;
    std::memcpy(&bits, &f, 4);
    w.u32(bits);
  };

  SECTION("messages name the file and the field") {
    const auto e = reader_error([](Writer& w) { w.u64(1ull << 40); },
                                [](Reader& r) { r.floats("item_popularity", 1u << 30); });
    CHECK(e.rfind("x.edgerec: field 'item_popularity': ", 0) == 0);
  }
  SECTION("truncated scalars") {
    CHECK(reader_error([](Writer& w) { w.u8(1); }, [](Reader& r) { r.u32("a"); }) != "");
    CHECK(reader_error([](Writer& w) { w.u32(1); }, [](Reader& r) { r.u64("a"); }) != "");
    CHECK(reader_error([](Writer&) {}, [](Reader& r) { r.u8("a"); }) != "");
  }
  SECTION("counts beyond the bytes left or the limit") {
    const auto huge = std::uint64_t{1} << 61;
    for (std::uint64_t n : {huge, std::uint64_t{1000}, ~std::uint64_t{0}}) {
      auto w_count = [n](Writer& w) {
        w.u64(n);
        w.f32(1.0f);
      };
      CHECK(reader_error(w_count, [](Reader& r) { r.floats("f", ~std::size_t{0}); }) != "");
      CHECK(reader_error(w_count, [](Reader& r) { r.strings("s", ~std::size_t{0}); }) != "");
      CHECK(reader_error(w_count, [](Reader& r) { r.str("s", ~std::size_t{0}); }) != "");
      CHECK(reader_error(w_count, [](Reader& r) { r.u64s("u", ~std::size_t{0}); }) != "");
      CHECK(reader_error(w_count, [](Reader& r) { r.indices("i", ~std::size_t{0}, 10); }) != "");
      CHECK(reader_error(w_count, [n](Reader& r) { r.vector("v", n); }) != "");
    }
    // Within the bytes left but above the caller's limit.
    CHECK(reader_error([](Writer& w) { w.floats({1, 2, 3}); }, [](Reader& r) { r.floats("f", 2); })
              .find("limit") != std::string::npos);
    CHECK(reader_error([](Writer& w) { w.str("abcdef"); }, [](Reader& r) { r.str("s", 5); }) != "");
    CHECK(reader_error([](Writer& w) { w.strings({"a", "b"}); },
                       [](Reader& r) { r.strings("s", 1); }) != "");
  }
  SECTION("matrix shapes") {
    auto huge = [](Writer& w) {
      w.u64(4294967296ull);
      w.u64(64);
      w.f32(0);
    };
    CHECK(reader_error(huge, [](Reader& r) { r.matrix("item_factors", -1, -1); })
              .find("bytes left") == std::string::npos);  // caught by the dimension limit first
    CHECK(reader_error([](Writer& w) { w.u64(1u << 20); w.u64(1u << 20); },
                       [](Reader& r) { r.matrix("m", -1, -1); })
              .find("bytes left") != std::string::npos);
    Matrix m = Matrix::Ones(2, 3);
    auto ok = [&m](Writer& w) { w.matrix(m); };
    CHECK(reader_error(ok, [](Reader& r) { r.matrix("m", 3, 3); }) != "");
    CHECK(reader_error(ok, [](Reader& r) { r.matrix("m", 2, 2); }) != "");
    CHECK(reader_error(ok, [](Reader& r) { r.matrix("m", 2, -1); }).empty());
    CHECK(reader_error(ok, [](Reader& r) { r.matrix("m", -1, 3); }).empty());
    CHECK(reader_error([](Writer& w) { w.u64(0); w.u64(~0ull); },
                       [](Reader& r) { r.matrix("m", -1, -1); }) != "");
  }
  SECTION("NaN and infinity are rejected everywhere a float is read") {
    auto one_nan = [&](Writer& w) { raw_f32(w, nan); };
    CHECK(reader_error(one_nan, [](Reader& r) { r.f32("f"); }) != "");
    auto arr = [&](Writer& w) {
      w.u64(2);
      raw_f32(w, 1.0f);
      raw_f32(w, -std::numeric_limits<float>::infinity());
    };
    CHECK(reader_error(arr, [](Reader& r) { r.floats("f", 10); }).find("element 1") != std::string::npos);
    CHECK(reader_error(arr, [](Reader& r) { r.vector("v", 2); }) != "");
    auto mat = [&](Writer& w) {
      w.u64(1);
      w.u64(2);
      raw_f32(w, 1.0f);
      raw_f32(w, nan);
    };
    CHECK(reader_error(mat, [](Reader& r) { r.matrix("m", 1, 2); }) != "");
    auto dbl = [](Writer& w) {
      const double d = std::numeric_limits<double>::quiet_NaN();
      std::uint64_t bits;
      std::memcpy(&bits, &d, 8);
      w.u64(bits);
    };
    CHECK(reader_error(dbl, [](Reader& r) { r.f64("d"); }) != "");
  }
  SECTION("indices are range-checked") {
    CHECK(reader_error([](Writer& w) { w.indices({0, 5}); }, [](Reader& r) { r.indices("i", 9, 5); })
              .find("out of range") != std::string::npos);
    CHECK(reader_error([](Writer& w) { w.indices({0, 4}); }, [](Reader& r) { r.indices("i", 9, 5); })
              .empty());
  }
  SECTION("CSR structure") {
    auto csr_error = [&](std::vector<std::uint64_t> indptr, std::vector<index_t> idx,
                         std::vector<float> val, index_t cols, index_t want_rows,
                         index_t want_cols) {
      return reader_error(
          [&](Writer& w) {
            w.u32(cols);
            w.u64s(indptr);
            w.indices(idx);
            w.u64(val.size());
            for (float v : val) raw_f32(w, v);
          },
          [&](Reader& r) { r.csr("seen", want_rows, want_cols); });
    };
    CHECK(csr_error({0, 1, 2}, {0, 1}, {1, 1}, 2, 2, 2).empty());
    CHECK(csr_error({0, 1, 2}, {0, 1}, {1, 1}, 2, 3, 2) != "");  // rows
    CHECK(csr_error({0, 1, 2}, {0, 1}, {1, 1}, 3, 2, 2) != "");  // cols
    CHECK(csr_error({1, 1, 2}, {0, 1}, {1, 1}, 2, 2, 2) != "");  // does not start at 0
    CHECK(csr_error({0, 2, 1}, {0, 1}, {1, 1}, 2, 2, 2) != "");  // decreasing
    CHECK(csr_error({0, 1, 3}, {0, 1}, {1, 1}, 2, 2, 2) != "");  // end != nnz
    CHECK(csr_error({0, 1, 1}, {0, 1}, {1, 1}, 2, 2, 2) != "");  // end != nnz
    CHECK(csr_error({0, 1, 2}, {0, 2}, {1, 1}, 2, 2, 2) != "");  // column out of range
    CHECK(csr_error({0, 2, 2}, {1, 0}, {1, 1}, 2, 2, 2) != "");  // unsorted row
    CHECK(csr_error({0, 1, 2}, {0, 1}, {1}, 2, 2, 2) != "");     // values short
    CHECK(csr_error({0, 1, 2}, {0, 1}, {1, nan}, 2, 2, 2) != "");
    // A forged nnz far beyond the file.
    CHECK(csr_error({0, 1ull << 62, 1ull << 62}, {0, 1}, {1, 1}, 2, 2, 2) != "");
  }
  SECTION("only little-endian archives") {
    const std::string big("\x00\x00\x00\x00\x01", 5);
    CHECK_THROWS_AS(Reader(big.data(), big.size(), "x"), Error);
    CHECK_THROWS_AS(Reader(nullptr, 0, "x"), Error);
  }
}

// ---- the cereal archives (format v3) -------------------------------------------------------

namespace {
// A versioned class as a model kind writes one: version 2 added `e`.
struct Probe {
  std::uint32_t a = 0;
  float b = 0;
  std::string c;
  std::vector<float> d;
  std::int64_t e = -1;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    ar(cereal::make_nvp("a", a), cereal::make_nvp("b", b), cereal::make_nvp("c", c),
       cereal::make_nvp("d", d));
    if (version >= 2) ar(cereal::make_nvp("e", e));
  }
};
}  // namespace
CEREAL_CLASS_VERSION(Probe, 2)

TEST_CASE("SaveArchive writes what cereal's PortableBinary archive writes; LoadArchive reads it",
          "[model_file]") {
  const Probe p{0xA1B2C3D4u, -2.5f, "edgerec", {1.0f, 2.0f, 3.0f}, -5};
  SaveArchive out;
  out(cereal::make_nvp("probe", p), cereal::make_nvp("again", p));
  const std::string ours = out.take();

  std::ostringstream os(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive theirs(os, cereal::PortableBinaryOutputArchive::Options::LittleEndian());
    theirs(p, p);
  }
  CHECK(ours == os.str());
  // The class version is written once per archive, before the first Probe: flag, version, a.
  CHECK(ours[0] == 1);
  CHECK(get_le32(ours, 1) == 2u);
  CHECK(get_le32(ours, 5) == 0xA1B2C3D4u);

  LoadArchive in(ours.data(), ours.size(), "x.edgerec");
  Probe q, r;
  in(cereal::make_nvp("probe", q), cereal::make_nvp("again", r));
  CHECK(in.remaining() == 0);
  for (const Probe* x : {&q, &r}) {
    CHECK(x->a == p.a);
    CHECK(x->b == p.b);
    CHECK(x->c == p.c);
    CHECK(x->d == p.d);
    CHECK(x->e == p.e);
  }
}

TEST_CASE("LoadArchive: older class versions, field paths in errors, untrusted counts",
          "[model_file]") {
  // A version 1 Probe (no `e`), written field by field: read with the version-1 branch.
  Writer w;
  w.u32(1);
  w.u32(9);
  w.f32(0.25f);
  w.str("v1");
  w.floats({4.0f});
  const std::string v1 = w.take();
  {
    LoadArchive in(v1.data(), v1.size(), "x.edgerec");
    Probe q;
    in(cereal::make_nvp("probe", q));
    CHECK(q.a == 9);
    CHECK(q.c == "v1");
    CHECK(q.e == -1);
    CHECK(in.remaining() == 0);
  }
  auto load_error = [](const std::string& bytes) {
    return test::error_of([&] {
      LoadArchive in(bytes.data(), bytes.size(), "x.edgerec");
      Probe q;
      in(cereal::make_nvp("probe", q));
    });
  };
  // Every truncation names the file and the field being read, nested names joined by '.'.
  CHECK(load_error(v1.substr(0, 3)).rfind("x.edgerec: field 'probe.cereal_class_version': ", 0) == 0);
  CHECK(load_error(v1.substr(0, 7)).rfind("x.edgerec: field 'probe.a': ", 0) == 0);
  CHECK(load_error(v1.substr(0, 15)).rfind("x.edgerec: field 'probe.c': ", 0) == 0);
  CHECK(load_error(v1.substr(0, v1.size() - 1)).rfind("x.edgerec: field 'probe.d': ", 0) == 0);
  // A forged element count: refused against the bytes left before anything is allocated.
  std::string forged = v1;
  put_le(forged, forged.size() - 12, std::uint64_t{1} << 60, 8);
  CHECK_THAT(load_error(forged), Catch::StartsWith("x.edgerec: field 'probe.d': ") &&
                                     Catch::Contains("exceed"));
  // NaN is refused on load (and on save, by Writer).
  std::string nan = v1;
  put_le(nan, 9, 0x7FC00000u, 4);
  CHECK(load_error(nan) == "x.edgerec: field 'probe.b': is NaN or infinite");
  Probe bad;
  bad.b = std::numeric_limits<float>::infinity();
  SaveArchive out;
  CHECK_THROWS_AS(out(cereal::make_nvp("probe", bad)), Error);
  CHECK_THROWS_AS(LoadArchive(nullptr, 0, "x"), Error);
}

TEST_CASE("archive wrappers: optional presence flags, limits, shapes, hyper-parameters",
          "[model_file]") {
  using cereal::make_nvp;
  auto reload = [](const std::string& bytes, const std::function<void(LoadArchive&)>& read) {
    return test::error_of([&] {
      LoadArchive in(bytes.data(), bytes.size(), "x.edgerec");
      read(in);
      if (in.remaining() != 0) throw Error("bytes left");
    });
  };
  SECTION("optional") {
    SaveArchive out;
    out(make_nvp("o", std::optional<float>(2.0f)), make_nvp("o", std::optional<std::int32_t>()));
    const std::string b = out.take();
    CHECK(b == std::string("\x01\x01\x00\x00\x00\x40\x00", 7));
    std::optional<float> f;
    std::optional<std::int32_t> i = 5;
    CHECK(reload(b, [&](LoadArchive& in) { in(make_nvp("f", f), make_nvp("i", i)); }).empty());
    CHECK(f == 2.0f);
    CHECK(!i);
    std::string flag = b;
    flag[1] = 2;
    CHECK(reload(flag, [&](LoadArchive& in) { in(make_nvp("f", f)); }) ==
          "x.edgerec: field 'f': presence flag is 2, expected 0 or 1");
  }
  SECTION("limits and index bounds") {
    std::vector<index_t> idx = {0, 3, 2};
    SaveArchive out;
    out(make_nvp("idx", idx));
    const std::string b = out.take();
    std::vector<index_t> back;
    CHECK(reload(b, [&](LoadArchive& in) { in(make_nvp("idx", io::at_most(back, 3, 4))); }).empty());
    CHECK(back == idx);
    CHECK_THAT(reload(b, [&](LoadArchive& in) { in(make_nvp("idx", io::at_most(back, 2, 4))); }),
               Catch::Contains("field 'idx': 3 indices exceed the limit of 2"));
    CHECK_THAT(reload(b, [&](LoadArchive& in) { in(make_nvp("idx", io::at_most(back, 3, 3))); }),
               Catch::Contains("field 'idx': index 3 at position 1 is out of range"));
    SaveArchive refuse;
    CHECK_THAT(test::error_of([&] { refuse(make_nvp("idx", io::at_most(idx, 3, 3))); }),
               Catch::StartsWith("cannot save the model: idx has index 3"));
  }
  SECTION("shapes") {
    Matrix m = Matrix::Ones(2, 3);
    SaveArchive out;
    out(make_nvp("m", io::shaped(m, 2, 3)));
    const std::string b = out.take();
    Matrix back;
    CHECK(reload(b, [&](LoadArchive& in) { in(make_nvp("m", io::shaped(back, 2, -1))); }).empty());
    CHECK(back == m);
    CHECK_THAT(reload(b, [&](LoadArchive& in) { in(make_nvp("m", io::shaped(back, 3, 3))); }),
               Catch::Contains("field 'm': has 2 rows, expected 3"));
    SaveArchive refuse;
    CHECK_THAT(test::error_of([&] { refuse(make_nvp("m", io::shaped(m, 2, 4))); }),
               Catch::StartsWith("cannot save the model: m is 2 x 3, expected 2 x 4"));
  }
  SECTION("hyper-parameters: only the named ones, ranges checked both ways") {
    Hyper h;
    h.factors = 8;
    h.lr = 0.5f;
    h.neighbors = 3;  // not named below: not stored
    h.seed = 99;
    SaveArchive out;
    out(make_nvp("hyper", io::hyper_fields(h, io::kFactors | io::kLr | io::kAlpha)));
    const std::string b = out.take();
    // flag + i32, flag + f32, flag (alpha unset), u64 seed
    CHECK(b.size() == 1 + 5 + 5 + 1 + 8);
    Hyper back;
    back.neighbors = 1;
    CHECK(reload(b, [&](LoadArchive& in) {
            in(make_nvp("hyper", io::hyper_fields(back, io::kFactors | io::kLr | io::kAlpha)));
          }).empty());
    CHECK(back.factors == 8);
    CHECK(back.lr == 0.5f);
    CHECK(!back.alpha);
    CHECK(!back.neighbors);
    CHECK(back.seed == 99u);
    std::string big = b;
    put_le(big, 2, 5000, 4);
    CHECK(reload(big, [&](LoadArchive& in) {
            in(make_nvp("hyper", io::hyper_fields(back, io::kFactors | io::kLr | io::kAlpha)));
          }) == "x.edgerec: field 'hyper.factors': 5000 is out of range [1, 4096]");
    h.factors = 0;
    SaveArchive refuse;
    CHECK(test::error_of([&] { refuse(make_nvp("hyper", io::hyper_fields(h, io::kFactors))); }) ==
          "cannot save the model: hyper.factors is 0, out of range [1, 4096] (the reader would "
          "refuse the file)");
  }
}

// ---- header ---------------------------------------------------------------------------------

TEST_CASE("header errors are specific", "[model_file]") {
  Writer w;
  w.str("payload");
  const std::string payload = w.take();
  const std::string good = pack(static_cast<std::uint32_t>(ModelKind::popularity), payload);

  const auto h = read_header(good.data(), good.size(), "g");
  CHECK(h.version == kModelFormatVersion);
  CHECK(h.kind == ModelKind::popularity);
  CHECK(h.payload_bytes == payload.size());

  auto err = [](const std::string& b) {
    return test::error_of([&] { read_header(b.data(), b.size(), "m.edgerec"); });
  };
  CHECK(err("") == "m.edgerec: empty file, not an edgerec model");
  CHECK(err("PK\x03\x04 not a model at all, a zip file") ==
        "m.edgerec: not an edgerec model file (bad magic)");
  CHECK(err("ERM").find("truncated") != std::string::npos);
  CHECK(err(good.substr(0, 20)).find("truncated") != std::string::npos);
  CHECK(err(pack(1, payload, 7)) == "m.edgerec: model format version 7 is newer than this edgerec supports (" +
                                        std::to_string(kModelFormatVersion) + "); upgrade edgerec");
  CHECK(err(pack(1, payload, 0)) != "");
  CHECK(err(pack(99, payload)) == "m.edgerec: unknown model kind 99 (newer edgerec?)");
  CHECK(err(pack(0, payload)) != "");
  CHECK(err(pack(1, payload, 1, 4)).find("flags") != std::string::npos);

  std::string lie = good;
  put_le(lie, 16, payload.size() + 100, 8);
  CHECK(err(lie) == "m.edgerec: truncated: header says " + std::to_string(payload.size() + 100) +
                        " payload bytes, file has " + std::to_string(payload.size()));
  put_le(lie, 16, ~std::uint64_t{0}, 8);
  CHECK(err(lie).find("truncated") != std::string::npos);
  put_le(lie, 16, payload.size() - 1, 8);
  CHECK(err(lie).find("unexpected bytes") != std::string::npos);
  CHECK(err(good + "x").find("unexpected bytes") != std::string::npos);

  std::string flipped = good;
  flipped[kModelHeaderBytes + 3] ^= 0x10;
  CHECK(err(flipped) == "m.edgerec: checksum mismatch: file is corrupted");
  std::string bad_crc = good;
  bad_crc.back() ^= 1;
  CHECK(err(bad_crc) == "m.edgerec: checksum mismatch: file is corrupted");
}

TEST_CASE("binary noise and near-misses never parse", "[model_file]") {
  Rng rng(5);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string b(rng.below(200), '\0');
    for (auto& c : b) c = static_cast<char>(rng.next());
    if (trial % 2 == 1 && b.size() >= 4) std::memcpy(b.data(), kModelMagic, 4);
    if (trial % 4 == 3 && b.size() >= 8) put_le(b, 4, 1, 4);
    CHECK_THROWS_AS(load_bytes(b), Error);
  }
}

// ---- forged payloads (valid checksum) -------------------------------------------------------

TEST_CASE("forged common parts are rejected by the parser", "[model_file]") {
  const auto pop = static_cast<std::uint32_t>(ModelKind::popularity);
  // Format version 2 (the hyper-parameters in the common part) and the current one.
  const std::uint32_t version = GENERATE(2u, kModelFormatVersion);
  INFO("format version " << version);
  auto forged = [&](const CommonSpec& s, const std::function<void(Writer&)>& tail = {}) {
    Writer w;
    write_common(w, s, version);
    if (tail) tail(w);
    return pack(pop, w.take(), version);
  };
  // The template must be valid, or every case below would pass for the wrong reason: its
  // shape comes from a real popularity model of 2 users x 3 items.
  Interactions data;
  for (const char* u : {"u0", "u1"}) data.users.add(u);
  for (const char* i : {"i0", "i1", "i2"}) data.items.add(i);
  data.rows = {{0, 0, 1.0f, 0}, {1, 2, 1.0f, 0}, {1, 0, 1.0f, 0}};
  auto real = make_model(ModelKind::popularity);
  real->fit(data, Hyper{}, *make_cpu_backend());
  CommonSpec ok;
  ok.users = real->users.ids();
  ok.items = real->items.ids();
  ok.seen = real->seen;
  ok.popularity = real->item_popularity;
  auto tail = [&](Writer& w) { write_popularity_part(w, 2, ok.popularity, version); };
  auto err = [&](const CommonSpec& s) { return test::error_of([&] { load_bytes(forged(s, tail)); }); };

  INFO(err(ok));
  REQUIRE(err(ok).empty());
  if (version == kModelFormatVersion) {
    // The file written by hand from the documented layout is the real model's, byte for byte,
    // once the real one has the hand-written train info and seed.
    real->info.fit_seconds = 0.5;
    real->info.train_rows = 0;
    real->info.source = "test";
    real->info.loss.clear();
    real->info.threads = 1;
    real->hyper.seed = 7;
    CHECK(model_to_bytes(*real) == forged(ok, tail));
  }

  CommonSpec s = ok;
  s.tag = "edgerec-modem";
  CHECK(err(s).find("format_tag") != std::string::npos);
  s = ok;
  s.users = {"a", "a"};
  CHECK(err(s).find("duplicate") != std::string::npos);
  s = ok;
  s.seen.indptr.pop_back();  // one row for two users
  CHECK(err(s).find("seen") != std::string::npos);
  s = ok;
  s.seen.cols = 4;
  CHECK(err(s).find("seen") != std::string::npos);
  s = ok;
  s.popularity.pop_back();
  CHECK(err(s).find("item_popularity") != std::string::npos);
  s = ok;
  s.popularity[1] = -1;
  CHECK(err(s).find("item_popularity") != std::string::npos);
  if (version == 2) {
    s = ok;
    s.factors_flag = 2;
    CHECK(err(s).find("hyper.factors") != std::string::npos);
  }
  s = ok;
  s.threads = 0;
  CHECK(err(s).find("info.threads") != std::string::npos);
  s = ok;
  s.rating_min = 5;
  s.rating_max = 1;
  CHECK(err(s).find("rating") != std::string::npos);

  if (version >= 3) {
    // The ordered histories: u0 = (i0), u1 = (i2, i0, i2) (a repeat is allowed).
    CommonSpec q = ok;
    q.sequences_flag = 1;
    q.sequence_offsets = {0, 1, 4};
    q.sequence_items = {0, 2, 0, 2};
    REQUIRE(err(q).empty());
    const auto loaded = load_bytes(forged(q, tail));
    REQUIRE(loaded->sequences);
    CHECK(loaded->sequences->offsets == q.sequence_offsets);
    CHECK(loaded->sequences->items == q.sequence_items);
    CHECK(!load_bytes(forged(ok, tail))->sequences);

    auto seq_err = [&](const std::function<void(CommonSpec&)>& damage) {
      CommonSpec d = q;
      damage(d);
      return err(d);
    };
    using Catch::Contains;
    CHECK_THAT(seq_err([](CommonSpec& d) { d.sequences_flag = 2; }),
               Contains("field 'sequences': presence flag is 2"));
    CHECK_THAT(seq_err([](CommonSpec& d) { d.sequence_offsets = {0, 1}; }),
               Contains("field 'sequences.offsets'"));
    CHECK_THAT(seq_err([](CommonSpec& d) { d.sequence_offsets = {0, 1, 4, 4}; }),
               Contains("field 'sequences.offsets'"));
    CHECK_THAT(seq_err([](CommonSpec& d) { d.sequence_offsets = {1, 1, 4}; }),
               Contains("field 'sequences.offsets': does not start at 0"));
    CHECK_THAT(seq_err([](CommonSpec& d) { d.sequence_offsets = {0, 3, 2}; }),
               Contains("field 'sequences.offsets': decreases at row 2"));
    CHECK_THAT(seq_err([](CommonSpec& d) { d.sequence_offsets = {0, 1, 3}; }),
               Contains("field 'sequences.offsets': ends at 3, but there are 4 items"));
    CHECK_THAT(seq_err([](CommonSpec& d) { d.sequence_items = {0, 2, 0, 3}; }),
               Contains("field 'sequences.items': index 3 at position 3 is out of range"));
    CHECK_THAT(seq_err([](CommonSpec& d) { d.sequence_items = {1, 2, 0, 2}; }),
               Contains("field 'sequences.items': row 0 holds item 1, which is not among the user's seen items"));
    // A forged count far beyond the file, before any allocation.
    CHECK_THAT(seq_err([](CommonSpec& d) { d.sequence_offsets = {0, 1, 1ull << 40}; }),
               Contains("sequences"));
  }

  // Trailing garbage inside the checksummed payload.
  const std::string extra = forged(ok, [&](Writer& w) {
    tail(w);
    w.u8(0);
  });
  CHECK(test::error_of([&] { load_bytes(extra); }).find("unexpected bytes") != std::string::npos);

  // A user count of 2^61 with a valid checksum: refused before any allocation.
  Writer w;
  w.str("edgerec-model");
  w.u64(std::uint64_t{1} << 61);
  const std::string huge = pack(pop, w.take(), version);
  CHECK(test::error_of([&] { load_bytes(huge); }).find("user_ids") != std::string::npos);
}

TEST_CASE("a kind's section version is checked: newer ones are refused by name", "[model_file]") {
  const std::vector<float> pop = {1, 0, 2};
  CommonSpec s;
  s.users = {"u0", "u1"};
  s.items = {"i0", "i1", "i2"};
  s.seen.indptr = {0, 1, 3};
  s.seen.indices = {0, 0, 2};
  s.seen.values = {1, 1, 1};
  s.seen.cols = 3;
  s.popularity = pop;
  auto file = [&](std::uint32_t section_version) {
    Writer w;
    write_common(w, s, kModelFormatVersion);
    write_popularity_part(w, 2, pop, kModelFormatVersion, section_version);
    return pack(static_cast<std::uint32_t>(ModelKind::popularity), w.take());
  };
  CHECK_NOTHROW(load_bytes(file(1)));
  CHECK(test::error_of([&] { load_bytes(file(2)); }) ==
        "m.edgerec: field 'popularity': section version 2 is newer than this edgerec reads (1); "
        "upgrade edgerec");
  CHECK(test::error_of([&] { load_bytes(file(0)); }) ==
        "m.edgerec: field 'popularity': section version 0 is invalid");
}

// ---- models ---------------------------------------------------------------------------------

TEST_CASE("every model kind round-trips through bytes and files", "[model_file]") {
  const std::string dir = test::temp_dir("model_file_roundtrip");
  for (ModelKind kind : all_kinds()) {
    INFO("kind " << kind_name(kind));
    const auto model = train_small(kind);
    const std::string bytes = model_to_bytes(*model);

    CHECK(std::memcmp(bytes.data(), kModelMagic, 4) == 0);
    CHECK(get_le32(bytes, 4) == kModelFormatVersion);
    CHECK(get_le32(bytes, 8) == static_cast<std::uint32_t>(kind));
    CHECK(get_le32(bytes, 12) == 0u);
    CHECK(get_le64(bytes, 16) + kModelHeaderBytes + 4 == bytes.size());
    CHECK(get_le32(bytes, bytes.size() - 4) == crc32(bytes.data(), bytes.size() - 4));

    const std::string path = dir + "/" + kind_name(kind) + ".edgerec";
    save_model(*model, path);
    CHECK(read_file(path) == bytes);
    const auto loaded = load_model(path);
    REQUIRE(loaded->kind() == kind);
    CHECK(loaded->users.ids() == model->users.ids());
    CHECK(loaded->items.ids() == model->items.ids());
    CHECK(loaded->seen.indptr == model->seen.indptr);
    CHECK(loaded->seen.indices == model->seen.indices);
    CHECK(loaded->seen.values == model->seen.values);
    CHECK(loaded->item_popularity == model->item_popularity);
    // Each kind stores the hyper-parameters it uses (and the seed); the others are the kind's
    // defaults after loading, as after fit().
    const Hyper& h = model->hyper;
    const Hyper& g = loaded->hyper;
    const Hyper d = model->defaults();
    const bool factors = kind == ModelKind::svd || kind == ModelKind::svdpp ||
                         kind == ModelKind::ials || kind == ModelKind::bpr || kind == ModelKind::neumf ||
                         kind == ModelKind::two_tower || model->needs_sequences();
    CHECK(g.factors == (factors ? h.factors : d.factors));
    CHECK(g.epochs == (kind == ModelKind::baseline || factors ? h.epochs : d.epochs));
    CHECK(g.lr == (factors && kind != ModelKind::ials ? h.lr : d.lr));
    CHECK(g.alpha == (kind == ModelKind::ials ? h.alpha : d.alpha));
    CHECK(g.cg_steps == (kind == ModelKind::ials ? h.cg_steps : d.cg_steps));
    CHECK(g.neighbors == (kind == ModelKind::itemknn ? h.neighbors : d.neighbors));
    CHECK(g.seed == h.seed);
    // Sequence kinds keep each user's ordered items (and store them), the others none.
    REQUIRE(static_cast<bool>(loaded->sequences) == model->needs_sequences());
    if (loaded->sequences) {
      CHECK(loaded->sequences->offsets == model->sequences->offsets);
      CHECK(loaded->sequences->items == model->sequences->items);
      CHECK(g.max_len == h.max_len);
      CHECK(g.dropout == h.dropout);
    }
    CHECK(loaded->info.loss == model->info.loss);
    CHECK(loaded->info.source == model->info.source);
    CHECK(loaded->info.fit_seconds == model->info.fit_seconds);
    CHECK(loaded->rating_min == model->rating_min);
    CHECK(loaded->rating_max == model->rating_max);

    // Same scores, bit for bit, for every user, for a folded-in user and for predictions.
    std::vector<float> a(model->n_items()), b(model->n_items());
    for (index_t u = 0; u < model->n_users(); ++u) {
      model->score(u, a.data());
      loaded->score(u, b.data());
      REQUIRE(a == b);
      CHECK(model->predict(u, u % model->n_items()) == loaded->predict(u, u % model->n_items()));
    }
    const auto history = model->history(1);
    model->score_new(history, a.data());
    loaded->score_new(history, b.data());
    CHECK(a == b);

    // Saving what was loaded gives the same bytes.
    CHECK(model_to_bytes(*loaded) == bytes);
    CHECK(temp_leftovers(dir).empty());
  }
}

// ---- ordered per-user histories (sequences) ------------------------------------------------

namespace {
// Interactions given out of time order: users u0, u1, u2 (u2 has none), items i0..i3; u1 comes
// back to i1 (kept as a separate row, as DuplicatePolicy::keep leaves it), and two of u1's rows
// share a time (they keep their row order).
Interactions sequence_data() {
  Interactions d;
  for (const char* u : {"u0", "u1", "u2"}) d.users.add(u);
  for (const char* i : {"i0", "i1", "i2", "i3"}) d.items.add(i);
  d.has_time = true;
  d.rows = {{1, 1, 1.0f, 50}, {0, 2, 1.0f, 30}, {1, 3, 1.0f, 10}, {0, 0, 1.0f, 20},
            {1, 0, 1.0f, 50}, {1, 1, 1.0f, 40}, {1, 2, 1.0f, 10}};
  return d;
}

// A kind that asks for the histories (sequence models will): the smallest complete Model.
class SequenceProbe final : public Model {
 public:
  ModelKind kind() const override { return ModelKind::popularity; }
  Hyper defaults() const override { return {}; }
  bool needs_sequences() const override { return true; }
  void score(index_t, float* out) const override { std::fill(out, out + n_items(), 0.0f); }
  void score_new(const std::vector<ItemValue>&, float* out) const override {
    std::fill(out, out + n_items(), 0.0f);
  }
  Attribution explain(const std::vector<ItemValue>&, index_t, std::int64_t) const override { return {}; }
  void save_section(SaveArchive&) const override {}
  void load_section(LoadArchive&) override {}

 protected:
  void fit_impl(const Interactions&, Backend&, const Progress&) override {}
};
}  // namespace

TEST_CASE("Sequences::by_user: each user's items by time, ties in row order, repeats kept",
          "[model_file]") {
  const Sequences s = Sequences::by_user(sequence_data());
  CHECK(s.rows() == 3);
  CHECK(s.offsets == std::vector<std::uint64_t>{0, 2, 7, 7});
  // u0: i0 (20), i2 (30); u1: i3 (10), i2 (10, a later row), i1 (40), i1 (50), i0 (50, later)
  CHECK(s.items == std::vector<index_t>{0, 2, 3, 2, 1, 1, 0});
  CHECK(s.row_size(1) == 5);
  CHECK(s.row(1)[0] == 3);
  CHECK(s.row_size(2) == 0);
  Interactions bad = sequence_data();
  bad.rows[3].item = 4;
  CHECK_THROWS_AS(Sequences::by_user(bad), Error);
}

TEST_CASE("fit() keeps the ordered histories only for kinds that ask; they round-trip in v3",
          "[model_file]") {
  const Interactions data = sequence_data();
  SequenceProbe probe;
  probe.fit(data, Hyper{}, *make_cpu_backend());
  REQUIRE(probe.sequences);
  CHECK(probe.sequences->items == Sequences::by_user(data).items);

  auto model = make_model(ModelKind::popularity);
  model->fit(data, Hyper{}, *make_cpu_backend());
  CHECK(!model->sequences);
  const std::string plain = model_to_bytes(*model);
  model->sequences = probe.sequences;
  const std::string with = model_to_bytes(*model);
  // The block: flag, u64 count + 4 offsets, u64 count + 7 items.
  CHECK(with.size() == plain.size() + 8 + 4 * 8 + 8 + 7 * 4);
  auto loaded = load_bytes(with);
  REQUIRE(loaded->sequences);
  CHECK(loaded->sequences->offsets == probe.sequences->offsets);
  CHECK(loaded->sequences->items == probe.sequences->items);
  CHECK(model_to_bytes(*loaded) == with);
  CHECK(!load_bytes(plain)->sequences);

  // A stripped model keeps the block, with no rows (it has no users).
  loaded->drop_users();
  REQUIRE(loaded->sequences);
  CHECK(loaded->sequences->rows() == 0);
  const auto stripped = load_bytes(model_to_bytes(*loaded));
  REQUIRE(stripped->sequences);
  CHECK(stripped->sequences->items.empty());
}

namespace {
// Largest |entry| of a row (a plain loop: Eigen's AVX-512 maxCoeff trips a false
// -Wmaybe-uninitialized in GCC 12).
float max_abs(const Matrix& m, Eigen::Index row) {
  float a = 0.0f;
  for (Eigen::Index d = 0; d < m.cols(); ++d) a = std::max(a, std::fabs(m(row, d)));
  return a;
}
}  // namespace

TEST_CASE("int8 item matrices: layout, round trip within half a step, untrusted input",
          "[model_file]") {
  Matrix m(3, 5);
  m << 1.0f, -2.0f, 0.5f, 0.0f, 4.0f,  //
      0, 0, 0, 0, 0,                    // an all-zero row: scale 0
      -1e-3f, 2e-3f, 3e-3f, -4e-3f, 5e-3f;
  Writer w;
  w.int8_matrix(m);
  const std::string b = w.take();
  // flag, rows, cols, 3 scales, 15 codes
  REQUIRE(b.size() == 1 + 8 + 8 + 3 * 4 + 15);
  CHECK(get_le64(b, 1) == 3);
  CHECK(get_le64(b, 9) == 5);
  CHECK(static_cast<signed char>(b[1 + 16 + 12 + 4]) == 127);  // the row's largest |entry|
  auto read = [](const std::string& bytes) {
    Reader r(bytes.data(), bytes.size(), "x.edgerec");
    return r.int8_matrix("item_factors", 3, 5);
  };
  const Matrix back = read(b);
  for (Eigen::Index i = 0; i < 3; ++i) {
    const float step = max_abs(m, i) / 127.0f;
    for (Eigen::Index d = 0; d < 5; ++d) CHECK(std::fabs(back(i, d) - m(i, d)) <= 0.5f * step * 1.0001f);
  }
  CHECK(back.row(1).isZero());

  std::string bad = b;
  bad[1 + 16 + 12 + 2] = static_cast<char>(-128);
  CHECK(test::error_of([&] { read(bad); }).find("code 2 is -128") != std::string::npos);
  bad = b;
  put_le(bad, 1 + 16 + 4, 0xBF800000u, 4);  // scale of row 1 = -1.0f
  CHECK(test::error_of([&] { read(bad); }).find("row 1 has a negative") != std::string::npos);
  bad = b;
  // The float nearest FLT_MAX / 127: times the code 127 it overflows to inf.
  const float too_large = std::numeric_limits<float>::max() / 127.0f;
  REQUIRE(std::isinf(too_large * 127.0f));
  std::uint32_t bits;
  std::memcpy(&bits, &too_large, 4);
  put_le(bad, 1 + 16, bits, 4);
  CHECK(test::error_of([&] { read(bad); }).find("row 0 has a negative or too large scale") != std::string::npos);
  bad = b;
  put_le(bad, 1 + 16, 0x7FC00000u, 4);  // NaN scale
  CHECK(test::error_of([&] { read(bad); }) != "");
  CHECK(test::error_of([&] { read(b.substr(0, b.size() - 1)); }).find("exceed") != std::string::npos);
  bad = b;
  put_le(bad, 1, 1ull << 40, 8);
  CHECK(test::error_of([&] {
          Reader r(bad.data(), bad.size(), "x.edgerec");
          r.int8_matrix("item_factors", -1, 5);
        }).find("exceed") != std::string::npos);
}

TEST_CASE("SaveOptions::int8_items: a quarter of the matrix bytes, same ranking quality",
          "[model_file]") {
  for (ModelKind kind : all_kinds()) {
    INFO("kind " << kind_name(kind));
    const auto model = train_small(kind);
    SaveOptions o;
    o.int8_items = true;
    if (!model->embeddings()) {
      CHECK(test::error_of([&] { model_to_bytes(*model, o); }) == std::string(kind_name(kind)) + " models have no item matrix to store as int8");
      continue;
    }
    const std::string f32 = model_to_bytes(*model);
    const std::string int8 = model_to_bytes(*model, o);
    const auto& V = model->embeddings()->V;
    CHECK(f32.size() - int8.size() == static_cast<std::size_t>(V.size()) * 3 - static_cast<std::size_t>(V.rows()) * 4);
    const auto loaded = model_from_bytes(int8.data(), int8.size());
    REQUIRE(loaded->embeddings());
    CHECK(loaded->embeddings()->items_int8);
    CHECK_FALSE(model_from_bytes(f32.data(), f32.size())->embeddings()->items_int8);
    const auto& W = loaded->embeddings()->V;
    for (Eigen::Index i = 0; i < V.rows(); ++i) {
      const float step = max_abs(V, i) / 127.0f;
      const Matrix diff = W.row(i) - V.row(i);
      CHECK(max_abs(diff, 0) <= 0.5f * step * 1.0001f);
    }
    // Re-saving the loaded (dequantised) model as int8 reproduces the same codes.
    CHECK(model_to_bytes(*loaded, o) == int8);
  }
}

TEST_CASE("int8 saves of subnormal, tiny and huge item rows: no NaN, exact zero rows, round trip",
          "[model_file]") {
  // A trained model whose item rows are then set to extremes (the reader accepts any finite
  // float): the largest entry subnormal (127 / max was inf, and 0 * inf NaN cast to int8), tiny
  // (a subnormal scale), just above that, and the largest floats.
  const float fmin = std::numeric_limits<float>::min();
  const float fmax = std::numeric_limits<float>::max();
  const auto model = train_small(ModelKind::ials);
  const std::string f32 = model_to_bytes(*model);
  const Matrix& V = model->embeddings()->V;
  REQUIRE(V.cols() == 3);
  const std::string row0(reinterpret_cast<const char*>(V.data()), static_cast<std::size_t>(V.size()) * 4);
  const std::size_t at = f32.find(row0);
  REQUIRE(at != std::string::npos);
  const std::vector<std::vector<float>> rows = {
      {std::numeric_limits<float>::denorm_min(), 0.0f, -std::numeric_limits<float>::denorm_min()},
      {1e-40f, -3e-39f, 0.0f},
      {1e-37f, 0.0f, -2e-38f},
      {200 * fmin, -fmin, 0.0f},
      {fmax, -fmax, 1.0f},
      {0.0f, 0.0f, 0.0f},
  };
  std::string edited = f32;
  Matrix want = V;
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t d = 0; d < 3; ++d) {
      want(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(d)) = rows[i][d];
      std::memcpy(&edited[at + (i * 3 + d) * 4], &rows[i][d], 4);
    }
  reseal(edited);
  const auto extreme = model_from_bytes(edited.data(), edited.size());
  REQUIRE(extreme->embeddings()->V == want);

  SaveOptions o;
  o.int8_items = true;
  const std::string int8 = model_to_bytes(*extreme, o);
  const auto loaded = model_from_bytes(int8.data(), int8.size());
  const Matrix& W = loaded->embeddings()->V;
  for (Eigen::Index i = 0; i < W.rows(); ++i) {
    INFO("row " << i);
    const float m = max_abs(want, i);
    for (Eigen::Index d = 0; d < 3; ++d) {
      REQUIRE(std::isfinite(W(i, d)));
      if (m < 127 * fmin) {
        CHECK(W(i, d) == 0.0f);  // too small to quantise: stored as zero, off by < 127 FLT_MIN
      } else {
        CHECK(std::fabs(double(W(i, d)) - want(i, d)) <= 0.5 * double(m) / 127 * 1.0001);
      }
    }
  }
  // Re-saving what was loaded reproduces the file, and serving it returns finite scores.
  CHECK(model_to_bytes(*loaded, o) == int8);
  std::vector<float> scratch(loaded->n_items());
  const auto top = loaded->top_k(0, 5, nullptr, scratch.data());
  CHECK(top.size() == 5);
  for (const auto& t : top) CHECK_FALSE(std::isnan(t.score));
}

TEST_CASE("golden files of every format version load and reproduce their results",
          "[model_file]") {
  const fs::path root(EDGEREC_GOLDEN_DIR);
  REQUIRE(fs::is_directory(root));
  int versions = 0, files = 0;
  bool current_version_seen = false;
  for (const auto& vdir : fs::directory_iterator(root)) {
    const std::string vname = vdir.path().filename().string();
    if (!vdir.is_directory() || vname.size() < 2 || vname[0] != 'v') continue;
    ++versions;
    const auto version = static_cast<std::uint32_t>(std::stoul(vname.substr(1)));
    if (version == kModelFormatVersion) {
      current_version_seen = true;
      // The current version has a golden file for every kind.
      for (ModelKind kind : all_kinds())
        CHECK(fs::exists(vdir.path() / (std::string(kind_name(kind)) + ".edgerec")));
    }
    for (const auto& f : fs::directory_iterator(vdir.path())) {
      if (f.path().extension() != ".edgerec") continue;
      ++files;
      const std::string path = f.path().string();
      INFO("golden file " << path);
      const std::string bytes = read_file(path);
      CHECK(read_header(bytes.data(), bytes.size(), path).version == version);
      const auto model = load_model(path);
      // Re-saved as the current version, it serves the same scores (the upgrade path of old
      // files: load, save).
      {
        const auto copy = load_bytes(model_to_bytes(*model));
        std::vector<float> a(model->n_items()), b(model->n_items());
        for (index_t u = 0; u < model->n_users(); ++u) {
          model->score(u, a.data());
          copy->score(u, b.data());
          REQUIRE(a == b);
        }
      }
      // <kind>.edgerec, or <kind>.int8.edgerec for an int8 item matrix (version 2 on), or
      // two-tower.features.edgerec (user features and the item tower; see test_two_tower).
      const std::string stem = f.path().stem().string();
      const bool int8 = stem.size() > 5 && stem.compare(stem.size() - 5, 5, ".int8") == 0;
      // Version 4 on: every golden model carries item metadata (two cold items among its rows),
      // read back exactly as <kind>.meta.tsv lists it (written from the in-memory model).
      if (version >= 4) {
        REQUIRE(model->item_meta);
        const ItemMeta& meta = *model->item_meta;
        fs::path meta_path = f.path().parent_path() / ((int8 ? stem.substr(0, stem.size() - 5) : stem) + ".meta.tsv");
        std::ifstream min(meta_path);
        REQUIRE(min);
        std::string mline;
        index_t row = 0;
        while (std::getline(min, mline)) {
          if (mline.empty() || mline[0] == '#') continue;
          REQUIRE(row < meta.rows());
          std::string genres, year = "-", vec = "-";
          for (const auto& v : meta.values(*meta.field("genres"), row)) genres += (genres.empty() ? "" : "|") + v;
          char buf[64];
          if (meta.field("genres") && meta.numeric.at(0).present[row]) {
            std::snprintf(buf, sizeof(buf), "%.9g", static_cast<double>(meta.numeric[0].values[row]));
            year = buf;
          }
          if (meta.has_vector.at(row)) {
            vec.clear();
            for (Eigen::Index d = 0; d < meta.vectors.cols(); ++d) {
              std::snprintf(buf, sizeof(buf), "%s%.9g", d ? "," : "", static_cast<double>(meta.vectors(row, d)));
              vec += buf;
            }
          }
          CHECK(mline == std::to_string(row) + "\t" + meta.ids.id(row) + "\t" + std::to_string(meta.described[row]) + "\t" +
                             meta.titles[row] + "\t" + genres + "\t" + year + "\t" + vec);
          // Rows below the item count are the model's items, in index order.
          if (row < model->n_items()) CHECK(meta.ids.id(row) == model->items.id(row));
          ++row;
        }
        CHECK(row == meta.rows());
        CHECK(meta.rows() == model->n_items() + 2);
      } else {
        CHECK_FALSE(model->item_meta);
      }
      // <kind>.edgerec or <kind>.<variant>.edgerec (int8; two-tower.features: its section version 3).
      CHECK(std::string(kind_name(model->kind())) == stem.substr(0, stem.find('.')));
      if (model->embeddings()) CHECK(model->embeddings()->items_int8 == int8);

      // user \t rank \t item \t score, '#' comments.
      fs::path expected_path = f.path();
      expected_path.replace_extension(".expected.tsv");
      std::ifstream in(expected_path);
      REQUIRE(in);
      std::map<std::string, std::vector<std::pair<std::string, float>>> expected;
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream ls(line);
        std::string user, item;
        int rank;
        float score;
        REQUIRE(static_cast<bool>(std::getline(ls, user, '\t') >> rank));
        ls.ignore(1);
        REQUIRE(static_cast<bool>(std::getline(ls, item, '\t') >> score));
        REQUIRE(rank == static_cast<int>(expected[user].size()) + 1);
        expected[user].push_back({item, score});
      }
      REQUIRE(!expected.empty());
      for (const auto& entry : expected) CHECK(model->users.find(entry.first) >= 0);

      // Every user, including any with no unseen item left (and so no line in the file).
      std::vector<float> scores(model->n_items());
      for (index_t u = 0; u < model->n_users(); ++u) {
        INFO("user " << model->users.id(u));
        const auto& rows = expected[model->users.id(u)];
        const auto got = top_unseen(*model, u, 5);
        REQUIRE(got.size() == rows.size());
        model->score(u, scores.data());
        // Version 3 files hold served scores: a rating model's are clipped to its rating range
        // (the ranking is the raw scores'). Older ones were written before the serving API
        // clipped, and hold raw scores (v1 and v2 mean-baseline have scores above 5 stars).
        const auto served = [&](float x) {
          return version >= 3 && model->predicts_ratings() && model->rating_max > model->rating_min
                     ? std::clamp(x, model->rating_min, model->rating_max)
                     : x;
        };
        for (std::size_t k = 0; k < rows.size(); ++k) {
          const float want = rows[k].second;
          const float tol = 1e-5f * std::max(1.0f, std::fabs(want));
          // Rank by rank (robust to near-ties swapping on another CPU), and item by item.
          CHECK(std::fabs(served(got[k].score) - want) <= tol);
          const index_t i = model->items.at(rows[k].first, "item");
          CHECK(std::fabs(served(scores[i]) - want) <= tol);
          CHECK(!model->seen.contains(u, i));
        }
      }
    }
  }
  CHECK(versions >= 1);
  CHECK(current_version_seen);
  CHECK(files >= static_cast<int>(all_kinds().size()));
}

TEST_CASE("every truncation of a model file is an error", "[model_file]") {
  for (ModelKind kind : all_kinds()) {
    INFO("kind " << kind_name(kind));
    const std::string bytes = model_to_bytes(*train_small(kind));
    for (std::size_t n = 0; n < bytes.size(); ++n)
      REQUIRE_THROWS_AS(load_bytes(bytes.substr(0, n)), Error);
    REQUIRE_NOTHROW(load_bytes(bytes));
  }
}

TEST_CASE("every single bit flip of a model file is an error", "[model_file]") {
  // Every bit of the header and checksum, and a seeded sample of payload bits (CRC-32 detects
  // every single-bit error, so the sample checks the wiring, not the mathematics).
  Rng rng(17);
  for (ModelKind kind : all_kinds()) {
    INFO("kind " << kind_name(kind));
    const std::string bytes = model_to_bytes(*train_small(kind));
    std::vector<std::size_t> bits;
    for (std::size_t bit = 0; bit < kModelHeaderBytes * 8; ++bit) bits.push_back(bit);
    for (std::size_t bit = (bytes.size() - 4) * 8; bit < bytes.size() * 8; ++bit) bits.push_back(bit);
    for (int t = 0; t < 1500; ++t)
      bits.push_back(kModelHeaderBytes * 8 + rng.below((bytes.size() - kModelHeaderBytes - 4) * 8));
    std::string b = bytes;
    for (std::size_t bit : bits) {
      INFO("bit " << bit);
      b[bit / 8] ^= static_cast<char>(1u << (bit % 8));
      REQUIRE_THROWS_AS(load_bytes(b), Error);
      b[bit / 8] = bytes[bit / 8];
    }
  }
}

TEST_CASE("forged edits with a valid checksum load cleanly or fail cleanly", "[model_file]") {
  // The checksum is recomputed after each edit, so only the parser's own checks stand between
  // the edit and the model: every edit must give an Error or a model that scores without
  // crashing (a float changed to another finite float is a valid model). A seeded sample of
  // positions per kind keeps this fast under the sanitizers.
  Rng rng(23);
  for (ModelKind kind : all_kinds()) {
    INFO("kind " << kind_name(kind));
    const std::string bytes = model_to_bytes(*train_small(kind, 4));
    const std::size_t payload = bytes.size() - kModelHeaderBytes - 4;
    int rejected = 0, accepted = 0;
    for (int t = 0; t < 600; ++t) {
      const std::size_t pos = kModelHeaderBytes + rng.below(payload);
      std::string b = bytes;
      b[pos] ^= static_cast<char>(1u << rng.below(8));
      reseal(b);
      INFO("byte " << pos);
      (load_or_error(b) ? accepted : rejected)++;
    }
    // Huge values written over 8-byte windows: forged counts, dimensions and offsets.
    for (int t = 0; t < 200; ++t) {
      const std::size_t pos = kModelHeaderBytes + rng.below(payload - 8);
      std::string b = bytes;
      put_le(b, pos, (std::uint64_t{1} << (32 + rng.below(32))) | rng.below(1u << 20), 8);
      reseal(b);
      INFO("u64 at " << pos);
      (load_or_error(b) ? accepted : rejected)++;
    }
    CHECK(rejected > 0);
  }
}

// ---- files ----------------------------------------------------------------------------------

TEST_CASE("load_model gives clean errors for unusable paths", "[model_file]") {
  const std::string dir = test::temp_dir("model_file_paths");
  CHECK(test::error_of([&] { load_model(dir + "/missing.edgerec"); }).find("missing.edgerec") !=
        std::string::npos);
  CHECK(test::error_of([&] { load_model(dir); }).find("directory") != std::string::npos);
  write_file(dir + "/empty.edgerec", "");
  CHECK(test::error_of([&] { load_model(dir + "/empty.edgerec"); }) ==
        dir + "/empty.edgerec: empty file, not an edgerec model");
  write_file(dir + "/text.edgerec", "user,item\n1,2\n");
  CHECK(test::error_of([&] { load_model(dir + "/text.edgerec"); }).find("bad magic") != std::string::npos);
}

TEST_CASE("save_model is atomic", "[model_file]") {
  const std::string dir = test::temp_dir("model_file_atomic");
  const auto model = train_small(ModelKind::svd);

  SECTION("a target in a missing directory fails and creates nothing") {
    const std::string path = dir + "/no/such/dir/m.edgerec";
    const auto e = test::error_of([&] { save_model(*model, path); });
    CHECK(e.find(path) != std::string::npos);
    CHECK(!fs::exists(dir + "/no"));
  }
  SECTION("a failed rename leaves the target and no temporary file") {
    const std::string path = dir + "/occupied";
    fs::create_directories(path);
    write_file(path + "/keep.txt", "keep");
    CHECK(test::error_of([&] { save_model(*model, path); }).find(path) != std::string::npos);
    CHECK(read_file(path + "/keep.txt") == "keep");
    CHECK(temp_leftovers(dir).empty());
  }
  SECTION("a model that cannot be serialised never touches the previous file") {
    const std::string path = dir + "/prev.edgerec";
    save_model(*model, path);
    const std::string before = read_file(path);
    auto broken = train_small(ModelKind::svd, 9);
    broken->item_popularity[0] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_AS(save_model(*broken, path), Error);
    CHECK(read_file(path) == before);
    CHECK(temp_leftovers(dir).empty());
  }
  SECTION("a write failure midway (file size limit, like a full disk) keeps the old model") {
    const std::string path = dir + "/full.edgerec";
    auto tiny = train_small(ModelKind::popularity);
    save_model(*tiny, path);
    const std::string before = read_file(path);
    const std::string bigger = model_to_bytes(*model);
    REQUIRE(bigger.size() > before.size() + 64);

    // RLIMIT_FSIZE makes write() fail with EFBIG even for root; SIGXFSZ would kill us first.
    rlimit old{};
    REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit low = old;
    low.rlim_cur = before.size() + 32;
    REQUIRE(setrlimit(RLIMIT_FSIZE, &low) == 0);
    const auto e = test::error_of([&] { save_model(*model, path); });
    setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);

    CHECK(e.find(path) != std::string::npos);
    CHECK(read_file(path) == before);
    CHECK(load_model(path)->kind() == ModelKind::popularity);
    CHECK(temp_leftovers(dir).empty());
  }
  SECTION("a successful save replaces the previous model") {
    const std::string path = dir + "/replace.edgerec";
    save_model(*train_small(ModelKind::popularity), path);
    save_model(*model, path);
    CHECK(load_model(path)->kind() == ModelKind::svd);
    CHECK(temp_leftovers(dir).empty());
  }
}

TEST_CASE("the writer refuses every field the reader would refuse", "[model_file]") {
  struct Case {
    const char* field;
    ModelKind kind;
    std::function<void(Model&)> damage;
  };
  const std::vector<Case> cases = {
      {"info.threads", ModelKind::svd, [](Model& m) { m.info.threads = 0; }},
      {"info.threads", ModelKind::svd, [](Model& m) { m.info.threads = 70000; }},
      {"info.fit_seconds", ModelKind::svd, [](Model& m) { m.info.fit_seconds = -1; }},
      {"svd.hyper.factors", ModelKind::svd, [](Model& m) { m.hyper.factors = 4097; }},
      {"svd.hyper.epochs", ModelKind::svd, [](Model& m) { m.hyper.epochs = -1; }},
      {"ials.hyper.cg_steps", ModelKind::ials, [](Model& m) { m.hyper.cg_steps = 100001; }},
      {"itemknn.hyper.neighbors", ModelKind::itemknn, [](Model& m) { m.hyper.neighbors = 0; }},
      {"bpr.hyper.lr", ModelKind::bpr, [](Model& m) { m.hyper.lr = -0.5f; }},
      {"ials.hyper.alpha", ModelKind::ials, [](Model& m) { m.hyper.alpha = -1.0f; }},
      {"item_popularity", ModelKind::svd, [](Model& m) { m.item_popularity[0] = -1.0f; }},
      {"rating_max", ModelKind::svd, [](Model& m) { m.rating_min = 5, m.rating_max = 1; }},
      {"user_ids", ModelKind::svd,
       [](Model& m) {
         auto ids = m.users.ids();
         ids[0] = std::string(70000, 'u');
         m.users = IdMap::from_ids(ids);
       }},
      {"sequences.offsets", ModelKind::popularity,
       [](Model& m) {
         m.sequences = Sequences{};  // no row for any user
       }},
      {"sequences.items", ModelKind::popularity,
       [](Model& m) {
         Sequences s;
         s.offsets.assign(m.n_users() + 1, 1);
         s.offsets[0] = 0;
         s.items = {m.n_items()};  // user 0 has one item, out of range
         m.sequences = s;
       }},
  };
  const std::string dir = test::temp_dir("model_file_writer_limits");
  for (const Case& c : cases) {
    INFO(c.field);
    auto m = train_small(c.kind);
    REQUIRE_NOTHROW(load_bytes(model_to_bytes(*m)));
    c.damage(*m);
    // The reader refuses exactly this field (bytes forged past the writer's check would say so)...
    const std::string e = test::error_of([&] { save_model(*m, dir + "/m.edgerec"); });
    CHECK_THAT(e, Catch::StartsWith(std::string("cannot save the model: ") + c.field + " ") &&
                      Catch::EndsWith("(the reader would refuse the file)"));
    CHECK(!fs::exists(dir + "/m.edgerec"));
    CHECK(temp_leftovers(dir).empty());
  }
  // The limits are the reader's: the extremes it accepts are saved and load back.
  auto edge = train_small(ModelKind::svd);
  edge->info.threads = 65536;
  edge->info.fit_seconds = 0;
  CHECK(load_bytes(model_to_bytes(*edge))->info.threads == 65536);
}

TEST_CASE("a save removes stale temporary files of earlier saves of its target", "[model_file]") {
  const std::string dir = test::temp_dir("model_file_stale");
  for (const auto& e : fs::directory_iterator(dir)) fs::remove_all(e.path());
  const std::string target = dir + "/m.edgerec";
  // A pid above Linux's maximum (2^22) never runs: the writer of such a file died.
  const std::string dead = "4194305";
  const std::string live = std::to_string(::getpid());
  const auto make = [&](const std::string& name, std::chrono::seconds age) {
    write_file(dir + "/" + name, "partial model");
    fs::last_write_time(dir + "/" + name, fs::file_time_type::clock::now() - age);
  };
  using std::chrono::hours;
  using std::chrono::minutes;
  using std::chrono::seconds;
  make("m.edgerec.tmp-" + dead + "-0123456789abcdef", minutes(2));     // killed save: removed
  make("m.edgerec.tmp-0123456789abcdef", hours(25));                    // old name, a day old: removed
  make("m.edgerec.tmp-" + live + "-fedcba9876543210", hours(25));       // running pid, a day idle: removed
  make("m.edgerec.tmp-" + dead + "-00000000000000aa", seconds(5));      // just written: kept
  make("m.edgerec.tmp-" + live + "-00000000000000bb", minutes(30));     // a save still running: kept
  make("m.edgerec.tmp-0123456789abcdee", hours(2));                     // old name, recent: kept
  make("other.edgerec.tmp-" + dead + "-0123456789abcdef", hours(48));   // another target: kept
  make("m.edgerec.tmp-" + dead + "-0123456789abcdeX", hours(48));       // not our pattern: kept
  make("m.edgerec.tmp-" + dead + "-0123456789abcdef.bak", hours(48));   // not our pattern: kept
  make("m.edgerec.tmp-x" + dead + "-0123456789abcdef", hours(48));      // not our pattern: kept
  fs::create_directory(dir + "/m.edgerec.tmp-" + dead + "-00000000000000cc");  // a directory: kept
  fs::last_write_time(dir + "/m.edgerec.tmp-" + dead + "-00000000000000cc",
                      fs::file_time_type::clock::now() - hours(48));

  save_model(*train_small(ModelKind::popularity), target);
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(dir)) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  std::vector<std::string> want = {
      "m.edgerec",
      "m.edgerec.tmp-" + dead + "-00000000000000aa",
      "m.edgerec.tmp-" + dead + "-00000000000000cc",
      "m.edgerec.tmp-" + dead + "-0123456789abcdeX",
      "m.edgerec.tmp-" + dead + "-0123456789abcdef.bak",
      "m.edgerec.tmp-" + live + "-00000000000000bb",
      "m.edgerec.tmp-0123456789abcdee",
      "m.edgerec.tmp-x" + dead + "-0123456789abcdef",
      "other.edgerec.tmp-" + dead + "-0123456789abcdef",
  };
  std::sort(want.begin(), want.end());
  CHECK(left == want);
  CHECK(load_model(target)->kind() == ModelKind::popularity);
}
