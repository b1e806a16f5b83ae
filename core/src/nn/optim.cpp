// Optimisers (edgerec/nn/optim.hpp).
#include "edgerec/nn/optim.hpp"

#include <cmath>
#include <string>

#include "edgerec/error.hpp"

namespace edgerec::nn {

Optimizer::Optimizer(Backend& backend, std::vector<Parameter*> params, double lr_)
    : lr(lr_), backend_(backend), params_(std::move(params)) {
  for (const Parameter* p : params_)
    if (!p || !p->value.defined() || !p->grad.defined())
      throw Error("optimiser: a parameter has no value or gradient tensor");
}

void Optimizer::zero_grad() {
  for (Parameter* p : params_) backend_.fill(p->grad, 0.0);
}

double Optimizer::grad_norm() {
  double total = 0;
  for (Parameter* p : params_) total += backend_.sum_squares(p->grad);
  return std::sqrt(total);
}

double Optimizer::clip_grad_norm(double max_norm) {
  if (!(max_norm > 0)) throw Error("clip_grad_norm: max_norm must be > 0, got " + std::to_string(max_norm));
  const double norm = grad_norm();
  if (!std::isfinite(norm)) throw Error("clip_grad_norm: the gradient norm is not finite (training diverged)");
  if (norm > max_norm)
    for (Parameter* p : params_) backend_.scale(p->grad, max_norm / norm, 0.0, p->grad);
  return norm;
}

Sgd::Sgd(Backend& backend, std::vector<Parameter*> params, const SgdStep& config)
    : Optimizer(backend, std::move(params), config.lr), config_(config) {
  if (config_.momentum != 0.0)
    for (Parameter* p : params_) velocity_.push_back(backend.alloc(p->value.shape(), p->value.dtype()));
}

void Sgd::step() {
  SgdStep s = config_;
  s.lr = lr;
  for (std::size_t i = 0; i < params_.size(); ++i)
    backend_.sgd_update(params_[i]->value, params_[i]->grad, velocity_.empty() ? Tensor() : velocity_[i], s);
}

Adam::Adam(Backend& backend, std::vector<Parameter*> params, const AdamStep& config)
    : Optimizer(backend, std::move(params), config.lr), config_(config) {
  for (Parameter* p : params_) {
    m_.push_back(backend.alloc(p->value.shape(), p->value.dtype()));
    v_.push_back(backend.alloc(p->value.shape(), p->value.dtype()));
  }
}

void Adam::step() {
  AdamStep s = config_;
  s.lr = lr;
  s.step = ++steps_;
  for (std::size_t i = 0; i < params_.size(); ++i)
    backend_.adam_update(params_[i]->value, params_[i]->grad, m_[i], v_[i], s);
}

}  // namespace edgerec::nn
