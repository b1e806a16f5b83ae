// edgerec/nn/autodiff.hpp — reverse-mode automatic differentiation over the Backend's tensors.
//
// A Tape records the operations of one forward pass; backward(loss) walks them in reverse and
// accumulates d loss / d x into every variable that needs it. Parameters (the trainable tensors
// of layers) outlive tapes: their gradients accumulate into Parameter::grad across backward
// calls until an optimiser's zero_grad(). A typical training step:
//
//   nn::Tape tape(backend, step_seed);          // one tape per step
//   nn::Var loss = nn::bce_with_logits(model.forward(tape, batch), labels);
//   tape.backward(loss);                        // fills Parameter::grad
//   optimiser.clip_grad_norm(5.0); optimiser.step(); optimiser.zero_grad();
//
// Every operation below computes its value on the tape's Backend at once (eager) and records
// how to propagate its gradient; no operation loops over elements itself, so layers and models
// written with them know no threads and no device. All variables of one tape share one dtype
// (f32 for training, f64 for gradient checks); indices are i32 tensors.
//
// Determinism: the gradients are a fixed sequence of backend operations, so they are as
// deterministic as the backend's (backend.hpp); dropout masks come from the tape's seed.
//
// Ownership and lifetime: a Var is a handle into its Tape and is valid until the tape is
// destroyed (references returned by value()/grad() too); its tensors are shared views that stay alive as long as anyone holds
// them. Thread-safety: a Tape is used by one thread at a time.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "edgerec/backend.hpp"
#include "edgerec/tensor.hpp"

namespace edgerec::nn {

// A trainable tensor: its value and its accumulated gradient (same shape, zero-filled at
// creation), both owned by the backend for the life of the model.
struct Parameter {
  std::string name;  // for messages and (later) model files, e.g. "attention.0.query.weight"
  Tensor value;
  Tensor grad;
};
Parameter make_parameter(Backend& backend, std::string name, const Shape& shape, DType dtype);

class Tape;

// A handle to a value recorded on a Tape.
class Var {
 public:
  Var() = default;
  bool defined() const { return tape_ != nullptr; }
  const Tensor& value() const;
  // d loss / d this after Tape::backward, for leaves: an input's gradient (undefined when none
  // reached it), a parameter's accumulated Parameter::grad. Intermediate results' gradients are
  // released during backward as soon as they have been propagated.
  const Tensor& grad() const;
  const Shape& shape() const { return value().shape(); }
  Tape& tape() const { return *tape_; }
  std::size_t id() const { return id_; }

 private:
  friend class Tape;
  Var(Tape* tape, std::size_t id) : tape_(tape), id_(id) {}
  Tape* tape_ = nullptr;
  std::size_t id_ = 0;
};

class Tape {
 public:
  // `seed` drives the dropout masks of this tape (next_seed()); `training` = false turns
  // dropout into the identity (inference).
  explicit Tape(Backend& backend, std::uint64_t seed = 0, bool training = true);
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;
  ~Tape();

  Backend& backend() const { return backend_; }
  bool training() const { return training_; }
  // A new seed for each call (seed, call count): the same forward pass draws the same masks.
  std::uint64_t next_seed();

  // Leaves. constant: no gradient. input: a leaf whose gradient backward() computes (gradient
  // checks of inputs). param: the parameter's value, whose gradient accumulates into p.grad
  // (p must outlive the tape).
  Var constant(Tensor value);
  Var input(Tensor value);
  Var param(Parameter& p);

  // Runs the recorded operations' gradients from `loss` (one element) back to the leaves,
  // seeding d loss / d loss = 1. May be called once per tape.
  void backward(const Var& loss);

  // ---- For operations (nn/ops implementations and custom layers) -----------------------------
  using BackwardFn = std::function<void(Tape&, const Tensor& grad)>;
  // Records an operation's result. `backward` receives d loss / d result and hands the parents
  // their gradients through accumulate()/grad_for(); it is dropped when no parent needs a
  // gradient.
  Var record(Tensor value, const std::vector<Var>& parents, BackwardFn backward);
  bool needs_grad(const Var& v) const;
  // Adds g (v's element count; any shape) into v's gradient. `owned`: g is a fresh tensor no one
  // else reads, which may become the gradient itself instead of being copied.
  void accumulate(const Var& v, const Tensor& g, bool owned);
  // v's gradient tensor to accumulate into directly (allocated zero-filled on first use), for
  // backward passes that add in place, such as scatter_add_rows.
  Tensor grad_for(const Var& v);
  // A zero-filled tensor of the tape's backend.
  Tensor alloc(const Shape& shape, DType dtype) { return backend_.alloc(shape, dtype); }

 private:
  friend class Var;
  struct Node {
    Tensor value;
    Tensor grad;
    Parameter* param = nullptr;
    bool requires_grad = false;
    BackwardFn backward;
  };
  Backend& backend_;
  std::uint64_t seed_;
  std::uint64_t seed_calls_ = 0;
  bool training_;
  bool backward_done_ = false;
  // A deque: recording a node never moves the others, so references from Var::value() stay
  // valid while an operation records more nodes.
  std::deque<Node> nodes_;
};

// ---- Operations ------------------------------------------------------------------------------
// Shapes as the Backend entries they call (backend.hpp); a mismatch throws Error.

// alpha op(a) op(b), op = transpose when trans_*: [m, k] x [k, n], or batched [batch, m, k] x
// [batch, k, n] with one rank-2 operand shared by every batch entry.
Var matmul(const Var& a, const Var& b, bool trans_a = false, bool trans_b = false, double alpha = 1.0);
// alpha a + beta b; b has a's element count or is one row of a (broadcast, e.g. a bias).
Var add(const Var& a, const Var& b, double alpha = 1.0, double beta = 1.0);
// a * b element-wise, b broadcast as in add.
Var mul(const Var& a, const Var& b);
// alpha x + beta.
Var scale(const Var& x, double alpha, double beta = 0.0);
Var activation(const Var& x, Act act);
Var relu(const Var& x);
Var sigmoid(const Var& x);
Var tanh(const Var& x);
Var gelu(const Var& x);
// Over the last axis, with an optional mask (SoftmaxMask; masked entries are 0).
Var softmax(const Var& x, const SoftmaxMask& mask = {});
Var log_softmax(const Var& x, const SoftmaxMask& mask = {});
// Over the last axis; gamma, beta [C].
Var layer_norm(const Var& x, const Var& gamma, const Var& beta, double eps = 1e-5);
// Inverted dropout with the tape's next_seed(); the identity when p == 0 or the tape is not
// training.
Var dropout(const Var& x, double p);
// Rows of table [V, d] at `index` (i32, any shape, -1 = zero row): shape index.shape + [d].
// The table's gradient is a scatter-add (only the rows used are touched).
Var gather(const Var& table, const Tensor& index);
// The same elements under another shape.
Var reshape(const Var& x, const Shape& shape);
// Axes reordered: result.dim(i) = x.dim(axes[i]).
Var permute(const Var& x, const std::array<int, kMaxRank>& axes);
// Entry i of axis 0 (one rank lower), and entries [begin, end) of axis 0.
Var select0(const Var& x, std::int64_t i);
Var narrow0(const Var& x, std::int64_t begin, std::int64_t end);
// Stacks equal-shaped parts along a new axis 0.
Var stack0(const std::vector<Var>& parts);
// Sum or mean of all elements (shape [] : one element).
Var sum(const Var& x);
Var mean(const Var& x);
// Row sums of x viewed as [R, C] with C its last dimension: shape [R].
Var sum_last(const Var& x);
// out[r] = x[r, index[r]] for x [R, C] and index i32 [R]; index -1 gives 0 (and no gradient).
Var pick(const Var& x, const Tensor& index);

}  // namespace edgerec::nn
