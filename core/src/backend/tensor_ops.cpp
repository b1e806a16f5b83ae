// The reference implementation of Backend's tensor operations (edgerec/backend.hpp): one
// template over f32 and f64 per entry, loops split through parallel_for() over independent rows
// or elements, so the serial reference and the OpenMP backend compute the same bits.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/host_memory.hpp"
#include "backend/tensor_checks.hpp"
#include "edgerec/backend.hpp"
#include "edgerec/error.hpp"
#include "eval/rng_core.hpp"
#include "serve_only.hpp"

namespace edgerec {
namespace {

using namespace tensor_checks;


// Calls f(T{}) with T the float type of `dtype`. A serving-only build (wasm) has no f64
// instantiations: only gradient checks use f64 (serve_only.hpp).
template <typename F>
void by_float(DType dtype, F&& f) {
  if (dtype == DType::f64) {
    if constexpr (kServeOnly) not_in_serving_build("f64 tensor arithmetic");
    else f(double{});
  } else {
    f(float{});
  }
}

// Splits [0, n) into chunks worth running in parallel (`cost` ~ operations per item). Results
// never depend on the split: every item is computed alone.
template <typename F>
void split(Backend& backend, std::size_t n, std::size_t cost, F&& body) {
  const std::size_t work = n * std::max<std::size_t>(cost, 1);
  const int threads = backend.threads();
  int chunks = 1;
  if (threads > 1 && work >= 32768) chunks = static_cast<int>(std::min<std::size_t>(n, static_cast<std::size_t>(threads) * 4));
  if (chunks <= 1) {
    if (n) body(std::size_t{0}, n);
    return;
  }
  backend.parallel_for(n, chunks, [&](std::size_t b, std::size_t e, int) { body(b, e); });
}

template <typename T>
T sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

template <typename T>
T act_forward(Act act, T x) {
  switch (act) {
    case Act::identity: return x;
    case Act::relu: return x > 0 ? x : T(0);
    case Act::sigmoid: return sigmoid(x);
    case Act::tanh: return std::tanh(x);
    case Act::gelu: return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
    case Act::softplus: return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  }
  return x;
}

template <typename T>
T act_derivative(Act act, T x) {
  switch (act) {
    case Act::identity: return T(1);
    case Act::relu: return x > 0 ? T(1) : T(0);
    case Act::sigmoid: {
      const T s = sigmoid(x);
      return s * (T(1) - s);
    }
    case Act::tanh: {
      const T t = std::tanh(x);
      return T(1) - t * t;
    }
    case Act::gelu: {
      const T cdf = T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
      const T pdf = std::exp(T(-0.5) * x * x) * T(0.39894228040143267794);
      return cdf + x * pdf;
    }
    case Act::softplus: return sigmoid(x);
  }
  return T(1);
}

// The softmax mask as a predicate over (row, column); see SoftmaxMask.
struct MaskView {
  bool causal = false;
  const std::int32_t* keys = nullptr;
  std::size_t rows_per_group = 1;
  std::size_t cols = 0;
  bool any() const { return causal || keys; }
  bool valid(std::size_t r, std::size_t j) const {
    if (causal && j > r % cols) return false;
    if (keys && keys[(r / rows_per_group) * cols + j] == 0) return false;
    return true;
  }
};

MaskView mask_view(const char* op, const Tensor& x, const SoftmaxMask& mask) {
  MaskView m;
  m.cols = x.cols();
  m.rows_per_group = check_mask(op, x, mask);
  m.causal = mask.causal;
  if (mask.keys.defined()) m.keys = mask.keys.host<std::int32_t>();
  return m;
}


}  // namespace

const char* act_name(Act act) {
  switch (act) {
    case Act::identity: return "identity";
    case Act::relu: return "relu";
    case Act::sigmoid: return "sigmoid";
    case Act::tanh: return "tanh";
    case Act::gelu: return "gelu";
    case Act::softplus: return "softplus";
  }
  return "?";
}

GemmShape gemm_shape(bool trans_a, bool trans_b, const Tensor& a, const Tensor& b, const Tensor& c) {
  const char* op = "gemm";
  need_float(op, a, "a");
  need_same_dtype(op, a, b, "b");
  need_same_dtype(op, a, c, "c");
  auto rows_cols = [&](const Tensor& t, const char* name, bool& batched, std::size_t& r, std::size_t& cc) {
    if (t.rank() == 2) {
      batched = false;
      r = static_cast<std::size_t>(t.dim(0));
      cc = static_cast<std::size_t>(t.dim(1));
    } else if (t.rank() == 3) {
      batched = true;
      r = static_cast<std::size_t>(t.dim(1));
      cc = static_cast<std::size_t>(t.dim(2));
    } else {
      fail(op, std::string("tensor '") + name + "' must have rank 2 or 3, got " + t.shape().str());
    }
  };
  GemmShape g;
  std::size_t ar, ac, br, bc, cr, cc;
  bool batched_c;
  rows_cols(a, "a", g.batched_a, ar, ac);
  rows_cols(b, "b", g.batched_b, br, bc);
  rows_cols(c, "c", batched_c, cr, cc);
  g.m = trans_a ? ac : ar;
  g.k = trans_a ? ar : ac;
  const std::size_t kb = trans_b ? bc : br;
  g.n = trans_b ? br : bc;
  g.batch = batched_c ? static_cast<std::size_t>(c.dim(0)) : 1;
  const std::string shapes = " (a " + a.shape().str() + (trans_a ? "'" : "") + ", b " + b.shape().str() +
                             (trans_b ? "'" : "") + ", c " + c.shape().str() + ")";
  if (kb != g.k || cr != g.m || cc != g.n) fail(op, "inner or outer dimensions do not match" + shapes);
  if (!batched_c && (g.batched_a || g.batched_b)) fail(op, "batched operands need a batched c" + shapes);
  if ((g.batched_a && static_cast<std::size_t>(a.dim(0)) != g.batch) ||
      (g.batched_b && static_cast<std::size_t>(b.dim(0)) != g.batch))
    fail(op, "batch sizes differ" + shapes);
  return g;
}

void Backend::upload(const Tensor& dst, const void* host_src) {
  need("upload", dst, "dst");
  if (dst.numel()) detail::host_copy(tensor_host_data(dst, dst.dtype()), host_src, dst.numel() * dtype_size(dst.dtype()));
}

void Backend::download(const Tensor& src, void* host_dst) {
  need("download", src, "src");
  if (src.numel()) detail::host_copy(host_dst, tensor_host_data(src, src.dtype()), src.numel() * dtype_size(src.dtype()));
}

void Backend::copy(const Tensor& src, const Tensor& dst) {
  need("copy", src, "src");
  need_same_dtype("copy", src, dst, "dst");
  need_numel("copy", dst, src.numel(), "dst");
  if (src.numel())
    std::memmove(tensor_host_data(dst, dst.dtype()), tensor_host_data(src, src.dtype()),
                 src.numel() * dtype_size(src.dtype()));
}

void Backend::fill(const Tensor& dst, double value) {
  need("fill", dst, "dst");
  const std::size_t n = dst.numel();
  if (dst.dtype() == DType::i32) {
    std::fill_n(dst.host<std::int32_t>(), n, static_cast<std::int32_t>(value));
    return;
  }
  by_float(dst.dtype(), [&](auto t) {
    using T = decltype(t);
    std::fill_n(dst.host<T>(), n, static_cast<T>(value));
  });
}

void Backend::gemm(bool trans_a, bool trans_b, double alpha, const Tensor& a, const Tensor& b,
                   double beta, const Tensor& c) {
  const GemmShape g = gemm_shape(trans_a, trans_b, a, b, c);
  const std::size_t batch = g.batch, m = g.m, n = g.n, k = g.k;
  const bool batched_a = g.batched_a, batched_b = g.batched_b;
  by_float(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* A = a.host<T>();
    const T* B = b.host<T>();
    T* C = c.host<T>();
    const T al = static_cast<T>(alpha), be = static_cast<T>(beta);
    split(*this, batch * m, n * k, [&](std::size_t begin, std::size_t end) {
      std::vector<T> acc(n);
      for (std::size_t row = begin; row < end; ++row) {
        const std::size_t bi = row / m, i = row % m;
        const T* Ab = A + (batched_a ? bi * m * k : 0);
        const T* Bb = B + (batched_b ? bi * k * n : 0);
        T* Cr = C + bi * m * n + i * n;
        std::fill(acc.begin(), acc.end(), T(0));
        // acc[j] = sum_p a(i, p) b(p, j), p in increasing order for every layout.
        if (!trans_b) {
          for (std::size_t p = 0; p < k; ++p) {
            const T av = trans_a ? Ab[p * m + i] : Ab[i * k + p];
            const T* Brow = Bb + p * n;
            for (std::size_t j = 0; j < n; ++j) acc[j] += av * Brow[j];
          }
        } else {
          for (std::size_t j = 0; j < n; ++j) {
            const T* Brow = Bb + j * k;
            T s = 0;
            for (std::size_t p = 0; p < k; ++p) s += (trans_a ? Ab[p * m + i] : Ab[i * k + p]) * Brow[p];
            acc[j] = s;
          }
        }
        if (beta == 0.0)
          for (std::size_t j = 0; j < n; ++j) Cr[j] = al * acc[j];
        else
          for (std::size_t j = 0; j < n; ++j) Cr[j] = al * acc[j] + be * Cr[j];
      }
    });
  });
}

void Backend::permute(const Tensor& x, const std::array<int, kMaxRank>& axes, const Tensor& out) {
  const char* op = "permute";
  need(op, x, "x");
  need_same_dtype(op, x, out, "out");
  const int r = x.rank();
  if (out.rank() != r) fail(op, "out " + out.shape().str() + " must have x's rank " + std::to_string(r));
  // Strides of x, then of x read in out's axis order, padded to 4 leading unit dimensions.
  std::array<std::size_t, kMaxRank> xs{}, dims{1, 1, 1, 1}, strides{0, 0, 0, 0};
  std::size_t s = 1;
  for (int i = r - 1; i >= 0; --i) {
    xs[static_cast<std::size_t>(i)] = s;
    s *= static_cast<std::size_t>(x.dim(i));
  }
  bool seen[kMaxRank] = {false, false, false, false};
  for (int i = 0; i < r; ++i) {
    const int ax = axes[static_cast<std::size_t>(i)];
    if (ax < 0 || ax >= r || seen[ax]) fail(op, "axes are not a permutation of x's " + std::to_string(r) + " axes");
    seen[ax] = true;
    if (out.dim(i) != x.dim(ax))
      fail(op, "out " + out.shape().str() + " is not x " + x.shape().str() + " with its axes permuted");
    const std::size_t slot = static_cast<std::size_t>(kMaxRank - r + i);
    dims[slot] = static_cast<std::size_t>(x.dim(ax));
    strides[slot] = xs[static_cast<std::size_t>(ax)];
  }
  const std::size_t esize = dtype_size(x.dtype());
  const auto* src = static_cast<const unsigned char*>(tensor_host_data(x, x.dtype()));
  auto* dst = static_cast<unsigned char*>(tensor_host_data(out, out.dtype()));
  const std::size_t inner = dims[2] * dims[3];
  // Where the last axis stays last (attention's head split and merge), each run of dims[3]
  // elements is contiguous in x too: one memcpy per run instead of one per element.
  const bool runs = strides[3] == 1;
  split(*this, dims[0] * dims[1], inner, [&](std::size_t begin, std::size_t end) {
    for (std::size_t ab = begin; ab < end; ++ab) {
      const std::size_t i0 = ab / dims[1], i1 = ab % dims[1];
      std::size_t o = ab * inner;
      for (std::size_t i2 = 0; i2 < dims[2]; ++i2) {
        const std::size_t row = i0 * strides[0] + i1 * strides[1] + i2 * strides[2];
        if (runs) {
          detail::host_copy(dst + o * esize, src + row * esize, dims[3] * esize);
          o += dims[3];
          continue;
        }
        for (std::size_t i3 = 0; i3 < dims[3]; ++i3, ++o)
          std::memcpy(dst + o * esize, src + (row + i3 * strides[3]) * esize, esize);
      }
    }
  });
}

namespace {
void check_indices(const char* op, const Tensor& index, std::size_t rows) {
  check_index_values(op, index.host<std::int32_t>(), index.numel(), rows);
}
}  // namespace

void Backend::gather_rows(const Tensor& table, const Tensor& index, const Tensor& out) {
  const char* op = "gather_rows";
  need_float(op, table, "table");
  need_i32(op, index, "index");
  need_same_dtype(op, table, out, "out");
  const std::size_t d = table.cols(), n = index.numel(), rows = table.rows();
  need_numel(op, out, n * d, "out");
  check_indices(op, index, rows);
  by_float(table.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* src = table.host<T>();
    T* dst = out.host<T>();
    const std::int32_t* idx = index.host<std::int32_t>();
    split(*this, n, d, [&](std::size_t begin, std::size_t end) {
      for (std::size_t r = begin; r < end; ++r) {
        if (idx[r] < 0)
          detail::host_zero(dst + r * d, d * sizeof(T));
        else
          detail::host_copy(dst + r * d, src + static_cast<std::size_t>(idx[r]) * d, d * sizeof(T));
      }
    });
  });
}

void Backend::scatter_add_rows(const Tensor& src, const Tensor& index, const Tensor& table) {
  EDGEREC_TRAINING_ONLY("the scatter_add_rows tensor operation (training)");
  const char* op = "scatter_add_rows";
  need_float(op, table, "table");
  need_i32(op, index, "index");
  need_same_dtype(op, table, src, "src");
  const std::size_t d = table.cols(), n = index.numel(), rows = table.rows();
  need_numel(op, src, n * d, "src");
  check_indices(op, index, rows);
  by_float(table.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* from = src.host<T>();
    T* to = table.host<T>();
    const std::int32_t* idx = index.host<std::int32_t>();
    if (threads() <= 1 || n * d < 32768) {
      for (std::size_t r = 0; r < n; ++r)
        if (idx[r] >= 0) {
          T* row = to + static_cast<std::size_t>(idx[r]) * d;
          const T* g = from + r * d;
          for (std::size_t j = 0; j < d; ++j) row[j] += g[j];
        }
      return;
    }
    // Group the positions by destination row (a stable counting sort), then add each group in
    // increasing position: the same additions, in the same order, as the serial loop.
    std::vector<std::size_t> start(rows + 1, 0);
    for (std::size_t r = 0; r < n; ++r)
      if (idx[r] >= 0) ++start[static_cast<std::size_t>(idx[r]) + 1];
    for (std::size_t v = 0; v < rows; ++v) start[v + 1] += start[v];
    std::vector<std::size_t> order(start[rows]);
    std::vector<std::size_t> fillp(start.begin(), start.end() - 1);
    for (std::size_t r = 0; r < n; ++r)
      if (idx[r] >= 0) order[fillp[static_cast<std::size_t>(idx[r])]++] = r;
    split(*this, rows, d * std::max<std::size_t>(1, n / std::max<std::size_t>(rows, 1)),
          [&](std::size_t begin, std::size_t end) {
            for (std::size_t v = begin; v < end; ++v) {
              T* row = to + v * d;
              for (std::size_t q = start[v]; q < start[v + 1]; ++q) {
                const T* g = from + order[q] * d;
                for (std::size_t j = 0; j < d; ++j) row[j] += g[j];
              }
            }
          });
  });
}

void Backend::add(const Tensor& a, const Tensor& b, const Tensor& out, double alpha, double beta) {
  const char* op = "add";
  need_float(op, a, "a");
  need_same_dtype(op, a, b, "b");
  need_same_dtype(op, a, out, "out");
  need_numel(op, out, a.numel(), "out");
  const bool bc = broadcast_b(op, a, b);
  by_float(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* A = a.host<T>();
    const T* B = b.host<T>();
    T* O = out.host<T>();
    const T al = static_cast<T>(alpha), be = static_cast<T>(beta);
    const std::size_t c = std::max<std::size_t>(a.cols(), 1);
    split(*this, a.numel(), 1, [&](std::size_t begin, std::size_t end) {
      if (!bc) {
        for (std::size_t i = begin; i < end; ++i) O[i] = al * A[i] + be * B[i];
        return;
      }
      // The bias row by column runs (no division per element; same arithmetic).
      for (std::size_t i = begin; i < end;) {
        const std::size_t j0 = i % c, run = std::min(c - j0, end - i);
        const T* Br = B + j0;
        for (std::size_t j = 0; j < run; ++j) O[i + j] = al * A[i + j] + be * Br[j];
        i += run;
      }
    });
  });
}

void Backend::mul(const Tensor& a, const Tensor& b, const Tensor& out) {
  const char* op = "mul";
  need_float(op, a, "a");
  need_same_dtype(op, a, b, "b");
  need_same_dtype(op, a, out, "out");
  need_numel(op, out, a.numel(), "out");
  const bool bc = broadcast_b(op, a, b);
  by_float(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* A = a.host<T>();
    const T* B = b.host<T>();
    T* O = out.host<T>();
    const std::size_t c = std::max<std::size_t>(a.cols(), 1);
    split(*this, a.numel(), 1, [&](std::size_t begin, std::size_t end) {
      if (!bc) {
        for (std::size_t i = begin; i < end; ++i) O[i] = A[i] * B[i];
        return;
      }
      for (std::size_t i = begin; i < end;) {
        const std::size_t j0 = i % c, run = std::min(c - j0, end - i);
        const T* Br = B + j0;
        for (std::size_t j = 0; j < run; ++j) O[i + j] = A[i + j] * Br[j];
        i += run;
      }
    });
  });
}

void Backend::scale(const Tensor& x, double alpha, double beta, const Tensor& out) {
  const char* op = "scale";
  need_float(op, x, "x");
  need_same_dtype(op, x, out, "out");
  need_numel(op, out, x.numel(), "out");
  by_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* X = x.host<T>();
    T* O = out.host<T>();
    const T al = static_cast<T>(alpha), be = static_cast<T>(beta);
    split(*this, x.numel(), 1, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) O[i] = al * X[i] + be;
    });
  });
}

void Backend::activation(Act act, const Tensor& x, const Tensor& y) {
  const char* op = "activation";
  need_float(op, x, "x");
  need_same_dtype(op, x, y, "y");
  need_numel(op, y, x.numel(), "y");
  by_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* X = x.host<T>();
    T* Y = y.host<T>();
    split(*this, x.numel(), 8, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) Y[i] = act_forward(act, X[i]);
    });
  });
}

void Backend::activation_backward(Act act, const Tensor& x, const Tensor& dy, const Tensor& dx) {
  const char* op = "activation_backward";
  need_float(op, x, "x");
  need_same_dtype(op, x, dy, "dy");
  need_same_dtype(op, x, dx, "dx");
  need_numel(op, dy, x.numel(), "dy");
  need_numel(op, dx, x.numel(), "dx");
  by_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* X = x.host<T>();
    const T* DY = dy.host<T>();
    T* DX = dx.host<T>();
    split(*this, x.numel(), 8, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) DX[i] = DY[i] * act_derivative(act, X[i]);
    });
  });
}

void Backend::softmax(const Tensor& x, const Tensor& y, bool log, const SoftmaxMask& mask) {
  const char* op = "softmax";
  need_float(op, x, "x");
  need_same_dtype(op, x, y, "y");
  need_numel(op, y, x.numel(), "y");
  const MaskView mv = mask_view(op, x, mask);
  const std::size_t C = x.cols();
  by_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* X = x.host<T>();
    T* Y = y.host<T>();
    split(*this, x.rows(), C * 4, [&](std::size_t begin, std::size_t end) {
      for (std::size_t r = begin; r < end; ++r) {
        const T* xr = X + r * C;
        T* yr = Y + r * C;
        if (!mv.keys) {
          // No key mask: the valid columns are a prefix [0, n) (all, or the causal 0..q), so
          // no per-entry predicate, and each exp is taken once (kept in y, then divided). The
          // same operations in the same order as the general loop below.
          const std::size_t n = mv.causal ? r % C + 1 : C;
          T mx = xr[0];
          for (std::size_t j = 1; j < n; ++j)
            if (xr[j] > mx) mx = xr[j];
          T sum = 0;
          for (std::size_t j = 0; j < n; ++j) {
            const T e = std::exp(xr[j] - mx);
            sum += e;
            if (!log) yr[j] = e;
          }
          if (log) {
            const T lse = std::log(sum);
            for (std::size_t j = 0; j < n; ++j) yr[j] = xr[j] - mx - lse;
          } else {
            for (std::size_t j = 0; j < n; ++j) yr[j] = yr[j] / sum;
          }
          std::fill(yr + n, yr + C, T(0));
          continue;
        }
        bool any = false;
        T mx = 0;
        for (std::size_t j = 0; j < C; ++j)
          if (!mv.any() || mv.valid(r, j)) {
            if (!any || xr[j] > mx) mx = xr[j];
            any = true;
          }
        if (!any) {
          std::fill_n(yr, C, T(0));
          continue;
        }
        T sum = 0;
        for (std::size_t j = 0; j < C; ++j)
          if (!mv.any() || mv.valid(r, j)) sum += std::exp(xr[j] - mx);
        const T lse = std::log(sum);
        for (std::size_t j = 0; j < C; ++j) {
          if (mv.any() && !mv.valid(r, j))
            yr[j] = 0;
          else
            yr[j] = log ? xr[j] - mx - lse : std::exp(xr[j] - mx) / sum;
        }
      }
    });
  });
}

void Backend::softmax_backward(const Tensor& y, const Tensor& dy, const Tensor& dx, bool log,
                               const SoftmaxMask& mask) {
  EDGEREC_TRAINING_ONLY("the softmax_backward tensor operation (training)");
  const char* op = "softmax_backward";
  need_float(op, y, "y");
  need_same_dtype(op, y, dy, "dy");
  need_same_dtype(op, y, dx, "dx");
  need_numel(op, dy, y.numel(), "dy");
  need_numel(op, dx, y.numel(), "dx");
  const MaskView mv = mask_view(op, y, mask);
  const std::size_t C = y.cols();
  by_float(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* Y = y.host<T>();
    const T* DY = dy.host<T>();
    T* DX = dx.host<T>();
    split(*this, y.rows(), C * 3, [&](std::size_t begin, std::size_t end) {
      for (std::size_t r = begin; r < end; ++r) {
        const T* yr = Y + r * C;
        const T* gr = DY + r * C;
        T* dr = DX + r * C;
        T s = 0;
        for (std::size_t j = 0; j < C; ++j)
          if (!mv.any() || mv.valid(r, j)) s += log ? gr[j] : gr[j] * yr[j];
        for (std::size_t j = 0; j < C; ++j) {
          if (mv.any() && !mv.valid(r, j))
            dr[j] = 0;
          else
            dr[j] = log ? gr[j] - std::exp(yr[j]) * s : yr[j] * (gr[j] - s);
        }
      }
    });
  });
}

void Backend::layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps,
                         const Tensor& y, const Tensor& mean, const Tensor& rstd) {
  const char* op = "layer_norm";
  need_float(op, x, "x");
  for (const auto* t : {&gamma, &beta, &y, &mean, &rstd}) need_same_dtype(op, x, *t, "gamma/beta/y/mean/rstd");
  const std::size_t C = x.cols(), R = x.rows();
  need_numel(op, gamma, C, "gamma");
  need_numel(op, beta, C, "beta");
  need_numel(op, y, x.numel(), "y");
  need_numel(op, mean, R, "mean");
  need_numel(op, rstd, R, "rstd");
  by_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* X = x.host<T>();
    const T* G = gamma.host<T>();
    const T* B = beta.host<T>();
    T* Y = y.host<T>();
    T* M = mean.host<T>();
    T* S = rstd.host<T>();
    split(*this, R, C * 4, [&](std::size_t begin, std::size_t end) {
      for (std::size_t r = begin; r < end; ++r) {
        const T* xr = X + r * C;
        T sum = 0;
        for (std::size_t j = 0; j < C; ++j) sum += xr[j];
        const T mu = sum / static_cast<T>(C);
        T var = 0;
        for (std::size_t j = 0; j < C; ++j) var += (xr[j] - mu) * (xr[j] - mu);
        var /= static_cast<T>(C);
        const T rs = T(1) / std::sqrt(var + static_cast<T>(eps));
        M[r] = mu;
        S[r] = rs;
        for (std::size_t j = 0; j < C; ++j) Y[r * C + j] = (xr[j] - mu) * rs * G[j] + B[j];
      }
    });
  });
}

void Backend::layer_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean,
                                  const Tensor& rstd, const Tensor& dy, const Tensor& dx,
                                  const Tensor& dgamma, const Tensor& dbeta) {
  EDGEREC_TRAINING_ONLY("the layer_norm_backward tensor operation (training)");
  const char* op = "layer_norm_backward";
  need_float(op, x, "x");
  for (const auto* t : {&gamma, &mean, &rstd, &dy, &dx, &dgamma, &dbeta})
    need_same_dtype(op, x, *t, "gamma/mean/rstd/dy/dx/dgamma/dbeta");
  const std::size_t C = x.cols(), R = x.rows();
  need_numel(op, gamma, C, "gamma");
  need_numel(op, mean, R, "mean");
  need_numel(op, rstd, R, "rstd");
  need_numel(op, dy, x.numel(), "dy");
  need_numel(op, dx, x.numel(), "dx");
  need_numel(op, dgamma, C, "dgamma");
  need_numel(op, dbeta, C, "dbeta");
  by_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* X = x.host<T>();
    const T* G = gamma.host<T>();
    const T* M = mean.host<T>();
    const T* S = rstd.host<T>();
    const T* DY = dy.host<T>();
    T* DX = dx.host<T>();
    T* DG = dgamma.host<T>();
    T* DB = dbeta.host<T>();
    split(*this, R, C * 6, [&](std::size_t begin, std::size_t end) {
      for (std::size_t r = begin; r < end; ++r) {
        const T* xr = X + r * C;
        const T* gr = DY + r * C;
        T s1 = 0, s2 = 0;  // mean of g_hat and of g_hat * x_hat
        for (std::size_t j = 0; j < C; ++j) {
          const T gh = gr[j] * G[j];
          s1 += gh;
          s2 += gh * (xr[j] - M[r]) * S[r];
        }
        s1 /= static_cast<T>(C);
        s2 /= static_cast<T>(C);
        for (std::size_t j = 0; j < C; ++j) {
          const T xh = (xr[j] - M[r]) * S[r];
          DX[r * C + j] = S[r] * (gr[j] * G[j] - s1 - xh * s2);
        }
      }
    });
    split(*this, C, R * 4, [&](std::size_t begin, std::size_t end) {
      for (std::size_t j = begin; j < end; ++j) {
        T sg = 0, sb = 0;
        for (std::size_t r = 0; r < R; ++r) {
          const T g = DY[r * C + j];
          sg += g * (X[r * C + j] - M[r]) * S[r];
          sb += g;
        }
        DG[j] = sg;
        DB[j] = sb;
      }
    });
  });
}

void Backend::dropout(const Tensor& x, double p, std::uint64_t seed, const Tensor& y) {
  EDGEREC_TRAINING_ONLY("the dropout tensor operation (training)");
  const char* op = "dropout";
  need_float(op, x, "x");
  need_same_dtype(op, x, y, "y");
  need_numel(op, y, x.numel(), "y");
  if (!(p >= 0.0 && p < 1.0)) fail(op, "rate " + std::to_string(p) + " is outside [0, 1)");
  // The hash is shared with device backends (eval/rng_core.hpp), so masks match bit for bit.
  const std::uint64_t key = rng_core::dropout_key(seed);
  by_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* X = x.host<T>();
    T* Y = y.host<T>();
    const T keep_scale = static_cast<T>(1.0 / (1.0 - p));
    split(*this, x.numel(), 4, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) {
        const double u = rng_core::dropout_uniform(key, static_cast<std::uint64_t>(i));
        Y[i] = u < p ? T(0) : X[i] * keep_scale;
      }
    });
  });
}

void Backend::reduce_rows(const Tensor& x, const Tensor& out) {
  const char* op = "reduce_rows";
  need_float(op, x, "x");
  need_same_dtype(op, x, out, "out");
  const std::size_t C = out.numel();
  if (C == 0 || x.numel() % C != 0)
    fail(op, "x " + x.shape().str() + " is not a whole number of rows of " + out.shape().str());
  const std::size_t R = x.numel() / C;
  by_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* X = x.host<T>();
    T* O = out.host<T>();
    split(*this, C, R, [&](std::size_t begin, std::size_t end) {
      for (std::size_t j = begin; j < end; ++j) {
        double s = 0;
        for (std::size_t r = 0; r < R; ++r) s += X[r * C + j];
        O[j] = static_cast<T>(s);
      }
    });
  });
}

void Backend::reduce_cols(const Tensor& x, const Tensor& out) {
  const char* op = "reduce_cols";
  need_float(op, x, "x");
  need_same_dtype(op, x, out, "out");
  const std::size_t R = out.numel();
  if (R == 0 || x.numel() % R != 0)
    fail(op, "x " + x.shape().str() + " does not split into " + std::to_string(R) + " rows");
  const std::size_t C = x.numel() / R;
  by_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* X = x.host<T>();
    T* O = out.host<T>();
    split(*this, R, C, [&](std::size_t begin, std::size_t end) {
      for (std::size_t r = begin; r < end; ++r) {
        double s = 0;
        for (std::size_t j = 0; j < C; ++j) s += X[r * C + j];
        O[r] = static_cast<T>(s);
      }
    });
  });
}

double Backend::sum_squares(const Tensor& x) {
  const char* op = "sum_squares";
  need_float(op, x, "x");
  constexpr std::size_t kBlock = 4096;
  const std::size_t n = x.numel(), blocks = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(blocks, 0.0);
  by_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* X = x.host<T>();
    split(*this, blocks, kBlock, [&](std::size_t begin, std::size_t end) {
      for (std::size_t b = begin; b < end; ++b) {
        double s = 0;
        for (std::size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i)
          s += static_cast<double>(X[i]) * static_cast<double>(X[i]);
        partial[b] = s;
      }
    });
  });
  double total = 0;
  for (double s : partial) total += s;
  return total;
}

void Backend::sgd_update(const Tensor& param, const Tensor& grad, const Tensor& velocity,
                         const SgdStep& step) {
  EDGEREC_TRAINING_ONLY("the sgd_update tensor operation (training)");
  const char* op = "sgd_update";
  need_float(op, param, "param");
  need_same_dtype(op, param, grad, "grad");
  need_numel(op, grad, param.numel(), "grad");
  const bool momentum = step.momentum != 0.0;
  if (momentum) {
    need_same_dtype(op, param, velocity, "velocity");
    need_numel(op, velocity, param.numel(), "velocity");
  }
  by_float(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* P = param.host<T>();
    const T* G = grad.host<T>();
    T* V = momentum ? velocity.host<T>() : nullptr;
    const T lr = static_cast<T>(step.lr), mom = static_cast<T>(step.momentum),
            wd = static_cast<T>(step.weight_decay);
    split(*this, param.numel(), 4, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) {
        T g = G[i] + wd * P[i];
        if (V) {
          V[i] = mom * V[i] + g;
          g = V[i];
        }
        P[i] -= lr * g;
      }
    });
  });
}

void Backend::adam_update(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                          const AdamStep& step) {
  const char* op = "adam_update";
  need_float(op, param, "param");
  need_same_dtype(op, param, grad, "grad");
  need_same_dtype(op, param, m, "m");
  need_same_dtype(op, param, v, "v");
  need_numel(op, grad, param.numel(), "grad");
  need_numel(op, m, param.numel(), "m");
  need_numel(op, v, param.numel(), "v");
  if (step.step < 1) fail(op, "step must be >= 1, got " + std::to_string(step.step));
  by_float(param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* P = param.host<T>();
    const T* G = grad.host<T>();
    T* M = m.host<T>();
    T* V = v.host<T>();
    const T lr = static_cast<T>(step.lr), b1 = static_cast<T>(step.beta1), b2 = static_cast<T>(step.beta2),
            eps = static_cast<T>(step.eps), wd = static_cast<T>(step.weight_decay);
    const T bc1 = static_cast<T>(1.0 - std::pow(step.beta1, static_cast<double>(step.step)));
    const T bc2 = static_cast<T>(1.0 - std::pow(step.beta2, static_cast<double>(step.step)));
    const T shrink = static_cast<T>(1.0 - step.lr * step.weight_decay);
    const bool decoupled = step.decoupled;
    split(*this, param.numel(), 16, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i) {
        T g = G[i];
        if (decoupled)
          P[i] *= shrink;
        else
          g += wd * P[i];
        M[i] = b1 * M[i] + (T(1) - b1) * g;
        V[i] = b2 * V[i] + (T(1) - b2) * g * g;
        P[i] -= lr * (M[i] / bc1) / (std::sqrt(V[i] / bc2) + eps);
      }
    });
  });
}

void Backend::topk_rows(const Tensor& scores, int k, const Tensor& index, const Tensor& values) {
  const char* op = "topk_rows";
  need_float(op, scores, "scores");
  need_i32(op, index, "index");
  need_same_dtype(op, scores, values, "values");
  const std::size_t C = scores.cols(), R = scores.rows();
  if (k < 1 || static_cast<std::size_t>(k) > C)
    fail(op, "k = " + std::to_string(k) + " is outside [1, " + std::to_string(C) + "]");
  const std::size_t kk = static_cast<std::size_t>(k);
  need_numel(op, index, R * kk, "index");
  need_numel(op, values, R * kk, "values");
  by_float(scores.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* S = scores.host<T>();
    std::int32_t* I = index.host<std::int32_t>();
    T* V = values.host<T>();
    split(*this, R, C * 2, [&](std::size_t begin, std::size_t end) {
      std::vector<std::int32_t> cols(C);
      for (std::size_t r = begin; r < end; ++r) {
        const T* s = S + r * C;
        for (std::size_t j = 0; j < C; ++j) cols[j] = static_cast<std::int32_t>(j);
        // A strict weak order: higher score first, NaN last, ties by lower column.
        auto better = [s](std::int32_t a, std::int32_t b) {
          const T sa = s[a], sb = s[b];
          const bool na = std::isnan(sa), nb = std::isnan(sb);
          if (na != nb) return nb;
          if (!na && sa != sb) return sa > sb;
          return a < b;
        };
        std::partial_sort(cols.begin(), cols.begin() + static_cast<std::ptrdiff_t>(kk), cols.end(), better);
        for (std::size_t q = 0; q < kk; ++q) {
          I[r * kk + q] = cols[q];
          V[r * kk + q] = s[cols[q]];
        }
      }
    });
  });
}

}  // namespace edgerec
