// The CPU reference backend: parallel_for and batch scoring. ALS and BPR steps live in
// als.cpp and bpr.cpp beside this file.
#include <algorithm>
#include <vector>

#include "edgerec/backend.hpp"
#include "edgerec/kernels.hpp"
#include "edgerec/recommender.hpp"

namespace edgerec {

void Backend::parallel_for(std::size_t n, int chunks,
                           const std::function<void(std::size_t, std::size_t, int)>& body) {
  if (chunks < 1) chunks = 1;
  for (int c = 0; c < chunks; ++c) {
    const std::size_t begin = n * static_cast<std::size_t>(c) / static_cast<std::size_t>(chunks);
    const std::size_t end = n * static_cast<std::size_t>(c + 1) / static_cast<std::size_t>(chunks);
    if (begin < end) body(begin, end, c);
  }
}

void Backend::score_topk(const Matrix& U, const std::vector<index_t>& rows, const Matrix& V,
                         const Csr* exclude, int k, std::vector<std::vector<TopK>>& out) {
  out.assign(rows.size(), {});
  // Enough chunks for load balance, each with its own score buffer.
  const int chunks = std::max(1, threads() * 4);
  parallel_for(rows.size(), chunks, [&](std::size_t begin, std::size_t end, int) {
    std::vector<float> scores(static_cast<std::size_t>(V.rows()));
    std::vector<std::uint8_t> skip;
    for (std::size_t r = begin; r < end; ++r) {
      const index_t user = rows[r];
      kernels::score_all(U.row(static_cast<Eigen::Index>(r)).data(), V.data(),
                         static_cast<std::size_t>(V.rows()), static_cast<std::size_t>(V.cols()),
                         0.0f, scores.data());
      const std::uint8_t* skip_ptr = nullptr;
      if (exclude && user < exclude->rows() && exclude->row_size(user) > 0) {
        skip.assign(scores.size(), 0);
        const index_t* cols = exclude->row_indices(user);
        for (std::size_t j = 0; j < exclude->row_size(user); ++j)
          if (cols[j] < skip.size()) skip[cols[j]] = 1;
        skip_ptr = skip.data();
      }
      out[r] = select_top_k(scores.data(), static_cast<index_t>(scores.size()), k, skip_ptr);
    }
  });
}

namespace {
class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
#ifdef __EMSCRIPTEN__
  // wasm: f32 products run on kernels::gemm, the wasm SIMD128 kernel
  // (kernels/gemm_wasm_simd128.cpp), one call per batch entry. It sums k in the reference
  // loop's order with the same roundings, so the bits are the reference's (only faster: the
  // forward pass of a sequence model is mostly these products). f64 keeps the reference loop.
  void gemm(bool trans_a, bool trans_b, double alpha, const Tensor& a, const Tensor& b,
            double beta, const Tensor& c) override {
    const GemmShape g = gemm_shape(trans_a, trans_b, a, b, c);
    // (A beta that only rounds to 0 in f32 keeps the reference, which then still reads C.)
    if (a.dtype() != DType::f32 || (beta != 0.0 && static_cast<float>(beta) == 0.0f)) {
      Backend::gemm(trans_a, trans_b, alpha, a, b, beta, c);
      return;
    }
    const float* A = a.host<float>();
    const float* B = b.host<float>();
    float* C = c.host<float>();
    for (std::size_t bi = 0; bi < g.batch; ++bi)
      kernels::gemm(trans_a, trans_b, g.m, g.n, g.k, static_cast<float>(alpha),
                    A + (g.batched_a ? bi * g.m * g.k : 0), trans_a ? g.m : g.k,
                    B + (g.batched_b ? bi * g.k * g.n : 0), trans_b ? g.k : g.n,
                    static_cast<float>(beta), C + bi * g.m * g.n, g.n);
  }
#endif
};
}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace edgerec
