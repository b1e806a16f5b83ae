// edgerec/backend.hpp — the seam between model code and the hardware that runs the heavy steps.
//
// Model code never loops over all users or all items itself for the expensive steps; it asks a
// Backend. The CPU backend in the core is the reference: serial, no threads, and the only one the
// wasm build has. native/ adds an OpenMP backend that only overrides parallel_for(), so its
// results are the same arithmetic; a CUDA backend (native/cuda/) overrides the heavy operations
// themselves and is checked against the CPU reference by the conformance tests.
//
// Determinism: every operation is deterministic for given inputs and thread count. Operations
// whose result could depend on scheduling (BPR's SGD) are written so that it depends only on
// `threads()`, never on timing.
//
// Thread-safety: a Backend may be used by one training or scoring call at a time.
//
// Three sections: the algorithm steps of the factorisation trainers over host Eigen matrices
// (als_half_step, bpr_epoch, mf_sgd_epoch, score_topk); their whole fits (als_fit, bpr_fit,
// mf_sgd_fit: the trainers' epoch loops, which a device backend runs with the parameters kept on
// the device); and the tensor operations the neural layers (edgerec/nn/) are written against,
// over buffers the backend owns (edgerec/tensor.hpp), which stay on the device across steps.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "edgerec/data.hpp"
#include "edgerec/error.hpp"
#include "edgerec/tensor.hpp"

namespace edgerec {

// Row-major float matrix: row r is the vector of user/item r (contiguous, what kernels want).
using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::VectorXf;

// Bumped when the operation table below changes, so out-of-tree backends fail to build loudly.
// 2: mf_sgd_epoch; 3: the tensor operations; 4: the whole-fit entries (als_fit, bpr_fit,
// mf_sgd_fit) through which a device backend keeps the factorisation parameters on the device.
constexpr int kBackendApiVersion = 4;

struct AlsStep {
  float reg = 0.1f;     // L2 regularisation lambda
  int cg_steps = 3;     // conjugate-gradient iterations per row (warm-started from X)
};

struct BprStep {
  float lr = 0.05f;
  float reg = 0.0025f;     // L2 on the factors touched by each sample
  float bias_reg = 0.0f;   // L2 on the item bias
  std::uint64_t seed = 0;  // epoch-specific seed (the model mixes the epoch in)
};

// Biased matrix factorisation by SGD (Funk 2006; Koren, Bell, Volinsky 2009), the update of
// Surprise's SVD. lr is per sample; the L2 weights are per sample too (each rating regularises the
// parameters it touches).
struct MfSgdStep {
  float lr = 0.005f;
  float reg = 0.02f;       // L2 on the factors p_u, q_i
  float bias_reg = 0.02f;  // L2 on the biases b_u, b_i
  float mu = 0.0f;         // global mean rating (a constant, not trained)
};

// A (user, items) list to score against an item matrix, with items to skip.
struct TopK {
  index_t item;
  float score;
};

// ---- Parameters of the tensor operations ------------------------------------------------------

// Element-wise activations. softplus(x) = log(1 + e^x) (computed stably) is here because the
// losses are built from it: BCE from logits = softplus(x) - x y, BPR = softplus(s_neg - s_pos).
// gelu is the exact x Phi(x) (erf form, as BERT and PyTorch's default), not the tanh approximation.
enum class Act : std::uint8_t { identity, relu, sigmoid, tanh, gelu, softplus };
const char* act_name(Act act);

// Which entries of a softmax row take part. x is viewed as [R, C] (C = its last dimension).
//  - causal: x is [..., C, C] (R a multiple of C); row r is query position q = r mod C and sees
//    columns 0..q only (self-attention's "no peeking ahead").
//  - keys (optional, i32 [B, C]): the rows split into B equal consecutive groups (for scores laid
//    out [B, heads, T, C] a group is one sequence's heads x T rows); in group b, column j takes
//    part only where keys[b, j] != 0 (padding positions are 0).
// A row whose entries are all masked gives 0 everywhere (softmax and log-softmax alike) and a
// zero gradient. Masked entries of a log-softmax are 0, not -inf, so no infinity reaches a sum.
struct SoftmaxMask {
  bool causal = false;
  Tensor keys;
};

// SGD with (heavy-ball) momentum and L2 weight decay, as PyTorch's SGD (dampening 0):
//   g = grad + weight_decay * param;  v = momentum * v + g;  param -= lr * v
// (with momentum 0 the velocity tensor is not read and may be undefined).
struct SgdStep {
  double lr = 0.01;
  double momentum = 0.0;
  double weight_decay = 0.0;
};

// Adam (Kingma & Ba 2015) with bias correction, as PyTorch's Adam / AdamW:
//   Adam  (decoupled = false): g = grad + weight_decay * param (L2 folded into the gradient)
//   AdamW (decoupled = true):  param *= 1 - lr * weight_decay  before the step (Loshchilov &
//                              Hutter 2019), g = grad
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   param -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps)
// `step` is 1 for the first update.
struct AdamStep {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled = false;
  std::int64_t step = 1;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Number of parallel workers. Stratified SGD uses this many blocks, so a model trained with a
  // different thread count can differ (documented in every trainer); CPU reference = 1.
  virtual int threads() const { return 1; }

  // Runs body(begin, end, chunk) over [0, n) split into `chunks` contiguous ranges (chunk index
  // `chunk`). Serial in the reference backend; the OpenMP backend runs chunks in parallel.
  virtual void parallel_for(std::size_t n, int chunks,
                            const std::function<void(std::size_t, std::size_t, int)>& body);

  // One half-step of implicit ALS (Hu, Koren, Volinsky 2008) with conjugate gradient
  // (Takacs et al. 2011): for every row r of `confidence` (values are c-1 = alpha * r_ui, > 0)
  // improves X.row(r) towards the solution of
  //   (Y'Y + Y' (C_r - I) Y + reg I) x = Y' C_r p_r,  p_r = 1 on the row's columns.
  // `YtY` is Y'Y precomputed by the caller. Rows with no entries are set to zero.
  virtual void als_half_step(const Csr& confidence, const Matrix& Y, const Matrix& YtY,
                             Matrix& X, const AlsStep& step);

  // One epoch of BPR (Rendle et al. 2009) with one sampled (user, positive, negative) triple per
  // training interaction. `item_bias` has one entry per item. Stratified over threads() blocks
  // of users x items so no two workers touch the same parameters: deterministic per seed and
  // thread count. Returns the mean log-sigmoid loss of the epoch's samples.
  virtual double bpr_epoch(const Csr& by_user, Matrix& P, Matrix& Q, Vector& item_bias,
                           const BprStep& step);

  // One epoch of SGD for biased MF over samples[order[0]], samples[order[1]], ... (the caller
  // shuffles `order` with its seed). For each sample (u, i, r), with
  // e = r - (mu + user_bias[u] + item_bias[i] + P.row(u) . Q.row(i)), one step down the gradient
  // of  e^2/2 + reg/2 (|p_u|^2 + |q_i|^2) + bias_reg/2 (b_u^2 + b_i^2):
  //   b_u += lr (e - bias_reg b_u);  b_i += lr (e - bias_reg b_i);
  //   p_u += lr (e q_i - reg p_u);   q_i += lr (e p_u - reg q_i)   (both from the old values).
  // P is users x k, Q items x k. SGD on explicit ratings is not stratified: every backend runs
  // the samples in `order` sequentially, so the result is the same for any thread count.
  // Returns the mean of e^2 over the epoch (each e taken before its own step).
  virtual double mf_sgd_epoch(const std::vector<Interaction>& samples,
                              const std::vector<std::uint32_t>& order, Matrix& P, Matrix& Q,
                              Vector& user_bias, Vector& item_bias, const MfSgdStep& step);

  // ---- Whole fits of the factorisation trainers (API version 4) ----------------------------------
  //
  // The trainers hand their whole epoch loop to the backend, so that a device backend keeps the
  // parameters on the device for every epoch (uploaded once, downloaded once at the end) and only
  // small per-epoch inputs (a seed, an order) cross the bus. The base implementations are the
  // loops the trainers ran before, over the per-epoch entries above, so host backends give the
  // same bits as before. after_epoch(e, loss) runs on the host after epoch e (0-based) with that
  // epoch's loss (0 for ALS); it may throw to stop the fit, which leaves the matrices in an
  // unspecified state. A device backend's matrices are current on the host only when the call
  // returns.
  using EpochHook = std::function<void(int epoch, double loss)>;

  // iALS: `epochs` times, U from V (als_half_step over by_user with Y'Y = gram_matrix(V)), then V
  // from U (over by_item = by_user transposed).
  virtual void als_fit(const Csr& by_user, const Csr& by_item, Matrix& U, Matrix& V,
                       const AlsStep& step, int epochs, const EpochHook& after_epoch);
  // BPR: epoch e is bpr_epoch(by_user, P, Q, item_bias, step_of(e)); its loss goes to after_epoch.
  virtual void bpr_fit(const Csr& by_user, Matrix& P, Matrix& Q, Vector& item_bias, int epochs,
                       const std::function<BprStep(int epoch)>& step_of,
                       const EpochHook& after_epoch);
  // Biased MF: before epoch e, shuffle(e, order) reorders `order` in place (the caller's seeded
  // shuffle, on the host); then mf_sgd_epoch(samples, order, ...).
  virtual void mf_sgd_fit(const std::vector<Interaction>& samples, std::vector<std::uint32_t>& order,
                          Matrix& P, Matrix& Q, Vector& user_bias, Vector& item_bias,
                          const MfSgdStep& step, int epochs,
                          const std::function<void(int epoch, std::vector<std::uint32_t>& order)>& shuffle,
                          const EpochHook& after_epoch);

  // For each r, the k best items i of  U.row(r) . V.row(i)  with the columns of
  // exclude->row(rows[r]) skipped (exclude may be null). U has one row per entry of `rows`
  // (the users' vectors, gathered by the caller); `rows` only names the exclusion rows.
  // Results are sorted by score descending, ties by item index ascending.
  virtual void score_topk(const Matrix& U, const std::vector<index_t>& rows, const Matrix& V,
                          const Csr* exclude, int k, std::vector<std::vector<TopK>>& out);

  // ---- Tensor operations ------------------------------------------------------------------------
  //
  // The table the neural layers (edgerec/nn/) are written against. Every entry is implemented by
  // this base class: the serial reference (what wasm runs), written once as a template over f32
  // and f64, with its loops split through parallel_for() so a backend that parallelises
  // parallel_for() (OpenMP) runs them in parallel unchanged. A device backend overrides all of
  // them (and alloc/upload/download); the conformance test (tests/unit/test_nn_ops.cpp) runs
  // every entry on each backend against this reference.
  //
  // Conventions:
  //  - Tensors are views (edgerec/tensor.hpp) of buffers this backend allocated. Floating-point
  //    arguments of one call share one dtype (f32 or f64); indices are i32.
  //  - A mismatched shape or dtype throws Error naming the operation and the shapes; nothing is
  //    written then. Outputs are written, never accumulated into, unless the entry says so.
  //  - Aliasing: element-wise entries (add, mul, scale, activation, activation_backward, dropout,
  //    the optimiser updates) accept an output that is exactly one of their inputs (same first
  //    element, same size: in place). Other outputs must not overlap any input.
  //  - Determinism: every entry gives the same bits for the same inputs and threads(). Entries
  //    split over independent rows or elements give the same bits for any thread count and on
  //    every host backend ("exact" below). Sums run in a fixed order that does not depend on the
  //    thread count. The one exception is gemm, whose native override (Eigen) blocks the
  //    products differently from the reference: it may differ from the reference by rounding.
  //  - Scalars (alpha, beta, lr, ...) are passed as double and applied in the tensors' dtype.

  // A zero-filled tensor. Throws Error when the element count overflows.
  virtual Tensor alloc(const Shape& shape, DType dtype);
  // Host <-> backend copies of dst.numel() elements of dst's dtype (src.numel() for download).
  virtual void upload(const Tensor& dst, const void* host_src);
  virtual void download(const Tensor& src, void* host_dst);
  // dst = src element by element (same dtype and element count; shapes may differ). Exact.
  virtual void copy(const Tensor& src, const Tensor& dst);
  // Every element of dst = value. Exact.
  virtual void fill(const Tensor& dst, double value);

  // C = alpha op(A) op(B) + beta C, op(X) = X or X' (trans_*): op(A) is [m, k], op(B) [k, n],
  // C [m, n]. Batched: C of rank 3 [batch, m, n] with A and B each either rank 3 with the same
  // batch, or rank 2 (the same matrix for every batch entry: stride 0). beta = 0 ignores C's
  // old contents (NaN included). Reference: a plain loop summing k in order; the native override
  // may differ by rounding (see above).
  virtual void gemm(bool trans_a, bool trans_b, double alpha, const Tensor& a, const Tensor& b,
                    double beta, const Tensor& c);
  // out = x with its axes reordered: out.dim(i) = x.dim(axes[i]) for i < x.rank() (entries of
  // `axes` from x.rank() on are ignored). Reorders [B, T, H, d] to [B, H, T, d] for attention
  // heads and [B, T, D] to [T, B, D] for recurrent steps. Exact.
  virtual void permute(const Tensor& x, const std::array<int, kMaxRank>& axes, const Tensor& out);

  // Embedding lookup: out row r = table row index[r]; index -1 gives a zero row (padding).
  // table [V, d] (any rank, viewed as [V, d] with d its last dimension), index i32 with n
  // entries (any shape), out [n, d] (any shape with n*d elements). An index outside [-1, V)
  // throws Error. Exact.
  virtual void gather_rows(const Tensor& table, const Tensor& index, const Tensor& out);
  // The embedding gradient: table row index[r] += src row r, for every r; index -1 is skipped.
  // Duplicate indices are summed in increasing r, on every backend and for any thread count
  // (rows are grouped by destination, each group summed in order): exact. Accumulates into
  // `table`. Shapes as gather_rows with (src, table) for (out, table).
  virtual void scatter_add_rows(const Tensor& src, const Tensor& index, const Tensor& table);

  // out = alpha a + beta b. b is either a's shape (element count) or one row of it (b.numel() ==
  // a's last dimension: broadcast over every row, for biases). axpy (y += alpha x) is
  // add(y, x, y, 1, alpha). Exact.
  virtual void add(const Tensor& a, const Tensor& b, const Tensor& out, double alpha = 1.0,
                   double beta = 1.0);
  // out = a * b element-wise, b broadcast as in add. Exact.
  virtual void mul(const Tensor& a, const Tensor& b, const Tensor& out);
  // out = alpha x + beta. Exact.
  virtual void scale(const Tensor& x, double alpha, double beta, const Tensor& out);
  // y = act(x). Exact.
  virtual void activation(Act act, const Tensor& x, const Tensor& y);
  // dx = dy * act'(x), from the forward input x (relu'(0) = 0). Exact.
  virtual void activation_backward(Act act, const Tensor& x, const Tensor& dy, const Tensor& dx);

  // Softmax (or log-softmax when `log`) of every row of x viewed as [R, C], with `mask` (see
  // SoftmaxMask), into y of x's shape. Max-subtracted, sums in column order. Exact.
  virtual void softmax(const Tensor& x, const Tensor& y, bool log, const SoftmaxMask& mask = {});
  // From the forward output y and dy: softmax  dx = y (dy - sum_j dy_j y_j);
  // log-softmax  dx = dy - exp(y) sum_j dy_j; masked entries get 0. The same mask as forward.
  virtual void softmax_backward(const Tensor& y, const Tensor& dy, const Tensor& dx, bool log,
                                const SoftmaxMask& mask = {});

  // Layer normalisation over the last axis (Ba et al. 2016): for each row of x [R, C],
  // y = (x - mean) * rstd * gamma + beta, rstd = 1 / sqrt(var + eps) with the biased variance.
  // gamma, beta [C]; mean and rstd [R] are written for the backward pass. Exact.
  virtual void layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps,
                          const Tensor& y, const Tensor& mean, const Tensor& rstd);
  // Writes dx [R, C], dgamma [C], dbeta [C] from the forward's x, gamma, mean, rstd and dy.
  // dgamma and dbeta sum the rows in order. Exact.
  virtual void layer_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                                   const Tensor& rstd, const Tensor& dy, const Tensor& dx,
                                   const Tensor& dgamma, const Tensor& dbeta);

  // Inverted dropout: y_i = x_i / (1 - p) where element i is kept, 0 where dropped. Element i is
  // dropped when a hash of (seed, i) falls below p, so the mask depends on the seed and the
  // element's position only (any backend, any thread count: exact), and the backward pass is
  // the same call on dy with the same seed. p in [0, 1) (Error otherwise); p = 0 copies.
  virtual void dropout(const Tensor& x, double p, std::uint64_t seed, const Tensor& y);

  // Column sums: x viewed as [R, C] with C = out.numel(): out[j] = sum_r x[r, j] (bias
  // gradients; with out of one element, the sum of all of x). Rows summed in order. Exact.
  virtual void reduce_rows(const Tensor& x, const Tensor& out);
  // Row sums: x viewed as [R, C] with R = out.numel(): out[r] = sum_j x[r, j]. Exact.
  virtual void reduce_cols(const Tensor& x, const Tensor& out);
  // sum_i x_i^2 in double, read back to the host (global-norm gradient clipping). Summed in
  // fixed blocks of 4096 elements, block sums added in order: exact.
  virtual double sum_squares(const Tensor& x);

  // One optimiser step on one parameter tensor (see SgdStep / AdamStep): param, grad and the
  // state tensors have one shape; the state starts zero-filled. Element-wise: exact.
  virtual void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& velocity,
                          const SgdStep& step);
  virtual void adam_update(const Tensor& param, const Tensor& grad, const Tensor& m,
                           const Tensor& v, const AdamStep& step);

  // The k best columns of every row of scores [R, C] (f32 or f64): index i32 [R, k] and values
  // [R, k] (scores' dtype), best first, ties by lower column; NaN ranks below everything.
  // 1 <= k <= C. Exact.
  virtual void topk_rows(const Tensor& scores, int k, const Tensor& index, const Tensor& values);
};

// The shape rule of Backend::gemm, for backends that override it: checks the operands (throws
// Error as gemm does) and returns the batch count and op(A) [m, k], op(B) [k, n] sizes;
// batched_a / batched_b say whether that operand has its own matrix per batch entry.
struct GemmShape {
  std::size_t batch = 1, m = 0, n = 0, k = 0;
  bool batched_a = false, batched_b = false;
};
GemmShape gemm_shape(bool trans_a, bool trans_b, const Tensor& a, const Tensor& b, const Tensor& c);

// G = M'M (f x f) of a row-major factor matrix, in iALS's fixed summation order: 16 row chunks
// (split through backend.parallel_for), each summed row by row, the chunk sums added in order, so
// it does not depend on the thread count.
void gram_matrix(Backend& backend, const Matrix& M, Matrix& G);

// Host helpers over Backend::alloc/upload/download.
Tensor make_tensor(Backend& backend, const Shape& shape, const std::vector<float>& values);
Tensor make_tensor(Backend& backend, const Shape& shape, const std::vector<double>& values);
Tensor make_tensor(Backend& backend, const Shape& shape, const std::vector<std::int32_t>& values);
template <typename T>
std::vector<T> to_vector(Backend& backend, const Tensor& t) {
  if (t.dtype() != dtype_of<T>::value)
    throw Error(std::string("to_vector: tensor is ") + dtype_name(t.dtype()) + ", asked for " +
                dtype_name(dtype_of<T>::value));
  std::vector<T> out(t.numel());
  backend.download(t, out.data());
  return out;
}

// The serial reference backend (the one wasm uses).
std::unique_ptr<Backend> make_cpu_backend();

}  // namespace edgerec
