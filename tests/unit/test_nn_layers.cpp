// Forward values of the nn layers and losses against plain host loops written from the papers'
// formulas (the gradient checks only prove that backward matches forward; these prove forward).
#include <catch2/catch.hpp>

#include <cmath>

#include "edgerec/nn/layers.hpp"
#include "edgerec/nn/loss.hpp"
#include "nn_test_util.hpp"

using namespace edgerec;
using namespace nn_test;
using nn::Tape;
using nn::Var;

namespace {

using Vec = std::vector<double>;
constexpr DType f64 = DType::f64;

double sig(double x) { return 1 / (1 + std::exp(-x)); }

// y[o] = sum_i W[o, i] x[i] + b[o] for W [out, in] (b may be empty).
Vec affine(const Vec& W, const Vec& b, const double* x, std::size_t in, std::size_t out, std::size_t w_row0 = 0) {
  Vec y(out, 0.0);
  for (std::size_t o = 0; o < out; ++o) {
    for (std::size_t i = 0; i < in; ++i) y[o] += W[(w_row0 + o) * in + i] * x[i];
    if (!b.empty()) y[o] += b[w_row0 + o];
  }
  return y;
}

void check_close(const Vec& got, const Vec& want, double tol = 1e-12) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(got[i] == Approx(want[i]).margin(tol));
  }
}

Vec vals(Backend& be, const Tensor& t) { return to_vector<double>(be, t); }

}  // namespace

TEST_CASE("Linear and MLP forward: act(x W' + b)", "[nn]") {
  auto be = make_cpu_backend();
  Rng rng(1);
  nn::Linear lin(*be, "lin", 3, 2, f64, rng, Act::sigmoid);
  nn::init_uniform(*be, lin.bias, 1.0, rng);
  const Tensor x = random_f64(*be, Shape{4, 3}, 2);
  Tape tape(*be);
  const Vec got = vals(*be, lin.forward(tape, tape.constant(x)).value());
  const Vec W = vals(*be, lin.weight.value), b = vals(*be, lin.bias.value), X = vals(*be, x);
  Vec want;
  for (std::size_t r = 0; r < 4; ++r)
    for (double v : affine(W, b, &X[r * 3], 3, 2)) want.push_back(sig(v));
  check_close(got, want);
}

TEST_CASE("LSTM forward over a padded batch", "[nn]") {
  auto be = make_cpu_backend();
  Rng rng(3);
  const std::size_t B = 2, T = 3, D = 2, H = 3;
  nn::Lstm lstm(*be, "lstm", D, H, f64, rng);
  nn::init_uniform(*be, lstm.b, 0.5, rng);
  const Tensor x = random_f64(*be, Shape{2, 3, 2}, 4);
  const std::vector<std::int32_t> m = {0, 1, 1, 1, 1, 0};
  Tape tape(*be);
  const Vec got = vals(*be, lstm.forward(tape, tape.constant(x), make_tensor(*be, Shape{2, 3}, m)).value());
  const Vec Wx = vals(*be, lstm.w_x.value), Wh = vals(*be, lstm.w_h.value), b = vals(*be, lstm.b.value);
  const Vec X = vals(*be, x);
  Vec want(B * T * H);
  for (std::size_t s = 0; s < B; ++s) {
    Vec h(H, 0.0), c(H, 0.0);
    for (std::size_t t = 0; t < T; ++t) {
      if (m[s * T + t]) {
        const Vec gx = affine(Wx, b, &X[(s * T + t) * D], D, 4 * H);
        const Vec gh = affine(Wh, {}, h.data(), H, 4 * H);
        for (std::size_t j = 0; j < H; ++j) {
          const double i = sig(gx[j] + gh[j]), f = sig(gx[H + j] + gh[H + j]);
          const double g = std::tanh(gx[2 * H + j] + gh[2 * H + j]), o = sig(gx[3 * H + j] + gh[3 * H + j]);
          c[j] = f * c[j] + i * g;
          h[j] = o * std::tanh(c[j]);
        }
      }
      for (std::size_t j = 0; j < H; ++j) want[(s * T + t) * H + j] = h[j];
    }
  }
  check_close(got, want);
}

TEST_CASE("GRU forward over a padded batch", "[nn]") {
  auto be = make_cpu_backend();
  Rng rng(5);
  const std::size_t B = 2, T = 3, D = 2, H = 3;
  nn::Gru gru(*be, "gru", D, H, f64, rng);
  nn::init_uniform(*be, gru.b_x, 0.5, rng);
  nn::init_uniform(*be, gru.b_h, 0.5, rng);
  const Tensor x = random_f64(*be, Shape{2, 3, 2}, 6);
  const std::vector<std::int32_t> m = {1, 1, 0, 0, 1, 1};
  Tape tape(*be);
  const Vec got = vals(*be, gru.forward(tape, tape.constant(x), make_tensor(*be, Shape{2, 3}, m)).value());
  const Vec Wx = vals(*be, gru.w_x.value), Wh = vals(*be, gru.w_h.value);
  const Vec bx = vals(*be, gru.b_x.value), bh = vals(*be, gru.b_h.value), X = vals(*be, x);
  Vec want(B * T * H);
  for (std::size_t s = 0; s < B; ++s) {
    Vec h(H, 0.0);
    for (std::size_t t = 0; t < T; ++t) {
      if (m[s * T + t]) {
        const Vec gx = affine(Wx, bx, &X[(s * T + t) * D], D, 3 * H);
        const Vec gh = affine(Wh, bh, h.data(), H, 3 * H);
        for (std::size_t j = 0; j < H; ++j) {
          const double r = sig(gx[j] + gh[j]), z = sig(gx[H + j] + gh[H + j]);
          const double n = std::tanh(gx[2 * H + j] + r * gh[2 * H + j]);
          h[j] = (1 - z) * n + z * h[j];
        }
      }
      for (std::size_t j = 0; j < H; ++j) want[(s * T + t) * H + j] = h[j];
    }
  }
  check_close(got, want);
}

TEST_CASE("multi-head causal self-attention forward and its attention weights", "[nn]") {
  auto be = make_cpu_backend();
  Rng rng(7);
  const std::size_t B = 2, T = 3, D = 4, Hh = 2, dh = 2;
  nn::MultiHeadAttention mha(*be, "mha", D, Hh, f64, rng, true);
  for (nn::Linear* l : {&mha.query, &mha.key, &mha.value, &mha.output}) nn::init_uniform(*be, l->bias, 0.3, rng);
  const Tensor x = random_f64(*be, Shape{2, 3, 4}, 8);
  const std::vector<std::int32_t> keys = {0, 1, 1, 1, 1, 1};  // sequence 0 is left-padded
  Tape tape(*be);
  const Vec got = vals(*be, mha.forward(tape, tape.constant(x), make_tensor(*be, Shape{2, 3}, keys)).value());
  const Vec att = vals(*be, mha.last_attention());
  auto W = [&](nn::Linear& l) { return std::make_pair(vals(*be, l.weight.value), vals(*be, l.bias.value)); };
  const auto q = W(mha.query), k = W(mha.key), v = W(mha.value), o = W(mha.output);
  const Vec X = vals(*be, x);
  Vec want, want_att(B * Hh * T * T, 0.0);
  for (std::size_t s = 0; s < B; ++s) {
    std::vector<Vec> Q, K, V;
    for (std::size_t t = 0; t < T; ++t) {
      Q.push_back(affine(q.first, q.second, &X[(s * T + t) * D], D, D));
      K.push_back(affine(k.first, k.second, &X[(s * T + t) * D], D, D));
      V.push_back(affine(v.first, v.second, &X[(s * T + t) * D], D, D));
    }
    for (std::size_t t = 0; t < T; ++t) {
      Vec ctx(D, 0.0);
      for (std::size_t h = 0; h < Hh; ++h) {
        Vec w(T, 0.0);
        double mx = -1e300, total = 0;
        for (std::size_t j = 0; j <= t; ++j)
          if (keys[s * T + j]) {
            double sc = 0;
            for (std::size_t e = 0; e < dh; ++e) sc += Q[t][h * dh + e] * K[j][h * dh + e];
            w[j] = sc / std::sqrt(double(dh));
            mx = std::max(mx, w[j]);
          }
        for (std::size_t j = 0; j <= t; ++j)
          if (keys[s * T + j]) total += std::exp(w[j] - mx);
        for (std::size_t j = 0; j < T; ++j) {
          const double p = (j <= t && keys[s * T + j]) ? std::exp(w[j] - mx) / total : 0.0;
          want_att[((s * Hh + h) * T + t) * T + j] = p;
          for (std::size_t e = 0; e < dh; ++e) ctx[h * dh + e] += p * V[j][h * dh + e];
        }
      }
      for (double y : affine(o.first, o.second, ctx.data(), D, D)) want.push_back(y);
    }
  }
  check_close(att, want_att);
  check_close(got, want);
}

TEST_CASE("layer norm, positions and feed-forward forward values", "[nn]") {
  auto be = make_cpu_backend();
  Rng rng(9);
  nn::LayerNorm ln(*be, "ln", 4, f64, 1e-5);
  nn::init_uniform(*be, ln.gamma, 1.0, rng);
  const Tensor x = random_f64(*be, Shape{2, 4}, 10);
  Tape tape(*be);
  const Vec got = vals(*be, ln.forward(tape, tape.constant(x)).value());
  const Vec X = vals(*be, x), g = vals(*be, ln.gamma.value);
  for (std::size_t r = 0; r < 2; ++r) {
    double mu = 0, var = 0;
    for (std::size_t j = 0; j < 4; ++j) mu += X[r * 4 + j] / 4;
    for (std::size_t j = 0; j < 4; ++j) var += (X[r * 4 + j] - mu) * (X[r * 4 + j] - mu) / 4;
    for (std::size_t j = 0; j < 4; ++j)
      CHECK(got[r * 4 + j] == Approx((X[r * 4 + j] - mu) / std::sqrt(var + 1e-5) * g[j]).margin(1e-12));
  }
  nn::PositionalEmbedding pos(*be, "pos", 3, 2, f64, rng, 1.0);
  const Tensor s = random_f64(*be, Shape{2, 2, 2}, 11);
  const Vec pg = vals(*be, pos.forward(tape, tape.constant(s)).value());
  const Vec S = vals(*be, s), P = vals(*be, pos.table.weight.value);
  for (std::size_t i = 0; i < 8; ++i) CHECK(pg[i] == Approx(S[i] + P[i % 4]).margin(1e-15));
  Tensor too_long = be->alloc(Shape{1, 4, 2}, f64);
  CHECK_THROWS_WITH(pos.forward(tape, tape.constant(too_long)), Catch::Contains("exceeds the maximum 3"));
}

TEST_CASE("loss values match their formulas", "[nn]") {
  auto be = make_cpu_backend();
  Tape tape(*be);
  auto scalar = [&](const Var& v) { return vals(*be, v.value())[0]; };
  const Vec x = {2.0, -1.0, 30.0, -30.0}, y = {1.0, 0.0, 0.0, 1.0};
  const Var xv = tape.constant(make_tensor(*be, Shape{4}, x));
  double bce = 0, stable = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    bce += -(y[i] * std::log(sig(x[i])) + (1 - y[i]) * std::log(1 - sig(x[i])));
    stable += std::max(x[i], 0.0) - x[i] * y[i] + std::log1p(std::exp(-std::abs(x[i])));
  }
  const double got_bce = scalar(nn::bce_with_logits(xv, make_tensor(*be, Shape{4}, y)));
  CHECK(got_bce == Approx(stable / 4).epsilon(1e-14));
  // The textbook form agrees to the digits it keeps: 1 - sig(30) cancels to ~1e-13, so ~3e-3 of it.
  CHECK(got_bce == Approx(bce / 4).epsilon(1e-4));
  CHECK(scalar(nn::mse(xv, make_tensor(*be, Shape{4}, y))) == Approx((1 + 1 + 900 + 961) / 4.0));
  const Var pos = tape.constant(make_tensor(*be, Shape{2}, Vec{1.0, -2.0}));
  const Var neg = tape.constant(make_tensor(*be, Shape{2}, Vec{0.5, 1.0}));
  CHECK(scalar(nn::bpr(pos, neg)) == Approx(-(std::log(sig(0.5)) + std::log(sig(-3.0))) / 2));
  const Vec logits = {1, 2, 3, 0, 0, 0};
  const Var lv = tape.constant(make_tensor(*be, Shape{2, 3}, logits));
  const double lse = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  CHECK(scalar(nn::softmax_cross_entropy(lv, make_tensor(*be, Shape{2}, std::vector<std::int32_t>{0, -1}))) ==
        Approx(lse - 1.0));
  // Sampled CE over all items with the positive first equals the full CE with that target.
  const Tensor q = random_f64(*be, Shape{2, 3}, 12), items = random_f64(*be, Shape{4, 3}, 13);
  const Var full = nn::matmul(tape.constant(q), tape.constant(items), false, true);
  const double want = scalar(nn::softmax_cross_entropy(full, make_tensor(*be, Shape{2}, std::vector<std::int32_t>{2, 1})));
  const Tensor cand = make_tensor(*be, Shape{2, 5}, std::vector<std::int32_t>{2, 0, 1, 3, -1, 1, -1, 0, 2, 3});
  CHECK(scalar(nn::sampled_softmax_cross_entropy(tape.constant(q), tape.constant(items), cand)) == Approx(want).epsilon(1e-12));
}
