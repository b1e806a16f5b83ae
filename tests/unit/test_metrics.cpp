// Metric values worked out by hand (the arithmetic is in the comments), the tie rule, and the
// agreement of the rank-based accumulator with the list-based definitions.
#include <cmath>
#include <limits>
#include <vector>

#include <catch2/catch.hpp>

#include "edgerec/metrics.hpp"

using namespace edgerec;

namespace {
const double kLog2_3 = std::log2(3.0);  // discount of rank 2 is 1/log2(3)
}

TEST_CASE("rmse and mae by hand", "[metrics]") {
  // errors 1, 0, -2: squared 1 + 0 + 4 = 5 -> rmse sqrt(5/3); absolute 1 + 0 + 2 = 3 -> mae 1.
  const std::vector<float> predicted{3.0f, 4.0f, 1.0f};
  const std::vector<float> actual{2.0f, 4.0f, 3.0f};
  CHECK(rmse(predicted, actual) == Approx(std::sqrt(5.0 / 3.0)));
  CHECK(mae(predicted, actual) == Approx(1.0));
  CHECK(rmse({2.5f}, {2.5f}) == 0.0);
  CHECK_THROWS_AS(rmse({1.0f}, {1.0f, 2.0f}), Error);
  CHECK_THROWS_AS(mae({}, {}), Error);
}

TEST_CASE("ranking metrics of one list by hand", "[metrics]") {
  // ranked: 5 3 8 1 9 2 (ranks 1..6); relevant {3, 9} sit at ranks 2 and 5.
  const std::vector<index_t> ranked{5, 3, 8, 1, 9, 2};
  const std::vector<index_t> relevant{9, 3};  // any order accepted

  SECTION("K = 3: one hit, at rank 2") {
    CHECK(hit_rate_at(ranked, relevant, 3) == 1.0);
    CHECK(precision_at(ranked, relevant, 3) == Approx(1.0 / 3.0));  // 1 hit / K
    CHECK(recall_at(ranked, relevant, 3) == Approx(0.5));          // 1 hit / |rel| = 2
    // DCG = 1/log2(2+1); ideal for min(2, 3) = 2 hits = 1 + 1/log2(3).
    CHECK(ndcg_at(ranked, relevant, 3) == Approx((1.0 / kLog2_3) / (1.0 + 1.0 / kLog2_3)));
    // MAP: Precision@2 = 1/2 at the only hit, divided by min(|rel|, K) = 2 -> 0.25.
    CHECK(map_at(ranked, relevant, 3) == Approx(0.25));
  }
  SECTION("K = 1: no hit") {
    CHECK(hit_rate_at(ranked, relevant, 1) == 0.0);
    CHECK(precision_at(ranked, relevant, 1) == 0.0);
    CHECK(ndcg_at(ranked, relevant, 1) == 0.0);
    CHECK(map_at(ranked, relevant, 1) == 0.0);
  }
  SECTION("K = 5: both hits") {
    CHECK(precision_at(ranked, relevant, 5) == Approx(2.0 / 5.0));
    CHECK(recall_at(ranked, relevant, 5) == Approx(1.0));
    // DCG = 1/log2(3) + 1/log2(6); ideal = 1 + 1/log2(3).
    CHECK(ndcg_at(ranked, relevant, 5) ==
          Approx((1.0 / kLog2_3 + 1.0 / std::log2(6.0)) / (1.0 + 1.0 / kLog2_3)));
    // MAP: (P@2 + P@5) / 2 = (1/2 + 2/5) / 2 = 0.45.
    CHECK(map_at(ranked, relevant, 5) == Approx(0.45));
  }
  SECTION("K = 10 > list length: precision still divides by K") {
    CHECK(precision_at(ranked, relevant, 10) == Approx(2.0 / 10.0));
  }
  // First relevant item at rank 2.
  CHECK(reciprocal_rank(ranked, relevant) == Approx(0.5));
  // Non-relevant: 5 8 1 2 (4 of them). Item 3 beats 8, 1, 2 (3 pairs); item 9 beats 2 (1 pair).
  // AUC = (3 + 1) / (2 * 4) = 0.5.
  CHECK(auc(ranked, relevant) == Approx(0.5));
}

TEST_CASE("NDCG with hits at ranks 1 and 3 of 2 relevant", "[metrics]") {
  const std::vector<index_t> ranked{7, 4, 2, 0};
  const std::vector<index_t> relevant{2, 7};
  // (1/log2(2) + 1/log2(4)) / (1/log2(2) + 1/log2(3)) = (1 + 1/2) / (1 + 1/log2(3)) = 0.91972
  CHECK(ndcg_at(ranked, relevant, 10) == Approx(1.5 / (1.0 + 1.0 / kLog2_3)));
  CHECK(ndcg_at(ranked, relevant, 10) == Approx(0.919720).epsilon(1e-5));
  // MAP@10 = (P@1 + P@3) / 2 = (1 + 2/3) / 2 = 5/6. MRR = 1.
  CHECK(map_at(ranked, relevant, 10) == Approx(5.0 / 6.0));
  CHECK(reciprocal_rank(ranked, relevant) == 1.0);
  // Non-relevant: 4, 0. Item 7 beats both (2), item 2 beats 0 (1): AUC = 3 / (2 * 2) = 0.75.
  CHECK(auc(ranked, relevant) == Approx(0.75));
}

TEST_CASE("ranking metric edge cases", "[metrics]") {
  const std::vector<index_t> ranked{1, 2, 3};
  CHECK(reciprocal_rank(ranked, {9}) == 0.0);      // relevant item never ranked
  CHECK(recall_at(ranked, {}, 3) == 0.0);          // nothing relevant: defined as 0
  CHECK(auc({1, 2}, {1, 2}) == 0.5);               // no non-relevant candidate: no pair
  CHECK(auc({4, 1, 2}, {4}) == 1.0);               // perfect
  CHECK(auc({1, 2, 4}, {4}) == 0.0);               // worst
  // Duplicates count once: relevant {2, 2} is one item, and 1 listed twice is one candidate.
  CHECK(recall_at({2, 1}, {2, 2}, 1) == 1.0);
  CHECK(auc({1, 2, 1, 3}, {2}) == Approx(0.5));  // 2 beats 3 but not 1: 1 of 2 pairs
  CHECK_THROWS_AS(hit_rate_at(ranked, {1}, 0), Error);
}

TEST_CASE("catalogue coverage and popularity Gini by hand", "[metrics]") {
  // Lists {0,1} and {1,2} over 5 items: items 0,1,2 recommended -> coverage 3/5.
  const std::vector<std::vector<index_t>> lists{{0, 1}, {1, 2}};
  CHECK(catalogue_coverage(lists, 5) == Approx(0.6));
  // Counts per item (1,2,1,0,0) sorted: (0,0,1,1,2), n = 5, total 4.
  // sum (2i - n + 1) c_i = (-4)*0 + (-2)*0 + 0*1 + 2*1 + 4*2 = 10; 10 / ((5-1) * 4) = 0.625.
  // Cross-check by mean absolute difference: unordered |c_i - c_j| sum = 4*1 + 2*2 + 2*1 = 10,
  // so G = 2*10 / (2 * n^2 * mean) * n/(n-1) = 20 / (2*25*0.8) * 5/4 = 0.625.
  CHECK(popularity_gini(lists, 5) == Approx(0.625));
  // Equal exposure -> 0; one item in every slot -> 1.
  CHECK(popularity_gini({{0, 1}, {2, 3}}, 4) == Approx(0.0));
  CHECK(popularity_gini({{3}, {3}, {3}}, 4) == Approx(1.0));
  CHECK(catalogue_coverage({{3}, {3}, {3}}, 4) == Approx(0.25));
  CHECK(catalogue_coverage({}, 4) == 0.0);
  CHECK_THROWS_AS(catalogue_coverage({{4}}, 4), Error);
  CHECK_THROWS_AS(popularity_gini({{0}}, 0), Error);
}

TEST_CASE("rank_relevant applies the conservative tie rule", "[metrics]") {
  //                       0     1     2     3     4
  const std::vector<float> s{0.5f, 0.9f, 0.5f, 0.1f, 0.5f};
  std::size_t candidates = 0;
  // Item 2 (0.5) goes below every other candidate with score >= 0.5: items 1, 0, 4 -> rank 4.
  CHECK(rank_relevant(s.data(), 5, {2}, nullptr, &candidates) == std::vector<std::uint32_t>{4});
  CHECK(candidates == 5);
  // Skipping item 1 (a training item) removes one candidate above it -> rank 3 of 4.
  const std::vector<std::uint8_t> skip{0, 1, 0, 0, 0};
  CHECK(rank_relevant(s.data(), 5, {2}, skip.data(), &candidates) == std::vector<std::uint32_t>{3});
  CHECK(candidates == 4);
  // Two tied relevant items 0 and 2: order 1 (0.9), 4 (0.5, non-relevant first), 0, 2, 3.
  CHECK(rank_relevant(s.data(), 5, {2, 0}, nullptr, nullptr) == std::vector<std::uint32_t>{3, 4});
  // Relevant items with distinct scores: 1 (0.9) first, 3 (0.1) last.
  CHECK(rank_relevant(s.data(), 5, {3, 1}, nullptr, nullptr) == std::vector<std::uint32_t>{1, 5});
  // A skipped or out-of-range relevant item is not ranked.
  CHECK(rank_relevant(s.data(), 5, {1, 7}, skip.data(), nullptr).empty());

  // A constant-score model ranks every relevant item last, so it cannot score by accident.
  const std::vector<float> flat(100, 1.0f);
  CHECK(rank_relevant(flat.data(), 100, {0}, nullptr, nullptr) == std::vector<std::uint32_t>{100});
  CHECK(rank_relevant(flat.data(), 100, {0, 50}, nullptr, nullptr) ==
        std::vector<std::uint32_t>{99, 100});

  // NaN counts as -infinity: a NaN relevant item is last, a NaN candidate is below everything.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> with_nan{nan, 0.2f, -std::numeric_limits<float>::infinity()};
  CHECK(rank_relevant(with_nan.data(), 3, {1}, nullptr, nullptr) == std::vector<std::uint32_t>{1});
  CHECK(rank_relevant(with_nan.data(), 3, {0}, nullptr, nullptr) == std::vector<std::uint32_t>{3});
}

TEST_CASE("rank_relevant agrees with sorting the whole catalogue", "[metrics]") {
  // Scores with many ties (values 0..6), every 11th item skipped, every 7th relevant: 28
  // relevant items of 200 (the small-set path) and 285 of 2000 (the binary-search path).
  for (index_t n : {200u, 2000u}) {
    std::vector<float> s(n);
    std::vector<std::uint8_t> skip(n, 0);
    std::vector<index_t> relevant;
    auto is_rel = [](index_t i) { return i % 7 == 3; };
    for (index_t i = 0; i < n; ++i) {
      s[i] = static_cast<float>((i * 37u) % 7u);
      skip[i] = i % 11 == 0;
      if (is_rel(i)) relevant.push_back(i);
    }
    // Reference: sort candidates by (score desc, non-relevant first, index asc), read ranks.
    std::vector<index_t> order;
    for (index_t i = 0; i < n; ++i)
      if (!skip[i]) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](index_t a, index_t b) {
      if (s[a] != s[b]) return s[a] > s[b];
      if (is_rel(a) != is_rel(b)) return !is_rel(a);
      return a < b;
    });
    std::vector<std::uint32_t> expected;
    for (std::size_t p = 0; p < order.size(); ++p)
      if (is_rel(order[p])) expected.push_back(static_cast<std::uint32_t>(p + 1));
    std::size_t candidates = 0;
    CHECK(rank_relevant(s.data(), n, relevant, skip.data(), &candidates) == expected);
    CHECK(candidates == order.size());

    // And the accumulator gives the same means from ranks as from the ranked list.
    std::vector<index_t> rel_candidates;
    for (index_t i : relevant)
      if (!skip[i]) rel_candidates.push_back(i);
    RankingAccumulator from_list(10), from_ranks(10);
    from_list.add(order, rel_candidates);
    from_ranks.add_ranks(expected, candidates);
    const auto a = from_list.means(), b = from_ranks.means();
    REQUIRE(a.size() == 7);
    for (const auto& [key, value] : a) CHECK(b.at(key) == Approx(value));
  }
}

TEST_CASE("RankingAccumulator averages users and merges", "[metrics]") {
  // User A: relevant at rank 1 of 4 candidates; user B: relevant at rank 3 of 4.
  RankingAccumulator acc(2, "full_");
  acc.add_ranks({1}, 4);
  RankingAccumulator other(2, "full_");
  other.add_ranks({3}, 4);
  other.add_ranks({}, 4);  // a user with nothing relevant is not counted
  acc.merge(other);
  CHECK(acc.users() == 2);
  const auto m = acc.means();
  CHECK(m.at("full_hr@2") == Approx(0.5));          // (1 + 0) / 2
  CHECK(m.at("full_ndcg@2") == Approx(0.5));        // (1 + 0) / 2
  CHECK(m.at("full_precision@2") == Approx(0.25));  // (1/2 + 0) / 2
  CHECK(m.at("full_recall@2") == Approx(0.5));
  CHECK(m.at("full_map@2") == Approx(0.5));
  CHECK(m.at("full_mrr") == Approx((1.0 + 1.0 / 3.0) / 2.0));
  // AUC: A beats all 3 negatives (1); B beats 1 of 3 (1/3): mean 2/3.
  CHECK(m.at("full_auc") == Approx(2.0 / 3.0));

  CHECK(RankingAccumulator(10).means().empty());
  CHECK_THROWS_AS(acc.add_ranks({2, 2}, 4), Error);
  CHECK_THROWS_AS(acc.add_ranks({5}, 4), Error);
  RankingAccumulator k5(5);
  CHECK_THROWS_AS(acc.merge(k5), Error);
}
