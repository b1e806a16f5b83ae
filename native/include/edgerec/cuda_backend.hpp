// edgerec/cuda_backend.hpp — the CUDA backend (native/cuda/, built with -DEDGEREC_CUDA=ON).
//
// make_cuda_backend() returns a Backend whose tensors live in device memory (Buffer::host_data()
// is nullptr: model code moves data with upload/download) and which runs every operation of the
// seam on one CUDA device: GEMMs through cuBLAS (f32 without TF32, f64), its own kernels for the
// rest, and the whole fits of the factorisation trainers (als_fit, bpr_fit, mf_sgd_fit) with the
// parameters resident on the device from the first epoch to the last.
//
// Results against the CPU reference (checked by tests/unit/test_nn_ops.cpp and
// test_cuda_conformance.cpp wherever a device is present):
//  - bit for bit: copy, fill, permute, gather, scatter-add (grouped by destination, summed in
//    increasing position), add, mul, scale, dropout (the reference's hash of (seed, i)),
//    reduce_rows/cols and sum_squares (the same summation order), the optimiser updates
//    (compiled without contracted multiply-adds), top-K;
//  - within rounding: gemm (cuBLAS blocking), activations (the device's exp/tanh/erf/log1p are
//    within 2 ulp, not correctly rounded), softmax and layer norm (a warp's fixed reduction tree
//    instead of the reference's sequential sums: still deterministic run to run);
//  - the trainers: iALS runs the same conjugate-gradient iterations for all rows at once (Y'Y
//    and the dense product by cuBLAS); BPR runs the reference's stratified epoch with the same
//    strata and random streams as the CPU with cuda_bpr_blocks() threads; biased MF runs the
//    samples in the caller's order on one warp. Models agree with the CPU's within rounding
//    and the SGD's sensitivity to it, so their metrics are compared, not their bits.
//
// Determinism: the same inputs and seed give the same bits on the same device and build (no
// floating-point atomics anywhere). No device result depends on threads(): that and
// parallel_for() are the `host` backend's, which runs what stays on the host (item-kNN's fit,
// the host side of evaluation).
// Thread-safety: one backend per thread (it owns a CUDA stream and a cuBLAS handle).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "edgerec/backend.hpp"

namespace edgerec {

// True when this build includes the CUDA backend (-DEDGEREC_CUDA=ON).
bool cuda_built();
// True when make_cuda_backend(device) can succeed; otherwise `why` (nullable) says why not (not
// built with CUDA, no device, a driver too old for the toolkit, ...). Never throws.
bool cuda_available(std::string* why = nullptr, int device = 0);
// Throws Error naming the reason when no device is usable. `host` (default: the serial CPU
// reference) runs the host-side loops; the CLI passes the OpenMP backend.
std::unique_ptr<Backend> make_cuda_backend(int device = 0, std::unique_ptr<Backend> host = nullptr);

struct CudaDeviceInfo {
  int device = 0;
  std::string name;                // e.g. "NVIDIA H200"
  int compute_major = 0, compute_minor = 0;
  std::size_t total_bytes = 0;     // device memory
  // Most device memory this backend's own allocations (tensors, and the fits' and operations'
  // scratch) held at once; cuBLAS's workspace and the CUDA context are not counted.
  std::size_t peak_bytes = 0;
};
// The device of a backend made by make_cuda_backend(); false for any other backend.
bool cuda_device_info(const Backend& backend, CudaDeviceInfo& info);

// The number of BPR blocks T the CUDA backend stratifies an epoch into (bpr_fit): a function of
// the data's shape only, so a model depends on the seed and the data, not on the device.
int cuda_bpr_blocks(index_t n_users, index_t n_items);

}  // namespace edgerec
