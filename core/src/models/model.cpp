#include "edgerec/model.hpp"

#include <algorithm>
#include <chrono>
#include <string>
#include <tuple>
#include <cmath>

#include "models/factories.hpp"
#include "serve_only.hpp"

namespace edgerec {
namespace {

struct KindEntry {
  ModelKind kind;
  const char* name;
  std::unique_ptr<Model> (*make)();
};

// The one table of model kinds: name, file number, factory.
const KindEntry kKinds[] = {
    {ModelKind::popularity, "popularity", make_popularity},
    {ModelKind::mean_baseline, "mean-baseline", make_mean_baseline},
    {ModelKind::baseline, "baseline", make_baseline},
    {ModelKind::svd, "svd", make_svd},
    {ModelKind::svdpp, "svdpp", make_svdpp},
    {ModelKind::ials, "ials", make_ials},
    {ModelKind::bpr, "bpr", make_bpr},
    {ModelKind::itemknn, "itemknn", make_itemknn},
    {ModelKind::neumf, "neumf", make_neumf},
    {ModelKind::gru4rec, "gru4rec", make_gru4rec},
    {ModelKind::lstm, "lstm", make_lstm},
    {ModelKind::sasrec, "sasrec", make_sasrec},
    {ModelKind::two_tower, "two-tower", make_two_tower},
};

}  // namespace

const char* kind_name(ModelKind kind) {
  for (const auto& e : kKinds)
    if (e.kind == kind) return e.name;
  return "unknown";
}

ModelKind parse_kind(std::string_view name) {
  std::string valid;
  for (const auto& e : kKinds) {
    if (name == e.name) return e.kind;
    valid += valid.empty() ? "" : ", ";
    valid += e.name;
  }
  throw Error("unknown model '" + std::string(name) + "' (valid: " + valid + ")");
}

bool kind_is_valid(std::uint32_t value) {
  for (const auto& e : kKinds)
    if (static_cast<std::uint32_t>(e.kind) == value) return true;
  return false;
}

const std::vector<ModelKind>& all_kinds() {
  static const std::vector<ModelKind> kinds = [] {
    std::vector<ModelKind> v;
    for (const auto& e : kKinds) v.push_back(e.kind);
    return v;
  }();
  return kinds;
}

std::unique_ptr<Model> make_model(ModelKind kind) {
  for (const auto& e : kKinds)
    if (e.kind == kind) return e.make();
  throw Error("unknown model kind " + std::to_string(static_cast<std::uint32_t>(kind)));
}

Hyper Hyper::merged_over(const Hyper& d) const {
  Hyper h = *this;
  if (!h.factors) h.factors = d.factors;
  if (!h.epochs) h.epochs = d.epochs;
  if (!h.lr) h.lr = d.lr;
  if (!h.reg) h.reg = d.reg;
  if (!h.bias_reg) h.bias_reg = d.bias_reg;
  if (!h.alpha) h.alpha = d.alpha;
  if (!h.init_std) h.init_std = d.init_std;
  if (!h.neighbors) h.neighbors = d.neighbors;
  if (!h.cg_steps) h.cg_steps = d.cg_steps;
  if (!h.batch) h.batch = d.batch;
  if (!h.dropout) h.dropout = d.dropout;
  if (!h.max_len) h.max_len = d.max_len;
  if (!h.layers) h.layers = d.layers;
  if (!h.heads) h.heads = d.heads;
  if (!h.train_negatives) h.train_negatives = d.train_negatives;
  if (!h.patience) h.patience = d.patience;
  if (!h.val_negatives) h.val_negatives = d.val_negatives;
  if (!h.pretrain) h.pretrain = d.pretrain;
  if (!h.refit) h.refit = d.refit;
  if (!h.recent) h.recent = d.recent;
  if (!h.lr_schedule) h.lr_schedule = d.lr_schedule;
  if (!h.warmup) h.warmup = d.warmup;
  return h;
}

void Model::fit(const Interactions& train, const Hyper& h, Backend& backend,
                const Progress& progress) {
  EDGEREC_TRAINING_ONLY("training");
  if (h.factors && (*h.factors < 1 || *h.factors > 4096)) throw Error("--factors must be in 1..4096");
  if (h.epochs && (*h.epochs < 0 || *h.epochs > 100000)) throw Error("--epochs must be in 0..100000");
  if (h.neighbors && *h.neighbors < 1) throw Error("--neighbors must be at least 1");
  for (auto [v, name, lo, hi] :
       {std::tuple{h.batch, "--batch", 1, 1 << 20}, {h.max_len, "--max-len", 1, 4096},
        {h.layers, "--layers", 0, 64}, {h.heads, "--heads", 1, 64},
        {h.train_negatives, "--train-negatives", 0, 1 << 20}, {h.patience, "--patience", 0, 100000},
        {h.val_negatives, "--val-negatives", 0, 1 << 20}, {h.pretrain, "--pretrain", 0, 100000},
        {h.refit, "--refit", 0, 1}, {h.recent, "--recent", 0, 1 << 20},
        {h.lr_schedule, "--lr-schedule", 0, 2}, {h.warmup, "--warmup", 0, 1 << 30}})
    if (v && (*v < lo || *v > hi))
      throw Error(std::string(name) + " must be in " + std::to_string(lo) + ".." + std::to_string(hi) +
                  " (got " + std::to_string(*v) + ")");
  if (h.dropout && !(*h.dropout >= 0.0f && *h.dropout < 1.0f))
    throw Error("--dropout must be in [0, 1)");
  for (auto [v, name] : {std::pair{h.lr, "--lr"}, {h.reg, "--reg"}, {h.bias_reg, "--bias-reg"},
                         {h.alpha, "--alpha"}, {h.init_std, "--init-std"}})
    if (v && (!std::isfinite(*v) || *v < 0)) throw Error(std::string(name) + " must be a finite number >= 0");
  if (train.rows.empty()) throw Error("cannot train on an empty data set");
  if (user_meta && !reads_user_meta())
    throw Error(std::string(kind_name(kind())) + " does not read user features (--user-meta): only two-tower's user tower does");

  const auto start = std::chrono::steady_clock::now();
  hyper = h.merged_over(default_hyper(kind()));
  users = train.users;
  items = train.items;
  seen = Csr::by_user(train);
  sequences.reset();
  if (needs_sequences()) sequences = Sequences::by_user(train);
  item_popularity.assign(train.n_items(), 0.0f);
  rating_min = rating_max = 0.0f;
  if (train.has_ratings) {
    rating_min = rating_max = train.rows.front().value;
    for (const auto& r : train.rows) {
      rating_min = std::min(rating_min, r.value);
      rating_max = std::max(rating_max, r.value);
    }
  }
  for (const auto& r : train.rows) item_popularity[r.item] += 1.0f;
  info = TrainInfo{};
  info.train_rows = train.rows.size();
  info.source = train.source;
  info.threads = backend.threads();
  fit_impl(train, backend, progress);
  // Kinds that do not stop early run every epoch they were given.
  if (info.epochs_run == 0 && hyper.epochs) info.epochs_run = *hyper.epochs;
  params_changed();
  info.fit_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<TopK> Model::top_k(index_t user, int k, const std::uint8_t* skip, float* scratch,
                               NormIndex::Stats* stats) const {
  score(user, scratch);
  if (stats) *stats = {n_items(), true};
  return select_top_k(scratch, n_items(), k, skip);
}

std::vector<TopK> Model::top_k_new(const std::vector<ItemValue>& history, int k,
                                   const std::uint8_t* skip, float* scratch,
                                   NormIndex::Stats* stats) const {
  score_new(history, scratch);
  if (stats) *stats = {n_items(), true};
  return select_top_k(scratch, n_items(), k, skip);
}

void Model::score_items(index_t user, const index_t* items, std::size_t n, float* out) const {
  std::vector<float> s(n_items());
  score(user, s.data());
  for (std::size_t j = 0; j < n; ++j) out[j] = s[items[j]];
}

float Model::predict(index_t user, index_t item) const {
  std::vector<float> s(n_items());
  score(user, s.data());
  return s[item];
}

std::vector<ItemValue> Model::prepare_history(const std::vector<ItemValue>& history,
                                              HistoryReport* report) const {
  HistoryReport r;
  r.given = history.size();
  // Newest first: the first time an item is met is its last (current) value.
  std::vector<std::uint8_t> met(n_items(), 0);
  std::vector<ItemValue> kept;
  for (std::size_t j = history.size(); j-- > 0;) {
    const ItemValue& h = history[j];
    if (h.item >= n_items())
      throw Error("fold-in: item index " + std::to_string(h.item) + " is out of range (" +
                  std::to_string(n_items()) + " items)");
    if (met[h.item]) {
      ++r.duplicates;
      continue;
    }
    met[h.item] = 1;
    if (kept.size() == kMaxFoldInHistory) {
      ++r.dropped;
      continue;
    }
    ItemValue v = h;
    if (predicts_ratings() && rating_max > rating_min && std::isfinite(v.value)) {
      const float c = std::clamp(v.value, rating_min, rating_max);
      if (c != v.value) ++r.clamped;
      v.value = c;
    }
    kept.push_back(v);
  }
  std::reverse(kept.begin(), kept.end());
  r.used = kept.size();
  if (report) *report = r;
  return kept;
}

void Model::similar(index_t, float*) const {
  throw Error(std::string(kind_name(kind())) + " models have no item space for similar items");
}

void Model::drop_users() {
  users = IdMap{};
  seen = Csr{};
  seen.cols = n_items();
  if (sequences) sequences = Sequences{};
  // The training users' features are per-user data too (rows aligned to the dropped users).
  user_meta.reset();
}

std::vector<ItemValue> Model::history(index_t user) const {
  std::vector<ItemValue> h;
  if (user >= seen.rows()) return h;
  const std::size_t n = seen.row_size(user);
  h.reserve(n);
  for (std::size_t j = 0; j < n; ++j) h.push_back({seen.row_indices(user)[j], seen.row_values(user)[j]});
  return h;
}

void Model::popularity_scores(float* out) const {
  // log1p keeps scores on a readable scale; the order is the popularity order.
  for (index_t i = 0; i < n_items(); ++i) out[i] = std::log1p(item_popularity[i]);
}

}  // namespace edgerec

namespace edgerec {
Hyper default_hyper(ModelKind kind) { return make_model(kind)->defaults(); }
}  // namespace edgerec
