// The CUDA backend's device kernels (launchers declared in kernels.hpp). Arithmetic follows the
// CPU reference (core/src/backend/*.cpp) operation by operation; the library is compiled with
// --fmad=false so that no multiply-add is contracted where the reference has none. Where the
// reference sums in a fixed sequential order that a device can afford (reductions, optimiser
// steps, scatter-add groups), the same order is kept (bit-exact); row-wise softmax and layer
// norm sum over a warp in a fixed tree (deterministic, equal to the reference within rounding).
#include "kernels.hpp"

#include <cmath>
#include <string>

#include <cub/device/device_radix_sort.cuh>

#include "edgerec/error.hpp"
#include "eval/rng_core.hpp"

namespace edgerec::cuda {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw Error(std::string("CUDA: ") + what + ": " + cudaGetErrorString(status));
}

void check_launch(const char* what) { check(cudaGetLastError(), what); }

namespace {

constexpr int kThreads = 256;

unsigned blocks_for(std::size_t n, int threads = kThreads) {
  const std::size_t b = (n + static_cast<std::size_t>(threads) - 1) / static_cast<std::size_t>(threads);
  return static_cast<unsigned>(b < 65535u * 16u ? (b ? b : 1) : 65535u * 16u);
}

// Grid-stride loop over [0, n).
#define GRID_LOOP(i, n)                                                                        \
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)

template <typename T>
__device__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
template <typename T>
__device__ T warp_max(T v) {
  for (int o = 16; o > 0; o >>= 1) {
    const T w = __shfl_xor_sync(0xffffffffu, v, o);
    v = w > v ? w : v;
  }
  return v;
}

template <typename T>
__global__ void k_fill(T* p, std::size_t n, T v) {
  GRID_LOOP(i, n) p[i] = v;
}

template <typename U>
__global__ void k_permute(const U* x, U* out, std::size_t d0, std::size_t d1, std::size_t d2,
                          std::size_t d3, std::size_t s0, std::size_t s1, std::size_t s2, std::size_t s3) {
  const std::size_t n = d0 * d1 * d2 * d3;
  GRID_LOOP(o, n) {
    std::size_t r = o;
    const std::size_t i3 = r % d3;
    r /= d3;
    const std::size_t i2 = r % d2;
    r /= d2;
    const std::size_t i1 = r % d1;
    const std::size_t i0 = r / d1;
    out[o] = x[i0 * s0 + i1 * s1 + i2 * s2 + i3 * s3];
  }
}

__global__ void k_bad_index(const std::int32_t* idx, std::size_t n, std::size_t rows, unsigned long long* first) {
  GRID_LOOP(r, n) {
    const std::int32_t v = idx[r];
    if (v < -1 || (v >= 0 && static_cast<std::size_t>(v) >= rows)) atomicMin(first, static_cast<unsigned long long>(r));
  }
}

template <typename T>
__global__ void k_gather(const T* table, const std::int32_t* idx, T* out, std::size_t n, std::size_t d) {
  GRID_LOOP(e, n * d) {
    const std::size_t r = e / d, j = e % d;
    const std::int32_t v = idx[r];
    out[e] = v < 0 ? T(0) : table[static_cast<std::size_t>(v) * d + j];
  }
}

__global__ void k_sort_keys(const std::int32_t* idx, std::size_t n, std::uint32_t* keys, std::int32_t* order, std::uint32_t none) {
  GRID_LOOP(r, n) {
    keys[r] = idx[r] < 0 ? none : static_cast<std::uint32_t>(idx[r]);
    order[r] = static_cast<std::int32_t>(r);
  }
}

// One thread per (group head, column): the group's rows added in order.
template <typename T>
__global__ void k_scatter_sorted(const T* src, const std::uint32_t* keys, const std::int32_t* order,
                                 std::size_t count, T* table, std::size_t d) {
  GRID_LOOP(e, count * d) {
    const std::size_t q = e / d, j = e % d;
    if (q > 0 && keys[q - 1] == keys[q]) continue;
    T* row = table + static_cast<std::size_t>(keys[q]) * d;
    T acc = row[j];
    for (std::size_t z = q; z < count && keys[z] == keys[q]; ++z)
      acc += src[static_cast<std::size_t>(order[z]) * d + j];
    row[j] = acc;
  }
}

template <typename T>
__global__ void k_add(const T* a, const T* b, T* out, std::size_t n, std::size_t bcols, T al, T be) {
  GRID_LOOP(i, n) out[i] = al * a[i] + be * b[bcols ? i % bcols : i];
}
template <typename T>
__global__ void k_mul(const T* a, const T* b, T* out, std::size_t n, std::size_t bcols) {
  GRID_LOOP(i, n) out[i] = a[i] * b[bcols ? i % bcols : i];
}
template <typename T>
__global__ void k_scale(const T* x, T* out, std::size_t n, T al, T be) {
  GRID_LOOP(i, n) out[i] = al * x[i] + be;
}

// Act: identity, relu, sigmoid, tanh, gelu, softplus (edgerec::Act's order).
template <typename T>
__device__ T d_sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + exp(-x));
  const T e = exp(x);
  return e / (T(1) + e);
}
template <typename T>
__device__ T d_act(int act, T x) {
  switch (act) {
    case 0: return x;
    case 1: return x > 0 ? x : T(0);
    case 2: return d_sigmoid(x);
    case 3: return tanh(x);
    case 4: return T(0.5) * x * (T(1) + erf(x * T(0.70710678118654752440)));
    case 5: return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
  }
  return x;
}
template <typename T>
__device__ T d_act_derivative(int act, T x) {
  switch (act) {
    case 0: return T(1);
    case 1: return x > 0 ? T(1) : T(0);
    case 2: {
      const T s = d_sigmoid(x);
      return s * (T(1) - s);
    }
    case 3: {
      const T t = tanh(x);
      return T(1) - t * t;
    }
    case 4: {
      const T cdf = T(0.5) * (T(1) + erf(x * T(0.70710678118654752440)));
      const T pdf = exp(T(-0.5) * x * x) * T(0.39894228040143267794);
      return cdf + x * pdf;
    }
    case 5: return d_sigmoid(x);
  }
  return T(1);
}
template <typename T>
__global__ void k_act(int act, const T* x, T* y, std::size_t n) {
  GRID_LOOP(i, n) y[i] = d_act(act, x[i]);
}
template <typename T>
__global__ void k_act_backward(int act, const T* x, const T* dy, T* dx, std::size_t n) {
  GRID_LOOP(i, n) dx[i] = dy[i] * d_act_derivative(act, x[i]);
}

__device__ bool mask_valid(const Mask& m, std::size_t cols, std::size_t r, std::size_t j) {
  if (m.causal && j > r % cols) return false;
  if (m.keys && m.keys[(r / m.rows_per_group) * cols + j] == 0) return false;
  return true;
}

// One warp per row.
template <typename T>
__global__ void k_softmax(const T* x, T* y, std::size_t rows, std::size_t cols, bool log, Mask m) {
  const std::size_t r = (blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows) return;
  const T* xr = x + r * cols;
  T* yr = y + r * cols;
  bool any = false;
  T mx = 0;
  for (std::size_t j = lane; j < cols; j += 32)
    if (mask_valid(m, cols, r, j)) {
      if (!any || xr[j] > mx) mx = xr[j];
      any = true;
    }
  const bool row_any = __any_sync(0xffffffffu, any);
  if (!row_any) {
    for (std::size_t j = lane; j < cols; j += 32) yr[j] = 0;
    return;
  }
  // Lanes without a valid entry take part with -inf (the max of the rest).
  mx = warp_max(any ? mx : -INFINITY);
  T sum = 0;
  for (std::size_t j = lane; j < cols; j += 32)
    if (mask_valid(m, cols, r, j)) sum += exp(xr[j] - mx);
  sum = warp_sum(sum);
  const T lse = ::log(sum);
  for (std::size_t j = lane; j < cols; j += 32)
    yr[j] = !mask_valid(m, cols, r, j) ? T(0) : (log ? xr[j] - mx - lse : exp(xr[j] - mx) / sum);
}

template <typename T>
__global__ void k_softmax_backward(const T* y, const T* dy, T* dx, std::size_t rows, std::size_t cols,
                                   bool log, Mask m) {
  const std::size_t r = (blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows) return;
  const T* yr = y + r * cols;
  const T* gr = dy + r * cols;
  T* dr = dx + r * cols;
  T s = 0;
  for (std::size_t j = lane; j < cols; j += 32)
    if (mask_valid(m, cols, r, j)) s += log ? gr[j] : gr[j] * yr[j];
  s = warp_sum(s);
  for (std::size_t j = lane; j < cols; j += 32)
    dr[j] = !mask_valid(m, cols, r, j) ? T(0) : (log ? gr[j] - exp(yr[j]) * s : yr[j] * (gr[j] - s));
}

template <typename T>
__global__ void k_layer_norm(const T* x, const T* g, const T* b, T eps, T* y, T* mean, T* rstd,
                             std::size_t rows, std::size_t cols) {
  const std::size_t r = (blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows) return;
  const T* xr = x + r * cols;
  T sum = 0;
  for (std::size_t j = lane; j < cols; j += 32) sum += xr[j];
  const T mu = warp_sum(sum) / static_cast<T>(cols);
  T var = 0;
  for (std::size_t j = lane; j < cols; j += 32) var += (xr[j] - mu) * (xr[j] - mu);
  var = warp_sum(var) / static_cast<T>(cols);
  const T rs = T(1) / sqrt(var + eps);
  if (lane == 0) {
    mean[r] = mu;
    rstd[r] = rs;
  }
  for (std::size_t j = lane; j < cols; j += 32) y[r * cols + j] = (xr[j] - mu) * rs * g[j] + b[j];
}

template <typename T>
__global__ void k_layer_norm_dx(const T* x, const T* g, const T* mean, const T* rstd, const T* dy,
                                T* dx, std::size_t rows, std::size_t cols) {
  const std::size_t r = (blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows) return;
  const T* xr = x + r * cols;
  const T* gr = dy + r * cols;
  const T M = mean[r], S = rstd[r];
  T s1 = 0, s2 = 0;
  for (std::size_t j = lane; j < cols; j += 32) {
    const T gh = gr[j] * g[j];
    s1 += gh;
    s2 += gh * (xr[j] - M) * S;
  }
  s1 = warp_sum(s1) / static_cast<T>(cols);
  s2 = warp_sum(s2) / static_cast<T>(cols);
  for (std::size_t j = lane; j < cols; j += 32) {
    const T xh = (xr[j] - M) * S;
    dx[r * cols + j] = S * (gr[j] * g[j] - s1 - xh * s2);
  }
}

// Column sums in row order (the reference's order: exact).
template <typename T>
__global__ void k_layer_norm_dgb(const T* x, const T* mean, const T* rstd, const T* dy, T* dg, T* db,
                                 std::size_t rows, std::size_t cols) {
  GRID_LOOP(j, cols) {
    T sg = 0, sb = 0;
    for (std::size_t r = 0; r < rows; ++r) {
      const T gv = dy[r * cols + j];
      sg += gv * (x[r * cols + j] - mean[r]) * rstd[r];
      sb += gv;
    }
    dg[j] = sg;
    db[j] = sb;
  }
}

template <typename T>
__global__ void k_dropout(const T* x, T* y, std::size_t n, double p, std::uint64_t key, T keep) {
  GRID_LOOP(i, n) {
    const double u = rng_core::dropout_uniform(key, static_cast<std::uint64_t>(i));
    y[i] = u < p ? T(0) : x[i] * keep;
  }
}

template <typename T>
__global__ void k_reduce_rows(const T* x, T* out, std::size_t rows, std::size_t cols) {
  GRID_LOOP(j, cols) {
    double s = 0;
    for (std::size_t r = 0; r < rows; ++r) s += x[r * cols + j];
    out[j] = static_cast<T>(s);
  }
}
template <typename T>
__global__ void k_reduce_cols(const T* x, T* out, std::size_t rows, std::size_t cols) {
  GRID_LOOP(r, rows) {
    double s = 0;
    for (std::size_t j = 0; j < cols; ++j) s += x[r * cols + j];
    out[r] = static_cast<T>(s);
  }
}
template <typename T>
__global__ void k_sum_squares(const T* x, std::size_t n, double* partial, std::size_t blocks) {
  GRID_LOOP(b, blocks) {
    double s = 0;
    const std::size_t end = (b + 1) * 4096 < n ? (b + 1) * 4096 : n;
    for (std::size_t i = b * 4096; i < end; ++i) s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    partial[b] = s;
  }
}

template <typename T>
__global__ void k_sgd(T* P, const T* G, T* V, std::size_t n, T lr, T mom, T wd) {
  GRID_LOOP(i, n) {
    T g = G[i] + wd * P[i];
    if (V) {
      V[i] = mom * V[i] + g;
      g = V[i];
    }
    P[i] -= lr * g;
  }
}
template <typename T>
__global__ void k_adam(T* P, const T* G, T* M, T* V, std::size_t n, T lr, T b1, T b2, T eps, T wd,
                       T bc1, T bc2, T shrink, bool decoupled) {
  GRID_LOOP(i, n) {
    T g = G[i];
    if (decoupled)
      P[i] *= shrink;
    else
      g += wd * P[i];
    M[i] = b1 * M[i] + (T(1) - b1) * g;
    V[i] = b2 * V[i] + (T(1) - b2) * g * g;
    P[i] -= lr * (M[i] / bc1) / (sqrt(V[i] / bc2) + eps);
  }
}

// The top-K order: a before b.
template <typename T>
__device__ bool better(T sa, int a, T sb, int b) {
  const bool na = isnan(sa), nb = isnan(sb);
  if (na != nb) return nb;
  if (!na && sa != sb) return sa > sb;
  return a < b;
}

// One block per row, k rounds: each round picks the best column strictly after the previous
// pick in the top-K order (no scratch per row).
template <typename T>
__global__ void k_topk(const T* scores, std::size_t rows, std::size_t cols, int k, std::int32_t* index,
                       T* values, const std::uint8_t* skip) {
  __shared__ T best_s[kThreads / 32];
  __shared__ int best_i[kThreads / 32];
  __shared__ T prev_s;
  __shared__ int prev_i;
  const std::size_t r = blockIdx.x;
  if (r >= rows) return;
  const T* s = scores + r * cols;
  const std::uint8_t* sk = skip ? skip + r * cols : nullptr;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int q = 0; q < k; ++q) {
    T bs = 0;
    int bi = -1;
    for (std::size_t j = threadIdx.x; j < cols; j += blockDim.x) {
      const int c = static_cast<int>(j);
      if (q > 0 && !better(prev_s, prev_i, s[j], c)) continue;
      if (sk && sk[j]) continue;
      if (bi < 0 || better(s[j], c, bs, bi)) {
        bs = s[j];
        bi = c;
      }
    }
    for (int o = 16; o > 0; o >>= 1) {
      const T os = __shfl_xor_sync(0xffffffffu, bs, o);
      const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
      if (oi >= 0 && (bi < 0 || better(os, oi, bs, bi))) {
        bs = os;
        bi = oi;
      }
    }
    if (lane == 0) {
      best_s[warp] = bs;
      best_i[warp] = bi;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      T ws = best_s[0];
      int wi = best_i[0];
      for (int w = 1; w < static_cast<int>(blockDim.x / 32); ++w)
        if (best_i[w] >= 0 && (wi < 0 || better(best_s[w], best_i[w], ws, wi))) {
          ws = best_s[w];
          wi = best_i[w];
        }
      index[r * k + q] = wi;
      values[r * k + q] = wi >= 0 ? ws : T(0);
      prev_s = ws;
      prev_i = wi;
    }
    __syncthreads();
    if (prev_i < 0) {
      // Fewer candidates than k: pad (thread 0 writes the rest).
      if (threadIdx.x == 0)
        for (int z = q + 1; z < k; ++z) {
          index[r * k + z] = -1;
          values[r * k + z] = T(0);
        }
      return;
    }
  }
}

__global__ void k_mark_skips(const std::int64_t* ptr, const std::int32_t* cols_of, std::size_t rows,
                             std::size_t cols, std::uint8_t* mask) {
  GRID_LOOP(r, rows) {
    for (std::int64_t z = ptr[r]; z < ptr[r + 1]; ++z)
      if (cols_of[z] >= 0 && static_cast<std::size_t>(cols_of[z]) < cols) mask[r * cols + static_cast<std::size_t>(cols_of[z])] = 1;
  }
}

// ---- iALS conjugate gradient, every row at once ------------------------------------------

constexpr float kTiny = 1e-20f;
constexpr int kAlsThreads = 128;
// Entries whose item rows are staged in shared memory at once: at most 32, and at most 8192
// floats (32 KiB) of rows, so each row is read from global memory once per sweep.
inline int als_tile(int f) { return f >= 8192 ? 1 : (8192 / f < 32 ? 8192 / f : 32); }

// Block-wide sum of per-thread values v (fixed tree: deterministic).
__device__ float block_sum(float v, float* red) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  v = warp_sum(v);
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float t = 0;
  if (threadIdx.x == 0) {
    for (int w = 0; w < kAlsThreads / 32; ++w) t += red[w];
    red[kAlsThreads / 32] = t;
  }
  __syncthreads();
  t = red[kAlsThreads / 32];
  __syncthreads();
  return t;
}

// acc (the row's f entries, in shared memory) += sum_e coef_e y_e, with
//   residual: coef_e = (1 + c1_e) - c1_e (y_e . v),   else: coef_e = c1_e (y_e . v).
// Tiles of `tile` entries: their item rows are copied to shared memory (coalesced), the dot
// products taken there one warp per entry, then each thread adds its own column.
template <bool kResidual>
__device__ void als_sweep(const std::uint32_t* cols, const float* vals, std::size_t n, int f, int tile,
                          const float* Y, const float* v, float* acc, float* coef, float* ytile) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (std::size_t e0 = 0; e0 < n; e0 += static_cast<std::size_t>(tile)) {
    const int m = static_cast<int>(n - e0 < static_cast<std::size_t>(tile) ? n - e0 : static_cast<std::size_t>(tile));
    for (int z = threadIdx.x; z < m * f; z += kAlsThreads) {
      const int q = z / f, c = z % f;
      ytile[z] = Y[static_cast<std::size_t>(cols[e0 + static_cast<std::size_t>(q)]) * f + c];
    }
    __syncthreads();
    for (int q = warp; q < m; q += kAlsThreads / 32) {
      const float* y = ytile + q * f;
      float d = 0;
      for (int c = lane; c < f; c += 32) d += y[c] * v[c];
      d = warp_sum(d);
      const float c1 = vals[e0 + static_cast<std::size_t>(q)];
      if (lane == 0) coef[q] = kResidual ? (1.0f + c1) - c1 * d : c1 * d;
    }
    __syncthreads();
    for (int c = threadIdx.x; c < f; c += kAlsThreads) {
      float a = acc[c];
      for (int q = 0; q < m; ++q) a += coef[q] * ytile[q * f + c];
      acc[c] = a;
    }
    __syncthreads();
  }
}

// R holds -X G on entry.
__global__ void k_als_init(const std::uint64_t* indptr, const std::uint32_t* cols, const float* vals,
                           std::size_t rows, int f, int tile, const float* Y, float* X, float* R, float* P,
                           float* rs, std::uint8_t* done) {
  extern __shared__ float sh[];
  float* x = sh;
  float* r = sh + f;
  float* coef = sh + 2 * f;
  float* red = coef + tile;
  float* ytile = red + kAlsThreads / 32 + 1;
  for (std::size_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const std::uint64_t b = indptr[row], n = indptr[row + 1] - b;
    float* xg = X + row * f;
    float* rg = R + row * f;
    float* pg = P + row * f;
    if (n == 0) {
      for (int c = threadIdx.x; c < f; c += kAlsThreads) xg[c] = rg[c] = pg[c] = 0.0f;
      if (threadIdx.x == 0) {
        rs[row] = 0.0f;
        done[row] = 1;
      }
      continue;
    }
    for (int c = threadIdx.x; c < f; c += kAlsThreads) {
      x[c] = xg[c];
      r[c] = rg[c];
    }
    __syncthreads();
    als_sweep<true>(cols + b, vals + b, n, f, tile, Y, x, r, coef, ytile);
    float part = 0;
    for (int c = threadIdx.x; c < f; c += kAlsThreads) {
      rg[c] = r[c];
      pg[c] = r[c];
      part += r[c] * r[c];
    }
    const float total = block_sum(part, red);
    if (threadIdx.x == 0) {
      rs[row] = total;
      done[row] = total > kTiny ? 0 : 1;
    }
    __syncthreads();
  }
}

// AP holds P G on entry.
__global__ void k_als_step(const std::uint64_t* indptr, const std::uint32_t* cols, const float* vals,
                           std::size_t rows, int f, int tile, const float* Y, float* X, float* R, float* P,
                           float* AP, float* rs, std::uint8_t* done) {
  extern __shared__ float sh[];
  float* p = sh;
  float* ap = sh + f;
  float* coef = sh + 2 * f;
  float* red = coef + tile;
  float* ytile = red + kAlsThreads / 32 + 1;
  for (std::size_t row = blockIdx.x; row < rows; row += gridDim.x) {
    if (done[row]) continue;  // uniform over the block
    const std::uint64_t b = indptr[row], n = indptr[row + 1] - b;
    float* xg = X + row * f;
    float* rg = R + row * f;
    float* pg = P + row * f;
    const float* apg = AP + row * f;
    for (int c = threadIdx.x; c < f; c += kAlsThreads) {
      p[c] = pg[c];
      ap[c] = apg[c];
    }
    __syncthreads();
    als_sweep<false>(cols + b, vals + b, n, f, tile, Y, p, ap, coef, ytile);
    float part = 0;
    for (int c = threadIdx.x; c < f; c += kAlsThreads) part += p[c] * ap[c];
    const float pap = block_sum(part, red);
    const float rs_old = rs[row];
    if (!(pap > 0.0f)) {
      if (threadIdx.x == 0) done[row] = 1;
      __syncthreads();
      continue;
    }
    const float a = rs_old / pap;
    part = 0;
    for (int c = threadIdx.x; c < f; c += kAlsThreads) {
      xg[c] += a * p[c];
      const float rc = rg[c] - a * ap[c];
      rg[c] = rc;
      part += rc * rc;
    }
    const float rs_new = block_sum(part, red);
    const float beta = rs_new / rs_old;
    for (int c = threadIdx.x; c < f; c += kAlsThreads) pg[c] = rg[c] + beta * p[c];
    if (threadIdx.x == 0) {
      rs[row] = rs_new;
      done[row] = rs_new > kTiny ? 0 : 1;
    }
    __syncthreads();
  }
}

__global__ void k_add_diagonal(float* G, int f, float v) {
  GRID_LOOP(i, static_cast<std::size_t>(f)) G[i * f + i] += v;
}

// ---- BPR --------------------------------------------------------------------------------

__global__ void k_bpr_keys(BprEpoch e, std::uint32_t* keys, std::uint32_t* order) {
  GRID_LOOP(q, e.nnz) {
    keys[q] = static_cast<std::uint32_t>(e.ublock[e.user_of[q]]) * static_cast<std::uint32_t>(e.T) +
              static_cast<std::uint32_t>(e.iblock[e.cols[q]]);
    order[q] = static_cast<std::uint32_t>(q);
  }
}

__global__ void k_segment_starts(const std::uint32_t* keys, std::size_t n, std::int64_t* start, std::size_t nkeys) {
  GRID_LOOP(k, nkeys + 1) {
    std::size_t lo = 0, hi = n;  // first q with keys[q] >= k
    while (lo < hi) {
      const std::size_t mid = (lo + hi) / 2;
      if (keys[mid] < k) lo = mid + 1;
      else hi = mid;
    }
    start[k] = static_cast<std::int64_t>(lo);
  }
}

__device__ bool bpr_positive(const BprEpoch& e, std::uint32_t u, std::uint32_t j) {
  std::uint64_t lo = e.indptr[u], hi = e.indptr[u + 1];
  while (lo < hi) {
    const std::uint64_t mid = (lo + hi) / 2;
    if (e.cols[mid] < j) lo = mid + 1;
    else hi = mid;
  }
  return lo < e.indptr[u + 1] && e.cols[lo] == j;
}

// One warp per worker t. Every lane runs the worker's random stream (the same draws), lane 0
// writes the shuffle and candidates; the factor updates are split over the lanes.
__global__ void k_bpr_sub(BprEpoch e, int sub, std::uint32_t* order, std::uint32_t* cand,
                          const std::int64_t* seg_start, double* loss, std::uint64_t* count) {
  const int t = static_cast<int>((blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x) / 32);
  const int lane = threadIdx.x % 32;
  if (t >= e.T) return;
  const int b = (t + sub) % e.T;
  const std::size_t key = static_cast<std::size_t>(t) * e.T + b;
  const std::int64_t a0 = seg_start[key], a1 = seg_start[key + 1];
  std::uint32_t* pos = order + a0;
  const std::uint64_t npos = static_cast<std::uint64_t>(a1 - a0);
  std::uint64_t rng[4];
  rng_core::seed(rng, rng_core::mix_seed(e.seed, static_cast<std::uint64_t>(t), static_cast<std::uint64_t>(sub)));
  for (std::uint64_t k = npos; k > 1; --k) {
    const std::uint64_t z = rng_core::below(rng, k);
    if (lane == 0) {
      const std::uint32_t tmp = pos[k - 1];
      pos[k - 1] = pos[z];
      pos[z] = tmp;
    }
  }
  const std::uint32_t* neg = e.neg_items + e.neg_start[b];
  const std::uint64_t nneg = static_cast<std::uint64_t>(e.neg_start[b + 1] - e.neg_start[b]);
  std::uint32_t* cd = cand + a0;
  for (std::uint64_t k = 0; k < npos; ++k) {
    const std::uint32_t c = neg[rng_core::below(rng, nneg)];
    if (lane == 0) cd[k] = c;
  }
  __syncwarp();
  double sum = 0;
  std::uint64_t used = 0;
  const int f = e.f;
  for (std::uint64_t k = 0; k < npos; ++k) {
    const std::uint32_t q = pos[k];
    const std::uint32_t u = e.user_of[q], i = e.cols[q];
    std::uint32_t j = cd[k];
    bool found = !bpr_positive(e, u, j);
    for (int tries = 1; tries < 32 && !found; ++tries) {
      j = neg[rng_core::below(rng, nneg)];
      found = !bpr_positive(e, u, j);
    }
    if (!found) continue;
    float* p = e.P + static_cast<std::size_t>(u) * f;
    float* qi = e.Q + static_cast<std::size_t>(i) * f;
    float* qj = e.Q + static_cast<std::size_t>(j) * f;
    float part = 0;
    for (int c = lane; c < f; c += 32) part += p[c] * (qi[c] - qj[c]);
    const float bi = e.bias[i], bj = e.bias[j];
    const float x = (bi - bj) + warp_sum(part);
    const float tt = expf(-fabsf(x));
    float g, l;
    if (x >= 0) {
      g = tt / (1.0f + tt);
      l = log1pf(tt);
    } else {
      g = 1.0f / (1.0f + tt);
      l = -x + log1pf(tt);
    }
    for (int c = lane; c < f; c += 32) {
      const float pk = p[c], qik = qi[c], qjk = qj[c];
      p[c] = pk + e.lr * (g * (qik - qjk) - e.reg * pk);
      qi[c] = qik + e.lr * (g * pk - e.reg * qik);
      qj[c] = qjk + e.lr * (-g * pk - e.reg * qjk);
    }
    __syncwarp();
    if (lane == 0) {
      e.bias[i] = bi + e.lr * (g - e.bias_reg * bi);
      e.bias[j] = bj + e.lr * (-g - e.bias_reg * bj);
    }
    __syncwarp();
    sum += l;
    ++used;
  }
  if (lane == 0) {
    loss[static_cast<std::size_t>(sub) * e.T + t] = sum;
    count[static_cast<std::size_t>(sub) * e.T + t] = used;
  }
}

// ---- biased MF SGD: one warp, samples in order ---------------------------------------------

__global__ void k_mf_sgd(const std::uint32_t* users, const std::uint32_t* items, const float* values,
                         const std::uint32_t* order, std::size_t n, int k, std::size_t stride, float* P,
                         float* Q, float* bu, float* bi, float lr, float reg, float bias_reg, float mu,
                         double* se) {
  const int lane = threadIdx.x;
  double total = 0;
  for (std::size_t t = 0; t < n; ++t) {
    const std::uint32_t s = order[t];
    const std::uint32_t u = users[s], i = items[s];
    float* p = P + static_cast<std::size_t>(u) * stride;
    float* q = Q + static_cast<std::size_t>(i) * stride;
    float d = 0;
    for (int c = lane; c < k; c += 32) d += p[c] * q[c];
    d = warp_sum(d);
    const float b_u = bu[u], b_i = bi[i];
    const float e = values[s] - (((mu + b_u) + b_i) + d);
    for (int c = lane; c < k; c += 32) {
      const float pf = p[c], qf = q[c];
      p[c] = pf + lr * (e * qf - reg * pf);
      q[c] = qf + lr * (e * pf - reg * qf);
    }
    __syncwarp();
    if (lane == 0) {
      bu[u] = b_u + lr * (e - bias_reg * b_u);
      bi[i] = b_i + lr * (e - bias_reg * b_i);
    }
    __syncwarp();
    total += static_cast<double>(e) * static_cast<double>(e);
  }
  if (lane == 0) *se = total;
}

}  // namespace

// ---- launchers -----------------------------------------------------------------------------

template <typename T>
void fill(T* p, std::size_t n, T value, cudaStream_t s) {
  if (!n) return;
  k_fill<<<blocks_for(n), kThreads, 0, s>>>(p, n, value);
  check_launch("fill");
}

void permute(const void* x, void* out, const std::size_t dims[4], const std::size_t strides[4],
             std::size_t esize, cudaStream_t s) {
  const std::size_t n = dims[0] * dims[1] * dims[2] * dims[3];
  if (!n) return;
  if (esize == 8)
    k_permute<<<blocks_for(n), kThreads, 0, s>>>(static_cast<const std::uint64_t*>(x), static_cast<std::uint64_t*>(out),
                                                 dims[0], dims[1], dims[2], dims[3], strides[0], strides[1], strides[2], strides[3]);
  else
    k_permute<<<blocks_for(n), kThreads, 0, s>>>(static_cast<const std::uint32_t*>(x), static_cast<std::uint32_t*>(out),
                                                 dims[0], dims[1], dims[2], dims[3], strides[0], strides[1], strides[2], strides[3]);
  check_launch("permute");
}

std::int64_t first_bad_index(const std::int32_t* idx, std::size_t n, std::size_t rows,
                             std::int64_t* scratch, cudaStream_t s) {
  if (!n) return -1;
  auto* first = reinterpret_cast<unsigned long long*>(scratch);
  const unsigned long long none = ~0ull;
  check(cudaMemcpyAsync(first, &none, sizeof none, cudaMemcpyHostToDevice, s), "index check");
  k_bad_index<<<blocks_for(n), kThreads, 0, s>>>(idx, n, rows, first);
  check_launch("index check");
  unsigned long long got = 0;
  check(cudaMemcpyAsync(&got, first, sizeof got, cudaMemcpyDeviceToHost, s), "index check");
  check(cudaStreamSynchronize(s), "index check");
  return got == none ? -1 : static_cast<std::int64_t>(got);
}

template <typename T>
void gather_rows(const T* table, const std::int32_t* idx, T* out, std::size_t n, std::size_t d, cudaStream_t s) {
  if (!n || !d) return;
  k_gather<<<blocks_for(n * d), kThreads, 0, s>>>(table, idx, out, n, d);
  check_launch("gather_rows");
}

void sort_positions(const std::int32_t* idx, std::size_t n, std::size_t rows, std::uint32_t* keys_in,
                    std::uint32_t* keys_out, std::int32_t* order_in, std::int32_t* order_out, void* temp,
                    std::size_t& temp_bytes, cudaStream_t s) {
  int bits = 1;
  while (bits < 32 && (std::uint64_t{1} << bits) <= rows) ++bits;
  if (!temp) {
    check(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys_in, keys_out, order_in, order_out,
                                          static_cast<int>(n), 0, bits, s),
          "scatter_add_rows: sort (size)");
    return;
  }
  // Padding (-1) becomes `rows`, sorted after every real row; cub's radix sort is stable.
  k_sort_keys<<<blocks_for(n), kThreads, 0, s>>>(idx, n, keys_in, order_in, static_cast<std::uint32_t>(rows));
  check_launch("scatter_add_rows: keys");
  check(cub::DeviceRadixSort::SortPairs(temp, temp_bytes, keys_in, keys_out, order_in, order_out,
                                        static_cast<int>(n), 0, bits, s),
        "scatter_add_rows: sort");
}

template <typename T>
void scatter_add_sorted(const T* src, const std::uint32_t* sorted_idx, const std::int32_t* order,
                        std::size_t count, T* table, std::size_t d, cudaStream_t s) {
  if (!count || !d) return;
  k_scatter_sorted<<<blocks_for(count * d), kThreads, 0, s>>>(src, sorted_idx, order, count, table, d);
  check_launch("scatter_add_rows");
}

template <typename T>
void add(const T* a, const T* b, T* out, std::size_t n, std::size_t bcols, T alpha, T beta, cudaStream_t s) {
  if (!n) return;
  k_add<<<blocks_for(n), kThreads, 0, s>>>(a, b, out, n, bcols, alpha, beta);
  check_launch("add");
}
template <typename T>
void mul(const T* a, const T* b, T* out, std::size_t n, std::size_t bcols, cudaStream_t s) {
  if (!n) return;
  k_mul<<<blocks_for(n), kThreads, 0, s>>>(a, b, out, n, bcols);
  check_launch("mul");
}
template <typename T>
void scale(const T* x, T* out, std::size_t n, T alpha, T beta, cudaStream_t s) {
  if (!n) return;
  k_scale<<<blocks_for(n), kThreads, 0, s>>>(x, out, n, alpha, beta);
  check_launch("scale");
}
template <typename T>
void activation(int act, const T* x, T* y, std::size_t n, cudaStream_t s) {
  if (!n) return;
  k_act<<<blocks_for(n), kThreads, 0, s>>>(act, x, y, n);
  check_launch("activation");
}
template <typename T>
void activation_backward(int act, const T* x, const T* dy, T* dx, std::size_t n, cudaStream_t s) {
  if (!n) return;
  k_act_backward<<<blocks_for(n), kThreads, 0, s>>>(act, x, dy, dx, n);
  check_launch("activation_backward");
}
template <typename T>
void softmax(const T* x, T* y, std::size_t rows, std::size_t cols, bool log, Mask m, cudaStream_t s) {
  if (!rows || !cols) return;
  k_softmax<<<blocks_for(rows * 32), kThreads, 0, s>>>(x, y, rows, cols, log, m);
  check_launch("softmax");
}
template <typename T>
void softmax_backward(const T* y, const T* dy, T* dx, std::size_t rows, std::size_t cols, bool log,
                      Mask m, cudaStream_t s) {
  if (!rows || !cols) return;
  k_softmax_backward<<<blocks_for(rows * 32), kThreads, 0, s>>>(y, dy, dx, rows, cols, log, m);
  check_launch("softmax_backward");
}
template <typename T>
void layer_norm(const T* x, const T* gamma, const T* beta, T eps, T* y, T* mean, T* rstd,
                std::size_t rows, std::size_t cols, cudaStream_t s) {
  if (!rows || !cols) return;
  k_layer_norm<<<blocks_for(rows * 32), kThreads, 0, s>>>(x, gamma, beta, eps, y, mean, rstd, rows, cols);
  check_launch("layer_norm");
}
template <typename T>
void layer_norm_backward(const T* x, const T* gamma, const T* mean, const T* rstd, const T* dy,
                         T* dx, T* dgamma, T* dbeta, std::size_t rows, std::size_t cols, cudaStream_t s) {
  if (!cols) return;
  if (rows) {
    k_layer_norm_dx<<<blocks_for(rows * 32), kThreads, 0, s>>>(x, gamma, mean, rstd, dy, dx, rows, cols);
    check_launch("layer_norm_backward");
  }
  k_layer_norm_dgb<<<blocks_for(cols), kThreads, 0, s>>>(x, mean, rstd, dy, dgamma, dbeta, rows, cols);
  check_launch("layer_norm_backward");
}
template <typename T>
void dropout(const T* x, T* y, std::size_t n, double p, std::uint64_t key, T keep_scale, cudaStream_t s) {
  if (!n) return;
  k_dropout<<<blocks_for(n), kThreads, 0, s>>>(x, y, n, p, key, keep_scale);
  check_launch("dropout");
}
template <typename T>
void reduce_rows(const T* x, T* out, std::size_t rows, std::size_t cols, cudaStream_t s) {
  if (!cols) return;
  k_reduce_rows<<<blocks_for(cols), kThreads, 0, s>>>(x, out, rows, cols);
  check_launch("reduce_rows");
}
template <typename T>
void reduce_cols(const T* x, T* out, std::size_t rows, std::size_t cols, cudaStream_t s) {
  if (!rows) return;
  k_reduce_cols<<<blocks_for(rows), kThreads, 0, s>>>(x, out, rows, cols);
  check_launch("reduce_cols");
}
template <typename T>
void sum_squares_blocks(const T* x, std::size_t n, double* partial, cudaStream_t s) {
  const std::size_t blocks = (n + 4095) / 4096;
  if (!blocks) return;
  k_sum_squares<<<blocks_for(blocks, 64), 64, 0, s>>>(x, n, partial, blocks);
  check_launch("sum_squares");
}
template <typename T>
void sgd_update(T* p, const T* g, T* v, std::size_t n, T lr, T mom, T wd, cudaStream_t s) {
  if (!n) return;
  k_sgd<<<blocks_for(n), kThreads, 0, s>>>(p, g, v, n, lr, mom, wd);
  check_launch("sgd_update");
}
template <typename T>
void adam_update(T* p, const T* g, T* m, T* v, std::size_t n, T lr, T b1, T b2, T eps, T wd,
                 T bc1, T bc2, T shrink, bool decoupled, cudaStream_t s) {
  if (!n) return;
  k_adam<<<blocks_for(n), kThreads, 0, s>>>(p, g, m, v, n, lr, b1, b2, eps, wd, bc1, bc2, shrink, decoupled);
  check_launch("adam_update");
}
template <typename T>
void topk_rows(const T* scores, std::size_t rows, std::size_t cols, int k, std::int32_t* index,
               T* values, const std::uint8_t* skip, cudaStream_t s) {
  for (std::size_t r0 = 0; r0 < rows; r0 += 65535) {
    const std::size_t n = rows - r0 < 65535 ? rows - r0 : 65535;
    k_topk<<<static_cast<unsigned>(n), kThreads, 0, s>>>(scores + r0 * cols, n, cols, k, index + r0 * k,
                                                         values + r0 * k, skip ? skip + r0 * cols : nullptr);
    check_launch("topk_rows");
  }
}

void mark_skips(const std::int64_t* skip_ptr, const std::int32_t* skip_cols, std::size_t rows,
                std::size_t cols, std::uint8_t* mask, cudaStream_t s) {
  if (!rows || !cols) return;
  check(cudaMemsetAsync(mask, 0, rows * cols, s), "score_topk: exclusions");
  k_mark_skips<<<blocks_for(rows), kThreads, 0, s>>>(skip_ptr, skip_cols, rows, cols, mask);
  check_launch("score_topk: exclusions");
}

void add_diagonal(float* G, int f, float value, cudaStream_t s) {
  k_add_diagonal<<<blocks_for(static_cast<std::size_t>(f)), kThreads, 0, s>>>(G, f, value);
  check_launch("iALS: Y'Y + reg I");
}

namespace {
unsigned als_grid(std::size_t rows) {
  return static_cast<unsigned>(rows < 65535u * 8u ? (rows ? rows : 1) : 65535u * 8u);
}
std::size_t als_shared(int f) {
  const std::size_t t = static_cast<std::size_t>(als_tile(f)), F = static_cast<std::size_t>(f);
  return sizeof(float) * (2 * F + t + kAlsThreads / 32 + 1 + t * F);
}
void als_shared_limit(int f) {
  // Above 48 KiB of dynamic shared memory a kernel must opt in (large f only).
  const int bytes = static_cast<int>(als_shared(f));
  check(cudaFuncSetAttribute(k_als_init, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes), "iALS shared memory");
  check(cudaFuncSetAttribute(k_als_step, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes), "iALS shared memory");
}
}  // namespace

void als_cg_init(const std::uint64_t* indptr, const std::uint32_t* cols, const float* vals,
                 std::size_t rows, int f, const float* Y, float* X, float* R, float* P,
                 float* rs, std::uint8_t* done, cudaStream_t s) {
  if (!rows) return;
  als_shared_limit(f);
  k_als_init<<<als_grid(rows), kAlsThreads, als_shared(f), s>>>(indptr, cols, vals, rows, f, als_tile(f), Y, X, R, P,
                                                                 rs, done);
  check_launch("iALS conjugate gradient (init)");
}

void als_cg_step(const std::uint64_t* indptr, const std::uint32_t* cols, const float* vals,
                 std::size_t rows, int f, const float* Y, float* X, float* R, float* P,
                 float* AP, float* rs, std::uint8_t* done, cudaStream_t s) {
  if (!rows) return;
  k_als_step<<<als_grid(rows), kAlsThreads, als_shared(f), s>>>(indptr, cols, vals, rows, f, als_tile(f), Y, X, R, P,
                                                                 AP, rs, done);
  check_launch("iALS conjugate gradient (step)");
}

void bpr_strata(const BprEpoch& e, std::uint32_t* keys, std::uint32_t* keys_sorted,
                std::uint32_t* order_in, std::uint32_t* order, std::int64_t* seg_start,
                void* temp, std::size_t& temp_bytes, cudaStream_t s) {
  const std::size_t nkeys = static_cast<std::size_t>(e.T) * static_cast<std::size_t>(e.T);
  int bits = 1;
  while (bits < 32 && (std::uint64_t{1} << bits) <= nkeys) ++bits;
  if (!temp) {
    check(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys, keys_sorted, order_in, order,
                                          static_cast<int>(e.nnz), 0, bits, s),
          "BPR strata sort (size)");
    return;
  }
  k_bpr_keys<<<blocks_for(e.nnz), kThreads, 0, s>>>(e, keys, order_in);
  check_launch("BPR strata");
  check(cub::DeviceRadixSort::SortPairs(temp, temp_bytes, keys, keys_sorted, order_in, order,
                                        static_cast<int>(e.nnz), 0, bits, s),
        "BPR strata sort");
  k_segment_starts<<<blocks_for(nkeys + 1), kThreads, 0, s>>>(keys_sorted, e.nnz, seg_start, nkeys);
  check_launch("BPR strata");
}

void bpr_sub_epoch(const BprEpoch& e, int sub, std::uint32_t* order, std::uint32_t* cand,
                   const std::int64_t* seg_start, double* loss, std::uint64_t* count, cudaStream_t s) {
  const std::size_t threads = static_cast<std::size_t>(e.T) * 32;
  k_bpr_sub<<<blocks_for(threads, 128), 128, 0, s>>>(e, sub, order, cand, seg_start, loss, count);
  check_launch("BPR epoch");
}

void mf_sgd_epoch(const std::uint32_t* users, const std::uint32_t* items, const float* values,
                  const std::uint32_t* order, std::size_t n, int k, std::size_t stride, float* P,
                  float* Q, float* bu, float* bi, float lr, float reg, float bias_reg, float mu,
                  double* se, cudaStream_t s) {
  k_mf_sgd<<<1, 32, 0, s>>>(users, items, values, order, n, k, stride, P, Q, bu, bi, lr, reg, bias_reg, mu, se);
  check_launch("SGD epoch");
}

#define EDGEREC_FLOAT_LAUNCHERS(T)                                                                   \
  template void fill<T>(T*, std::size_t, T, cudaStream_t);                                           \
  template void gather_rows<T>(const T*, const std::int32_t*, T*, std::size_t, std::size_t, cudaStream_t); \
  template void scatter_add_sorted<T>(const T*, const std::uint32_t*, const std::int32_t*, std::size_t, T*, \
                                      std::size_t, cudaStream_t);                                    \
  template void add<T>(const T*, const T*, T*, std::size_t, std::size_t, T, T, cudaStream_t);        \
  template void mul<T>(const T*, const T*, T*, std::size_t, std::size_t, cudaStream_t);              \
  template void scale<T>(const T*, T*, std::size_t, T, T, cudaStream_t);                             \
  template void activation<T>(int, const T*, T*, std::size_t, cudaStream_t);                         \
  template void activation_backward<T>(int, const T*, const T*, T*, std::size_t, cudaStream_t);      \
  template void softmax<T>(const T*, T*, std::size_t, std::size_t, bool, Mask, cudaStream_t);        \
  template void softmax_backward<T>(const T*, const T*, T*, std::size_t, std::size_t, bool, Mask, cudaStream_t); \
  template void layer_norm<T>(const T*, const T*, const T*, T, T*, T*, T*, std::size_t, std::size_t, cudaStream_t); \
  template void layer_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*,  \
                                       std::size_t, std::size_t, cudaStream_t);                      \
  template void dropout<T>(const T*, T*, std::size_t, double, std::uint64_t, T, cudaStream_t);       \
  template void reduce_rows<T>(const T*, T*, std::size_t, std::size_t, cudaStream_t);                \
  template void reduce_cols<T>(const T*, T*, std::size_t, std::size_t, cudaStream_t);                \
  template void sum_squares_blocks<T>(const T*, std::size_t, double*, cudaStream_t);                 \
  template void sgd_update<T>(T*, const T*, T*, std::size_t, T, T, T, cudaStream_t);                 \
  template void adam_update<T>(T*, const T*, T*, T*, std::size_t, T, T, T, T, T, T, T, T, bool, cudaStream_t); \
  template void topk_rows<T>(const T*, std::size_t, std::size_t, int, std::int32_t*, T*, const std::uint8_t*, \
                             cudaStream_t);

EDGEREC_FLOAT_LAUNCHERS(float)
EDGEREC_FLOAT_LAUNCHERS(double)
template void fill<std::int32_t>(std::int32_t*, std::size_t, std::int32_t, cudaStream_t);

}  // namespace edgerec::cuda
