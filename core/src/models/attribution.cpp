// split_score() (edgerec/recommender.hpp): a model's Attribution measured against the served
// score. It lives with the models rather than in serve/, which the wasm build compiles for
// speed: explanations are cold, and this keeps their bytes under the size bar (-Oz).
#include <algorithm>
#include <cmath>

#include "edgerec/recommender.hpp"
#include "models/attribution.hpp"

namespace edgerec {

ScoreSplit split_score(const Model& model, const std::vector<ItemValue>& history, index_t item,
                       std::int64_t user, float score, int k) {
  ScoreSplit out;
  if (history.empty() && user < 0) {
    out.rest = score;
    out.note = "no known item: the item's popularity score";
    return out;
  }
  Attribution a = model.explain(history, item, user);
  double sum = 0;
  for (const auto& c : a.weights) sum += c.weight;
  out.rest = double(score) - sum;
  out.residual = out.rest - a.base;
  out.exact = a.exact;
  out.note = std::move(a.note);
  if (out.exact && std::abs(out.residual) > 1e-4 * std::max(1.0, std::abs(double(score)))) {
    out.exact = false;
    // Stored parameters off the closed form (a baseline fitted for 0 epochs), or a served
    // score clipped to the rating range.
    out.note += " (but the served score differs from it by the residual)";
  }
  std::stable_sort(a.weights.begin(), a.weights.end(),
                   [](const Contribution& x, const Contribution& y) { return x.weight > y.weight; });
  if (k >= 0 && a.weights.size() > static_cast<std::size_t>(k)) {
    for (std::size_t j = static_cast<std::size_t>(k); j < a.weights.size(); ++j) out.others += a.weights[j].weight;
    a.weights.resize(static_cast<std::size_t>(k));
  }
  out.weights = std::move(a.weights);
  return out;
}

Attribution split_by_similarity(const Model& model, const std::vector<ItemValue>& history, index_t item, float score,
                                const char* note) {
  Attribution a;
  a.exact = false;
  a.note = note;
  if (history.empty()) {
    a.base = score;
    return a;
  }
  std::vector<float> sim(model.n_items());
  model.similar(item, sim.data());
  double total = 0;
  for (const auto& h : history) {
    if (h.item >= model.n_items()) throw Error("explain: item index out of range");
    total += std::max(0.0f, sim[h.item]);
  }
  for (const auto& h : history) {
    const double share = total > 0 ? std::max(0.0f, sim[h.item]) / total : 0.0;
    a.weights.push_back({h.item, static_cast<float>(share * score)});
  }
  return a;
}

}  // namespace edgerec
