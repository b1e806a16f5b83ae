// Kernel flavours (core/src/kernels/flavours.hpp): every flavour this CPU runs is checked against
// the portable one, and the public kernels against the flavour chosen for the process.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <vector>

#include "edgerec/kernels.hpp"
#include "edgerec/split.hpp"
#include "backend/train_flavours.hpp"
#include "kernels/flavours.hpp"
#include "kernels/gemm_body.hpp"
#include "test_util.hpp"

using namespace edgerec;
using kernels::KernelTable;

namespace {

std::vector<float> randn(std::size_t n, std::uint64_t seed, float scale = 1.0f) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(rng.normal()) * scale;
  return v;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// Widths with and without leftovers past the SIMD blocks (bias columns make 66).
const std::size_t kDims[] = {1, 3, 4, 7, 8, 9, 13, 16, 17, 31, 64, 66};
const std::size_t kRows[] = {1, 3, 4, 5, 37};

}  // namespace

TEST_CASE("kernel flavours: the process uses one, named by flavour()", "[kernels]") {
  const auto flavours = kernels::available_flavours();
  REQUIRE(!flavours.empty());
  CHECK(std::string(flavours.front()->name) == "generic");
  CHECK(std::string(kernels::flavour()) == kernels::active_flavour().name);
#if defined(__x86_64__) || defined(__i386__)
  const char* env = std::getenv("EDGEREC_KERNELS");
  const bool forced = env && std::string(env) == "generic";
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  CHECK(flavours.size() == (avx2 ? 2u : 1u));
  CHECK(std::string(kernels::flavour()) == (avx2 && !forced ? "avx2-fma" : "generic"));
#endif
}

TEST_CASE("kernel flavours: score_rows is bit-identical to score_all in every flavour", "[kernels]") {
  for (const KernelTable* f : kernels::available_flavours()) {
    INFO("flavour " << f->name);
    for (std::size_t dim : kDims) {
      for (std::size_t n : kRows) {
        INFO("dim " << dim << " rows " << n);
        const auto V = randn(n * dim, 10 + dim * 100 + n);
        const auto u = randn(dim, 3 + dim);
        std::vector<float> all(n), some(n);
        f->score_all(u.data(), V.data(), n, dim, 0.25f, all.data());
        // Every row, in reverse order and in groups of every size the kernels block by.
        std::vector<std::uint32_t> rows(n);
        for (std::size_t j = 0; j < n; ++j) rows[j] = static_cast<std::uint32_t>(n - 1 - j);
        f->score_rows(u.data(), V.data(), dim, rows.data(), n, 0.25f, some.data());
        std::size_t mismatches = 0;
        for (std::size_t j = 0; j < n; ++j) mismatches += !same_bits(some[j], all[rows[j]]);
        for (std::size_t j = 0; j < n; ++j) {
          float one;
          f->score_rows(u.data(), V.data(), dim, &rows[j], 1, 0.25f, &one);
          mismatches += !same_bits(one, all[rows[j]]);
        }
        CHECK(mismatches == 0);
      }
    }
  }
}

TEST_CASE("kernel flavours: f32 scores agree with the portable flavour up to rounding", "[kernels]") {
  const auto flavours = kernels::available_flavours();
  const KernelTable& ref = *flavours.front();
  for (const KernelTable* f : flavours) {
    INFO("flavour " << f->name);
    for (std::size_t dim : kDims) {
      const std::size_t n = 37;
      const auto V = randn(n * dim, 7 + dim);
      const auto u = randn(dim, 8 + dim);
      std::vector<float> a(n), b(n);
      ref.score_all(u.data(), V.data(), n, dim, -1.5f, a.data());
      f->score_all(u.data(), V.data(), n, dim, -1.5f, b.data());
      for (std::size_t i = 0; i < n; ++i) {
        // The stated tolerance: each order's error is at most (dim + 1) eps sum |u_d v_d| (plus
        // the bias), so two orders differ by at most twice that; a wrong kernel is far off.
        double magnitude = 1.5;
        for (std::size_t d = 0; d < dim; ++d) magnitude += std::fabs(double(u[d]) * V[i * dim + d]);
        const double eps = std::numeric_limits<float>::epsilon();
        CHECK(std::fabs(double(a[i]) - b[i]) <= 2.0 * double(dim + 1) * eps * magnitude);
      }
    }
  }
}

TEST_CASE("kernel flavours: int8, quantisers and the scan give the portable results exactly",
          "[kernels]") {
  const auto flavours = kernels::available_flavours();
  const KernelTable& ref = *flavours.front();
  for (const KernelTable* f : flavours) {
    INFO("flavour " << f->name);
    for (std::size_t dim : kDims) {
      INFO("dim " << dim);
      const std::size_t n = 37, stride = (dim + 15) & ~std::size_t{15};
      auto V = randn(n * dim, 20 + dim, 0.3f);
      V[0] = 0.5f;  // exact halves exercise round-half-to-even
      V[dim * (n - 1)] = -2.5f;
      const auto u = randn(dim, 21 + dim);
      std::vector<std::int8_t> Qa(n * stride), Qb(n * stride);
      std::vector<float> sa(n), sb(n);
      ref.quantize_rows_int8(V.data(), n, dim, stride, Qa.data(), sa.data());
      f->quantize_rows_int8(V.data(), n, dim, stride, Qb.data(), sb.data());
      CHECK(Qa == Qb);
      CHECK(std::memcmp(sa.data(), sb.data(), n * sizeof(float)) == 0);
      std::vector<std::int16_t> qa(stride), qb(stride);
      const float ua = ref.quantize_query_int16(u.data(), dim, stride, qa.data());
      const float ub = f->quantize_query_int16(u.data(), dim, stride, qb.data());
      CHECK(same_bits(ua, ub));
      CHECK(qa == qb);

      std::vector<float> oa(n), ob(n);
      ref.score_all_int8(qa.data(), ua, Qa.data(), sa.data(), n, stride, 0.5f, oa.data());
      f->score_all_int8(qa.data(), ua, Qa.data(), sa.data(), n, stride, 0.5f, ob.data());
      CHECK(std::memcmp(oa.data(), ob.data(), n * sizeof(float)) == 0);
      std::vector<std::uint32_t> rows{36, 0, 5, 5, 17, 2, 30};
      std::vector<float> ra(rows.size()), rb(rows.size());
      ref.score_rows_int8(qa.data(), ua, Qa.data(), sa.data(), stride, rows.data(), rows.size(), 0.5f, ra.data());
      f->score_rows_int8(qa.data(), ua, Qa.data(), sa.data(), stride, rows.data(), rows.size(), 0.5f, rb.data());
      CHECK(std::memcmp(ra.data(), rb.data(), rows.size() * sizeof(float)) == 0);
      for (std::size_t j = 0; j < rows.size(); ++j) CHECK(same_bits(rb[j], ob[rows[j]]));

      // Dequantisation of an unpadded code matrix, and its -128 detection.
      std::vector<std::int8_t> codes(n * dim);
      for (std::size_t i = 0; i < n; ++i) std::memcpy(&codes[i * dim], &Qa[i * stride], dim);
      std::vector<float> da(n * dim), db(n * dim);
      CHECK(ref.dequantize_rows_int8(codes.data(), sa.data(), n, dim, da.data()) == n * dim);
      CHECK(f->dequantize_rows_int8(codes.data(), sa.data(), n, dim, db.data()) == n * dim);
      CHECK(std::memcmp(da.data(), db.data(), da.size() * sizeof(float)) == 0);
      codes[n * dim - 1] = -128;
      CHECK(f->dequantize_rows_int8(codes.data(), sa.data(), n, dim, db.data()) == n * dim - 1);
    }

    // The scan: every start, thresholds below, between and above the scores, NaN scores.
    const float nan = std::numeric_limits<float>::quiet_NaN();
    auto scores = randn(101, 5);
    scores[40] = nan;
    scores[77] = 9.0f;
    for (float t : {-std::numeric_limits<float>::infinity(), -1.0f, 0.0f, 2.0f, 8.99f, 9.0f, nan})
      for (std::size_t begin = 0; begin <= scores.size(); ++begin) {
        INFO("threshold " << t << " begin " << begin);
        CHECK(f->next_above(scores.data(), begin, scores.size(), t) ==
              ref.next_above(scores.data(), begin, scores.size(), t));
      }
    CHECK(f->next_above(scores.data(), 0, scores.size(), 8.99f) == 77);
  }
}

TEST_CASE("kernel flavours: the public kernels are the active flavour's", "[kernels]") {
  const KernelTable& active = kernels::active_flavour();
  const std::size_t n = 9, dim = 66;
  const auto V = randn(n * dim, 1);
  const auto u = randn(dim, 2);
  std::vector<float> a(n), b(n);
  kernels::score_all(u.data(), V.data(), n, dim, 0.0f, a.data());
  active.score_all(u.data(), V.data(), n, dim, 0.0f, b.data());
  CHECK(std::memcmp(a.data(), b.data(), n * sizeof(float)) == 0);
}

// The training-kernel flavours (backend/train_flavours.hpp) claim the portable flavour's bits:
// the iALS solver at every width it has a vector kernel for and one it has not (plain loops), and
// a BPR epoch at one and two strata.
TEST_CASE("every training-kernel flavour gives the portable flavour's bits", "[kernels][train]") {
  const auto flavours = train_flavours();
  REQUIRE(std::string(flavours.front()->name) == "generic");
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const char* env = std::getenv("EDGEREC_KERNELS");
  const bool forced = env && std::string(env) == "generic";
  CHECK(flavours.size() == 1u + (__builtin_cpu_supports("avx2") ? 1u : 0u) + (__builtin_cpu_supports("avx512f") ? 1u : 0u));
  CHECK(std::string(train_active_flavour().name) ==
        (forced ? "generic" : __builtin_cpu_supports("avx512f") ? "avx512"
                          : __builtin_cpu_supports("avx2")      ? "avx2"
                                                                : "generic"));
#endif
  const index_t rows = 23, cols = 41;
  Csr conf;
  conf.cols = cols;
  Rng rng(7);
  for (index_t r = 0; r < rows; ++r) {
    for (index_t c = 0; c < cols; ++c)
      if (rng.below(3) == 0) {  // some rows stay empty, lengths vary (4-at-a-time tails)
        conf.indices.push_back(c);
        conf.values.push_back(0.5f + static_cast<float>(rng.below(40)));
      }
    conf.indptr.push_back(conf.indices.size());
  }
  const auto same = [](const auto& a, const auto& b) {
    return a.size() == b.size() &&
           std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.size())) == 0;
  };
  auto backend = make_cpu_backend();
  for (int f : {16, 64, 192, 20}) {
    INFO("factors " << f);
    const auto y = randn(static_cast<std::size_t>(cols) * f, 5 + f, 0.3f);
    const Matrix Y = Eigen::Map<const Matrix>(y.data(), cols, f);
    Matrix G = Y.transpose() * Y;
    G.diagonal().array() += 0.1f;
    const auto x0 = randn(static_cast<std::size_t>(rows) * f, 9 + f, 0.1f);
    Matrix ref = Eigen::Map<const Matrix>(x0.data(), rows, f);
    flavours.front()->als_solve_rows(*backend, conf, Y, G, ref, 3);
    CHECK(ref.allFinite());
    CHECK(!same(ref, Matrix(Eigen::Map<const Matrix>(x0.data(), rows, f))));
    for (const TrainFlavour* flavour : flavours) {
      INFO("flavour " << flavour->name);
      Matrix X = Eigen::Map<const Matrix>(x0.data(), rows, f);
      flavour->als_solve_rows(*backend, conf, Y, G, X, 3);
      CHECK(same(X, ref));
    }
  }
  for (int strata : {1, 2}) {
    INFO("strata " << strata);
    // The OpenMP backend is native-only; a serial backend that reports `strata` threads runs
    // the same stratified epoch.
    struct Strata final : Backend {
      int t;
      explicit Strata(int n) : t(n) {}
      std::string name() const override { return "strata"; }
      int threads() const override { return t; }
    } strat(strata);
    const int f = 24;
    const auto p0 = randn(static_cast<std::size_t>(rows) * f, 11, 0.1f);
    const auto q0 = randn(static_cast<std::size_t>(cols) * f, 12, 0.1f);
    Matrix P_ref, Q_ref;
    Vector b_ref;
    double loss_ref = 0;
    for (const TrainFlavour* flavour : flavours) {
      INFO("flavour " << flavour->name);
      Matrix P = Eigen::Map<const Matrix>(p0.data(), rows, f);
      Matrix Q = Eigen::Map<const Matrix>(q0.data(), cols, f);
      Vector b = Vector::Zero(cols);
      BprStep step;
      step.seed = 3;
      double loss = 0;
      for (int e = 0; e < 3; ++e) loss = flavour->bpr_epoch(strat, conf, P, Q, b, step);
      if (flavour == flavours.front()) {
        P_ref = P, Q_ref = Q, b_ref = b, loss_ref = loss;
        CHECK(!same(P, Matrix(Eigen::Map<const Matrix>(p0.data(), rows, f))));
        continue;
      }
      CHECK(same(P, P_ref));
      CHECK(same(Q, Q_ref));
      CHECK(same(b, b_ref));
      CHECK(loss == loss_ref);
    }
  }
}

// kernels::gemm() and each of its flavours against a double-precision product: every transpose
// combination, padded strides, alpha/beta, beta = 0 over NaN, k = 0, and shapes off the blocking.
TEST_CASE("gemm: every flavour computes alpha op(A) op(B) + beta C", "[kernels][gemm]") {
  auto flavours = kernels::gemm_flavours();
  REQUIRE(std::string(flavours.front().name) == "generic");
  const char* env = std::getenv("EDGEREC_KERNELS");
  const bool forced = env && std::string(env) == "generic";
  CHECK(std::string(kernels::gemm_flavour()) == (forced ? "generic" : flavours.back().name));
  flavours.push_back({"public", &kernels::gemm});
  struct Shape {
    std::size_t m, n, k;
  };
  for (const auto& flavour : flavours) {
    INFO("flavour " << flavour.name);
    for (Shape s : {Shape{1, 1, 1}, Shape{7, 5, 3}, Shape{33, 17, 65}, Shape{130, 70, 9}, Shape{4, 6, 0}}) {
      for (int t = 0; t < 4; ++t) {
        const bool ta = t & 1, tb = t & 2;
        for (float beta : {0.0f, 1.0f, -0.5f}) {
          INFO("m " << s.m << " n " << s.n << " k " << s.k << " ta " << ta << " tb " << tb << " beta " << beta);
          // Stored shapes, each row padded by 3 floats.
          const std::size_t ar = ta ? s.k : s.m, ac = ta ? s.m : s.k;
          const std::size_t br = tb ? s.n : s.k, bc = tb ? s.k : s.n;
          const std::size_t lda = ac + 3, ldb = bc + 3, ldc = s.n + 3;
          const auto A = randn(std::max<std::size_t>(1, ar * lda), 1 + s.m + 7 * t);
          const auto B = randn(std::max<std::size_t>(1, br * ldb), 2 + s.n + 7 * t);
          auto C = randn(s.m * ldc, 3 + s.k);
          if (beta == 0.0f) std::fill(C.begin(), C.end(), std::numeric_limits<float>::quiet_NaN());
          const auto C0 = C;
          flavour.fn(ta, tb, s.m, s.n, s.k, 0.75f, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
          double worst = 0;
          for (std::size_t i = 0; i < s.m; ++i)
            for (std::size_t j = 0; j < s.n; ++j) {
              double sum = 0, mag = 0;
              for (std::size_t l = 0; l < s.k; ++l) {
                const double a = ta ? A[l * lda + i] : A[i * lda + l];
                const double b = tb ? B[j * ldb + l] : B[l * ldb + j];
                sum += a * b;
                mag += std::abs(a * b);
              }
              const double old = beta == 0.0f ? 0.0 : beta * double(C0[i * ldc + j]);
              const double want = 0.75 * sum + old;
              const double err = std::abs(C[i * ldc + j] - want) / (1e-6 + mag + std::abs(old));
              worst = std::max(worst, std::isnan(err) ? 1e9 : err);
            }
          CHECK(worst < 1e-5);
          // The padding is left alone.
          for (std::size_t i = 0; i < s.m; ++i)
            for (std::size_t j = s.n; j < ldc; ++j)
              CHECK((std::isnan(C[i * ldc + j]) ? std::isnan(C0[i * ldc + j]) : C[i * ldc + j] == C0[i * ldc + j]));
        }
      }
    }
  }
}
