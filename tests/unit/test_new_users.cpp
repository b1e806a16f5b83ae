// The new-user cold-start protocol (edgerec/new_users.hpp): the windows (time order, repeats,
// disjointness, the seeded draw), a hand-computed popularity case that fails if the feedback
// window leaked into the candidates, and determinism of the whole run with exploration.
#include <algorithm>
#include <set>

#include "test_util.hpp"

using namespace edgerec;
using edgerec::test::error_of;

namespace {

// Items "0".."9" are indices 0..9. Training users a, b, c (too few items to be eligible) make
// the popularity order 0 (3), 1 (2), 2 (1), the rest 0. User n, the only eligible one, met
// 5 6 7 8 9 0 1 2 in that time order; the rows are written out of time order, and n meets 5
// again last (a repeat, counted at its first time).
Interactions tiny() {
  Interactions d;
  d.has_time = true;
  d.has_ratings = true;
  d.source = "tiny";
  for (int i = 0; i < 10; ++i) d.items.add(std::to_string(i));
  for (const char* u : {"a", "b", "c", "n"}) d.users.add(u);
  auto add = [&](const char* u, int item, std::int64_t t, float v = 4.0f) {
    d.rows.push_back({d.users.at(u, "user"), static_cast<index_t>(item), v, t});
  };
  add("a", 0, 1), add("a", 1, 2), add("a", 2, 3), add("b", 0, 1), add("b", 1, 2), add("c", 0, 1);
  const int order[] = {5, 6, 7, 8, 9, 0, 1, 2};
  for (int pos : {7, 3, 0, 5, 1, 6, 2, 4}) add("n", order[pos], 100 + pos);
  add("n", 5, 999, 1.0f);
  return d;
}

std::vector<index_t> items(const std::vector<ItemValue>& v) {
  std::vector<index_t> out;
  for (const auto& iv : v) out.push_back(iv.item);
  return out;
}

}  // namespace

TEST_CASE("new users: windows follow time order, count a repeat once and hold out eligible users only", "[new_users]") {
  const auto d = tiny();
  NewUserOptions o;
  o.fraction = 0.5;
  std::uint64_t eligible = 0;
  const auto w = new_user_windows(d, o, &eligible);
  CHECK(eligible == 1);
  REQUIRE(w.size() == 1);
  CHECK(w[0].user == d.users.at("n", "user"));
  CHECK(items(w[0].revealed) == std::vector<index_t>{5, 6, 7, 8, 9});
  CHECK(w[0].revealed[0].value == 4.0f);  // the first rating of item 5, not the repeat's
  CHECK(items(w[0].feedback) == std::vector<index_t>{0});  // floor(0.5 x 3)
  CHECK(items(w[0].test) == std::vector<index_t>{1, 2});
  o.feedback_share = 0.0;
  CHECK(new_user_windows(d, o)[0].feedback.empty());
  o.reveal = 7;  // n has 8 distinct items: 7 + 2 needed
  CHECK(error_of([&] { new_user_windows(d, o); }).find("no user") != std::string::npos);
  o.reveal = 5;
  o.fraction = 1.0;
  CHECK(error_of([&] { new_user_windows(d, o); }).find("strictly between 0 and 1") != std::string::npos);
}

TEST_CASE("new users: popularity over the test window skips the revealed and feedback items (hand-computed)", "[new_users]") {
  const auto d = tiny();
  auto backend = make_cpu_backend();
  NewUserOptions o;
  o.fraction = 0.5;
  o.k = 1;
  // Candidates: items 1, 2, 3, 4 (5..9 revealed, 0 the feedback window). Popularity's top-1 is
  // item 1, a test item: hr 1, recall 1/2, ndcg 1. Had item 0 leaked back in, the list would be
  // [0] and every figure 0.
  auto r = evaluate_new_users(d, ModelKind::popularity, Hyper{}, o, *backend);
  CHECK(r.held_out_users == 1);
  CHECK(r.counted_users == 1);
  CHECK(r.train_rows == 6);
  CHECK(r.test_items == 2);
  CHECK(!r.explored);  // popularity has no embeddings: no bandit
  CHECK(r.metrics.at("popularity_hr@1") == Approx(1.0));
  CHECK(r.metrics.at("popularity_recall@1") == Approx(0.5));
  CHECK(r.metrics.at("popularity_ndcg@1") == Approx(1.0));
  CHECK(r.metrics.count("explore_hr@1") == 0);
  o.k = 2;  // [1, 2]: both test items
  r = evaluate_new_users(d, ModelKind::popularity, Hyper{}, o, *backend);
  CHECK(r.metrics.at("popularity_recall@2") == Approx(1.0));
  CHECK(r.metrics.at("popularity_ndcg@2") == Approx(1.0));
  // A relevance threshold above every test rating leaves no user to count.
  o.relevance_threshold = 5.0f;
  CHECK(error_of([&] { evaluate_new_users(d, ModelKind::popularity, Hyper{}, o, *backend); })
            .find("no held-out user") != std::string::npos);
}

TEST_CASE("new users: windows partition each user's items; runs are deterministic; a trained user is refused", "[new_users]") {
  SyntheticOptions so;
  so.users = 200;
  so.items = 150;
  so.interactions = 8000;
  so.seed = 11;
  const auto data = generate_synthetic(so).data;
  NewUserOptions o;
  o.fraction = 0.2;
  o.seed = 4;
  o.steps = 5;
  o.candidates = 20;
  const auto w = new_user_windows(data, o);
  std::set<index_t> users;
  for (const auto& u : w) {
    users.insert(u.user);
    std::set<index_t> all;
    for (const auto* part : {&u.revealed, &u.feedback, &u.test})
      for (const auto& iv : *part) CHECK(all.insert(iv.item).second);  // disjoint, no repeats
    std::set<index_t> expected;
    for (const auto& row : data.rows)
      if (row.user == u.user) expected.insert(row.item);
    CHECK(all == expected);
    CHECK(u.revealed.size() == 5);
    CHECK(!u.test.empty());
  }
  CHECK(users.size() == w.size());
  // Another seed draws other users.
  o.seed = 5;
  const auto w5 = new_user_windows(data, o);
  o.seed = 4;
  CHECK(std::vector<index_t>{w5[0].user, w5[1].user} != std::vector<index_t>{w[0].user, w[1].user});

  Hyper h;
  h.factors = 8;
  h.epochs = 4;
  h.seed = 1;
  auto backend = make_cpu_backend();
  const auto a = evaluate_new_users(data, ModelKind::ials, h, o, *backend);
  const auto b = evaluate_new_users(data, ModelKind::ials, h, o, *backend);
  CHECK(a.explored);
  CHECK(a.metrics == b.metrics);
  for (const char* key : {"popularity_hr@10", "foldin_hr@10", "explore_hr@10", "greedy_hr@10", "explore_accepted"})
    CHECK(a.metrics.count(key) == 1);
  std::uint64_t held_rows = 0;
  for (const auto& row : data.rows)
    if (users.count(row.user)) ++held_rows;
  CHECK(a.train_rows == data.rows.size() - held_rows);
  CHECK(a.metrics.at("explore_accepted") <= o.steps);

  // A model that trained on the held-out users is refused (their items would leak).
  auto full = make_model(ModelKind::ials);
  full->fit(data, h, *backend);
  CHECK(error_of([&] { measure_new_users(*full, w, o); }).find("has training rows") != std::string::npos);
}

TEST_CASE("new users: folds are consecutive disjoint draws covering the eligible users; metrics pool them", "[new_users]") {
  SyntheticOptions so;
  so.users = 120;
  so.items = 100;
  so.interactions = 4000;
  so.seed = 12;
  const auto data = generate_synthetic(so).data;
  NewUserOptions o;
  o.fraction = 0.25;
  o.seed = 3;
  o.steps = 3;
  o.candidates = 10;
  std::uint64_t eligible = 0;
  const auto one = new_user_windows(data, o, &eligible);
  o.folds = 4;
  std::set<index_t> all;
  std::size_t total = 0;
  for (int f = 0; f < 4; ++f) {
    const auto w = new_user_windows(data, o, nullptr, f);
    CHECK(!w.empty());
    if (f == 0) {  // fold 0 is the one-draw protocol's draw, in the same order
      REQUIRE(w.size() == one.size());
      for (std::size_t i = 0; i < w.size(); ++i) CHECK(w[i].user == one[i].user);
    }
    for (const auto& u : w) CHECK(all.insert(u.user).second);  // no user in two folds
    total += w.size();
  }
  CHECK(total == eligible);  // 0.25 x 4: everyone eligible is a new user once
  CHECK_THROWS_AS(new_user_windows(data, o, nullptr, 4), Error);
  o.folds = 6;  // 6 blocks of a quarter: the fifth would start past the eligible users
  CHECK(error_of([&] { new_user_windows(data, o, nullptr, 5); }).find("would be empty") != std::string::npos);

  Hyper h;
  h.factors = 8;
  h.epochs = 4;
  h.seed = 1;
  auto backend = make_cpu_backend();
  o.folds = 2;
  const auto r = evaluate_new_users(data, ModelKind::ials, h, o, *backend);
  REQUIRE(r.fold_metrics.size() == 2);
  CHECK(r.fold_counted_users[0] + r.fold_counted_users[1] == r.counted_users);
  // Fold 0 alone is the one-draw run.
  o.folds = 1;
  const auto single = evaluate_new_users(data, ModelKind::ials, h, o, *backend);
  CHECK(single.fold_metrics.empty());
  CHECK(r.fold_metrics[0] == single.metrics);
  for (const auto& [key, value] : r.metrics) {
    const double w0 = static_cast<double>(r.fold_counted_users[0]), w1 = static_cast<double>(r.fold_counted_users[1]);
    CHECK(value == Approx((w0 * r.fold_metrics[0].at(key) + w1 * r.fold_metrics[1].at(key)) / (w0 + w1)));
  }
  o.folds = 0;
  CHECK_THROWS_AS(evaluate_new_users(data, ModelKind::ials, h, o, *backend), Error);
}
