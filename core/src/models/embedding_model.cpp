#include "models/embedding_model.hpp"

#include <algorithm>
#include <cmath>

#include "edgerec/kernels.hpp"
#include "edgerec/split.hpp"

namespace edgerec {

void EmbeddingModel::score(index_t user, float* out) const {
  kernels::score_all(emb_.U.row(user).data(), emb_.V.data(), static_cast<std::size_t>(emb_.V.rows()),
                     static_cast<std::size_t>(emb_.V.cols()), emb_.user_offset[user], out);
}

void EmbeddingModel::score_new(const std::vector<ItemValue>& history, float* out) const {
  if (history.empty()) {
    popularity_scores(out);
    return;
  }
  RowVector u = RowVector::Zero(emb_.V.cols());
  float offset = 0.0f;
  checked_fold_in(history, u, offset);
  kernels::score_all(u.data(), emb_.V.data(), static_cast<std::size_t>(emb_.V.rows()),
                     static_cast<std::size_t>(emb_.V.cols()), offset, out);
}

void EmbeddingModel::checked_fold_in(const std::vector<ItemValue>& history, RowVector& u,
                                     float& offset) const {
  fold_in(history, u, offset);
  // Huge (finite) factors can overflow the solve; a NaN vector would rank nothing at all.
  if (!u.allFinite() || !std::isfinite(offset))
    throw Error(std::string("fold-in: the ") + kind_name(kind()) +
                " model gives this history a non-finite user vector (are its factors finite but "
                "huge?)");
}

void EmbeddingModel::params_changed() {
  const std::lock_guard<std::mutex> lock(index_mutex_);
  index_.reset();
}

const NormIndex& EmbeddingModel::item_index() const {
  const std::lock_guard<std::mutex> lock(index_mutex_);
  if (!index_) {
    const NormIndex::Sample sample = serving_sample();
    index_ = std::make_shared<const NormIndex>(emb_.V, NormIndex::Precision::f32, &sample);
  }
  return *index_;
}

NormIndex::Sample EmbeddingModel::serving_sample() const {
  // Sizes: enough queries for a stable mean (the choice has a wide margin), few enough that a
  // catalogue where the visit gives up pays at most a few dozen partial visits, once; fewer
  // new users, as each also costs a fold-in (the first query of a stripped model waits for it).
  constexpr std::size_t kUsers = 64, kNewUsers = 16, kHistory = 20;
  NormIndex::Sample s;
  const auto dim = static_cast<std::size_t>(emb_.V.cols());
  const std::size_t users = static_cast<std::size_t>(emb_.U.rows());
  if (users > 0) {
    // Evenly spread known users (user order is the data's first-seen order).
    const std::size_t m = std::min(kUsers, users);
    s.source = "known users";
    for (std::size_t j = 0; j < m; ++j) {
      const auto u = static_cast<index_t>(j * users / m);
      s.queries.insert(s.queries.end(), emb_.U.data() + u * dim, emb_.U.data() + (u + 1) * dim);
      s.offsets.push_back(emb_.user_offset[u]);
      if (u < seen.rows()) s.skip.insert(s.skip.end(), seen.row_indices(u), seen.row_indices(u) + seen.row_size(u));
      s.skip_end.push_back(s.skip.size());
    }
    return s;
  }
  // No users: new users are all this model serves, and their vectors come from fold-in. Their
  // histories are unknown, so they are drawn (seeded) by training popularity, as real users'
  // lean to popular items; values cycle through the upper half of the rating range (1 for
  // implicit data), as people mostly rate what they liked. A proxy, reported as such.
  s.source = "fold-ins of popularity-drawn histories";
  std::vector<double> cumulative(n_items());
  double total = 0;
  std::size_t popular = 0;
  for (index_t i = 0; i < n_items(); ++i) {
    const float p = i < item_popularity.size() ? item_popularity[i] : 0.0f;
    if (p > 0) ++popular;
    total += p > 0 ? static_cast<double>(p) : 0.0;
    cumulative[i] = total;
  }
  const std::size_t length = std::min(kHistory, popular);
  if (length == 0) return s;
  const bool rated = rating_max > rating_min;
  Rng rng(0x5eed1de7);
  RowVector u(static_cast<Eigen::Index>(dim));
  std::vector<ItemValue> h;
  for (std::size_t j = 0; j < kNewUsers; ++j) {
    h.clear();
    for (std::size_t tries = 0; h.size() < length && tries < 50 * length; ++tries) {
      const double r = rng.uniform() * total;
      const auto i = static_cast<index_t>(std::upper_bound(cumulative.begin(), cumulative.end(), r) - cumulative.begin());
      bool fresh = i < n_items();
      for (const auto& x : h) fresh = fresh && x.item != i;
      if (!fresh) continue;
      const float value = rated ? rating_max - static_cast<float>(h.size() % 3) * (rating_max - rating_min) / 4 : 1.0f;
      h.push_back({i, value});
    }
    float offset = 0.0f;
    u.setZero();
    fold_in(h, u, offset);  // valid items and values: only a broken model throws, as serving would
    bool finite = std::isfinite(offset) && static_cast<std::size_t>(u.size()) == dim;
    for (Eigen::Index d = 0; finite && d < u.size(); ++d) finite = std::isfinite(u[d]);
    if (!finite) continue;
    s.queries.insert(s.queries.end(), u.data(), u.data() + dim);
    s.offsets.push_back(offset);
  }
  return s;
}

std::vector<TopK> EmbeddingModel::top_k(index_t user, int k, const std::uint8_t* skip,
                                        float* scratch, NormIndex::Stats* stats) const {
  return item_index().top_k(emb_.V, emb_.U.row(user).data(), emb_.user_offset[user], k, skip,
                            scratch, stats);
}

std::vector<TopK> EmbeddingModel::top_k_new(const std::vector<ItemValue>& history, int k,
                                            const std::uint8_t* skip, float* scratch,
                                            NormIndex::Stats* stats) const {
  if (history.empty()) return Model::top_k_new(history, k, skip, scratch, stats);
  RowVector u = RowVector::Zero(emb_.V.cols());
  float offset = 0.0f;
  checked_fold_in(history, u, offset);
  return item_index().top_k(emb_.V, u.data(), offset, k, skip, scratch, stats);
}

bool EmbeddingModel::fold_in_vector(const std::vector<ItemValue>& history, float* u,
                                    float* offset) const {
  if (history.empty()) return false;
  RowVector v = RowVector::Zero(emb_.V.cols());
  float o = 0.0f;
  checked_fold_in(history, v, o);
  std::copy(v.data(), v.data() + v.size(), u);
  *offset = o;
  return true;
}

float EmbeddingModel::predict(index_t user, index_t item) const {
  float s = emb_.U.row(user).dot(emb_.V.row(item)) + emb_.user_offset[user];
  if (rating_max > rating_min) s = std::clamp(s, rating_min, rating_max);
  return s;
}

void EmbeddingModel::similar(index_t item, float* out) const {
  const int f = emb_.factor_dims;
  if (f == 0) throw Error(std::string(kind_name(kind())) + " models have no item space for similar items");
  auto q = emb_.V.row(item).head(f);
  const float qn = q.norm();
  for (Eigen::Index j = 0; j < emb_.V.rows(); ++j) {
    auto v = emb_.V.row(j).head(f);
    const float d = qn * v.norm();
    out[j] = d > 0 ? q.dot(v) / d : 0.0f;
  }
}

Attribution EmbeddingModel::explain(const std::vector<ItemValue>& history, index_t item,
                                   std::int64_t user) const {
  // The kinds without an own explain() score every user alike (popularity): no item of the
  // history moves the score, so all of it is base, exactly.
  Attribution a;
  if (item >= n_items()) throw Error("explain: item index out of range");
  for (const auto& h : history) a.weights.push_back({h.item, 0.0f});
  RowVector u = RowVector::Zero(emb_.V.cols());
  float offset = 0.0f;
  if (user >= 0) {
    u = emb_.U.row(static_cast<Eigen::Index>(user));
    offset = emb_.user_offset[static_cast<Eigen::Index>(user)];
  } else if (!history.empty()) {
    checked_fold_in(history, u, offset);
  }
  a.base = static_cast<double>(u.dot(emb_.V.row(item))) + offset;
  a.note = "the score ignores the user's items: all of it is rest";
  return a;
}

void EmbeddingModel::drop_users() {
  Model::drop_users();
  params_changed();  // the index's choice was made from the users' vectors
  emb_.U.resize(0, emb_.U.cols());
  emb_.user_offset.resize(0);
}

}  // namespace edgerec
