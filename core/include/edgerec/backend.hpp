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
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "edgerec/data.hpp"

namespace edgerec {

// Row-major float matrix: row r is the vector of user/item r (contiguous, what kernels want).
using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::VectorXf;

// Bumped when the operation table below changes, so out-of-tree backends fail to build loudly.
constexpr int kBackendApiVersion = 2;  // 2: mf_sgd_epoch

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

  // For each r, the k best items i of  U.row(r) . V.row(i)  with the columns of
  // exclude->row(rows[r]) skipped (exclude may be null). U has one row per entry of `rows`
  // (the users' vectors, gathered by the caller); `rows` only names the exclusion rows.
  // Results are sorted by score descending, ties by item index ascending.
  virtual void score_topk(const Matrix& U, const std::vector<index_t>& rows, const Matrix& V,
                          const Csr* exclude, int k, std::vector<std::vector<TopK>>& out);
};

// The serial reference backend (the one wasm uses).
std::unique_ptr<Backend> make_cpu_backend();

}  // namespace edgerec
