// edgerec/tensor.hpp — buffers owned by a Backend, and the light Tensor view over them.
//
// A Buffer is memory a backend allocated (Backend::alloc): host memory for the CPU reference and
// the OpenMP backend, device memory for a CUDA backend. Model code never touches the elements
// directly; it moves data in and out with Backend::upload / Backend::download, so the same code
// runs with its tensors on a device.
//
// A Tensor is a view: a shared reference to a buffer, an element offset into it and a shape of
// up to 4 dimensions, always contiguous and row-major (the last dimension varies fastest).
// Copying a Tensor copies the view, not the data; the buffer lives as long as any view of it.
// Views of one buffer may overlap (reshape, slice); each Backend operation says which of its
// arguments may alias.
//
// Element types: f32 (training and serving), f64 (gradient checks run in double; the reference
// implements both with one template) and i32 (indices: embedding rows, targets, top-K results;
// -1 means "no row", see Backend::gather_rows).
//
// Thread-safety: a Tensor is a value; sharing one between threads is safe as long as no backend
// operation writes its buffer meanwhile.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>

namespace edgerec {

enum class DType : std::uint8_t { f32, f64, i32 };

// Bytes per element; "f32", "f64", "i32".
std::size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);

// Memory owned by a backend. Created only by Backend::alloc.
class Buffer {
 public:
  Buffer(DType dtype, std::size_t count) : dtype_(dtype), count_(count) {}
  virtual ~Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  DType dtype() const { return dtype_; }
  std::size_t count() const { return count_; }  // elements
  // Address of element 0 in host memory, or nullptr for device memory. Only backends (and their
  // tests) use it; model code goes through upload/download.
  virtual void* host_data() = 0;

 private:
  DType dtype_;
  std::size_t count_;
};

constexpr int kMaxRank = 4;

// Up to kMaxRank dimensions, each >= 0. A rank-0 shape is a scalar (one element).
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);
  int rank() const { return rank_; }
  std::int64_t operator[](int axis) const { return dims_[static_cast<std::size_t>(axis)]; }
  std::int64_t last() const { return rank_ == 0 ? 1 : dims_[static_cast<std::size_t>(rank_ - 1)]; }
  std::size_t numel() const;
  // The shape with dimension `axis` replaced (rank unchanged).
  Shape with(int axis, std::int64_t size) const;
  std::string str() const;  // "[2, 3, 4]"
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  std::array<std::int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

class Tensor {
 public:
  Tensor() = default;  // undefined: defined() is false
  Tensor(std::shared_ptr<Buffer> buffer, std::size_t offset, Shape shape);

  bool defined() const { return buffer_ != nullptr; }
  const Shape& shape() const { return shape_; }
  DType dtype() const { return buffer_->dtype(); }
  std::size_t numel() const { return shape_.numel(); }
  int rank() const { return shape_.rank(); }
  std::int64_t dim(int axis) const { return shape_[axis]; }
  // Rows when viewed as a matrix [numel / last, last].
  std::size_t rows() const { return shape_.last() == 0 ? 0 : numel() / static_cast<std::size_t>(shape_.last()); }
  std::size_t cols() const { return static_cast<std::size_t>(shape_.last()); }

  // The same elements under another shape with the same element count (throws Error otherwise).
  Tensor view(Shape shape) const;
  // Entries [begin, end) along axis 0, as a tensor of the same rank.
  Tensor narrow0(std::int64_t begin, std::int64_t end) const;
  // Entry i along axis 0, one rank lower.
  Tensor select0(std::int64_t i) const;

  Buffer* buffer() const { return buffer_.get(); }
  const std::shared_ptr<Buffer>& buffer_ptr() const { return buffer_; }
  std::size_t offset() const { return offset_; }
  // Host address of the first element (host backends only; throws Error on device memory or a
  // dtype other than T's).
  template <typename T>
  T* host() const;
  // True when both views start at the same element of the same buffer.
  bool same_data(const Tensor& o) const { return buffer_ == o.buffer_ && offset_ == o.offset_; }

 private:
  std::shared_ptr<Buffer> buffer_;
  std::size_t offset_ = 0;  // elements
  Shape shape_;
};

template <typename T>
struct dtype_of;
template <>
struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <>
struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <>
struct dtype_of<std::int32_t> { static constexpr DType value = DType::i32; };

void* tensor_host_data(const Tensor& t, DType expected);  // throws Error (see Tensor::host)

template <typename T>
T* Tensor::host() const {
  return static_cast<T*>(tensor_host_data(*this, dtype_of<T>::value));
}

}  // namespace edgerec
