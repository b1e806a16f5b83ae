// Exact top-K by norm-bounded visits (NormIndex) against the plain oracle: score every item with
// kernels::score_all(), then select_top_k(). Items and scores must agree bit for bit.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>

#include "edgerec/edgerec.hpp"
#include "edgerec/kernels.hpp"
#include "edgerec/topk.hpp"
#include "test_util.hpp"

using namespace edgerec;

namespace {

// Rows with Gaussian directions and log-normal lengths (spread 0 = every row of length 1).
Matrix random_items(std::size_t n, std::size_t dim, double spread, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  Matrix V(static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(dim));
  for (Eigen::Index i = 0; i < V.rows(); ++i) {
    for (Eigen::Index d = 0; d < V.cols(); ++d) V(i, d) = g(rng);
    const float len = static_cast<float>(std::exp(spread * g(rng)));
    const float norm = V.row(i).norm();
    if (norm > 0) V.row(i) *= len / norm;
  }
  return V;
}

std::vector<float> random_query(std::size_t dim, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.5f);
  std::vector<float> u(dim);
  for (auto& x : u) x = g(rng);
  return u;
}

std::vector<TopK> oracle(const Matrix& V, const float* u, float offset, int k, const std::uint8_t* skip) {
  std::vector<float> s(static_cast<std::size_t>(V.rows()));
  kernels::score_all(u, V.data(), s.size(), static_cast<std::size_t>(V.cols()), offset, s.data());
  return select_top_k(s.data(), static_cast<index_t>(s.size()), k, skip);
}

void require_same(const std::vector<TopK>& got, const std::vector<TopK>& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t j = 0; j < got.size(); ++j) {
    INFO("rank " << j);
    CHECK(got[j].item == want[j].item);
    CHECK(std::memcmp(&got[j].score, &want[j].score, sizeof(float)) == 0);
  }
}

}  // namespace

TEST_CASE("score_rows gives each row the bits score_all gives it") {
  for (std::size_t dim : {1, 3, 4, 7, 64, 66}) {
    const Matrix V = random_items(37, dim, 1.0, 11);
    const auto u = random_query(dim, 12);
    std::vector<float> all(37);
    kernels::score_all(u.data(), V.data(), 37, dim, 0.25f, all.data());
    std::vector<index_t> rows = {36, 0, 5, 5, 17, 2, 33, 1, 8};
    std::vector<float> got(rows.size());
    kernels::score_rows(u.data(), V.data(), dim, rows.data(), rows.size(), 0.25f, got.data());
    for (std::size_t j = 0; j < rows.size(); ++j) {
      INFO("dim " << dim << " row " << rows[j]);
      CHECK(std::memcmp(&got[j], &all[rows[j]], sizeof(float)) == 0);
    }
  }
}

TEST_CASE("NormIndex top-K equals scoring every item, with and without pruning") {
  struct Case {
    std::size_t n, dim;
    double spread;
  };
  // Spread 2.5 prunes hard; spread 0 (equal norms) falls back to the full scan.
  for (const Case c : {Case{5000, 64, 2.5}, Case{3000, 66, 0.8}, Case{2000, 8, 0.0}, Case{700, 3, 1.0}}) {
    const Matrix V = random_items(c.n, c.dim, c.spread, static_cast<unsigned>(c.n + c.dim));
    const NormIndex index(V);
    std::vector<float> scratch(c.n);
    std::size_t scored = 0, queries = 0;
    std::mt19937 rng(99);
    for (unsigned q = 0; q < 40; ++q) {
      const auto u = random_query(c.dim, 1000 + q);
      const float offset = q % 3 == 0 ? 0.0f : (q % 3 == 1 ? 3.5f : -1e3f);
      const int k = q % 4 == 0 ? 1 : (q % 4 == 1 ? 10 : (q % 4 == 2 ? 50 : 200));
      std::vector<std::uint8_t> skip(c.n, 0);
      const bool masked = q % 2 == 1;
      if (masked)
        for (std::size_t i = 0; i < c.n; i += 1 + rng() % 7) skip[i] = 1;
      NormIndex::Stats st;
      INFO("n " << c.n << " dim " << c.dim << " query " << q << " k " << k);
      require_same(index.top_k(V, u.data(), offset, k, masked ? skip.data() : nullptr, scratch.data(), &st),
                   oracle(V, u.data(), offset, k, masked ? skip.data() : nullptr));
      scored += st.scored;
      ++queries;
    }
    if (c.spread >= 2.5) CHECK(scored < queries * c.n / 2);  // the bound did prune (no pruning: n each)
  }
}

TEST_CASE("NormIndex breaks ties by index like select_top_k") {
  // Many identical rows (equal scores) and a zero query (every score equals the offset).
  Matrix V = random_items(400, 16, 1.0, 3);
  for (Eigen::Index i = 0; i < V.rows(); i += 3) V.row(i) = V.row(7);
  const NormIndex index(V);
  std::vector<float> scratch(400);
  for (const auto& u : {random_query(16, 5), std::vector<float>(16, 0.0f)}) {
    for (int k : {1, 5, 40, 399, 400, 1000}) {
      INFO("k " << k);
      require_same(index.top_k(V, u.data(), 1.0f, k, nullptr, scratch.data()), oracle(V, u.data(), 1.0f, k, nullptr));
    }
  }
}

TEST_CASE("NormIndex edge cases: empty, tiny, k = 0, wrong shape") {
  const Matrix empty(0, 4);
  const NormIndex e(empty);
  std::vector<float> u(4, 1.0f), scratch(8);
  CHECK(e.top_k(empty, u.data(), 0.0f, 10, nullptr, scratch.data()).empty());
  const Matrix V = random_items(3, 4, 1.0, 1);
  const NormIndex index(V);
  require_same(index.top_k(V, u.data(), 0.0f, 10, nullptr, scratch.data()), oracle(V, u.data(), 0.0f, 10, nullptr));
  CHECK(index.top_k(V, u.data(), 0.0f, 0, nullptr, scratch.data()).empty());
  const std::uint8_t all[3] = {1, 1, 1};
  CHECK(index.top_k(V, u.data(), 0.0f, 2, all, scratch.data()).empty());
  const Matrix other = random_items(4, 4, 1.0, 1);
  CHECK_THROWS_WITH(index.top_k(other, u.data(), 0.0f, 2, nullptr, scratch.data()),
                    Catch::Contains("item index is out of date"));
}

TEST_CASE("NormIndex int8: pruned short list equals the int8 full scan's, f32 scores, high overlap") {
  const std::size_t n = 6000, dim = 64;
  const Matrix V = random_items(n, dim, 2.5, 21);
  const NormIndex i8(V, NormIndex::Precision::int8);
  const NormIndex f32(V);
  CHECK(i8.precision() == NormIndex::Precision::int8);
  CHECK(i8.bytes() > f32.bytes());
  // The oracle of the int8 flavour: scan every code, keep k + k/2 + 2, re-score in f32.
  const std::size_t stride = 64;
  std::vector<std::int8_t> Q(n * stride);
  std::vector<float> scale(n), scratch(n), approx(n);
  kernels::quantize_rows_int8(V.data(), n, dim, stride, Q.data(), scale.data());
  double overlap = 0;
  std::size_t scored = 0;
  const int k = 10, queries = 60;
  for (int q = 0; q < queries; ++q) {
    const auto u = random_query(dim, 500 + q);
    std::vector<std::int16_t> uq(stride);
    const float us = kernels::quantize_query_int16(u.data(), dim, stride, uq.data());
    kernels::score_all_int8(uq.data(), us, Q.data(), scale.data(), n, stride, 0.5f, approx.data());
    std::vector<TopK> want;
    for (const auto& t : select_top_k(approx.data(), n, k + k / 8 + 2, nullptr)) {
      float s;
      kernels::score_all(u.data(), V.data() + t.item * dim, 1, dim, 0.5f, &s);
      want.push_back({t.item, s});
    }
    std::sort(want.begin(), want.end(), better);
    want.resize(k);
    NormIndex::Stats st;
    const auto got = i8.top_k(V, u.data(), 0.5f, k, nullptr, scratch.data(), &st);
    INFO("query " << q);
    require_same(got, want);
    scored += st.scored;
    std::set<index_t> exact;
    for (const auto& t : f32.top_k(V, u.data(), 0.5f, k, nullptr, scratch.data())) exact.insert(t.item);
    for (const auto& t : got) overlap += exact.count(t.item);
  }
  CHECK(overlap / (k * queries) >= 0.99);
  CHECK(scored < queries * n / 4);
}

TEST_CASE("Model::top_k and top_k_new equal select_top_k over score() for every kind") {
  SyntheticOptions o;
  o.users = 200;
  o.items = 1500;
  o.interactions = 12000;
  o.seed = 8;
  const auto data = generate_synthetic(o).data;
  for (ModelKind kind : {ModelKind::popularity, ModelKind::baseline, ModelKind::svd, ModelKind::ials,
                         ModelKind::bpr, ModelKind::itemknn}) {
    auto m = make_model(kind);
    Hyper h;
    h.factors = 16;
    h.epochs = 4;
    h.seed = 2;
    auto backend = make_cpu_backend();
    m->fit(data, h, *backend);
    std::vector<float> scores(m->n_items()), scratch(m->n_items());
    for (index_t u = 0; u < m->n_users(); u += 7) {
      INFO(kind_name(kind) << " user " << u);
      std::vector<std::uint8_t> skip(m->n_items(), 0);
      for (const auto& x : m->history(u)) skip[x.item] = 1;
      m->score(u, scores.data());
      require_same(m->top_k(u, 10, skip.data(), scratch.data()), select_top_k(scores.data(), m->n_items(), 10, skip.data()));
      const auto hist = m->history(u);
      const std::vector<ItemValue> some(hist.begin(), hist.begin() + std::min<std::size_t>(hist.size(), 5));
      m->score_new(some, scores.data());
      require_same(m->top_k_new(some, 10, nullptr, scratch.data()), select_top_k(scores.data(), m->n_items(), 10));
    }
  }
}

TEST_CASE("NormIndex never prunes on overflowing scores (item norms near 1e20)") {
  // The reader accepts any finite float, so a model can hold rows whose scores overflow to +inf.
  // 40 rows of norm 2e20 along the query come first in the visit, then row 5 (norm 1.5e20):
  // all of them score +inf, and the tie goes to the lowest index, row 5. Pruning against the
  // infinite k-th score after the first block returned row 100 instead.
  const std::size_t n = 2000, dim = 8;
  Matrix V = random_items(n, dim, 1.0, 5);
  for (Eigen::Index i = 100; i < 140; ++i) {
    V.row(i).setZero();
    V(i, 0) = 2e20f;
  }
  V.row(5).setZero();
  V(5, 0) = 1.5e20f;
  std::vector<float> u(dim, 0.0f), scratch(n);
  u[0] = 1e20f;
  for (int k : {1, 3, 41, 45}) {
    INFO("k " << k);
    const auto want = oracle(V, u.data(), 0.0f, k, nullptr);
    REQUIRE(want.front().item == 5);
    REQUIRE(std::isinf(want.front().score));
    require_same(NormIndex(V).top_k(V, u.data(), 0.0f, k, nullptr, scratch.data()), want);
    // The int8 flavour ranks by approximate scores that overflow the same way.
    const auto got = NormIndex(V, NormIndex::Precision::int8).top_k(V, u.data(), 0.0f, k, nullptr, scratch.data());
    REQUIRE(!got.empty());
    CHECK(got.front().item == 5);
  }
  // A finite k-th score and bounds beyond FLT_MAX: rows of norm 1e30 pointing away from the
  // query score -inf; nothing may be pruned against a bound that is not a finite float.
  Matrix W = random_items(n, dim, 1.0, 6);
  for (Eigen::Index i = 0; i < 300; ++i) {
    W.row(i).setZero();
    W(i, 0) = -1e30f;
  }
  std::vector<float> q(dim, 0.0f);
  q[0] = 1e20f;
  q[1] = 1.0f;
  for (int k : {1, 10}) require_same(NormIndex(W).top_k(W, q.data(), 0.0f, k, nullptr, scratch.data()), oracle(W, q.data(), 0.0f, k, nullptr));
}

TEST_CASE("k is clamped to the catalogue") {
  const Matrix V = random_items(50, 8, 1.0, 7);
  const auto u = random_query(8, 8);
  std::vector<float> scores(50), scratch(50);
  kernels::score_all(u.data(), V.data(), 50, 8, 0.0f, scores.data());
  // A k this large would reserve 16 GiB of heap entries if it were not clamped.
  const int huge = std::numeric_limits<int>::max();
  const auto all = select_top_k(scores.data(), 50, huge);
  REQUIRE(all.size() == 50);
  require_same(all, select_top_k(scores.data(), 50, 50));
  for (const auto p : {NormIndex::Precision::f32, NormIndex::Precision::int8}) {
    const auto got = NormIndex(V, p).top_k(V, u.data(), 0.0f, huge, nullptr, scratch.data());
    REQUIRE(got.size() == 50);
    if (p == NormIndex::Precision::f32) require_same(got, all);
  }
  CHECK(select_top_k(scores.data(), 0, huge).empty());
}

namespace {

NormIndex::Sample sample_of(std::size_t dim, std::size_t m, unsigned seed) {
  NormIndex::Sample s;
  for (std::size_t j = 0; j < m; ++j) {
    const auto q = random_query(dim, seed + static_cast<unsigned>(j));
    s.queries.insert(s.queries.end(), q.begin(), q.end());
  }
  s.offsets.assign(m, 0.5f);
  s.source = "test queries";
  return s;
}

}  // namespace

TEST_CASE("NormIndex chooses the visit only where the sample says it pays; every mode gives the same items") {
  const std::size_t n = 4000, dim = 32;
  for (const double spread : {2.5, 0.0}) {
    INFO("spread " << spread);
    const Matrix V = random_items(n, dim, spread, 31);
    const auto sample = sample_of(dim, 40, 4000);
    const NormIndex index(V, NormIndex::Precision::f32, &sample);
    const auto& c = index.choice();
    CHECK(std::string(c.source) == "test queries");
    if (spread > 0) {
      // Long rows hold the best scores: the visit stops early on every sample query.
      CHECK(c.visit);
      CHECK(c.queries == 40);
      CHECK(c.scored < 0.1);
      CHECK(c.cost == Approx(2.0 * c.scored));
    } else {
      // Equal norms: the visit gives up on every query (share 1, cost 1 + 2 * a quarter); the
      // run stops as soon as the mean cost can no longer be under half a scan.
      CHECK_FALSE(c.visit);
      CHECK(c.scored == 1.0);
      CHECK(c.cost > 1.4);
      CHECK(c.queries < 40);
    }
    // Deterministic: the same sample makes the same choice.
    const NormIndex again(V, NormIndex::Precision::f32, &sample);
    CHECK(again.choice().visit == c.visit);
    CHECK(again.choice().queries == c.queries);
    CHECK(again.choice().cost == c.cost);

    std::vector<float> scratch(n);
    for (unsigned q = 0; q < 12; ++q) {
      const auto u = random_query(dim, 77 + q);
      const int k = q % 3 == 0 ? 1 : 10;
      const auto want = oracle(V, u.data(), 0.5f, k, nullptr);
      NormIndex::Stats st;
      require_same(index.top_k(V, u.data(), 0.5f, k, nullptr, scratch.data(), &st), want);
      CHECK(st.scanned == !c.visit);
      if (!c.visit) CHECK(st.scored == n);
      require_same(index.top_k(V, u.data(), 0.5f, k, nullptr, scratch.data(), &st, NormIndex::Mode::scan), want);
      CHECK(st.scanned);
      CHECK(st.full_scan);
      CHECK(st.scored == n);
      require_same(index.top_k(V, u.data(), 0.5f, k, nullptr, scratch.data(), &st, NormIndex::Mode::visit), want);
      CHECK_FALSE(st.scanned);
      if (spread > 0) CHECK(st.scored < n / 4);
    }
  }
  // No sample: the visit (the index's own behaviour); an empty sample: no evidence, scan.
  const Matrix V = random_items(500, 8, 2.5, 3);
  CHECK(NormIndex(V).choice().visit);
  const NormIndex::Sample empty;
  CHECK_FALSE(NormIndex(V, NormIndex::Precision::f32, &empty).choice().visit);
  // Skip lists are honoured; a sample that does not fit is read as far as it goes (queries
  // with both a vector and an offset, skip lists within `skip`, items within the catalogue).
  auto skipped = sample_of(8, 4, 9);
  skipped.skip = {0, 1, 2, 499, 7};
  skipped.skip_end = {3, 3, 4, 5};
  CHECK(NormIndex(V, NormIndex::Precision::f32, &skipped).choice().queries == 4);
  auto odd = skipped;
  odd.skip_end = {3, 9};
  odd.skip.push_back(100000);
  odd.offsets.resize(3);
  const auto c3 = NormIndex(V, NormIndex::Precision::f32, &odd).choice();
  CHECK(c3.queries <= 3);
  CHECK(c3.queries > 0);
  odd.queries.resize(8 * 2 + 5);
  CHECK(NormIndex(V, NormIndex::Precision::f32, &odd).choice().queries <= 2);
  // The int8 flavour reads its codes in visit order, never worse than a scan: no choice.
  CHECK(NormIndex(V, NormIndex::Precision::int8, &skipped).choice().queries == 0);
}

TEST_CASE("quantisers: zero, subnormal and tiny rows get scale 0 and codes 0; huge rows stay finite") {
  const float fmin = std::numeric_limits<float>::min();
  const float denorm = std::numeric_limits<float>::denorm_min();
  const float fmax = std::numeric_limits<float>::max();
  // One row per case, 5 wide, stride 8.
  const std::vector<std::vector<float>> rows = {
      {0, 0, 0, 0, 0},
      {denorm, 0, -denorm, 0, 0},             // 127 / max is inf: 0 * inf was NaN
      {1e-40f, -3e-41f, 0, 2e-39f, 0},        // subnormal max
      {1e-37f, 0, -5e-38f, 0, 1e-38f},        // normal, but the scale would be subnormal
      {200 * fmin, -100 * fmin, 0, fmin, 0},  // just above: quantised as usual
      {fmax, -fmax, fmax / 2, 0, 1.0f},       // the largest finite floats
      {1e30f, 1e-40f, -1e-30f, 0, 3.0f},
  };
  const std::size_t dim = 5, stride = 8, n = rows.size();
  std::vector<float> V;
  for (const auto& r : rows) V.insert(V.end(), r.begin(), r.end());
  std::vector<std::int8_t> Q(n * stride, 99);
  std::vector<float> scale(n, -1.0f);
  kernels::quantize_rows_int8(V.data(), n, dim, stride, Q.data(), scale.data());
  for (std::size_t i = 0; i < n; ++i) {
    INFO("row " << i);
    float m = 0;
    for (float x : rows[i]) m = std::max(m, std::fabs(x));
    CHECK(std::isfinite(scale[i]));
    for (std::size_t d = 0; d < stride; ++d) CHECK(std::abs(int{Q[i * stride + d]}) <= 127);
    for (std::size_t d = dim; d < stride; ++d) CHECK(Q[i * stride + d] == 0);
    if (m < 127 * fmin) {
      CHECK(scale[i] == 0.0f);
      for (std::size_t d = 0; d < dim; ++d) CHECK(Q[i * stride + d] == 0);
    } else {
      // m / 127, or a step or two below where scale * 127 would overflow.
      CHECK(scale[i] <= m / 127.0f);
      CHECK(scale[i] >= m / 127.0f * (1 - 0x1p-21f));
      CHECK(scale[i] * 127.0f <= fmax);
      for (std::size_t d = 0; d < dim; ++d) {
        const double back = double(scale[i]) * Q[i * stride + d];
        CHECK(std::fabs(back - rows[i][d]) <= 0.5 * double(scale[i]) * 1.0001);
      }
    }
  }
  // The query quantiser: the same rule with its own largest code.
  for (const auto& r : rows) {
    std::vector<std::int16_t> uq(stride, 99);
    const float us = kernels::quantize_query_int16(r.data(), dim, stride, uq.data());
    float m = 0;
    for (float x : r) m = std::max(m, std::fabs(x));
    INFO("query max " << m);
    CHECK(std::isfinite(us));
    std::int32_t largest = 0;
    for (auto c : uq) largest = std::max<std::int32_t>(largest, std::abs(int{c}));
    if (m < 32767 * fmin) {
      CHECK(us == 0.0f);
      CHECK(largest == 0);
    } else {
      CHECK(us > 0.0f);
      CHECK(largest > 0);
    }
  }
}

namespace {

// The choice's cost model applied to every known user's served query (seen items skipped,
// k = 10, the visit forced), against the choice the model made from its sample. Returns the
// population's mean cost.
double population_cost(const Model& m) {
  const NormIndex* index = m.serving_index();
  REQUIRE(index);
  const auto& e = *m.embeddings();
  const std::size_t n = m.n_items();
  std::vector<float> scratch(n);
  std::vector<std::uint8_t> skip(n);
  double cost = 0;
  for (index_t u = 0; u < m.n_users(); ++u) {
    std::fill(skip.begin(), skip.end(), std::uint8_t{0});
    for (const auto& x : m.history(u)) skip[x.item] = 1;
    NormIndex::Stats st;
    index->top_k(e.V, e.U.row(u).data(), e.user_offset[u], 10, skip.data(), scratch.data(), &st, NormIndex::Mode::visit);
    cost += st.full_scan ? 1.0 + NormIndex::kVisitedItemCost / 4 : NormIndex::kVisitedItemCost * double(st.scored) / double(n);
  }
  return cost / m.n_users();
}

void check_choice(const Model& m, bool expect_visit) {
  const auto& c = m.serving_index()->choice();
  const double pop = population_cost(m);
  INFO(kind_name(m.kind()) << ": choice visit " << c.visit << " from " << c.queries << " " << c.source
                           << ", sample cost " << c.cost << ", all users' cost " << pop);
  CHECK(std::string(c.source) == "known users");
  CHECK(c.visit == expect_visit);
  // The sample stands for the population: both sides of the threshold agree.
  CHECK((pop <= NormIndex::kMaxVisitCost) == expect_visit);
  // Served queries say what was done.
  std::vector<float> scratch(m.n_items());
  NormIndex::Stats st;
  m.top_k(0, 10, nullptr, scratch.data(), &st);
  CHECK(st.scanned == !expect_visit);
}

}  // namespace

TEST_CASE("serving_index: models choose from their own queries; stripped models from fold-ins") {
  SyntheticOptions o;
  o.users = 300;
  o.items = 4000;
  o.interactions = 30000;
  o.seed = 8;
  const auto data = generate_synthetic(o).data;
  auto backend = make_cpu_backend();
  Hyper h;
  h.factors = 16;
  h.epochs = 4;
  h.seed = 2;
  // Popularity scores by one column of non-negative lengths: the visit stops after one block.
  auto pop = make_model(ModelKind::popularity);
  pop->fit(data, h, *backend);
  check_choice(*pop, true);
  CHECK(pop->serving_index()->choice().scored < 0.05);
  auto knn = make_model(ModelKind::itemknn);
  knn->fit(data, h, *backend);
  CHECK(knn->serving_index() == nullptr);

  for (ModelKind kind : {ModelKind::ials, ModelKind::svd}) {
    auto m = make_model(kind);
    m->fit(data, h, *backend);
    const auto& c = m->serving_index()->choice();
    INFO(kind_name(kind) << " sample cost " << c.cost);
    CHECK(c.queries > 0);
    // Whichever it is, the sample agrees with all users.
    check_choice(*m, c.visit);
    // Stripped, the model serves new users only: the choice comes from fold-ins, and top_k_new
    // is still exact.
    const auto history = m->history(3);
    m->drop_users();
    const auto& s = m->serving_index()->choice();
    CHECK(std::string(s.source) == "fold-ins of popularity-drawn histories");
    CHECK(s.queries > 0);
    std::vector<float> scores(m->n_items()), scratch(m->n_items());
    m->score_new(history, scores.data());
    require_same(m->top_k_new(history, 10, nullptr, scratch.data()), select_top_k(scores.data(), m->n_items(), 10));
  }
}

TEST_CASE("serving_index on MovieLens 100K: iALS and SVD with defaults scan, as the visit would cost more",
          "[data][realdata]") {
  const std::string path = test::shared_data("ml-100k/u.data");
  EDGEREC_SKIP_IF_NO_DATA(path, "ml-100k/u.data");
  const auto data = load_interactions(path);
  auto backend = make_cpu_backend();
  for (ModelKind kind : {ModelKind::ials, ModelKind::svd}) {
    auto m = make_model(kind);
    m->fit(data, Hyper{}, *backend);
    check_choice(*m, false);
    m->drop_users();
    CHECK_FALSE(m->serving_index()->choice().visit);
  }
}
