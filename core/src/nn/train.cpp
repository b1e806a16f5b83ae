// The shared training loop of the neural kinds (edgerec/nn/train.hpp).
#include "edgerec/nn/train.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <utility>

#include "edgerec/error.hpp"
#include "edgerec/eval.hpp"
#include "edgerec/split.hpp"

namespace edgerec::nn {

namespace {
constexpr std::uint64_t kValidationStream = 0x56414Cull;  // validation negatives
}  // namespace

double LrSchedule::at(std::int64_t step, std::int64_t total) const {
  if (warmup > 0 && step < warmup) return lr * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (kind == Kind::constant) return lr;
  const std::int64_t span = total - warmup - 1;
  if (span <= 0) return lr;
  const double t = std::min(1.0, static_cast<double>(step - warmup) / static_cast<double>(span));
  const double end = lr * final_fraction;
  if (kind == Kind::linear) return lr + (end - lr) * t;
  return end + 0.5 * (lr - end) * (1.0 + std::cos(3.14159265358979323846 * t));
}

LrSchedule lr_schedule(const Hyper& hyper) {
  LrSchedule s;
  const int code = hyper.lr_schedule.value_or(0);
  s.kind = code == 1 ? LrSchedule::Kind::linear : code == 2 ? LrSchedule::Kind::cosine : LrSchedule::Kind::constant;
  s.lr = hyper.lr.value_or(1e-3f);
  s.final_fraction = 0.0;
  s.warmup = hyper.warmup.value_or(0);
  return s;
}

const char* lr_schedule_name(int code) { return code == 1 ? "linear" : code == 2 ? "cosine" : "constant"; }

std::vector<std::int32_t> epoch_order(std::size_t n, std::uint64_t seed, int epoch,
                                      std::uint64_t stream) {
  if (n > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
    throw Error("epoch_order: " + std::to_string(n) + " examples are more than an i32 index holds");
  std::vector<std::int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  Rng rng(mix_seed(seed, static_cast<std::uint64_t>(epoch), stream));
  shuffle(order, rng);
  return order;
}

Holdout hold_out_last(const Interactions& train) {
  Split s = leave_last_out(train);
  if (s.test.rows.empty())
    throw Error("cannot carve a validation part from " + train.source +
                ": no user has two training interactions");
  return {std::move(s.train), std::move(s.test)};
}

HeldOutHistory::HeldOutHistory(Model& model, const Interactions& fit_part)
    : model_(model), seen_(std::move(model.seen)), sequences_(std::move(model.sequences)) {
  model_.seen = Csr::by_user(fit_part);
  model_.sequences.reset();
  if (sequences_) model_.sequences = Sequences::by_user(fit_part);
}

HeldOutHistory::~HeldOutHistory() {
  model_.seen = std::move(seen_);
  model_.sequences = std::move(sequences_);
}

Validation::Validation(const Holdout& parts, int negatives, std::uint64_t seed, int k)
    : validation_(parts.validation), k_(k) {
  if (negatives < 0) throw Error("--val-negatives must be at least 0 (got " + std::to_string(negatives) + ")");
  name_ = (negatives > 0 ? "val_ndcg@" : "val_full_ndcg@") + std::to_string(k);
  if (negatives == 0) return;
  std::vector<index_t> users;
  for (const auto& row : parts.validation.rows) users.push_back(row.user);
  std::sort(users.begin(), users.end());
  users.erase(std::unique(users.begin(), users.end()), users.end());
  Interactions all = parts.fit;
  all.rows.insert(all.rows.end(), parts.validation.rows.begin(), parts.validation.rows.end());
  auto drawn = sample_negatives(all, users, negatives, mix_seed(seed, kValidationStream));
  negatives_.resize(parts.validation.n_users());
  for (std::size_t i = 0; i < users.size(); ++i) negatives_[users[i]] = std::move(drawn[i]);
}

double Validation::operator()(const Model& model, Backend& backend) const {
  EvalOptions o;
  o.k = k_;
  std::map<std::string, double> m;
  if (negatives_.empty())
    measure(model, validation_, o, backend, m);
  else
    measure_sampled(model, validation_, negatives_, o, backend, m, /*full_ranking=*/false);
  const auto it = m.find("ndcg@" + std::to_string(k_));
  return it == m.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
}

BestParameters::BestParameters(Backend& backend, std::vector<Parameter*> params)
    : backend_(backend), params_(std::move(params)) {}

bool BestParameters::keep(double score) {
  if (std::isnan(score) || (any_ && !(score > best_))) return false;
  if (copies_.empty())
    for (const Parameter* p : params_) copies_.push_back(backend_.alloc(p->value.shape(), p->value.dtype()));
  for (std::size_t i = 0; i < params_.size(); ++i) backend_.copy(params_[i]->value, copies_[i]);
  best_ = score;
  best_epoch_ = epochs_;
  any_ = true;
  return true;
}

bool BestParameters::offer(double score) {
  ++epochs_;
  return keep(score);
}

void BestParameters::offer_start(double score) {
  if (epochs_ != 0) throw Error("BestParameters::offer_start after an epoch");
  keep(score);
}

void BestParameters::restore() {
  if (!any_ || best_epoch_ == epochs_) return;
  for (std::size_t i = 0; i < params_.size(); ++i) backend_.copy(copies_[i], params_[i]->value);
}

double run_epochs(Backend& backend, std::vector<Parameter*> params, int max_epochs, int patience,
                  const std::function<EpochLoss(int epoch)>& train_epoch,
                  const std::function<double()>& validate, const std::string& metric_name,
                  const Progress& progress, TrainInfo& info, std::optional<double> start_score) {
  using Clock = std::chrono::steady_clock;
  BestParameters best(backend, std::move(params));
  if (start_score) {
    best.offer_start(*start_score);
    EpochRecord r;  // epoch 0: the starting parameters, trained by no epoch of this run
    r.epochs = max_epochs;
    r.loss = std::numeric_limits<double>::quiet_NaN();
    r.metric = metric_name;
    r.value = *start_score;
    r.best = true;
    progress.epoch(r);
  }
  int epoch = 0;
  for (epoch = 1; epoch <= max_epochs; ++epoch) {
    const auto start = Clock::now();
    const EpochLoss l = train_epoch(epoch);
    if (!std::isfinite(l.loss))
      throw Error("training diverged at epoch " + std::to_string(epoch) +
                  " (the loss is not finite): lower --lr");
    const double value = validate();
    EpochRecord r;
    r.epoch = epoch;
    r.epochs = max_epochs;
    r.loss = l.loss;
    r.lr = l.lr;
    r.metric = metric_name;
    r.value = value;
    r.best = best.offer(value);
    r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    info.loss.push_back(static_cast<float>(l.loss));
    progress.epoch(r);
    if (patience > 0 && epoch - best.best_epoch() >= patience) break;
  }
  best.restore();
  info.epochs_run = std::min(epoch, max_epochs);
  info.best_epoch = best.best_epoch();
  return best.best_score();
}

}  // namespace edgerec::nn
