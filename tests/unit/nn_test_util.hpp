// Shared helpers of the nn tests: random tensors and the finite-difference gradient check.
#pragma once

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "edgerec/backend.hpp"
#include "edgerec/nn/autodiff.hpp"
#include "edgerec/split.hpp"

namespace nn_test {

using namespace edgerec;

inline std::vector<double> random_doubles(std::size_t n, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Rng rng(seed);
  std::vector<double> v(n);
  for (double& x : v) x = lo + (hi - lo) * rng.uniform();
  return v;
}

inline Tensor random_f64(Backend& backend, const Shape& shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return make_tensor(backend, shape, random_doubles(shape.numel(), seed, lo, hi));
}

inline Tensor random_f32(Backend& backend, const Shape& shape, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  const std::vector<double> d = random_doubles(shape.numel(), seed, lo, hi);
  return make_tensor(backend, shape, std::vector<float>(d.begin(), d.end()));
}

inline Tensor indices(Backend& backend, const Shape& shape, const std::vector<std::int32_t>& v) {
  return make_tensor(backend, shape, v);
}

// A loss that depends on every element of `out` with a different weight (a plain sum would hide
// gradients that are wrong by a per-element permutation or a constant shift of softmax rows).
inline nn::Var weighted_sum(const nn::Var& out, std::uint64_t seed = 99) {
  Backend& backend = out.tape().backend();
  const nn::Var w = out.tape().constant(random_f64(backend, out.shape(), seed, 0.5, 1.5));
  return nn::sum(nn::mul(out, w));
}

struct GradCheck {
  double worst_relative_error = 0;  // over every checked tensor, norm-wise
  std::string worst;                // which tensor
  bool all_nonzero = true;          // every checked gradient has a nonzero element
  std::string zero;                 // the first one that did not
};

// Central differences of loss(tape, input vars) with respect to every parameter value and every
// input tensor, against the tape's gradients. Relative error per tensor:
// |analytic - numeric| / max(|analytic|, |numeric|) (L2 norms over the tensor).
inline GradCheck gradcheck(Backend& backend, const std::vector<nn::Parameter*>& params,
                           const std::vector<Tensor>& inputs,
                           const std::function<nn::Var(nn::Tape&, const std::vector<nn::Var>&)>& loss_fn,
                           double h = 1e-5) {
  auto evaluate = [&](std::vector<Tensor>* input_grads) {
    nn::Tape tape(backend, 1234);
    std::vector<nn::Var> vars;
    for (const Tensor& t : inputs) vars.push_back(tape.input(t));
    nn::Var loss = loss_fn(tape, vars);
    if (input_grads) {
      tape.backward(loss);
      for (const nn::Var& v : vars) input_grads->push_back(v.grad());
    }
    return to_vector<double>(backend, loss.value())[0];
  };
  for (nn::Parameter* p : params) backend.fill(p->grad, 0.0);
  std::vector<Tensor> input_grads;
  evaluate(&input_grads);

  std::vector<std::pair<std::string, Tensor>> targets;
  std::vector<std::vector<double>> analytic;
  for (nn::Parameter* p : params) {
    targets.emplace_back(p->name, p->value);
    analytic.push_back(to_vector<double>(backend, p->grad));
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    targets.emplace_back("input " + std::to_string(i), inputs[i]);
    analytic.push_back(input_grads[i].defined() ? to_vector<double>(backend, input_grads[i])
                                                : std::vector<double>(inputs[i].numel(), 0.0));
  }
  GradCheck result;
  for (std::size_t t = 0; t < targets.size(); ++t) {
    const Tensor& x = targets[t].second;
    std::vector<double> values = to_vector<double>(backend, x);
    double diff2 = 0, a2 = 0, n2 = 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
      const double keep = values[i];
      values[i] = keep + h;
      backend.upload(x, values.data());
      const double plus = evaluate(nullptr);
      values[i] = keep - h;
      backend.upload(x, values.data());
      const double minus = evaluate(nullptr);
      values[i] = keep;
      backend.upload(x, values.data());
      const double numeric = (plus - minus) / (2 * h);
      const double a = analytic[t][i];
      diff2 += (a - numeric) * (a - numeric);
      a2 += a * a;
      n2 += numeric * numeric;
    }
    const double denominator = std::max(std::sqrt(std::max(a2, n2)), 1e-300);
    const double rel = std::sqrt(diff2) / denominator;
    if (a2 == 0 && n2 == 0) {
      if (result.all_nonzero) result.zero = targets[t].first;
      result.all_nonzero = false;
      continue;
    }
    if (rel >= result.worst_relative_error) {
      result.worst_relative_error = rel;
      result.worst = targets[t].first;
    }
  }
  return result;
}

}  // namespace nn_test

#define CHECK_GRADIENTS(result)                                   \
  do {                                                            \
    const auto& r_ = (result);                                    \
    INFO("worst: " << r_.worst << " rel " << r_.worst_relative_error << "; zero gradient: " << r_.zero); \
    CHECK(r_.all_nonzero);                                        \
    CHECK(r_.worst_relative_error < 1e-6);                        \
  } while (0)
