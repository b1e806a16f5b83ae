// Protocols end to end: a hand-built NCF case whose every metric is worked out in comments,
// measure() on a hand split, determinism of k-fold, a real model beating popularity on the
// synthetic catalogue, and the ML-100K baseline bar when the real data is present.
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "edgerec/eval.hpp"
#include "edgerec/openmp_backend.hpp"
#include "edgerec/split.hpp"
#include "test_util.hpp"

using namespace edgerec;

namespace {

const double kLog2_3 = std::log2(3.0);

// Training data of the hand examples. Popularity counts: A 4, B 3, C 2, D 1, F 1, E 0.
// Item indices in first-seen order: A0 B1 C2 D3 F4, and E5 (only in the test, like an NCF
// test item unseen in training).
//   u0: A        u1: A B      u2: A B C      u3: A B C D      u4: F
Interactions hand_train() {
  Interactions d;
  d.source = "hand";
  auto add = [&](const char* u, const char* i) { d.rows.push_back({d.users.add(u), d.items.add(i), 1.0f, 0}); };
  add("u0", "A");
  add("u1", "A");
  add("u1", "B");
  add("u2", "A");
  add("u2", "B");
  add("u2", "C");
  add("u3", "A");
  add("u3", "B");
  add("u3", "C");
  add("u3", "D");
  add("u4", "F");
  d.items.add("E");
  return d;
}

index_t item(const Interactions& d, const char* id) { return static_cast<index_t>(d.items.find(id)); }
index_t user(const Interactions& d, const char* id) { return static_cast<index_t>(d.users.find(id)); }

SyntheticCatalogue small_catalogue() {
  SyntheticOptions o;
  o.users = 600;
  o.items = 400;
  o.interactions = 24000;
  o.seed = 5;
  return generate_synthetic(o);
}

}  // namespace

TEST_CASE("NCF protocol on a hand example with known answers", "[eval]") {
  const Interactions train = hand_train();
  NcfTest test;
  auto entry = [&](const char* u, const char* pos, std::vector<const char*> negs) {
    test.users.push_back(user(train, u));
    test.positives.push_back(item(train, pos));
    test.negatives.emplace_back();
    for (const char* n : negs) test.negatives.back().push_back(item(train, n));
  };
  // Per entry: sampled rank among {positive + negatives}, full rank among the items the user
  // did not train on (conservative ties: an equal-scored candidate goes above the positive).
  entry("u0", "C", {"D", "E"});  // sampled C(2) > D(1), E(0): 1 of 3. Full B C D E F: B above -> 2 of 5
  entry("u1", "D", {"C", "E"});  // sampled C above: 2 of 3. Full C D E F: C and tied F above -> 3 of 4
  entry("u2", "E", {"D"});       // sampled D above: 2 of 2. Full D E F: D, F above -> 3 of 3
  entry("u4", "B", {"C", "E"});  // sampled 1 of 3. Full A B C D E: A above -> 2 of 5

  EvalOptions options;
  options.protocol = Protocol::ncf;
  options.k = 2;
  auto backend = make_cpu_backend();
  const auto r = evaluate_ncf(train, test, ModelKind::popularity, Hyper{}, options, *backend);
  const auto& m = r.metrics;
  CHECK(r.test_rows == 4);
  CHECK(r.train_rows == train.size());

  // Sampled ranks 1, 2, 2, 1.
  CHECK(m.at("hr@2") == Approx(1.0));
  CHECK(m.at("ndcg@2") == Approx((1.0 + 1.0 / kLog2_3 + 1.0 / kLog2_3 + 1.0) / 4.0));
  CHECK(m.at("mrr") == Approx((1.0 + 0.5 + 0.5 + 1.0) / 4.0));
  // AUC per entry: 2/2, 1/2, 0/1, 2/2 negatives below the positive -> (1 + .5 + 0 + 1) / 4.
  CHECK(m.at("auc") == Approx(0.625));

  // Full ranks 2, 3, 3, 2. Ranking ties by index would put D (3) above F (4) for u1 and give
  // full_hr@2 = 0.75; the conservative rule gives 0.5.
  CHECK(m.at("full_hr@2") == Approx(0.5));
  CHECK(m.at("full_ndcg@2") == Approx((1.0 / kLog2_3 + 0 + 0 + 1.0 / kLog2_3) / 4.0));
  CHECK(m.at("full_recall@2") == Approx(0.5));
  CHECK(m.at("full_precision@2") == Approx(0.25));
  CHECK(m.at("full_mrr") == Approx((0.5 + 1.0 / 3.0 + 1.0 / 3.0 + 0.5) / 4.0));
  // AUC: u0 3 of 4 negatives below, u1 1 of 3, u2 0 of 2, u4 3 of 4 -> (3/4 + 1/3 + 0 + 3/4) / 4.
  CHECK(m.at("full_auc") == Approx(11.0 / 24.0));

  // Top-2 lists (ties by index): u0 {B, C}, u1 {C, D}, u2 {D, F}, u4 {A, B}.
  // 5 of the 6 items appear -> coverage 5/6. Counts A1 B2 C2 D2 F1 E0 sorted (0,1,1,2,2,2), total 8:
  // sum (2i - 5) c_i = -3 - 1 + 2 + 6 + 10 = 14; Gini = 14 / ((6 - 1) * 8) = 0.35.
  CHECK(m.at("full_coverage@2") == Approx(5.0 / 6.0));
  CHECK(m.at("full_gini@2") == Approx(0.35));

  // K = 1: sampled ranks 1, 2, 2, 1 -> hr 0.5; no full rank is 1 -> 0.
  options.k = 1;
  const auto r1 = evaluate_ncf(train, test, ModelKind::popularity, Hyper{}, options, *backend);
  CHECK(r1.metrics.at("hr@1") == Approx(0.5));
  CHECK(r1.metrics.at("full_hr@1") == 0.0);

  // Bad test sets are errors, not crashes.
  NcfTest bad = test;
  bad.positives.push_back(0);
  CHECK_THROWS_AS(evaluate_ncf(train, bad, ModelKind::popularity, Hyper{}, options, *backend), Error);
  bad = test;
  bad.negatives[0].push_back(999);
  CHECK_THROWS_AS(evaluate_ncf(train, bad, ModelKind::popularity, Hyper{}, options, *backend), Error);
}

TEST_CASE("measure ranks test items against unseen items, with a relevance threshold", "[eval]") {
  const Interactions train = hand_train();
  Interactions test = train.empty_like();
  test.has_ratings = true;
  test.rows.push_back({user(train, "u0"), item(train, "C"), 5.0f, 0});
  test.rows.push_back({user(train, "u0"), item(train, "D"), 2.0f, 0});
  test.rows.push_back({user(train, "u1"), item(train, "A"), 5.0f, 0});  // trained on: not rankable
  auto backend = make_cpu_backend();
  auto model = make_model(ModelKind::popularity);
  model->fit(train, Hyper{}, *backend);

  EvalOptions options;
  options.k = 2;
  std::map<std::string, double> all;
  measure(*model, test, options, *backend, all);
  // Only u0 counts. Candidates B C D E F (5). C(2): B above -> rank 2. D(1): B, F (tied) above,
  // and C as the relevant item before it -> rank 4.
  CHECK(all.count("rmse") == 0);  // popularity does not predict ratings
  CHECK(all.at("hr@2") == 1.0);
  CHECK(all.at("recall@2") == Approx(0.5));
  CHECK(all.at("precision@2") == Approx(0.5));
  CHECK(all.at("ndcg@2") == Approx((1.0 / kLog2_3) / (1.0 + 1.0 / kLog2_3)));
  CHECK(all.at("map@2") == Approx(0.25));  // P@2 = 1/2 over min(2, 2)
  CHECK(all.at("mrr") == Approx(0.5));
  // 3 non-relevant (B E F): C beats E, F (2); D beats E (1) -> 3 / 6.
  CHECK(all.at("auc") == Approx(0.5));
  CHECK(all.at("coverage@2") == Approx(2.0 / 6.0));  // one list {B, C}

  options.relevance_threshold = 4.0f;  // D (2 stars) no longer relevant
  std::map<std::string, double> liked;
  measure(*model, test, options, *backend, liked);
  CHECK(liked.at("recall@2") == Approx(1.0));
  CHECK(liked.at("ndcg@2") == Approx(1.0 / kLog2_3));
  CHECK(liked.at("auc") == Approx(3.0 / 4.0));  // C beats D E F of B D E F

  // A test set outside the model's index space is an error, not a read out of bounds.
  test.rows.push_back({0, 99, 5.0f, 0});
  CHECK_THROWS_AS(measure(*model, test, options, *backend, liked), Error);
}

TEST_CASE("evaluation is deterministic for a seed and any thread count", "[eval]") {
  const auto cat = small_catalogue();
  EvalOptions options;
  options.protocol = Protocol::kfold;
  options.folds = 3;
  options.seed = 9;
  auto one = make_openmp_backend(1);
  auto two = make_openmp_backend(2);
  int folds_reported = 0;
  const Progress progress = [&](const char* stage, int done, int total) {
    if (std::string(stage) == "fold" && done == total) folds_reported = total;
  };
  const auto a = evaluate(cat.data, ModelKind::popularity, Hyper{}, options, *one, progress);
  CHECK(folds_reported == 3);
  const auto b = evaluate(cat.data, ModelKind::popularity, Hyper{}, options, *two);
  CHECK(a.folds == 3);
  REQUIRE(a.metrics.count("ndcg@10") == 1);
  CHECK(a.metrics == b.metrics);  // bit-identical, not approximately equal

  options.seed = 10;
  const auto c = evaluate(cat.data, ModelKind::popularity, Hyper{}, options, *two);
  CHECK(c.metrics != a.metrics);

  // A model with real training: same seed twice gives the same numbers, rating metrics included.
  options.seed = 9;
  Hyper h;
  h.epochs = 5;
  h.seed = 3;
  const auto s1 = evaluate(cat.data, ModelKind::svd, h, options, *two);
  const auto s2 = evaluate(cat.data, ModelKind::svd, h, options, *two);
  REQUIRE(s1.metrics.count("rmse") == 1);
  CHECK(s1.metrics == s2.metrics);
  CHECK(s1.fit_seconds > 0);
}

TEST_CASE("a trained model beats popularity on the synthetic catalogue", "[eval]") {
  const auto cat = small_catalogue();
  EvalOptions options;
  options.protocol = Protocol::holdout;
  options.seed = 1;
  auto backend = make_openmp_backend(2);
  const auto pop = evaluate(cat.data, ModelKind::popularity, Hyper{}, options, *backend);
  // iALS's defaults are tuned for ML-1M (6040 users, 1M rows) and overfit a 600-user catalogue;
  // fewer factors and more regularisation suit it (as a grid on this catalogue shows).
  Hyper small;
  small.factors = 32;
  small.reg = 50.0f;
  const auto ials = evaluate(cat.data, ModelKind::ials, small, options, *backend);
  const auto knn = evaluate(cat.data, ModelKind::itemknn, Hyper{}, options, *backend);
  const double p = pop.metrics.at("ndcg@10");
  INFO("ndcg@10 popularity " << p << ", ials " << ials.metrics.at("ndcg@10") << ", itemknn "
                             << knn.metrics.at("ndcg@10"));
  CHECK(ials.metrics.at("ndcg@10") > 1.1 * p);
  CHECK(knn.metrics.at("ndcg@10") > 1.1 * p);
  // Popularity recommends the same few items to everyone; personal models spread out.
  CHECK(ials.metrics.at("coverage@10") > pop.metrics.at("coverage@10"));
  CHECK(pop.metrics.at("gini@10") > ials.metrics.at("gini@10"));
  CHECK(pop.test_rows == static_cast<std::uint64_t>(std::llround(cat.data.size() * 0.2)));
}

TEST_CASE("leave-last-out reports sampled and full metrics", "[eval]") {
  const auto cat = small_catalogue();
  EvalOptions options;
  options.protocol = Protocol::loo;
  options.seed = 2;
  auto backend = make_openmp_backend(2);
  const auto r = evaluate(cat.data, ModelKind::itemknn, Hyper{}, options, *backend);
  const auto& m = r.metrics;
  for (const char* key : {"hr@10", "ndcg@10", "full_hr@10", "full_ndcg@10", "full_recall@10",
                          "full_mrr", "full_auc", "full_coverage@10", "full_gini@10"})
    CHECK(m.count(key) == 1);
  // The sampled candidates (negatives the user never touched) are a subset of the full ones,
  // so every user's sampled rank is at most its full rank.
  CHECK(m.at("hr@10") >= m.at("full_hr@10"));
  CHECK(m.at("mrr") >= m.at("full_mrr"));
  CHECK(m.at("hr@10") > 0.3);   // 1 + 99 candidates: random would give 0.1
  CHECK(r.test_rows <= cat.data.n_users());
  // A different negative-sampling seed changes the sampled metrics only.
  options.seed = 3;
  const auto r2 = evaluate(cat.data, ModelKind::itemknn, Hyper{}, options, *backend);
  CHECK(r2.metrics.at("full_ndcg@10") == m.at("full_ndcg@10"));
  CHECK(r2.metrics.at("ndcg@10") != m.at("ndcg@10"));
}

TEST_CASE("measure_sampled: the sampled metrics alone equal those made beside the full ranking", "[eval]") {
  const auto cat = small_catalogue();
  const Split split = leave_last_out(cat.data);
  auto backend = make_openmp_backend(2);
  auto model = make_model(ModelKind::itemknn);
  model->fit(split.train, Hyper{}, *backend);
  std::vector<index_t> users;
  for (const auto& row : split.test.rows) users.push_back(row.user);
  const auto drawn = sample_negatives(cat.data, users, 49, 7);
  std::vector<std::vector<index_t>> negatives(split.test.n_users());
  for (std::size_t i = 0; i < users.size(); ++i) negatives[users[i]] = drawn[i];
  EvalOptions o;
  std::map<std::string, double> both, sampled;
  measure_sampled(*model, split.test, negatives, o, *backend, both);
  measure_sampled(*model, split.test, negatives, o, *backend, sampled, /*full_ranking=*/false);
  CHECK(both.count("full_ndcg@10") == 1);
  CHECK(sampled.count("full_ndcg@10") == 0);
  for (const char* key : {"hr@10", "ndcg@10", "mrr", "auc"}) CHECK(sampled.at(key) == both.at(key));
  CHECK(sampled.at("hr@10") > 0.3);  // 1 + 49 candidates: random would give 0.2
}

TEST_CASE("temporal protocol and option errors", "[eval]") {
  const auto cat = small_catalogue();
  auto backend = make_cpu_backend();
  EvalOptions options;
  options.protocol = Protocol::temporal;
  options.test_fraction = 0.1;
  const auto r = evaluate(cat.data, ModelKind::popularity, Hyper{}, options, *backend);
  CHECK(r.metrics.count("ndcg@10") == 1);
  CHECK(r.test_rows >= static_cast<std::uint64_t>(std::llround(cat.data.size() * 0.1)));

  options.protocol = Protocol::ncf;
  CHECK_THROWS_AS(evaluate(cat.data, ModelKind::popularity, Hyper{}, options, *backend), Error);
  options.protocol = Protocol::kfold;
  options.folds = 1;
  CHECK_THROWS_AS(evaluate(cat.data, ModelKind::popularity, Hyper{}, options, *backend), Error);
  options.folds = 5;
  options.k = 0;
  CHECK_THROWS_AS(evaluate(cat.data, ModelKind::popularity, Hyper{}, options, *backend), Error);
  CHECK(parse_protocol("loo") == Protocol::loo);
  CHECK(std::string(protocol_name(Protocol::kfold)) == "kfold");
  CHECK_THROWS_AS(parse_protocol("bogus"), Error);
}

TEST_CASE("ML-100K 5-fold CV: baseline RMSE <= 0.944", "[eval][data][realdata]") {
  const std::string path = edgerec::test::shared_data("ml-100k/u.data");
  EDGEREC_SKIP_IF_NO_DATA(path, "ml-100k/u.data");
  const auto data = load_interactions(path);
  EvalOptions options;
  options.protocol = Protocol::kfold;
  options.folds = 5;
  options.seed = 0;
  auto backend = make_openmp_backend(2);
  const auto r = evaluate(data, ModelKind::baseline, Hyper{}, options, *backend);
  INFO("baseline rmse " << r.metrics.at("rmse") << " mae " << r.metrics.at("mae"));
  CHECK(r.metrics.at("rmse") <= 0.944);
  CHECK(r.metrics.at("mae") < 0.76);
  CHECK(r.folds == 5);
  CHECK(r.train_rows + r.test_rows == data.size());
}
