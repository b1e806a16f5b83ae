// NeuMF (core/src/models/neumf.cpp) on small synthetic implicit data: it learns (held-out hit
// rate far above popularity and chance), early stopping on the validation part, determinism,
// save/load round trip, fold-in for a new user, explanations and similar items, and clear
// errors for bad hyper-parameters and damaged sections.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "edgerec/edgerec.hpp"
#include "edgerec/openmp_backend.hpp"
#include "models/factories.hpp"
#include "test_util.hpp"

using namespace edgerec;

namespace {

// Taste clusters with Zipf popularity: a model that learns the clusters beats popularity.
const Interactions& synthetic() {
  static const Interactions data = [] {
    SyntheticOptions o;
    o.users = 400;
    o.items = 240;
    o.interactions = 16000;
    o.ratings = false;
    o.seed = 11;
    return generate_synthetic(o).data;
  }();
  return data;
}

Hyper small_hyper(std::uint64_t seed = 5) {
  Hyper h;
  h.factors = 8;
  h.layers = 2;
  h.epochs = 12;
  h.batch = 512;
  h.lr = 0.02f;
  h.patience = 4;
  h.pretrain = 0;  // one stage; the pre-training test turns it on
  h.seed = seed;
  return h;
}

std::unique_ptr<Model> fit(const Interactions& data, const Hyper& h, Backend& backend) {
  auto m = make_model(ModelKind::neumf);
  m->fit(data, h, backend);
  m->info.fit_seconds = 0;  // measured time: the one field two identical fits differ in
  return m;
}

double full_hr10(const Model& m, const Interactions& test) {
  EvalOptions o;
  o.k = 10;
  std::map<std::string, double> metrics;
  auto backend = make_cpu_backend();
  measure(m, test, o, *backend, metrics);
  return metrics.at("hr@10");
}

// The held-out split and a model trained on it, shared by the cases below.
struct Trained {
  Split split;
  std::unique_ptr<Model> model;
};
const Trained& trained() {
  static const Trained t = [] {
    Trained r;
    r.split = leave_last_out(synthetic());
    auto backend = make_openmp_backend(1);
    r.model = fit(r.split.train, small_hyper(), *backend);
    return r;
  }();
  return t;
}

void reseal(std::string& b) {
  const std::uint32_t crc = crc32(b.data(), b.size() - 4);
  for (int k = 0; k < 4; ++k) b[b.size() - 4 + static_cast<std::size_t>(k)] = static_cast<char>((crc >> (8 * k)) & 0xFF);
}

}  // namespace

TEST_CASE("neumf learns: held-out hit rate far above popularity and chance", "[neumf]") {
  const Trained& t = trained();
  auto pop = make_model(ModelKind::popularity);
  auto backend = make_cpu_backend();
  pop->fit(t.split.train, Hyper{}, *backend);
  const double hr = full_hr10(*t.model, t.split.test), hr_pop = full_hr10(*pop, t.split.test);
  const double chance = 10.0 / static_cast<double>(synthetic().n_items());
  INFO("neumf hr@10 " << hr << ", popularity " << hr_pop << ", chance " << chance);
  CHECK(hr > 1.3 * hr_pop);
  CHECK(hr > 4 * chance);
  // Early stopping on the validation part: a best epoch, the loss recorded per epoch run.
  CHECK(t.model->info.best_epoch >= 1);
  CHECK(t.model->info.best_epoch <= t.model->info.epochs_run);
  CHECK(t.model->info.loss.size() == static_cast<std::size_t>(t.model->info.epochs_run));
  CHECK(t.model->info.loss.back() < t.model->info.loss.front());
  CHECK(t.model->embeddings() == nullptr);
}

TEST_CASE("neumf: same seed, same bytes; another seed, another model", "[neumf]") {
  const Interactions& data = synthetic();
  Hyper h = small_hyper(9);
  h.epochs = 3;
  auto b1 = make_openmp_backend(1);
  auto b2 = make_openmp_backend(1);
  const std::string a = model_to_bytes(*fit(data, h, *b1));
  CHECK(a == model_to_bytes(*fit(data, h, *b2)));
  h.seed = 10;
  CHECK(a != model_to_bytes(*fit(data, h, *b1)));
}

TEST_CASE("neumf --recent: the latest interactions once more change the model, deterministically", "[neumf]") {
  const Interactions& data = synthetic();
  Hyper h = small_hyper(9);
  h.epochs = 2;
  h.refit = 0;
  auto backend = make_openmp_backend(1);
  h.recent = 0;
  const std::string none = model_to_bytes(*fit(data, h, *backend));
  h.recent = 3;
  const std::string three = model_to_bytes(*fit(data, h, *backend));
  CHECK(three != none);
  CHECK(three == model_to_bytes(*fit(data, h, *backend)));
  h.recent = -1;
  CHECK(test::error_of([&] { fit(data, h, *backend); }).rfind("--recent must be in 0..", 0) == 0);
}

TEST_CASE("neumf pre-training: GMF, then MLP, then the fused model, each stage validated", "[neumf]") {
  const Interactions& data = synthetic();
  const Split split = leave_last_out(data);
  Hyper h = small_hyper();
  h.pretrain = 6;
  h.epochs = 4;
  h.val_negatives = 50;
  std::vector<EpochRecord> records;
  auto backend = make_openmp_backend(1);
  auto m = make_model(ModelKind::neumf);
  m->fit(split.train, h, *backend, Progress({}, [&](const EpochRecord& r) { records.push_back(r); }));
  std::vector<std::string> stages;
  for (const auto& r : records)
    if (stages.empty() || stages.back() != r.stage) stages.push_back(r.stage);
  // The refit (the default) follows: each stage again on the whole training part, for the
  // epochs validation kept in it, with nothing to validate on.
  // ("refit neumf" runs no epoch when validation kept the fused start.)
  const bool fine_tuned = std::any_of(records.begin(), records.end(), [](const EpochRecord& r) {
    return r.stage == "neumf" && r.epoch >= 1 && r.best;
  });
  // Between MLP and NeuMF: the fused start for each GMF weight a, on validation, the paper's 0.5 first.
  std::vector<std::string> expected{"gmf", "mlp", "fuse a=0.5", "fuse a=0.3", "fuse a=0.4", "fuse a=0.6",
                                    "fuse a=0.7", "neumf", "refit gmf", "refit mlp"};
  if (fine_tuned) expected.push_back("refit neumf");
  CHECK(stages == expected);
  const auto refit_from = std::find_if(records.begin(), records.end(),
                                       [](const EpochRecord& r) { return r.stage.rfind("refit", 0) == 0; });
  for (auto r = refit_from; r != records.end(); ++r) {
    CHECK(r->metric.empty());
    CHECK(std::isnan(r->value));
    CHECK(r->epoch >= 1);
  }
  for (const char* stage : {"gmf", "mlp", "neumf"}) {
    INFO(stage);
    int kept = 0, refitted = 0;
    for (auto r = records.begin(); r != refit_from; ++r)
      if (r->stage == stage && r->best) kept = r->epoch;  // the last best: the one kept
    for (auto r = refit_from; r != records.end(); ++r) refitted += r->stage == std::string("refit ") + stage;
    CHECK(refitted == kept);
  }
  records.erase(refit_from, records.end());
  for (const auto& r : records) CHECK(r.metric == "val_ndcg@10");  // sampled validation, as asked
  // The neumf stage starts from the best fuse, whose score is its epoch 0.
  double best_fuse = -1;
  for (const auto& r : records)
    if (r.stage.rfind("fuse", 0) == 0) best_fuse = std::max(best_fuse, r.value);
  const auto start = std::find_if(records.begin(), records.end(),
                                  [](const EpochRecord& r) { return r.stage == "neumf" && r.epoch == 0; });
  REQUIRE(start != records.end());
  CHECK(start->value == best_fuse);
  records.erase(std::remove_if(records.begin(), records.end(),
                               [](const EpochRecord& r) { return r.stage.rfind("fuse", 0) == 0; }),
                records.end());
  // The fused stage's epoch 0 is its start (the pre-trained average), not an epoch run.
  const auto run = static_cast<std::size_t>(
      std::count_if(records.begin(), records.end(), [](const EpochRecord& r) { return r.epoch >= 1; }));
  CHECK(run + 1 == records.size());
  CHECK(m->info.epochs_run == static_cast<int>(run));
  CHECK(m->info.loss.size() == run);
  // The kept parameters are those of the best fused epoch, or the fused start (the end of the
  // MLP stage) when no fine-tuning epoch beat it.
  const int fused_from = static_cast<int>(std::count_if(records.begin(), records.end(),
                                                        [](const EpochRecord& r) { return r.stage != "neumf"; }));
  CHECK(std::find_if(records.begin(), records.end(), [](const EpochRecord& r) {
          return r.stage == "neumf" && r.epoch == 0 && r.best && std::isnan(r.loss);
        }) != records.end());
  CHECK(m->info.best_epoch >= fused_from);
  CHECK(m->info.best_epoch <= m->info.epochs_run);
  auto pop = make_model(ModelKind::popularity);
  pop->fit(split.train, Hyper{}, *backend);
  CHECK(full_hr10(*m, split.test) > 1.3 * full_hr10(*pop, split.test));
  // score_items gives exactly score()'s values for the items asked.
  std::vector<float> all(m->n_items());
  const std::vector<index_t> items{5, 0, 17, 5, static_cast<index_t>(m->n_items() - 1)};
  std::vector<float> some(items.size());
  for (index_t u : {index_t{0}, index_t{37}}) {
    m->score(u, all.data());
    m->score_items(u, items.data(), items.size(), some.data());
    for (std::size_t j = 0; j < items.size(); ++j) CHECK(some[j] == all[items[j]]);
  }
}

TEST_CASE("neumf: save and load serve the same scores, fold-ins and similar items", "[neumf]") {
  const Model& m = *trained().model;
  const std::string dir = test::temp_dir("neumf_roundtrip");
  save_model(m, dir + "/n.edgerec");
  const auto loaded = load_model(dir + "/n.edgerec");
  REQUIRE(loaded->kind() == ModelKind::neumf);
  CHECK(loaded->hyper.layers == m.hyper.layers);
  std::vector<float> a(m.n_items()), b(m.n_items());
  for (index_t u = 0; u < m.n_users(); u += 13) {
    m.score(u, a.data());
    loaded->score(u, b.data());
    REQUIRE(a == b);
  }
  const auto hist = m.history(3);
  m.score_new(hist, a.data());
  loaded->score_new(hist, b.data());
  CHECK(a == b);
  m.similar(7, a.data());
  loaded->similar(7, b.data());
  CHECK(a == b);
  CHECK(a[7] == Approx(1.0f).epsilon(1e-5));
  // The file is the model: saving the loaded one gives the same bytes.
  CHECK(model_to_bytes(*loaded) == model_to_bytes(m));
}

TEST_CASE("neumf fold-in: the hand-written gradient (the wasm has no backward pass) is the tape's", "[neumf]") {
  const Model& m = *trained().model;
  // Positives with sampled-looking negatives, a repeated item, and a lone row: every branch of
  // the gradient (GMF part, each MLP layer's ReLU, the first layer's user half) is exercised.
  const std::vector<std::int32_t> items{3, 17, 40, 3, 99, 120, 7, 211, 64};
  const std::vector<float> labels{1, 0, 0, 1, 1, 0, 0, 1, 0};
  CHECK(neumf_fold_in_gradient_error(m, items, labels) < 1e-5);
  CHECK(neumf_fold_in_gradient_error(m, {5}, {1}) < 1e-5);
  const auto popularity = make_model(ModelKind::popularity);
  CHECK_THROWS_WITH(neumf_fold_in_gradient_error(*popularity, items, labels), Catch::Contains("not a neumf"));
}

TEST_CASE("neumf fold-in ranks a new user's held-out items far above chance", "[neumf]") {
  // Users 0..59 are left out of training; each comes back as a new user with all but its last
  // item, and the last one is looked for in the top 10 of the fold-in's unseen items.
  const Interactions& data = synthetic();
  Interactions train;
  train.users = data.users;
  train.items = data.items;
  train.source = "synthetic without users 0..59";
  std::map<index_t, std::vector<ItemValue>> newcomers;
  for (const auto& r : data.rows) {
    if (r.user < 60) newcomers[r.user].push_back({r.item, 1.0f});
    else train.rows.push_back(r);
  }
  auto backend = make_openmp_backend(1);
  const auto m = fit(train, small_hyper(), *backend);
  int hits = 0, users = 0;
  std::vector<float> s(m->n_items());
  for (auto& [u, items] : newcomers) {
    if (items.size() < 3) continue;
    const index_t held = items.back().item;
    items.pop_back();
    std::set<index_t> own;
    for (const auto& h : items) own.insert(h.item);
    if (own.count(held)) continue;
    m->score_new(m->prepare_history(items), s.data());
    std::vector<float> again(m->n_items());
    m->score_new(m->prepare_history(items), again.data());
    REQUIRE(s == again);  // deterministic fold-in
    const float target = s[held];
    int better = 0;
    for (index_t i = 0; i < m->n_items(); ++i)
      if (!own.count(i) && i != held && s[i] > target) ++better;
    hits += better < 10;
    ++users;
  }
  REQUIRE(users >= 40);
  const double hr = static_cast<double>(hits) / users, chance = 10.0 / static_cast<double>(m->n_items());
  INFO("fold-in hr@10 " << hr << " over " << users << " new users, chance " << chance);
  CHECK(hr > 4 * chance);
  // An empty history is the popularity order.
  m->score_new({}, s.data());
  for (index_t i = 0; i < m->n_items(); ++i) CHECK(s[i] == Approx(std::log1p(m->item_popularity[i])));
}

TEST_CASE("neumf explain: one weight per history item, in history order, not exact", "[neumf]") {
  const Model& m = *trained().model;
  const auto hist = m.history(5);
  REQUIRE(hist.size() >= 2);
  std::vector<float> s(m.n_items());
  m.score(5, s.data());
  for (const std::int64_t user : {std::int64_t{5}, std::int64_t{-1}}) {
    const Attribution a = m.explain(hist, 11, user);
    REQUIRE(a.weights.size() == hist.size());
    for (std::size_t j = 0; j < hist.size(); ++j) CHECK(a.weights[j].item == hist[j].item);
    CHECK_FALSE(a.exact);
    CHECK_FALSE(a.note.empty());
  }
  // The known user's split is of its served score.
  const Attribution known = m.explain(hist, 11, 5);
  double sum = known.base;
  for (const auto& w : known.weights) sum += w.weight;
  CHECK(sum == Approx(s[11]).margin(1e-5));
  CHECK_THROWS_AS(m.explain(hist, m.n_items(), 5), Error);
}

TEST_CASE("neumf: bad hyper-parameters and damaged sections are clear errors", "[neumf]") {
  auto backend = make_cpu_backend();
  Hyper h = small_hyper();
  h.layers = 0;
  CHECK(test::error_of([&] { fit(synthetic(), h, *backend); }) == "neumf: --layers must be in 1..8 (got 0)");
  h.layers = 9;
  CHECK(test::error_of([&] { fit(synthetic(), h, *backend); }) == "neumf: --layers must be in 1..8 (got 9)");

  // A file whose `layers` says 3 where the weights are for 2: the first weight's shape no longer
  // matches, named with its field.
  Hyper small = small_hyper();
  small.epochs = 1;
  small.batch = 77;
  small.train_negatives = 4;
  small.patience = 3;
  const std::string bytes = model_to_bytes(*fit(synthetic(), small, *backend));
  // batch 77, layers 2, train_negatives 4, patience 3: each a presence byte and an i32.
  const std::string fields("\x01\x4d\x00\x00\x00\x01\x02\x00\x00\x00\x01\x04\x00\x00\x00\x01\x03\x00\x00\x00", 20);
  const std::size_t at = bytes.find(fields);
  REQUIRE(at != std::string::npos);
  std::string forged = bytes;
  forged[at + 6] = 3;
  reseal(forged);
  const std::string err = test::error_of([&] { model_from_bytes(forged.data(), forged.size()); });
  INFO(err);
  CHECK(err.find("neumf.") != std::string::npos);
  CHECK(err.find("neumf.gmf_user") == std::string::npos);  // gmf shapes do not depend on layers
  forged[at + 6] = 0;
  reseal(forged);
  CHECK(test::error_of([&] { model_from_bytes(forged.data(), forged.size()); }).find("layers") != std::string::npos);
  // Truncated inside the section.
  std::string cut = bytes.substr(0, bytes.size() - 40);
  CHECK_THROWS_AS(model_from_bytes(cut.data(), cut.size()), Error);
}
