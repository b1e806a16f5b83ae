// edgerec/model_file.hpp — the model file: one self-describing, checksummed binary format.
//
// Byte layout, format version 4 (all integers little-endian, no padding):
//
//   offset  size  field
//   0       4     magic "ERM1"
//   4       4     u32 format version (kModelFormatVersion)
//   8       4     u32 model kind (ModelKind; 1 popularity ... 12 sasrec)
//   12      4     u32 flags, 0 (reserved)
//   16      8     u64 payload length N
//   24      N     payload: a cereal PortableBinary archive, written and read in memory by the
//                 archives of core/src/io/archive.hpp (on Writer and Reader, below):
//                   byte 0        — u8 1 (cereal's little-endian flag; any other value is refused)
//                   common part   — what every model has, in this order:
//                                   str format_tag "edgerec-model"; strs user_ids; strs item_ids
//                                   (index order); csr seen (rows = users, cols = items);
//                                   f32s item_popularity (one per item);
//                                   info: f64 fit_seconds (>= 0), u64 train_rows, str source,
//                                   f32s loss (at most 2^20), i32 threads (1..65536);
//                                   f32 rating_min, f32 rating_max (>= rating_min);
//                                   u8 sequences flag 0/1, and when 1 each user's items in time
//                                   order (Sequences in edgerec/model.hpp): u64s offsets (users+1,
//                                   from 0, non-decreasing, the last = the item count), u32s
//                                   items (each < the item count, and among that user's seen
//                                   items; repeats allowed);
//                                   u8 item_meta flag 0/1 (version 4 on), and when 1 the item
//                                   metadata section (edgerec/item_meta.hpp), with its own cereal
//                                   class version (u32, 1 so far; 0 and newer are refused), then:
//                                   str source; strs cold_ids (the rows after the model's items:
//                                   items with metadata but no interactions; all ids distinct
//                                   from item_ids); u32s undescribed (rows without metadata,
//                                   < rows); strs titles (one per row, rows = items + cold);
//                                   u32 categorical field count (<= 1024), each: str name, strs
//                                   vocabulary (distinct), u64s offsets (rows+1, from 0,
//                                   non-decreasing), u32s codes (each row's distinct, ascending,
//                                   < the vocabulary size); u32 numeric field count (<= 1024),
//                                   each: str name, f32s values (rows), u32s missing (rows
//                                   without a value); u8 vectors flag 0/1, and when 1 matrix
//                                   vectors (rows x 1..4096) and u32s missing (rows without a
//                                   vector). Field names are distinct and never "title".
//                   kind section  — written and read by the model kind itself through cereal
//                                   (its serialize(Archive&, version), EDGEREC_MODEL_SECTION):
//                                   u32 section version (cereal's class version of the kind,
//                                   1 for every kind so far; 0 and newer ones are refused), then
//                                   hyper: the kind's own hyper-parameters, each a u8 presence
//                                   flag 0/1 and, when 1, its value, in this order where the kind
//                                   has them — factors i32 [1, 4096], epochs i32 [0, 100000],
//                                   lr f32, reg f32, bias_reg f32, alpha f32, init_std f32 (each
//                                   >= 0), neighbors i32 [1, 2^31-1], cg_steps i32 [0, 100000] —
//                                   then u64 seed (always); then the kind's parameters:
//                     popularity      no hyper-parameter; embeddings (factor_dims 0, one column)
//                     mean-baseline   no hyper-parameter; embeddings (factor_dims 0, one bias
//                                     column); f32 global_mean
//                     baseline        epochs, reg, bias_reg; as mean-baseline
//                     svd             factors, epochs, lr, reg, bias_reg, init_std; embeddings
//                                     (factor_dims latent columns + one bias column); f32
//                                     global_mean
//                     svdpp           as svd, then matrix implicit_factors (items x factor_dims)
//                     ials            factors, epochs, reg, alpha, init_std, cg_steps;
//                                     embeddings (factor_dims = columns); matrix item_gram
//                                     (columns x columns, Y'Y of the item factors)
//                     bpr             factors, epochs, lr, reg, bias_reg, init_std; embeddings
//                                     (factor_dims latent columns + one item bias column)
//                     itemknn         neighbors; csr neighbors (items x items)
//                     neumf           factors f, epochs, lr, reg, init_std; then i32 batch, layers L
//                                     (1..8), train_negatives, patience (presence flag + value
//                                     each); matrices gmf_user (users x f), gmf_item (items x f),
//                                     mlp_user / mlp_item (f 2^(L-1) columns), mlp_0_user_weight,
//                                     mlp_0_item_weight, mlp_0_bias (the first tower layer split
//                                     by input half), mlp_<k>_weight / mlp_<k>_bias for the other
//                                     layers (widths halving to f), out_gmf, out_mlp (1 x f),
//                                     out_bias (core/src/models/neumf.cpp)
//                     sasrec, gru4rec, lstm
//                                     factors, epochs, lr, reg, init_std; then batch, dropout
//                                     (f32), max_len, layers, heads, train_negatives, patience
//                                     (presence flag + value each); embeddings (V = the item
//                                     table, U = each known user's query, no bias column); then
//                                     u32 network version (1) and every network tensor but the
//                                     item table in the network's parameter order, each a matrix
//                                     [dim 0, the rest], its shape checked against the network
//                                     the hyper-parameters build (core/src/models/sequence_model.cpp)
//                   where embeddings = i32 factor_dims [0, 4096]; matrix user_factors (users
//                   rows); u8 item_matrix_encoding (0 = matrix, 1 = int8 matrix, written by
//                   SaveOptions::int8_items); item_factors in that encoding (items rows, as many
//                   columns as user_factors, factor_dims at most that); vector user_offset
//                   (users entries)
//                 encodings: str = u64 byte length + bytes (at most 64 KiB); strs = u64 count +
//                 str each; f32s / u32s / u64s = u64 count + elements; matrix = u64 rows, u64
//                 cols, rows*cols f32 row-major; int8 matrix = u64 rows, u64 cols, rows f32
//                 scales (>= 0, scale * 127 finite), rows*cols i8 codes row-major in
//                 [-127, 127], meaning element (i, d) = scale_i * code_id; vector = u64 count +
//                 f32s; csr = u32 cols, u64s indptr (rows+1, from 0, non-decreasing), u32s
//                 indices (nnz, sorted in each row, < cols), f32s values (nnz). Floats are finite
//                 (NaN/inf are refused when saving and when loading). Counts are at most 2^31-1.
//                 The kind section must end exactly at the payload's end.
//   24+N    4     u32 CRC-32 (IEEE 802.3, zlib's crc32) of bytes [0, 24+N)
//
// Version history:
//   4 — the optional item metadata section (titles, categorical and numeric fields, content
//       vectors, cold items) at the end of the common part; every kind may carry it. Version 3
//       files have no item_meta flag: no metadata.
//   3 — the common part keeps what every model has; the hyper-parameters moved into each kind's
//       section, which starts with the kind's section version (cereal class versioning, so a
//       kind can change its section on its own); the optional ordered per-user histories
//       (sequences) were added at the end of the common part.
//   2 — the item matrix encoding of the factor-model kinds (all but itemknn): a u8 before
//       `item_factors`, 0 = matrix (f32, as in version 1), 1 = int8 matrix. Version 1 files have
//       no such byte: f32.
//   Versions 1 and 2: after the common part's item_popularity came every kind's hyper-parameters
//   (factors i32, epochs i32, lr f32, reg f32, bias_reg f32, alpha f32, init_std f32, neighbors
//   i32, cg_steps i32, each a u8 presence flag 0/1 and the value when 1, then u64 seed), then the
//   info fields and the rating range as in version 3, no sequences flag, and then the kind's
//   parameters as in version 3 without the section version and hyper-parameters (the same
//   archive reads them: the common part and each kind's serialize() branch on the version).
//
// Versioning: readers accept every version <= kModelFormatVersion (older versions stay readable,
// proven by the golden files under models/golden/v<N>/) and refuse newer ones with a message
// naming both versions. A change to the layout bumps the version and adds a reader branch with a
// comment saying what changed.
//
// Trust: load_model() treats the file as untrusted. The checksum is verified before parsing;
// every count is checked against the bytes that remain and against hard limits before anything
// is allocated, and every index is range-checked, so truncated, bit-flipped, wrong-magic and
// future-version files give an Error, never a crash or a huge allocation.
//
// Atomicity: save_model() writes "<path>.tmp-<pid>-<random>" beside the target, flushes it,
// then renames it over the target, so a crash or a full disk never leaves a half-written model
// and never destroys the previous one. A temporary file left by a killed save is removed by a
// later save of the same target once it is stale: its pid is not running and it was last
// written over a minute ago, or it was last written over a day ago (write_atomically).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "edgerec/model.hpp"

namespace edgerec {

constexpr std::uint32_t kModelFormatVersion = 4;
constexpr char kModelMagic[4] = {'E', 'R', 'M', '1'};
constexpr std::size_t kModelHeaderBytes = 24;

struct SaveOptions {
  // Store the item matrix of factor models as int8 codes with one scale per row (format v2,
  // encoding 1): about a quarter of the bytes, for files that travel to devices. Loading
  // restores f32 values scale * code, which differ from the trained ones by at most half a
  // step (0.4% of the row's largest entry), so scores move slightly and near-ties can swap.
  // Refused for models without an item matrix (itemknn). Default false: f32, exact.
  bool int8_items = false;
};

// Serialises a model into the bytes of a model file.
std::string model_to_bytes(const Model& model, const SaveOptions& options = {});
// Parses the bytes of a model file; `name` is used in error messages (a path or "<bytes>").
std::unique_ptr<Model> model_from_bytes(const char* data, std::size_t size,
                                        const std::string& name = "<bytes>");

void save_model(const Model& model, const std::string& path, const SaveOptions& options = {});
// Writes `bytes` to `path` the way save_model() does: a temporary file beside it, flushed to
// disk, renamed over the target; on failure the temporary is removed, the previous file is
// untouched, and Error names the path. Used for every file edgerec writes (models, ONNX, CSV,
// JSON). Before writing it removes stale temporary files of earlier saves of `path` (see
// Atomicity above), never those of a save still running. Safe to call concurrently for one
// path: the last rename wins, and every reader sees one complete file.
void write_atomically(const std::string& path, const std::string& bytes);
std::unique_ptr<Model> load_model(const std::string& path);

// What `edgerec info` prints, read from the header without parsing the model. read_header()
// checks the magic, version, flags, kind, payload length and checksum (throws Error like
// model_from_bytes), so a header it returns belongs to an intact file.
struct ModelFileHeader {
  std::uint32_t version = 0;
  ModelKind kind{};
  std::uint64_t payload_bytes = 0;
};
ModelFileHeader read_header(const char* data, std::size_t size, const std::string& name);

std::uint32_t crc32(const void* data, std::size_t size, std::uint32_t crc = 0);

// Typed writer for the payload (little-endian on every host): the primitive layer under the
// cereal archives of format version 3 (core/src/io/archive.hpp), and what tests use to write
// files field by field.
class Writer {
 public:
  Writer();
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void u8(std::uint8_t v);
  void u32(std::uint32_t v);
  void i32(std::int32_t v);
  void u64(std::uint64_t v);
  void i64(std::int64_t v);
  void f32(float v);
  void f64(double v);
  void str(const std::string& v);
  void strings(const std::vector<std::string>& v);
  void floats(const std::vector<float>& v);
  void indices(const std::vector<index_t>& v);
  void u64s(const std::vector<std::uint64_t>& v);
  void vector(const Vector& v);
  void matrix(const Matrix& m);
  // Quantises m row by row (kernels::quantize_rows_int8) and writes the int8 matrix encoding.
  void int8_matrix(const Matrix& m);
  void csr(const Csr& c);
  // What the model's section should honour (set by model_to_bytes()).
  const SaveOptions& options() const { return options_; }
  void set_options(const SaveOptions& o) { options_ = o; }
  // The archive written so far (its endianness byte first); the writer then starts a new one.
  std::string take();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  SaveOptions options_;
};

// Bounds-checked reader for the payload, under the cereal archive that reads every format
// version. Every method names its field, so a bad file gives
// "m.edgerec: field 'item_factors': 4294967296 x 64 floats exceed the 1200 bytes left".
class Reader {
 public:
  Reader(const char* data, std::size_t size, std::string name);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  std::uint8_t u8(const char* field);
  std::uint32_t u32(const char* field);
  std::int32_t i32(const char* field);
  std::uint64_t u64(const char* field);
  std::int64_t i64(const char* field);
  float f32(const char* field);   // rejects NaN/inf
  double f64(const char* field);  // rejects NaN/inf
  std::string str(const char* field, std::size_t max_bytes = 1 << 16);
  std::vector<std::string> strings(const char* field, std::size_t max_count);
  std::vector<float> floats(const char* field, std::size_t max_count);
  std::vector<index_t> indices(const char* field, std::size_t max_count, index_t bound);
  std::vector<std::uint64_t> u64s(const char* field, std::size_t max_count);
  Vector vector(const char* field, std::size_t expected_size);
  // A matrix with `rows` rows (or any when rows < 0) and `cols` columns (or any when < 0).
  Matrix matrix(const char* field, std::int64_t rows, std::int64_t cols);
  // An int8 matrix (Writer::int8_matrix), returned dequantised; same shape rules as matrix().
  Matrix int8_matrix(const char* field, std::int64_t rows, std::int64_t cols);
  // A CSR with `rows` rows, stored column count equal to `cols`, sorted rows of indices < cols.
  Csr csr(const char* field, index_t rows, index_t cols);
  std::size_t remaining() const;
  [[noreturn]] void fail(const char* field, const std::string& what) const;

 private:
  std::pair<std::size_t, std::size_t> matrix_shape(const char* field, std::int64_t rows,
                                                  std::int64_t cols, std::size_t elem_bytes,
                                                  std::size_t row_bytes, const char* what);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgerec
