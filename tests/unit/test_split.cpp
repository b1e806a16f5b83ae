// Splits: partition property, determinism per seed, seed sensitivity, and hand examples for the
// timestamp-based ones and the negative sampler.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <catch2/catch.hpp>

#include "edgerec/split.hpp"

using namespace edgerec;

namespace {

struct Row {
  std::string user, item;
  float rating;
  std::int64_t time;
};

Interactions make(const std::vector<Row>& rows) {
  Interactions d;
  d.source = "hand";
  d.has_ratings = true;
  d.has_time = true;
  for (const auto& r : rows)
    d.rows.push_back({d.users.add(r.user), d.items.add(r.item), r.rating, r.time});
  return d;
}

// A data set whose rows are all distinct, so a row identifies itself: 40 users x 25 items,
// about a third of the pairs present, with a distinct timestamp per row.
Interactions grid() {
  Interactions d;
  d.source = "grid";
  d.has_ratings = true;
  d.has_time = true;
  for (int u = 0; u < 40; ++u) d.users.add("u" + std::to_string(u));
  for (int i = 0; i < 25; ++i) d.items.add("i" + std::to_string(i));
  std::int64_t t = 1000;
  for (index_t u = 0; u < 40; ++u)
    for (index_t i = 0; i < 25; ++i)
      if ((u * 7 + i * 3) % 3 == 0) d.rows.push_back({u, i, static_cast<float>(1 + (u + i) % 5), t++});
  return d;
}

using Key = std::tuple<index_t, index_t, float, std::int64_t>;
std::multiset<Key> keys(const std::vector<Interaction>& rows) {
  std::multiset<Key> s;
  for (const auto& r : rows) s.insert({r.user, r.item, r.value, r.time});
  return s;
}
std::vector<Key> ordered(const std::vector<Interaction>& rows) {
  std::vector<Key> v;
  for (const auto& r : rows) v.push_back({r.user, r.item, r.value, r.time});
  return v;
}

// train + test is exactly data, both in file order, sharing data's id maps and flags.
void check_partition(const Interactions& data, const Split& s) {
  CHECK(s.train.size() + s.test.size() == data.size());
  auto all = keys(s.train.rows);
  for (const auto& k : keys(s.test.rows)) all.insert(k);
  CHECK(all == keys(data.rows));
  for (const auto* part : {&s.train, &s.test}) {
    CHECK(part->n_users() == data.n_users());
    CHECK(part->n_items() == data.n_items());
    CHECK(part->has_ratings == data.has_ratings);
    // File order kept: the part is a subsequence of data's rows.
    const auto all_rows = ordered(data.rows);
    std::size_t at = 0;
    for (const auto& k : ordered(part->rows)) {
      while (at < all_rows.size() && all_rows[at] != k) ++at;
      CHECK(at < all_rows.size());
      ++at;
    }
  }
}

}  // namespace

TEST_CASE("random holdout partitions the rows with the exact test count", "[split]") {
  const auto data = grid();
  const auto s = random_holdout(data, 0.2, 7);
  check_partition(data, s);
  CHECK(s.test.size() == static_cast<std::size_t>(std::llround(data.size() * 0.2)));
  // Deterministic per seed, different for another seed.
  CHECK(ordered(random_holdout(data, 0.2, 7).test.rows) == ordered(s.test.rows));
  CHECK(ordered(random_holdout(data, 0.2, 8).test.rows) != ordered(s.test.rows));
  CHECK_THROWS_AS(random_holdout(data, 0.0, 1), Error);
  CHECK_THROWS_AS(random_holdout(data, 1.0, 1), Error);
  CHECK_THROWS_AS(random_holdout(Interactions{}, 0.5, 1), Error);
}

TEST_CASE("k-fold test folds partition the rows", "[split]") {
  const auto data = grid();
  const int folds = 5;
  std::multiset<Key> union_of_tests;
  std::size_t smallest = data.size(), largest = 0;
  for (int f = 0; f < folds; ++f) {
    const auto s = kfold(data, folds, f, 3);
    check_partition(data, s);
    for (const auto& k : keys(s.test.rows)) union_of_tests.insert(k);
    smallest = std::min(smallest, s.test.size());
    largest = std::max(largest, s.test.size());
    CHECK(ordered(kfold(data, folds, f, 3).test.rows) == ordered(s.test.rows));
  }
  // Every row is in exactly one test fold (a multiset equal to the rows: no repeats, no gaps).
  CHECK(union_of_tests == keys(data.rows));
  CHECK(largest - smallest <= 1);
  CHECK(ordered(kfold(data, folds, 0, 4).test.rows) != ordered(kfold(data, folds, 0, 3).test.rows));
  CHECK_THROWS_AS(kfold(data, 1, 0, 0), Error);
  CHECK_THROWS_AS(kfold(data, 5, 5, 0), Error);
  CHECK_THROWS_AS(kfold(data, 5, -1, 0), Error);
}

TEST_CASE("leave-last-out holds out each user's latest row", "[split]") {
  const auto data = make({
      {"a", "x", 4, 5},
      {"b", "x", 3, 1},  // b has one row: stays in train
      {"a", "y", 5, 9},
      {"c", "z", 2, 3},
      {"a", "z", 1, 9},  // ties a's time 9 and comes later in the file: a's held-out row
      {"c", "x", 5, 1},  // c's latest is z at time 3, earlier in the file
      {"a", "w", 2, 2},
  });
  const auto s = leave_last_out(data);
  check_partition(data, Split{s.train, s.test});
  // Test rows stay in file order: c's (line 4) before a's (line 5).
  REQUIRE(s.test.size() == 2);
  CHECK(data.users.id(s.test.rows[0].user) == "c");
  CHECK(data.items.id(s.test.rows[0].item) == "z");
  CHECK(s.test.rows[0].time == 3);
  CHECK(data.users.id(s.test.rows[1].user) == "a");
  CHECK(data.items.id(s.test.rows[1].item) == "z");
  CHECK(s.test.rows[1].time == 9);
  CHECK(s.train.size() == 5);
}

TEST_CASE("temporal split cuts at the time quantile", "[split]") {
  // Times 1..10 in scrambled file order; fraction 0.3 -> 3 test rows -> cut at time 8.
  std::vector<Row> rows;
  for (int t : {4, 9, 1, 10, 7, 2, 8, 3, 6, 5})
    rows.push_back({"u" + std::to_string(t % 3), "i" + std::to_string(t), 3, t});
  const auto data = make(rows);
  const auto s = temporal_split(data, 0.3);
  REQUIRE(s.test.size() == 3);
  for (const auto& r : s.test.rows) CHECK(r.time >= 8);
  for (const auto& r : s.train.rows) CHECK(r.time < 8);
  CHECK(s.test.rows[0].time == 9);  // file order kept: 9, 10, 8
  CHECK(s.test.rows[2].time == 8);

  // Ties at the cut all go to test: times 1,2,5,5,5 with fraction 0.2 -> cut 5 -> 3 rows.
  const auto tied = make({{"a", "p", 1, 1}, {"a", "q", 1, 5}, {"b", "p", 1, 2},
                          {"b", "q", 1, 5}, {"c", "p", 1, 5}});
  CHECK(temporal_split(tied, 0.2).test.size() == 3);

  auto untimed = data;
  untimed.has_time = false;
  CHECK_THROWS_AS(temporal_split(untimed, 0.3), Error);
  const auto same_time = make({{"a", "p", 1, 7}, {"b", "q", 1, 7}});
  CHECK_THROWS_AS(temporal_split(same_time, 0.5), Error);  // nothing left to train on
}

TEST_CASE("negative sampling excludes the user's items, is seeded and uniform", "[split]") {
  // 10 items; user a interacted with items 0..3, user b with item 9 only.
  Interactions data;
  data.source = "hand";
  for (int i = 0; i < 10; ++i) data.items.add("i" + std::to_string(i));
  const index_t a = data.users.add("a"), b = data.users.add("b");
  for (index_t i = 0; i < 4; ++i) data.rows.push_back({a, i, 1, 0});
  data.rows.push_back({b, 9, 1, 0});

  const auto negs = sample_negatives(data, {a, b, a}, 5, 11);
  REQUIRE(negs.size() == 3);
  for (std::size_t e = 0; e < negs.size(); ++e) {
    CHECK(negs[e].size() == 5);
    CHECK(std::set<index_t>(negs[e].begin(), negs[e].end()).size() == 5);  // no repeats
  }
  for (index_t i : negs[0]) CHECK(i >= 4);
  for (index_t i : negs[1]) CHECK(i != 9);
  CHECK(sample_negatives(data, {a, b, a}, 5, 11) == negs);
  CHECK(sample_negatives(data, {a, b, a}, 5, 12) != negs);
  // Only 6 items are free for a: asking for 8 gives all 6.
  CHECK(sample_negatives(data, {a}, 8, 1)[0] == std::vector<index_t>{4, 5, 6, 7, 8, 9});
  CHECK_THROWS_AS(sample_negatives(data, {5}, 1, 1), Error);
  CHECK_THROWS_AS(sample_negatives(data, {a}, -1, 1), Error);

  // Uniform over the 6 free items: 6000 single draws, 1000 expected each (sd ~ 29).
  const std::vector<index_t> many(6000, a);
  std::map<index_t, int> counts;
  for (const auto& n : sample_negatives(data, many, 1, 5)) counts[n.at(0)]++;
  REQUIRE(counts.size() == 6);
  for (const auto& [item, c] : counts) {
    CHECK(item >= 4);
    CHECK(c > 850);
    CHECK(c < 1150);
  }
  // For b nine items are free and 5 of them are wanted: the pool branch; still in range.
  const std::vector<index_t> bs(3000, b);
  std::map<index_t, int> bcounts;
  for (const auto& n : sample_negatives(data, bs, 5, 9))
    for (index_t i : n) bcounts[i]++;
  REQUIRE(bcounts.size() == 9);
  for (const auto& [item, c] : bcounts) {
    CHECK(item != 9);
    CHECK(c > 1500);  // expected 3000 * 5/9 = 1667
    CHECK(c < 1830);
  }
}
