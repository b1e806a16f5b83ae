// Exact top-K by norm-bounded visits (NormIndex) against the plain oracle: score every item with
// kernels::score_all(), then select_top_k(). Items and scores must agree bit for bit.
#include <algorithm>
#include <cmath>
#include <cstring>
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
