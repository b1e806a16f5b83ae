// The two-tower kind (core/src/models/two_tower.cpp) and the item cold-start evaluation
// (evaluate_cold_items, core/src/eval/cold_items.cpp) on small synthetic data whose genres carry
// the users' tastes: cold items get vectors from the item tower and rank far above chance, id-only
// kinds get exactly 0.5; determinism, save/load round trip, fold-in, cold-start serving and clear
// errors.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "edgerec/edgerec.hpp"
#include "edgerec/openmp_backend.hpp"
#include "test_util.hpp"

using namespace edgerec;

namespace {

const SyntheticCatalogue& catalogue() {
  static const SyntheticCatalogue cat = [] {
    SyntheticOptions o;
    o.users = 300;
    o.items = 200;
    o.interactions = 9000;
    o.clusters = 4;
    o.genres = 8;
    o.ratings = false;
    o.seed = 13;
    return generate_synthetic(o);
  }();
  return cat;
}

// The catalogue's genres as item metadata (file order), plus two items without interactions.
std::shared_ptr<const ItemMeta> meta() {
  static const auto m = [] {
    const auto& cat = catalogue();
    std::string csv = "item,title,genres\n";
    for (std::size_t i = 0; i < cat.item_genres.size(); ++i) {
      std::string g;
      for (const int x : cat.item_genres[i]) g += (g.empty() ? "" : "|") + cat.genre_names[static_cast<std::size_t>(x)];
      csv += cat.data.items.id(static_cast<index_t>(i)) + ",t" + std::to_string(i) + "," + g + "\n";
    }
    csv += "cold-a,A," + cat.genre_names[0] + "\ncold-b,B," + cat.genre_names[1] + "\n";
    return std::make_shared<const ItemMeta>(load_item_meta_from_memory(csv, "items.csv"));
  }();
  return m;
}

Hyper small_hyper(std::uint64_t seed = 3) {
  Hyper h;
  h.factors = 16;
  h.epochs = 6;
  h.batch = 256;
  h.train_negatives = 128;
  h.lr = 0.005f;
  h.patience = 3;
  h.seed = seed;
  return h;
}

std::unique_ptr<Model> fit_two_tower(const Hyper& h) {
  auto backend = make_openmp_backend(1);
  auto m = make_model(ModelKind::two_tower);
  m->item_meta = std::make_shared<const ItemMeta>(align_item_meta(*meta(), catalogue().data.items));
  m->fit(catalogue().data, h, *backend);
  m->info.fit_seconds = 0;
  return m;
}

const Model& trained() {
  static const auto m = fit_two_tower(small_hyper());
  return *m;
}

std::unique_ptr<Model> load_bytes(const std::string& b) { return model_from_bytes(b.data(), b.size(), "mem"); }

EvalResult cold_eval(ModelKind kind, const Hyper& h, bool validation = false) {
  EvalOptions o;
  o.cold_items = 0.2;
  o.cold_validation = validation;
  o.seed = 9;
  o.item_meta = meta();
  auto backend = make_openmp_backend(1);
  return evaluate_cold_items(catalogue().data, kind, h, o, *backend);
}

}  // namespace

TEST_CASE("two-tower: cold items get item tower vectors in the model's item space", "[two_tower]") {
  const Model& m = trained();
  REQUIRE(m.embeddings());
  const Matrix* cold = m.cold_item_factors();
  REQUIRE(cold);
  CHECK(cold->rows() == 2);
  CHECK(cold->cols() == m.embeddings()->V.cols());
  CHECK(cold->allFinite());
  CHECK(cold->row(0).norm() > 0);
  // Different genres, different vectors.
  CHECK((cold->row(0) - cold->row(1)).norm() > 1e-4);
}

TEST_CASE("two-tower: a described item embeds as its cold row does, after save and load too", "[two_tower]") {
  const Model& m = trained();
  const Matrix* cold = m.cold_item_factors();
  REQUIRE(cold);
  const auto& cat = catalogue();
  const std::string g0 = "genres=" + cat.genre_names[0], g1 = "genres=" + cat.genre_names[1];
  const auto e = static_cast<std::size_t>(m.embeddings()->V.cols());
  std::vector<float> v(e);
  // cold-a is described by genre 0 alone, cold-b by genre 1: the same feature rows.
  REQUIRE(m.item_vector_described(g0, v.data()));
  for (std::size_t k = 0; k < e; ++k) CHECK(v[k] == Approx(cold->row(0)[static_cast<Eigen::Index>(k)]).margin(1e-6));
  const auto loaded = load_bytes(model_to_bytes(m));
  std::vector<float> w(e);
  REQUIRE(loaded->item_vector_described(g1, w.data()));
  for (std::size_t k = 0; k < e; ++k) CHECK(w[k] == Approx(cold->row(1)[static_cast<Eigen::Index>(k)]).margin(1e-6));
  CHECK(model_to_bytes(*loaded) == model_to_bytes(m));
  // similar_to ranks in the item space: the described twin of cold-a first (cosine 1), then
  // exactly what similar() of cold-a lists.
  ColdStart cs(*loaded);
  bool by_model = false;
  const auto by_tower = cs.similar_to(g0, 6, false, &by_model);
  CHECK(by_model);
  const auto of_cold = cs.similar("cold-a", 5);
  REQUIRE(by_tower.size() == 6);
  CHECK(by_tower[0].item == "cold-a");
  for (std::size_t i = 0; i < 5; ++i) CHECK(by_tower[i + 1].item == of_cold[i].item);
  cs.similar_to(g0, 6, true, &by_model);
  CHECK_FALSE(by_model);  // content_only: the feature cosine
  // A malformed description is an error, as for the content path.
  CHECK_THROWS_AS(m.item_vector_described("genres", v.data()), Error);
  // Without item metadata there is no feature to embed.
  auto backend = make_openmp_backend(1);
  auto plain = make_model(ModelKind::two_tower);
  plain->fit(cat.data, small_hyper(), *backend);
  CHECK_FALSE(plain->item_vector_described(g0, v.data()));
  CHECK_FALSE(plain->described_inputs().item_tower);
  CHECK(trained().described_inputs().item_tower);
  // ... and its file keeps no item tower (a 0 flag), so it reads back the same.
  const auto plain_bytes = model_to_bytes(*plain);
  CHECK(model_to_bytes(*load_bytes(plain_bytes)) == plain_bytes);
}

TEST_CASE("two-tower: cold-item AUC far above chance and id-only kinds exactly 0.5", "[two_tower]") {
  const EvalResult tt = cold_eval(ModelKind::two_tower, small_hyper());
  INFO("two-tower cold_auc " << tt.metrics.at("cold_auc"));
  CHECK(tt.metrics.at("cold_auc") > 0.65);  // measured 0.729 (chance 0.5)
  CHECK(tt.metrics.at("cold_items") == 40);
  CHECK(tt.metrics.at("cold_items_scored") == 40);
  CHECK(tt.metrics.at("cold_users") > 100);
  Hyper h;
  h.factors = 8;
  h.epochs = 5;
  h.seed = 3;
  for (const ModelKind kind : {ModelKind::ials, ModelKind::bpr, ModelKind::popularity}) {
    const EvalResult r = cold_eval(kind, h);
    INFO(kind_name(kind));
    CHECK(r.metrics.at("cold_auc") == 0.5);
    CHECK(r.metrics.at("cold_items_scored") == 0);
    CHECK(r.metrics.at("cold_hr@10") <= tt.metrics.at("cold_hr@10"));
  }
}

TEST_CASE("cold-item validation measures other items under val_ keys", "[two_tower]") {
  Hyper h;
  h.factors = 8;
  h.epochs = 3;
  const EvalResult v = cold_eval(ModelKind::ials, h, true);
  CHECK(v.metrics.count("val_cold_auc") == 1);
  CHECK(v.metrics.count("cold_auc") == 0);
  const EvalResult t = cold_eval(ModelKind::ials, h, false);
  // The test items are not trained on in validation: fewer training rows.
  CHECK(v.train_rows < t.train_rows);
}

TEST_CASE("two-tower: the same seed gives the same bytes and another seed another model", "[two_tower]") {
  const auto a = fit_two_tower(small_hyper(3));
  CHECK(model_to_bytes(*a) == model_to_bytes(trained()));
  const auto b = fit_two_tower(small_hyper(4));
  CHECK(model_to_bytes(*b) != model_to_bytes(*a));
}

TEST_CASE("two-tower: save and load serve the same scores and fold-ins and cold vectors", "[two_tower]") {
  const Model& m = trained();
  const auto loaded = load_bytes(model_to_bytes(m));
  REQUIRE(loaded->kind() == ModelKind::two_tower);
  std::vector<float> a(m.n_items()), b(m.n_items());
  for (index_t u = 0; u < m.n_users(); u += 37) {
    m.score(u, a.data());
    loaded->score(u, b.data());
    CHECK(a == b);
  }
  const std::vector<ItemValue> hist = {{1, 1.0f}, {5, 1.0f}, {9, 1.0f}};
  m.score_new(hist, a.data());
  loaded->score_new(hist, b.data());
  CHECK(a == b);
  REQUIRE(loaded->cold_item_factors());
  CHECK(*loaded->cold_item_factors() == *m.cold_item_factors());
  // A stripped copy (no users) still folds in and keeps the cold vectors.
  auto stripped = load_bytes(model_to_bytes(m));
  stripped->drop_users();
  const auto again = load_bytes(model_to_bytes(*stripped));
  again->score_new(hist, b.data());
  CHECK(a == b);
  CHECK(again->cold_item_factors());
}

TEST_CASE("two-tower fold-in: a new user's held-out items rank above chance", "[two_tower]") {
  const Model& m = trained();
  // Users' own histories folded in with the id left out: their items should still rank high.
  double hits = 0;
  int users = 0;
  std::vector<float> s(m.n_items());
  for (index_t u = 0; u < m.n_users(); u += 7, ++users) {
    auto h = m.history(u);
    if (h.size() < 4) continue;
    const index_t target = h.back().item;
    h.pop_back();
    m.score_new(h, s.data());
    std::size_t above = 0;
    for (index_t i = 0; i < m.n_items(); ++i) above += s[i] > s[target];
    hits += above < 20 ? 1 : 0;  // top 10% of the catalogue
  }
  INFO("hit rate in the top 20 of 200: " << hits / users);
  CHECK(hits / users > 0.25);  // measured 0.35; chance: 0.1
}

TEST_CASE("two-tower cold-start serving ranks cold rows with the tower's scores", "[two_tower]") {
  const Model& m = trained();
  ColdStart cs(m);
  ColdStartOptions o;
  o.k = static_cast<int>(m.item_meta->rows());
  const auto recs = cs.recommend(m.users.id(0), o);
  bool saw_cold = false;
  for (const auto& r : recs) saw_cold = saw_cold || r.item == "cold-a" || r.item == "cold-b";
  CHECK(saw_cold);
  // The cold items' scores are the dot products of the user vector with their tower vectors.
  const auto& emb = *m.embeddings();
  for (const auto& r : recs)
    if (r.item == "cold-a")
      CHECK(r.score == Approx(emb.U.row(0).dot(m.cold_item_factors()->row(0))).epsilon(1e-5));
  const auto sim = cs.similar("cold-a", 5);
  CHECK(sim.size() == 5);
}

TEST_CASE("two-tower: bad hyper-parameters and cold-item options are clear errors", "[two_tower]") {
  auto backend = make_cpu_backend();
  Hyper h = small_hyper();
  h.layers = 0;
  CHECK(test::error_of([&] { make_model(ModelKind::two_tower)->fit(catalogue().data, h, *backend); }) ==
        "two-tower: --layers must be in 1..4 (got 0)");
  h = small_hyper();
  h.dropout = 1.0f;
  CHECK(test::error_of([&] { make_model(ModelKind::two_tower)->fit(catalogue().data, h, *backend); })
            .find("--dropout") != std::string::npos);
  // Metadata whose rows are not the training items in index order (here: reversed) is refused,
  // not silently misread.
  std::string csv = "item,genres\n";
  for (index_t i = catalogue().data.n_items(); i-- > 0;) csv += catalogue().data.items.id(i) + ",x\n";
  auto m = make_model(ModelKind::two_tower);
  m->item_meta = std::make_shared<const ItemMeta>(load_item_meta_from_memory(csv, "reversed.csv"));
  CHECK(test::error_of([&] { m->fit(catalogue().data, small_hyper(), *backend); }).find("not aligned") != std::string::npos);
  EvalOptions o;
  o.cold_items = 1.5;
  CHECK(test::error_of([&] { evaluate_cold_items(catalogue().data, ModelKind::ials, h, o, *backend); })
            .find("strictly between 0 and 1") != std::string::npos);
}

// ---- User features (--user-meta) ----------------------------------------------------------------

namespace {

// A user-feature file for the catalogue: each user's most frequent genre ("taste", which the
// synthetic users' clusters drive) and their interaction count ("activity"); every tenth user is
// left out (a zero feature row) and one listed user has no interactions (dropped by alignment).
std::shared_ptr<const UserMeta> user_meta() {
  static const auto m = [] {
    const auto& cat = catalogue();
    std::vector<std::map<int, int>> counts(cat.data.n_users());
    std::vector<int> activity(cat.data.n_users(), 0);
    for (const auto& r : cat.data.rows) {
      ++activity[r.user];
      for (const int g : cat.item_genres[r.item]) ++counts[r.user][g];
    }
    std::string csv = "user_id,taste,activity\nghost,x,3\n";
    for (index_t u = 0; u < cat.data.n_users(); ++u) {
      if (u % 10 == 0) continue;
      int best = 0, n = -1;
      for (const auto& [g, c] : counts[u])
        if (c > n) best = g, n = c;
      csv += cat.data.users.id(u) + "," + cat.genre_names[static_cast<std::size_t>(best)] + "," +
             std::to_string(activity[u]) + "\n";
    }
    return std::make_shared<const UserMeta>(load_user_meta_from_memory(csv, "users.csv"));
  }();
  return m;
}

std::unique_ptr<Model> fit_with_users(const Hyper& h) {
  auto backend = make_openmp_backend(1);
  auto m = make_model(ModelKind::two_tower);
  m->item_meta = std::make_shared<const ItemMeta>(align_item_meta(*meta(), catalogue().data.items));
  m->user_meta = std::make_shared<const UserMeta>(align_user_meta(*user_meta(), catalogue().data.users));
  m->fit(catalogue().data, h, *backend);
  m->info.fit_seconds = 0;
  return m;
}

}  // namespace

TEST_CASE("two-tower with user features: seeded, different from without, same after save and load",
          "[two_tower]") {
  ItemMetaReport report;
  const UserMeta aligned = align_user_meta(*user_meta(), catalogue().data.users, &report);
  CHECK(aligned.rows() == catalogue().data.n_users());
  CHECK(report.cold == 1);         // ghost
  CHECK(report.undescribed == 30);  // every tenth of 300
  const auto a = fit_with_users(small_hyper(3));
  const auto b = fit_with_users(small_hyper(3));
  const std::string bytes = model_to_bytes(*a);
  CHECK(model_to_bytes(*b) == bytes);
  // The features change the user vectors (same seed, same data, same item tower input).
  REQUIRE(a->embeddings());
  CHECK(!a->embeddings()->U.isApprox(trained().embeddings()->U, 1e-3f));
  CHECK(bytes.size() > model_to_bytes(trained()).size());  // the layout and the feature weights

  const auto loaded = load_bytes(bytes);
  CHECK(!loaded->user_meta);  // not kept as such: the section has what serving needs
  {
    auto copy = fit_with_users(small_hyper(3));
    REQUIRE(copy->user_meta);
    copy->drop_users();
    CHECK(!copy->user_meta);  // per-user data, dropped with the users
  }
  CHECK(model_to_bytes(*loaded) == bytes);
  std::vector<float> x(a->n_items()), y(a->n_items());
  for (index_t u = 0; u < a->n_users(); u += 23) {
    a->score(u, x.data());
    loaded->score(u, y.data());
    CHECK(x == y);
  }
  // A new user folds in from items alone (a zero feature row), before and after the round trip.
  const std::vector<ItemValue> hist = {{2, 1.0f}, {8, 1.0f}, {30, 1.0f}};
  a->score_new(hist, x.data());
  loaded->score_new(hist, y.data());
  CHECK(x == y);
  CHECK(std::all_of(x.begin(), x.end(), [](float v) { return std::isfinite(v); }));
  // The stored user vector of a described user is the tower over [id, history mean, features]:
  // dropping the id and the features (fold-in of the same history) gives another vector.
  const index_t u1 = 1;
  a->score(u1, x.data());
  a->score_new(a->history(u1), y.data());
  CHECK(x != y);
}

TEST_CASE("two-tower with user features still fits and scores known users at every depth", "[two_tower]") {
  Hyper h = small_hyper(5);
  h.layers = 2;
  h.epochs = 2;
  const auto m = fit_with_users(h);
  const auto loaded = load_bytes(model_to_bytes(*m));
  std::vector<float> x(m->n_items()), y(m->n_items());
  m->score(7, x.data());
  loaded->score(7, y.data());
  CHECK(x == y);
}

TEST_CASE("user features: other kinds, misaligned and empty files are clear errors", "[two_tower]") {
  auto backend = make_cpu_backend();
  const auto aligned = std::make_shared<const UserMeta>(align_user_meta(*user_meta(), catalogue().data.users));
  Hyper h;
  h.factors = 4;
  h.epochs = 1;
  for (const ModelKind kind : {ModelKind::ials, ModelKind::popularity, ModelKind::neumf}) {
    auto m = make_model(kind);
    CHECK(!m->reads_user_meta());
    m->user_meta = aligned;
    CHECK(test::error_of([&] { m->fit(catalogue().data, h, *backend); }) ==
          std::string(kind_name(kind)) + " does not read user features (--user-meta): only two-tower's user tower does");
  }
  // Rows not in the training users' order (file order) are refused, not misread.
  auto m = make_model(ModelKind::two_tower);
  m->user_meta = user_meta();
  CHECK(test::error_of([&] { m->fit(catalogue().data, small_hyper(), *backend); }).find("not aligned") != std::string::npos);
  // A file with ids only gives the tower nothing to read.
  std::string ids = "user,note:skip\n";
  for (index_t u = 0; u < catalogue().data.n_users(); ++u) ids += catalogue().data.users.id(u) + ",-\n";
  m->user_meta = std::make_shared<const UserMeta>(
      align_user_meta(load_user_meta_from_memory(ids, "ids.csv"), catalogue().data.users));
  CHECK(test::error_of([&] { m->fit(catalogue().data, small_hyper(), *backend); }) ==
        "two-tower: the user features have no categorical or numeric field (only an id column?)");
  // Through evaluate(): every protocol fits with them, and refuses them for another kind.
  EvalOptions o;
  o.protocol = Protocol::holdout;
  o.user_meta = user_meta();
  CHECK(test::error_of([&] { evaluate(catalogue().data, ModelKind::bpr, h, o, *backend); })
            .find("bpr does not read user features") != std::string::npos);
}

TEST_CASE("two-tower: a section version 1 file (golden v4) loads as a model without user features",
          "[two_tower][model_file]") {
  const std::string path = std::string(EDGEREC_GOLDEN_DIR) + "/v4/two-tower.edgerec";
  const auto old = load_model(path);
  REQUIRE(old->kind() == ModelKind::two_tower);
  // Re-saved as the current section version: the same model plus an empty user feature layout
  // (six empty vectors, 8 bytes each, and a 2e x 0 weight matrix, 16 bytes) and no item tower
  // (a 0 flag, 1 byte: version 1 did not keep it), serving the same scores.
  const std::string resaved = model_to_bytes(*old);
  std::ifstream in(path, std::ios::binary);
  const std::string original((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(resaved.size() == original.size() + 6 * 8 + 16 + 1);
  const auto copy = load_bytes(resaved);
  CHECK(model_to_bytes(*copy) == resaved);
  std::vector<float> v(static_cast<std::size_t>(old->embeddings()->V.cols()));
  CHECK_FALSE(old->item_vector_described("genres=Action", v.data()));  // no item tower to embed with
  CHECK_FALSE(copy->item_vector_described("genres=Action", v.data()));
  std::vector<float> a(old->n_items()), b(old->n_items());
  for (index_t u = 0; u < old->n_users(); ++u) {
    old->score(u, a.data());
    copy->score(u, b.data());
    REQUIRE(a == b);
  }
  const std::vector<ItemValue> hist = {{1, 1.0f}, {3, 1.0f}};
  old->score_new(hist, a.data());
  copy->score_new(hist, b.data());
  CHECK(a == b);
}

TEST_CASE("two-tower: the section version 3 golden file (user features, item tower) serves what it was written with",
          "[two_tower][model_file]") {
  const std::string dir = std::string(EDGEREC_GOLDEN_DIR) + "/v4/";
  const auto m = load_model(dir + "two-tower.features.edgerec");
  REQUIRE(m->kind() == ModelKind::two_tower);
  // (Its top-5 lists and metadata are checked with every golden file, in test_model_file.)
  std::string line;
  // The item tower's vectors of two descriptions and a new user's fold-in with a feature row of
  // the same user file the model trained with (rebuilt here as make_golden wrote it).
  std::string users = "user,group,age\n";
  for (index_t u = 1; u < m->n_users(); ++u)
    users += m->users.id(u) + "," + "abc"[u % 3] + "," + std::to_string(18 + (u * 11) % 50) + "\n";
  const UserMeta user_file = load_user_meta_from_memory(users, "users.csv");
  std::ifstream described(dir + "two-tower.features.described.tsv");
  std::size_t vectors = 0;
  while (std::getline(described, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto t1 = line.find('\t'), t2 = line.find('\t', t1 + 1);
    const std::string what = line.substr(0, t1), input = line.substr(t1 + 1, t2 - t1 - 1);
    std::vector<float> want;
    std::istringstream in(line.substr(t2 + 1));
    for (std::string x; std::getline(in, x, ',');) want.push_back(std::stof(x));
    std::vector<float> got(want.size());
    float offset = 0;
    if (what == "item") {
      REQUIRE(m->item_vector_described(input, got.data()));
    } else {
      REQUIRE(what == "user");
      const std::vector<ItemValue> history = {{1, 1.0f}, {4, 1.0f}};
      REQUIRE(m->fold_in_vector_described(history, user_file, user_file.find(m->users.id(2)), got.data(), &offset));
    }
    for (std::size_t k = 0; k < want.size(); ++k) CHECK(got[k] == Approx(want[k]).epsilon(1e-5).margin(1e-6));
    ++vectors;
  }
  CHECK(vectors == 3);
}

TEST_CASE("two-tower fold-in with user features: zero row, file order, unknown values, new-user protocol",
          "[two_tower][new_users]") {
  Hyper h = small_hyper(3);
  h.epochs = 3;
  const auto m = fit_with_users(h);
  const auto& raw = *user_meta();  // file order, with a user the model does not know
  const auto aligned = align_user_meta(raw, m->users);
  const int e = static_cast<int>(m->embeddings()->V.cols());
  std::vector<float> a(static_cast<std::size_t>(e)), b(a);
  float oa = 1, ob = 1;
  const std::vector<ItemValue> hist = {{4, 1.0f}, {9, 1.0f}, {17, 1.0f}};
  // No row: exactly the items-only fold-in.
  REQUIRE(m->fold_in_vector_described(hist, raw, -1, a.data(), &oa));
  REQUIRE(m->fold_in_vector(hist, b.data(), &ob));
  CHECK(a == b);
  CHECK(oa == ob);
  // The same user found in the file (any order) or in the aligned rows: the same vector, and
  // another than without features.
  const index_t u = 1;
  REQUIRE(m->fold_in_vector_described(hist, raw, raw.find(m->users.id(u)), a.data(), &oa));
  REQUIRE(m->fold_in_vector_described(hist, aligned, u, b.data(), &ob));
  CHECK(a == b);
  std::vector<float> none(a.size());
  m->fold_in_vector(hist, none.data(), &ob);
  CHECK(a != none);
  // Features alone (no item) give a vector too; a value the model never saw adds nothing.
  REQUIRE(m->fold_in_vector_described({}, aligned, u, a.data(), &oa));
  const std::string taste = aligned.values(*aligned.field("taste"), u).at(0);
  const std::string activity = std::to_string(static_cast<int>(aligned.numeric.at(0).values[u]));
  const UserMeta one = load_user_meta_from_memory("user,taste,activity\nq," + taste + "|never-seen," + activity + "\n", "one.csv");
  REQUIRE(m->fold_in_vector_described({}, one, 0, b.data(), &ob));
  for (int k = 0; k < e; ++k) CHECK(b[static_cast<std::size_t>(k)] == Approx(a[static_cast<std::size_t>(k)]).margin(1e-5));
  CHECK_THROWS(m->fold_in_vector_described({}, one, 1, b.data(), &ob));
  // A model trained without user features does not fold in with them.
  CHECK_FALSE(trained().fold_in_vector_described(hist, raw, 0, a.data(), &oa));
  CHECK_FALSE(make_model(ModelKind::ials)->fold_in_vector_described(hist, raw, 0, a.data(), &oa));

  // The new-user protocol adds the features methods, and only with user features.
  NewUserOptions o;
  o.fraction = 0.2;
  o.steps = 0;
  o.seed = 4;
  auto backend = make_openmp_backend(1);
  const NewUserResult plain = evaluate_new_users(catalogue().data, ModelKind::two_tower, h, o, *backend);
  CHECK(plain.metrics.count("features_hr@10") == 0);
  o.user_meta = user_meta();
  const NewUserResult with = evaluate_new_users(catalogue().data, ModelKind::two_tower, h, o, *backend);
  REQUIRE(with.metrics.count("features_hr@10") == 1);
  REQUIRE(with.metrics.count("foldin_features_ndcg@10") == 1);
  CHECK(with.metrics.at("popularity_hr@10") == plain.metrics.at("popularity_hr@10"));
  const NewUserResult again = evaluate_new_users(catalogue().data, ModelKind::two_tower, h, o, *backend);
  CHECK(again.metrics == with.metrics);
  INFO("features " << with.metrics.at("features_ndcg@10") << " foldin " << with.metrics.at("foldin_ndcg@10")
                   << " foldin_features " << with.metrics.at("foldin_features_ndcg@10") << " popularity "
                   << with.metrics.at("popularity_ndcg@10"));
  // The synthetic "taste" is the user's most frequent genre: features alone beat chance by far.
  CHECK(with.metrics.at("features_hr@10") > 0.05);
}
