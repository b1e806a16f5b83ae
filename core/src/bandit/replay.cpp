// Off-policy evaluation by replay, with IPS and self-normalised IPS over the same run (see
// replay() in edgerec/bandit.hpp).
#include <string>

#include "edgerec/bandit.hpp"
#include "edgerec/error.hpp"

namespace edgerec {

ReplayResult replay(Policy& policy, const BanditLog& log, const BanditFeatures& features,
                    const ReplayOptions& options) {
  if (options.curve_every < 1) throw Error("replay: the curve interval must be at least 1");
  const Model& model = features.model();
  // The log's ids in the base model's index space (-1: unknown to the model).
  std::vector<std::int64_t> user_map(log.users.size()), item_map(log.items.size());
  for (index_t u = 0; u < log.users.size(); ++u) user_map[u] = model.users.find(log.users.id(u));
  for (index_t i = 0; i < log.items.size(); ++i) item_map[i] = model.items.find(log.items.id(i));

  ReplayResult r;
  r.policy = policy_name(policy.kind());
  BanditEvent e;
  double weighted = 0, weights = 0;
  for (const LoggedEvent& logged : log.events) {
    if (options.steps > 0 && r.kept >= options.steps) break;
    const std::int64_t user = user_map[logged.user];
    bool known = user >= 0 && item_map[logged.shown] >= 0;
    e.items.clear();
    for (const index_t c : logged.candidates) {
      known = known && item_map[c] >= 0;
      if (known) e.items.push_back(static_cast<index_t>(item_map[c]));
    }
    if (!known) {
      ++r.skipped;
      continue;
    }
    features.fill(static_cast<index_t>(user), e);
    const std::size_t pick = policy.choose(e);
    ++r.scanned;
    if (e.items[pick] != static_cast<index_t>(item_map[logged.shown])) continue;
    ++r.kept;
    r.reward += logged.reward;
    weighted += logged.reward / logged.propensity;
    weights += 1.0 / logged.propensity;
    policy.update(e, pick, logged.reward);
    if (r.kept % options.curve_every == 0) r.curve.push_back({r.kept, r.scanned, r.reward});
  }
  if (r.kept > 0 && (r.curve.empty() || r.curve.back().step != r.kept))
    r.curve.push_back({r.kept, r.scanned, r.reward});
  r.ctr = r.kept > 0 ? r.reward / static_cast<double>(r.kept) : 0.0;
  r.ips = r.scanned > 0 ? weighted / static_cast<double>(r.scanned) : 0.0;
  r.snips = weights > 0 ? weighted / weights : 0.0;
  return r;
}

}  // namespace edgerec
