// ONNX export (native/src/onnx_export.cpp) decoded by a minimal protobuf reader written here
// from onnx.proto's field numbers: the graph's layout, the item matrix bit for bit, the
// metadata, and the graph's arithmetic evaluated on the decoded weights against the core's
// Recommender. (tests/cli/test_cli_onnx.sh runs the files in onnxruntime and ONNX's checker.)
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "edgerec/edgerec.hpp"
#include "edgerec/onnx_export.hpp"
#include "edgerec/openmp_backend.hpp"
#include "test_util.hpp"

using namespace edgerec;

namespace {

// One decoded field: varints in `number`, length-delimited payloads in `bytes`.
struct Field {
  int number = 0;
  int wire = 0;
  std::uint64_t value = 0;
  std::string bytes;
};

std::uint64_t varint(const std::string& s, std::size_t& at) {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    REQUIRE(at < s.size());
    const auto b = static_cast<unsigned char>(s[at++]);
    v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
    if (b < 0x80) return v;
  }
  FAIL("varint longer than 10 bytes");
  return 0;
}

std::vector<Field> decode(const std::string& s) {
  std::vector<Field> out;
  std::size_t at = 0;
  while (at < s.size()) {
    Field f;
    const std::uint64_t key = varint(s, at);
    f.number = static_cast<int>(key >> 3);
    f.wire = static_cast<int>(key & 7);
    if (f.wire == 0) {
      f.value = varint(s, at);
    } else if (f.wire == 2) {
      const std::uint64_t n = varint(s, at);
      REQUIRE(at + n <= s.size());
      f.bytes = s.substr(at, n);
      at += n;
    } else {
      FAIL("unexpected wire type " << f.wire);
    }
    out.push_back(std::move(f));
  }
  REQUIRE(at == s.size());
  return out;
}

std::vector<Field> all(const std::vector<Field>& m, int number) {
  std::vector<Field> out;
  for (const auto& f : m)
    if (f.number == number) out.push_back(f);
  return out;
}

const Field& one(const std::vector<Field>& m, int number) {
  for (const auto& f : m)
    if (f.number == number) return f;
  FAIL("field " << number << " missing");
  return m.front();
}

std::string value_info_name(const Field& f) { return one(decode(f.bytes), 1).bytes; }

const Interactions& ratings() {
  static const Interactions data = [] {
    SyntheticOptions o;
    o.users = 120;
    o.items = 90;
    o.interactions = 4000;
    o.seed = 21;
    return generate_synthetic(o).data;
  }();
  return data;
}

std::unique_ptr<Model> trained(ModelKind kind) {
  auto backend = make_backend("cpu");
  auto m = make_model(kind);
  Hyper h;
  h.factors = 6;
  h.epochs = 4;
  h.seed = 5;
  m->fit(ratings(), h, *backend);
  return m;
}

}  // namespace

TEST_CASE("onnx export: layout, weights and metadata decode as written", "[onnx]") {
  for (const ModelKind kind : {ModelKind::svd, ModelKind::ials, ModelKind::popularity}) {
    INFO(kind_name(kind));
    const auto m = trained(kind);
    const Embeddings& e = *m->embeddings();
    OnnxExportInfo info;
    const std::string bytes = onnx_to_bytes(*m, {}, &info);
    CHECK(info.bytes == bytes.size());
    CHECK(info.items == m->n_items());
    CHECK(info.dims == e.V.cols());
    CHECK(info.has_offset == (kind == ModelKind::svd));

    const auto model = decode(bytes);
    CHECK(one(model, 1).value == 8);  // ir_version
    const auto opset = decode(one(model, 8).bytes);
    CHECK(one(opset, 1).bytes.empty());
    CHECK(one(opset, 2).value == 13);
    std::map<std::string, std::string> meta;
    for (const auto& f : all(model, 14)) {
      const auto kv = decode(f.bytes);
      meta[one(kv, 1).bytes] = one(kv, 2).bytes;
    }
    CHECK(meta["edgerec.kind"] == kind_name(kind));
    CHECK(meta["edgerec.items"] == std::to_string(m->n_items()));
    CHECK(meta["edgerec.dims"] == std::to_string(e.V.cols()));
    CHECK(meta["edgerec.has_offset"] == (info.has_offset ? "1" : "0"));
    CHECK(meta.count("edgerec.item_ids") == 0);
    std::uint32_t crc = 0;
    for (const auto& id : m->items.ids()) crc = crc32("\n", 1, crc32(id.data(), id.size(), crc));
    char hex[9];
    std::snprintf(hex, sizeof hex, "%08x", crc);
    CHECK(meta["edgerec.item_ids_crc32"] == hex);

    const auto graph = decode(one(model, 7).bytes);
    std::vector<std::string> ops;
    for (const auto& n : all(graph, 1)) ops.push_back(one(decode(n.bytes), 4).bytes);
    const std::vector<std::string> want_ops =
        info.has_offset ? std::vector<std::string>{"MatMul", "Add", "TopK"} : std::vector<std::string>{"MatMul", "TopK"};
    CHECK(ops == want_ops);
    const auto topk = decode(all(graph, 1).back().bytes);
    std::map<std::string, std::uint64_t> attrs;
    for (const auto& a : all(topk, 5)) attrs[one(decode(a.bytes), 1).bytes] = one(decode(a.bytes), 3).value;
    CHECK(attrs == std::map<std::string, std::uint64_t>{{"axis", 1}, {"largest", 1}, {"sorted", 1}});
    CHECK(all(topk, 1).back().bytes == "k");

    std::vector<std::string> inputs, outputs;
    for (const auto& f : all(graph, 11)) inputs.push_back(value_info_name(f));
    for (const auto& f : all(graph, 12)) outputs.push_back(value_info_name(f));
    CHECK(inputs == (info.has_offset ? std::vector<std::string>{"user_vector", "offset", "k"}
                                     : std::vector<std::string>{"user_vector", "k"}));
    CHECK(outputs == std::vector<std::string>{"scores", "indices"});

    // The one initializer: V transposed, float, little-endian, bit for bit.
    const auto inits = all(graph, 5);
    REQUIRE(inits.size() == 1);
    const auto t = decode(inits[0].bytes);
    CHECK(one(t, 8).bytes == "item_matrix");
    CHECK(one(t, 2).value == 1);  // FLOAT
    const auto dims = all(t, 1);
    REQUIRE(dims.size() == 2);
    CHECK(dims[0].value == static_cast<std::uint64_t>(e.V.cols()));
    CHECK(dims[1].value == m->n_items());
    const std::string& raw = one(t, 9).bytes;
    REQUIRE(raw.size() == static_cast<std::size_t>(e.V.size()) * 4);
    bool same = true;
    for (Eigen::Index d = 0; d < e.V.cols(); ++d)
      for (Eigen::Index i = 0; i < e.V.rows(); ++i) {
        const std::size_t at = 4 * (static_cast<std::size_t>(d) * m->n_items() + static_cast<std::size_t>(i));
        std::uint32_t bits = 0;
        for (int b = 0; b < 4; ++b) bits |= static_cast<std::uint32_t>(static_cast<unsigned char>(raw[at + b])) << (8 * b);
        float v;
        std::memcpy(&v, &bits, 4);
        same = same && v == e.V(i, d);
      }
    CHECK(same);

    // The graph's arithmetic on the decoded weights ranks as the core's Recommender does.
    Recommender rec(*m);
    RecommendOptions o;
    o.k = 10;
    o.exclude_seen = false;
    for (index_t u = 0; u < 5; ++u) {
      std::vector<float> scores(m->n_items());
      for (index_t i = 0; i < m->n_items(); ++i) {
        float s = 0;
        for (Eigen::Index d = 0; d < e.V.cols(); ++d) {
          float w;
          std::memcpy(&w, raw.data() + 4 * (static_cast<std::size_t>(d) * m->n_items() + i), 4);
          s += e.U(u, d) * w;
        }
        scores[i] = s + (info.has_offset ? e.user_offset[u] : 0.0f);
      }
      const auto top = select_top_k(scores.data(), m->n_items(), 10);
      const auto want = rec.recommend(m->users.id(u), o);
      REQUIRE(top.size() == want.size());
      for (std::size_t r = 0; r < top.size(); ++r) {
        CHECK(top[r].score == Approx(want[r].score).margin(1e-4));
        if (m->items.id(top[r].item) != want[r].item) CHECK(std::abs(top[r].score - want[r].score) < 1e-4);
      }
    }
  }
}

TEST_CASE("onnx export: item ids on request, same bytes every time", "[onnx]") {
  const auto m = trained(ModelKind::bpr);
  OnnxExportOptions with_ids;
  with_ids.item_ids = true;
  const std::string a = onnx_to_bytes(*m), b = onnx_to_bytes(*m), c = onnx_to_bytes(*m, with_ids);
  CHECK(a == b);
  std::string joined;
  for (const auto& id : m->items.ids()) joined += id + "\n";
  bool found = false;
  for (const auto& f : all(decode(c), 14)) {
    const auto kv = decode(f.bytes);
    if (one(kv, 1).bytes == "edgerec.item_ids") found = one(kv, 2).bytes == joined;
  }
  CHECK(found);
}

TEST_CASE("onnx export: refusals and atomic writes", "[onnx]") {
  const auto knn = trained(ModelKind::itemknn);
  CHECK_THROWS_WITH(onnx_to_bytes(*knn), Catch::Contains("itemknn models have no factor form"));

  const auto m = trained(ModelKind::ials);
  const std::string dir = test::temp_dir("onnx_export");
  const std::string path = dir + "/m.onnx";
  std::filesystem::remove(path);
  const auto info = save_onnx(*m, path);
  CHECK(std::filesystem::file_size(path) == info.bytes);
  // Overwriting keeps the file whole and leaves no temporary beside it.
  save_onnx(*m, path);
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) files += entry.path().filename() != "m.onnx";
  CHECK(files == 0);
  CHECK_THROWS_WITH(save_onnx(*m, dir + "/no/such/dir/m.onnx"),
                    Catch::StartsWith("cannot write '" + dir + "/no/such/dir/m.onnx'"));
  CHECK_THROWS_WITH(save_onnx(*knn, dir + "/knn.onnx"), Catch::Contains("no factor form"));
  CHECK_FALSE(std::filesystem::exists(dir + "/knn.onnx"));
}
