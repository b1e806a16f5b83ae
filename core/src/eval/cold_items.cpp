// Item cold-start evaluation (edgerec/eval.hpp, evaluate_cold_items): a seeded share of the items
// loses all its interactions to the test part; the model trains on the rest (with the item
// metadata, where the kind reads it) and ranks the held-out items, which it has never seen.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "edgerec/eval.hpp"
#include "edgerec/metrics.hpp"
#include "edgerec/split.hpp"
#include "eval/fit.hpp"

namespace edgerec {
namespace {

constexpr std::uint64_t kColdTestStream = 0xC01D7E57;
constexpr std::uint64_t kColdValidationStream = 0xC01D5A11;

// round(fraction * n) of `pool`, drawn by a seeded Fisher-Yates shuffle; at least 1 and at most
// n - 1, so both sides have items.
std::vector<index_t> draw_items(std::vector<index_t> pool, double fraction, std::uint64_t seed) {
  const std::size_t n = pool.size();
  if (n < 2) throw Error("--cold-items: need at least 2 items with interactions to hold some out");
  auto m = static_cast<std::size_t>(std::llround(fraction * static_cast<double>(n)));
  m = std::clamp<std::size_t>(m, 1, n - 1);
  Rng rng(seed);
  shuffle_prefix(pool, m, rng);
  pool.resize(m);
  std::sort(pool.begin(), pool.end());
  return pool;
}

// Mann-Whitney AUC of `pos` against `neg` scores, ties counting one half (so a model that gives
// every candidate the same score gets exactly 0.5). NaN scores count as -infinity.
double auc_with_ties(std::vector<float> pos, std::vector<float> neg) {
  const auto clean = [](std::vector<float>& v) {
    for (auto& x : v)
      if (std::isnan(x)) x = -std::numeric_limits<float>::infinity();
    std::sort(v.begin(), v.end());
  };
  clean(pos);
  clean(neg);
  double wins = 0;
  for (const float p : pos) {
    const auto lo = std::lower_bound(neg.begin(), neg.end(), p);
    const auto hi = std::upper_bound(lo, neg.end(), p);
    wins += static_cast<double>(lo - neg.begin()) + 0.5 * static_cast<double>(hi - lo);
  }
  return wins / (static_cast<double>(pos.size()) * static_cast<double>(neg.size()));
}

}  // namespace

EvalResult evaluate_cold_items(const Interactions& data, ModelKind kind, const Hyper& hyper,
                               const EvalOptions& options, Backend& backend, const Progress& progress) {
  const double fraction = options.cold_items;
  if (!(fraction > 0.0 && fraction < 1.0))
    throw Error("--cold-items: the fraction of items to hold out must be strictly between 0 and 1 (got " +
                std::to_string(fraction) + ")");
  if (options.k < 1) throw Error("--k must be at least 1");
  if (data.rows.empty()) throw Error("--cold-items: no interactions in " + data.source);
  // Items with interactions (the id map may list more).
  std::vector<std::uint8_t> has_rows(data.n_items(), 0);
  for (const auto& r : data.rows) has_rows[r.item] = 1;
  std::vector<index_t> pool;
  for (index_t i = 0; i < data.n_items(); ++i)
    if (has_rows[i]) pool.push_back(i);
  // The test items; with cold_validation, the measured items are drawn from the others instead
  // and the test items' interactions are left out altogether (never trained on, never scored).
  std::vector<std::uint8_t> dropped(data.n_items(), 0), cold(data.n_items(), 0);
  const std::vector<index_t> test_items = draw_items(pool, fraction, mix_seed(options.seed, kColdTestStream));
  std::vector<index_t> measured = test_items;
  if (options.cold_validation) {
    for (const index_t i : test_items) dropped[i] = 1;
    std::vector<index_t> rest;
    for (const index_t i : pool)
      if (!dropped[i]) rest.push_back(i);
    measured = draw_items(rest, fraction, mix_seed(options.seed, kColdValidationStream));
  }
  for (const index_t i : measured) cold[i] = 1;

  // The training part in its own index space: the model must not even know the cold items' ids.
  Interactions train;
  train.has_ratings = data.has_ratings;
  train.has_time = data.has_time;
  train.file_order = data.file_order;
  train.source = data.source;
  std::vector<std::pair<index_t, index_t>> held;  // (data user, data item) of the cold items
  for (const auto& r : data.rows) {
    if (dropped[r.item]) continue;
    if (cold[r.item]) {
      held.emplace_back(r.user, r.item);
      continue;
    }
    Interaction x = r;
    x.user = train.users.add(data.users.id(r.user));
    x.item = train.items.add(data.items.id(r.item));
    train.rows.push_back(x);
  }
  if (train.rows.empty()) throw Error("--cold-items: nothing left to train on");

  const auto start = std::chrono::steady_clock::now();
  // The metadata against the training items: the cold items become its cold rows.
  auto model = detail::fit_for_eval(kind, train, hyper, options, backend, progress);
  const double fit_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto eval_start = std::chrono::steady_clock::now();

  // Each cold item's vector (a row of the model's cold item factors), or none.
  const Matrix* cold_v = model->cold_item_factors();
  const Embeddings* emb = model->embeddings();
  std::vector<std::int64_t> cold_row(measured.size(), -1);
  if (cold_v && emb && model->item_meta)
    for (std::size_t c = 0; c < measured.size(); ++c) {
      const std::int64_t r = model->item_meta->find(data.items.id(measured[c]));
      if (r >= static_cast<std::int64_t>(model->n_items())) cold_row[c] = r - static_cast<std::int64_t>(model->n_items());
    }
  std::vector<std::int64_t> local(data.n_items(), -1);  // data item -> index in `measured`
  for (std::size_t c = 0; c < measured.size(); ++c) local[measured[c]] = static_cast<std::int64_t>(c);

  // Per data user: the held-out cold items (positives).
  std::vector<std::vector<index_t>> pos(data.n_users());
  for (const auto& [u, i] : held) pos[u].push_back(static_cast<index_t>(local[i]));
  RankingAccumulator acc(options.k, "cold_");
  double auc_sum = 0;
  std::size_t users = 0, users_unknown = 0;
  std::vector<float> scores(measured.size());
  for (index_t du = 0; du < data.n_users(); ++du) {
    auto& p = pos[du];
    if (p.empty()) continue;
    std::sort(p.begin(), p.end());
    p.erase(std::unique(p.begin(), p.end()), p.end());
    if (p.size() == measured.size()) continue;  // no cold item the user did not interact with
    const std::int64_t u = model->users.find(data.users.id(du));
    if (u < 0) {
      ++users_unknown;  // every interaction of the user was with a cold item: no known user to rank for
      continue;
    }
    for (std::size_t c = 0; c < measured.size(); ++c) {
      float s = 0.0f;  // a model that cannot score a cold item gives them all the same score
      if (cold_row[c] >= 0)
        s = emb->U.row(static_cast<Eigen::Index>(u)).dot(cold_v->row(static_cast<Eigen::Index>(cold_row[c]))) +
            emb->user_offset[static_cast<Eigen::Index>(u)];
      scores[c] = s;
    }
    std::vector<float> ps, ns;
    std::vector<std::uint8_t> is_pos(measured.size(), 0);
    for (const index_t c : p) is_pos[c] = 1;
    for (std::size_t c = 0; c < measured.size(); ++c) (is_pos[c] ? ps : ns).push_back(scores[c]);
    auc_sum += auc_with_ties(ps, ns);
    std::size_t candidates = 0;
    const auto ranks = rank_relevant(scores.data(), static_cast<index_t>(measured.size()), p, nullptr, &candidates);
    acc.add_ranks(ranks, candidates);
    ++users;
  }
  if (users == 0) throw Error("--cold-items: no user has a held-out cold item to rank (too few items or interactions)");
  EvalResult r;
  const auto means = acc.means();
  for (const char* key : {"hr", "ndcg", "recall"}) {
    const std::string name = std::string("cold_") + key + "@" + std::to_string(options.k);
    r.metrics[options.cold_validation ? "val_" + name : name] = means.at(name);
  }
  r.metrics[options.cold_validation ? "val_cold_auc" : "cold_auc"] = auc_sum / static_cast<double>(users);
  r.metrics["cold_items"] = static_cast<double>(measured.size());
  r.metrics["cold_users"] = static_cast<double>(users);
  r.metrics["cold_users_unknown"] = static_cast<double>(users_unknown);
  r.metrics["cold_items_scored"] = static_cast<double>(std::count_if(cold_row.begin(), cold_row.end(), [](std::int64_t x) { return x >= 0; }));
  r.fit_seconds = fit_seconds;
  r.eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - eval_start).count();
  r.epochs_run = model->info.epochs_run;
  r.best_epoch = model->info.best_epoch;
  r.train_rows = train.rows.size();
  r.test_rows = held.size();
  if (progress) progress("evaluate", 1, 1);
  return r;
}

}  // namespace edgerec
