// edgerec/nn/optim.hpp — optimisers over a model's Parameters, each step one Backend update per
// parameter tensor (Backend::sgd_update / adam_update; formulas in edgerec/backend.hpp).
//
// Usage per mini-batch: Tape::backward(loss) accumulates Parameter::grad; clip_grad_norm()
// (optional); step(); zero_grad(). Optimiser state (velocity, Adam moments) lives on the backend
// next to the parameters. Updates are dense: an embedding row a batch did not use still decays
// its moments (as PyTorch's dense Adam). Deterministic: element-wise updates, and the global
// norm is summed in a fixed order (Backend::sum_squares).
//
// Parameters must outlive the optimiser. Thread-safety: one thread at a time.
#pragma once

#include <vector>

#include "edgerec/backend.hpp"
#include "edgerec/nn/autodiff.hpp"

namespace edgerec::nn {

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Sets every parameter's gradient to 0.
  void zero_grad();
  // Global-norm clipping (Pascanu et al. 2013): when the L2 norm of all gradients together
  // exceeds max_norm, scales every gradient by max_norm / norm. Returns the norm before
  // clipping. max_norm must be > 0 (Error otherwise); a non-finite norm throws Error (a diverged
  // step must not silently poison the parameters).
  double clip_grad_norm(double max_norm);
  // The L2 norm of all gradients together.
  double grad_norm();
  // Applies one update with the current gradients.
  virtual void step() = 0;
  // The learning rate of the next step() (a schedule sets it between steps).
  double lr;

 protected:
  Optimizer(Backend& backend, std::vector<Parameter*> params, double lr);
  Backend& backend_;
  std::vector<Parameter*> params_;
};

// SGD with momentum and weight decay (SgdStep; its lr is the initial `lr`).
class Sgd final : public Optimizer {
 public:
  Sgd(Backend& backend, std::vector<Parameter*> params, const SgdStep& config);
  void step() override;

 private:
  SgdStep config_;
  std::vector<Tensor> velocity_;
};

// Adam, or AdamW with config.decoupled (AdamStep; config.step is ignored: the optimiser counts
// its own steps from 1).
class Adam final : public Optimizer {
 public:
  Adam(Backend& backend, std::vector<Parameter*> params, const AdamStep& config);
  void step() override;
  std::int64_t steps() const { return steps_; }

 private:
  AdamStep config_;
  std::int64_t steps_ = 0;
  std::vector<Tensor> m_, v_;
};

}  // namespace edgerec::nn
