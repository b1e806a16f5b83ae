// Shape and Tensor (edgerec/tensor.hpp), and the host buffers of the CPU backends.
#include "edgerec/tensor.hpp"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <new>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "backend/host_memory.hpp"
#include "edgerec/backend.hpp"
#include "edgerec/error.hpp"

namespace edgerec {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i32: return 4;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
  }
  return "?";
}

Shape::Shape(std::initializer_list<std::int64_t> dims) {
  if (dims.size() > static_cast<std::size_t>(kMaxRank))
    throw Error("tensor shape has " + std::to_string(dims.size()) + " dimensions, at most " +
                std::to_string(kMaxRank) + " are supported");
  for (std::int64_t d : dims) {
    if (d < 0) throw Error("tensor shape has a negative dimension " + std::to_string(d));
    dims_[static_cast<std::size_t>(rank_++)] = d;
  }
}

std::size_t Shape::numel() const {
  std::size_t n = 1;
  for (int i = 0; i < rank_; ++i) {
    const auto d = static_cast<std::size_t>(dims_[static_cast<std::size_t>(i)]);
    if (d != 0 && n > std::numeric_limits<std::size_t>::max() / d)
      throw Error("tensor shape " + str() + " has more elements than memory can address");
    n *= d;
  }
  return n;
}

Shape Shape::with(int axis, std::int64_t size) const {
  if (axis < 0 || axis >= rank_)
    throw Error("tensor shape " + str() + " has no axis " + std::to_string(axis));
  if (size < 0) throw Error("tensor shape has a negative dimension " + std::to_string(size));
  Shape s = *this;
  s.dims_[static_cast<std::size_t>(axis)] = size;
  return s;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ", ";
    s += std::to_string(dims_[static_cast<std::size_t>(i)]);
  }
  return s + "]";
}

bool Shape::operator==(const Shape& o) const {
  if (rank_ != o.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[static_cast<std::size_t>(i)] != o.dims_[static_cast<std::size_t>(i)]) return false;
  return true;
}

Tensor::Tensor(std::shared_ptr<Buffer> buffer, std::size_t offset, Shape shape)
    : buffer_(std::move(buffer)), offset_(offset), shape_(shape) {
  if (!buffer_) throw Error("tensor view of no buffer");
  if (offset_ > buffer_->count() || shape_.numel() > buffer_->count() - offset_)
    throw Error("tensor view " + shape_.str() + " at element " + std::to_string(offset_) +
                " does not fit its buffer of " + std::to_string(buffer_->count()) + " elements");
}

Tensor Tensor::view(Shape shape) const {
  if (shape.numel() != numel())
    throw Error("cannot view tensor " + shape_.str() + " as " + shape.str() +
                " (element counts differ)");
  return Tensor(buffer_, offset_, shape);
}

Tensor Tensor::narrow0(std::int64_t begin, std::int64_t end) const {
  if (rank() == 0 || begin < 0 || end < begin || end > dim(0))
    throw Error("tensor " + shape_.str() + " has no rows [" + std::to_string(begin) + ", " +
                std::to_string(end) + ")");
  const std::size_t inner = dim(0) == 0 ? 0 : numel() / static_cast<std::size_t>(dim(0));
  return Tensor(buffer_, offset_ + static_cast<std::size_t>(begin) * inner, shape_.with(0, end - begin));
}

Tensor Tensor::select0(std::int64_t i) const {
  const Tensor rows = narrow0(i, i + 1);
  Shape s;
  switch (rank()) {
    case 1: s = Shape{}; break;
    case 2: s = Shape{dim(1)}; break;
    case 3: s = Shape{dim(1), dim(2)}; break;
    default: s = Shape{dim(1), dim(2), dim(3)}; break;
  }
  return rows.view(s);
}

void* tensor_host_data(const Tensor& t, DType expected) {
  if (!t.defined()) throw Error("tensor operation on an undefined tensor");
  if (t.dtype() != expected)
    throw Error(std::string("tensor is ") + dtype_name(t.dtype()) + ", expected " + dtype_name(expected));
  auto* base = static_cast<unsigned char*>(t.buffer()->host_data());
  if (!base) throw Error("tensor lives in device memory; download it first");
  return base + t.offset() * dtype_size(t.dtype());
}

namespace {

// Host memory, 8-byte aligned (every dtype's alignment: malloc's is 8 in wasm, 16 on x86-64),
// zero-filled. malloc + host_zero rather than a std::vector: a forward pass allocates every
// intermediate result, and in wasm (libc++ built for size) the vector's zero fill and its
// destructor ran element by element, a quarter of a SASRec forward pass (measured,
// edgerec_wasm_bench). An empty buffer still gets a valid address.
class HostBuffer final : public Buffer {
 public:
  HostBuffer(DType dtype, std::size_t count)
      : Buffer(dtype, count), storage_(std::malloc(std::max<std::size_t>(count * dtype_size(dtype), 1))) {
    if (!storage_) throw std::bad_alloc();
    detail::host_zero(storage_, count * dtype_size(dtype));
  }
  ~HostBuffer() override { std::free(storage_); }
  void* host_data() override { return storage_; }

 private:
  void* storage_;
};

template <typename T>
Tensor make_tensor_of(Backend& backend, const Shape& shape, const std::vector<T>& values) {
  if (values.size() != shape.numel())
    throw Error("make_tensor: " + std::to_string(values.size()) + " values for shape " + shape.str());
  Tensor t = backend.alloc(shape, dtype_of<T>::value);
  backend.upload(t, values.data());
  return t;
}

}  // namespace

Tensor Backend::alloc(const Shape& shape, DType dtype) {
#if defined(__GLIBC__)
  // A training step allocates and frees hundreds of activation tensors of a few MB. Above
  // glibc's mmap threshold each one is a fresh mmap: page faults plus the zero-fill on every
  // operation (measured: SASRec on Amazon Beauty, 33 s per epoch on one thread, 13 s with
  // these settings). Keeping such blocks in the heap, and not trimming it after each free,
  // lets the next step reuse warm memory. Process-wide, set once on the first host tensor.
  static std::once_flag malloc_tuned;
  std::call_once(malloc_tuned, [] {
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
  });
#endif
  const std::size_t n = shape.numel();
  if (n > std::numeric_limits<std::size_t>::max() / 8)
    throw Error("tensor " + shape.str() + " is too large to allocate");
  return Tensor(std::make_shared<HostBuffer>(dtype, n), 0, shape);
}

Tensor make_tensor(Backend& backend, const Shape& shape, const std::vector<float>& values) {
  return make_tensor_of(backend, shape, values);
}
Tensor make_tensor(Backend& backend, const Shape& shape, const std::vector<double>& values) {
  return make_tensor_of(backend, shape, values);
}
Tensor make_tensor(Backend& backend, const Shape& shape, const std::vector<std::int32_t>& values) {
  return make_tensor_of(backend, shape, values);
}

}  // namespace edgerec
