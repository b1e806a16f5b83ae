// Node timings of the wasm build's neural arithmetic (tools/build-wasm.sh builds it into
// build-wasm/bin/edgerec_wasm_bench.js; run it with `node build-wasm/bin/edgerec_wasm_bench.js`).
// Prints one JSON object:
//  - gemm: GFLOP/s of the products of a SASRec forward pass (hidden 64, 50 positions) for the
//    three f32 GEMMs the wasm build has had: "reference" (the Backend base class's loop, as
//    compiled into the shipped core), "eigen" (Eigen 3.4's product, scalar in wasm: the old
//    kernels::gemm, compiled here at -O3) and "simd128" (make_cpu_backend's gemm, the wasm
//    SIMD128 kernel now used);
//  - forward: ms for one SASRec-like forward pass (item embedding 12,000 x 64 gathered over a
//    50-item history, learned positions, 2 blocks of causal multi-head attention and a
//    point-wise feed-forward, each with residual + layer norm, a final layer norm) and the
//    top-10 of the last position's vector against the 12,000 item embeddings, on an inference
//    tape (nn layers, as a sequence model serves), with the reference and with the SIMD gemm.
//    Two shapes: Kang & McAuley's (1 head, feed-forward width 64) and 2 heads with width 256.
// Median of repeated timings after a warm-up (V8 optimises a wasm function from later calls).
// Usage: node build-wasm/bin/edgerec_wasm_bench.js [--reps N] [--simd-forward-only]
// (--simd-forward-only: the SIMD backend's forward passes alone, for a profiler's view of them:
// `node --cpu-prof build-wasm/bin/edgerec_wasm_bench.js --simd-forward-only`; the program is
// linked with --profiling-funcs, so the profile names the C++ functions.)
#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "edgerec/backend.hpp"
#include "edgerec/kernels.hpp"
#include "edgerec/nn/autodiff.hpp"
#include "edgerec/nn/layers.hpp"
#include "edgerec/split.hpp"
#include "edgerec/topk.hpp"
#include "kernels/gemm_body.hpp"

using namespace edgerec;

namespace {

// The Backend base class alone: the serial reference loops.
class Reference final : public Backend {
 public:
  std::string name() const override { return "reference"; }
};

// The wasm build's kernels::gemm before the SIMD128 kernel: Eigen's product.
namespace eigen_gemm {
EDGEREC_GEMM_SIGNATURE { EDGEREC_GEMM_BODY(Eigen) }
}  // namespace eigen_gemm

// Eigen's product behind the tensor seam, one call per batch entry (as the native backend).
class EigenScalar final : public Backend {
 public:
  std::string name() const override { return "eigen"; }
  void gemm(bool trans_a, bool trans_b, double alpha, const Tensor& a, const Tensor& b, double beta,
            const Tensor& c) override {
    const GemmShape g = gemm_shape(trans_a, trans_b, a, b, c);
    const float* A = a.host<float>();
    const float* B = b.host<float>();
    float* C = c.host<float>();
    for (std::size_t bi = 0; bi < g.batch; ++bi)
      eigen_gemm::gemm(trans_a, trans_b, g.m, g.n, g.k, static_cast<float>(alpha),
                       A + (g.batched_a ? bi * g.m * g.k : 0), trans_a ? g.m : g.k,
                       B + (g.batched_b ? bi * g.k * g.n : 0), trans_b ? g.k : g.n,
                       static_cast<float>(beta), C + bi * g.m * g.n, g.n);
  }
};

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Median ms of `reps` calls of f, each call timed alone, after reps / 4 + 3 warm-up calls.
double median_ms(int reps, const std::function<void()>& f) {
  for (int i = 0; i < reps / 4 + 3; ++i) f();
  std::vector<double> t(static_cast<std::size_t>(reps));
  for (double& x : t) {
    const double t0 = now_ms();
    f();
    x = now_ms() - t0;
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

Tensor random_tensor(Backend& be, const Shape& shape, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(shape.numel());
  for (float& x : v) x = static_cast<float>(rng.uniform() - 0.5);
  return make_tensor(be, shape, v);
}

// A SASRec-shaped network on one backend.
struct Sasrec {
  Sasrec(Backend& be, std::int64_t items, std::int64_t dim, std::int64_t max_len, std::int64_t heads,
         std::int64_t ffn, int blocks)
      : rng(7),
        item(be, "item", items, dim, DType::f32, rng, 0.1),
        pos(be, "pos", max_len, dim, DType::f32, rng, 0.1),
        final_norm(be, "final_norm", dim, DType::f32) {
    for (int b = 0; b < blocks; ++b) {
      const std::string n = "block" + std::to_string(b);
      attention.push_back(std::make_unique<nn::MultiHeadAttention>(be, n + ".attention", dim, heads, DType::f32, rng));
      norm1.push_back(std::make_unique<nn::LayerNorm>(be, n + ".norm1", dim, DType::f32));
      feed.push_back(std::make_unique<nn::FeedForward>(be, n + ".ffn", dim, ffn, DType::f32, rng, Act::gelu));
      norm2.push_back(std::make_unique<nn::LayerNorm>(be, n + ".norm2", dim, DType::f32));
    }
  }
  // Query vector of the last position (host copy) for a history of item rows.
  std::vector<float> query(Backend& be, const Tensor& history) {
    nn::Tape tape(be, 1, /*training=*/false);
    nn::Var x = pos.forward(tape, item.forward(tape, history));
    for (std::size_t b = 0; b < attention.size(); ++b) {
      x = nn::residual_norm(tape, x, attention[b]->forward(tape, x), *norm1[b]);
      x = nn::residual_norm(tape, x, feed[b]->forward(tape, x), *norm2[b]);
    }
    x = final_norm.forward(tape, x);
    const Tensor& v = x.value();
    const std::size_t dim = v.cols(), last = v.rows() - 1;
    std::vector<float> q(dim);
    be.download(v.view(Shape{static_cast<std::int64_t>(v.numel())}).narrow0(
                    static_cast<std::int64_t>(last * dim), static_cast<std::int64_t>((last + 1) * dim)),
                q.data());
    return q;
  }
  Rng rng;
  nn::Embedding item;
  nn::PositionalEmbedding pos;
  std::vector<std::unique_ptr<nn::MultiHeadAttention>> attention;
  std::vector<std::unique_ptr<nn::LayerNorm>> norm1, norm2;
  std::vector<std::unique_ptr<nn::FeedForward>> feed;
  nn::LayerNorm final_norm;
};

std::string fmt(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", x);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 100;
  bool simd_forward_only = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = std::max(4, std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--simd-forward-only") == 0) simd_forward_only = true;
    else {
      std::fprintf(stderr, "edgerec_wasm_bench: unknown argument '%s' (usage: [--reps N] [--simd-forward-only])\n", argv[i]);
      return 2;
    }
  }
  Reference reference;
  EigenScalar eigen;
  auto simd = make_cpu_backend();
  Backend* backends[3] = {&reference, &eigen, simd.get()};
  const char* names[3] = {"reference", "eigen", "simd128"};

  struct GemmCase {
    const char* name;
    Shape a, b, c;
    bool ta, tb;
  };
  // Linear layers store W [out, in] and compute x W' (trans_b); attention scores are q k' per
  // head, the context p v.
  const GemmCase cases[] = {
      {"linear_50x64_64x64", Shape{50, 64}, Shape{64, 64}, Shape{50, 64}, false, true},
      {"linear_50x64_64x256", Shape{50, 64}, Shape{256, 64}, Shape{50, 256}, false, true},
      {"linear_50x256_256x64", Shape{50, 256}, Shape{64, 256}, Shape{50, 64}, false, true},
      {"scores_2x50x32_50x32t", Shape{2, 50, 32}, Shape{2, 50, 32}, Shape{2, 50, 50}, false, true},
      {"context_2x50x50_50x32", Shape{2, 50, 50}, Shape{2, 50, 32}, Shape{2, 50, 32}, false, false},
      {"nn_50x64_64x256", Shape{50, 64}, Shape{64, 256}, Shape{50, 256}, false, false},
  };
  std::string json = "{\"gemm_gflops\": {";
  for (std::size_t ci = 0; ci < (simd_forward_only ? 0 : sizeof cases / sizeof cases[0]); ++ci) {
    const GemmCase& cs = cases[ci];
    const double flops = 2.0 * static_cast<double>(cs.c.numel()) *
                         static_cast<double>(cs.ta ? cs.a[cs.a.rank() - 2] : cs.a[cs.a.rank() - 1]);
    json += std::string(ci ? ", " : "") + "\"" + cs.name + "\": {";
    for (int w = 0; w < 3; ++w) {
      Backend& be = *backends[w];
      const Tensor a = random_tensor(be, cs.a, 1), b = random_tensor(be, cs.b, 2);
      const Tensor c = be.alloc(cs.c, DType::f32);
      // Several products per timing, so one timing is well above the clock's resolution.
      const double ms = median_ms(reps, [&] {
        for (int r = 0; r < 10; ++r) be.gemm(cs.ta, cs.tb, 1.0, a, b, 0.0, c);
      }) / 10;
      json += std::string(w ? ", " : "") + "\"" + names[w] + "\": " + fmt(flops / (ms * 1e6));
    }
    json += "}";
  }
  json += "}, \"forward_ms\": {";

  const std::int64_t items = 12000, dim = 64, max_len = 50;
  struct Config {
    const char* name;
    std::int64_t heads, ffn;
  };
  const Config configs[] = {{"heads1_ffn64", 1, 64}, {"heads2_ffn256", 2, 256}};
  for (std::size_t fi = 0; fi < 2; ++fi) {
    json += std::string(fi ? ", " : "") + "\"" + configs[fi].name + "\": {";
    for (int w = simd_forward_only ? 2 : 0; w < 3; ++w) {
      Backend& be = *backends[w];
      Sasrec model(be, items, dim, max_len, configs[fi].heads, configs[fi].ffn, 2);
      std::vector<std::int32_t> hist(static_cast<std::size_t>(max_len));
      Rng rng(3);
      for (auto& h : hist) h = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(items)));
      const Tensor history = make_tensor(be, Shape{1, max_len}, hist);
      const float* V = model.item.weight.value.host<float>();
      std::vector<float> scores(static_cast<std::size_t>(items));
      std::size_t checksum = 0;
      const double fwd = median_ms(reps / 2, [&] { checksum += model.query(be, history).size(); });
      const double full = median_ms(reps / 2, [&] {
        const std::vector<float> q = model.query(be, history);
        kernels::score_all(q.data(), V, static_cast<std::size_t>(items), static_cast<std::size_t>(dim), 0.0f,
                           scores.data());
        checksum += select_top_k(scores.data(), static_cast<index_t>(items), 10, nullptr).size();
      });
      if (checksum == 0) return 1;
      json += std::string(w && !simd_forward_only ? ", " : "") + "\"" + names[w] + "\": {\"forward\": " + fmt(fwd) +
              ", \"forward_top10\": " + fmt(full) + "}";
    }
    json += "}";
  }
  json += "}, \"reps\": " + std::to_string(reps) + "}";
  std::printf("%s\n", json.c_str());
  return 0;
}
