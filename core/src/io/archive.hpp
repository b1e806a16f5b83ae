// Internal: the cereal archives of the model file's payload (the byte layout is documented in
// edgerec/model_file.hpp). Saves write the current format version; LoadArchive reads every version, with
// branches on format_version() where versions 1 and 2 differ. (Saves write format version 4:
// version 4 only added the optional item metadata section at the end of the common part.)
//
// SaveArchive and LoadArchive are cereal archives (derived from cereal::OutputArchive and
// cereal::InputArchive), so a model kind describes its section with cereal's own idioms: a
// member `template <class Archive> void serialize(Archive& ar, std::uint32_t version)`, a
// CEREAL_CLASS_VERSION for it, and cereal::make_nvp for every field. They write to and read from
// memory through Writer and Reader, not through cereal's iostream archives (those put ~100 KB of
// iostream and locale code into the wasm build; see io/archive.cpp). The bytes are those of a
// cereal PortableBinary archive of the same fields: a u8 1 (little-endian), then little-endian
// fixed-width fields, a class version (u32) before the first field of each versioned class.
//
// Trust: every load goes through Reader, which checks each count against the bytes left and a
// hard limit before allocating anything and refuses NaN and infinity. Names given with
// cereal::make_nvp nest with '.', and every error names the file and that path:
// "m.edgerec: field 'ials.item_factors': 4294967296 x 64 floats exceed the 1200 bytes left".
// Saving checks what the reader would refuse (non-finite floats, values outside a field's range)
// and throws Error before anything is written, so a file that cannot be read back is never made.
//
// Field types (anything else fails to compile):
//   std::uint8_t, std::int32_t, std::uint32_t, std::int64_t, std::uint64_t, float, double —
//     never std::size_t or long, whose width differs between native and wasm32 (natively they
//     are std::uint64_t and compile; the wasm32 build refuses them);
//   std::string (at most kMaxStringBytes);
//   std::vector of float, index_t, std::uint64_t or std::string (u64 count, then the elements):
//     at most kMaxElements elements, or io::at_most() for another limit and an index bound;
//   Matrix (u64 rows, u64 cols, f32 row-major): any shape, or io::shaped() for the expected one;
//   Vector (u64 count, f32s) and Csr (see the layout) through io::shaped() only;
//   std::optional<T> of a scalar: u8 presence flag 0 or 1, then T when 1;
//   io::ItemMatrix (f32 or int8 item matrix), io::HyperFields (a kind's hyper-parameters).
//
// Thread-safety: an archive is used by one thread; distinct archives are independent.
#pragma once

#include <cereal/cereal.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "edgerec/model.hpp"
#include "edgerec/model_file.hpp"
#include "serve_only.hpp"

namespace edgerec {

constexpr std::size_t kMaxStringBytes = std::size_t{1} << 16;
// Default element limit of a vector field: as many as an index can count.
constexpr std::uint64_t kMaxElements = std::numeric_limits<std::int32_t>::max();

class SaveArchive : public cereal::OutputArchive<SaveArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit SaveArchive(const SaveOptions& options = {});
  SaveArchive(const SaveArchive&) = delete;
  SaveArchive& operator=(const SaveArchive&) = delete;

  const SaveOptions& options() const { return writer_.options(); }
  Writer& writer() { return writer_; }
  // The bytes written so far (the endianness byte first).
  std::string take() { return writer_.take(); }

  // The field being written, "a.b.c" (for messages); push/pop are called by make_nvp's save.
  const std::string& field() const { return path_; }
  void push(const char* name);
  void pop();
  // Throws Error("cannot save the model: <field()> <what> (the reader would refuse the file)").
  [[noreturn]] void refuse(const std::string& what) const;
  // The same for the field `name` inside the current one.
  [[noreturn]] void refuse(const char* name, const std::string& what) const;

 private:
  Writer writer_;
  std::string path_;
  std::vector<std::size_t> marks_;
};

class LoadArchive : public cereal::InputArchive<LoadArchive, cereal::AllowEmptyClassElision> {
 public:
  // Reads the payload bytes [data, data + size), which must outlive the archive; `name` (a
  // path) starts every error message. Throws Error unless the first byte is 1 (little-endian).
  LoadArchive(const char* data, std::size_t size, std::string name);
  LoadArchive(const LoadArchive&) = delete;
  LoadArchive& operator=(const LoadArchive&) = delete;

  Reader& reader() { return reader_; }
  std::size_t remaining() const { return reader_.remaining(); }
  // The file's format version (set by model_from_bytes()), for the reader branches of versions
  // 1 and 2, which are read through this archive too.
  std::uint32_t format_version() const { return format_version_; }
  void set_format_version(std::uint32_t v) { format_version_ = v; }

  // The field being read, "a.b.c"; push/pop are called by make_nvp's load.
  const std::string& field() const { return path_; }
  const char* field_c() const { return path_.c_str(); }
  void push(const char* name);
  void pop();
  // Throws Error("<name>: field '<field()>': <what>").
  [[noreturn]] void fail(const std::string& what) const { reader_.fail(path_.c_str(), what); }
  // The same for the field `name` inside the current one ("<field()>.<name>").
  [[noreturn]] void fail(const char* name, const std::string& what) const;

 private:
  Reader reader_;
  std::string path_;
  std::vector<std::size_t> marks_;
  std::uint32_t format_version_ = kModelFormatVersion;
};

// ---- field names --------------------------------------------------------------------------

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(SaveArchive& ar, const cereal::NameValuePair<T>& nvp) {
  ar.push(nvp.name);
  ar(nvp.value);
  ar.pop();
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(LoadArchive& ar, cereal::NameValuePair<T>& nvp) {
  ar.push(nvp.name);
  ar(nvp.value);
  ar.pop();
}

// ---- scalars ------------------------------------------------------------------------------

template <class T>
constexpr bool kScalarField =
    std::is_same_v<T, std::uint8_t> || std::is_same_v<T, std::int32_t> ||
    std::is_same_v<T, std::uint32_t> || std::is_same_v<T, std::int64_t> ||
    std::is_same_v<T, std::uint64_t> || std::is_same_v<T, float> || std::is_same_v<T, double>;

void save_scalar(SaveArchive& ar, std::uint8_t v);
void save_scalar(SaveArchive& ar, std::int32_t v);
void save_scalar(SaveArchive& ar, std::uint32_t v);
void save_scalar(SaveArchive& ar, std::int64_t v);
void save_scalar(SaveArchive& ar, std::uint64_t v);
void save_scalar(SaveArchive& ar, float v);   // refuses NaN/inf
void save_scalar(SaveArchive& ar, double v);  // refuses NaN/inf
void load_scalar(LoadArchive& ar, std::uint8_t& v);
void load_scalar(LoadArchive& ar, std::int32_t& v);
void load_scalar(LoadArchive& ar, std::uint32_t& v);
void load_scalar(LoadArchive& ar, std::int64_t& v);
void load_scalar(LoadArchive& ar, std::uint64_t& v);
void load_scalar(LoadArchive& ar, float& v);   // refuses NaN/inf
void load_scalar(LoadArchive& ar, double& v);  // refuses NaN/inf

template <class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
void CEREAL_SAVE_FUNCTION_NAME(SaveArchive& ar, const T& v) {
  static_assert(kScalarField<T>, "model file fields are u8, i32, u32, i64, u64, f32 or f64");
  save_scalar(ar, v);
}
template <class T, std::enable_if_t<std::is_arithmetic_v<T>, int> = 0>
void CEREAL_LOAD_FUNCTION_NAME(LoadArchive& ar, T& v) {
  static_assert(kScalarField<T>, "model file fields are u8, i32, u32, i64, u64, f32 or f64");
  load_scalar(ar, v);
}

// u8 presence flag (0 or 1), then the value when 1.
template <class T>
void CEREAL_SAVE_FUNCTION_NAME(SaveArchive& ar, const std::optional<T>& v) {
  save_scalar(ar, static_cast<std::uint8_t>(v ? 1 : 0));
  if (v) ar(*v);
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(LoadArchive& ar, std::optional<T>& v) {
  std::uint8_t has = 0;
  load_scalar(ar, has);
  if (has > 1) ar.fail("presence flag is " + std::to_string(has) + ", expected 0 or 1");
  v.reset();
  if (!has) return;
  T value{};
  ar(value);
  v = value;
}

// ---- strings, vectors, matrices ---------------------------------------------------------------

void CEREAL_SAVE_FUNCTION_NAME(SaveArchive& ar, const std::string& v);
void CEREAL_LOAD_FUNCTION_NAME(LoadArchive& ar, std::string& v);
void CEREAL_SAVE_FUNCTION_NAME(SaveArchive& ar, const std::vector<std::string>& v);
void CEREAL_LOAD_FUNCTION_NAME(LoadArchive& ar, std::vector<std::string>& v);
void CEREAL_SAVE_FUNCTION_NAME(SaveArchive& ar, const std::vector<float>& v);
void CEREAL_LOAD_FUNCTION_NAME(LoadArchive& ar, std::vector<float>& v);
void CEREAL_SAVE_FUNCTION_NAME(SaveArchive& ar, const std::vector<index_t>& v);
void CEREAL_LOAD_FUNCTION_NAME(LoadArchive& ar, std::vector<index_t>& v);
void CEREAL_SAVE_FUNCTION_NAME(SaveArchive& ar, const std::vector<std::uint64_t>& v);
void CEREAL_LOAD_FUNCTION_NAME(LoadArchive& ar, std::vector<std::uint64_t>& v);
void CEREAL_SAVE_FUNCTION_NAME(SaveArchive& ar, const Matrix& m);
void CEREAL_LOAD_FUNCTION_NAME(LoadArchive& ar, Matrix& m);

namespace io {

// Ranges of integer fields: the reader refuses values outside them, and the writer refuses to
// save them. They are the ranges Model::fit() accepts, so every trained model loads back.
struct IntRange {
  std::int64_t lo, hi;
};
constexpr IntRange kFactorsRange{1, 4096};
constexpr IntRange kEpochsRange{0, 100000};
constexpr IntRange kNeighborsRange{1, std::numeric_limits<std::int32_t>::max()};
constexpr IntRange kCgStepsRange{0, 100000};
std::string range_text(IntRange r);  // "[lo, hi]"

// Field wrappers: what the loader must check beyond the type. They refer to the caller's object
// (written on load, only read on save: the const overloads of the makers are for saving).

// A vector of at most `max` elements; for index vectors, every element < `bound`.
struct Limited {
  enum class Type { floats, indices, u64s, strings } type;
  void* v;
  std::uint64_t max;
  index_t bound;
};
inline Limited at_most(const std::vector<float>& v, std::uint64_t max) {
  return {Limited::Type::floats, const_cast<std::vector<float>*>(&v), max, 0};
}
inline Limited at_most(const std::vector<index_t>& v, std::uint64_t max, index_t bound) {
  return {Limited::Type::indices, const_cast<std::vector<index_t>*>(&v), max, bound};
}
inline Limited at_most(const std::vector<std::uint64_t>& v, std::uint64_t max) {
  return {Limited::Type::u64s, const_cast<std::vector<std::uint64_t>*>(&v), max, 0};
}
inline Limited at_most(const std::vector<std::string>& v, std::uint64_t max) {
  return {Limited::Type::strings, const_cast<std::vector<std::string>*>(&v), max, 0};
}

// A Matrix with `rows` rows and `cols` columns (a negative one accepts any), a Vector of `rows`
// elements, or a Csr with `rows` rows and `cols` columns.
struct Shaped {
  enum class Type { matrix, vector, csr } type;
  void* p;
  std::int64_t rows, cols;
};
inline Shaped shaped(const Matrix& m, std::int64_t rows, std::int64_t cols) {
  return {Shaped::Type::matrix, const_cast<Matrix*>(&m), rows, cols};
}
inline Shaped shaped(const Vector& v, std::int64_t size) {
  return {Shaped::Type::vector, const_cast<Vector*>(&v), size, -1};
}
inline Shaped shaped(const Csr& c, index_t rows, index_t cols) {
  return {Shaped::Type::csr, const_cast<Csr*>(&c), rows, cols};
}

// An item matrix (format v2 on): stored as f32 when !int8, else as int8 codes with a scale per
// row (Writer::int8_matrix), read back dequantised. Shape rules as Shaped.
struct ItemMatrix {
  Matrix* m;
  bool int8;
  std::int64_t rows, cols;
};
inline ItemMatrix item_matrix(const Matrix& m, bool int8, std::int64_t rows, std::int64_t cols) {
  return {const_cast<Matrix*>(&m), int8, rows, cols};
}

// The hyper-parameters a model kind stores in its section: the fields named in `fields` (each
// an optional: u8 presence flag, then i32 or f32), in the order of Hyper, then u64 seed. Loading
// resets the Hyper, reads those fields and checks the ranges Model::fit() accepts (the reader of
// the file then fills absent ones from the kind's defaults, as fit() does); saving refuses values
// outside them, and fields not named are not stored.
enum HyperField : unsigned {
  kFactors = 1u << 0,   // i32 in [1, 4096]
  kEpochs = 1u << 1,    // i32 in [0, 100000]
  kLr = 1u << 2,        // f32 >= 0
  kReg = 1u << 3,       // f32 >= 0
  kBiasReg = 1u << 4,   // f32 >= 0
  kAlpha = 1u << 5,     // f32 >= 0
  kInitStd = 1u << 6,   // f32 >= 0
  kNeighbors = 1u << 7, // i32 in [1, 2^31 - 1]
  kCgSteps = 1u << 8,   // i32 in [0, 100000]
  kAllHyper = (1u << 9) - 1,  // every one: the common part of format versions 1 and 2
};
struct HyperFields {
  Hyper* h;
  unsigned fields;
};
inline HyperFields hyper_fields(const Hyper& h, unsigned fields) {
  return {const_cast<Hyper*>(&h), fields};
}

// The start of a kind's serialize(): checks the section version and writes or reads the kind's
// hyper-parameters (`fields`, see HyperFields). Version 0 is the model part of a format version 1
// or 2 file (EDGEREC_MODEL_SECTION's load_section() passes it), which has no section version and
// no hyper-parameters (they were in the common part); in a version 3 file 0 and versions newer
// than `current` (the kind's kSectionVersion) are refused.
template <class Archive>
void section_start(Archive& ar, std::uint32_t version, std::uint32_t current, Hyper& hyper,
                   unsigned fields) {
  if constexpr (Archive::is_loading::value) {
    const bool legacy = ar.format_version() <= 2;
    if (legacy != (version == 0) || version > current)
      ar.fail("section version " + std::to_string(version) +
              (version == 0 ? " is invalid" : " is newer than this edgerec reads (" +
                                                  std::to_string(current) + "); upgrade edgerec"));
  }
  if (version >= 1) ar(cereal::make_nvp("hyper", hyper_fields(hyper, fields)));
}

}  // namespace io

void CEREAL_SAVE_FUNCTION_NAME(SaveArchive& ar, const io::Limited& v);
void CEREAL_LOAD_FUNCTION_NAME(LoadArchive& ar, io::Limited& v);
void CEREAL_SAVE_FUNCTION_NAME(SaveArchive& ar, const io::Shaped& v);
void CEREAL_LOAD_FUNCTION_NAME(LoadArchive& ar, io::Shaped& v);
void CEREAL_SAVE_FUNCTION_NAME(SaveArchive& ar, const io::ItemMatrix& v);
void CEREAL_LOAD_FUNCTION_NAME(LoadArchive& ar, io::ItemMatrix& v);
void CEREAL_SAVE_FUNCTION_NAME(SaveArchive& ar, const io::HyperFields& v);
void CEREAL_LOAD_FUNCTION_NAME(LoadArchive& ar, io::HyperFields& v);

}  // namespace edgerec

// A model kind's section: CEREAL_CLASS_VERSION(TYPE, TYPE::kSectionVersion) and TYPE's
// Model::save_section() / load_section() overrides, which run TYPE's serialize() under the kind's
// name (so its fields read "ials.item_factors"; the serving-only build leaves saving out). Use at
// global scope after the class, in the kind's .cpp. TYPE declares a public `static constexpr
// std::uint32_t kSectionVersion`, a private serialize(Archive&, std::uint32_t version) that starts
// with io::section_start(), and `friend class cereal::access`. In a format version 1 or 2 file (no
// class version: the model part came straight after the common part), load_section() calls
// serialize() with version 0. A change to a kind's section bumps its kSectionVersion and keeps a
// branch for the older ones.
#define EDGEREC_MODEL_SECTION(TYPE)                                          \
  CEREAL_CLASS_VERSION(TYPE, TYPE::kSectionVersion)                          \
  void TYPE::save_section(::edgerec::SaveArchive& ar) const {               \
    EDGEREC_TRAINING_ONLY("saving a model");                                 \
    ar(::cereal::make_nvp(::edgerec::kind_name(kind()), *this));            \
  }                                                                          \
  void TYPE::load_section(::edgerec::LoadArchive& ar) {                     \
    if (ar.format_version() >= 3) {                                          \
      ar(::cereal::make_nvp(::edgerec::kind_name(kind()), *this));          \
    } else {                                                                 \
      ar.push(::edgerec::kind_name(kind()));                                 \
      serialize(ar, 0);                                                      \
      ar.pop();                                                              \
    }                                                                        \
  }
