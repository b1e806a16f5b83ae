// Scoring + top-K micro-benchmarks: one user vector against an item matrix (the serving hot
// path), and the batch path through the backend. Run: build/bin/edgerec_bench_kernels
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "edgerec/edgerec.hpp"
#include "edgerec/openmp_backend.hpp"
#include "kernels/gemm_body.hpp"

namespace {

edgerec::Matrix random_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  edgerec::Rng rng(seed);
  edgerec::Matrix m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.normal() * 0.1);
  return m;
}

// items x 64 factors, top-10 for one user (the figure the wasm build is compared against).
void BM_ScoreTopK(benchmark::State& state) {
  const auto items = state.range(0);
  const auto V = random_matrix(items, 64, 1);
  const auto u = random_matrix(1, 64, 2);
  std::vector<float> scores(static_cast<std::size_t>(items));
  for (auto _ : state) {
    edgerec::kernels::score_all(u.data(), V.data(), static_cast<std::size_t>(items), 64, 0.0f, scores.data());
    auto top = edgerec::select_top_k(scores.data(), static_cast<edgerec::index_t>(items), 10);
    benchmark::DoNotOptimize(top.data());
  }
  state.SetItemsProcessed(state.iterations() * items);
}
BENCHMARK(BM_ScoreTopK)->Arg(3706)->Arg(100000)->Unit(benchmark::kMicrosecond);

// The kernels alone (kernels.hpp), 100k items x 64 factors: f32 scores, int8 scores, the top-K
// scan helper and the int8 quantiser, each in whatever flavour `kernels::flavour()` names.
void BM_ScoreAll(benchmark::State& state) {
  const auto V = random_matrix(100000, 64, 1);
  const auto u = random_matrix(1, 64, 2);
  std::vector<float> scores(100000);
  for (auto _ : state) {
    edgerec::kernels::score_all(u.data(), V.data(), 100000, 64, 0.0f, scores.data());
    benchmark::DoNotOptimize(scores.data());
  }
  state.SetItemsProcessed(state.iterations() * 100000);
  state.SetLabel(edgerec::kernels::flavour());
}
BENCHMARK(BM_ScoreAll)->Unit(benchmark::kMicrosecond);

void BM_ScoreAllInt8(benchmark::State& state) {
  const auto V = random_matrix(100000, 64, 1);
  const auto u = random_matrix(1, 64, 2);
  std::vector<std::int8_t> Q(100000 * 64);
  std::vector<float> row_scale(100000), scores(100000);
  std::vector<std::int16_t> uq(64);
  edgerec::kernels::quantize_rows_int8(V.data(), 100000, 64, 64, Q.data(), row_scale.data());
  const float us = edgerec::kernels::quantize_query_int16(u.data(), 64, 64, uq.data());
  for (auto _ : state) {
    edgerec::kernels::score_all_int8(uq.data(), us, Q.data(), row_scale.data(), 100000, 64, 0.0f, scores.data());
    benchmark::DoNotOptimize(scores.data());
  }
  state.SetItemsProcessed(state.iterations() * 100000);
  state.SetLabel(edgerec::kernels::flavour());
}
BENCHMARK(BM_ScoreAllInt8)->Unit(benchmark::kMicrosecond);

// A full pass with nothing above the threshold (a filled top-K's common case).
void BM_NextAbove(benchmark::State& state) {
  const auto scores = random_matrix(1, 100000, 5);
  for (auto _ : state) {
    const std::size_t i = edgerec::kernels::next_above(scores.data(), 0, 100000, 1e30f);
    benchmark::DoNotOptimize(i);
  }
  state.SetItemsProcessed(state.iterations() * 100000);
  state.SetLabel(edgerec::kernels::flavour());
}
BENCHMARK(BM_NextAbove)->Unit(benchmark::kMicrosecond);

void BM_QuantizeRowsInt8(benchmark::State& state) {
  const auto V = random_matrix(100000, 64, 1);
  std::vector<std::int8_t> Q(100000 * 64);
  std::vector<float> row_scale(100000);
  for (auto _ : state) {
    edgerec::kernels::quantize_rows_int8(V.data(), 100000, 64, 64, Q.data(), row_scale.data());
    benchmark::DoNotOptimize(Q.data());
  }
  state.SetItemsProcessed(state.iterations() * 100000);
  state.SetLabel(edgerec::kernels::flavour());
}
BENCHMARK(BM_QuantizeRowsInt8)->Unit(benchmark::kMillisecond);

// 1000 users against 100k items through the OpenMP backend's batch path.
void BM_BatchTopK(benchmark::State& state) {
  const auto V = random_matrix(100000, 64, 3);
  const auto U = random_matrix(1000, 64, 4);
  std::vector<edgerec::index_t> rows(1000);
  for (edgerec::index_t i = 0; i < 1000; ++i) rows[i] = i;
  auto backend = edgerec::make_openmp_backend(static_cast<int>(state.range(0)));
  std::vector<std::vector<edgerec::TopK>> out;
  for (auto _ : state) {
    backend->score_topk(U, rows, V, nullptr, 10, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_BatchTopK)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

// kernels::gemm, one thread, shapes of a sequence model's batch (4096 positions x 64 hidden, times
// 64 x 256 and 64 x 64), in every flavour this CPU runs (generic, avx2-fma, avx512; the label
// names it): the SIMD width Eigen was compiled for is most of the difference.
void BM_Gemm(benchmark::State& state, std::size_t flavour_index) {
  const auto flavours = edgerec::kernels::gemm_flavours();
  if (flavour_index >= flavours.size()) {
    state.SkipWithError("flavour not available on this CPU");
    return;
  }
  const std::size_t m = 4096, k = 64, n = static_cast<std::size_t>(state.range(0));
  const auto A = random_matrix(static_cast<Eigen::Index>(m), static_cast<Eigen::Index>(k), 1);
  const auto B = random_matrix(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(n), 2);
  std::vector<float> C(m * n);
  for (auto _ : state) {
    flavours[flavour_index].fn(false, false, m, n, k, 1.0f, A.data(), k, B.data(), n, 0.0f, C.data(), n);
    benchmark::DoNotOptimize(C.data());
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * static_cast<double>(m * n * k) * static_cast<double>(state.iterations()) / 1e9,
                                                 benchmark::Counter::kIsRate);
  state.SetLabel(flavours[flavour_index].name);
}
BENCHMARK_CAPTURE(BM_Gemm, generic, 0)->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Gemm, second, 1)->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Gemm, third, 2)->Arg(64)->Arg(256)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
