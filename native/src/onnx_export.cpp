// ONNX export (see edgerec/onnx_export.hpp) with a hand-written protobuf encoder.
//
// Field numbers are those of onnx/onnx.proto (ONNX 1.12+). Only what the scoring graph needs is
// encoded. The item matrix is by far the largest part (100k items x 64 dims = 25.6 MB), so the
// file is assembled in one pre-sized buffer: every message around it is encoded first, its
// length prefix computed from the known matrix size, and the matrix is transposed straight into
// the output instead of being copied through three nested messages.
#include "edgerec/onnx_export.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include "edgerec/model_file.hpp"
#include "edgerec/version.hpp"

namespace edgerec {
namespace {

// onnx.proto enum values.
constexpr int kFloat = 1;           // TensorProto.DataType.FLOAT
constexpr int kInt64 = 7;           // TensorProto.DataType.INT64
constexpr int kAttrInt = 2;         // AttributeProto.AttributeType.INT
constexpr std::int64_t kIrVersion = 8;
constexpr std::int64_t kOpset = 13;  // MatMul-13, Add-13, TopK-11
// protobuf refuses messages of 2 GiB or more.
constexpr std::uint64_t kMaxMessageBytes = (std::uint64_t{1} << 31) - 1;

enum Wire { kVarint = 0, kLengthDelimited = 2 };

// A protobuf message being encoded: fields are appended in the order they are written.
class Pb {
 public:
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      buf_.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    buf_.push_back(static_cast<char>(v));
  }
  void tag(int field, Wire wire) { varint((static_cast<std::uint64_t>(field) << 3) | wire); }
  // int32/int64/enum fields: negative values take ten bytes (two's complement), as protobuf says.
  Pb& i64(int field, std::int64_t v) {
    tag(field, kVarint);
    varint(static_cast<std::uint64_t>(v));
    return *this;
  }
  Pb& bytes(int field, std::string_view s) {
    tag(field, kLengthDelimited);
    varint(s.size());
    buf_.append(s.data(), s.size());
    return *this;
  }
  Pb& msg(int field, const Pb& m) { return bytes(field, m.buf_); }
  // The tag and length of a length-delimited field whose `size` bytes the caller appends later.
  Pb& open(int field, std::uint64_t size) {
    tag(field, kLengthDelimited);
    varint(size);
    return *this;
  }
  const std::string& str() const { return buf_; }
  std::size_t size() const { return buf_.size(); }

 private:
  std::string buf_;
};

// TypeProto.Tensor with a shape whose dims are numbers (> 0) or named symbols.
struct Dim {
  std::int64_t value = 0;
  std::string param;
};

Pb value_info(const std::string& name, int elem_type, const std::vector<Dim>& dims) {
  Pb shape;
  for (const auto& d : dims) {
    Pb dim;
    if (d.param.empty()) dim.i64(1, d.value);   // dim_value
    else dim.bytes(2, d.param);                 // dim_param
    shape.msg(1, dim);                          // TensorShapeProto.dim
  }
  Pb tensor;
  tensor.i64(1, elem_type).msg(2, shape);       // elem_type, shape
  Pb type;
  type.msg(1, tensor);                          // TypeProto.tensor_type
  Pb vi;
  vi.bytes(1, name).msg(2, type);               // ValueInfoProto.name, type
  return vi;
}

Pb node(const std::string& op, const std::vector<std::string>& inputs,
        const std::vector<std::string>& outputs, const std::vector<std::pair<std::string, std::int64_t>>& int_attrs = {}) {
  Pb n;
  for (const auto& x : inputs) n.bytes(1, x);
  for (const auto& x : outputs) n.bytes(2, x);
  n.bytes(3, op);                               // name (unique: one node per op type here)
  n.bytes(4, op);                               // op_type
  for (const auto& [name, value] : int_attrs) {
    Pb a;
    a.bytes(1, name).i64(3, value).i64(20, kAttrInt);  // name, i, type
    n.msg(5, a);
  }
  return n;
}

Pb metadata(const std::string& key, const std::string& value) {
  Pb e;
  e.bytes(1, key).bytes(2, value);
  return e;
}

void put_le32(char* out, std::uint32_t v) {
  out[0] = static_cast<char>(v & 0xFF);
  out[1] = static_cast<char>((v >> 8) & 0xFF);
  out[2] = static_cast<char>((v >> 16) & 0xFF);
  out[3] = static_cast<char>((v >> 24) & 0xFF);
}

// V (items x dims, row-major) as V^T (dims x items) little-endian floats into `out`. Tiled so
// both the reads and the writes stay within a few cache lines per tile.
void write_transposed(const Matrix& V, char* out) {
  const Eigen::Index items = V.rows(), dims = V.cols();
  constexpr Eigen::Index kTile = 64;
  for (Eigen::Index i0 = 0; i0 < items; i0 += kTile) {
    const Eigen::Index i1 = std::min(items, i0 + kTile);
    for (Eigen::Index d = 0; d < dims; ++d) {
      char* row = out + 4 * (static_cast<std::size_t>(d) * static_cast<std::size_t>(items));
      for (Eigen::Index i = i0; i < i1; ++i) {
        std::uint32_t bits;
        const float v = V(i, d);
        std::memcpy(&bits, &v, 4);
        put_le32(row + 4 * static_cast<std::size_t>(i), bits);
      }
    }
  }
}

std::string hex32(std::uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

}  // namespace

std::string onnx_to_bytes(const Model& model, const OnnxExportOptions& options, OnnxExportInfo* info) {
  const Embeddings* e = model.embeddings();
  if (!e)
    throw Error(std::string("export-onnx: ") + kind_name(model.kind()) +
                " models have no factor form (score = user vector . item vector) to export; "
                "export an embedding model (popularity, mean-baseline, baseline, svd, svdpp, ials, bpr)");
  const std::uint64_t items = static_cast<std::uint64_t>(e->V.rows());
  const std::uint64_t dims = static_cast<std::uint64_t>(e->V.cols());
  if (items == 0 || dims == 0) throw Error("export-onnx: the model has no items or no dimensions");
  const std::uint64_t raw_bytes = items * dims * 4;
  if (raw_bytes >= kMaxMessageBytes)
    throw Error("export-onnx: the item matrix (" + std::to_string(items) + " x " + std::to_string(dims) +
                " floats, " + std::to_string(raw_bytes) + " bytes) exceeds the 2 GiB limit of an ONNX file");

  bool has_offset = model.predicts_ratings();
  for (Eigen::Index u = 0; u < e->user_offset.size() && !has_offset; ++u)
    has_offset = e->user_offset[u] != 0.0f;

  // ---- the graph around the item matrix ----
  const Dim batch{0, "batch"}, kdim{0, "k"};
  Pb graph_pre;  // nodes, name, then the item matrix's tag and length
  graph_pre.msg(1, node("MatMul", {"user_vector", "item_matrix"}, {"all_scores"}));
  const std::string topk_input = has_offset ? "all_scores_offset" : "all_scores";
  if (has_offset) graph_pre.msg(1, node("Add", {"all_scores", "offset"}, {"all_scores_offset"}));
  graph_pre.msg(1, node("TopK", {topk_input, "k"}, {"scores", "indices"},
                        {{"axis", 1}, {"largest", 1}, {"sorted", 1}}));
  graph_pre.bytes(2, std::string("edgerec_") + kind_name(model.kind()) + "_topk");
  Pb tensor_head;  // TensorProto up to raw_data's payload
  tensor_head.i64(1, static_cast<std::int64_t>(dims)).i64(1, static_cast<std::int64_t>(items));
  tensor_head.i64(2, kFloat).bytes(8, "item_matrix").open(9, raw_bytes);
  const std::uint64_t tensor_bytes = tensor_head.size() + raw_bytes;
  graph_pre.open(5, tensor_bytes);

  Pb graph_post;  // inputs and outputs
  graph_post.msg(11, value_info("user_vector", kFloat, {batch, Dim{static_cast<std::int64_t>(dims), ""}}));
  if (has_offset) graph_post.msg(11, value_info("offset", kFloat, {batch, Dim{1, ""}}));
  graph_post.msg(11, value_info("k", kInt64, {Dim{1, ""}}));
  graph_post.msg(12, value_info("scores", kFloat, {batch, kdim}));
  graph_post.msg(12, value_info("indices", kInt64, {batch, kdim}));
  const std::uint64_t graph_bytes = graph_pre.size() + tensor_bytes + graph_post.size();

  // ---- the model ----
  Pb model_pre;
  model_pre.i64(1, kIrVersion);
  model_pre.bytes(2, "edgerec").bytes(3, EDGEREC_VERSION).bytes(4, "org.edgerec");
  model_pre.bytes(6, std::string("edgerec ") + kind_name(model.kind()) +
                         " scoring graph: top-k of user_vector x item_matrix" + (has_offset ? " + offset" : ""));
  {
    Pb opset;
    opset.bytes(1, "").i64(2, kOpset);
    model_pre.msg(8, opset);
  }
  std::uint32_t ids_crc = 0;
  std::string joined_ids;
  for (const auto& id : model.items.ids()) {
    ids_crc = crc32(id.data(), id.size(), ids_crc);
    ids_crc = crc32("\n", 1, ids_crc);
    if (options.item_ids) (joined_ids += id) += '\n';
  }
  model_pre.msg(14, metadata("edgerec.kind", kind_name(model.kind())));
  model_pre.msg(14, metadata("edgerec.version", EDGEREC_VERSION));
  model_pre.msg(14, metadata("edgerec.items", std::to_string(items)));
  model_pre.msg(14, metadata("edgerec.dims", std::to_string(dims)));
  model_pre.msg(14, metadata("edgerec.factor_dims", std::to_string(e->factor_dims)));
  model_pre.msg(14, metadata("edgerec.has_offset", has_offset ? "1" : "0"));
  model_pre.msg(14, metadata("edgerec.item_ids_crc32", hex32(ids_crc)));
  if (options.item_ids) model_pre.msg(14, metadata("edgerec.item_ids", joined_ids));
  model_pre.open(7, graph_bytes);

  const std::uint64_t total = model_pre.size() + graph_bytes;
  if (total >= kMaxMessageBytes)
    throw Error("export-onnx: the ONNX file would be " + std::to_string(total) +
                " bytes, over the 2 GiB limit of an ONNX file");
  std::string out;
  out.reserve(static_cast<std::size_t>(total));
  out += model_pre.str();
  out += graph_pre.str();
  out += tensor_head.str();
  const std::size_t matrix_at = out.size();
  out.resize(matrix_at + static_cast<std::size_t>(raw_bytes));
  write_transposed(e->V, out.data() + matrix_at);
  out += graph_post.str();

  if (info) {
    info->bytes = out.size();
    info->items = static_cast<std::uint32_t>(items);
    info->dims = static_cast<std::uint32_t>(dims);
    info->has_offset = has_offset;
  }
  return out;
}

OnnxExportInfo save_onnx(const Model& model, const std::string& path, const OnnxExportOptions& options) {
  OnnxExportInfo info;
  // Encode first: a model that cannot be exported never touches the disk.
  const std::string bytes = onnx_to_bytes(model, options, &info);
  write_atomically(path, bytes);
  return info;
}

}  // namespace edgerec
