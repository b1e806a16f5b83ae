// Internal: the flavours of the training kernels (the iALS row solver in als.cpp, the BPR epoch in
// bpr.cpp) and their runtime dispatch.
//
// Both files are compiled for the baseline ISA (namespace train_generic; the only flavour in
// wasm) and, on x86-64, once more for AVX2 and for AVX-512F (train_avx2_native.cpp,
// train_avx512_native.cpp). The Backend entry points call the best flavour this CPU runs, chosen
// once per process; EDGEREC_KERNELS=generic forces the portable one, as for the scoring kernels
// (kernels/flavours.hpp).
//
// Why: the portable build is for baseline x86-64, where the iALS kernel's 16-float vectors are
// four SSE registers each and its working set spills (ML-1M NCF, 192 factors, 2 threads: fit
// 42 s portable, 14 s with AVX-512, the same as -march=native), and BPR's lane loops run at a
// quarter of the width. Every flavour does the same IEEE operations in the same order (lane-wise
// vector arithmetic, no contraction: -ffp-contract=off), so a model's bits do not depend on the
// flavour; test_kernels checks it.
#pragma once

#include <vector>

#include "edgerec/backend.hpp"

namespace edgerec {

struct TrainFlavour {
  const char* name;
  // Solves every row of X (Backend::als_half_step after its checks); G = Y'Y + reg I.
  void (*als_solve_rows)(Backend& backend, const Csr& conf, const Matrix& Y, const Matrix& G,
                         Matrix& X, int steps);
  // Backend::bpr_epoch after its checks.
  double (*bpr_epoch)(Backend& backend, const Csr& by_user, Matrix& P, Matrix& Q,
                      Vector& item_bias, const BprStep& step);
};

#define EDGEREC_DECLARE_TRAIN_FLAVOUR(ns)                                                       \
  namespace ns {                                                                                \
  void als_solve_rows(Backend& backend, const Csr& conf, const Matrix& Y, const Matrix& G,      \
                      Matrix& X, int steps);                                                    \
  double bpr_epoch(Backend& backend, const Csr& by_user, Matrix& P, Matrix& Q,                  \
                   Vector& item_bias, const BprStep& step);                                     \
  const TrainFlavour& flavour();                                                                \
  }

EDGEREC_DECLARE_TRAIN_FLAVOUR(train_generic)
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__EMSCRIPTEN__)
EDGEREC_DECLARE_TRAIN_FLAVOUR(train_avx2)    // call only where the CPU has AVX2
EDGEREC_DECLARE_TRAIN_FLAVOUR(train_avx512)  // call only where the CPU has AVX-512F
#endif

// Every flavour this CPU runs, portable first (tests compare them).
std::vector<const TrainFlavour*> train_flavours();
// The one the Backend entry points use in this process.
const TrainFlavour& train_active_flavour();

}  // namespace edgerec
