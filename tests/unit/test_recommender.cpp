// The serving API: top-K selection, filters, batch vs single, fold-in, similar, explanations.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "edgerec/edgerec.hpp"
#include "edgerec/openmp_backend.hpp"
#include "test_util.hpp"

using namespace edgerec;

namespace {

std::vector<index_t> ids_of(const std::vector<TopK>& top) {
  std::vector<index_t> v;
  for (const auto& t : top) v.push_back(t.item);
  return v;
}

// A small trained model shared by the cases below (same seed, so the same model every run).
const Model& trained(ModelKind kind) { return test::small_trained(kind, true); }

}  // namespace

TEST_CASE("select_top_k orders by score then index, skips NaN and masked items") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> s{0.5f, 2.0f, nan, 2.0f, -1.0f, 3.0f};
  CHECK(ids_of(select_top_k(s.data(), 6, 3)) == std::vector<index_t>{5, 1, 3});
  CHECK(ids_of(select_top_k(s.data(), 6, 10)) == std::vector<index_t>{5, 1, 3, 0, 4});  // NaN never
  CHECK(select_top_k(s.data(), 6, 0).empty());
  const std::vector<std::uint8_t> skip{0, 1, 0, 0, 0, 1};
  CHECK(ids_of(select_top_k(s.data(), 6, 2, skip.data())) == std::vector<index_t>{3, 0});
}

TEST_CASE("recommend excludes seen items by default and applies include/exclude") {
  const Model& m = trained(ModelKind::ials);
  Recommender rec(m);
  const std::string user = m.users.id(7);
  std::set<std::string> seen;
  for (const auto& h : m.history(7)) seen.insert(m.items.id(h.item));
  REQUIRE(!seen.empty());

  const auto top = rec.recommend(user, {});
  REQUIRE(top.size() == 10);
  for (std::size_t r = 0; r < top.size(); ++r) {
    CHECK(seen.count(top[r].item) == 0);
    if (r > 0) CHECK(top[r - 1].score >= top[r].score);
  }

  RecommendOptions with_seen;
  with_seen.exclude_seen = false;
  with_seen.k = static_cast<int>(m.n_items());
  CHECK(rec.recommend(user, with_seen).size() == m.n_items());

  RecommendOptions o;
  o.exclude = {top[0].item, top[1].item};
  const auto excluded = rec.recommend(user, o);
  for (const auto& r : excluded) CHECK((r.item != top[0].item && r.item != top[1].item));
  CHECK(excluded[0].item == top[2].item);

  RecommendOptions inc;
  inc.include = {top[4].item, top[2].item, *seen.begin(), "no-such-item"};
  const auto only = rec.recommend(user, inc);
  REQUIRE(only.size() == 2);  // the seen item stays excluded, the unknown id is ignored
  CHECK(only[0].item == top[2].item);
  CHECK(only[1].item == top[4].item);

  inc.ignore_unknown_items = false;
  CHECK_THROWS_WITH(rec.recommend(user, inc), Catch::Contains("unknown item id 'no-such-item'"));
  CHECK_THROWS_WITH(rec.recommend("nobody", {}), Catch::Contains("unknown user id 'nobody'"));
  RecommendOptions bad;
  bad.k = -1;
  CHECK_THROWS_AS(rec.recommend(user, bad), Error);
}

TEST_CASE("batch top-K equals one-at-a-time top-K, offsets included") {
  for (ModelKind kind : {ModelKind::ials, ModelKind::svd, ModelKind::itemknn}) {
    const Model& m = trained(kind);
    Recommender rec(m);
    std::vector<std::string> users;
    for (index_t u = 0; u < m.n_users(); u += 37) users.push_back(m.users.id(u));
    auto backend = make_openmp_backend(2);
    RecommendOptions o;
    o.k = 7;
    const auto batch = rec.recommend_batch(users, o, *backend);
    REQUIRE(batch.size() == users.size());
    for (std::size_t r = 0; r < users.size(); ++r) {
      const auto one = rec.recommend(users[r], o);
      REQUIRE(one.size() == batch[r].size());
      for (std::size_t j = 0; j < one.size(); ++j) {
        CHECK(one[j].item == batch[r][j].item);
        CHECK(std::abs(one[j].score - batch[r][j].score) <= 1e-5f * (1 + std::abs(one[j].score)));
      }
    }
    CHECK_THROWS_WITH(rec.recommend_batch({users[0], "ghost"}, o, *backend), Catch::Contains("ghost"));
  }
}

TEST_CASE("recommend_for: popularity without history, fold-in with it, unknown items counted") {
  const Model& m = trained(ModelKind::ials);
  Recommender rec(m);
  const auto cold = rec.recommend_for({}, {});
  REQUIRE(cold.size() == 10);
  const auto pop = [&](const std::string& id) { return m.item_popularity[static_cast<std::size_t>(m.items.find(id))]; };
  for (std::size_t r = 1; r < cold.size(); ++r) CHECK(pop(cold[r - 1].item) >= pop(cold[r].item));

  std::vector<UserInteraction> history;
  for (const auto& h : m.history(11)) history.push_back({m.items.id(h.item), h.value});
  history.push_back({"not-in-catalogue", 1.0f});
  int ignored = -1;
  const auto warm = rec.recommend_for(history, {}, &ignored);
  CHECK(ignored == 1);
  REQUIRE(warm.size() == 10);
  for (const auto& r : warm)
    for (const auto& h : history) CHECK(r.item != h.item);  // the given items are excluded
  // The folded-in user is the trained-in user 11 again: most of the top-10 agrees.
  const auto trained_in = rec.recommend(m.users.id(11), {});
  int overlap = 0;
  for (const auto& a : warm)
    for (const auto& b : trained_in) overlap += a.item == b.item;
  CHECK(overlap >= 7);
  CHECK_THROWS_AS(rec.recommend_for({{m.items.id(0), std::nanf("")}}, {}), Error);
}

TEST_CASE("similar items exclude the item itself; explanations name the user's own items") {
  const Model& m = trained(ModelKind::itemknn);
  Recommender rec(m);
  const std::string item = m.items.id(3);
  const auto sim = rec.similar(item, 5);
  REQUIRE(sim.size() == 5);
  for (const auto& s : sim) CHECK(s.item != item);

  const std::string user = m.users.id(20);
  const auto top = rec.recommend(user, {});
  const auto why = rec.explain(user, top[0].item, 3).weights;
  REQUIRE(why.size() == 3);
  std::set<std::string> own;
  for (const auto& h : m.history(20)) own.insert(m.items.id(h.item));
  for (std::size_t j = 0; j < why.size(); ++j) {
    CHECK(own.count(why[j].item) == 1);
    if (j > 0) CHECK(why[j - 1].weight >= why[j].weight);
  }
  std::vector<UserInteraction> history;
  for (const auto& id : own) history.push_back({id, 1.0f});
  CHECK(rec.explain_for(history, top[0].item, 3).weights.size() == why.size());

  Recommender pop(trained(ModelKind::popularity));
  CHECK_THROWS_WITH(pop.similar(item, 5), Catch::Contains("no item space"));
}

TEST_CASE("drop_users keeps what serves new users and survives the model file") {
  for (ModelKind kind : all_kinds()) {
    INFO(kind_name(kind));
    const Model& full = trained(kind);
    auto bytes = model_to_bytes(full);
    auto stripped = model_from_bytes(bytes.data(), bytes.size());
    stripped->drop_users();
    const auto slim_bytes = model_to_bytes(*stripped);
    CHECK(slim_bytes.size() < bytes.size());
    const auto slim = model_from_bytes(slim_bytes.data(), slim_bytes.size());
    CHECK(slim->n_users() == 0);
    CHECK(slim->n_items() == full.n_items());

    Recommender a(full), b(*slim);
    std::vector<UserInteraction> history;
    for (const auto& h : full.history(4)) history.push_back({full.items.id(h.item), h.value});
    const auto ra = a.recommend_for(history, {});
    const auto rb = b.recommend_for(history, {});
    REQUIRE(ra.size() == rb.size());
    for (std::size_t j = 0; j < ra.size(); ++j) {
      CHECK(ra[j].item == rb[j].item);
      CHECK(ra[j].score == rb[j].score);
    }
    CHECK_THROWS_WITH(b.recommend(full.users.id(4), {}), Catch::Contains("unknown user id"));
  }
}
