// The tensor operations of the Backend seam: their documented semantics on the CPU reference,
// and conformance of the other backends to the reference, in f32 and f64, with sizes large
// enough that the OpenMP backend really splits the work over its threads:
//  - OpenMP: bit-exact where backend.hpp says "exact", a tolerance for gemm;
//  - CUDA (a build with -DEDGEREC_CUDA=ON on a machine with a device): the tolerances stated in
//    edgerec/cuda_backend.hpp, per test case below. Without a device the CUDA comparison is
//    skipped with a warning naming why (test_cuda_conformance reports it as a ctest skip).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <functional>

#include "edgerec/cuda_backend.hpp"
#include "edgerec/error.hpp"
#include "edgerec/openmp_backend.hpp"
#include "nn_test_util.hpp"

using namespace edgerec;
using namespace nn_test;

namespace {

// Random floating tensor of either dtype (the same values for the same seed on any backend).
Tensor rnd(Backend& be, DType dtype, const Shape& shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return dtype == DType::f64 ? random_f64(be, shape, seed, lo, hi) : random_f32(be, shape, seed, lo, hi);
}

std::vector<unsigned char> bytes(Backend& be, const Tensor& t) {
  std::vector<unsigned char> out(t.numel() * dtype_size(t.dtype()));
  be.download(t, out.data());
  return out;
}

std::vector<double> as_doubles(Backend& be, const Tensor& t) {
  if (t.dtype() == DType::f64) return to_vector<double>(be, t);
  if (t.dtype() == DType::i32) {
    const auto v = to_vector<std::int32_t>(be, t);
    return std::vector<double>(v.begin(), v.end());
  }
  const auto v = to_vector<float>(be, t);
  return std::vector<double>(v.begin(), v.end());
}

using Op = std::function<std::vector<Tensor>(Backend&, DType)>;

// The backends compared with the reference: OpenMP (3 threads: uneven chunks), and CUDA where
// it can run, each with its tolerance (0: bit for bit).
struct Candidate {
  std::unique_ptr<Backend> backend;
  double tolerance;
};

std::vector<Candidate> candidates(double tolerance, double cuda_tolerance) {
  std::vector<Candidate> out;
  out.push_back({make_openmp_backend(3), tolerance});
  std::string why;
  if (cuda_available(&why))
    out.push_back({make_cuda_backend(), cuda_tolerance});
  else
    WARN("CUDA backend not compared: " << why);
  return out;
}

// Runs `op` on the reference and on each candidate backend and compares every output: bit for
// bit, or within the candidate's tolerance (relative to the largest magnitude; f64 always
// within 1e-12 then).
void conform(const char* name, const Op& op, double tolerance = 0.0, double cuda_tolerance = 0.0) {
  auto reference = make_cpu_backend();
  for (auto& candidate : candidates(tolerance, cuda_tolerance)) {
    Backend& other = *candidate.backend;
    for (DType dtype : {DType::f32, DType::f64}) {
      INFO(name << " " << dtype_name(dtype) << " on " << other.name());
      const std::vector<Tensor> want = op(*reference, dtype);
      const std::vector<Tensor> got = op(other, dtype);
      REQUIRE(want.size() == got.size());
      for (std::size_t i = 0; i < want.size(); ++i) {
        INFO("output " << i);
        REQUIRE(want[i].shape() == got[i].shape());
        const std::vector<double> w = as_doubles(*reference, want[i]);
        // Guard against comparing two zero-filled outputs of an entry that did nothing.
        double scale = 0;
        for (double v : w) scale = std::max(scale, std::abs(v));
        CHECK(scale > 0);
        if (candidate.tolerance == 0.0) {
          CHECK(bytes(*reference, want[i]) == bytes(other, got[i]));
        } else {
          const std::vector<double> g = as_doubles(other, got[i]);
          double worst = 0;
          for (std::size_t j = 0; j < w.size(); ++j) worst = std::max(worst, std::abs(w[j] - g[j]));
          const double tol = (dtype == DType::f64 ? 1e-12 : candidate.tolerance) * scale;
          CHECK(worst <= tol);
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("conformance: gemm, every transpose, batched, shared operands, alpha and beta", "[nn][conformance]") {
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      conform("gemm", [=](Backend& be, DType d) {
        const Tensor a = rnd(be, d, ta ? Shape{70, 90} : Shape{90, 70}, 1);
        const Tensor b = rnd(be, d, tb ? Shape{50, 70} : Shape{70, 50}, 2);
        Tensor c = rnd(be, d, Shape{90, 50}, 3);
        be.gemm(ta, tb, 0.5, a, b, -1.5, c);
        const Tensor a3 = rnd(be, d, ta ? Shape{3, 40, 30} : Shape{3, 30, 40}, 4);
        const Tensor b3 = rnd(be, d, tb ? Shape{3, 20, 40} : Shape{3, 40, 20}, 5);
        const Tensor a2 = rnd(be, d, ta ? Shape{40, 30} : Shape{30, 40}, 6);
        Tensor c3 = be.alloc(Shape{3, 30, 20}, d), c3s = be.alloc(Shape{3, 30, 20}, d);
        be.gemm(ta, tb, 1.0, a3, b3, 0.0, c3);
        be.gemm(ta, tb, 2.0, a2, b3, 0.0, c3s);
        return std::vector<Tensor>{c, c3, c3s};
      }, 1e-5, 1e-5);
    }
}

TEST_CASE("conformance: data movement (copy, fill, permute, gather, scatter-add)", "[nn][conformance]") {
  conform("movement", [](Backend& be, DType d) {
    const Tensor x = rnd(be, d, Shape{6, 40, 5, 30}, 7);
    Tensor p = be.alloc(Shape{5, 6, 30, 40}, d);
    be.permute(x, {2, 0, 3, 1}, p);
    Tensor c = be.alloc(Shape{36000}, d);
    be.copy(x, c);
    Tensor f = be.alloc(Shape{100}, d);
    be.fill(f, 0.25);
    const Tensor table = rnd(be, d, Shape{50, 16}, 8);
    std::vector<std::int32_t> idx(4096);
    Rng rng(9);
    for (auto& v : idx) v = static_cast<std::int32_t>(rng.below(51)) - 1;  // duplicates and -1
    const Tensor index = make_tensor(be, Shape{64, 64}, idx);
    Tensor g = be.alloc(Shape{4096, 16}, d);
    be.gather_rows(table, index, g);
    const Tensor src = rnd(be, d, Shape{4096, 16}, 10);
    Tensor acc = rnd(be, d, Shape{50, 16}, 11);
    be.scatter_add_rows(src, index, acc);
    return std::vector<Tensor>{p, c, f, g, acc};
  });
}

TEST_CASE("conformance: element-wise operations and activations", "[nn][conformance]") {
  conform("element-wise", [](Backend& be, DType d) {
    const Tensor a = rnd(be, d, Shape{256, 160}, 12, -4.0, 4.0);
    const Tensor b = rnd(be, d, Shape{256, 160}, 13);
    const Tensor row = rnd(be, d, Shape{160}, 14);
    std::vector<Tensor> out;
    auto fresh = [&] { return be.alloc(a.shape(), d); };
    out.push_back(fresh());
    be.add(a, b, out.back(), 0.5, -2.0);
    out.push_back(fresh());
    be.add(a, row, out.back());
    out.push_back(fresh());
    be.mul(a, b, out.back());
    out.push_back(fresh());
    be.mul(a, row, out.back());
    out.push_back(fresh());
    be.scale(a, 1.5, -0.5, out.back());
    for (Act act : {Act::relu, Act::sigmoid, Act::tanh, Act::gelu, Act::softplus}) {
      out.push_back(fresh());
      be.activation(act, a, out.back());
      out.push_back(fresh());
      be.activation_backward(act, a, b, out.back());
    }
    Tensor dropped = fresh();
    be.dropout(a, 0.3, 77, dropped);
    out.push_back(dropped);
    return out;
  }, 0.0, 1e-6);  // CUDA: the device's exp/tanh/erf/log1p are within 2 ulp, not correctly rounded
}

TEST_CASE("conformance: softmax, layer norm, reductions", "[nn][conformance]") {
  conform("row-wise", [](Backend& be, DType d) {
    const Tensor x = rnd(be, d, Shape{4, 2, 64, 64}, 15, -3.0, 3.0);
    const Tensor dy = rnd(be, d, Shape{4, 2, 64, 64}, 16);
    std::vector<std::int32_t> k(4 * 64, 1);
    for (int i = 0; i < 20; ++i) k[static_cast<std::size_t>(i * 7)] = 0;
    SoftmaxMask mask;
    mask.causal = true;
    mask.keys = make_tensor(be, Shape{4, 64}, k);
    std::vector<Tensor> out;
    for (int log = 0; log < 2; ++log) {
      Tensor y = be.alloc(x.shape(), d), dx = be.alloc(x.shape(), d);
      be.softmax(x, y, log, mask);
      be.softmax_backward(y, dy, dx, log, mask);
      out.push_back(y);
      out.push_back(dx);
    }
    const Tensor ln_x = x.view(Shape{512, 64});
    const Tensor gamma = rnd(be, d, Shape{64}, 17), beta = rnd(be, d, Shape{64}, 18);
    Tensor y = be.alloc(ln_x.shape(), d), mean = be.alloc(Shape{512}, d), rstd = be.alloc(Shape{512}, d);
    be.layer_norm(ln_x, gamma, beta, 1e-5, y, mean, rstd);
    Tensor dx = be.alloc(ln_x.shape(), d), dg = be.alloc(Shape{64}, d), db = be.alloc(Shape{64}, d);
    be.layer_norm_backward(ln_x, gamma, mean, rstd, dy.view(Shape{512, 64}), dx, dg, db);
    for (const Tensor& t : {y, mean, rstd, dx, dg, db}) out.push_back(t);
    Tensor cols = be.alloc(Shape{64}, d), rows = be.alloc(Shape{512}, d), all = be.alloc(Shape{}, d);
    be.reduce_rows(ln_x, cols);
    be.reduce_cols(ln_x, rows);
    be.reduce_rows(ln_x, all);
    for (const Tensor& t : {cols, rows, all}) out.push_back(t);
    Tensor ss = be.alloc(Shape{1}, DType::f64);
    const double s = be.sum_squares(x);
    be.upload(ss, &s);
    out.push_back(ss);
    return out;
  }, 0.0, 1e-5);  // CUDA: softmax and layer norm sum over a warp's tree, not in column order
}

TEST_CASE("conformance: optimiser updates and top-K", "[nn][conformance]") {
  conform("updates", [](Backend& be, DType d) {
    std::vector<Tensor> out;
    const Tensor g = rnd(be, d, Shape{300, 128}, 19);
    Tensor p1 = rnd(be, d, Shape{300, 128}, 20), vel = be.alloc(Shape{300, 128}, d);
    for (int i = 0; i < 3; ++i) be.sgd_update(p1, g, vel, SgdStep{0.1, 0.9, 0.01});
    for (bool decoupled : {false, true}) {
      Tensor p = rnd(be, d, Shape{300, 128}, 21), m = be.alloc(Shape{300, 128}, d), v = be.alloc(Shape{300, 128}, d);
      for (std::int64_t step = 1; step <= 3; ++step) {
        AdamStep a;
        a.lr = 0.01;
        a.weight_decay = 0.05;
        a.decoupled = decoupled;
        a.step = step;
        be.adam_update(p, g, m, v, a);
      }
      out.push_back(p);
      out.push_back(m);
      out.push_back(v);
    }
    out.push_back(p1);
    out.push_back(vel);
    const Tensor scores = rnd(be, d, Shape{200, 300}, 22);
    Tensor idx = be.alloc(Shape{200, 10}, DType::i32), val = be.alloc(Shape{200, 10}, d);
    be.topk_rows(scores, 10, idx, val);
    out.push_back(idx);
    out.push_back(val);
    return out;
  });
}

// ---- Semantics on the reference, against hand-computed values ----

TEST_CASE("gemm computes alpha op(A) op(B) + beta C", "[nn]") {
  auto be = make_cpu_backend();
  const Tensor a = make_tensor(*be, Shape{2, 3}, std::vector<double>{1, 2, 3, 4, 5, 6});
  const Tensor b = make_tensor(*be, Shape{2, 3}, std::vector<double>{1, 0, -1, 2, 1, 0});
  Tensor c = make_tensor(*be, Shape{2, 2}, std::vector<double>{1, 1, 1, 1});
  be->gemm(false, true, 2.0, a, b, 10.0, c);  // A B' = [[-2, 4], [-2, 13]]
  CHECK(to_vector<double>(*be, c) == std::vector<double>{6, 18, 6, 36});
  Tensor d = be->alloc(Shape{3, 3}, DType::f64);
  be->gemm(true, false, 1.0, a, b, 0.0, d);  // A' B
  CHECK(to_vector<double>(*be, d) == std::vector<double>{9, 4, -1, 12, 5, -2, 15, 6, -3});
  Tensor bad = be->alloc(Shape{3, 2}, DType::f64);
  CHECK_THROWS_WITH(be->gemm(false, true, 1.0, a, b, 0.0, bad), Catch::Contains("gemm") && Catch::Contains("[3, 2]"));
}

TEST_CASE("gather and scatter-add: padding rows, duplicates summed, bad indices rejected", "[nn]") {
  auto be = make_cpu_backend();
  const Tensor table = make_tensor(*be, Shape{3, 2}, std::vector<float>{1, 2, 3, 4, 5, 6});
  const Tensor idx = make_tensor(*be, Shape{4}, std::vector<std::int32_t>{2, -1, 0, 2});
  Tensor out = be->alloc(Shape{4, 2}, DType::f32);
  be->gather_rows(table, idx, out);
  CHECK(to_vector<float>(*be, out) == std::vector<float>{5, 6, 0, 0, 1, 2, 5, 6});
  Tensor acc = be->alloc(Shape{3, 2}, DType::f32);
  const Tensor src = make_tensor(*be, Shape{4, 2}, std::vector<float>{1, 1, 9, 9, 2, 3, 10, 20});
  be->scatter_add_rows(src, idx, acc);
  CHECK(to_vector<float>(*be, acc) == std::vector<float>{2, 3, 0, 0, 11, 21});
  const Tensor bad = make_tensor(*be, Shape{2}, std::vector<std::int32_t>{0, 3});
  Tensor o2 = be->alloc(Shape{2, 2}, DType::f32);
  CHECK_THROWS_WITH(be->gather_rows(table, bad, o2), Catch::Contains("index 3 at position 1"));
  CHECK(to_vector<float>(*be, o2) == std::vector<float>{0, 0, 0, 0});  // nothing written
}

TEST_CASE("softmax: masks, fully masked rows, log-softmax", "[nn]") {
  auto be = make_cpu_backend();
  const Tensor x = make_tensor(*be, Shape{3, 3}, std::vector<double>{1, 2, 3, 1, 2, 3, 1, 2, 3});
  SoftmaxMask causal;
  causal.causal = true;
  Tensor y = be->alloc(Shape{3, 3}, DType::f64);
  be->softmax(x, y, false, causal);
  const auto v = to_vector<double>(*be, y);
  CHECK(v[0] == 1.0);
  CHECK(v[1] == 0.0);
  CHECK(v[3] == Approx(1 / (1 + std::exp(1.0))));
  CHECK(v[5] == 0.0);
  CHECK(v[6] + v[7] + v[8] == Approx(1.0));
  SoftmaxMask keys;  // one group: column 0 only, then row with everything masked
  keys.keys = make_tensor(*be, Shape{1, 3}, std::vector<std::int32_t>{0, 0, 0});
  be->softmax(x, y, true, keys);
  CHECK(to_vector<double>(*be, y) == std::vector<double>(9, 0.0));
  be->softmax(x, y, true);
  CHECK(to_vector<double>(*be, y)[2] == Approx(3 - std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0))));
}

TEST_CASE("top-K rows: best first, ties by lower column, NaN last", "[nn]") {
  auto be = make_cpu_backend();
  const float nan = std::nanf("");
  const Tensor s = make_tensor(*be, Shape{1, 5}, std::vector<float>{nan, 2, 5, 2, 5});
  Tensor idx = be->alloc(Shape{1, 5}, DType::i32), val = be->alloc(Shape{1, 5}, DType::f32);
  be->topk_rows(s, 5, idx, val);
  CHECK(to_vector<std::int32_t>(*be, idx) == std::vector<std::int32_t>{2, 4, 1, 3, 0});
  CHECK_THROWS_WITH(be->topk_rows(s, 6, idx, val), Catch::Contains("k = 6"));
}

TEST_CASE("dropout: rate, scaling, seed-determined and thread-count independent", "[nn][determinism]") {
  auto be = make_cpu_backend();
  const std::size_t n = 100000;
  const Tensor x = make_tensor(*be, Shape{n}, std::vector<float>(n, 1.0f));
  Tensor y = be->alloc(Shape{n}, DType::f32), y2 = be->alloc(Shape{n}, DType::f32);
  be->dropout(x, 0.25, 42, y);
  const auto v = to_vector<float>(*be, y);
  std::size_t dropped = 0, kept_scaled = 0;
  for (float f : v) {
    if (f == 0.0f) ++dropped;
    if (f == 1.0f / 0.75f) ++kept_scaled;
  }
  CHECK(dropped + kept_scaled == n);
  // 25% of 100000 with a binomial standard deviation of ~137.
  CHECK(std::abs(static_cast<double>(dropped) - 25000.0) < 600.0);
  be->dropout(x, 0.25, 42, y2);
  CHECK(bytes(*be, y) == bytes(*be, y2));
  be->dropout(x, 0.25, 43, y2);
  CHECK(bytes(*be, y) != bytes(*be, y2));
  for (int threads : {1, 2, 5}) {
    auto omp = make_openmp_backend(threads);
    const Tensor xo = make_tensor(*omp, Shape{n}, std::vector<float>(n, 1.0f));
    Tensor yo = omp->alloc(Shape{n}, DType::f32);
    omp->dropout(xo, 0.25, 42, yo);
    CHECK(bytes(*omp, yo) == bytes(*be, y));
  }
  CHECK_THROWS_WITH(be->dropout(x, 1.0, 1, y), Catch::Contains("outside [0, 1)"));
}

TEST_CASE("optimiser updates follow their formulas", "[nn]") {
  auto be = make_cpu_backend();
  Tensor p = make_tensor(*be, Shape{1}, std::vector<double>{1.0});
  const Tensor g = make_tensor(*be, Shape{1}, std::vector<double>{0.5});
  Tensor m = be->alloc(Shape{1}, DType::f64), v = be->alloc(Shape{1}, DType::f64);
  AdamStep a;
  a.lr = 0.1;
  be->adam_update(p, g, m, v, a);  // m^ = 0.5, v^ = 0.25: step lr * 0.5 / (0.5 + eps)
  CHECK(to_vector<double>(*be, p)[0] == Approx(1.0 - 0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-12));
  a.decoupled = true;
  a.weight_decay = 0.5;
  a.step = 2;
  Tensor p2 = make_tensor(*be, Shape{1}, std::vector<double>{1.0});
  Tensor m2 = be->alloc(Shape{1}, DType::f64), v2 = be->alloc(Shape{1}, DType::f64);
  be->adam_update(p2, g, m2, v2, a);  // AdamW: p *= 1 - 0.05, then the step with m^ = 0.05/0.19, v^ ...
  const double mh = 0.05 / (1 - 0.81), vh = 0.00025 / (1 - 0.999 * 0.999);
  CHECK(to_vector<double>(*be, p2)[0] == Approx(0.95 - 0.1 * mh / (std::sqrt(vh) + 1e-8)).epsilon(1e-12));
  Tensor p3 = make_tensor(*be, Shape{1}, std::vector<double>{1.0}), vel = be->alloc(Shape{1}, DType::f64);
  be->sgd_update(p3, g, vel, SgdStep{0.1, 0.9, 0.2});  // g' = 0.7, v = 0.7
  be->sgd_update(p3, g, vel, SgdStep{0.1, 0.9, 0.2});  // g' = 0.5 + 0.2*0.93, v = 0.63 + g'
  CHECK(to_vector<double>(*be, p3)[0] == Approx(0.93 - 0.1 * (0.63 + 0.5 + 0.2 * 0.93)).epsilon(1e-12));
}

TEST_CASE("tensor views and shape errors name the problem", "[nn]") {
  auto be = make_cpu_backend();
  const Tensor t = make_tensor(*be, Shape{2, 3}, std::vector<float>{0, 1, 2, 3, 4, 5});
  CHECK(to_vector<float>(*be, t.select0(1)) == std::vector<float>{3, 4, 5});
  CHECK(t.view(Shape{3, 2}).shape() == Shape{3, 2});
  CHECK_THROWS_WITH(t.view(Shape{4, 2}), Catch::Contains("[2, 3]") && Catch::Contains("[4, 2]"));
  CHECK_THROWS_WITH(t.narrow0(1, 3), Catch::Contains("no rows [1, 3)"));
  CHECK_THROWS_WITH(Shape({1, 2, 3, 4, 5}), Catch::Contains("at most 4"));
  Tensor wrong = be->alloc(Shape{5}, DType::f32);
  CHECK_THROWS_WITH(be->add(t, wrong, t), Catch::Contains("add: cannot broadcast [5] over [2, 3]"));
  CHECK_THROWS_WITH(to_vector<double>(*be, t), Catch::Contains("tensor is f32"));
}
