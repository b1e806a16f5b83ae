// Beyond-accuracy metrics and re-rankers on hand-worked examples (the arithmetic is in the
// comments), and the automatic lambda choice's criterion on a synthetic catalogue.
#include <cmath>
#include <vector>

#include <catch2/catch.hpp>

#include "edgerec/eval.hpp"
#include "edgerec/rerank.hpp"

using namespace edgerec;

namespace {

Matrix rows(std::initializer_list<std::pair<float, float>> r) {
  Matrix m(static_cast<Eigen::Index>(r.size()), 2);
  Eigen::Index i = 0;
  for (const auto& [a, b] : r) m(i, 0) = a, m(i, 1) = b, ++i;
  return m;
}

// vocabulary {A, B, C}; item 0 {A}, item 1 {A, B}, item 2 {C}, item 3 none.
ItemMeta::Categorical genres3() {
  ItemMeta::Categorical g;
  g.name = "genres";
  g.vocabulary = {"A", "B", "C"};
  g.offsets = {0, 1, 3, 4, 4};
  g.codes = {0, 0, 1, 2};
  return g;
}

}  // namespace

TEST_CASE("intra-list diversity by hand", "[rerank]") {
  // item 0 (1,0), item 1 (0,1), item 2 (0.6,0.8): cosines 0, 0.6, 0.8 -> distances 1, 0.4, 0.2,
  // mean 1.6 / 3.
  const Matrix unit = rows({{1, 0}, {0, 1}, {0.6f, 0.8f}});
  CHECK(intra_list_diversity({0, 1, 2}, unit) == Approx(1.6 / 3.0));
  CHECK(intra_list_diversity({0, 1}, unit) == Approx(1.0));
  CHECK(intra_list_diversity({0, 0}, unit) == Approx(0.0));
  CHECK(intra_list_diversity({2}, unit) == 0.0);
  CHECK_THROWS_AS(intra_list_diversity({0, 7}, unit), Error);
}

TEST_CASE("novelty by hand", "[rerank]") {
  // 4 users; counts 4, 2, 1 -> p = 1, 1/2, 1/4 -> self-information 0, 1, 2 bits.
  const std::vector<float> counts{4, 2, 1, 0};
  CHECK(novelty({0, 1, 2}, counts, 4) == Approx(1.0));
  CHECK(novelty({1, 2}, counts, 4) == Approx(1.5));
  // An item without training interactions counts as one: log2(4) = 2.
  CHECK(novelty({3}, counts, 4) == Approx(2.0));
  CHECK_THROWS_AS(novelty({9}, counts, 4), Error);
}

TEST_CASE("genre distribution and calibration KL by hand", "[rerank]") {
  const auto g = genres3();
  // {0, 1, 3}: item 0 gives A 1, item 1 A 1/2 B 1/2, item 3 nothing; over 2 items: A .75, B .25.
  const std::vector<index_t> items{0, 1, 3};
  const auto p = genre_distribution(items.data(), items.size(), g);
  REQUIRE(p.size() == 3);
  CHECK(p[0] == Approx(0.75));
  CHECK(p[1] == Approx(0.25));
  CHECK(p[2] == 0.0);
  // p = (.5, .5, 0), q = (1, 0, 0): q~ = .99 q + .01 p = (.995, .005, 0);
  // KL = .5 ln(.5/.995) + .5 ln(.5/.005) = .5 (-0.688135) + .5 (4.605170) = 1.958518.
  CHECK(calibration_kl({.5, .5, 0}, {1, 0, 0}) == Approx(1.958518).epsilon(1e-5));
  CHECK(calibration_kl({.5, .5, 0}, {.5, .5, 0}) == Approx(0.0).margin(1e-12));
  // A list with no genre at all: q~ = .01 p, KL = ln(100).
  CHECK(calibration_kl({.5, .5, 0}, {0, 0, 0}) == Approx(std::log(100.0)));
  CHECK_THROWS_AS(calibration_kl({1}, {1, 0}), Error);
}

TEST_CASE("MMR by hand; lambda 1 is the model's order", "[rerank]") {
  // items 0 and 1 point the same way, item 2 is orthogonal; scores 3, 2, 1 -> scaled 1, .5, 0.
  const Matrix unit = rows({{1, 0}, {1, 0}, {0, 1}});
  const std::vector<index_t> cand{0, 1, 2};
  const std::vector<float> scores{3, 2, 1};
  CHECK(mmr_rerank(cand, scores, unit, 1.0, 3) == std::vector<index_t>{0, 1, 2});
  // lambda .5: first 0 (.5); then item 1: .25 - .5 * 1 = -.25, item 2: 0 - 0 = 0 -> 2.
  CHECK(mmr_rerank(cand, scores, unit, 0.5, 2) == std::vector<index_t>{0, 2});
  // Then 1: the set is all three, shown in the model's order (not the pick order 0, 2, 1).
  CHECK(mmr_rerank(cand, scores, unit, 0.5, 3) == std::vector<index_t>{0, 1, 2});
  CHECK(mmr_rerank(cand, scores, unit, 0.5, 9).size() == 3);
  CHECK_THROWS_AS(mmr_rerank(cand, scores, unit, 1.5, 3), Error);
  CHECK_THROWS_AS(mmr_rerank(cand, {1, 2}, unit, 0.5, 3), Error);
}

TEST_CASE("calibrated re-ranking by hand; lambda 0 is the model's order", "[rerank]") {
  // vocabulary {A, B}; items 0 and 1 are A, item 2 is B; the user's history is half A, half B.
  ItemMeta::Categorical g;
  g.vocabulary = {"A", "B"};
  g.offsets = {0, 1, 2, 3};
  g.codes = {0, 0, 1};
  const std::vector<double> target{.5, .5};
  const std::vector<index_t> cand{0, 1, 2};
  const std::vector<float> scores{3, 2, 1};  // scaled 1, .5, 0
  CHECK(calibrated_rerank(cand, scores, g, target, 0.0, 3) == std::vector<index_t>{0, 1, 2});
  // lambda .5, step 1: any single item has KL 1.958518 (q = (1,0) or (0,1)), so the best score
  // wins: 0. Step 2: item 1 gives .5 (1 + .5) - .5 (1.958518) = -.229, item 2 gives .5 (1 + 0)
  // - .5 * 0 = .5 -> 2.
  const auto r = calibrated_rerank(cand, scores, g, target, 0.5, 2);
  CHECK(r == std::vector<index_t>{0, 2});
  CHECK(calibration_kl(target, genre_distribution(r.data(), r.size(), g)) == Approx(0.0).margin(1e-12));
  CHECK_THROWS_AS(calibrated_rerank(cand, scores, g, {1.0}, 0.5, 2), Error);
}

TEST_CASE("re-rankers choose a set and show it in the model's order", "[rerank]") {
  // Items 0, 1, 2 are A, 3 and 4 are B; scores 4..0 -> scaled 1, .75, .5, .25, 0; target (.5, .5).
  ItemMeta::Categorical g;
  g.vocabulary = {"A", "B"};
  g.offsets = {0, 1, 2, 3, 4, 5};
  g.codes = {0, 0, 0, 1, 1};
  const std::vector<index_t> cand{0, 1, 2, 3, 4};
  const std::vector<float> scores{4, 3, 2, 1, 0};
  // lambda .5: picks 0 (best score), then 3 (.625 against item 1's -.104), then 1: q = (2/3,
  // 1/3), KL .0577, .5 (1.25 + .75) - .5 KL = .971 against item 2's .846 and item 4's .596.
  // The set {0, 3, 1} is not the model's top 3 ({0, 1, 2}); it is listed best score first.
  const auto r = calibrated_rerank(cand, scores, g, {.5, .5}, 0.5, 3);
  CHECK(r == std::vector<index_t>{0, 1, 3});
  // Equal scores keep the pool's order.
  CHECK(calibrated_rerank({4, 3}, {1, 1}, g, {.5, .5}, 0.0, 2) == std::vector<index_t>{4, 3});
}

TEST_CASE("short head and P(head | user) by hand", "[rerank]") {
  // counts 10, 8, 1, 0, 5: the top ceil(0.2 x 5) = 1 item is 0; ceil(0.4 x 5) = 2: 0 and 1.
  CHECK(short_head({10, 8, 1, 0, 5}) == std::vector<std::uint8_t>{1, 0, 0, 0, 0});
  CHECK(short_head({10, 8, 1, 0, 5}, 0.4) == std::vector<std::uint8_t>{1, 1, 0, 0, 0});
  // A tie for the last place goes to the lower index: ceil(0.2 x 3) = 1 of items 1 and 2.
  CHECK(short_head({2, 5, 5}) == std::vector<std::uint8_t>{0, 1, 0});
  CHECK_THROWS_AS(short_head({1, 2}, 0.0), Error);
  const std::vector<std::uint8_t> head{1, 1, 0, 0};
  const std::vector<index_t> history{0, 2, 3, 7};  // item 7 lies beyond the mask: tail
  CHECK(head_share(history.data(), 4, head) == Approx(0.25));
  CHECK(head_share(nullptr, 0, head) == 0.5);
}

TEST_CASE("popularity re-ranking (smooth xQuAD) by hand; lambda 0 is the model's order", "[rerank]") {
  // Items 0, 1 in the short head, 2, 3 in the tail; scores 4, 3, 2, 0 -> scaled 1, .75, .5, 0.
  const std::vector<std::uint8_t> head{1, 1, 0, 0};
  const std::vector<index_t> cand{0, 1, 2, 3};
  const std::vector<float> scores{4, 3, 2, 0};
  CHECK(popularity_rerank(cand, scores, head, 0.5, 0.0, 4) == std::vector<index_t>{0, 1, 2, 3});
  // lambda .5, P(H|u) = P(T|u) = .5. Step 1 (S empty, every group uncovered): .5 s + .25:
  // .75, .625, .5, .25 -> 0. Step 2: item 1 (head, covered by 0): .375 + 0; item 2 (tail,
  // uncovered): .25 + .25 = .5; item 3: 0 + .25 -> 2. Step 3 (S = {0, 2}, each group half):
  // item 1: .375 + .25 x .5 = .5; item 3: 0 + .125 -> 1; then 3.
  // Picks 0, 2, 1, 3; a list is shown best score first, so k = 2 is {0, 2}, k = 3 {0, 1, 2}.
  CHECK(popularity_rerank(cand, scores, head, 0.5, 0.5, 2) == std::vector<index_t>{0, 2});
  CHECK(popularity_rerank(cand, scores, head, 0.5, 0.5, 3) == std::vector<index_t>{0, 1, 2});
  // Personalised: a user whose history is all head (P(T|u) = 0) gets no tail boost. Step 2:
  // item 1: .375; item 2: .25 + 0 -> 1.
  CHECK(popularity_rerank(cand, scores, head, 1.0, 0.5, 2) == std::vector<index_t>{0, 1});
  // lambda 1: groups alone. Step 1 ties at .5 -> the first, 0; step 2: tail .5 vs head 0 -> 2;
  // step 3: head .5 x .5 = .25 ties tail .25 -> the earlier candidate, 1.
  CHECK(popularity_rerank(cand, scores, head, 0.5, 1.0, 2) == std::vector<index_t>{0, 2});
  CHECK(popularity_rerank(cand, scores, head, 0.5, 1.0, 3) == std::vector<index_t>{0, 1, 2});
  CHECK(popularity_rerank(cand, scores, head, 0.5, 0.5, 9).size() == 4);
  CHECK_THROWS_AS(popularity_rerank(cand, scores, head, 1.5, 0.5, 2), Error);
  CHECK_THROWS_AS(popularity_rerank(cand, scores, head, 0.5, -0.1, 2), Error);
}

TEST_CASE("re-ranker names", "[rerank]") {
  CHECK(parse_rerank("popularity") == RerankKind::popularity);
  CHECK(std::string(rerank_name(RerankKind::popularity)) == "popularity");
  CHECK(parse_rerank("mmr") == RerankKind::mmr);
  CHECK(parse_rerank("calibrated") == RerankKind::calibrated);
  CHECK(parse_rerank("none") == RerankKind::none);
  CHECK(std::string(rerank_name(RerankKind::calibrated)) == "calibrated");
  CHECK_THROWS_AS(parse_rerank("fair"), Error);
}

// ---- --rerank-lambda auto (eval.hpp) --------------------------------------------------------

TEST_CASE("automatic lambda: the criterion on the validation grid, and the test part is not used", "[rerank]") {
  SyntheticOptions so;
  so.users = 200;
  so.items = 120;
  so.interactions = 6000;
  so.seed = 8;
  const auto data = generate_synthetic(so).data;
  Hyper h;
  h.factors = 8;
  h.epochs = 6;
  h.seed = 2;
  auto backend = make_cpu_backend();
  EvalOptions o;
  o.protocol = Protocol::holdout;
  o.seed = 1;
  o.rerank.kind = RerankKind::mmr;
  o.rerank.auto_lambda = true;
  const Split split = protocol_split(data, o);
  for (double loss : {0.0, 0.05, 1.0}) {
    o.rerank.max_ndcg_loss = loss;
    std::vector<LambdaTrial> grid;
    double base = 0;
    const double chosen = choose_rerank_lambda(split.train, ModelKind::bpr, h, o, *backend, &grid, &base).lambda;
    REQUIRE(grid.size() == 11);
    // The chosen point: eligible, and no eligible point has a larger ILD (MMR's objective).
    const LambdaTrial* pick = nullptr;
    for (const auto& t : grid) {
      CHECK(t.ndcg_se >= 0.0);
      if (t.lambda != 1.0) CHECK(t.ndcg_se > 0.0);  // MMR below 1 changes some lists
      CHECK(t.eligible == (t.lambda == 1.0 || t.ndcg - t.ndcg_se >= (1.0 - loss) * base));
      if (t.lambda == chosen) pick = &t;
    }
    REQUIRE(pick);
    CHECK(pick->eligible);
    for (const auto& t : grid)
      if (t.eligible) CHECK(t.objective <= pick->objective);
    if (loss == 1.0) CHECK(chosen < 1.0);  // everything qualifies: MMR's most diverse is not lambda 1
  }
  // The choice reads the training part only: a different test part changes nothing.
  o.rerank.max_ndcg_loss = 0.05;
  const double a = choose_rerank_lambda(split.train, ModelKind::bpr, h, o, *backend).lambda;
  Split other = split;
  other.test.rows.resize(other.test.rows.size() / 2);
  const auto r = evaluate_split(other, ModelKind::bpr, h, o, *backend);
  REQUIRE(r.rerank_lambdas.size() == 1);
  CHECK(r.rerank_lambdas[0] == a);
  CHECK(r.lambda_trials.size() == 11);
  CHECK(r.metrics.count("rerank_ndcg@10") == 1);
  {
    // rerank_ndcg_se@10: the standard error of the per-user change; MMR at lambda 1 changes no list.
    EvalOptions q = o;
    q.rerank.auto_lambda = false;
    q.rerank.lambda = 1.0;
    const auto same = evaluate_split(split, ModelKind::bpr, h, q, *backend);
    CHECK(same.metrics.at("rerank_ndcg_se@10") == 0.0);
    CHECK(same.metrics.at("rerank_ndcg@10") == Approx(same.metrics.at("ndcg@10")));
    q.rerank.lambda = 0.0;  // the most diverse: lists change, and so does ndcg, user by user
    const auto diverse = evaluate_split(split, ModelKind::bpr, h, q, *backend);
    CHECK(diverse.metrics.at("rerank_ndcg_se@10") > 0.0);
  }
  // auto_pool: the grid is every pool factor x lambda; the choice is its best eligible point, and
  // the evaluation uses that pool.
  {
    EvalOptions q = o;
    q.rerank.auto_pool = true;
    std::vector<LambdaTrial> grid;
    double base = 0;
    const auto c = choose_rerank_lambda(split.train, ModelKind::bpr, h, q, *backend, &grid, &base);
    REQUIRE(grid.size() == 11 * std::size(kAutoPoolFactors));
    const LambdaTrial* pick = nullptr;
    for (const auto& t : grid) {
      CHECK(t.eligible == (t.lambda == 1.0 || t.ndcg - t.ndcg_se >= (1.0 - q.rerank.max_ndcg_loss) * base));
      if (t.lambda == c.lambda && t.pool_factor == c.pool_factor) pick = &t;
    }
    REQUIRE(pick);
    for (const auto& t : grid)
      if (t.eligible) CHECK(t.objective <= pick->objective);
    // The fixed-pool grid (the default pool, 10) is the auto grid's slice at that pool.
    std::vector<LambdaTrial> fixed;
    choose_rerank_lambda(split.train, ModelKind::bpr, h, o, *backend, &fixed);
    REQUIRE(fixed.size() == 11);
    for (std::size_t i = 0; i < 11; ++i) {
      const auto& t = grid[11 * 3 + i];  // kAutoPoolFactors[3] == 10
      CHECK(t.pool_factor == 10);
      CHECK(t.ndcg == fixed[i].ndcg);
      CHECK(t.objective == fixed[i].objective);
    }
    const auto r2 = evaluate_split(other, ModelKind::bpr, h, q, *backend);
    REQUIRE(r2.rerank_pools.size() == 1);
    CHECK(r2.rerank_pools[0] == c.pool_factor);
    CHECK(r2.rerank_lambdas[0] == c.lambda);
    q.rerank.auto_lambda = false;  // a pool chosen without the lambda: refused
    CHECK_THROWS_AS(evaluate(data, ModelKind::bpr, h, q, *backend), Error);
  }
  // kfold: one choice per fold.
  o.protocol = Protocol::kfold;
  o.folds = 3;
  const auto kf = evaluate(data, ModelKind::bpr, h, o, *backend);
  CHECK(kf.rerank_lambdas.size() == 3);
  o.rerank.kind = RerankKind::none;
  CHECK_THROWS_AS(choose_rerank_lambda(split.train, ModelKind::bpr, h, o, *backend), Error);
}
