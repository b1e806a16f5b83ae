// edgerec/onnx_export.hpp — the scoring graph of an embedding model as an ONNX file.
//
// Embedding models score score(u, i) = U.row(u) . V.row(i) + user_offset(u) (see Embeddings in
// edgerec/model.hpp). The exported graph computes exactly that for a batch of user vectors and
// returns the top K, so any ONNX runtime (onnxruntime-web in the browser, onnxruntime-node,
// Python) serves the same ranking as the edgerec core:
//
//   inputs   user_vector  float[batch, dims]   the users' rows of U (or fold-in vectors)
//            offset       float[batch, 1]      user_offset(u); only for rating models (svd,
//                                              svdpp, baseline, mean-baseline) — the implicit
//                                              kinds have offset 0 everywhere and no Add node
//            k            int64[1]             how many items, 1..items, chosen per run (so a
//                                              caller that filters seen items can ask for more)
//   weights  item_matrix  float[dims, items]   V transposed, so MatMul needs no transpose
//   nodes    MatMul(user_vector, item_matrix) -> all_scores [batch, items]
//            Add(all_scores, offset)           -> all_scores_offset   (rating models only)
//            TopK(·, k, axis=1, largest=1, sorted=1) -> scores, indices
//   outputs  scores   float[batch, k]          best first; ties by lower item index (TopK's rule
//            indices  int64[batch, k]          since opset 11, the same as the core's ordering)
//
// Item indices are the model's dense item indices: the edgerec model file maps them to ids.
// Ids are not stored by default (100k ids would add about a megabyte that the web package does
// not need); `item_ids` stores them in metadata_props for consumers outside edgerec.
// metadata_props always holds: edgerec.kind, edgerec.version, edgerec.items, edgerec.dims,
// edgerec.factor_dims, edgerec.has_offset ("0"/"1") and edgerec.item_ids_crc32
// (CRC-32, as edgerec::crc32, of the item ids each followed by '\n', in index order, as 8 lower-
// case hex digits) so a runtime can check that an ONNX file belongs to a given model file.
//
// Why K is an input and not a constant: a caller that drops seen or excluded items must ask
// for k + |seen| and sometimes more, and onnxruntime's JavaScript API passes only the names in
// session.inputNames, so an initializer with a default value could not be overridden from JS.
//
// Format: ir_version 8, default-domain opset 13 (readable by ONNX >= 1.10 and every current
// onnxruntime), written by a small protobuf encoder (no ONNX or protobuf library needed).
// Weights are stored inline as raw little-endian data, so the file must stay under protobuf's
// 2 GiB message limit: larger models get an Error.
//
// Thread-safety: both functions only read the model.
#pragma once

#include <cstdint>
#include <string>

#include "edgerec/model.hpp"

namespace edgerec {

struct OnnxExportOptions {
  bool item_ids = false;  // also store the item ids (newline-joined) as edgerec.item_ids
};

// What was written, for messages and tests.
struct OnnxExportInfo {
  std::uint64_t bytes = 0;
  std::uint32_t items = 0;
  std::uint32_t dims = 0;
  bool has_offset = false;
};

// The ONNX file's bytes. Throws Error for models without a factor form (itemknn), an empty
// model or a graph over 2 GiB.
std::string onnx_to_bytes(const Model& model, const OnnxExportOptions& options = {},
                          OnnxExportInfo* info = nullptr);

// Writes onnx_to_bytes() to `path` atomically (a temporary file beside it, then rename), so a
// failure never leaves a half-written file. Throws Error naming the path on I/O errors.
OnnxExportInfo save_onnx(const Model& model, const std::string& path,
                         const OnnxExportOptions& options = {});

}  // namespace edgerec
