// Validation parts, validation-only random search, per-fold spread, user-given test files and
// clipped served ratings.
#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "edgerec/eval.hpp"
#include "edgerec/openmp_backend.hpp"
#include "edgerec/recommender.hpp"
#include "edgerec/split.hpp"
#include "edgerec/tune.hpp"
#include "test_util.hpp"

using namespace edgerec;

namespace {

Interactions catalogue(bool ratings, std::uint64_t seed = 11) {
  SyntheticOptions o;
  o.users = 300;
  o.items = 200;
  o.interactions = 9000;
  o.seed = seed;
  o.ratings = ratings;
  return generate_synthetic(o).data;
}

// Rows tagged by their position (time = row number), so a split's rows can be traced back.
Interactions tagged(Interactions d) {
  for (std::size_t i = 0; i < d.rows.size(); ++i) d.rows[i].time = static_cast<std::int64_t>(i);
  d.has_time = true;
  return d;
}

std::set<std::int64_t> tags(const Interactions& d) {
  std::set<std::int64_t> s;
  for (const auto& r : d.rows) s.insert(r.time);
  return s;
}

}  // namespace

TEST_CASE("validation parts come from the training part only and never touch the test part", "[tune]") {
  const Interactions data = tagged(catalogue(true));
  for (auto protocol : {Protocol::holdout, Protocol::kfold, Protocol::loo, Protocol::temporal}) {
    EvalOptions o;
    o.protocol = protocol;
    o.seed = 3;
    const Split outer = protocol_split(data, o, 1);
    const Split v = validation_split(outer.train, o);
    const auto train = tags(outer.train), test = tags(outer.test);
    const auto fit = tags(v.train), val = tags(v.test);
    INFO(protocol_name(protocol));
    REQUIRE_FALSE(val.empty());
    // The two validation sides partition the training part, and neither meets the test part.
    CHECK(fit.size() + val.size() == train.size());
    for (auto t : val) CHECK((train.count(t) == 1 && test.count(t) == 0 && fit.count(t) == 0));
    for (auto t : fit) CHECK(test.count(t) == 0);
    if (protocol == Protocol::holdout || protocol == Protocol::kfold)
      CHECK(v.test.size() == static_cast<std::size_t>(std::llround(0.1 * outer.train.size())));
  }
  // loo: the validation item is each user's last training interaction by time.
  EvalOptions o;
  o.protocol = Protocol::loo;
  const Split outer = protocol_split(data, o);
  const Split v = validation_split(outer.train, o);
  for (const auto& r : v.test.rows)
    for (const auto& t : v.train.rows)
      if (t.user == r.user) CHECK(t.time < r.time);

  EvalOptions bad;
  bad.protocol = Protocol::holdout;
  bad.validation_fraction = 1.0;
  CHECK_THROWS_WITH(validation_split(outer.train, bad), Catch::Contains("--validation-fraction"));
}

TEST_CASE("tune: the chosen configuration does not depend on the test part", "[tune]") {
  auto backend = make_openmp_backend(2);
  Interactions data = tagged(catalogue(true));
  TuneOptions o;
  o.eval.protocol = Protocol::holdout;
  o.eval.seed = 4;
  o.trials = 4;
  o.seed = 9;
  Hyper fixed;
  fixed.epochs = 5;  // keeps the test quick; the other parameters are searched
  const auto first = tune(protocol_split(data, o.eval).train, ModelKind::svd, fixed, o, *backend);

  // Scramble every rating of the test part (the split is by position, so the same rows stay
  // test rows): the search must be bit-identical.
  const auto test = tags(protocol_split(data, o.eval).test);
  Rng rng(1);
  for (auto& r : data.rows)
    if (test.count(r.time)) r.value = static_cast<float>(1 + rng.below(5));
  const auto second = tune(protocol_split(data, o.eval).train, ModelKind::svd, fixed, o, *backend);
  REQUIRE(first.trials.size() == second.trials.size());
  CHECK(first.best == second.best);
  for (std::size_t t = 0; t < first.trials.size(); ++t) CHECK(first.trials[t].score == second.trials[t].score);

  // ...while the final test score does see it (so the test above could fail).
  const auto& h = first.trials[first.best].hyper;
  EvalOptions e = o.eval;
  e.ranking = false;
  Interactions original = tagged(catalogue(true));
  const auto before = evaluate_split(protocol_split(original, e), ModelKind::svd, h, e, *backend);
  const auto after = evaluate_split(protocol_split(data, e), ModelKind::svd, h, e, *backend);
  CHECK(before.metrics.at("rmse") != after.metrics.at("rmse"));
}

TEST_CASE("tune is deterministic per seed, draws from the documented space, keeps fixed flags", "[tune]") {
  auto backend = make_openmp_backend(1);
  const Interactions data = catalogue(false);
  TuneOptions o;
  o.eval.protocol = Protocol::loo;
  o.trials = 5;
  o.seed = 2;
  Hyper fixed;
  fixed.epochs = 3;
  fixed.factors = 8;
  const auto train = protocol_split(data, o.eval).train;
  const auto a = tune(train, ModelKind::ials, fixed, o, *backend);
  const auto b = tune(train, ModelKind::ials, fixed, o, *backend);
  CHECK(a.objective == "ndcg@10");
  CHECK_FALSE(a.minimise);
  CHECK(a.order == "time");
  REQUIRE(a.trials.size() == 5);
  for (std::size_t t = 0; t < a.trials.size(); ++t) {
    CHECK(hyper_flags(ModelKind::ials, a.trials[t].hyper) == hyper_flags(ModelKind::ials, b.trials[t].hyper));
    CHECK(a.trials[t].score == b.trials[t].score);
    CHECK(*a.trials[t].hyper.factors == 8);
    CHECK(*a.trials[t].hyper.epochs == 3);
    const float reg = *a.trials[t].hyper.reg, alpha = *a.trials[t].hyper.alpha;
    CHECK((reg >= 1 && reg <= 500 && alpha >= 0.5f && alpha <= 30));
    const int cg = *a.trials[t].hyper.cg_steps;
    CHECK((cg >= 2 && cg <= 4));
  }
  const auto& best = a.trials[a.best];
  for (const auto& t : a.trials) CHECK(t.score <= best.score);

  // Another seed draws other configurations; trial t does not depend on the budget.
  o.seed = 3;
  const auto c = tune(train, ModelKind::ials, fixed, o, *backend);
  CHECK(hyper_flags(ModelKind::ials, c.trials[0].hyper) != hyper_flags(ModelKind::ials, a.trials[0].hyper));
  o.seed = 2;
  o.trials = 2;
  const auto d = tune(train, ModelKind::ials, fixed, o, *backend);
  CHECK(hyper_flags(ModelKind::ials, d.trials[1].hyper) == hyper_flags(ModelKind::ials, a.trials[1].hyper));

  // The flags printed are the trial: training with them gives the same validation score.
  const auto v = validation_split(train, o.eval);
  auto model = make_model(ModelKind::ials);
  model->fit(v.train, best.hyper, *backend);
  std::map<std::string, double> m;
  measure(*model, v.test, o.eval, *backend, m);
  CHECK(m.at("ndcg@10") == best.score);
}

TEST_CASE("tune: objectives and errors", "[tune]") {
  auto backend = make_openmp_backend(1);
  const Interactions rated = catalogue(true);
  TuneOptions o;
  o.eval.protocol = Protocol::holdout;
  o.trials = 2;
  Hyper fixed;
  fixed.epochs = 2;
  const auto train = protocol_split(rated, o.eval).train;
  const auto r = tune(train, ModelKind::baseline, fixed, o, *backend);
  CHECK(r.objective == "rmse");
  CHECK(r.minimise);
  CHECK(r.trials[0].metrics.count("ndcg@10") == 0);  // no ranking pass for a rating objective
  o.objective = "ndcg@10";
  CHECK(tune(train, ModelKind::baseline, fixed, o, *backend).trials[0].metrics.count("ndcg@10") == 1);
  o.objective = "nope";
  CHECK_THROWS_WITH(tune(train, ModelKind::baseline, fixed, o, *backend), Catch::Contains("objective 'nope'"));
  o.objective = "rmse";
  CHECK_THROWS_WITH(tune(train, ModelKind::bpr, fixed, o, *backend), Catch::Contains("predicts ratings"));
  o.objective.clear();
  CHECK_THROWS_WITH(tune(train, ModelKind::popularity, fixed, o, *backend), Catch::Contains("no hyper-parameters"));
  o.trials = 0;
  CHECK_THROWS_WITH(tune(train, ModelKind::svd, fixed, o, *backend), Catch::Contains("--trials"));
  CHECK(describe_search_space(ModelKind::svd).find("--lr  log-uniform real in [0.002, 0.05]") != std::string::npos);
  CHECK(describe_search_space(ModelKind::popularity).empty());
}

TEST_CASE("kfold reports every fold and the spread", "[eval]") {
  auto backend = make_openmp_backend(2);
  const Interactions data = catalogue(true);
  EvalOptions o;
  o.folds = 3;
  o.ranking = false;
  const auto r = evaluate(data, ModelKind::baseline, Hyper{}, o, *backend);
  REQUIRE(r.fold_metrics.size() == 3);
  double mean = 0, sq = 0;
  for (const auto& m : r.fold_metrics) mean += m.at("rmse") / 3;
  for (const auto& m : r.fold_metrics) sq += (m.at("rmse") - mean) * (m.at("rmse") - mean);
  CHECK(r.metrics.at("rmse") == Approx(mean).epsilon(1e-12));
  CHECK(r.metrics_std.at("rmse") == Approx(std::sqrt(sq / 3)).epsilon(1e-9));
  CHECK(r.metrics_std.at("rmse") > 0);
  // Each fold's figure is what that fold alone gives.
  const Split f1 = kfold(data, 3, 1, o.seed);
  const auto one = evaluate_split(f1, ModelKind::baseline, Hyper{}, o, *backend);
  CHECK(one.metrics.at("rmse") == r.fold_metrics[1].at("rmse"));
  CHECK(one.fold_metrics.empty());
}

TEST_CASE("leave-last-out says whether time or file order chose the test item", "[eval]") {
  auto backend = make_openmp_backend(1);
  EvalOptions o;
  o.protocol = Protocol::loo;
  Interactions timed = catalogue(false);
  CHECK(evaluate(timed, ModelKind::popularity, Hyper{}, o, *backend).order == "time");
  Interactions untimed = timed;
  untimed.has_time = false;
  for (auto& r : untimed.rows) r.time = 0;
  CHECK(evaluate(untimed, ModelKind::popularity, Hyper{}, o, *backend).order == "file");
  o.protocol = Protocol::holdout;
  CHECK(evaluate(timed, ModelKind::popularity, Hyper{}, o, *backend).order.empty());
}

TEST_CASE("align_test maps a separate test file into the training id space and counts the rest", "[eval]") {
  Interactions train;
  train.source = "train";
  train.rows.push_back({train.users.add("a"), train.items.add("x"), 4, 0});
  train.rows.push_back({train.users.add("b"), train.items.add("y"), 3, 0});
  Interactions test;
  test.source = "test";
  test.has_ratings = true;
  test.rows.push_back({test.users.add("b"), test.items.add("x"), 5, 0});   // kept
  test.rows.push_back({test.users.add("z"), test.items.add("y"), 2, 0});   // unknown user
  test.rows.push_back({test.users.add("a"), test.items.add("w"), 1, 0});   // unknown item
  test.rows.push_back({2, 2, 3, 0});                                       // a, w again
  AlignReport rep;
  const auto t = align_test(train, test, &rep);
  CHECK(rep.kept == 1);
  CHECK(rep.unknown_user_rows == 1);
  CHECK(rep.unknown_item_rows == 2);
  REQUIRE(t.rows.size() == 1);
  CHECK(t.rows[0].user == static_cast<index_t>(train.users.find("b")));
  CHECK(t.rows[0].item == static_cast<index_t>(train.items.find("x")));
  CHECK(t.n_items() == train.n_items());
  CHECK(t.has_ratings);
  Interactions none;
  none.source = "none";
  none.rows.push_back({none.users.add("q"), none.items.add("x"), 1, 0});
  CHECK_THROWS_WITH(align_test(train, none, nullptr), Catch::Contains("none of its 1 rows"));
}

TEST_CASE("recommend serves a rating model's scores clipped to the rating range", "[recommender]") {
  auto backend = make_openmp_backend(1);
  const Interactions data = catalogue(true);
  Hyper h;
  h.epochs = 30;
  h.lr = 0.05f;
  h.reg = 0.0f;  // overfits on purpose: raw scores run past 5 stars
  auto model = make_model(ModelKind::svd);
  model->fit(data, h, *backend);
  Recommender rec(*model);
  bool any_raw_above = false;
  for (index_t u = 0; u < 20; ++u) {
    const std::string id = model->users.id(u);
    RecommendOptions ro;
    ro.k = 5;
    const auto recs = rec.recommend(id, ro);
    std::vector<float> raw(model->n_items());
    model->score(u, raw.data());
    for (const auto& r : recs) {
      CHECK(r.score <= model->rating_max);
      CHECK(r.score >= model->rating_min);
      const float s = raw[static_cast<std::size_t>(model->items.find(r.item))];
      any_raw_above |= s > model->rating_max;
      CHECK(r.score == std::clamp(s, model->rating_min, model->rating_max));
      // predict() is one Eigen dot product; the served scores come from the dispatched kernels
      // (FMA where the CPU has it), so they agree to rounding, not bit for bit.
      CHECK(r.score == Approx(model->predict(u, static_cast<index_t>(model->items.find(r.item)))).epsilon(1e-5));
    }
    // The batch and fold-in paths serve the same scale.
    const auto batch = rec.recommend_batch({id}, ro, *backend);
    for (const auto& r : batch[0]) CHECK(r.score <= model->rating_max);
    std::vector<UserInteraction> hist{{model->items.id(0), 5.0f}, {model->items.id(1), 5.0f}};
    for (const auto& r : rec.recommend_for(hist, ro)) CHECK(r.score <= model->rating_max);
  }
  CHECK(any_raw_above);  // otherwise this test proves nothing
}

TEST_CASE("tune: a diverging trial is recorded, and a search without any score is an error", "[tune]") {
  auto backend = make_openmp_backend(1);
  const Interactions data = catalogue(false);
  TuneOptions o;
  o.eval.protocol = Protocol::loo;
  o.trials = 2;
  Hyper fixed;
  fixed.lr = 1e6f;  // every BPR run diverges
  fixed.epochs = 3;
  CHECK_THROWS_WITH(tune(protocol_split(data, o.eval).train, ModelKind::bpr, fixed, o, *backend),
                    Catch::Contains("no trial gave a validation score") && Catch::Contains("diverged"));
}
