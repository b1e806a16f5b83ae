// Layers and initialisers (edgerec/nn/layers.hpp), written only with nn operations.
#include "edgerec/nn/layers.hpp"

#include <cmath>

#include "edgerec/error.hpp"

namespace edgerec::nn {
namespace {

// Uploads host doubles into a floating-point tensor of either dtype.
void upload_doubles(Backend& backend, const Tensor& t, const std::vector<double>& values) {
  if (t.dtype() == DType::f64) {
    backend.upload(t, values.data());
  } else {
    std::vector<float> f(values.begin(), values.end());
    backend.upload(t, f.data());
  }
}

// A constant of the model's dtype from host doubles.
Tensor host_tensor(Backend& backend, const Shape& shape, DType dtype, const std::vector<double>& values) {
  Tensor t = backend.alloc(shape, dtype);
  upload_doubles(backend, t, values);
  return t;
}

// Per-step keep masks of a recurrent layer: for step t, keep[t] = mask[:, t] repeated over the
// hidden width and drop[t] = 1 - keep[t], both [B, H] constants.
void step_masks(Tape& tape, const Tensor& mask, std::int64_t B, std::int64_t T, std::int64_t H, DType dtype,
                std::vector<Var>& keep, std::vector<Var>& drop) {
  if (!mask.defined()) return;
  if (mask.dtype() != DType::i32 || mask.numel() != static_cast<std::size_t>(B * T))
    throw Error("recurrent layer: mask must be i32 [" + std::to_string(B) + ", " + std::to_string(T) + "], got " +
                std::string(dtype_name(mask.dtype())) + " " + mask.shape().str());
  const std::vector<std::int32_t> m = to_vector<std::int32_t>(tape.backend(), mask);
  const auto h = static_cast<std::size_t>(H);
  for (std::int64_t t = 0; t < T; ++t) {
    std::vector<double> k(static_cast<std::size_t>(B) * h), d(k.size());
    for (std::int64_t b = 0; b < B; ++b) {
      const double v = m[static_cast<std::size_t>(b * T + t)] != 0 ? 1.0 : 0.0;
      for (std::size_t j = 0; j < h; ++j) {
        k[static_cast<std::size_t>(b) * h + j] = v;
        d[static_cast<std::size_t>(b) * h + j] = 1.0 - v;
      }
    }
    keep.push_back(tape.constant(host_tensor(tape.backend(), Shape{B, H}, dtype, k)));
    drop.push_back(tape.constant(host_tensor(tape.backend(), Shape{B, H}, dtype, d)));
  }
}

// state = keep * next + drop * previous (the state carried over padding steps).
Var masked_state(const Var& next, const Var& previous, const std::vector<Var>& keep, const std::vector<Var>& drop,
                 std::size_t t) {
  if (keep.empty()) return next;
  return add(mul(next, keep[t]), mul(previous, drop[t]));
}

void need_rank3(const char* layer, const Var& x, std::int64_t width) {
  const Shape& s = x.shape();
  if (s.rank() != 3 || s[2] != width)
    throw Error(std::string(layer) + ": input must be [B, T, " + std::to_string(width) + "], got " + s.str());
}

// Splits [B, G*H] gate pre-activations into G tensors [B, H] (gate-major blocks).
std::vector<Var> split_gates(const Var& gates, std::int64_t G, std::int64_t H) {
  const std::int64_t B = gates.shape()[0];
  const Var by_gate = permute(reshape(gates, Shape{B, G, H}), {1, 0, 2, 3});
  std::vector<Var> out;
  for (std::int64_t g = 0; g < G; ++g) out.push_back(select0(by_gate, g));
  return out;
}

// [B, T, W] -> time-major [T, B, W] and back.
Var swap01(const Var& x) { return permute(x, {1, 0, 2, 3}); }

}  // namespace

void init_uniform(Backend& backend, Parameter& p, double limit, Rng& rng) {
  std::vector<double> v(p.value.numel());
  for (double& x : v) x = (2.0 * rng.uniform() - 1.0) * limit;
  upload_doubles(backend, p.value, v);
}

void init_normal(Backend& backend, Parameter& p, double stddev, Rng& rng) {
  std::vector<double> v(p.value.numel());
  for (double& x : v) x = rng.normal() * stddev;
  upload_doubles(backend, p.value, v);
}

void xavier_uniform(Backend& backend, Parameter& p, std::int64_t fan_in, std::int64_t fan_out, Rng& rng) {
  if (fan_in + fan_out <= 0) throw Error("xavier_uniform: '" + p.name + "' has no fan-in or fan-out");
  init_uniform(backend, p, std::sqrt(6.0 / static_cast<double>(fan_in + fan_out)), rng);
}

void he_normal(Backend& backend, Parameter& p, std::int64_t fan_in, Rng& rng) {
  if (fan_in <= 0) throw Error("he_normal: '" + p.name + "' has no fan-in");
  init_normal(backend, p, std::sqrt(2.0 / static_cast<double>(fan_in)), rng);
}

void init_constant(Backend& backend, Parameter& p, double value) { backend.fill(p.value, value); }

std::vector<Parameter*> Module::parameters() {
  std::vector<Parameter*> out;
  collect(out);
  return out;
}

// ---- Embedding ----

Embedding::Embedding(Backend& backend, std::string name, std::int64_t rows, std::int64_t dim, DType dtype, Rng& rng,
                     double stddev)
    : weight(make_parameter(backend, name + ".weight", Shape{rows, dim}, dtype)) {
  init_normal(backend, weight, stddev, rng);
}

Var Embedding::forward(Tape& tape, const Tensor& index) { return gather(tape.param(weight), index); }

void Embedding::collect(std::vector<Parameter*>& out) { out.push_back(&weight); }

// ---- Linear ----

Linear::Linear(Backend& backend, std::string name, std::int64_t in, std::int64_t out, DType dtype, Rng& rng, Act act_,
               bool with_bias)
    : weight(make_parameter(backend, name + ".weight", Shape{out, in}, dtype)), act(act_) {
  if (in <= 0 || out <= 0)
    throw Error("Linear '" + name + "': widths must be positive, got " + std::to_string(in) + " -> " +
                std::to_string(out));
  if (act == Act::relu || act == Act::gelu)
    he_normal(backend, weight, in, rng);
  else
    xavier_uniform(backend, weight, in, out, rng);
  if (with_bias) bias = make_parameter(backend, name + ".bias", Shape{out}, dtype);
}

Var Linear::forward(Tape& tape, const Var& x) {
  const Shape& s = x.shape();
  const std::int64_t in = weight.value.dim(1), out = weight.value.dim(0);
  if (s.rank() < 1 || s.last() != in)
    throw Error("Linear '" + weight.name + "': input's last dimension must be " + std::to_string(in) + ", got " +
                s.str());
  const auto rows = static_cast<std::int64_t>(x.value().rows());
  Var y = matmul(reshape(x, Shape{rows, in}), tape.param(weight), false, true);
  if (bias.value.defined()) y = add(y, tape.param(bias));
  y = activation(y, act);
  return reshape(y, s.with(s.rank() - 1, out));
}

void Linear::collect(std::vector<Parameter*>& out) {
  out.push_back(&weight);
  if (bias.value.defined()) out.push_back(&bias);
}

// ---- Mlp ----

Mlp::Mlp(Backend& backend, std::string name, const std::vector<std::int64_t>& sizes, DType dtype, Rng& rng,
         Act hidden, Act output, double dropout_)
    : dropout(dropout_) {
  if (sizes.size() < 2) throw Error("Mlp '" + name + "': needs at least an input and an output width");
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i)
    layers.push_back(std::make_unique<Linear>(backend, name + "." + std::to_string(i), sizes[i], sizes[i + 1], dtype,
                                              rng, i + 2 == sizes.size() ? output : hidden));
}

Var Mlp::forward(Tape& tape, const Var& x) {
  Var h = x;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (i > 0) h = nn::dropout(h, dropout);
    h = layers[i]->forward(tape, h);
  }
  return h;
}

void Mlp::collect(std::vector<Parameter*>& out) {
  for (auto& l : layers) l->collect(out);
}

// ---- LayerNorm ----

LayerNorm::LayerNorm(Backend& backend, std::string name, std::int64_t dim, DType dtype, double eps_)
    : gamma(make_parameter(backend, name + ".gamma", Shape{dim}, dtype)),
      beta(make_parameter(backend, name + ".beta", Shape{dim}, dtype)),
      eps(eps_) {
  init_constant(backend, gamma, 1.0);
}

Var LayerNorm::forward(Tape& tape, const Var& x) {
  return layer_norm(x, tape.param(gamma), tape.param(beta), eps);
}

void LayerNorm::collect(std::vector<Parameter*>& out) {
  out.push_back(&gamma);
  out.push_back(&beta);
}

// ---- Lstm ----

Lstm::Lstm(Backend& backend, std::string name, std::int64_t in, std::int64_t hidden_, DType dtype, Rng& rng)
    : hidden(hidden_),
      w_x(make_parameter(backend, name + ".w_x", Shape{4 * hidden_, in}, dtype)),
      w_h(make_parameter(backend, name + ".w_h", Shape{4 * hidden_, hidden_}, dtype)),
      b(make_parameter(backend, name + ".b", Shape{4 * hidden_}, dtype)) {
  xavier_uniform(backend, w_x, in, hidden, rng);
  xavier_uniform(backend, w_h, hidden, hidden, rng);
  backend.fill(b.value.narrow0(hidden, 2 * hidden), 1.0);  // forget gate
}

Var Lstm::forward(Tape& tape, const Var& x, const Tensor& mask) {
  need_rank3("Lstm", x, w_x.value.dim(1));
  const std::int64_t B = x.shape()[0], T = x.shape()[1], H = hidden, D = w_x.value.dim(1);
  const DType dtype = x.value().dtype();
  std::vector<Var> keep, drop;
  step_masks(tape, mask, B, T, H, dtype, keep, drop);
  // Input projections of every step in one GEMM, time-major.
  const Var xp = reshape(add(matmul(reshape(swap01(x), Shape{T * B, D}), tape.param(w_x), false, true),
                             tape.param(b)),
                         Shape{T, B, 4 * H});
  const Var wh = tape.param(w_h);
  Var h = tape.constant(tape.alloc(Shape{B, H}, dtype));
  Var c = tape.constant(tape.alloc(Shape{B, H}, dtype));
  std::vector<Var> outputs;
  for (std::int64_t t = 0; t < T; ++t) {
    const std::vector<Var> g = split_gates(add(select0(xp, t), matmul(h, wh, false, true)), 4, H);
    const Var c_next = add(mul(sigmoid(g[1]), c), mul(sigmoid(g[0]), nn::tanh(g[2])));
    const Var h_next = mul(sigmoid(g[3]), nn::tanh(c_next));
    c = masked_state(c_next, c, keep, drop, static_cast<std::size_t>(t));
    h = masked_state(h_next, h, keep, drop, static_cast<std::size_t>(t));
    outputs.push_back(h);
  }
  return swap01(stack0(outputs));
}

void Lstm::collect(std::vector<Parameter*>& out) {
  out.push_back(&w_x);
  out.push_back(&w_h);
  out.push_back(&b);
}

// ---- Gru ----

Gru::Gru(Backend& backend, std::string name, std::int64_t in, std::int64_t hidden_, DType dtype, Rng& rng)
    : hidden(hidden_),
      w_x(make_parameter(backend, name + ".w_x", Shape{3 * hidden_, in}, dtype)),
      w_h(make_parameter(backend, name + ".w_h", Shape{3 * hidden_, hidden_}, dtype)),
      b_x(make_parameter(backend, name + ".b_x", Shape{3 * hidden_}, dtype)),
      b_h(make_parameter(backend, name + ".b_h", Shape{3 * hidden_}, dtype)) {
  xavier_uniform(backend, w_x, in, hidden, rng);
  xavier_uniform(backend, w_h, hidden, hidden, rng);
}

Var Gru::forward(Tape& tape, const Var& x, const Tensor& mask) {
  need_rank3("Gru", x, w_x.value.dim(1));
  const std::int64_t B = x.shape()[0], T = x.shape()[1], H = hidden, D = w_x.value.dim(1);
  const DType dtype = x.value().dtype();
  std::vector<Var> keep, drop;
  step_masks(tape, mask, B, T, H, dtype, keep, drop);
  const Var xp = reshape(add(matmul(reshape(swap01(x), Shape{T * B, D}), tape.param(w_x), false, true),
                             tape.param(b_x)),
                         Shape{T, B, 3 * H});
  const Var wh = tape.param(w_h), bh = tape.param(b_h);
  Var h = tape.constant(tape.alloc(Shape{B, H}, dtype));
  std::vector<Var> outputs;
  for (std::int64_t t = 0; t < T; ++t) {
    const std::vector<Var> gx = split_gates(select0(xp, t), 3, H);
    const std::vector<Var> gh = split_gates(add(matmul(h, wh, false, true), bh), 3, H);
    const Var r = sigmoid(add(gx[0], gh[0]));
    const Var z = sigmoid(add(gx[1], gh[1]));
    const Var n = nn::tanh(add(gx[2], mul(r, gh[2])));
    const Var h_next = add(n, mul(z, add(h, n, 1.0, -1.0)));  // (1 - z) n + z h
    h = masked_state(h_next, h, keep, drop, static_cast<std::size_t>(t));
    outputs.push_back(h);
  }
  return swap01(stack0(outputs));
}

void Gru::collect(std::vector<Parameter*>& out) {
  out.push_back(&w_x);
  out.push_back(&w_h);
  out.push_back(&b_x);
  out.push_back(&b_h);
}

// ---- MultiHeadAttention ----

MultiHeadAttention::MultiHeadAttention(Backend& backend, std::string name, std::int64_t dim_, std::int64_t heads_,
                                       DType dtype, Rng& rng, bool causal_, double dropout_)
    : dim(dim_),
      heads(heads_),
      causal(causal_),
      dropout(dropout_),
      query(backend, name + ".query", dim_, dim_, dtype, rng),
      key(backend, name + ".key", dim_, dim_, dtype, rng),
      value(backend, name + ".value", dim_, dim_, dtype, rng),
      output(backend, name + ".output", dim_, dim_, dtype, rng) {
  if (heads <= 0 || dim % heads != 0)
    throw Error("MultiHeadAttention '" + name + "': width " + std::to_string(dim) + " is not divisible by " +
                std::to_string(heads) + " heads");
}

Var MultiHeadAttention::forward(Tape& tape, const Var& x, const Tensor& keys) {
  need_rank3("MultiHeadAttention", x, dim);
  const std::int64_t B = x.shape()[0], T = x.shape()[1], Hh = heads, dh = dim / heads;
  // [B, T, D] -> [B * heads, T, dh]
  auto split_heads = [&](const Var& v) {
    return reshape(permute(reshape(v, Shape{B, T, Hh, dh}), {0, 2, 1, 3}), Shape{B * Hh, T, dh});
  };
  const Var q = split_heads(query.forward(tape, x));
  const Var k = split_heads(key.forward(tape, x));
  const Var v = split_heads(value.forward(tape, x));
  SoftmaxMask mask;
  mask.causal = causal;
  mask.keys = keys;
  Var p = softmax(matmul(q, k, false, true, 1.0 / std::sqrt(static_cast<double>(dh))), mask);
  attention_ = p.value().view(Shape{B, Hh, T, T});
  p = nn::dropout(p, dropout);
  const Var context = reshape(permute(reshape(matmul(p, v), Shape{B, Hh, T, dh}), {0, 2, 1, 3}), Shape{B, T, dim});
  return output.forward(tape, context);
}

void MultiHeadAttention::collect(std::vector<Parameter*>& out) {
  query.collect(out);
  key.collect(out);
  value.collect(out);
  output.collect(out);
}

// ---- PositionalEmbedding ----

PositionalEmbedding::PositionalEmbedding(Backend& backend, std::string name, std::int64_t max_len, std::int64_t dim,
                                         DType dtype, Rng& rng, double stddev)
    : table(backend, name, max_len, dim, dtype, rng, stddev) {}

Var PositionalEmbedding::forward(Tape& tape, const Var& x) {
  const Shape& s = x.shape();
  const std::int64_t max_len = table.weight.value.dim(0);
  if (s.rank() != 3 || s[2] != table.weight.value.dim(1))
    throw Error("PositionalEmbedding: input must be [B, T, " + std::to_string(table.weight.value.dim(1)) +
                "], got " + s.str());
  if (s[1] > max_len)
    throw Error("PositionalEmbedding: sequence length " + std::to_string(s[1]) + " exceeds the maximum " +
                std::to_string(max_len));
  std::vector<std::int32_t> positions(static_cast<std::size_t>(s[0] * s[1]));
  for (std::size_t i = 0; i < positions.size(); ++i)
    positions[i] = static_cast<std::int32_t>(i % static_cast<std::size_t>(s[1]));
  return add(x, table.forward(tape, make_tensor(tape.backend(), Shape{s[0], s[1]}, positions)));
}

void PositionalEmbedding::collect(std::vector<Parameter*>& out) { table.collect(out); }

// ---- FeedForward ----

FeedForward::FeedForward(Backend& backend, std::string name, std::int64_t dim, std::int64_t hidden, DType dtype,
                         Rng& rng, Act act, double dropout_)
    : inner(backend, name + ".inner", dim, hidden, dtype, rng, act),
      outer(backend, name + ".outer", hidden, dim, dtype, rng),
      dropout(dropout_) {}

Var FeedForward::forward(Tape& tape, const Var& x) {
  return outer.forward(tape, nn::dropout(inner.forward(tape, x), dropout));
}

void FeedForward::collect(std::vector<Parameter*>& out) {
  inner.collect(out);
  outer.collect(out);
}

Var residual_norm(Tape& tape, const Var& x, const Var& sublayer_out, LayerNorm& norm, double p) {
  return norm.forward(tape, add(x, nn::dropout(sublayer_out, p)));
}

}  // namespace edgerec::nn
