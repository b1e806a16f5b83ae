// Cold-start serving from item metadata (edgerec/item_meta.hpp): content scores blended with the
// model's collaborative scores over every metadata row.
#include <cmath>
#include <limits>

#include "edgerec/error.hpp"
#include "edgerec/item_meta.hpp"
#include "edgerec/kernels.hpp"
#include "edgerec/model.hpp"
#include "edgerec/topk.hpp"

namespace edgerec {

namespace {
const ItemMeta& meta_of(const Model& m) {
  if (!m.item_meta)
    throw Error("this model has no item metadata: train it with --item-meta FILE for content-based and cold-start serving");
  return *m.item_meta;
}

std::vector<Recommendation> to_recs(const ItemMeta& meta, const std::vector<TopK>& top) {
  std::vector<Recommendation> out;
  out.reserve(top.size());
  for (const auto& t : top) out.push_back({meta.ids.id(t.item), t.score});
  return out;
}
}  // namespace

ColdStart::ColdStart(const Model& model, const FeatureWeights& weights)
    : model_(model), meta_(meta_of(model)), features_(meta_, weights) {
  collab_.resize(model_.n_items());
  content_.resize(meta_.rows());
  blended_.resize(meta_.rows());
}

std::vector<std::uint8_t> ColdStart::filter_rows(std::string_view filter) const {
  std::vector<std::uint8_t> pass(meta_.rows(), 1);
  if (filter.empty()) return pass;
  const std::size_t eq = filter.find('=');
  if (eq == std::string_view::npos || eq == 0) throw Error("filter '" + std::string(filter) + "' is not field=value[|value...]");
  const std::string name(filter.substr(0, eq));
  const ItemMeta::Categorical* f = meta_.field(name);
  if (!f) {
    std::string known;
    for (const auto& c : meta_.categorical) known += (known.empty() ? "" : ", ") + c.name;
    throw Error("filter: no categorical field '" + name + "' (the model's: " + (known.empty() ? "none" : known) + ")");
  }
  std::vector<std::uint8_t> wanted(f->vocabulary.size(), 0);
  const std::string_view values = filter.substr(eq + 1);
  std::size_t s = 0;
  while (s <= values.size()) {
    std::size_t e = values.find('|', s);
    if (e == std::string_view::npos) e = values.size();
    const std::string_view v = values.substr(s, e - s);
    for (std::size_t c = 0; c < f->vocabulary.size(); ++c)
      if (f->vocabulary[c] == v) wanted[c] = 1;
    s = e + 1;
  }
  for (index_t r = 0; r < meta_.rows(); ++r) {
    std::uint8_t ok = 0;
    for (std::uint64_t k = f->offsets[r]; k < f->offsets[r + 1] && !ok; ++k) ok = wanted[f->codes[k]];
    pass[r] = ok;
  }
  return pass;
}

std::vector<Recommendation> ColdStart::rank(const std::vector<ItemValue>& collab_history, std::int64_t user,
                                            const std::vector<std::pair<index_t, float>>& rows,
                                            const ColdStartOptions& o) {
  if (user >= 0) model_.score(static_cast<index_t>(user), collab_.data());
  else model_.score_new(collab_history, collab_.data());
  // A model that embeds items from their metadata (two-tower) scores the cold rows itself, in
  // the same space as its other items: its scores rank every row, no content blend needed. A new
  // user with no item the model knows has no user vector: the content blend below serves them.
  const Matrix* cold = model_.cold_item_factors();
  const Embeddings* emb = model_.embeddings();
  bool own = false;
  if (cold && emb) {
    std::vector<float> u(static_cast<std::size_t>(emb->V.cols()));
    float offset = 0.0f;
    if (user >= 0 && static_cast<index_t>(user) < static_cast<index_t>(emb->U.rows())) {
      std::copy(emb->U.row(user).data(), emb->U.row(user).data() + emb->V.cols(), u.data());
      offset = emb->user_offset[user];
      own = true;
    } else if (user < 0) {
      own = model_.fold_in_vector(collab_history, u.data(), &offset);
    }
    if (own) {
      std::copy(collab_.begin(), collab_.end(), blended_.begin());
      kernels::score_all(u.data(), cold->data(), static_cast<std::size_t>(cold->rows()),
                         static_cast<std::size_t>(cold->cols()), offset, blended_.data() + model_.n_items());
    }
  }
  if (!own) {
    const std::vector<float> profile = features_.profile(rows);
    features_.cosine(profile.data(), content_.data());
    blend_scores(collab_.data(), model_.n_items(), content_.data(), meta_.rows(), model_.item_popularity, o.blend,
                 blended_.data());
  }
  std::vector<std::uint8_t> skip = filter_rows(o.filter);
  for (auto& x : skip) x = !x;
  if (o.exclude_seen)
    for (const auto& [r, w] : rows) skip[r] = 1;
  return to_recs(meta_, select_top_k(blended_.data(), meta_.rows(), o.k, skip.data()));
}

std::vector<Recommendation> ColdStart::recommend(const std::string& user, const ColdStartOptions& o) {
  const index_t u = model_.users.at(user, "user");
  std::vector<std::pair<index_t, float>> rows;
  for (const auto& iv : model_.history(u)) rows.push_back({iv.item, iv.value});
  return rank({}, u, rows, o);
}

std::vector<Recommendation> ColdStart::recommend_for(const std::vector<UserInteraction>& history,
                                                     const ColdStartOptions& o, int* ignored) {
  std::vector<ItemValue> known;
  std::vector<std::pair<index_t, float>> rows;
  int unknown = 0;
  for (const auto& x : history) {
    const std::int64_t r = meta_.find(x.item);
    if (r < 0) {
      ++unknown;
      continue;
    }
    rows.push_back({static_cast<index_t>(r), x.value});
    if (r < model_.n_items()) known.push_back({static_cast<index_t>(r), x.value});
  }
  if (ignored) *ignored = unknown;
  return rank(model_.prepare_history(known), -1, rows, o);
}

// content_[x] := the cosine between q (the model's item space) and every metadata row's vector
// there: model items their embeddings()->V rows, cold rows their cold_item_factors() rows.
void ColdStart::item_space_cosine(const float* q) {
  const Matrix& V = model_.embeddings()->V;
  const Matrix* cold = model_.cold_item_factors();
  const Eigen::Map<const Eigen::Matrix<float, 1, Eigen::Dynamic>> qv(q, V.cols());
  const float qn = qv.norm();
  for (index_t x = 0; x < meta_.rows(); ++x) {
    float dot = 0, norm = 0;
    if (x < model_.n_items()) dot = qv.dot(V.row(x)), norm = V.row(x).norm();
    else if (cold) {
      const auto v = cold->row(static_cast<Eigen::Index>(x - model_.n_items()));
      dot = qv.dot(v), norm = v.norm();
    }
    const float d = qn * norm;
    content_[x] = d > 0 ? dot / d : 0.0f;
  }
}

std::vector<Recommendation> ColdStart::similar(const std::string& item, int k, bool content_only, bool* by_model) {
  if (by_model) *by_model = false;
  const std::int64_t r = meta_.find(item);
  if (r < 0) throw Error("unknown item id '" + item + "' (not in the model nor in its item metadata)");
  const Matrix* cold = model_.cold_item_factors();
  const Embeddings* emb = model_.embeddings();
  if (cold && emb && !content_only) {
    // Two-tower: cosine in the model's item space, where cold rows have their item tower vectors.
    using Row = Eigen::Matrix<float, 1, Eigen::Dynamic>;
    const Row q = r < model_.n_items() ? Row(emb->V.row(r)) : Row(cold->row(static_cast<Eigen::Index>(r - model_.n_items())));
    item_space_cosine(q.data());
    if (by_model) *by_model = true;
  } else {
    const float* q = features_.matrix().row(static_cast<Eigen::Index>(r)).data();
    features_.cosine(q, content_.data());
  }
  std::vector<std::uint8_t> skip(meta_.rows(), 0);
  skip[static_cast<std::size_t>(r)] = 1;
  return to_recs(meta_, select_top_k(content_.data(), meta_.rows(), k, skip.data()));
}

std::vector<Recommendation> ColdStart::similar_to(std::string_view description, int k, bool content_only,
                                                  bool* by_model) {
  if (by_model) *by_model = false;
  if (const Embeddings* emb = model_.embeddings(); emb && !content_only) {
    std::vector<float> q(static_cast<std::size_t>(emb->V.cols()));
    if (model_.item_vector_described(description, q.data())) {
      // Two-tower: the item tower embeds the description as it embeds a cold row.
      item_space_cosine(q.data());
      if (by_model) *by_model = true;
      return to_recs(meta_, select_top_k(content_.data(), meta_.rows(), k));
    }
  }
  const std::vector<float> q = features_.describe(description);
  features_.cosine(q.data(), content_.data());
  return to_recs(meta_, select_top_k(content_.data(), meta_.rows(), k));
}

}  // namespace edgerec
