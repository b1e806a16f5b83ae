// The wasm build's own arithmetic, compiled to wasm and run under Node (tools/build-wasm.sh builds
// it into build-wasm/bin/edgerec_wasm_tests.js; tools/test.sh runs it):
//  - kernels::gemm (the wasm SIMD128 kernel) against a double-precision product (tolerance) and
//    against the reference loop's summation order (bit for bit), for every transpose, padded
//    strides, alpha/beta, beta = 0 over NaN, k = 0 and every edge of its 4 x 8 blocking;
//  - the CPU backend the browser runs (make_cpu_backend, whose f32 gemm is that kernel) against
//    the Backend base class's reference loop, bit for bit, batched and unbatched;
//  - the tensor operations of a forward pass (gather, add and mul with a bias row, layer norm,
//    softmax and log-softmax with causal and padding masks, activations, permute) against plain
//    double-precision formulas, so a wasm-only
//    miscompilation or a change to those entries shows here too.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "edgerec/backend.hpp"
#include "edgerec/kernels.hpp"
#include "edgerec/split.hpp"

using namespace edgerec;

namespace {

std::vector<float> randu(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(2.0 * rng.uniform() - 1.0);
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// The Backend base class alone: every tensor operation is the serial reference loop.
class Reference final : public Backend {
 public:
  std::string name() const override { return "reference"; }
};

}  // namespace

TEST_CASE("wasm gemm kernel: every shape edge, transpose, stride, alpha and beta", "[wasm][gemm]") {
  CHECK(std::string(kernels::gemm_flavour()) == "wasm-simd128");
  const std::size_t sizes[] = {1, 3, 4, 5, 8, 9, 17, 50, 64};
  std::size_t cases = 0;
  for (std::size_t m : sizes)
    for (std::size_t n : sizes)
      for (std::size_t k : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{17}, std::size_t{64}})
        for (int t = 0; t < 4; ++t) {
          const bool ta = t & 1, tb = t & 2;
          // beta cycles through 0 (over NaN), 1 and -0.5 across the cases.
          const float beta = (m + n + k + t) % 3 == 0 ? 0.0f : ((m + n + k + t) % 3 == 1 ? 1.0f : -0.5f);
          const float alpha = t == 3 ? -1.25f : 0.75f;
          INFO("m " << m << " n " << n << " k " << k << " ta " << ta << " tb " << tb << " beta " << beta);
          // Stored shapes, each row padded by 3 floats (which must stay untouched).
          const std::size_t ar = ta ? k : m, ac = ta ? m : k;
          const std::size_t br = tb ? n : k, bc = tb ? k : n;
          const std::size_t lda = ac + 3, ldb = bc + 3, ldc = n + 3;
          const auto A = randu(std::max<std::size_t>(1, ar * lda), 1 + m + 7 * t + 31 * k);
          const auto B = randu(std::max<std::size_t>(1, br * ldb), 2 + n + 7 * t + 31 * k);
          auto C = randu(m * ldc, 3 + k + m * n);
          if (beta == 0.0f)
            for (std::size_t i = 0; i < m; ++i)
              for (std::size_t j = 0; j < n; ++j) C[i * ldc + j] = std::numeric_limits<float>::quiet_NaN();
          const auto C0 = C;
          kernels::gemm(ta, tb, m, n, k, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
          // The reference loop's arithmetic (Backend::gemm): f32 sum over p in order, then
          // alpha * acc (+ beta * C).
          auto want = C0;
          double worst = 0;
          for (std::size_t i = 0; i < m; ++i)
            for (std::size_t j = 0; j < n; ++j) {
              float acc = 0;
              double exact = 0, mag = 0;
              for (std::size_t p = 0; p < k; ++p) {
                const float a = ta ? A[p * lda + i] : A[i * lda + p];
                const float b = tb ? B[j * ldb + p] : B[p * ldb + j];
                const float prod = a * b;
                acc = acc + prod;
                exact += double(a) * double(b);
                mag += std::abs(double(a) * double(b));
              }
              float& w = want[i * ldc + j];
              const double old = beta == 0.0f ? 0.0 : double(beta) * double(w);
              w = beta == 0.0f ? alpha * acc : alpha * acc + beta * w;
              const double err = std::abs(double(C[i * ldc + j]) - (double(alpha) * exact + old)) /
                                 (1e-6 + std::abs(double(alpha)) * mag + std::abs(old));
              worst = std::max(worst, std::isnan(err) ? 1e9 : err);
            }
          CHECK(worst < 1e-5);
          CHECK(same_bits(C, want));  // the padding columns included: left alone
          ++cases;
        }
  CHECK(cases == 9 * 9 * 5 * 4);
}

TEST_CASE("wasm cpu backend: f32 gemm gives the reference loop's bits, batched and shared", "[wasm][gemm]") {
  auto cpu = make_cpu_backend();
  Reference ref;
  struct Case {
    Shape a, b, c;
    bool ta, tb;
    double alpha, beta;
  };
  const Case cases[] = {
      {Shape{50, 64}, Shape{64, 64}, Shape{50, 64}, false, true, 1.0, 0.0},     // Linear: x W'
      {Shape{50, 64}, Shape{64, 256}, Shape{50, 256}, false, false, 1.0, 0.0},  // x W
      {Shape{2, 50, 32}, Shape{2, 50, 32}, Shape{2, 50, 50}, false, true, 0.17677669529663687, 0.0},  // q k'
      {Shape{2, 50, 50}, Shape{2, 50, 32}, Shape{2, 50, 32}, false, false, 1.0, 0.0},               // p v
      {Shape{17, 3}, Shape{3, 17, 5}, Shape{3, 3, 5}, true, false, 0.5, -1.5},  // shared A, batched B
      {Shape{3, 17, 3}, Shape{5, 17}, Shape{3, 3, 5}, true, true, 2.0, 1.0},    // batched A, shared B
      {Shape{1, 1}, Shape{1, 1}, Shape{1, 1}, false, false, 1.0, 0.0},
      {Shape{3, 1, 1}, Shape{3, 1, 1}, Shape{3, 1, 1}, true, true, -1.0, 0.25},
      {Shape{4, 5}, Shape{5, 6}, Shape{4, 6}, false, false, 1.0, 1e-50},  // beta 0 in f32 only
  };
  for (const Case& cs : cases) {
    INFO("a " << cs.a.str() << " b " << cs.b.str() << " c " << cs.c.str() << " ta " << cs.ta << " tb " << cs.tb);
    std::vector<float> c_bits[2];
    Backend* backends[2] = {cpu.get(), &ref};
    for (int w = 0; w < 2; ++w) {
      Backend& be = *backends[w];
      const Tensor a = make_tensor(be, cs.a, randu(cs.a.numel(), 11));
      const Tensor b = make_tensor(be, cs.b, randu(cs.b.numel(), 12));
      const Tensor c = make_tensor(be, cs.c, randu(cs.c.numel(), 13));
      be.gemm(cs.ta, cs.tb, cs.alpha, a, b, cs.beta, c);
      c_bits[w] = to_vector<float>(be, c);
    }
    CHECK(same_bits(c_bits[0], c_bits[1]));
  }
  // Shape errors are still reported by the shape rule, before anything is written.
  const Tensor a = make_tensor(*cpu, Shape{3, 2}, randu(6, 1));
  const Tensor bad = make_tensor(*cpu, Shape{3, 3}, randu(9, 2));
  const auto before = to_vector<float>(*cpu, bad);
  CHECK_THROWS_WITH(cpu->gemm(false, false, 1.0, a, a, 0.0, bad), Catch::Contains("gemm") && Catch::Contains("[3, 2]"));
  CHECK(same_bits(to_vector<float>(*cpu, bad), before));
}

TEST_CASE("wasm cpu backend: the other operations of a forward pass", "[wasm][ops]") {
  auto cpu = make_cpu_backend();
  Backend& be = *cpu;
  const std::size_t T = 50, D = 64;
  const auto xv = randu(T * D, 21);
  const Tensor x = make_tensor(be, Shape{1, std::int64_t(T), std::int64_t(D)}, xv);

  // gather_rows with padding (-1).
  const auto table_v = randu(7 * D, 22);
  const Tensor table = make_tensor(be, Shape{7, std::int64_t(D)}, table_v);
  const std::vector<std::int32_t> idx = {3, -1, 0, 6, 3};
  Tensor g = be.alloc(Shape{5, std::int64_t(D)}, DType::f32);
  be.gather_rows(table, make_tensor(be, Shape{5}, idx), g);
  const auto gv = to_vector<float>(be, g);
  for (std::size_t r = 0; r < idx.size(); ++r)
    for (std::size_t j = 0; j < D; ++j)
      CHECK(gv[r * D + j] == (idx[r] < 0 ? 0.0f : table_v[std::size_t(idx[r]) * D + j]));

  // add with a broadcast bias row, alpha and beta.
  const auto bias_v = randu(D, 23);
  Tensor sum = be.alloc(x.shape(), DType::f32);
  be.add(x, make_tensor(be, Shape{std::int64_t(D)}, bias_v), sum, 0.5, 2.0);
  const auto sv = to_vector<float>(be, sum);
  for (std::size_t i = 0; i < T * D; ++i) CHECK(sv[i] == 0.5f * xv[i] + 2.0f * bias_v[i % D]);

  // layer norm against the double formula.
  const auto gamma_v = randu(D, 24), beta_v = randu(D, 25);
  Tensor y = be.alloc(x.shape(), DType::f32), mean = be.alloc(Shape{std::int64_t(T)}, DType::f32),
         rstd = be.alloc(Shape{std::int64_t(T)}, DType::f32);
  be.layer_norm(x, make_tensor(be, Shape{std::int64_t(D)}, gamma_v), make_tensor(be, Shape{std::int64_t(D)}, beta_v),
                1e-8, y, mean, rstd);
  const auto yv = to_vector<float>(be, y);
  double worst = 0;
  for (std::size_t r = 0; r < T; ++r) {
    double mu = 0, var = 0;
    for (std::size_t j = 0; j < D; ++j) mu += xv[r * D + j];
    mu /= D;
    for (std::size_t j = 0; j < D; ++j) var += (xv[r * D + j] - mu) * (xv[r * D + j] - mu);
    var /= D;
    for (std::size_t j = 0; j < D; ++j) {
      const double want = (xv[r * D + j] - mu) / std::sqrt(var + 1e-8) * gamma_v[j] + beta_v[j];
      worst = std::max(worst, std::abs(yv[r * D + j] - want));
    }
  }
  CHECK(worst < 1e-5);

  // causal softmax over [heads, T, T] scores.
  const std::size_t H = 2;
  const auto s_v = randu(H * T * T, 26);
  const Tensor scores = make_tensor(be, Shape{std::int64_t(H), std::int64_t(T), std::int64_t(T)}, s_v);
  Tensor p = be.alloc(scores.shape(), DType::f32);
  SoftmaxMask mask;
  mask.causal = true;
  be.softmax(scores, p, false, mask);
  const auto pv = to_vector<float>(be, p);
  worst = 0;
  for (std::size_t r = 0; r < H * T; ++r) {
    const std::size_t q = r % T;
    double z = 0;
    for (std::size_t j = 0; j <= q; ++j) z += std::exp(double(s_v[r * T + j]));
    for (std::size_t j = 0; j < T; ++j) {
      const double want = j > q ? 0.0 : std::exp(double(s_v[r * T + j])) / z;
      worst = std::max(worst, std::abs(pv[r * T + j] - want));
      if (j > q) CHECK(pv[r * T + j] == 0.0f);
    }
  }
  CHECK(worst < 1e-6);

  // log-softmax without a mask, and softmax with a key padding mask (the general path).
  Tensor lp = be.alloc(scores.shape(), DType::f32);
  be.softmax(scores, lp, true);
  const auto lv = to_vector<float>(be, lp);
  worst = 0;
  for (std::size_t r = 0; r < H * T; ++r) {
    double z = 0;
    for (std::size_t j = 0; j < T; ++j) z += std::exp(double(s_v[r * T + j]));
    for (std::size_t j = 0; j < T; ++j) worst = std::max(worst, std::abs(lv[r * T + j] - (s_v[r * T + j] - std::log(z))));
  }
  CHECK(worst < 1e-5);
  std::vector<std::int32_t> keys(T, 1);
  for (std::size_t j = 0; j < 5; ++j) keys[j] = 0;  // left padding
  SoftmaxMask padded;
  padded.causal = true;
  padded.keys = make_tensor(be, Shape{1, std::int64_t(T)}, keys);
  be.softmax(scores, p, false, padded);
  const auto kv = to_vector<float>(be, p);
  worst = 0;
  for (std::size_t r = 0; r < H * T; ++r) {
    const std::size_t q = r % T;
    double z = 0;
    for (std::size_t j = 5; j <= q; ++j) z += std::exp(double(s_v[r * T + j]));
    for (std::size_t j = 0; j < T; ++j) {
      const double want = (j < 5 || j > q) ? 0.0 : std::exp(double(s_v[r * T + j])) / z;
      worst = std::max(worst, std::abs(kv[r * T + j] - want));
    }
  }
  CHECK(worst < 1e-6);

  // mul with a broadcast row.
  Tensor prod = be.alloc(x.shape(), DType::f32);
  be.mul(x, make_tensor(be, Shape{std::int64_t(D)}, bias_v), prod);
  const auto mv = to_vector<float>(be, prod);
  bool products = true;
  for (std::size_t i = 0; i < T * D; ++i) products = products && mv[i] == xv[i] * bias_v[i % D];
  CHECK(products);

  // activations against their double formulas.
  for (Act act : {Act::relu, Act::gelu, Act::sigmoid, Act::tanh}) {
    INFO(act_name(act));
    Tensor out = be.alloc(x.shape(), DType::f32);
    be.activation(act, x, out);
    const auto ov = to_vector<float>(be, out);
    worst = 0;
    for (std::size_t i = 0; i < T * D; ++i) {
      const double v = xv[i];
      const double want = act == Act::relu      ? std::max(v, 0.0)
                          : act == Act::gelu    ? 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)))
                          : act == Act::sigmoid ? 1 / (1 + std::exp(-v))
                                                : std::tanh(v);
      worst = std::max(worst, std::abs(ov[i] - want));
    }
    CHECK(worst < 1e-6);
  }

  // permute [1, T, H, dh] -> [1, H, T, dh] (attention heads).
  const std::size_t dh = D / H;
  Tensor heads = be.alloc(Shape{1, std::int64_t(H), std::int64_t(T), std::int64_t(dh)}, DType::f32);
  be.permute(x.view(Shape{1, std::int64_t(T), std::int64_t(H), std::int64_t(dh)}), {0, 2, 1, 3}, heads);
  const auto hv = to_vector<float>(be, heads);
  bool moved = true;
  for (std::size_t h = 0; h < H; ++h)
    for (std::size_t t = 0; t < T; ++t)
      for (std::size_t d = 0; d < dh; ++d) moved = moved && hv[(h * T + t) * dh + d] == xv[t * D + h * dh + d];
  CHECK(moved);
  // A permutation that moves the last axis (element by element): [T, D] -> [D, T].
  Tensor tr = be.alloc(Shape{std::int64_t(D), std::int64_t(T)}, DType::f32);
  be.permute(x.view(Shape{std::int64_t(T), std::int64_t(D)}), {1, 0, 0, 0}, tr);
  const auto tv = to_vector<float>(be, tr);
  moved = true;
  for (std::size_t t = 0; t < T; ++t)
    for (std::size_t d = 0; d < D; ++d) moved = moved && tv[d * T + t] == xv[t * D + d];
  CHECK(moved);
}
