// edgerec_make_golden [--overwrite] OUT_DIR — writes the golden model files of the current
// format version.
//
// For every model kind: a tiny synthetic catalogue (30 users x 20 items, fixed seed), a model
// trained with a fixed seed on the serial CPU backend, then OUT_DIR/<kind>.edgerec and
// OUT_DIR/<kind>.expected.tsv with each user's top-5 unseen items and scores. The expectations
// are computed from the in-memory model before it is saved, so the test that loads the files
// proves that what was saved is what was trained. Run it once per format version into a new
// models/golden/v<N>/ folder. Existing files are kept unless --overwrite is given: a released
// version's files must never change (see models/golden/README.md).
// Since format version 2 the factor kinds ials and svd also get <kind>.int8.edgerec, saved with
// SaveOptions::int8_items; its expectations come from that file's dequantised model (what any
// reader of it must reproduce), read back from the bytes before they are written.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <vector>

#include "edgerec/edgerec.hpp"

namespace {

using namespace edgerec;

constexpr std::size_t kTopK = 5;

std::string expectations(const Model& m) {
  std::string out = "# edgerec golden model: kind " + std::string(kind_name(m.kind())) +
                    ", format version " + std::to_string(kModelFormatVersion) +
                    ", written by tools/make_golden.cpp\n"
                    "# user\trank\titem\tscore (top-5 unseen items, score to 9 significant digits)\n";
  char buf[64];
  // The serving API's own top-K (score descending, index ascending, seen items skipped); the
  // golden test checks these against an independent ranking of its own.
  Recommender rec(m);
  RecommendOptions o;
  o.k = static_cast<int>(kTopK);
  for (index_t u = 0; u < m.n_users(); ++u) {
    const auto top = rec.recommend(m.users.id(u), o);
    for (std::size_t k = 0; k < top.size(); ++k) {
      std::snprintf(buf, sizeof(buf), "%.9g", static_cast<double>(top[k].score));
      out += m.users.id(u) + "\t" + std::to_string(k + 1) + "\t" + top[k].item + "\t" + buf + "\n";
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const bool overwrite = !args.empty() && args[0] == "--overwrite";
  if (overwrite) args.erase(args.begin());
  if (args.size() != 1 || args[0] == "--help" || args[0].empty() || args[0][0] == '-') {
    std::cerr << "usage: edgerec_make_golden [--overwrite] OUT_DIR\n"
                 "Writes <kind>.edgerec and <kind>.expected.tsv for every model kind that has no\n"
                 "file yet (every kind with --overwrite).\n";
    return args.size() == 1 && args[0] == "--help" ? 0 : 2;
  }
  const std::filesystem::path dir(args[0]);
  try {
    std::filesystem::create_directories(dir);
    for (ModelKind kind : all_kinds()) {
      const std::string name = kind_name(kind);
      const std::string model_path = (dir / (name + ".edgerec")).string();
      if (!overwrite && std::filesystem::exists(model_path)) {
        std::cout << model_path << "  kept\n";
        continue;
      }
      auto model = make_model(kind);
      SyntheticOptions o;
      o.users = 30;
      o.items = 20;
      o.interactions = 240;
      o.clusters = 3;
      o.genres = 4;
      o.ratings = model->predicts_ratings();
      o.seed = 20240601;
      const SyntheticCatalogue cat = generate_synthetic(o);

      Hyper h;
      h.factors = 4;
      h.epochs = 8;
      h.seed = 7;
      if (kind == ModelKind::itemknn) h.neighbors = 5;
      auto backend = make_cpu_backend();
      model->fit(cat.data, h, *backend);
      // Wall-clock time would make every regeneration differ; the file keeps a fixed value.
      model->info.fit_seconds = 0.0;

      const std::string expected = expectations(*model);
      save_model(*model, model_path);
      std::ofstream(dir / (name + ".expected.tsv"), std::ios::binary) << expected;

      // Self-check: the file reproduces the expectations exactly on this machine.
      if (expectations(*load_model(model_path)) != expected)
        throw Error(model_path + ": reloaded model does not reproduce its expectations");
      std::cout << model_path << "  " << std::filesystem::file_size(model_path) << " bytes, "
                << model->n_users() << " users x " << model->n_items() << " items, "
                << model->seen.nnz() << " interactions\n";

      if (kind != ModelKind::ials && kind != ModelKind::svd) continue;
      SaveOptions int8;
      int8.int8_items = true;
      const std::string int8_path = (dir / (name + ".int8.edgerec")).string();
      const std::string int8_bytes = model_to_bytes(*model, int8);
      const std::string int8_expected = expectations(*model_from_bytes(int8_bytes.data(), int8_bytes.size()));
      save_model(*model, int8_path, int8);
      std::ofstream(dir / (name + ".int8.expected.tsv"), std::ios::binary) << int8_expected;
      if (expectations(*load_model(int8_path)) != int8_expected)
        throw Error(int8_path + ": reloaded model does not reproduce its expectations");
      std::cout << int8_path << "  " << std::filesystem::file_size(int8_path) << " bytes\n";
    }
  } catch (const Error& e) {
    std::cerr << "edgerec_make_golden: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
