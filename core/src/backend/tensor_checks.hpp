// Internal: the argument checks of the tensor operations (Backend's reference in tensor_ops.cpp
// and the device backends in native/), so every backend rejects the same calls with the same
// messages. Each throws Error naming the operation; none reads tensor elements.
#pragma once

#include <string>

#include "edgerec/backend.hpp"
#include "edgerec/error.hpp"

namespace edgerec::tensor_checks {

[[noreturn]] inline void fail(const char* op, const std::string& what) {
  throw Error(std::string(op) + ": " + what);
}

inline void need(const char* op, const Tensor& t, const char* name) {
  if (!t.defined()) fail(op, std::string("tensor '") + name + "' is undefined");
}

inline void need_float(const char* op, const Tensor& t, const char* name) {
  need(op, t, name);
  if (t.dtype() == DType::i32) fail(op, std::string("tensor '") + name + "' is i32, expected f32 or f64");
}

inline void need_i32(const char* op, const Tensor& t, const char* name) {
  need(op, t, name);
  if (t.dtype() != DType::i32)
    fail(op, std::string("tensor '") + name + "' is " + dtype_name(t.dtype()) + ", expected i32");
}

inline void need_same_dtype(const char* op, const Tensor& a, const Tensor& b, const char* name) {
  need(op, b, name);
  if (a.dtype() != b.dtype())
    fail(op, std::string("tensor '") + name + "' is " + dtype_name(b.dtype()) + ", expected " +
                 dtype_name(a.dtype()));
}

inline void need_numel(const char* op, const Tensor& t, std::size_t n, const char* name) {
  if (t.numel() != n)
    fail(op, std::string("tensor '") + name + "' has shape " + t.shape().str() + " (" +
                 std::to_string(t.numel()) + " elements), expected " + std::to_string(n) + " elements");
}

// The broadcast rule of add/mul: b has a's element count or is one row of a.
inline bool broadcast_b(const char* op, const Tensor& a, const Tensor& b) {
  if (b.numel() == a.numel()) return false;
  if (b.numel() == a.cols()) return true;
  fail(op, "cannot broadcast " + b.shape().str() + " over " + a.shape().str() +
               " (b must have a's shape or be one row of it)");
}

// The SoftmaxMask rule: returns the rows per key group (1 without keys).
inline std::size_t check_mask(const char* op, const Tensor& x, const SoftmaxMask& mask) {
  const std::size_t cols = x.cols(), rows = x.rows();
  if (mask.causal && (cols == 0 || rows % cols != 0))
    fail(op, "a causal mask needs scores [..., T, T], got " + x.shape().str());
  if (!mask.keys.defined()) return 1;
  need_i32(op, mask.keys, "mask.keys");
  const std::size_t groups = mask.keys.rows();
  if (mask.keys.cols() != cols || groups == 0 || rows % groups != 0)
    fail(op, "key mask " + mask.keys.shape().str() + " does not fit scores " + x.shape().str() +
                 " (expected [B, " + std::to_string(cols) + "] with B dividing the rows)");
  return rows / groups;
}

// The index rule of gather_rows / scatter_add_rows, for an index already on the host.
inline void check_index_values(const char* op, const std::int32_t* idx, std::size_t n, std::size_t rows) {
  for (std::size_t r = 0; r < n; ++r)
    if (idx[r] < -1 || (idx[r] >= 0 && static_cast<std::size_t>(idx[r]) >= rows))
      fail(op, "index " + std::to_string(idx[r]) + " at position " + std::to_string(r) +
                   " is outside [-1, " + std::to_string(rows) + ")");
}

}  // namespace edgerec::tensor_checks
