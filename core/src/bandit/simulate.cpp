// The logged-bandit simulator (see simulate_bandit_log in edgerec/bandit.hpp).
#include <algorithm>
#include <chrono>
#include <string>

#include "edgerec/bandit.hpp"
#include "edgerec/error.hpp"

namespace edgerec {

std::unique_ptr<Model> fit_hidden_preferences(const Interactions& data, std::uint64_t seed,
                                              Backend& backend, const Progress& progress) {
  if (!data.has_ratings)
    throw Error("simulate: " + data.source +
                " has no ratings; the hidden preferences are an svd model's predicted ratings");
  if (data.n_users() == 0 || data.n_items() == 0) throw Error("simulate: " + data.source + " has no interactions");
  auto hidden = make_model(ModelKind::svd);
  Hyper h;
  h.seed = seed;
  hidden->fit(data, h, backend, progress);
  return hidden;
}

SimulateResult simulate_bandit_log(const Interactions& data, const SimulateOptions& options,
                                   Backend& backend, const Progress& progress) {
  if (!data.has_ratings)
    throw Error("simulate: " + data.source +
                " has no ratings; the hidden preferences are an svd model's predicted ratings");
  if (options.candidates < 1) throw Error("--candidates must be at least 1");
  if (options.events < 1) throw Error("--events must be at least 1");
  if (data.n_users() == 0 || data.n_items() == 0) throw Error("simulate: " + data.source + " has no interactions");
  const auto start = std::chrono::steady_clock::now();

  const auto hidden = fit_hidden_preferences(data, options.seed, backend, progress);
  const float lo = hidden->rating_min, hi = hidden->rating_max;
  if (options.reward == RewardModel::bernoulli && !(hi > lo))
    throw Error("simulate: --reward bernoulli needs a rating range (all ratings in " + data.source + " are equal)");

  SimulateResult result;
  result.fit_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BanditLog& log = result.log;
  log.users = data.users;
  log.items = data.items;
  log.source = data.source;
  log.events.resize(options.events);

  const auto K = static_cast<std::size_t>(options.candidates);
  const index_t n_items = data.n_items();
  // Users with fewer than K unrated items cannot be given a candidate set.
  std::vector<index_t> eligible;
  for (index_t u = 0; u < data.n_users(); ++u)
    if (n_items - hidden->seen.row_size(u) >= K) eligible.push_back(u);
  result.excluded_users = data.n_users() - static_cast<index_t>(eligible.size());
  if (eligible.empty())
    throw Error("simulate: no user of " + data.source + " has " + std::to_string(K) +
                " unrated items (--candidates)");
  Rng rng(mix_seed(options.seed, 0x73696d756c617465ull /* "simulate" */));
  std::vector<std::uint8_t> taken(n_items, 0);
  std::vector<double> p(K);
  double clicks = 0, best = 0;
  const std::uint64_t report_every = std::max<std::uint64_t>(1, options.events / 100);
  for (std::uint64_t t = 0; t < options.events; ++t) {
    LoggedEvent& e = log.events[t];
    e.user = eligible[rng.below(eligible.size())];
    const index_t* seen = hidden->seen.row_indices(e.user);
    const std::size_t n_seen = hidden->seen.row_size(e.user);
    for (std::size_t j = 0; j < n_seen; ++j) taken[seen[j]] = 1;
    // K distinct unrated items, uniformly (rejection: the user has rated few items).
    e.candidates.clear();
    while (e.candidates.size() < K) {
      const auto item = static_cast<index_t>(rng.below(n_items));
      if (taken[item]) continue;
      taken[item] = 1;
      e.candidates.push_back(item);
    }
    for (std::size_t j = 0; j < n_seen; ++j) taken[seen[j]] = 0;
    for (const index_t item : e.candidates) taken[item] = 0;

    double best_here = 0;
    for (std::size_t c = 0; c < K; ++c) {
      const float r = hidden->predict(e.user, e.candidates[c]);
      p[c] = options.reward == RewardModel::threshold
                 ? (r >= options.threshold ? 1.0 : 0.0)
                 : std::clamp(static_cast<double>(r - lo) / static_cast<double>(hi - lo), 0.0, 1.0);
      best_here = std::max(best_here, p[c]);
    }
    const auto shown = static_cast<std::size_t>(rng.below(K));
    const double draw = rng.uniform();  // drawn in both reward models: one stream for both
    e.shown = e.candidates[shown];
    e.propensity = 1.0 / static_cast<double>(K);
    e.reward = options.reward == RewardModel::threshold ? p[shown] : (draw < p[shown] ? 1.0 : 0.0);
    clicks += e.reward;
    best += best_here;
    if ((t + 1) % report_every == 0)
      progress("simulate", static_cast<int>((t + 1) / report_every),
               static_cast<int>(options.events / report_every));
  }
  result.click_rate = clicks / static_cast<double>(options.events);
  result.best_click_rate = best / static_cast<double>(options.events);
  return result;
}

}  // namespace edgerec
