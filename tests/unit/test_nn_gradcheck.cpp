// Finite-difference gradient checks in double precision (central differences, relative error
// < 1e-6) of every nn operation, layer and loss. Tagged [gradcheck]: `ctest -L gradcheck`.
#include <catch2/catch.hpp>

#include "edgerec/nn/layers.hpp"
#include "edgerec/nn/loss.hpp"
#include "nn_test_util.hpp"

using namespace edgerec;
using namespace nn_test;
using nn::Tape;
using nn::Var;
using Vars = std::vector<Var>;

namespace {
constexpr DType f64 = DType::f64;
}

TEST_CASE("gradcheck: matmul, every transpose, batched and shared operands", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      INFO("trans_a " << ta << " trans_b " << tb);
      const Tensor a = random_f64(be, ta ? Shape{4, 3} : Shape{3, 4}, 1);
      const Tensor b = random_f64(be, tb ? Shape{5, 4} : Shape{4, 5}, 2);
      CHECK_GRADIENTS(gradcheck(be, {}, {a, b}, [&](Tape&, const Vars& v) {
        return weighted_sum(nn::matmul(v[0], v[1], ta, tb, 0.7));
      }));
      // Batched, and each operand shared across the batch in turn.
      const Tensor a3 = random_f64(be, ta ? Shape{2, 4, 3} : Shape{2, 3, 4}, 3);
      const Tensor b3 = random_f64(be, tb ? Shape{2, 5, 4} : Shape{2, 4, 5}, 4);
      CHECK_GRADIENTS(gradcheck(be, {}, {a3, b3}, [&](Tape&, const Vars& v) {
        return weighted_sum(nn::matmul(v[0], v[1], ta, tb));
      }));
      CHECK_GRADIENTS(gradcheck(be, {}, {a, b3}, [&](Tape&, const Vars& v) {
        return weighted_sum(nn::matmul(v[0], v[1], ta, tb));
      }));
      CHECK_GRADIENTS(gradcheck(be, {}, {a3, b}, [&](Tape&, const Vars& v) {
        return weighted_sum(nn::matmul(v[0], v[1], ta, tb));
      }));
    }
}

TEST_CASE("gradcheck: element-wise operations and activations", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  const Tensor x = random_f64(be, Shape{3, 4}, 5);
  const Tensor y = random_f64(be, Shape{3, 4}, 6);
  const Tensor row = random_f64(be, Shape{4}, 7);
  CHECK_GRADIENTS(gradcheck(be, {}, {x, y, row}, [&](Tape&, const Vars& v) {
    return weighted_sum(nn::mul(nn::add(v[0], v[1], 0.5, -2.0), nn::add(v[1], v[2], 1.0, 3.0)));
  }));
  CHECK_GRADIENTS(gradcheck(be, {}, {x, row}, [&](Tape&, const Vars& v) {
    return weighted_sum(nn::scale(nn::mul(v[0], v[1]), -1.5, 0.25));
  }));
  for (Act act : {Act::relu, Act::sigmoid, Act::tanh, Act::gelu, Act::softplus}) {
    INFO(act_name(act));
    // Inputs away from ReLU's kink at 0 and wide enough to reach the saturating parts.
    const Tensor z = random_f64(be, Shape{2, 6}, 8, 0.05, 3.0);
    const Tensor s = make_tensor(be, Shape{2, 6}, std::vector<double>{1, -1, 1, -1, -1, 1, 1, 1, -1, -1, 1, -1});
    CHECK_GRADIENTS(gradcheck(be, {}, {z}, [&](Tape& t, const Vars& v) {
      return weighted_sum(nn::activation(nn::mul(v[0], t.constant(s)), act));
    }));
  }
}

TEST_CASE("gradcheck: softmax and log-softmax, plain, causal and padded", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  const Tensor x = random_f64(be, Shape{2, 2, 4, 4}, 9, -2.0, 2.0);
  const Tensor keys = indices(be, Shape{2, 4}, {0, 1, 1, 1, 1, 1, 0, 1});
  for (int log = 0; log < 2; ++log)
    for (int masked = 0; masked < 2; ++masked) {
      INFO("log " << log << " masked " << masked);
      SoftmaxMask mask;
      if (masked) {
        mask.causal = true;
        mask.keys = keys;
      }
      CHECK_GRADIENTS(gradcheck(be, {}, {x}, [&](Tape&, const Vars& v) {
        return weighted_sum(log ? nn::log_softmax(v[0], mask) : nn::softmax(v[0], mask));
      }));
    }
}

TEST_CASE("gradcheck: layer norm operation", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  const Tensor x = random_f64(be, Shape{3, 5}, 10, -2.0, 2.0);
  const Tensor g = random_f64(be, Shape{5}, 11, 0.5, 1.5);
  const Tensor b = random_f64(be, Shape{5}, 12);
  CHECK_GRADIENTS(gradcheck(be, {}, {x, g, b}, [&](Tape&, const Vars& v) {
    return weighted_sum(nn::layer_norm(v[0], v[1], v[2], 1e-5));
  }));
}

TEST_CASE("gradcheck: gather, pick, reshape, permute, slices, stack, sums", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  const Tensor table = random_f64(be, Shape{5, 3}, 13);
  const Tensor idx = indices(be, Shape{2, 3}, {4, 0, 4, -1, 2, 4});  // duplicates and padding
  CHECK_GRADIENTS(gradcheck(be, {}, {table}, [&](Tape&, const Vars& v) {
    return weighted_sum(nn::gather(v[0], idx));
  }));
  const Tensor x = random_f64(be, Shape{2, 3, 4}, 14);
  CHECK_GRADIENTS(gradcheck(be, {}, {x}, [&](Tape&, const Vars& v) {
    const Var p = nn::permute(v[0], {2, 0, 1, 3});  // [4, 2, 3]
    const Var parts = nn::stack0({nn::select0(p, 3), nn::select0(p, 1), nn::select0(p, 3)});
    return weighted_sum(nn::add(nn::reshape(parts, Shape{3, 6}), nn::reshape(nn::narrow0(p, 1, 4), Shape{3, 6})));
  }));
  const Tensor targets = indices(be, Shape{4}, {2, -1, 0, 3});
  CHECK_GRADIENTS(gradcheck(be, {}, {x}, [&](Tape&, const Vars& v) {
    const Var m = nn::reshape(v[0], Shape{6, 4});
    return nn::add(weighted_sum(nn::pick(nn::narrow0(m, 2, 6), targets)), weighted_sum(nn::sum_last(m), 5),
                   1.0, 1.0);
  }));
  CHECK_GRADIENTS(gradcheck(be, {}, {x}, [&](Tape&, const Vars& v) {
    return nn::scale(nn::mean(nn::mul(v[0], v[0])), 3.0);
  }));
}

TEST_CASE("gradcheck: dropout with a fixed seed", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  const Tensor x = random_f64(be, Shape{4, 8}, 15);
  CHECK_GRADIENTS(gradcheck(be, {}, {x}, [&](Tape&, const Vars& v) {
    return weighted_sum(nn::tanh(nn::dropout(v[0], 0.3)));
  }));
}

TEST_CASE("gradcheck: embedding layer (duplicates and padding)", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  Rng rng(1);
  nn::Embedding emb(be, "emb", 6, 3, f64, rng, 0.5);
  const Tensor idx = indices(be, Shape{2, 4}, {1, 5, 1, -1, 0, 5, 5, 2});
  CHECK_GRADIENTS(gradcheck(be, emb.parameters(), {}, [&](Tape& t, const Vars&) {
    return weighted_sum(emb.forward(t, idx));
  }));
}

TEST_CASE("gradcheck: linear layer sigma(Wx + b) and MLP", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  Rng rng(2);
  nn::Linear lin(be, "lin", 4, 3, f64, rng, Act::sigmoid);
  nn::init_uniform(be, lin.bias, 0.5, rng);
  const Tensor x = random_f64(be, Shape{2, 3, 4}, 16);
  CHECK_GRADIENTS(gradcheck(be, lin.parameters(), {x}, [&](Tape& t, const Vars& v) {
    return weighted_sum(lin.forward(t, v[0]));
  }));
  nn::Mlp mlp(be, "mlp", {4, 6, 5, 2}, f64, rng, Act::relu, Act::identity);
  for (auto& l : mlp.layers) nn::init_uniform(be, l->bias, 0.3, rng);
  const Tensor x2 = random_f64(be, Shape{5, 4}, 17);
  CHECK_GRADIENTS(gradcheck(be, mlp.parameters(), {x2}, [&](Tape& t, const Vars& v) {
    return weighted_sum(mlp.forward(t, v[0]));
  }));
}

TEST_CASE("gradcheck: layer norm layer with a residual connection", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  Rng rng(3);
  nn::LayerNorm ln(be, "ln", 4, f64, 1e-8);
  nn::init_uniform(be, ln.gamma, 1.0, rng);
  nn::init_uniform(be, ln.beta, 1.0, rng);
  const Tensor x = random_f64(be, Shape{2, 3, 4}, 18);
  const Tensor y = random_f64(be, Shape{2, 3, 4}, 19);
  CHECK_GRADIENTS(gradcheck(be, ln.parameters(), {x, y}, [&](Tape& t, const Vars& v) {
    return weighted_sum(nn::residual_norm(t, v[0], v[1], ln, 0.25));
  }));
}

TEST_CASE("gradcheck: LSTM over a padded sequence", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  Rng rng(4);
  nn::Lstm lstm(be, "lstm", 3, 4, f64, rng);
  nn::init_uniform(be, lstm.b, 0.5, rng);
  const Tensor x = random_f64(be, Shape{2, 4, 3}, 20);
  const Tensor mask = indices(be, Shape{2, 4}, {0, 1, 1, 1, 1, 1, 1, 0});  // left and right padding
  CHECK_GRADIENTS(gradcheck(be, lstm.parameters(), {x}, [&](Tape& t, const Vars& v) {
    return weighted_sum(lstm.forward(t, v[0], mask));
  }));
}

TEST_CASE("gradcheck: GRU over a padded sequence", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  Rng rng(5);
  nn::Gru gru(be, "gru", 3, 4, f64, rng);
  nn::init_uniform(be, gru.b_x, 0.5, rng);
  nn::init_uniform(be, gru.b_h, 0.5, rng);
  const Tensor x = random_f64(be, Shape{2, 4, 3}, 21);
  const Tensor mask = indices(be, Shape{2, 4}, {1, 1, 1, 1, 0, 0, 1, 1});
  CHECK_GRADIENTS(gradcheck(be, gru.parameters(), {x}, [&](Tape& t, const Vars& v) {
    return weighted_sum(gru.forward(t, v[0], mask));
  }));
}

TEST_CASE("gradcheck: multi-head causal self-attention with learned positions", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  Rng rng(6);
  nn::MultiHeadAttention mha(be, "mha", 4, 2, f64, rng, true, 0.2);
  nn::PositionalEmbedding pos(be, "pos", 5, 4, f64, rng, 0.5);
  for (nn::Linear* l : {&mha.query, &mha.key, &mha.value, &mha.output}) nn::init_uniform(be, l->bias, 0.3, rng);
  const Tensor x = random_f64(be, Shape{2, 3, 4}, 22);
  const Tensor keys = indices(be, Shape{2, 3}, {0, 1, 1, 1, 1, 1});
  // The key bias adds q . b_k to every score of a query's row, which softmax ignores: its true
  // gradient is 0, so it is checked to be (numerically) zero instead of by relative error.
  std::vector<nn::Parameter*> params;
  for (nn::Parameter* p : mha.parameters())
    if (p != &mha.key.bias) params.push_back(p);
  for (nn::Parameter* p : pos.parameters()) params.push_back(p);
  auto loss = [&](Tape& t, const Vars& v) { return weighted_sum(mha.forward(t, pos.forward(t, v[0]), keys)); };
  CHECK_GRADIENTS(gradcheck(be, params, {x}, loss));
  for (nn::Parameter* p : mha.parameters()) be.fill(p->grad, 0.0);
  {
    Tape t(be, 1234);
    t.backward(loss(t, {t.input(x)}));
  }
  CHECK(std::sqrt(be.sum_squares(mha.key.bias.grad)) < 1e-12);
  CHECK(be.sum_squares(mha.query.bias.grad) > 1e-6);
}

TEST_CASE("gradcheck: point-wise feed-forward (GELU, dropout)", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  Rng rng(7);
  nn::FeedForward ff(be, "ff", 4, 6, f64, rng, Act::gelu, 0.2);
  nn::init_uniform(be, ff.inner.bias, 0.3, rng);
  nn::init_uniform(be, ff.outer.bias, 0.3, rng);
  const Tensor x = random_f64(be, Shape{2, 3, 4}, 23);
  CHECK_GRADIENTS(gradcheck(be, ff.parameters(), {x}, [&](Tape& t, const Vars& v) {
    return weighted_sum(ff.forward(t, v[0]));
  }));
}

TEST_CASE("gradcheck: MSE loss", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  const Tensor x = random_f64(be, Shape{6}, 24);
  const Tensor y = random_f64(be, Shape{6}, 25);
  CHECK_GRADIENTS(gradcheck(be, {}, {x}, [&](Tape&, const Vars& v) { return nn::mse(v[0], y); }));
}

TEST_CASE("gradcheck: binary cross-entropy from logits", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  const Tensor x = random_f64(be, Shape{8}, 26, -6.0, 6.0);
  const Tensor y = make_tensor(be, Shape{8}, std::vector<double>{1, 0, 1, 1, 0, 0, 0.3, 1});
  CHECK_GRADIENTS(gradcheck(be, {}, {x}, [&](Tape&, const Vars& v) { return nn::bce_with_logits(v[0], y); }));
}

TEST_CASE("gradcheck: full softmax cross-entropy with a padded row", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  const Tensor x = random_f64(be, Shape{4, 5}, 27, -3.0, 3.0);
  const Tensor t = indices(be, Shape{4}, {2, -1, 0, 4});
  CHECK_GRADIENTS(gradcheck(be, {}, {x}, [&](Tape&, const Vars& v) { return nn::softmax_cross_entropy(v[0], t); }));
}

TEST_CASE("gradcheck: sampled softmax cross-entropy over gathered items", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  const Tensor q = random_f64(be, Shape{3, 4}, 28);
  const Tensor items = random_f64(be, Shape{7, 4}, 29);
  // Row 0: positive 2 with negatives (one repeated, one padding); row 2 left out.
  const Tensor cand = indices(be, Shape{3, 4}, {2, 5, 5, -1, 6, 0, 1, 3, -1, 4, 2, 1});
  CHECK_GRADIENTS(gradcheck(be, {}, {q, items}, [&](Tape&, const Vars& v) {
    return nn::sampled_softmax_cross_entropy(v[0], v[1], cand);
  }));
}

TEST_CASE("gradcheck: sampled softmax cross-entropy with shared negatives", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  const Tensor q = random_f64(be, Shape{4, 3}, 32);
  const Tensor items = random_f64(be, Shape{6, 3}, 33);
  // Row 1's positive 4 is also a negative (an accidental hit, left out); row 3 is padding.
  const Tensor pos = indices(be, Shape{4}, {2, 4, 0, -1});
  const Tensor neg = indices(be, Shape{3}, {4, 1, 5});
  CHECK_GRADIENTS(gradcheck(be, {}, {q, items}, [&](Tape&, const Vars& v) {
    return nn::shared_sampled_softmax_cross_entropy(v[0], v[1], pos, neg);
  }));
  // The same loss as the per-row form with those candidates (hits as -1 padding).
  nn::Tape tape(be);
  const Tensor cand = indices(be, Shape{4, 4}, {2, 4, 1, 5, 4, -1, 1, 5, 0, 4, 1, 5, -1, 4, 1, 5});
  const double shared = to_vector<double>(
      be, nn::shared_sampled_softmax_cross_entropy(tape.constant(q), tape.constant(items), pos, neg).value())[0];
  const double per_row =
      to_vector<double>(be, nn::sampled_softmax_cross_entropy(tape.constant(q), tape.constant(items), cand).value())[0];
  CHECK(shared == Approx(per_row).epsilon(1e-12));
}

TEST_CASE("gradcheck: BPR loss", "[gradcheck]") {
  auto backend = make_cpu_backend();
  Backend& be = *backend;
  const Tensor pos = random_f64(be, Shape{5}, 30, -3.0, 3.0);
  const Tensor neg = random_f64(be, Shape{5}, 31, -3.0, 3.0);
  CHECK_GRADIENTS(gradcheck(be, {}, {pos, neg}, [&](Tape&, const Vars& v) { return nn::bpr(v[0], v[1]); }));
}
