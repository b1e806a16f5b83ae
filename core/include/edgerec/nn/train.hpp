// edgerec/nn/train.hpp — the training loop every neural model kind shares: a validation part
// carved from the training data, epochs of seeded mini-batches, a learning-rate schedule, early
// stopping that keeps the best epoch's parameters, and one EpochRecord per epoch for the CLI's
// epoch lines and --curve files.
//
// Where the validation part comes from. A neural kind's fit_impl() receives the protocol's
// training part (never its test part) and holds out each user's last training interaction
// (hold_out_last: by time, or file order for the papers' files without timestamps; a user with
// one interaction keeps it). It trains on the rest, scores the held-out items after each epoch
// with the full-ranking metric (validation_metric), keeps the parameters of the best epoch and
// stops after `patience` epochs without a better score. Afterwards the held-out interactions
// are history again: Model::seen and Model::sequences are those of the whole training part (set
// by Model::fit), so a sequence model's query for a user reads the held-out item, as SASRec's
// evaluation does. On the seq protocol this is exactly SASRec's split: evaluate() fits on all
// but the test items, so the held-out item is the protocol's validation item.
//
// Determinism: epoch_order() and the schedule are pure functions of their arguments; the loop
// adds no randomness. A model trained with the same seed and backend thread count is the same.
//
// Thread-safety: one loop per model; everything runs on the calling thread (the backend
// parallelises inside its operations).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "edgerec/backend.hpp"
#include "edgerec/data.hpp"
#include "edgerec/model.hpp"
#include "edgerec/nn/autodiff.hpp"

namespace edgerec::nn {

// The learning rate at step `step` (0-based) of `total` steps: a linear warm-up from 0 over
// `warmup` steps, then constant, or a linear / cosine decay to final_fraction * lr at the last
// step.
struct LrSchedule {
  enum class Kind { constant, linear, cosine };
  Kind kind = Kind::constant;
  double lr = 1e-3;
  double final_fraction = 0.0;
  std::int64_t warmup = 0;
  double at(std::int64_t step, std::int64_t total) const;
};
// The schedule a neural kind trains with: Hyper::lr_schedule (0 constant, 1 linear, 2 cosine;
// unset: constant) from *hyper.lr to 0, after Hyper::warmup steps of warm-up.
LrSchedule lr_schedule(const Hyper& hyper);
// "constant", "linear", "cosine" for 0, 1, 2 (Hyper::lr_schedule's codes).
const char* lr_schedule_name(int code);

// A seeded permutation of [0, n) for epoch `epoch` (Fisher–Yates over Rng(mix_seed(seed,
// epoch, stream))): the epoch's example order, the same on every platform.
std::vector<std::int32_t> epoch_order(std::size_t n, std::uint64_t seed, int epoch,
                                      std::uint64_t stream = 0);

// `train` split into the part a neural kind fits on and its held-out validation part (see the
// top of this file): validation_split with the leave-last-out rule. Throws Error when no user
// has two interactions (nothing to validate on).
struct Holdout {
  Interactions fit;
  Interactions validation;
};
Holdout hold_out_last(const Interactions& train);

// While alive, `model`'s seen items and sequences are those of `fit_part` (what the model is
// trained on), so validation_metric() can rank the held-out items (an item the model's `seen`
// holds is never a candidate). The destructor puts the whole training part's back.
class HeldOutHistory {
 public:
  HeldOutHistory(Model& model, const Interactions& fit_part);
  ~HeldOutHistory();
  HeldOutHistory(const HeldOutHistory&) = delete;
  HeldOutHistory& operator=(const HeldOutHistory&) = delete;

 private:
  Model& model_;
  Csr seen_;
  std::optional<Sequences> sequences_;
};

// How a neural kind scores its validation part after each epoch: nDCG@k of the held-out items,
// either in the full ranking (negatives = 0: every item but the user's fit-part items is a
// candidate; key "val_full_ndcg@k") or, as the NCF protocol tests, each held-out item among
// `negatives` items the user never interacted with in the whole training part (fit + validation),
// drawn once with `seed` (key "val_ndcg@k"). Hyper::val_negatives chooses. The model must score
// with its current parameters (a kind that caches query vectors refreshes them first) and have
// the fit part as its seen items (HeldOutHistory).
class Validation {
 public:
  Validation(const Holdout& parts, int negatives, std::uint64_t seed, int k = 10);
  double operator()(const Model& model, Backend& backend) const;
  const std::string& name() const { return name_; }  // the key EpochRecord::metric carries

 private:
  const Interactions& validation_;
  std::vector<std::vector<index_t>> negatives_;  // by user; empty: full ranking
  int k_;
  std::string name_;
};

// Keeps a copy of the parameters of the best score so far (higher is better) and puts them
// back at the end. The copies live on the parameters' backend.
class BestParameters {
 public:
  BestParameters(Backend& backend, std::vector<Parameter*> params);
  // Records one epoch's score; returns true when it is the best so far (strictly better than
  // every earlier one; a NaN never is), after copying the parameters.
  bool offer(double score);
  // Records the parameters as they are before the first epoch, scored `score`, as epoch 0: they
  // are restored unless a later epoch beats them (a stage that starts from trained parameters).
  void offer_start(double score);
  // Copies the best parameters back (nothing when none was offered or the last was the best).
  void restore();
  int best_epoch() const { return best_epoch_; }  // 1-based; 0 = none yet, or the start
  double best_score() const { return best_; }

 private:
  bool keep(double score);

  Backend& backend_;
  std::vector<Parameter*> params_;
  std::vector<Tensor> copies_;
  double best_ = 0;
  bool any_ = false;
  int epochs_ = 0, best_epoch_ = 0;
};

// What one epoch of a model's own training returns.
struct EpochLoss {
  double loss = 0;  // mean over the epoch's examples
  double lr = 0;    // learning rate of its first step
};

// Runs up to `max_epochs` epochs: train_epoch(epoch) (1-based), then validate() (the score,
// higher is better), keeping the best epoch's parameters (BestParameters over `params`) and
// stopping after `patience` epochs without a better score (0 = run them all). Each epoch goes to
// progress.epoch() and info.loss; info.epochs_run and info.best_epoch are set, and the best
// parameters are in place on return. A non-finite loss throws Error (training diverged) naming
// the epoch. max_epochs 0 trains nothing and returns at once. With `start_score` (the
// validation score of the parameters on entry), those parameters are kept unless an epoch beats
// them (info.best_epoch is then 0), and progress.epoch() first gets a record of epoch 0 (the
// start: its score, a NaN loss). Returns the best score.
double run_epochs(Backend& backend, std::vector<Parameter*> params, int max_epochs, int patience,
                  const std::function<EpochLoss(int epoch)>& train_epoch,
                  const std::function<double()>& validate, const std::string& metric_name,
                  const Progress& progress, TrainInfo& info,
                  std::optional<double> start_score = std::nullopt);

}  // namespace edgerec::nn
