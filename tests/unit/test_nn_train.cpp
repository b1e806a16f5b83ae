// The nn pieces composed: an MLP learns an XOR-like task with Adam (checked on held-out points),
// and training is bit-for-bit reproducible for a seed and thread count.
#include <catch2/catch.hpp>

#include <cmath>

#include "edgerec/nn/layers.hpp"
#include "edgerec/nn/loss.hpp"
#include "edgerec/nn/optim.hpp"
#include "edgerec/openmp_backend.hpp"
#include "nn_test_util.hpp"

using namespace edgerec;
using namespace nn_test;

namespace {

// Points in [-1, 1]^2 labelled 1 where x * y > 0 (the quadrant form of XOR): not linearly
// separable, so a model without its hidden layer cannot fit it.
struct XorData {
  std::vector<float> x, y;
};

XorData xor_points(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  XorData d;
  while (d.y.size() < n) {
    const double a = 2 * rng.uniform() - 1, b = 2 * rng.uniform() - 1;
    if (std::abs(a) < 0.05 || std::abs(b) < 0.05) continue;  // a margin around the boundary
    d.x.push_back(static_cast<float>(a));
    d.x.push_back(static_cast<float>(b));
    d.y.push_back(a * b > 0 ? 1.0f : 0.0f);
  }
  return d;
}

struct Trained {
  std::vector<double> losses;
  std::vector<std::vector<unsigned char>> params;
  double test_accuracy = 0;
};

Trained train_xor(Backend& be, std::uint64_t seed, int steps, double dropout) {
  Rng rng(seed);
  nn::Mlp mlp(be, "mlp", {2, 16, 16, 1}, DType::f32, rng, Act::tanh, Act::identity, dropout);
  AdamStep cfg;
  cfg.lr = 0.02;
  nn::Adam adam(be, mlp.parameters(), cfg);
  const XorData train = xor_points(256, seed + 1);
  const Tensor x = make_tensor(be, Shape{256, 2}, train.x);
  const Tensor y = make_tensor(be, Shape{256}, train.y);
  Trained out;
  for (int s = 0; s < steps; ++s) {
    nn::Tape tape(be, mix_seed(seed, static_cast<std::uint64_t>(s)));
    const nn::Var logits = nn::reshape(mlp.forward(tape, tape.constant(x)), Shape{256});
    const nn::Var loss = nn::bce_with_logits(logits, y);
    tape.backward(loss);
    adam.clip_grad_norm(5.0);
    adam.step();
    adam.zero_grad();
    out.losses.push_back(to_vector<float>(be, loss.value())[0]);
  }
  for (nn::Parameter* p : mlp.parameters()) {
    std::vector<unsigned char> b(p->value.numel() * 4);
    be.download(p->value, b.data());
    out.params.push_back(b);
  }
  // Accuracy on points never trained on (another seed), inference mode (no dropout).
  const XorData test = xor_points(1000, seed + 2);
  nn::Tape tape(be, 0, /*training=*/false);
  const auto scores = to_vector<float>(be, mlp.forward(tape, tape.constant(make_tensor(be, Shape{1000, 2}, test.x))).value());
  std::size_t right = 0;
  for (std::size_t i = 0; i < scores.size(); ++i) right += (scores[i] > 0) == (test.y[i] > 0.5f) ? 1 : 0;
  out.test_accuracy = static_cast<double>(right) / 1000.0;
  return out;
}

}  // namespace

TEST_CASE("an MLP learns XOR with Adam (held-out accuracy)", "[nn][train]") {
  auto be = make_cpu_backend();
  const Trained t = train_xor(*be, 7, 400, 0.0);
  INFO("first loss " << t.losses.front() << ", last " << t.losses.back() << ", test accuracy " << t.test_accuracy);
  CHECK(t.losses.front() > 0.6);  // chance level is log 2 = 0.693
  CHECK(t.losses.back() < 0.1);
  CHECK(t.test_accuracy > 0.95);
}

TEST_CASE("training is bit-for-bit reproducible for a seed and thread count", "[nn][determinism]") {
  for (int threads : {1, 2, 3}) {
    INFO(threads << " threads");
    auto a = make_openmp_backend(threads);
    auto b = make_openmp_backend(threads);
    const Trained first = train_xor(*a, 11, 20, 0.2);
    const Trained second = train_xor(*b, 11, 20, 0.2);
    CHECK(first.losses == second.losses);
    CHECK(first.params == second.params);
    const Trained other = train_xor(*a, 12, 20, 0.2);
    CHECK(other.params != first.params);
  }
  // The reference backend too (what wasm runs).
  auto r1 = make_cpu_backend(), r2 = make_cpu_backend();
  CHECK(train_xor(*r1, 11, 20, 0.2).params == train_xor(*r2, 11, 20, 0.2).params);
}

TEST_CASE("optimisers: global-norm clipping, zero_grad, SGD with momentum, learning-rate changes", "[nn]") {
  auto be = make_cpu_backend();
  nn::Parameter a = nn::make_parameter(*be, "a", Shape{2}, DType::f64);
  nn::Parameter b = nn::make_parameter(*be, "b", Shape{1}, DType::f64);
  be->upload(a.grad, std::vector<double>{3, 0}.data());
  be->upload(b.grad, std::vector<double>{4}.data());
  SgdStep cfg;
  cfg.lr = 0.5;
  cfg.momentum = 0.9;
  nn::Sgd sgd(*be, {&a, &b}, cfg);
  CHECK(sgd.clip_grad_norm(10.0) == Approx(5.0));  // under the bound: unchanged
  CHECK(to_vector<double>(*be, a.grad) == std::vector<double>{3, 0});
  CHECK(sgd.clip_grad_norm(1.0) == Approx(5.0));   // scaled to norm 1
  CHECK(to_vector<double>(*be, a.grad)[0] == Approx(0.6));
  CHECK(to_vector<double>(*be, b.grad)[0] == Approx(0.8));
  CHECK(sgd.grad_norm() == Approx(1.0));
  sgd.step();                                      // v = g, p = -0.5 g
  sgd.lr = 0.25;
  sgd.step();                                      // v = 1.9 g, p -= 0.25 * 1.9 g
  CHECK(to_vector<double>(*be, b.value)[0] == Approx(-0.5 * 0.8 - 0.25 * 1.9 * 0.8));
  sgd.zero_grad();
  CHECK(sgd.grad_norm() == 0.0);
  be->upload(b.grad, std::vector<double>{std::nan("")}.data());
  CHECK_THROWS_WITH(sgd.clip_grad_norm(1.0), Catch::Contains("not finite"));
  CHECK_THROWS_WITH(sgd.clip_grad_norm(0.0), Catch::Contains("max_norm must be > 0"));
}

TEST_CASE("tape: gradients reach parameters shared by two uses; misuse is reported", "[nn]") {
  auto be = make_cpu_backend();
  nn::Parameter w = nn::make_parameter(*be, "w", Shape{1}, DType::f64);
  be->upload(w.value, std::vector<double>{3}.data());
  nn::Tape tape(*be);
  const nn::Var x = tape.param(w), y = tape.param(w);
  const nn::Var loss = nn::sum(nn::mul(x, y));  // w^2: gradient 2w through two leaves of one parameter
  tape.backward(loss);
  CHECK(to_vector<double>(*be, w.grad)[0] == 6.0);
  CHECK_THROWS_WITH(tape.backward(loss), Catch::Contains("called twice"));
  nn::Tape other(*be);
  CHECK_THROWS_WITH(nn::add(other.param(w), x), Catch::Contains("different tapes"));
  CHECK_THROWS_WITH(other.backward(other.constant(be->alloc(Shape{2}, DType::f64))), Catch::Contains("one element"));
}
