// Explanations add up to the score served, for every model kind; fold-in histories are cleaned
// (duplicates, cap, rating clamp) and reported; absent hyper-parameters take the defaults at
// load; a non-finite fold-in is an error.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "edgerec/edgerec.hpp"
#include "test_util.hpp"

using namespace edgerec;

namespace {

// Star ratings for the rating models, implicit data for the others (as each kind is meant).
const Model& trained(ModelKind kind) {
  return test::small_trained(kind, kind == ModelKind::svd || kind == ModelKind::svdpp ||
                                       kind == ModelKind::baseline || kind == ModelKind::mean_baseline);
}

RecommendOptions top(int k) {
  RecommendOptions o;
  o.k = k;
  return o;
}

bool claims_exact_for_known(ModelKind kind) {
  return kind == ModelKind::itemknn || kind == ModelKind::popularity ||
         kind == ModelKind::baseline || kind == ModelKind::mean_baseline;
}

// score == sum(weights) + others + rest, to double rounding of the terms.
void check_adds_up(const ScoreExplanation& e) {
  double sum = e.others + e.rest, scale = std::abs(e.rest) + std::abs(e.others);
  for (const auto& w : e.weights) {
    sum += w.weight;
    scale += std::abs(w.weight);
  }
  CHECK(std::abs(sum - e.score) <= 1e-12 * std::max(1.0, scale));
  CHECK(std::abs(sum - e.score) <= 1e-5 * std::max(1e-3, std::abs(double(e.score))));
  for (std::size_t j = 1; j < e.weights.size(); ++j) CHECK(e.weights[j - 1].weight >= e.weights[j].weight);
}

}  // namespace

TEST_CASE("explain: the served score, one weight per history item, weights + rest = score") {
  for (const ModelKind kind : all_kinds()) {
    SECTION(kind_name(kind)) {
      const Model& m = trained(kind);
      Recommender rec(m);
      double residual = 0, total = 0;
      for (index_t u = 0; u < 60; u += 7) {
        const std::string user = m.users.id(u);
        const auto hist = m.history(u);
        for (const auto& r : rec.recommend(user, top(3))) {
          const auto e = rec.explain(user, r.item);
          INFO("user " << user << " item " << r.item << " note " << e.note);
          CHECK(e.item == r.item);
          CHECK(e.score == r.score);  // bit for bit what recommend served
          CHECK(e.weights.size() == hist.size());
          CHECK(e.others == 0.0);
          check_adds_up(e);
          // A rating clipped to the rating range is served, and no history split sums to it.
          const bool clipped = m.predicts_ratings() && m.rating_max > m.rating_min &&
                               (e.score == m.rating_max || e.score == m.rating_min);
          CHECK(e.exact == (claims_exact_for_known(kind) && !clipped));
          if (e.exact) CHECK(std::abs(e.residual) <= 1e-4 * std::max(1.0, std::abs(double(e.score))));
          CHECK_FALSE(e.note.empty());
          residual += std::abs(e.residual);
          total += std::abs(e.score);

          // k keeps the largest weights; the others are summed, and it still adds up.
          const auto top2 = rec.explain(user, r.item, 2);
          REQUIRE(top2.weights.size() == std::min<std::size_t>(2, hist.size()));
          for (std::size_t j = 0; j < top2.weights.size(); ++j) CHECK(top2.weights[j].weight == e.weights[j].weight);
          CHECK(top2.rest == e.rest);
          check_adds_up(top2);
        }
      }
      // A known iALS user's stored vector is close to the exact solve the weights split.
      if (kind == ModelKind::ials) CHECK(residual <= 0.05 * total);
    }
  }
}

TEST_CASE("explain_for a new user: the fold-in's served score split; iALS and the closed forms exactly") {
  for (const ModelKind kind : all_kinds()) {
    SECTION(kind_name(kind)) {
      const Model& m = trained(kind);
      Recommender rec(m);
      std::vector<UserInteraction> history;
      for (const index_t i : {4u, 9u, 17u, 30u, 41u}) history.push_back({m.items.id(i), 4.0f});
      history.push_back({"no-such-item", 3.0f});
      for (const auto& r : rec.recommend_for(history, top(3))) {
        const auto e = rec.explain_for(history, r.item);
        INFO(r.item << ": " << e.note);
        CHECK(e.score == r.score);
        CHECK(e.weights.size() == 5);
        CHECK(e.unknown == 1);
        CHECK(e.history.used == 5);
        CHECK_FALSE(e.popularity);
        check_adds_up(e);
        const bool exact = claims_exact_for_known(kind) || kind == ModelKind::ials;
        CHECK(e.exact == exact);
        if (exact) CHECK(std::abs(e.residual) <= 1e-4 * std::max(1.0, std::abs(double(e.score))));
      }
      // Only unknown items: the popularity list, and the explanation says so.
      const std::vector<UserInteraction> unknown{{"nope", 1.0f}, {"nada", 2.0f}};
      ScoreExplanation report;
      int ignored = 0;
      const auto pop = rec.recommend_for(unknown, top(3), &ignored, &report);
      CHECK(report.popularity);
      CHECK(report.unknown == 2);
      CHECK(ignored == 2);
      REQUIRE(!pop.empty());
      CHECK(pop[0].score == Approx(std::log1p(*std::max_element(m.item_popularity.begin(), m.item_popularity.end()))));
      const auto e = rec.explain_for(unknown, pop[0].item);
      CHECK(e.popularity);
      CHECK(e.weights.empty());
      CHECK(e.rest == double(e.score));
      CHECK(e.exact);
    }
  }
}

TEST_CASE("a fold-in history: the last value per item, the most recent items up to the cap, clamped ratings") {
  const Model& ials = trained(ModelKind::ials);
  std::vector<ItemValue> h{{3, 1.0f}, {5, 2.0f}, {3, 7.0f}, {8, 1.0f}};
  HistoryReport r;
  const auto p = ials.prepare_history(h, &r);
  REQUIRE(p.size() == 3);
  CHECK(p[0].item == 5);
  CHECK(p[1].item == 3);
  CHECK(p[1].value == 7.0f);  // the later value of item 3
  CHECK(p[2].item == 8);
  CHECK(r.given == 4);
  CHECK(r.duplicates == 1);
  CHECK(r.used == 3);
  CHECK(r.clamped == 0);  // implicit models keep values as given

  // More distinct items than the cap (the catalogue has 200, so a long history repeats them):
  // a model file of many items is not needed to test the cap, a long one is.
  std::vector<ItemValue> longer;
  for (std::size_t j = 0; j < 5000; ++j) longer.push_back({static_cast<index_t>(j % ials.n_items()), 1.0f});
  const auto q = ials.prepare_history(longer, &r);
  CHECK(q.size() == ials.n_items());
  CHECK(r.duplicates == 5000 - ials.n_items());

  const Model& svd = trained(ModelKind::svd);
  REQUIRE(svd.rating_max > svd.rating_min);
  const auto c = svd.prepare_history({{1, 50.0f}, {2, -3.0f}, {4, 3.0f}}, &r);
  CHECK(c[0].value == svd.rating_max);
  CHECK(c[1].value == svd.rating_min);
  CHECK(c[2].value == 3.0f);
  CHECK(r.clamped == 2);
  // The served fold-in uses the clamped values: a wild rating scores as the top rating.
  Recommender rec(svd);
  const auto wild = rec.recommend_for({{svd.items.id(1), 50.0f}}, top(5));
  const auto best = rec.recommend_for({{svd.items.id(1), svd.rating_max}}, top(5));
  REQUIRE(wild.size() == best.size());
  for (std::size_t j = 0; j < best.size(); ++j) CHECK(wild[j].score == best[j].score);
}

TEST_CASE("a fold-in keeps only the kMaxFoldInHistory most recent distinct items") {
  // A catalogue larger than the cap: 1500 items, each seen by a few users.
  Interactions data;
  for (index_t u = 0; u < 40; ++u)
    for (index_t i = 0; i < 1500; i += 1 + u % 7)
      data.rows.push_back({data.users.add(std::to_string(u)), data.items.add("i" + std::to_string(i)), 1.0f, 0});
  auto m = make_model(ModelKind::itemknn);
  auto backend = make_cpu_backend();
  Hyper h;
  h.neighbors = 10;
  m->fit(data, h, *backend);
  REQUIRE(m->n_items() > kMaxFoldInHistory);
  std::vector<ItemValue> all;
  for (index_t i = 0; i < m->n_items(); ++i) all.push_back({i, 1.0f});
  HistoryReport r;
  const auto p = m->prepare_history(all, &r);
  REQUIRE(p.size() == kMaxFoldInHistory);
  CHECK(r.dropped == m->n_items() - kMaxFoldInHistory);
  CHECK(p.front().item == m->n_items() - kMaxFoldInHistory);  // the oldest ones went
  CHECK(p.back().item == m->n_items() - 1);

  // Served: the same list as the capped history itself.
  Recommender rec(*m);
  std::vector<UserInteraction> given, kept;
  for (const auto& x : all) given.push_back({m->items.id(x.item), 1.0f});
  for (const auto& x : p) kept.push_back({m->items.id(x.item), 1.0f});
  RecommendOptions o;
  o.k = 5;
  o.exclude_seen = false;
  ScoreExplanation report;
  const auto a = rec.recommend_for(given, o, nullptr, &report);
  const auto b = rec.recommend_for(kept, o);
  CHECK(report.history.dropped == r.dropped);
  REQUIRE(a.size() == b.size());
  for (std::size_t j = 0; j < a.size(); ++j) CHECK((a[j].item == b[j].item && a[j].score == b[j].score));
}

TEST_CASE("absent hyper-parameters take the kind's defaults at load, so fold-ins serve as trained") {
  for (const ModelKind kind : {ModelKind::ials, ModelKind::bpr, ModelKind::svd, ModelKind::baseline}) {
    SECTION(kind_name(kind)) {
      const Model& m = trained(kind);
      const std::string full = model_to_bytes(m);
      auto stripped = model_from_bytes(full.data(), full.size());
      // What an older or foreign writer may leave out: every hyper-parameter that was not given
      // to fit() (here all but factors, epochs and the seed).
      Hyper given;
      given.factors = stripped->hyper.factors;
      given.epochs = stripped->hyper.epochs;
      given.seed = stripped->hyper.seed;
      stripped->hyper = given;
      const std::string bytes = model_to_bytes(*stripped);
      const auto back = model_from_bytes(bytes.data(), bytes.size());
      const Hyper d = default_hyper(kind);
      CHECK(back->hyper.reg == d.reg);
      CHECK(back->hyper.alpha == d.alpha);
      CHECK(back->hyper.lr == d.lr);

      // Expected: the trained model (fitted with the defaults but factors and epochs).
      std::vector<UserInteraction> history;
      for (const index_t i : {2u, 11u, 19u, 40u}) history.push_back({m.items.id(i), 4.0f});
      Recommender want(m), got(*back);
      const auto a = want.recommend_for(history, top(10));
      const auto b = got.recommend_for(history, top(10));
      REQUIRE(a.size() == b.size());
      for (std::size_t j = 0; j < a.size(); ++j) {
        CHECK(a[j].item == b[j].item);
        CHECK(a[j].score == b[j].score);
      }
    }
  }
}

TEST_CASE("a fold-in whose user vector is not finite is an error, never an empty list") {
  for (const ModelKind kind : {ModelKind::svd, ModelKind::bpr}) {
    SECTION(kind_name(kind)) {
      const Model& trained_model = trained(kind);
      const std::string bytes = model_to_bytes(trained_model);
      auto m = model_from_bytes(bytes.data(), bytes.size());
      // Huge but finite factors, as a hostile or broken file may hold: the fold-in overflows.
      const_cast<Matrix&>(m->embeddings()->V) *= 1e30f;
      REQUIRE(m->embeddings()->V.allFinite());
      Recommender rec(*m);
      const std::vector<UserInteraction> history{{m->items.id(1), 5.0f}, {m->items.id(2), 4.0f}};
      CHECK_THROWS_WITH(rec.recommend_for(history, top(5)), Catch::Contains("non-finite user vector"));
      std::vector<float> u(static_cast<std::size_t>(m->embeddings()->V.cols()));
      float offset = 0;
      CHECK_THROWS_WITH(m->fold_in_vector({{1, 5.0f}, {2, 4.0f}}, u.data(), &offset),
                        Catch::Contains("non-finite user vector"));
    }
  }
}

TEST_CASE("a kind that claims an exact split says so when the stored parameters disagree") {
  // A baseline fitted for 0 epochs keeps b_u = 0, which is not the closed form the weights
  // split: the residual is reported and exact turns false.
  SyntheticOptions o;
  o.users = 50;
  o.items = 40;
  o.interactions = 800;
  auto m = make_model(ModelKind::baseline);
  Hyper h;
  h.epochs = 0;
  auto backend = make_cpu_backend();
  m->fit(generate_synthetic(o).data, h, *backend);
  Recommender rec(*m);
  const std::string user = m->users.id(0);
  const auto r = rec.recommend(user, top(1));
  REQUIRE(r.size() == 1);
  const auto e = rec.explain(user, r[0].item);
  CHECK_FALSE(e.exact);
  CHECK(std::abs(e.residual) > 1e-3);
  CHECK_THAT(e.note, Catch::Contains("differs"));
  check_adds_up(e);
}
