// The CUDA backend (edgerec/cuda_backend.hpp): the Backend class over the launchers of
// kernels.cu, cuBLAS for the GEMMs, stream-ordered device memory. Argument checks are the
// reference's own (backend/tensor_checks.hpp), so every call rejected on the CPU is rejected here
// with the same message, before anything runs.
#include "edgerec/cuda_backend.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "backend/bpr_strata.hpp"
#include "backend/tensor_checks.hpp"
#include "edgerec/error.hpp"
#include "eval/rng_core.hpp"
#include "kernels.hpp"

namespace edgerec {
namespace {

using namespace tensor_checks;
using cuda::check;

void check_blas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS)
    throw Error(std::string("cuBLAS: ") + what + ": " + cublasGetStatusString(status));
}

// Bytes held by one backend's buffers (and its fits' scratch), and the most held at once.
struct MemoryStats {
  std::size_t live = 0;
  std::size_t peak = 0;
  void add(std::size_t bytes) {
    live += bytes;
    peak = std::max(peak, live);
  }
  void sub(std::size_t bytes) { live -= std::min(live, bytes); }
};

// Stream-ordered device memory (cudaMallocAsync: the pool keeps freed blocks for reuse, so the
// hundreds of activation tensors a training step allocates cost no cudaMalloc each).
void* device_alloc(std::size_t bytes, cudaStream_t stream, MemoryStats& stats, const char* what) {
  void* p = nullptr;
  const cudaError_t st = cudaMallocAsync(&p, std::max<std::size_t>(bytes, 1), stream);
  if (st != cudaSuccess)
    throw Error(std::string("CUDA: out of device memory for ") + what + " (" + std::to_string(bytes) +
                " bytes): " + cudaGetErrorString(st));
  stats.add(bytes);
  return p;
}

// The stream a backend's work and memory are ordered on, and its memory counters. Shared by the
// backend and every buffer it allocated, so a tensor that outlives its backend still frees its
// memory on a live stream.
struct Context {
  cudaStream_t stream = nullptr;
  MemoryStats stats;
  Context() { check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "creating a stream"); }
  ~Context() {
    cudaStreamSynchronize(stream);
    cudaStreamDestroy(stream);
  }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
};

class DeviceBuffer final : public Buffer {
 public:
  DeviceBuffer(DType dtype, std::size_t count, std::shared_ptr<Context> ctx)
      : Buffer(dtype, count), ctx_(std::move(ctx)), bytes_(count * dtype_size(dtype)),
        ptr_(device_alloc(bytes_, ctx_->stream, ctx_->stats, "a tensor")) {
    const cudaError_t st = cudaMemsetAsync(ptr_, 0, bytes_, ctx_->stream);
    if (st != cudaSuccess) {
      cudaFreeAsync(ptr_, ctx_->stream);
      ctx_->stats.sub(bytes_);
      check(st, "zero-filling a tensor");
    }
  }
  ~DeviceBuffer() override {
    cudaFreeAsync(ptr_, ctx_->stream);  // (nothing to do about a failure in a destructor)
    ctx_->stats.sub(bytes_);
  }
  void* host_data() override { return nullptr; }
  void* device() const { return ptr_; }

 private:
  std::shared_ptr<Context> ctx_;
  std::size_t bytes_;
  void* ptr_;
};

// Scratch device memory for the length of one call or fit.
template <typename T>
class DeviceArray {
 public:
  DeviceArray(std::size_t n, cudaStream_t stream, MemoryStats& stats, const char* what)
      : n_(n), stream_(stream), stats_(&stats),
        p_(static_cast<T*>(device_alloc(n * sizeof(T), stream, stats, what))) {}
  DeviceArray(const std::vector<T>& host, cudaStream_t stream, MemoryStats& stats, const char* what)
      : DeviceArray(host.size(), stream, stats, what) {
    upload(host.data(), host.size());
  }
  ~DeviceArray() {
    cudaFreeAsync(p_, stream_);
    stats_->sub(n_ * sizeof(T));
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  T* get() const { return p_; }
  std::size_t size() const { return n_; }
  // Synchronous with respect to the host buffer (pageable memory is staged before returning).
  void upload(const T* host, std::size_t n) {
    if (n) check(cudaMemcpyAsync(p_, host, n * sizeof(T), cudaMemcpyHostToDevice, stream_), "upload");
    check(cudaStreamSynchronize(stream_), "upload");
  }
  void download(T* host, std::size_t n) const {
    if (n) check(cudaMemcpyAsync(host, p_, n * sizeof(T), cudaMemcpyDeviceToHost, stream_), "download");
    check(cudaStreamSynchronize(stream_), "download");
  }

 private:
  std::size_t n_;
  cudaStream_t stream_;
  MemoryStats* stats_;
  T* p_;
};

// The device CSR of a confidence / interaction matrix.
struct DeviceCsr {
  DeviceArray<std::uint64_t> indptr;
  DeviceArray<std::uint32_t> cols;
  DeviceArray<float> vals;
  std::size_t rows;
  DeviceCsr(const Csr& c, cudaStream_t s, MemoryStats& st)
      : indptr(c.indptr, s, st, "a sparse matrix"), cols(c.indices, s, st, "a sparse matrix"),
        vals(c.values.size() == c.indices.size() ? c.values : std::vector<float>(c.indices.size(), 1.0f), s, st,
             "a sparse matrix"),
        rows(c.rows()) {}
};

template <typename F>
void by_float(DType dtype, F&& f) {
  if (dtype == DType::f64) f(double{});
  else f(float{});
}

class CudaBackend final : public Backend {
 public:
  CudaBackend(int device, std::unique_ptr<Backend> host) : device_(device), host_(std::move(host)) {
    check(cudaSetDevice(device), "selecting the device");
    ctx_ = std::make_shared<Context>();
    stream_ = ctx_->stream;
    stats_ = &ctx_->stats;
    // Keep freed blocks in the pool instead of returning them to the driver at each sync.
    cudaMemPool_t pool;
    check(cudaDeviceGetDefaultMemPool(&pool, device), "memory pool");
    std::uint64_t threshold = std::numeric_limits<std::uint64_t>::max();
    check(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold), "memory pool");
    check_blas(cublasCreate(&blas_), "creating a handle");
    check_blas(cublasSetStream(blas_, stream_), "binding the stream");
    // Full f32 products (no TF32): results within f32 rounding of the reference's.
    check_blas(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH), "math mode");
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, device), "device properties");
    info_.device = device;
    info_.name = prop.name;
    info_.compute_major = prop.major;
    info_.compute_minor = prop.minor;
    info_.total_bytes = prop.totalGlobalMem;
    index_scratch_ = static_cast<std::int64_t*>(device_alloc(sizeof(std::int64_t), stream_, *stats_, "index checks"));
  }
  ~CudaBackend() override {
    cudaFreeAsync(index_scratch_, stream_);
    cudaStreamSynchronize(stream_);
    cublasDestroy(blas_);
  }

  std::string name() const override { return "cuda"; }
  int threads() const override { return host_->threads(); }
  void parallel_for(std::size_t n, int chunks,
                    const std::function<void(std::size_t, std::size_t, int)>& body) override {
    host_->parallel_for(n, chunks, body);
  }

  CudaDeviceInfo info() const {
    CudaDeviceInfo i = info_;
    i.peak_bytes = stats_->peak;
    return i;
  }

  // ---- memory -----------------------------------------------------------------------------

  Tensor alloc(const Shape& shape, DType dtype) override {
    const std::size_t n = shape.numel();
    if (n > std::numeric_limits<std::size_t>::max() / 8)
      throw Error("tensor " + shape.str() + " is too large to allocate");
    return Tensor(std::make_shared<DeviceBuffer>(dtype, n, ctx_), 0, shape);
  }

  void upload(const Tensor& dst, const void* host_src) override {
    need("upload", dst, "dst");
    if (!dst.numel()) return;
    check(cudaMemcpyAsync(ptr(dst), host_src, bytes(dst), cudaMemcpyHostToDevice, stream_), "upload");
    check(cudaStreamSynchronize(stream_), "upload");
  }

  void download(const Tensor& src, void* host_dst) override {
    need("download", src, "src");
    if (!src.numel()) return;
    check(cudaMemcpyAsync(host_dst, ptr(src), bytes(src), cudaMemcpyDeviceToHost, stream_), "download");
    check(cudaStreamSynchronize(stream_), "download");
  }

  void copy(const Tensor& src, const Tensor& dst) override {
    need("copy", src, "src");
    need_same_dtype("copy", src, dst, "dst");
    need_numel("copy", dst, src.numel(), "dst");
    if (!src.numel() || src.same_data(dst)) return;
    const auto* a = static_cast<const char*>(ptr(src));
    auto* b = static_cast<char*>(ptr(dst));
    const std::size_t n = bytes(src);
    if (a < b + n && b < a + n) {  // overlapping views: through scratch (memmove semantics)
      DeviceArray<char> tmp(n, stream_, *stats_, "copy");
      check(cudaMemcpyAsync(tmp.get(), a, n, cudaMemcpyDeviceToDevice, stream_), "copy");
      check(cudaMemcpyAsync(b, tmp.get(), n, cudaMemcpyDeviceToDevice, stream_), "copy");
      return;
    }
    check(cudaMemcpyAsync(b, a, n, cudaMemcpyDeviceToDevice, stream_), "copy");
  }

  void fill(const Tensor& dst, double value) override {
    need("fill", dst, "dst");
    if (dst.dtype() == DType::i32) {
      cuda::fill(dev<std::int32_t>(dst), dst.numel(), static_cast<std::int32_t>(value), stream_);
      return;
    }
    by_float(dst.dtype(), [&](auto t) {
      using T = decltype(t);
      cuda::fill(dev<T>(dst), dst.numel(), static_cast<T>(value), stream_);
    });
  }

  // ---- products and data movement ---------------------------------------------------------

  void gemm(bool trans_a, bool trans_b, double alpha, const Tensor& a, const Tensor& b, double beta,
            const Tensor& c) override {
    const GemmShape g = gemm_shape(trans_a, trans_b, a, b, c);
    if (!g.batch || !g.m || !g.n) return;
    for (std::size_t v : {g.m, g.n, g.k})
      if (v > static_cast<std::size_t>(INT_MAX)) throw Error("gemm: a dimension exceeds cuBLAS's int range");
    // Row-major C = op(A) op(B) is column-major C' = op(B)' op(A)': swap the operands.
    const int m = static_cast<int>(g.m), n = static_cast<int>(g.n), k = static_cast<int>(g.k);
    const cublasOperation_t ob = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, oa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const int ldb = trans_b ? k : n, lda = trans_a ? m : k;
    const long long sa = g.batched_a ? static_cast<long long>(g.m * g.k) : 0;
    const long long sb = g.batched_b ? static_cast<long long>(g.k * g.n) : 0;
    const long long sc = static_cast<long long>(g.m * g.n);
    const int batch = static_cast<int>(g.batch);
    if (a.dtype() == DType::f64) {
      const double al = alpha, be = beta;
      check_blas(cublasDgemmStridedBatched(blas_, ob, oa, n, m, k, &al, dev<double>(b), ldb, sb, dev<double>(a),
                                           lda, sa, &be, dev<double>(c), n, sc, batch),
                 "gemm");
    } else {
      const float al = static_cast<float>(alpha), be = static_cast<float>(beta);
      check_blas(cublasSgemmStridedBatched(blas_, ob, oa, n, m, k, &al, dev<float>(b), ldb, sb, dev<float>(a),
                                           lda, sa, &be, dev<float>(c), n, sc, batch),
                 "gemm");
    }
  }

  void permute(const Tensor& x, const std::array<int, kMaxRank>& axes, const Tensor& out) override {
    const char* op = "permute";
    need(op, x, "x");
    need_same_dtype(op, x, out, "out");
    const int r = x.rank();
    if (out.rank() != r) fail(op, "out " + out.shape().str() + " must have x's rank " + std::to_string(r));
    std::size_t xs[kMaxRank] = {0, 0, 0, 0}, dims[kMaxRank] = {1, 1, 1, 1}, strides[kMaxRank] = {0, 0, 0, 0};
    std::size_t s = 1;
    for (int i = r - 1; i >= 0; --i) {
      xs[i] = s;
      s *= static_cast<std::size_t>(x.dim(i));
    }
    bool seen[kMaxRank] = {false, false, false, false};
    for (int i = 0; i < r; ++i) {
      const int ax = axes[static_cast<std::size_t>(i)];
      if (ax < 0 || ax >= r || seen[ax]) fail(op, "axes are not a permutation of x's " + std::to_string(r) + " axes");
      seen[ax] = true;
      if (out.dim(i) != x.dim(ax))
        fail(op, "out " + out.shape().str() + " is not x " + x.shape().str() + " with its axes permuted");
      dims[kMaxRank - r + i] = static_cast<std::size_t>(x.dim(ax));
      strides[kMaxRank - r + i] = xs[ax];
    }
    cuda::permute(ptr(x), ptr(out), dims, strides, dtype_size(x.dtype()), stream_);
  }

  void gather_rows(const Tensor& table, const Tensor& index, const Tensor& out) override {
    const char* op = "gather_rows";
    need_float(op, table, "table");
    need_i32(op, index, "index");
    need_same_dtype(op, table, out, "out");
    const std::size_t d = table.cols(), n = index.numel(), rows = table.rows();
    need_numel(op, out, n * d, "out");
    check_indices(op, index, rows);
    by_float(table.dtype(), [&](auto t) {
      using T = decltype(t);
      cuda::gather_rows(dev<T>(table), dev<std::int32_t>(index), dev<T>(out), n, d, stream_);
    });
  }

  void scatter_add_rows(const Tensor& src, const Tensor& index, const Tensor& table) override {
    const char* op = "scatter_add_rows";
    need_float(op, table, "table");
    need_i32(op, index, "index");
    need_same_dtype(op, table, src, "src");
    const std::size_t d = table.cols(), n = index.numel(), rows = table.rows();
    need_numel(op, src, n * d, "src");
    check_indices(op, index, rows);
    if (!n || !d) return;
    if (n > static_cast<std::size_t>(INT_MAX)) fail(op, "more than 2^31 - 1 positions");
    // Group the positions by destination (a stable radix sort), then add each group in order.
    DeviceArray<std::uint32_t> keys_in(n, stream_, *stats_, op), keys(n, stream_, *stats_, op);
    DeviceArray<std::int32_t> order_in(n, stream_, *stats_, op), order(n, stream_, *stats_, op);
    std::size_t temp_bytes = 0;
    cuda::sort_positions(dev<std::int32_t>(index), n, rows, keys_in.get(), keys.get(), order_in.get(),
                         order.get(), nullptr, temp_bytes, stream_);
    DeviceArray<char> temp(temp_bytes, stream_, *stats_, op);
    cuda::sort_positions(dev<std::int32_t>(index), n, rows, keys_in.get(), keys.get(), order_in.get(),
                         order.get(), temp.get(), temp_bytes, stream_);
    // Padding positions sorted last; count the real ones on the host.
    std::vector<std::int32_t> idx(n);
    download(index, idx.data());
    const auto count = static_cast<std::size_t>(std::count_if(idx.begin(), idx.end(), [](std::int32_t v) { return v >= 0; }));
    by_float(table.dtype(), [&](auto t) {
      using T = decltype(t);
      cuda::scatter_add_sorted(dev<T>(src), keys.get(), order.get(), count, dev<T>(table), d, stream_);
    });
  }

  // ---- element-wise -----------------------------------------------------------------------

  void add(const Tensor& a, const Tensor& b, const Tensor& out, double alpha, double beta) override {
    const char* op = "add";
    need_float(op, a, "a");
    need_same_dtype(op, a, b, "b");
    need_same_dtype(op, a, out, "out");
    need_numel(op, out, a.numel(), "out");
    const bool bc = broadcast_b(op, a, b);
    by_float(a.dtype(), [&](auto t) {
      using T = decltype(t);
      cuda::add(dev<T>(a), dev<T>(b), dev<T>(out), a.numel(), bc ? std::max<std::size_t>(a.cols(), 1) : 0,
                static_cast<T>(alpha), static_cast<T>(beta), stream_);
    });
  }

  void mul(const Tensor& a, const Tensor& b, const Tensor& out) override {
    const char* op = "mul";
    need_float(op, a, "a");
    need_same_dtype(op, a, b, "b");
    need_same_dtype(op, a, out, "out");
    need_numel(op, out, a.numel(), "out");
    const bool bc = broadcast_b(op, a, b);
    by_float(a.dtype(), [&](auto t) {
      using T = decltype(t);
      cuda::mul(dev<T>(a), dev<T>(b), dev<T>(out), a.numel(), bc ? std::max<std::size_t>(a.cols(), 1) : 0, stream_);
    });
  }

  void scale(const Tensor& x, double alpha, double beta, const Tensor& out) override {
    const char* op = "scale";
    need_float(op, x, "x");
    need_same_dtype(op, x, out, "out");
    need_numel(op, out, x.numel(), "out");
    by_float(x.dtype(), [&](auto t) {
      using T = decltype(t);
      cuda::scale(dev<T>(x), dev<T>(out), x.numel(), static_cast<T>(alpha), static_cast<T>(beta), stream_);
    });
  }

  void activation(Act act, const Tensor& x, const Tensor& y) override {
    const char* op = "activation";
    need_float(op, x, "x");
    need_same_dtype(op, x, y, "y");
    need_numel(op, y, x.numel(), "y");
    by_float(x.dtype(), [&](auto t) {
      using T = decltype(t);
      cuda::activation(static_cast<int>(act), dev<T>(x), dev<T>(y), x.numel(), stream_);
    });
  }

  void activation_backward(Act act, const Tensor& x, const Tensor& dy, const Tensor& dx) override {
    const char* op = "activation_backward";
    need_float(op, x, "x");
    need_same_dtype(op, x, dy, "dy");
    need_same_dtype(op, x, dx, "dx");
    need_numel(op, dy, x.numel(), "dy");
    need_numel(op, dx, x.numel(), "dx");
    by_float(x.dtype(), [&](auto t) {
      using T = decltype(t);
      cuda::activation_backward(static_cast<int>(act), dev<T>(x), dev<T>(dy), dev<T>(dx), x.numel(), stream_);
    });
  }

  // ---- row-wise ---------------------------------------------------------------------------

  void softmax(const Tensor& x, const Tensor& y, bool log, const SoftmaxMask& mask) override {
    const char* op = "softmax";
    need_float(op, x, "x");
    need_same_dtype(op, x, y, "y");
    need_numel(op, y, x.numel(), "y");
    const cuda::Mask m = device_mask(op, x, mask);
    by_float(x.dtype(), [&](auto t) {
      using T = decltype(t);
      cuda::softmax(dev<T>(x), dev<T>(y), x.rows(), x.cols(), log, m, stream_);
    });
  }

  void softmax_backward(const Tensor& y, const Tensor& dy, const Tensor& dx, bool log,
                        const SoftmaxMask& mask) override {
    const char* op = "softmax_backward";
    need_float(op, y, "y");
    need_same_dtype(op, y, dy, "dy");
    need_same_dtype(op, y, dx, "dx");
    need_numel(op, dy, y.numel(), "dy");
    need_numel(op, dx, y.numel(), "dx");
    const cuda::Mask m = device_mask(op, y, mask);
    by_float(y.dtype(), [&](auto t) {
      using T = decltype(t);
      cuda::softmax_backward(dev<T>(y), dev<T>(dy), dev<T>(dx), y.rows(), y.cols(), log, m, stream_);
    });
  }

  void layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, const Tensor& y,
                  const Tensor& mean, const Tensor& rstd) override {
    const char* op = "layer_norm";
    need_float(op, x, "x");
    for (const auto* t : {&gamma, &beta, &y, &mean, &rstd}) need_same_dtype(op, x, *t, "gamma/beta/y/mean/rstd");
    const std::size_t C = x.cols(), R = x.rows();
    need_numel(op, gamma, C, "gamma");
    need_numel(op, beta, C, "beta");
    need_numel(op, y, x.numel(), "y");
    need_numel(op, mean, R, "mean");
    need_numel(op, rstd, R, "rstd");
    by_float(x.dtype(), [&](auto t) {
      using T = decltype(t);
      cuda::layer_norm(dev<T>(x), dev<T>(gamma), dev<T>(beta), static_cast<T>(eps), dev<T>(y), dev<T>(mean),
                       dev<T>(rstd), R, C, stream_);
    });
  }

  void layer_norm_backward(const Tensor& x, const Tensor& gamma, const Tensor& mean, const Tensor& rstd,
                           const Tensor& dy, const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) override {
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
    by_float(x.dtype(), [&](auto t) {
      using T = decltype(t);
      cuda::layer_norm_backward(dev<T>(x), dev<T>(gamma), dev<T>(mean), dev<T>(rstd), dev<T>(dy), dev<T>(dx),
                                dev<T>(dgamma), dev<T>(dbeta), R, C, stream_);
    });
  }

  void dropout(const Tensor& x, double p, std::uint64_t seed, const Tensor& y) override {
    const char* op = "dropout";
    need_float(op, x, "x");
    need_same_dtype(op, x, y, "y");
    need_numel(op, y, x.numel(), "y");
    if (!(p >= 0.0 && p < 1.0)) fail(op, "rate " + std::to_string(p) + " is outside [0, 1)");
    by_float(x.dtype(), [&](auto t) {
      using T = decltype(t);
      cuda::dropout(dev<T>(x), dev<T>(y), x.numel(), p, rng_core::dropout_key(seed),
                    static_cast<T>(1.0 / (1.0 - p)), stream_);
    });
  }

  void reduce_rows(const Tensor& x, const Tensor& out) override {
    const char* op = "reduce_rows";
    need_float(op, x, "x");
    need_same_dtype(op, x, out, "out");
    const std::size_t C = out.numel();
    if (C == 0 || x.numel() % C != 0)
      fail(op, "x " + x.shape().str() + " is not a whole number of rows of " + out.shape().str());
    by_float(x.dtype(), [&](auto t) {
      using T = decltype(t);
      cuda::reduce_rows(dev<T>(x), dev<T>(out), x.numel() / C, C, stream_);
    });
  }

  void reduce_cols(const Tensor& x, const Tensor& out) override {
    const char* op = "reduce_cols";
    need_float(op, x, "x");
    need_same_dtype(op, x, out, "out");
    const std::size_t R = out.numel();
    if (R == 0 || x.numel() % R != 0)
      fail(op, "x " + x.shape().str() + " does not split into " + std::to_string(R) + " rows");
    by_float(x.dtype(), [&](auto t) {
      using T = decltype(t);
      cuda::reduce_cols(dev<T>(x), dev<T>(out), R, x.numel() / R, stream_);
    });
  }

  double sum_squares(const Tensor& x) override {
    need_float("sum_squares", x, "x");
    const std::size_t n = x.numel(), blocks = (n + 4095) / 4096;
    if (!blocks) return 0.0;
    DeviceArray<double> partial(blocks, stream_, *stats_, "sum_squares");
    by_float(x.dtype(), [&](auto t) {
      using T = decltype(t);
      cuda::sum_squares_blocks(dev<T>(x), n, partial.get(), stream_);
    });
    std::vector<double> host(blocks);
    partial.download(host.data(), blocks);
    double total = 0;
    for (double s : host) total += s;  // block sums in order, as the reference
    return total;
  }

  void sgd_update(const Tensor& param, const Tensor& grad, const Tensor& velocity, const SgdStep& step) override {
    const char* op = "sgd_update";
    need_float(op, param, "param");
    need_same_dtype(op, param, grad, "grad");
    need_numel(op, grad, param.numel(), "grad");
    const bool momentum = step.momentum != 0.0;
    if (momentum) {
      need_same_dtype(op, param, velocity, "velocity");
      need_numel(op, velocity, param.numel(), "velocity");
    }
    by_float(param.dtype(), [&](auto t) {
      using T = decltype(t);
      cuda::sgd_update(dev<T>(param), dev<T>(grad), momentum ? dev<T>(velocity) : static_cast<T*>(nullptr),
                       param.numel(), static_cast<T>(step.lr), static_cast<T>(step.momentum),
                       static_cast<T>(step.weight_decay), stream_);
    });
  }

  void adam_update(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                   const AdamStep& step) override {
    const char* op = "adam_update";
    need_float(op, param, "param");
    need_same_dtype(op, param, grad, "grad");
    need_same_dtype(op, param, m, "m");
    need_same_dtype(op, param, v, "v");
    need_numel(op, grad, param.numel(), "grad");
    need_numel(op, m, param.numel(), "m");
    need_numel(op, v, param.numel(), "v");
    if (step.step < 1) fail(op, "step must be >= 1, got " + std::to_string(step.step));
    by_float(param.dtype(), [&](auto t) {
      using T = decltype(t);
      // The scalars exactly as the reference forms them.
      const T bc1 = static_cast<T>(1.0 - std::pow(step.beta1, static_cast<double>(step.step)));
      const T bc2 = static_cast<T>(1.0 - std::pow(step.beta2, static_cast<double>(step.step)));
      const T shrink = static_cast<T>(1.0 - step.lr * step.weight_decay);
      cuda::adam_update(dev<T>(param), dev<T>(grad), dev<T>(m), dev<T>(v), param.numel(), static_cast<T>(step.lr),
                        static_cast<T>(step.beta1), static_cast<T>(step.beta2), static_cast<T>(step.eps),
                        static_cast<T>(step.weight_decay), bc1, bc2, shrink, step.decoupled, stream_);
    });
  }

  void topk_rows(const Tensor& scores, int k, const Tensor& index, const Tensor& values) override {
    const char* op = "topk_rows";
    need_float(op, scores, "scores");
    need_i32(op, index, "index");
    need_same_dtype(op, scores, values, "values");
    const std::size_t C = scores.cols(), R = scores.rows();
    if (k < 1 || static_cast<std::size_t>(k) > C)
      fail(op, "k = " + std::to_string(k) + " is outside [1, " + std::to_string(C) + "]");
    need_numel(op, index, R * static_cast<std::size_t>(k), "index");
    need_numel(op, values, R * static_cast<std::size_t>(k), "values");
    by_float(scores.dtype(), [&](auto t) {
      using T = decltype(t);
      cuda::topk_rows(dev<T>(scores), R, C, k, dev<std::int32_t>(index), dev<T>(values), nullptr, stream_);
    });
  }

  // ---- the factorisation trainers ---------------------------------------------------------

  void als_half_step(const Csr& confidence, const Matrix& Y, const Matrix& YtY, Matrix& X,
                     const AlsStep& step) override {
    const Eigen::Index f = Y.cols();
    if (X.cols() != f || YtY.rows() != f || YtY.cols() != f)
      throw Error("als_half_step: factor matrices disagree on the number of factors");
    if (X.rows() != static_cast<Eigen::Index>(confidence.rows()) ||
        Y.rows() < static_cast<Eigen::Index>(confidence.cols))
      throw Error("als_half_step: confidence matrix shape does not match the factor matrices");
    if (step.cg_steps < 0) throw Error("als_half_step: cg_steps must be >= 0");
    const DeviceCsr conf(confidence, stream_, *stats_);
    DeviceArray<float> dY(to_vector(Y), stream_, *stats_, "iALS factors");
    DeviceArray<float> dX(to_vector(X), stream_, *stats_, "iALS factors");
    AlsState state(static_cast<std::size_t>(X.rows()), static_cast<int>(f), stream_, *stats_);
    // (YtY is recomputed on the device from Y: it is Y'Y by contract.)
    als_solve(conf, dY.get(), static_cast<std::size_t>(Y.rows()), dX.get(), static_cast<int>(f), step, state);
    dX.download(X.data(), static_cast<std::size_t>(X.size()));
  }

  void als_fit(const Csr& by_user, const Csr& by_item, Matrix& U, Matrix& V, const AlsStep& step, int epochs,
               const EpochHook& after_epoch) override {
    const Eigen::Index f = U.cols();
    if (V.cols() != f || U.rows() != static_cast<Eigen::Index>(by_user.rows()) ||
        V.rows() != static_cast<Eigen::Index>(by_item.rows()) || by_user.cols > V.rows() ||
        by_item.cols > U.rows())
      throw Error("als_fit: the factor matrices do not match the confidence matrices");
    if (step.cg_steps < 0) throw Error("als_half_step: cg_steps must be >= 0");
    const DeviceCsr cu(by_user, stream_, *stats_), ci(by_item, stream_, *stats_);
    DeviceArray<float> dU(to_vector(U), stream_, *stats_, "iALS factors");
    DeviceArray<float> dV(to_vector(V), stream_, *stats_, "iALS factors");
    AlsState state(static_cast<std::size_t>(std::max(U.rows(), V.rows())), static_cast<int>(f), stream_, *stats_);
    for (int e = 0; e < epochs; ++e) {
      als_solve(cu, dV.get(), static_cast<std::size_t>(V.rows()), dU.get(), static_cast<int>(f), step, state);
      als_solve(ci, dU.get(), static_cast<std::size_t>(U.rows()), dV.get(), static_cast<int>(f), step, state);
      check(cudaStreamSynchronize(stream_), "iALS epoch");
      if (after_epoch) after_epoch(e, 0.0);
    }
    dU.download(U.data(), static_cast<std::size_t>(U.size()));
    dV.download(V.data(), static_cast<std::size_t>(V.size()));
  }

  double bpr_epoch(const Csr& by_user, Matrix& P, Matrix& Q, Vector& item_bias, const BprStep& step) override {
    double loss = 0.0;
    bpr_fit(by_user, P, Q, item_bias, 1, [&](int) { return step; }, [&](int, double l) { loss = l; });
    return loss;
  }

  void bpr_fit(const Csr& by_user, Matrix& P, Matrix& Q, Vector& item_bias, int epochs,
               const std::function<BprStep(int)>& step_of, const EpochHook& after_epoch) override {
    const index_t n_users = by_user.rows(), n_items = by_user.cols;
    if (P.rows() != static_cast<Eigen::Index>(n_users) || Q.rows() != static_cast<Eigen::Index>(n_items) ||
        item_bias.size() != static_cast<Eigen::Index>(n_items) || P.cols() != Q.cols())
      throw Error("bpr_epoch: factor matrices do not match the interaction matrix");
    if (by_user.nnz() == 0 || n_items < 2) {
      for (int e = 0; e < epochs; ++e)
        if (after_epoch) after_epoch(e, 0.0);
      return;
    }
    if (by_user.nnz() > static_cast<std::size_t>(INT_MAX))
      throw Error("bpr_epoch: more than 2^31 - 1 interactions for the CUDA backend");
    const int T = cuda_bpr_blocks(n_users, n_items);
    const std::size_t nnz = by_user.nnz();
    MemoryStats& st = *stats_;
    const DeviceCsr csr(by_user, stream_, st);
    std::vector<std::uint32_t> user_of(nnz);
    for (index_t u = 0; u < n_users; ++u)
      for (std::uint64_t q = by_user.indptr[u]; q < by_user.indptr[u + 1]; ++q) user_of[q] = u;
    const DeviceArray<std::uint32_t> d_user_of(user_of, stream_, st, "BPR");
    const std::vector<index_t> ucut = bpr_strata::balanced_cuts(by_user, T);
    std::vector<std::int32_t> ublock(n_users);
    for (int t = 0; t < T; ++t)
      for (index_t u = ucut[static_cast<std::size_t>(t)]; u < ucut[static_cast<std::size_t>(t) + 1]; ++u) ublock[u] = t;
    const DeviceArray<std::int32_t> d_ublock(ublock, stream_, st, "BPR");
    DeviceArray<std::int32_t> d_iblock(n_items, stream_, st, "BPR");
    DeviceArray<std::uint32_t> d_neg(n_items, stream_, st, "BPR");
    DeviceArray<std::int64_t> d_neg_start(static_cast<std::size_t>(T) + 1, stream_, st, "BPR");
    DeviceArray<std::uint32_t> keys(nnz, stream_, st, "BPR"), keys_sorted(nnz, stream_, st, "BPR"),
        order_in(nnz, stream_, st, "BPR"), order(nnz, stream_, st, "BPR"), cand(nnz, stream_, st, "BPR");
    const std::size_t strata = static_cast<std::size_t>(T) * static_cast<std::size_t>(T);
    DeviceArray<std::int64_t> seg(strata + 1, stream_, st, "BPR");
    DeviceArray<double> loss(strata, stream_, st, "BPR");
    DeviceArray<std::uint64_t> count(strata, stream_, st, "BPR");
    DeviceArray<float> dP(to_vector(P), stream_, st, "BPR factors"), dQ(to_vector(Q), stream_, st, "BPR factors");
    std::vector<float> bias_host(item_bias.data(), item_bias.data() + item_bias.size());
    DeviceArray<float> dB(bias_host, stream_, st, "BPR item biases");

    cuda::BprEpoch ep{};
    ep.indptr = csr.indptr.get();
    ep.cols = csr.cols.get();
    ep.user_of = d_user_of.get();
    ep.ublock = d_ublock.get();
    ep.iblock = d_iblock.get();
    ep.neg_items = d_neg.get();
    ep.neg_start = d_neg_start.get();
    ep.T = T;
    ep.f = static_cast<int>(P.cols());
    ep.nnz = nnz;
    ep.P = dP.get();
    ep.Q = dQ.get();
    ep.bias = dB.get();
    std::size_t temp_bytes = 0;
    cuda::bpr_strata(ep, keys.get(), keys_sorted.get(), order_in.get(), order.get(), seg.get(), nullptr,
                     temp_bytes, stream_);
    DeviceArray<char> temp(temp_bytes, stream_, st, "BPR");

    std::vector<index_t> block_of;
    std::vector<std::vector<index_t>> block_items;
    std::vector<std::int32_t> iblock(n_items);
    std::vector<std::uint32_t> neg;
    std::vector<std::int64_t> neg_start(static_cast<std::size_t>(T) + 1);
    std::vector<double> loss_host(strata);
    std::vector<std::uint64_t> count_host(strata);
    for (int e = 0; e < epochs; ++e) {
      const BprStep step = step_of(e);
      // The epoch's item partition, drawn on the host (n_items numbers) exactly as the reference.
      bpr_strata::item_partition(n_items, T, step.seed, block_of, block_items);
      for (index_t i = 0; i < n_items; ++i) iblock[i] = static_cast<std::int32_t>(block_of[i]);
      neg.clear();
      for (int b = 0; b < T; ++b) {
        neg_start[static_cast<std::size_t>(b)] = static_cast<std::int64_t>(neg.size());
        neg.insert(neg.end(), block_items[static_cast<std::size_t>(b)].begin(), block_items[static_cast<std::size_t>(b)].end());
      }
      neg_start[static_cast<std::size_t>(T)] = static_cast<std::int64_t>(neg.size());
      d_iblock.upload(iblock.data(), iblock.size());
      d_neg.upload(neg.data(), neg.size());
      d_neg_start.upload(neg_start.data(), neg_start.size());
      ep.lr = step.lr;
      ep.reg = step.reg;
      ep.bias_reg = step.bias_reg;
      ep.seed = step.seed;
      cuda::bpr_strata(ep, keys.get(), keys_sorted.get(), order_in.get(), order.get(), seg.get(), temp.get(),
                       temp_bytes, stream_);
      for (int s = 0; s < T; ++s)
        cuda::bpr_sub_epoch(ep, s, order.get(), cand.get(), seg.get(), loss.get(), count.get(), stream_);
      loss.download(loss_host.data(), strata);
      count.download(count_host.data(), strata);
      double total = 0.0;
      std::uint64_t n = 0;
      for (std::size_t k = 0; k < strata; ++k) {
        total += loss_host[k];
        n += count_host[k];
      }
      if (after_epoch) after_epoch(e, n ? total / static_cast<double>(n) : 0.0);
    }
    dP.download(P.data(), static_cast<std::size_t>(P.size()));
    dQ.download(Q.data(), static_cast<std::size_t>(Q.size()));
    dB.download(bias_host.data(), bias_host.size());
    std::copy(bias_host.begin(), bias_host.end(), item_bias.data());
  }

  double mf_sgd_epoch(const std::vector<Interaction>& samples, const std::vector<std::uint32_t>& order, Matrix& P,
                      Matrix& Q, Vector& user_bias, Vector& item_bias, const MfSgdStep& step) override {
    std::vector<std::uint32_t> o = order;
    double loss = 0.0;
    mf_sgd_fit(samples, o, P, Q, user_bias, item_bias, step, 1, {}, [&](int, double l) { loss = l; });
    return loss;
  }

  void mf_sgd_fit(const std::vector<Interaction>& samples, std::vector<std::uint32_t>& order, Matrix& P, Matrix& Q,
                  Vector& user_bias, Vector& item_bias, const MfSgdStep& step, int epochs,
                  const std::function<void(int, std::vector<std::uint32_t>&)>& shuffle,
                  const EpochHook& after_epoch) override {
    const std::size_t n_users = static_cast<std::size_t>(P.rows()), n_items = static_cast<std::size_t>(Q.rows());
    if (Q.cols() != P.cols() || static_cast<std::size_t>(user_bias.size()) != n_users ||
        static_cast<std::size_t>(item_bias.size()) != n_items)
      throw Error("mf_sgd_epoch: factor and bias shapes disagree");
    std::vector<std::uint32_t> users(samples.size()), items(samples.size());
    std::vector<float> values(samples.size());
    for (std::size_t s = 0; s < samples.size(); ++s) {
      users[s] = samples[s].user;
      items[s] = samples[s].item;
      values[s] = samples[s].value;
    }
    MemoryStats& st = *stats_;
    const DeviceArray<std::uint32_t> du(users, stream_, st, "SGD samples"), di(items, stream_, st, "SGD samples");
    const DeviceArray<float> dv(values, stream_, st, "SGD samples");
    DeviceArray<std::uint32_t> dorder(std::max<std::size_t>(order.size(), 1), stream_, st, "SGD order");
    DeviceArray<float> dP(to_vector(P), stream_, st, "SGD factors"), dQ(to_vector(Q), stream_, st, "SGD factors");
    std::vector<float> bu(user_bias.data(), user_bias.data() + user_bias.size());
    std::vector<float> bi(item_bias.data(), item_bias.data() + item_bias.size());
    DeviceArray<float> dbu(bu, stream_, st, "SGD biases"), dbi(bi, stream_, st, "SGD biases");
    DeviceArray<double> se(1, stream_, st, "SGD loss");
    for (int e = 0; e < epochs; ++e) {
      if (shuffle) shuffle(e, order);
      if (order.size() > dorder.size()) throw Error("mf_sgd_epoch: the sample order grew during the fit");
      // The reference's checks, before anything moves.
      for (const std::uint32_t idx : order)
        if (idx >= samples.size()) throw Error("mf_sgd_epoch: sample order index out of range");
      for (const std::uint32_t idx : order)
        if (samples[idx].user >= n_users || samples[idx].item >= n_items)
          throw Error("mf_sgd_epoch: sample " + std::to_string(idx) + " is outside the factor matrices");
      dorder.upload(order.data(), order.size());
      cuda::mf_sgd_epoch(du.get(), di.get(), dv.get(), dorder.get(), order.size(), static_cast<int>(P.cols()),
                         static_cast<std::size_t>(P.cols()), dP.get(), dQ.get(), dbu.get(), dbi.get(), step.lr,
                         step.reg, step.bias_reg, step.mu, se.get(), stream_);
      double sum = 0.0;
      se.download(&sum, order.empty() ? 0 : 1);
      if (after_epoch) after_epoch(e, order.empty() ? 0.0 : sum / static_cast<double>(order.size()));
    }
    dP.download(P.data(), static_cast<std::size_t>(P.size()));
    dQ.download(Q.data(), static_cast<std::size_t>(Q.size()));
    dbu.download(bu.data(), bu.size());
    dbi.download(bi.data(), bi.size());
    std::copy(bu.begin(), bu.end(), user_bias.data());
    std::copy(bi.begin(), bi.end(), item_bias.data());
  }

  void score_topk(const Matrix& U, const std::vector<index_t>& rows, const Matrix& V, const Csr* exclude, int k,
                  std::vector<std::vector<TopK>>& out) override {
    out.assign(rows.size(), {});
    const std::size_t n_items = static_cast<std::size_t>(V.rows()), f = static_cast<std::size_t>(V.cols());
    if (rows.empty() || n_items == 0 || k <= 0) return;
    if (static_cast<std::size_t>(U.rows()) != rows.size() || static_cast<std::size_t>(U.cols()) != f)
      throw Error("score_topk: user matrix does not match the rows and the item matrix");
    const int kk = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(k), n_items));
    MemoryStats& st = *stats_;
    const DeviceArray<float> dV(to_vector(V), stream_, st, "score_topk");
    // Rows per chunk: about 256 MiB of scores.
    const std::size_t chunk = std::max<std::size_t>(1, std::min(rows.size(), (std::size_t{64} << 20) / n_items));
    DeviceArray<float> dU(chunk * f, stream_, st, "score_topk"), scores(chunk * n_items, stream_, st, "score_topk");
    DeviceArray<std::uint8_t> skip(chunk * n_items, stream_, st, "score_topk");
    DeviceArray<std::int32_t> index(chunk * static_cast<std::size_t>(kk), stream_, st, "score_topk");
    DeviceArray<float> values(chunk * static_cast<std::size_t>(kk), stream_, st, "score_topk");
    std::vector<std::int64_t> sptr;
    std::vector<std::int32_t> scols;
    std::vector<std::int32_t> hidx(chunk * static_cast<std::size_t>(kk));
    std::vector<float> hval(hidx.size());
    for (std::size_t r0 = 0; r0 < rows.size(); r0 += chunk) {
      const std::size_t n = std::min(chunk, rows.size() - r0);
      dU.upload(U.data() + r0 * f, n * f);
      const float one = 1.0f, zero = 0.0f;
      // scores [n, items] = U_chunk V' (row-major): column-major scores' = V U'.
      check_blas(cublasSgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n_items), static_cast<int>(n),
                             static_cast<int>(f), &one, dV.get(), static_cast<int>(f), dU.get(), static_cast<int>(f),
                             &zero, scores.get(), static_cast<int>(n_items)),
                 "score_topk");
      const std::uint8_t* mask = nullptr;
      if (exclude) {
        sptr.assign(1, 0);
        scols.clear();
        for (std::size_t r = r0; r < r0 + n; ++r) {
          const index_t user = rows[r];
          if (user < exclude->rows())
            for (std::size_t j = 0; j < exclude->row_size(user); ++j)
              scols.push_back(static_cast<std::int32_t>(exclude->row_indices(user)[j]));
          sptr.push_back(static_cast<std::int64_t>(scols.size()));
        }
        const DeviceArray<std::int64_t> dptr(sptr, stream_, st, "score_topk");
        const DeviceArray<std::int32_t> dcols(scols.empty() ? std::vector<std::int32_t>{0} : scols, stream_, st,
                                              "score_topk");
        cuda::mark_skips(dptr.get(), dcols.get(), n, n_items, skip.get(), stream_);
        check(cudaStreamSynchronize(stream_), "score_topk");
        mask = skip.get();
      }
      cuda::topk_rows(scores.get(), n, n_items, kk, index.get(), values.get(), mask, stream_);
      index.download(hidx.data(), n * static_cast<std::size_t>(kk));
      values.download(hval.data(), n * static_cast<std::size_t>(kk));
      for (std::size_t r = 0; r < n; ++r) {
        auto& o = out[r0 + r];
        for (int q = 0; q < kk; ++q) {
          const std::int32_t item = hidx[r * static_cast<std::size_t>(kk) + static_cast<std::size_t>(q)];
          if (item < 0) break;
          o.push_back({static_cast<index_t>(item), hval[r * static_cast<std::size_t>(kk) + static_cast<std::size_t>(q)]});
        }
      }
    }
  }

 private:
  // The iALS conjugate-gradient state: rows x f each, per row rs and done.
  struct AlsState {
    DeviceArray<float> R, P, AP, G;
    DeviceArray<float> rs;
    DeviceArray<std::uint8_t> done;
    AlsState(std::size_t rows, int f, cudaStream_t s, MemoryStats& st)
        : R(rows * static_cast<std::size_t>(f), s, st, "iALS"), P(rows * static_cast<std::size_t>(f), s, st, "iALS"),
          AP(rows * static_cast<std::size_t>(f), s, st, "iALS"),
          G(static_cast<std::size_t>(f) * static_cast<std::size_t>(f), s, st, "iALS"), rs(std::max<std::size_t>(rows, 1), s, st, "iALS"),
          done(std::max<std::size_t>(rows, 1), s, st, "iALS") {}
  };

  // X (conf.rows x f) from Y (y_rows x f): G = Y'Y + reg I, R = -X G, then the CG iterations,
  // each with AP = P G by cuBLAS and the sparse part and vector updates in one kernel.
  void als_solve(const DeviceCsr& conf, const float* Y, std::size_t y_rows, float* X, int f, const AlsStep& step,
                 AlsState& s) {
    const std::size_t rows = conf.rows;
    if (!rows) return;
    if (rows > static_cast<std::size_t>(INT_MAX) || y_rows > static_cast<std::size_t>(INT_MAX))
      throw Error("als_half_step: more than 2^31 - 1 rows for the CUDA backend");
    const float one = 1.0f, zero = 0.0f, minus = -1.0f;
    // Column-major view of row-major Y [y_rows, f] is Y' (f x y_rows): G = Y' (Y')'.
    check_blas(cublasSgemm(blas_, CUBLAS_OP_N, CUBLAS_OP_T, f, f, static_cast<int>(y_rows), &one, Y, f, Y, f, &zero,
                           s.G.get(), f),
               "iALS Y'Y");
    cuda::add_diagonal(s.G.get(), f, step.reg, stream_);
    const int r = static_cast<int>(rows);
    // Row-major R = -X G is column-major R' = G X' (G symmetric).
    check_blas(cublasSgemm(blas_, CUBLAS_OP_N, CUBLAS_OP_N, f, r, f, &minus, s.G.get(), f, X, f, &zero, s.R.get(), f),
               "iALS residual");
    cuda::als_cg_init(conf.indptr.get(), conf.cols.get(), conf.vals.get(), rows, f, Y, X, s.R.get(), s.P.get(),
                      s.rs.get(), s.done.get(), stream_);
    for (int it = 0; it < step.cg_steps; ++it) {
      check_blas(cublasSgemm(blas_, CUBLAS_OP_N, CUBLAS_OP_N, f, r, f, &one, s.G.get(), f, s.P.get(), f, &zero,
                             s.AP.get(), f),
                 "iALS A p");
      cuda::als_cg_step(conf.indptr.get(), conf.cols.get(), conf.vals.get(), rows, f, Y, X, s.R.get(), s.P.get(),
                        s.AP.get(), s.rs.get(), s.done.get(), stream_);
    }
  }

  static std::vector<float> to_vector(const Matrix& m) { return std::vector<float>(m.data(), m.data() + m.size()); }

  void check_indices(const char* op, const Tensor& index, std::size_t rows) {
    const std::int64_t bad = cuda::first_bad_index(dev<std::int32_t>(index), index.numel(), rows, index_scratch_, stream_);
    if (bad < 0) return;
    std::int32_t v = 0;
    check(cudaMemcpy(&v, dev<std::int32_t>(index) + bad, sizeof v, cudaMemcpyDeviceToHost), op);
    fail(op, "index " + std::to_string(v) + " at position " + std::to_string(bad) + " is outside [-1, " +
                 std::to_string(rows) + ")");
  }

  cuda::Mask device_mask(const char* op, const Tensor& x, const SoftmaxMask& mask) {
    cuda::Mask m;
    m.rows_per_group = check_mask(op, x, mask);
    m.causal = mask.causal;
    if (mask.keys.defined()) m.keys = dev<std::int32_t>(mask.keys);
    return m;
  }

  void* ptr(const Tensor& t) const {
    auto* b = dynamic_cast<DeviceBuffer*>(t.buffer());
    if (!b) throw Error("tensor was not allocated by the CUDA backend (Backend::alloc of another backend)");
    return static_cast<char*>(b->device()) + t.offset() * dtype_size(t.dtype());
  }
  std::size_t bytes(const Tensor& t) const { return t.numel() * dtype_size(t.dtype()); }
  template <typename T>
  T* dev(const Tensor& t) const {
    if (t.dtype() != dtype_of<T>::value)
      throw Error(std::string("tensor is ") + dtype_name(t.dtype()) + ", expected " + dtype_name(dtype_of<T>::value));
    return static_cast<T*>(ptr(t));
  }

  int device_;
  std::unique_ptr<Backend> host_;
  std::shared_ptr<Context> ctx_;
  MemoryStats* stats_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  CudaDeviceInfo info_;
  std::int64_t* index_scratch_ = nullptr;
};

}  // namespace

bool cuda_built() { return true; }

bool cuda_available(std::string* why, int device) {
  int count = 0;
  const cudaError_t st = cudaGetDeviceCount(&count);
  if (st != cudaSuccess) {
    if (why) *why = std::string("no usable CUDA device (") + cudaGetErrorString(st) + ")";
    cudaGetLastError();  // clear the sticky error state for later calls
    return false;
  }
  if (device < 0 || device >= count) {
    if (why)
      *why = count == 0 ? std::string("no CUDA device")
                        : "CUDA device " + std::to_string(device) + " does not exist (" + std::to_string(count) +
                              " present)";
    return false;
  }
  return true;
}

std::unique_ptr<Backend> make_cuda_backend(int device, std::unique_ptr<Backend> host) {
  std::string why;
  if (!cuda_available(&why, device)) throw Error("--backend cuda: " + why);
  if (!host) host = make_cpu_backend();
  return std::make_unique<CudaBackend>(device, std::move(host));
}

bool cuda_device_info(const Backend& backend, CudaDeviceInfo& info) {
  const auto* b = dynamic_cast<const CudaBackend*>(&backend);
  if (!b) return false;
  info = b->info();
  return true;
}


}  // namespace edgerec
