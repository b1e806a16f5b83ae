// edgerec/nn/layers.hpp — the layers neural recommenders are built from, and their initialisers.
//
// A layer owns its Parameters (on the backend it was built with) and records its forward pass on
// a Tape (edgerec/nn/autodiff.hpp); it knows no threads and no device. Shapes use B = batch,
// T = sequence length, D = model width, H = hidden width. Weight matrices are stored
// [out, in] (row o holds output o's weights, as PyTorch), so y = x W' + b.
//
// Initialisation is drawn from a seeded edgerec::Rng on the host and uploaded, so the same seed
// gives the same model on every backend and platform; each constructor names its default, and
// the init_* functions below re-initialise a parameter when a model wants another scheme.
//
// Thread-safety: forward() only reads the parameters; training a layer (backward + an
// optimiser step) must not overlap other use of it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgerec/backend.hpp"
#include "edgerec/nn/autodiff.hpp"
#include "edgerec/split.hpp"

namespace edgerec::nn {

// ---- Initialisers (fill a parameter from `rng`, in element order) ------------------------------
// Uniform in [-limit, limit].
void init_uniform(Backend& backend, Parameter& p, double limit, Rng& rng);
// Normal with mean 0 and standard deviation `stddev`.
void init_normal(Backend& backend, Parameter& p, double stddev, Rng& rng);
// Xavier/Glorot uniform (Glorot & Bengio 2010): limit sqrt(6 / (fan_in + fan_out)).
void xavier_uniform(Backend& backend, Parameter& p, std::int64_t fan_in, std::int64_t fan_out, Rng& rng);
// He/Kaiming normal (He et al. 2015), for ReLU-family layers: stddev sqrt(2 / fan_in).
void he_normal(Backend& backend, Parameter& p, std::int64_t fan_in, Rng& rng);
// Every element = value.
void init_constant(Backend& backend, Parameter& p, double value);

// The parameters of a layer or model, in a fixed order (optimisers and model files use it).
class Module {
 public:
  virtual ~Module() = default;
  std::vector<Parameter*> parameters();
  // Appends this module's parameters (and its children's) to `out`, in order; a model made of
  // layers implements it by calling its layers' collect().
  virtual void collect(std::vector<Parameter*>& out) = 0;

 protected:
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
};

// rows x dim lookup table; row -1 of an index is a zero vector (padding). Initialised N(0, stddev).
class Embedding : public Module {
 public:
  Embedding(Backend& backend, std::string name, std::int64_t rows, std::int64_t dim, DType dtype, Rng& rng,
            double stddev = 0.01);
  // index (i32, any shape up to rank 3) -> index.shape + [dim]; the gradient touches only the
  // rows used (scatter-add).
  Var forward(Tape& tape, const Tensor& index);
  Parameter weight;  // [rows, dim]
  void collect(std::vector<Parameter*>& out) override;
};

// y = act(x W' + b) over the last axis: x [..., in] -> [..., out]. Weights Xavier-uniform, or
// He-normal when act is relu or gelu; bias 0.
class Linear : public Module {
 public:
  Linear(Backend& backend, std::string name, std::int64_t in, std::int64_t out, DType dtype, Rng& rng,
         Act act = Act::identity, bool bias = true);
  Var forward(Tape& tape, const Var& x);
  Parameter weight;  // [out, in]
  Parameter bias;    // [out] (undefined value when built without bias)
  Act act;
  void collect(std::vector<Parameter*>& out) override;
};

// Linear layers of widths sizes[0] -> sizes[1] -> ... with `hidden` between them and `output`
// after the last (the NCF tower: ReLU hidden layers). sizes needs at least two entries.
class Mlp : public Module {
 public:
  Mlp(Backend& backend, std::string name, const std::vector<std::int64_t>& sizes, DType dtype, Rng& rng,
      Act hidden = Act::relu, Act output = Act::identity, double dropout = 0.0);
  Var forward(Tape& tape, const Var& x);
  std::vector<std::unique_ptr<Linear>> layers;
  double dropout;  // between layers, while the tape is training
  void collect(std::vector<Parameter*>& out) override;
};

// Layer normalisation over the last axis with learned gain (1) and bias (0).
class LayerNorm : public Module {
 public:
  LayerNorm(Backend& backend, std::string name, std::int64_t dim, DType dtype, double eps = 1e-8);
  Var forward(Tape& tape, const Var& x);
  Parameter gamma, beta;  // [dim]
  double eps;
  void collect(std::vector<Parameter*>& out) override;
};

// The padding mask of recurrent layers, i32 [B, T] with 1 at real steps and 0 at padding (the
// same form as attention's key mask); undefined = every step is real. On a padding step the state is carried
// over unchanged (so left padding leaves the state at zero until the sequence starts, and right
// padding keeps the last real state), and the output at that step is that carried state.

// LSTM (Hochreiter & Schmidhuber 1997, with forget gate) unrolled over T steps:
//   [i f g o] = x_t W_x' + h W_h' + b;  c = sig(f) c + sig(i) tanh(g);  h = sig(o) tanh(c).
// State starts at zero. Xavier-uniform weights, bias 0 except the forget gate's 1 (Jozefowicz
// et al. 2015).
class Lstm : public Module {
 public:
  Lstm(Backend& backend, std::string name, std::int64_t in, std::int64_t hidden, DType dtype, Rng& rng);
  // x [B, T, in] -> outputs [B, T, hidden] (h at every step).
  Var forward(Tape& tape, const Var& x, const Tensor& mask = {});
  std::int64_t hidden;
  Parameter w_x;  // [4 hidden, in], gate blocks i, f, g, o
  Parameter w_h;  // [4 hidden, hidden]
  Parameter b;    // [4 hidden]
  void collect(std::vector<Parameter*>& out) override;
};

// GRU (Cho et al. 2014) in PyTorch's / cuDNN's form, the recurrent layer of GRU4Rec:
//   r = sig(x W_xr' + b_xr + h W_hr' + b_hr);  z = sig(x W_xz' + b_xz + h W_hz' + b_hz)
//   n = tanh(x W_xn' + b_xn + r * (h W_hn' + b_hn));  h = (1 - z) n + z h.
// State starts at zero. Xavier-uniform weights, biases 0.
class Gru : public Module {
 public:
  Gru(Backend& backend, std::string name, std::int64_t in, std::int64_t hidden, DType dtype, Rng& rng);
  Var forward(Tape& tape, const Var& x, const Tensor& mask = {});
  std::int64_t hidden;
  Parameter w_x;  // [3 hidden, in], gate blocks r, z, n
  Parameter w_h;  // [3 hidden, hidden]
  Parameter b_x;  // [3 hidden]
  Parameter b_h;  // [3 hidden]
  void collect(std::vector<Parameter*>& out) override;
};

// Multi-head self-attention (Vaswani et al. 2017): heads of width D / heads, scores scaled by
// 1/sqrt(D / heads), softmax over the keys with an optional causal mask and key padding mask,
// then an output projection. x [B, T, D] -> [B, T, D]. The attention weights of the last forward
// are kept (last_attention()) for explanations. Projections: Linear defaults (Xavier-uniform).
class MultiHeadAttention : public Module {
 public:
  MultiHeadAttention(Backend& backend, std::string name, std::int64_t dim, std::int64_t heads, DType dtype,
                     Rng& rng, bool causal = true, double dropout = 0.0);
  // keys: optional i32 [B, T], 0 at padding positions (no query attends to them).
  Var forward(Tape& tape, const Var& x, const Tensor& keys = {});
  // [B, heads, T, T] of the last forward (rows: queries, columns: keys); undefined before.
  const Tensor& last_attention() const { return attention_; }
  std::int64_t dim, heads;
  bool causal;
  double dropout;  // on the attention weights, while training
  Linear query, key, value, output;
  void collect(std::vector<Parameter*>& out) override;

 private:
  Tensor attention_;
};

// Learned positions: forward(x [B, T, D]) = x + P[0..T), P [max_len, D] initialised N(0, stddev).
// T > max_len throws Error.
class PositionalEmbedding : public Module {
 public:
  PositionalEmbedding(Backend& backend, std::string name, std::int64_t max_len, std::int64_t dim, DType dtype,
                      Rng& rng, double stddev = 0.01);
  Var forward(Tape& tape, const Var& x);
  Embedding table;
  void collect(std::vector<Parameter*>& out) override;
};

// Point-wise feed-forward: Linear(D, hidden, act) -> dropout -> Linear(hidden, D), at every position.
class FeedForward : public Module {
 public:
  FeedForward(Backend& backend, std::string name, std::int64_t dim, std::int64_t hidden, DType dtype, Rng& rng,
              Act act = Act::gelu, double dropout = 0.0);
  Var forward(Tape& tape, const Var& x);
  Linear inner, outer;
  double dropout;
  void collect(std::vector<Parameter*>& out) override;
};

// The residual connection with layer norm of a Transformer sub-layer (post-norm):
// norm(x + dropout(sublayer_out)).
Var residual_norm(Tape& tape, const Var& x, const Var& sublayer_out, LayerNorm& norm, double dropout = 0.0);

}  // namespace edgerec::nn
