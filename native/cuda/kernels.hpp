// Internal to native/cuda/: the device kernels' launchers (kernels.cu, compiled by nvcc) as plain
// C++ functions, so the Backend class (cuda_backend.cpp) compiles with the host compiler and
// nvcc never sees Eigen. Every launcher enqueues its work on `stream` and returns at once, unless
// it says it synchronises. Pointers are device pointers; sizes are element counts.
#pragma once

#include <cstddef>
#include <cstdint>

#include <cuda_runtime_api.h>

namespace edgerec::cuda {

// Throws edgerec::Error naming `what` when `status` is not cudaSuccess.
void check(cudaError_t status, const char* what);
// Throws when the last launch failed.
void check_launch(const char* what);

template <typename T> void fill(T* p, std::size_t n, T value, cudaStream_t s);

// out = x with its axes permuted: dims/strides of x read in out's order, padded to 4 leading
// axes (Backend::permute); esize 4 or 8 bytes.
void permute(const void* x, void* out, const std::size_t dims[4], const std::size_t strides[4],
             std::size_t esize, cudaStream_t s);

// Index checks: the first position whose index is outside [-1, rows), or -1 (synchronises).
std::int64_t first_bad_index(const std::int32_t* idx, std::size_t n, std::size_t rows,
                             std::int64_t* scratch, cudaStream_t s);
template <typename T>
void gather_rows(const T* table, const std::int32_t* idx, T* out, std::size_t n, std::size_t d, cudaStream_t s);
// table[key] += src[order[q]] for the positions q < count of the (key, position) pairs sorted
// by sort_positions: each destination's rows added in increasing position (the reference's order).
template <typename T>
void scatter_add_sorted(const T* src, const std::uint32_t* sorted_keys, const std::int32_t* order,
                        std::size_t count, T* table, std::size_t d, cudaStream_t s);
// Stable sort of the positions 0..n-1 by idx (-1 sorts last, as `rows`). Called with
// temp = nullptr it only sets temp_bytes (cub's scratch size). All arrays have n entries.
void sort_positions(const std::int32_t* idx, std::size_t n, std::size_t rows, std::uint32_t* keys_in,
                    std::uint32_t* keys_out, std::int32_t* order_in, std::int32_t* order_out, void* temp,
                    std::size_t& temp_bytes, cudaStream_t s);

template <typename T>
void add(const T* a, const T* b, T* out, std::size_t n, std::size_t bcols, T alpha, T beta, cudaStream_t s);
template <typename T>
void mul(const T* a, const T* b, T* out, std::size_t n, std::size_t bcols, cudaStream_t s);
template <typename T>
void scale(const T* x, T* out, std::size_t n, T alpha, T beta, cudaStream_t s);
template <typename T>
void activation(int act, const T* x, T* y, std::size_t n, cudaStream_t s);
template <typename T>
void activation_backward(int act, const T* x, const T* dy, T* dx, std::size_t n, cudaStream_t s);

struct Mask {
  bool causal = false;
  const std::int32_t* keys = nullptr;
  std::size_t rows_per_group = 1;
};
template <typename T>
void softmax(const T* x, T* y, std::size_t rows, std::size_t cols, bool log, Mask m, cudaStream_t s);
template <typename T>
void softmax_backward(const T* y, const T* dy, T* dx, std::size_t rows, std::size_t cols, bool log,
                      Mask m, cudaStream_t s);
template <typename T>
void layer_norm(const T* x, const T* gamma, const T* beta, T eps, T* y, T* mean, T* rstd,
                std::size_t rows, std::size_t cols, cudaStream_t s);
template <typename T>
void layer_norm_backward(const T* x, const T* gamma, const T* mean, const T* rstd, const T* dy,
                         T* dx, T* dgamma, T* dbeta, std::size_t rows, std::size_t cols, cudaStream_t s);
template <typename T>
void dropout(const T* x, T* y, std::size_t n, double p, std::uint64_t key, T keep_scale, cudaStream_t s);
template <typename T>
void reduce_rows(const T* x, T* out, std::size_t rows, std::size_t cols, cudaStream_t s);
template <typename T>
void reduce_cols(const T* x, T* out, std::size_t rows, std::size_t cols, cudaStream_t s);
// partial[b] = sum of x[i]^2 (double) over block b of 4096 elements, in order.
template <typename T>
void sum_squares_blocks(const T* x, std::size_t n, double* partial, cudaStream_t s);
template <typename T>
void sgd_update(T* p, const T* g, T* v, std::size_t n, T lr, T mom, T wd, cudaStream_t s);
template <typename T>
void adam_update(T* p, const T* g, T* m, T* v, std::size_t n, T lr, T b1, T b2, T eps, T wd,
                 T bc1, T bc2, T shrink, bool decoupled, cudaStream_t s);
// Rows of scores [rows, cols]: the k best columns, best first, ties by lower column, NaN last.
// skip (nullable, [rows, cols] bytes): nonzero columns are left out; a row with fewer than k
// candidates pads its tail with index -1.
template <typename T>
void topk_rows(const T* scores, std::size_t rows, std::size_t cols, int k, std::int32_t* index,
               T* values, const std::uint8_t* skip, cudaStream_t s);
// mask[r, c] = 1 for the columns skip_cols[skip_ptr[r] .. skip_ptr[r + 1]), else 0.
void mark_skips(const std::int64_t* skip_ptr, const std::int32_t* skip_cols, std::size_t rows,
                std::size_t cols, std::uint8_t* mask, cudaStream_t s);

// ---- factorisation -------------------------------------------------------------------------

// Adds `value` to the diagonal of the f x f matrix G.
void add_diagonal(float* G, int f, float value, cudaStream_t s);
// The iALS conjugate-gradient state of every row at once (the implicit library's batched GPU
// CG): X, R, P, AP rows x f; rs, done per row. AP must hold -X G (init) or P G (step) on entry.
void als_cg_init(const std::uint64_t* indptr, const std::uint32_t* cols, const float* vals,
                 std::size_t rows, int f, const float* Y, float* X, float* R, float* P,
                 float* rs, std::uint8_t* done, cudaStream_t s);
void als_cg_step(const std::uint64_t* indptr, const std::uint32_t* cols, const float* vals,
                 std::size_t rows, int f, const float* Y, float* X, float* R, float* P,
                 float* AP, float* rs, std::uint8_t* done, cudaStream_t s);

// BPR: one epoch's strata (see cuda_backend.cpp).
struct BprEpoch {
  const std::uint64_t* indptr;  // by-user CSR, sorted rows
  const std::uint32_t* cols;
  const std::uint32_t* user_of;   // nnz: each interaction's user
  const std::int32_t* ublock;     // users: user block
  const std::int32_t* iblock;     // items: this epoch's item block
  const std::uint32_t* neg_items; // items grouped by block, ascending within a block
  const std::int64_t* neg_start;  // T + 1
  int T;
  int f;
  std::size_t nnz;
  float lr, reg, bias_reg;
  std::uint64_t seed;
  float* P;
  float* Q;
  float* bias;
};
// Sorts the interactions by stratum (stable): order/keys scratch of nnz entries, seg_start of
// T*T + 1 entries; temp as sort_positions.
void bpr_strata(const BprEpoch& e, std::uint32_t* keys, std::uint32_t* keys_sorted,
                std::uint32_t* order_in, std::uint32_t* order, std::int64_t* seg_start,
                void* temp, std::size_t& temp_bytes, cudaStream_t s);
// Sub-epoch `sub`: T warps, one per stratum (t, (t + sub) % T). loss/count: T*T slots.
void bpr_sub_epoch(const BprEpoch& e, int sub, std::uint32_t* order, std::uint32_t* cand,
                   const std::int64_t* seg_start, double* loss, std::uint64_t* count, cudaStream_t s);

// Biased MF SGD over order[0..n) sequentially (one warp); se: the sum of e^2 (double).
void mf_sgd_epoch(const std::uint32_t* users, const std::uint32_t* items, const float* values,
                  const std::uint32_t* order, std::size_t n, int k, std::size_t stride, float* P,
                  float* Q, float* bu, float* bi, float lr, float reg, float bias_reg, float mu,
                  double* se, cudaStream_t s);

}  // namespace edgerec::cuda
