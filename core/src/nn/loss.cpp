// Losses (edgerec/nn/loss.hpp), composed from nn operations.
#include "edgerec/nn/loss.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "edgerec/error.hpp"

namespace edgerec::nn {
namespace {

void same_count(const char* loss, const Shape& a, const Shape& b) {
  if (a.numel() != b.numel())
    throw Error(std::string(loss) + ": shapes " + a.str() + " and " + b.str() + " have different element counts");
}

// -sum(picked) / (rows whose target is not -1).
Var mean_negative_pick(const char* loss, const Var& log_probs, const Tensor& targets) {
  const std::vector<std::int32_t> t = to_vector<std::int32_t>(log_probs.tape().backend(), targets);
  std::size_t kept = 0;
  for (std::int32_t v : t) kept += v >= 0 ? 1 : 0;
  if (kept == 0) throw Error(std::string(loss) + ": every row is padding (target -1)");
  return scale(sum(pick(log_probs, targets)), -1.0 / static_cast<double>(kept));
}

}  // namespace

Var mse(const Var& pred, const Tensor& target) {
  same_count("mse", pred.shape(), target.shape());
  const Var diff = add(pred, pred.tape().constant(target.view(pred.shape())), 1.0, -1.0);
  return mean(mul(diff, diff));
}

Var bce_with_logits(const Var& logits, const Tensor& targets) {
  same_count("bce_with_logits", logits.shape(), targets.shape());
  const Var y = logits.tape().constant(targets.view(logits.shape()));
  return mean(add(activation(logits, Act::softplus), mul(logits, y), 1.0, -1.0));
}

Var softmax_cross_entropy(const Var& logits, const Tensor& targets) {
  if (logits.shape().rank() != 2)
    throw Error("softmax_cross_entropy: logits must be [rows, classes], got " + logits.shape().str());
  return mean_negative_pick("softmax_cross_entropy", log_softmax(logits), targets);
}

Var sampled_softmax_cross_entropy(const Var& query, const Var& items, const Tensor& candidates) {
  const Shape& q = query.shape();
  if (q.rank() != 2 || candidates.rank() != 2 || candidates.dtype() != DType::i32 || candidates.dim(0) != q[0] ||
      candidates.dim(1) < 1)
    throw Error("sampled_softmax_cross_entropy: query must be [R, d] and candidates i32 [R, 1 + N], got " + q.str() +
                " and " + candidates.shape().str());
  const std::int64_t R = q[0], d = q[1], C = candidates.dim(1);
  Backend& backend = query.tape().backend();
  // Logits [R, 1, C] = query [R, 1, d] x gathered items [R, C, d]'.
  const Var logits = reshape(matmul(reshape(query, Shape{R, 1, d}), gather(items, candidates), false, true),
                             Shape{R, C});
  const std::vector<std::int32_t> cand = to_vector<std::int32_t>(backend, candidates);
  std::vector<std::int32_t> keys(cand.size()), targets(static_cast<std::size_t>(R));
  for (std::size_t i = 0; i < cand.size(); ++i) keys[i] = cand[i] >= 0 ? 1 : 0;
  for (std::int64_t r = 0; r < R; ++r)
    targets[static_cast<std::size_t>(r)] = cand[static_cast<std::size_t>(r * C)] >= 0 ? 0 : -1;
  SoftmaxMask mask;
  mask.keys = make_tensor(backend, Shape{R, C}, keys);
  return mean_negative_pick("sampled_softmax_cross_entropy", log_softmax(logits, mask),
                            make_tensor(backend, Shape{R}, targets));
}

Var shared_sampled_softmax_cross_entropy(const Var& query, const Var& items, const Tensor& positives,
                                         const Tensor& negatives) {
  const Shape& q = query.shape();
  if (q.rank() != 2 || positives.dtype() != DType::i32 || negatives.dtype() != DType::i32 ||
      static_cast<std::int64_t>(positives.numel()) != q[0] || negatives.numel() < 1)
    throw Error("shared_sampled_softmax_cross_entropy: query must be [R, d], positives i32 [R] and negatives i32 "
                "[N >= 1], got " + q.str() + ", " + positives.shape().str() + " and " + negatives.shape().str());
  const std::int64_t R = q[0], N = static_cast<std::int64_t>(negatives.numel()), C = N + 1;
  Tape& tape = query.tape();
  Backend& backend = tape.backend();
  const std::vector<std::int32_t> pos = to_vector<std::int32_t>(backend, positives);
  const std::vector<std::int32_t> neg = to_vector<std::int32_t>(backend, negatives);
  // Column 0 of the shared block is a zero row (index -1), so the GEMM leaves it 0 and the
  // positive's logit is added there through a [R, 1] x [1, C] product with e_0.
  std::vector<std::int32_t> shared(static_cast<std::size_t>(C), -1);
  std::copy(neg.begin(), neg.end(), shared.begin() + 1);
  const Var block = matmul(query, gather(items, make_tensor(backend, Shape{C}, shared)), false, true);
  const Var pos_logit = sum_last(mul(query, gather(items, positives)));
  std::vector<double> e0(static_cast<std::size_t>(C), 0.0);
  e0[0] = 1.0;
  Tensor unit = tape.alloc(Shape{1, C}, query.value().dtype());
  if (unit.dtype() == DType::f64) {
    backend.upload(unit, e0.data());
  } else {
    const std::vector<float> f(e0.begin(), e0.end());
    backend.upload(unit, f.data());
  }
  const Var logits = add(block, matmul(reshape(pos_logit, Shape{R, 1}), tape.constant(unit)));
  std::vector<std::int32_t> keys(static_cast<std::size_t>(R * C), 1), targets(static_cast<std::size_t>(R));
  for (std::int64_t r = 0; r < R; ++r) {
    const std::int32_t p = pos[static_cast<std::size_t>(r)];
    targets[static_cast<std::size_t>(r)] = p >= 0 ? 0 : -1;
    for (std::int64_t n = 0; n < N; ++n)
      if (neg[static_cast<std::size_t>(n)] == p) keys[static_cast<std::size_t>(r * C + n + 1)] = 0;
  }
  SoftmaxMask mask;
  mask.keys = make_tensor(backend, Shape{R, C}, keys);
  return mean_negative_pick("shared_sampled_softmax_cross_entropy", log_softmax(logits, mask),
                            make_tensor(backend, Shape{R}, targets));
}

Var bpr(const Var& pos, const Var& neg) {
  same_count("bpr", pos.shape(), neg.shape());
  return mean(activation(add(neg, reshape(pos, neg.shape()), 1.0, -1.0), Act::softplus));
}

}  // namespace edgerec::nn
