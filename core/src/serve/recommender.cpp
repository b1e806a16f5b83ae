#include "edgerec/recommender.hpp"

#include <algorithm>
#include <cmath>

#include "edgerec/kernels.hpp"

namespace edgerec {

Recommender::Recommender(const Model& model) : model_(model), scores_(model.n_items()) {}

std::vector<ItemValue> Recommender::to_history(const std::vector<UserInteraction>& interactions,
                                               int* ignored, HistoryReport* report) const {
  std::vector<ItemValue> h;
  int unknown = 0;
  for (const auto& x : interactions) {
    const std::int64_t i = model_.items.find(x.item);
    if (i < 0) {
      ++unknown;
      continue;
    }
    if (!std::isfinite(x.value)) throw Error("interaction with item '" + x.item + "' has a non-finite value");
    h.push_back({static_cast<index_t>(i), x.value});
  }
  if (ignored) *ignored = unknown;
  return model_.prepare_history(h, report);
}

const std::uint8_t* Recommender::skip_mask(const std::vector<ItemValue>* seen,
                                           const RecommendOptions& o) {
  if (o.k < 0) throw Error("k must be >= 0");
  const bool any = !o.include.empty() || !o.exclude.empty() || (seen && !seen->empty());
  if (!any) return nullptr;
  skip_.assign(model_.n_items(), o.include.empty() ? 0 : 1);
  auto resolve = [&](const std::string& id) -> std::int64_t {
    const std::int64_t i = model_.items.find(id);
    if (i < 0 && !o.ignore_unknown_items) throw Error("unknown item id '" + id + "'");
    return i;
  };
  for (const auto& id : o.include)
    if (auto i = resolve(id); i >= 0) skip_[static_cast<std::size_t>(i)] = 0;
  for (const auto& id : o.exclude)
    if (auto i = resolve(id); i >= 0) skip_[static_cast<std::size_t>(i)] = 1;
  if (seen)
    for (const auto& h : *seen) skip_[h.item] = 1;
  return skip_.data();
}

std::vector<Recommendation> Recommender::to_recommendations(const std::vector<TopK>& top) const {
  std::vector<Recommendation> out;
  out.reserve(top.size());
  for (const auto& t : top) out.push_back({model_.items.id(t.item), t.score});
  return out;
}

float Recommender::served(float score) const {
  if (model_.predicts_ratings() && model_.rating_max > model_.rating_min)
    return std::clamp(score, model_.rating_min, model_.rating_max);
  return score;
}

std::vector<Recommendation> Recommender::to_served(const std::vector<TopK>& top) const {
  auto out = to_recommendations(top);
  for (auto& r : out) r.score = served(r.score);
  return out;
}

std::vector<Recommendation> Recommender::recommend(const std::string& user,
                                                   const RecommendOptions& o) {
  const index_t u = model_.users.at(user, "user");
  const auto seen = o.exclude_seen ? model_.history(u) : std::vector<ItemValue>{};
  const std::uint8_t* skip = skip_mask(&seen, o);
  return to_served(model_.top_k(u, o.k, skip, scores_.data()));
}

std::vector<std::vector<Recommendation>> Recommender::recommend_batch(
    const std::vector<std::string>& users, const RecommendOptions& o, Backend& backend) {
  std::vector<index_t> rows;
  rows.reserve(users.size());
  for (const auto& id : users) rows.push_back(model_.users.at(id, "user"));
  if (o.k < 0) throw Error("k must be >= 0");

  std::vector<std::vector<Recommendation>> out(users.size());
  const Embeddings* e = model_.embeddings();
  if (e && o.include.empty() && o.exclude.empty()) {
    // The backend's batch kernel ranks by U.V only; the per-user offset is added back after.
    Matrix U(static_cast<Eigen::Index>(rows.size()), e->U.cols());
    for (std::size_t r = 0; r < rows.size(); ++r) U.row(static_cast<Eigen::Index>(r)) = e->U.row(rows[r]);
    std::vector<std::vector<TopK>> top;
    backend.score_topk(U, rows, e->V, o.exclude_seen ? &model_.seen : nullptr, o.k, top);
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const float offset = e->user_offset[rows[r]];
      for (const auto& t : top[r]) out[r].push_back({model_.items.id(t.item), served(t.score + offset)});
    }
    return out;
  }
  const int chunks = std::max(1, backend.threads() * 4);
  backend.parallel_for(rows.size(), chunks, [&](std::size_t begin, std::size_t end, int) {
    Recommender local(model_);
    for (std::size_t r = begin; r < end; ++r) out[r] = local.recommend(users[r], o);
  });
  return out;
}

std::vector<Recommendation> Recommender::recommend_for(
    const std::vector<UserInteraction>& interactions, const RecommendOptions& o, int* ignored,
    ScoreExplanation* report) {
  HistoryReport hr;
  int unknown = 0;
  const auto h = to_history(interactions, &unknown, &hr);
  if (ignored) *ignored = unknown;
  if (report) {
    report->history = hr;
    report->unknown = unknown;
    report->popularity = h.empty();
  }
  const std::uint8_t* skip = skip_mask(o.exclude_seen ? &h : nullptr, o);
  return to_served(model_.top_k_new(h, o.k, skip, scores_.data()));
}

std::vector<Recommendation> Recommender::recommend_described(const std::vector<UserInteraction>& interactions,
                                                             const ItemMeta& users, std::int64_t row,
                                                             const RecommendOptions& o, int* ignored) {
  int unknown = 0;
  const auto h = to_history(interactions, &unknown, nullptr);
  if (ignored) *ignored = unknown;
  const Embeddings* emb = model_.embeddings();
  std::vector<float> u(emb ? static_cast<std::size_t>(emb->V.cols()) : 0);
  float offset = 0;
  if (!emb || !model_.fold_in_vector_described(h, users, row, u.data(), &offset))
    throw Error(std::string(kind_name(model_.kind())) +
                " model reads no user features (a two-tower model trained with --user-meta does)");
  const std::uint8_t* skip = skip_mask(o.exclude_seen ? &h : nullptr, o);
  kernels::score_all(u.data(), emb->V.data(), static_cast<std::size_t>(model_.n_items()), u.size(), offset,
                     scores_.data());
  return to_served(select_top_k(scores_.data(), model_.n_items(), o.k, skip));
}

std::vector<Recommendation> Recommender::similar(const std::string& item, int k) {
  const index_t i = model_.items.at(item, "item");
  model_.similar(i, scores_.data());
  RecommendOptions o;
  o.k = k;
  const std::vector<ItemValue> self{{i, 1.0f}};
  return to_recommendations(select_top_k(scores_.data(), model_.n_items(), k, skip_mask(&self, o)));
}

namespace {
// The explanation's fields from a split and the served recommendation.
ScoreExplanation to_explanation(const Model& model, const std::string& item, float score,
                                ScoreSplit split) {
  ScoreExplanation e;
  e.item = item;
  e.score = score;
  for (const auto& c : split.weights) e.weights.push_back({model.items.id(c.item), c.weight});
  e.others = split.others;
  e.rest = split.rest;
  e.residual = split.residual;
  e.exact = split.exact;
  e.note = std::move(split.note);
  return e;
}

// What recommend() serves for `item` alone: the same path, with only that item allowed.
RecommendOptions only(const std::string& item) {
  RecommendOptions o;
  o.k = 1;
  o.exclude_seen = false;
  o.include = {item};
  return o;
}

float served_score(const std::vector<Recommendation>& r, const std::string& item) {
  if (r.empty()) throw Error("explain: item '" + item + "' has no finite score for this user");
  return r.front().score;
}
}  // namespace

ScoreExplanation Recommender::explain(const std::string& user, const std::string& item, int k) {
  const index_t u = model_.users.at(user, "user");
  const index_t i = model_.items.at(item, "item");
  const float score = served_score(recommend(user, only(item)), item);
  return to_explanation(model_, item, score, split_score(model_, model_.history(u), i, u, score, k));
}

ScoreExplanation Recommender::explain_for(const std::vector<UserInteraction>& interactions,
                                          const std::string& item, int k) {
  const index_t i = model_.items.at(item, "item");
  HistoryReport hr;
  int unknown = 0;
  const auto h = to_history(interactions, &unknown, &hr);
  const float score = served_score(recommend_for(interactions, only(item)), item);
  ScoreExplanation e = to_explanation(model_, item, score, split_score(model_, h, i, -1, score, k));
  e.history = hr;
  e.unknown = unknown;
  e.popularity = h.empty();
  return e;
}

}  // namespace edgerec
