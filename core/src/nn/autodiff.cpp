// The tape and its operations (edgerec/nn/autodiff.hpp). Each operation computes its value with
// Backend entries and records a closure that turns d loss / d value into its parents' gradients,
// again only through Backend entries.
#include "edgerec/nn/autodiff.hpp"

#include <limits>
#include <utility>

#include "edgerec/error.hpp"
#include "edgerec/split.hpp"
#include "serve_only.hpp"

namespace edgerec::nn {

namespace {

// An operation's gradient closure. The serving-only build (wasm) runs forward passes on a tape
// but never a backward pass, so there it records none: the closures are never instantiated and
// the compiler drops them, and the linker the backward tensor operations only they call.
template <class F>
Tape::BackwardFn grad_fn(F&& backward) {
  if constexpr (kServeOnly) {
    return {};
  } else {
    return Tape::BackwardFn(std::forward<F>(backward));
  }
}

}  // namespace

Parameter make_parameter(Backend& backend, std::string name, const Shape& shape, DType dtype) {
  if (dtype == DType::i32) throw Error("parameter '" + name + "' must be f32 or f64");
  Parameter p;
  p.name = std::move(name);
  p.value = backend.alloc(shape, dtype);
  p.grad = backend.alloc(shape, dtype);
  return p;
}

const Tensor& Var::value() const {
  if (!tape_) throw Error("use of an undefined nn::Var");
  return tape_->nodes_[id_].value;
}

const Tensor& Var::grad() const {
  if (!tape_) throw Error("use of an undefined nn::Var");
  const Tape::Node& n = tape_->nodes_[id_];
  return n.param ? n.param->grad : n.grad;
}

Tape::Tape(Backend& backend, std::uint64_t seed, bool training)
    : backend_(backend), seed_(seed), training_(training) {}

Tape::~Tape() = default;

std::uint64_t Tape::next_seed() { return mix_seed(seed_, 0x64726f70ull /* "drop" */, seed_calls_++); }

Var Tape::constant(Tensor value) {
  if (!value.defined()) throw Error("nn::Tape::constant: undefined tensor");
  nodes_.push_back(Node{std::move(value), {}, nullptr, false, {}});
  return Var(this, nodes_.size() - 1);
}

Var Tape::input(Tensor value) {
  if (!value.defined()) throw Error("nn::Tape::input: undefined tensor");
  nodes_.push_back(Node{std::move(value), {}, nullptr, true, {}});
  return Var(this, nodes_.size() - 1);
}

Var Tape::param(Parameter& p) {
  if (!p.value.defined() || !p.grad.defined() || p.grad.numel() != p.value.numel())
    throw Error("nn::Tape::param: parameter '" + p.name + "' has no value or gradient tensor");
  nodes_.push_back(Node{p.value, {}, &p, true, {}});
  return Var(this, nodes_.size() - 1);
}

Var Tape::record(Tensor value, const std::vector<Var>& parents, BackwardFn backward) {
  bool requires = false;
  for (const Var& p : parents) {
    if (p.tape_ != this) throw Error("nn: an operation mixes variables of different tapes");
    requires = requires || nodes_[p.id_].requires_grad;
  }
  nodes_.push_back(Node{std::move(value), {}, nullptr, requires, requires ? std::move(backward) : BackwardFn{}});
  return Var(this, nodes_.size() - 1);
}

bool Tape::needs_grad(const Var& v) const { return nodes_[v.id_].requires_grad; }

void Tape::accumulate(const Var& v, const Tensor& g, bool owned) {
  Node& n = nodes_[v.id_];
  if (!n.requires_grad) return;
  if (g.numel() != n.value.numel())
    throw Error("nn: gradient " + g.shape().str() + " does not fit value " + n.value.shape().str());
  if (n.param) {
    backend_.add(n.param->grad, g.view(n.param->grad.shape()), n.param->grad);
  } else if (!n.grad.defined()) {
    if (owned) {
      n.grad = g.view(n.value.shape());
    } else {
      n.grad = backend_.alloc(n.value.shape(), n.value.dtype());
      backend_.copy(g, n.grad);
    }
  } else {
    backend_.add(n.grad, g.view(n.grad.shape()), n.grad);
  }
}

Tensor Tape::grad_for(const Var& v) {
  Node& n = nodes_[v.id_];
  if (n.param) return n.param->grad;
  if (!n.grad.defined()) n.grad = backend_.alloc(n.value.shape(), n.value.dtype());
  return n.grad;
}

void Tape::backward(const Var& loss) {
  EDGEREC_TRAINING_ONLY("backpropagation (nn::Tape::backward)");
  if (loss.tape_ != this) throw Error("nn::Tape::backward: the loss belongs to another tape");
  if (backward_done_) throw Error("nn::Tape::backward: called twice on one tape");
  const Node& l = nodes_[loss.id_];
  if (l.value.numel() != 1)
    throw Error("nn::Tape::backward: the loss must have one element, got shape " + l.value.shape().str());
  backward_done_ = true;
  if (!l.requires_grad) return;
  Tensor seed = backend_.alloc(l.value.shape(), l.value.dtype());
  backend_.fill(seed, 1.0);
  accumulate(loss, seed, true);
  for (std::size_t id = loss.id_ + 1; id-- > 0;) {
    Node& n = nodes_[id];
    if (!n.backward || !n.grad.defined()) continue;
    BackwardFn fn = std::move(n.backward);
    const Tensor grad = n.grad;
    fn(*this, grad);
    // Free intermediate gradients as soon as they are used (their values stay for the caller).
    n.grad = Tensor();
  }
}

// ---- Operations ------------------------------------------------------------------------------

namespace {

Backend& be(const Var& v) { return v.tape().backend(); }

Tensor like(const Var& v) { return be(v).alloc(v.value().shape(), v.value().dtype()); }

// d(alpha op(a) op(b)) for one operand, reduced over the batch when that operand is shared.
// The gradient of operand X is gemm(tx, ty, alpha, P, Q) per the cases in matmul's backward.
Tensor matmul_operand_grad(Backend& backend, const Tensor& operand, bool batched_out, bool ta,
                           bool tb, double alpha, const Tensor& p, const Tensor& q, std::size_t batch) {
  if (operand.rank() == 3 || !batched_out) {
    Tensor g = backend.alloc(operand.shape(), operand.dtype());
    backend.gemm(ta, tb, alpha, p, q, 0.0, g);
    return g;
  }
  Tensor per_batch = backend.alloc(Shape{static_cast<std::int64_t>(batch), operand.dim(0), operand.dim(1)},
                                   operand.dtype());
  backend.gemm(ta, tb, alpha, p, q, 0.0, per_batch);
  Tensor g = backend.alloc(operand.shape(), operand.dtype());
  backend.reduce_rows(per_batch, g);
  return g;
}

}  // namespace

Var matmul(const Var& a, const Var& b, bool trans_a, bool trans_b, double alpha) {
  const Tensor& A = a.value();
  const Tensor& B = b.value();
  if (A.rank() < 2 || A.rank() > 3 || B.rank() < 2 || B.rank() > 3)
    throw Error("nn::matmul: operands must have rank 2 or 3, got " + A.shape().str() + " and " + B.shape().str());
  const std::int64_t m = trans_a ? A.dim(A.rank() - 1) : A.dim(A.rank() - 2);
  const std::int64_t n = trans_b ? B.dim(B.rank() - 2) : B.dim(B.rank() - 1);
  const bool batched = A.rank() == 3 || B.rank() == 3;
  const std::int64_t batch = A.rank() == 3 ? A.dim(0) : (B.rank() == 3 ? B.dim(0) : 1);
  Tensor C = be(a).alloc(batched ? Shape{batch, m, n} : Shape{m, n}, A.dtype());
  be(a).gemm(trans_a, trans_b, alpha, A, B, 0.0, C);
  return a.tape().record(C, {a, b}, grad_fn([a, b, trans_a, trans_b, alpha, batched, batch](Tape& t, const Tensor& dC) {
    Backend& backend = t.backend();
    const Tensor& A = a.value();
    const Tensor& B = b.value();
    const auto nb = static_cast<std::size_t>(batch);
    if (t.needs_grad(a)) {
      // d op(A) = alpha dC op(B)'; dA = that, or its transpose when trans_a.
      Tensor g = trans_a ? matmul_operand_grad(backend, A, batched, trans_b, true, alpha, B, dC, nb)
                         : matmul_operand_grad(backend, A, batched, false, !trans_b, alpha, dC, B, nb);
      t.accumulate(a, g, true);
    }
    if (t.needs_grad(b)) {
      // d op(B) = alpha op(A)' dC; dB = that, or its transpose when trans_b.
      Tensor g = trans_b ? matmul_operand_grad(backend, B, batched, true, trans_a, alpha, dC, A, nb)
                         : matmul_operand_grad(backend, B, batched, !trans_a, false, alpha, A, dC, nb);
      t.accumulate(b, g, true);
    }
  }));
}

Var add(const Var& a, const Var& b, double alpha, double beta) {
  Tensor out = like(a);
  be(a).add(a.value(), b.value(), out, alpha, beta);
  const bool broadcast = b.value().numel() != a.value().numel();
  return a.tape().record(out, {a, b}, grad_fn([a, b, alpha, beta, broadcast](Tape& t, const Tensor& dy) {
    Backend& backend = t.backend();
    if (t.needs_grad(a)) {
      if (alpha == 1.0) {
        t.accumulate(a, dy, false);
      } else {
        Tensor g = like(a);
        backend.scale(dy, alpha, 0.0, g);
        t.accumulate(a, g, true);
      }
    }
    if (t.needs_grad(b)) {
      Tensor g = like(b);
      if (broadcast) {
        backend.reduce_rows(dy, g);
        if (beta != 1.0) backend.scale(g, beta, 0.0, g);
      } else {
        backend.scale(dy, beta, 0.0, g);
      }
      t.accumulate(b, g, true);
    }
  }));
}

Var mul(const Var& a, const Var& b) {
  Tensor out = like(a);
  be(a).mul(a.value(), b.value(), out);
  const bool broadcast = b.value().numel() != a.value().numel();
  return a.tape().record(out, {a, b}, grad_fn([a, b, broadcast](Tape& t, const Tensor& dy) {
    Backend& backend = t.backend();
    if (t.needs_grad(a)) {
      Tensor g = like(a);
      backend.mul(dy, b.value(), g);
      t.accumulate(a, g, true);
    }
    if (t.needs_grad(b)) {
      Tensor full = backend.alloc(dy.shape(), dy.dtype());
      backend.mul(dy, a.value(), full);
      if (broadcast) {
        Tensor g = like(b);
        backend.reduce_rows(full, g);
        t.accumulate(b, g, true);
      } else {
        t.accumulate(b, full, true);
      }
    }
  }));
}

Var scale(const Var& x, double alpha, double beta) {
  Tensor out = like(x);
  be(x).scale(x.value(), alpha, beta, out);
  return x.tape().record(out, {x}, grad_fn([x, alpha](Tape& t, const Tensor& dy) {
    Tensor g = like(x);
    t.backend().scale(dy, alpha, 0.0, g);
    t.accumulate(x, g, true);
  }));
}

Var activation(const Var& x, Act act) {
  if (act == Act::identity) return x;
  Tensor out = like(x);
  be(x).activation(act, x.value(), out);
  return x.tape().record(out, {x}, grad_fn([x, act](Tape& t, const Tensor& dy) {
    Tensor g = like(x);
    t.backend().activation_backward(act, x.value(), dy, g);
    t.accumulate(x, g, true);
  }));
}

Var relu(const Var& x) { return activation(x, Act::relu); }
Var sigmoid(const Var& x) { return activation(x, Act::sigmoid); }
Var tanh(const Var& x) { return activation(x, Act::tanh); }
Var gelu(const Var& x) { return activation(x, Act::gelu); }

namespace {
Var softmax_op(const Var& x, const SoftmaxMask& mask, bool log) {
  Tensor out = like(x);
  be(x).softmax(x.value(), out, log, mask);
  return x.tape().record(out, {x}, grad_fn([x, out, mask, log](Tape& t, const Tensor& dy) {
    Tensor g = like(x);
    t.backend().softmax_backward(out, dy, g, log, mask);
    t.accumulate(x, g, true);
  }));
}
}  // namespace

Var softmax(const Var& x, const SoftmaxMask& mask) { return softmax_op(x, mask, false); }
Var log_softmax(const Var& x, const SoftmaxMask& mask) { return softmax_op(x, mask, true); }

Var layer_norm(const Var& x, const Var& gamma, const Var& beta, double eps) {
  Backend& backend = be(x);
  const Tensor& X = x.value();
  Tensor y = like(x);
  Tensor mean = backend.alloc(Shape{static_cast<std::int64_t>(X.rows())}, X.dtype());
  Tensor rstd = backend.alloc(Shape{static_cast<std::int64_t>(X.rows())}, X.dtype());
  backend.layer_norm(X, gamma.value(), beta.value(), eps, y, mean, rstd);
  return x.tape().record(y, {x, gamma, beta}, grad_fn([x, gamma, beta, mean, rstd](Tape& t, const Tensor& dy) {
    Tensor dx = like(x), dg = like(gamma), db = like(beta);
    t.backend().layer_norm_backward(x.value(), gamma.value(), mean, rstd, dy, dx, dg, db);
    t.accumulate(x, dx, true);
    t.accumulate(gamma, dg, true);
    t.accumulate(beta, db, true);
  }));
}

Var dropout(const Var& x, double p) {
  if (p == 0.0 || !x.tape().training()) return x;
  const std::uint64_t seed = x.tape().next_seed();
  Tensor out = like(x);
  be(x).dropout(x.value(), p, seed, out);
  return x.tape().record(out, {x}, grad_fn([x, p, seed](Tape& t, const Tensor& dy) {
    Tensor g = like(x);
    t.backend().dropout(dy, p, seed, g);
    t.accumulate(x, g, true);
  }));
}

Var gather(const Var& table, const Tensor& index) {
  const Tensor& T = table.value();
  if (T.rank() != 2) throw Error("nn::gather: the table must be [rows, dim], got " + T.shape().str());
  if (index.rank() >= kMaxRank)
    throw Error("nn::gather: index " + index.shape().str() + " has too many dimensions");
  Shape shape;
  switch (index.rank()) {
    case 0: shape = Shape{T.dim(1)}; break;
    case 1: shape = Shape{index.dim(0), T.dim(1)}; break;
    case 2: shape = Shape{index.dim(0), index.dim(1), T.dim(1)}; break;
    default: shape = Shape{index.dim(0), index.dim(1), index.dim(2), T.dim(1)}; break;
  }
  Tensor out = be(table).alloc(shape, T.dtype());
  be(table).gather_rows(T, index, out);
  return table.tape().record(out, {table}, grad_fn([table, index](Tape& t, const Tensor& dy) {
    t.backend().scatter_add_rows(dy, index, t.grad_for(table));
  }));
}

Var reshape(const Var& x, const Shape& shape) {
  Tensor out = x.value().view(shape);
  return x.tape().record(out, {x}, grad_fn([x](Tape& t, const Tensor& dy) { t.accumulate(x, dy, false); }));
}

Var permute(const Var& x, const std::array<int, kMaxRank>& axes) {
  const Tensor& X = x.value();
  std::array<std::int64_t, kMaxRank> d{};
  for (int i = 0; i < X.rank(); ++i) {
    const int ax = axes[static_cast<std::size_t>(i)];
    if (ax < 0 || ax >= X.rank()) throw Error("nn::permute: axis " + std::to_string(ax) + " out of range");
    d[static_cast<std::size_t>(i)] = X.dim(ax);
  }
  Shape shape;
  switch (X.rank()) {
    case 1: shape = Shape{d[0]}; break;
    case 2: shape = Shape{d[0], d[1]}; break;
    case 3: shape = Shape{d[0], d[1], d[2]}; break;
    case 4: shape = Shape{d[0], d[1], d[2], d[3]}; break;
    default: shape = Shape{}; break;
  }
  Tensor out = be(x).alloc(shape, X.dtype());
  be(x).permute(X, axes, out);
  std::array<int, kMaxRank> inverse{0, 1, 2, 3};
  for (int i = 0; i < X.rank(); ++i) inverse[static_cast<std::size_t>(axes[static_cast<std::size_t>(i)])] = i;
  return x.tape().record(out, {x}, grad_fn([x, inverse](Tape& t, const Tensor& dy) {
    Tensor g = like(x);
    t.backend().permute(dy, inverse, g);
    t.accumulate(x, g, true);
  }));
}

Var narrow0(const Var& x, std::int64_t begin, std::int64_t end) {
  Tensor out = x.value().narrow0(begin, end);
  return x.tape().record(out, {x}, grad_fn([x, begin, end](Tape& t, const Tensor& dy) {
    Tensor part = t.grad_for(x).narrow0(begin, end);
    t.backend().add(part, dy.view(part.shape()), part);
  }));
}

Var select0(const Var& x, std::int64_t i) {
  Tensor out = x.value().select0(i);
  return x.tape().record(out, {x}, grad_fn([x, i](Tape& t, const Tensor& dy) {
    Tensor part = t.grad_for(x).select0(i);
    t.backend().add(part, dy.view(part.shape()), part);
  }));
}

Var stack0(const std::vector<Var>& parts) {
  if (parts.empty()) throw Error("nn::stack0: nothing to stack");
  const Tensor& first = parts[0].value();
  if (first.rank() >= kMaxRank) throw Error("nn::stack0: parts " + first.shape().str() + " have too many dimensions");
  const auto n = static_cast<std::int64_t>(parts.size());
  Shape shape;
  switch (first.rank()) {
    case 0: shape = Shape{n}; break;
    case 1: shape = Shape{n, first.dim(0)}; break;
    case 2: shape = Shape{n, first.dim(0), first.dim(1)}; break;
    default: shape = Shape{n, first.dim(0), first.dim(1), first.dim(2)}; break;
  }
  Backend& backend = be(parts[0]);
  Tensor out = backend.alloc(shape, first.dtype());
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].value().shape() != first.shape())
      throw Error("nn::stack0: part " + std::to_string(i) + " has shape " + parts[i].value().shape().str() +
                  ", part 0 has " + first.shape().str());
    backend.copy(parts[i].value(), out.select0(static_cast<std::int64_t>(i)));
  }
  return parts[0].tape().record(out, parts, grad_fn([parts](Tape& t, const Tensor& dy) {
    for (std::size_t i = 0; i < parts.size(); ++i)
      if (t.needs_grad(parts[i])) t.accumulate(parts[i], dy.select0(static_cast<std::int64_t>(i)), false);
  }));
}

Var sum(const Var& x) {
  Tensor out = be(x).alloc(Shape{}, x.value().dtype());
  be(x).reduce_rows(x.value(), out);
  return x.tape().record(out, {x}, grad_fn([x](Tape& t, const Tensor& dy) {
    // Every element's gradient is dy: dy broadcast as the one column of [n, 1].
    const auto n = static_cast<std::int64_t>(x.value().numel());
    Tensor g = t.alloc(Shape{n, 1}, dy.dtype());
    t.backend().add(g, dy.view(Shape{1}), g, 0.0, 1.0);
    t.accumulate(x, g, true);
  }));
}

Var mean(const Var& x) {
  const std::size_t n = x.value().numel();
  if (n == 0) throw Error("nn::mean: empty tensor");
  return scale(sum(x), 1.0 / static_cast<double>(n));
}

Var sum_last(const Var& x) {
  const Tensor& X = x.value();
  const auto R = static_cast<std::int64_t>(X.rows()), C = static_cast<std::int64_t>(X.cols());
  Tensor out = be(x).alloc(Shape{R}, X.dtype());
  be(x).reduce_cols(X, out);
  return x.tape().record(out, {x}, grad_fn([x, R, C](Tape& t, const Tensor& dy) {
    // dx[r, j] = dy[r]: the outer product of dy with a row of ones (each entry one exact product).
    Tensor ones = t.alloc(Shape{1, C}, dy.dtype());
    t.backend().fill(ones, 1.0);
    Tensor g = t.alloc(Shape{R, C}, dy.dtype());
    t.backend().gemm(false, false, 1.0, dy.view(Shape{R, 1}), ones, 0.0, g);
    t.accumulate(x, g, true);
  }));
}

Var pick(const Var& x, const Tensor& index) {
  const Tensor& X = x.value();
  const auto R = static_cast<std::int64_t>(X.rows()), C = static_cast<std::int64_t>(X.cols());
  if (index.dtype() != DType::i32 || index.numel() != static_cast<std::size_t>(R))
    throw Error("nn::pick: index must be i32 with one entry per row of " + X.shape().str() + ", got " +
                index.shape().str());
  if (R * C > std::numeric_limits<std::int32_t>::max())
    throw Error("nn::pick: " + X.shape().str() + " has more elements than i32 indices reach");
  Backend& backend = be(x);
  std::vector<std::int32_t> flat = to_vector<std::int32_t>(backend, index);
  for (std::int64_t r = 0; r < R; ++r) {
    std::int32_t& v = flat[static_cast<std::size_t>(r)];
    if (v < -1 || v >= C)
      throw Error("nn::pick: index " + std::to_string(v) + " in row " + std::to_string(r) + " is outside [-1, " +
                  std::to_string(C) + ")");
    if (v >= 0) v = static_cast<std::int32_t>(r * C + v);
  }
  Tensor flat_index = make_tensor(backend, Shape{R}, flat);
  Tensor out = backend.alloc(Shape{R}, X.dtype());
  backend.gather_rows(X.view(Shape{R * C, 1}), flat_index, out);
  return x.tape().record(out, {x}, grad_fn([x, flat_index, R, C](Tape& t, const Tensor& dy) {
    t.backend().scatter_add_rows(dy, flat_index, t.grad_for(x).view(Shape{R * C, 1}));
  }));
}

}  // namespace edgerec::nn
