#include "edgerec/openmp_backend.hpp"

#include <algorithm>
#include <type_traits>

#include <Eigen/Core>

#include "edgerec/cuda_backend.hpp"
#include "edgerec/kernels.hpp"

#ifdef EDGEREC_USE_OPENMP
#include <omp.h>
#endif

namespace edgerec {
namespace {

class OpenMpBackend final : public Backend {
 public:
  explicit OpenMpBackend(int threads) : threads_(threads) {}
  std::string name() const override { return "openmp"; }
  int threads() const override { return threads_; }
  void parallel_for(std::size_t n, int chunks,
                    const std::function<void(std::size_t, std::size_t, int)>& body) override {
    if (chunks < 1) chunks = 1;
#ifdef EDGEREC_USE_OPENMP
    // Dynamic teams: libgomp sizes each team by the load average (fewer threads when the cores
    // are busy with other jobs). With a fixed team, one worker descheduled for a time slice
    // stalls a region at its barrier, and a neural training step runs hundreds of small regions
    // (SASRec on Amazon Beauty, one epoch on 2 threads at load average ~7: 141 s with a fixed
    // team, 14.7 s with dynamic teams). Results do not change: the work is split by `chunks`,
    // never by the team size. Set per call: the setting belongs to the calling thread.
    omp_set_dynamic(1);
    // dynamic: chunks vary in cost (users have different history lengths). Results never
    // depend on which thread runs a chunk, only on the chunk boundaries.
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads_)
#endif
    for (int c = 0; c < chunks; ++c) {
      const std::size_t begin = n * static_cast<std::size_t>(c) / static_cast<std::size_t>(chunks);
      const std::size_t end = n * static_cast<std::size_t>(c + 1) / static_cast<std::size_t>(chunks);
      if (begin < end) body(begin, end, c);
    }
  }

  // Eigen's GEMM (cache-blocked, SIMD; f32 through kernels::gemm) instead of the reference loop. Batches, or else row blocks
  // of C, are split over the threads: the split depends on threads() and the shapes only, so the
  // result is deterministic for a thread count; Eigen's blocking rounds differently from the
  // reference (documented in backend.hpp).
  void gemm(bool trans_a, bool trans_b, double alpha, const Tensor& a, const Tensor& b, double beta,
            const Tensor& c) override {
    const GemmShape g = gemm_shape(trans_a, trans_b, a, b, c);
    if (a.dtype() == DType::f64)
      gemm_eigen<double>(trans_a, trans_b, alpha, a, b, beta, c, g);
    else
      gemm_eigen<float>(trans_a, trans_b, alpha, a, b, beta, c, g);
  }

 private:
  template <typename T>
  void gemm_eigen(bool trans_a, bool trans_b, double alpha, const Tensor& a, const Tensor& b,
                  double beta, const Tensor& c, const GemmShape& g) {
    using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using CMap = Eigen::Map<const Mat>;
    using MMap = Eigen::Map<Mat>;
    const auto m = static_cast<Eigen::Index>(g.m), n = static_cast<Eigen::Index>(g.n),
               k = static_cast<Eigen::Index>(g.k);
    const T* A = a.host<T>();
    const T* B = b.host<T>();
    T* C = c.host<T>();
    const T al = static_cast<T>(alpha), be = static_cast<T>(beta);
    // One (batch entry, row block) per unit of work.
    const std::size_t flops = g.m * g.n * g.k;
    int row_blocks = 1;
    if (g.batch < static_cast<std::size_t>(threads_) && flops >= 65536 && threads_ > 1)
      row_blocks = static_cast<int>(std::min<std::size_t>(g.m, static_cast<std::size_t>(threads_)));
    const std::size_t units = g.batch * static_cast<std::size_t>(row_blocks);
    const int chunks = (g.batch * flops < 65536) ? 1 : static_cast<int>(std::min<std::size_t>(units, static_cast<std::size_t>(threads_)));
    parallel_for(units, chunks, [&](std::size_t begin, std::size_t end, int) {
      for (std::size_t u = begin; u < end; ++u) {
        const std::size_t bi = u / static_cast<std::size_t>(row_blocks);
        const auto blk = static_cast<Eigen::Index>(u % static_cast<std::size_t>(row_blocks));
        const Eigen::Index r0 = m * blk / row_blocks, r1 = m * (blk + 1) / row_blocks;
        if (r0 == r1) continue;
        const T* Ab = A + (g.batched_a ? bi * g.m * g.k : 0);
        const T* Bb = B + (g.batched_b ? bi * g.k * g.n : 0);
        T* Cc = C + bi * g.m * g.n;
        if constexpr (std::is_same_v<T, float>) {
          // f32 goes to kernels::gemm: Eigen compiled for the CPU's widest ISA (AVX-512F or
          // AVX2 + FMA in the portable build, 4-7x the baseline SSE2 product).
          const auto rows = static_cast<std::size_t>(r1 - r0);
          kernels::gemm(trans_a, trans_b, rows, g.n, g.k, al,
                        trans_a ? Ab + r0 : Ab + static_cast<std::size_t>(r0) * g.k,
                        trans_a ? g.m : g.k, Bb, trans_b ? g.k : g.n, be,
                        Cc + static_cast<std::size_t>(r0) * g.n, g.n);
          continue;
        }
        const CMap Am(A + (g.batched_a ? bi * g.m * g.k : 0), trans_a ? k : m, trans_a ? m : k);
        const CMap Bm(B + (g.batched_b ? bi * g.k * g.n : 0), trans_b ? n : k, trans_b ? k : n);
        MMap Cm(C + bi * g.m * g.n, m, n);
        auto Cb = Cm.middleRows(r0, r1 - r0);
        if (beta == 0.0) Cb.setZero();
        else if (beta != 1.0) Cb *= be;
        if (!trans_a && !trans_b) Cb.noalias() += al * Am.middleRows(r0, r1 - r0) * Bm;
        else if (!trans_a) Cb.noalias() += al * Am.middleRows(r0, r1 - r0) * Bm.transpose();
        else if (!trans_b) Cb.noalias() += al * Am.transpose().middleRows(r0, r1 - r0) * Bm;
        else Cb.noalias() += al * Am.transpose().middleRows(r0, r1 - r0) * Bm.transpose();
      }
    });
  }

  int threads_;
};

}  // namespace

std::unique_ptr<Backend> make_openmp_backend(int threads) {
  if (threads < 0 || threads > kMaxThreads)
    throw Error("threads must be in [0, " + std::to_string(kMaxThreads) + "] (0 = all cores), got " +
                std::to_string(threads));
#ifdef EDGEREC_USE_OPENMP
  if (threads == 0) {
    threads = omp_get_max_threads();
    if (threads > kMaxThreads)
      throw Error("OMP_NUM_THREADS asks for " + std::to_string(threads) + " threads, more than the " +
                  std::to_string(kMaxThreads) + " edgerec runs; ask for fewer threads");
  }
#else
  threads = 1;
#endif
  return std::make_unique<OpenMpBackend>(threads);
}

std::unique_ptr<Backend> make_backend(const std::string& name, int threads) {
  if (name == "cpu") return make_cpu_backend();
  if (name == "openmp") return make_openmp_backend(threads);
  // CUDA's host-side loops (item-kNN, evaluation) run on OpenMP with the asked thread count.
  if (name == "cuda") return make_cuda_backend(0, make_openmp_backend(threads));
  if (name == "auto") {
    if (cuda_available()) return make_cuda_backend(0, make_openmp_backend(threads));
    return make_openmp_backend(threads);
  }
  throw Error("unknown backend '" + name + "' (valid: auto, cpu, openmp, cuda)");
}

int cuda_bpr_blocks(index_t n_users, index_t n_items) {
  // About 64 items per block (negatives drawn from a block need a choice) and at most 256
  // blocks (65,536 strata, T launches per epoch); never more blocks than users or items.
  const index_t smallest = std::min(n_users, n_items);
  const index_t t = std::clamp<index_t>(smallest / 64, 1, 256);
  return static_cast<int>(std::min(t, std::max<index_t>(smallest, 1)));
}

#ifndef EDGEREC_WITH_CUDA
// This build has no CUDA backend (-DEDGEREC_CUDA=OFF): the entry points say so.
bool cuda_built() { return false; }
bool cuda_available(std::string* why, int) {
  if (why) *why = "this edgerec was built without CUDA (configure with -DEDGEREC_CUDA=ON)";
  return false;
}
std::unique_ptr<Backend> make_cuda_backend(int, std::unique_ptr<Backend>) {
  std::string why;
  cuda_available(&why);
  throw Error("--backend cuda: " + why);
}
bool cuda_device_info(const Backend&, CudaDeviceInfo&) { return false; }
#endif

}  // namespace edgerec
