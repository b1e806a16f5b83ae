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

// From format version 4 on every golden model carries item metadata: the catalogue's titles and
// genres, a numeric "year", two cold items (metadata but no interactions) and 2-d content vectors
// for every third item, read through the public loaders as a user's files would be.
std::shared_ptr<const ItemMeta> golden_meta(const SyntheticCatalogue& cat, const IdMap& items) {
  std::string csv = "item,title,genres,year\n", vectors;
  for (std::size_t i = 0; i < cat.item_titles.size(); ++i) {
    const std::string& id = cat.data.items.id(static_cast<index_t>(i));
    std::string genres;
    for (const int g : cat.item_genres[i]) genres += (genres.empty() ? "" : "|") + cat.genre_names[static_cast<std::size_t>(g)];
    csv += id + ",\"" + cat.item_titles[i] + "\"," + genres + "," + std::to_string(1950 + (i * 7) % 70) + "\n";
    if (i % 3 == 0) vectors += id + "," + std::to_string(static_cast<int>(i % 5) - 2) + ".5," + std::to_string(i % 4) + "\n";
  }
  csv += "cold-1,Cold Open (2020),Drama|Comedy,2020\ncold-2,Second Frost (2021),Horror,\n";
  vectors += "cold-1,0.5,1\n";
  ItemMeta meta = load_item_meta_from_memory(csv, "items.csv");
  load_item_vectors_from_memory(meta, vectors, "vectors.csv");
  return std::make_shared<const ItemMeta>(align_item_meta(meta, items));
}

// <kind>.meta.tsv: every metadata row as the in-memory model holds it before saving (id,
// described, title, genres, year or '-', vector or '-'), for the test to compare with the reader.
std::string meta_dump(const ItemMeta& m) {
  std::string out = "# row\tid\tdescribed\ttitle\tgenres\tyear\tvector\n";
  char buf[64];
  for (index_t r = 0; r < m.rows(); ++r) {
    std::string genres;
    for (const auto& v : m.values(m.categorical[0], r)) genres += (genres.empty() ? "" : "|") + v;
    std::string year = "-", vec = "-";
    if (m.numeric[0].present[r]) {
      std::snprintf(buf, sizeof(buf), "%.9g", static_cast<double>(m.numeric[0].values[r]));
      year = buf;
    }
    if (m.has_vector[r]) {
      vec.clear();
      for (Eigen::Index d = 0; d < m.vectors.cols(); ++d) {
        std::snprintf(buf, sizeof(buf), "%s%.9g", d ? "," : "", static_cast<double>(m.vectors(r, d)));
        vec += buf;
      }
    }
    out += std::to_string(r) + "\t" + m.ids.id(r) + "\t" + std::to_string(m.described[r]) + "\t" + m.titles[r] + "\t" +
           genres + "\t" + year + "\t" + vec + "\n";
  }
  return out;
}

// two-tower.features.edgerec (two-tower section version 3): the two-tower golden model again,
// now also trained with user features (a categorical "group" and a numeric "age" per user, one
// user left undescribed), so the file holds the user-feature layout and the item tower.
// Like every golden file it has .expected.tsv and .meta.tsv (checked by test_model_file);
// two-tower.features.described.tsv lists what only those parts compute: the item tower's vector
// of two descriptions and the fold-in vector of a new user from items and a feature row.
void write_two_tower_features(const std::filesystem::path& dir, bool overwrite) {
  const std::string path = (dir / "two-tower.features.edgerec").string();
  if (!overwrite && std::filesystem::exists(path)) {
    std::cout << path << "  kept\n";
    return;
  }
  SyntheticOptions o;
  o.users = 30;
  o.items = 20;
  o.interactions = 240;
  o.clusters = 3;
  o.genres = 4;
  o.ratings = false;
  o.seed = 20240601;
  const SyntheticCatalogue cat = generate_synthetic(o);
  std::string users = "user,group,age\n";
  for (index_t u = 1; u < cat.data.n_users(); ++u)
    users += cat.data.users.id(u) + "," + "abc"[u % 3] + "," + std::to_string(18 + (u * 11) % 50) + "\n";
  const UserMeta user_file = load_user_meta_from_memory(users, "users.csv");
  Hyper h;
  h.factors = 4;
  h.epochs = 8;
  h.seed = 7;
  auto backend = make_cpu_backend();
  auto model = make_model(ModelKind::two_tower);
  model->item_meta = golden_meta(cat, cat.data.items);
  model->user_meta = std::make_shared<const UserMeta>(align_user_meta(user_file, cat.data.users));
  model->fit(cat.data, h, *backend);
  model->info.fit_seconds = 0.0;

  std::string described = "# two-tower.features.edgerec: what its item tower and user features compute, written by "
                          "tools/make_golden.cpp\n# what\tinput\tvector (9 significant digits)\n";
  char buf[64];
  const auto vector_line = [&](const char* what, const std::string& input, const float* v) {
    std::string line = std::string(what) + "\t" + input + "\t";
    for (int k = 0; k < *model->hyper.factors; ++k) {
      std::snprintf(buf, sizeof(buf), "%s%.9g", k ? "," : "", static_cast<double>(v[k]));
      line += buf;
    }
    described += line + "\n";
  };
  std::vector<float> v(static_cast<std::size_t>(*model->hyper.factors));
  for (const std::string d : {"genres=Horror", "genres=Drama|Comedy;year=1990"}) {
    if (!model->item_vector_described(d, v.data())) throw Error(path + ": the model does not embed a description");
    vector_line("item", d, v.data());
  }
  float offset = 0;
  const std::vector<ItemValue> history = {{1, 1.0f}, {4, 1.0f}};
  const std::int64_t row = user_file.find(cat.data.users.id(2));
  if (!model->fold_in_vector_described(history, user_file, row, v.data(), &offset))
    throw Error(path + ": the model does not fold in with user features");
  vector_line("user", "items 1,4 + the features of user " + cat.data.users.id(2), v.data());

  const std::string expected = expectations(*model);
  save_model(*model, path);
  std::ofstream(dir / "two-tower.features.expected.tsv", std::ios::binary) << expected;
  std::ofstream(dir / "two-tower.features.described.tsv", std::ios::binary) << described;
  std::ofstream(dir / "two-tower.features.meta.tsv", std::ios::binary) << meta_dump(*model->item_meta);
  if (expectations(*load_model(path)) != expected)
    throw Error(path + ": reloaded model does not reproduce its expectations");
  std::cout << path << "  " << std::filesystem::file_size(path) << " bytes\n";
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
      // The metadata is set before fit(), aligned to the training items (the ids fit() copies),
      // as `edgerec train --item-meta` does: two-tower trains its item tower on it; the other
      // kinds ignore it.
      model->item_meta = golden_meta(cat, cat.data.items);
      model->fit(cat.data, h, *backend);
      // Wall-clock time would make every regeneration differ; the file keeps a fixed value.
      model->info.fit_seconds = 0.0;
      std::ofstream(dir / (name + ".meta.tsv"), std::ios::binary) << meta_dump(*model->item_meta);

      const std::string expected = expectations(*model);
      save_model(*model, model_path);
      std::ofstream(dir / (name + ".expected.tsv"), std::ios::binary) << expected;

      // Self-check: the file reproduces the expectations exactly on this machine.
      if (expectations(*load_model(model_path)) != expected)
        throw Error(model_path + ": reloaded model does not reproduce its expectations");
      if (meta_dump(*load_model(model_path)->item_meta) != meta_dump(*model->item_meta))
        throw Error(model_path + ": reloaded model does not reproduce its item metadata");
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
    write_two_tower_features(dir, overwrite);
  } catch (const Error& e) {
    std::cerr << "edgerec_make_golden: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
