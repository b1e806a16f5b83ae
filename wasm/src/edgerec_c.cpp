// The C ABI (see wasm/include/edgerec_c.h): index-based calls over edgerec::Model, with every
// C++ exception caught here and kept as the handle's message.
#include "edgerec_c.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "edgerec/edgerec.hpp"

struct edgerec_model {
  std::unique_ptr<edgerec::Model> model;
  int32_t status = EDGEREC_OK;
  std::string error;
  std::string text;  // last string result (info JSON)
  std::vector<float> scores;
  std::vector<std::uint8_t> skip;
  std::vector<uint32_t> include, exclude;
  std::vector<uint32_t> result_items;
  std::vector<float> result_scores;
  // The int8 copy of V (edgerec_model_quantize): rows padded to `q_stride` columns.
  std::vector<std::int8_t> q_items;
  std::vector<float> q_scale;
  std::vector<std::int16_t> q_user;
  std::vector<float> user;  // a folded-in user vector
  std::size_t q_stride = 0;
};

namespace {

using edgerec::index_t;

template <class F>
int32_t guarded(edgerec_model* h, F&& body) {
  if (!h) return EDGEREC_ERROR;
  h->error.clear();
  h->result_items.clear();
  h->result_scores.clear();
  try {
    if (!h->model) throw edgerec::Error("no model loaded");
    body(*h->model);
    h->status = EDGEREC_OK;
  } catch (const std::bad_alloc&) {
    h->error = "out of memory";
    h->status = EDGEREC_ERROR;
  } catch (const std::exception& e) {
    h->error = e.what();
    h->status = EDGEREC_ERROR;
  }
  if (h->status != EDGEREC_OK) {
    h->result_items.clear();
    h->result_scores.clear();
  }
  return h->status;
}

void check_k(int32_t k) {
  if (k < 0) throw edgerec::Error("k must be >= 0");
}

void check_item(const edgerec::Model& m, uint32_t item) {
  if (item >= m.n_items())
    throw edgerec::Error("item index " + std::to_string(item) + " is out of range (" +
                         std::to_string(m.n_items()) + " items)");
}

std::vector<edgerec::ItemValue> to_history(const edgerec::Model& m, const uint32_t* items,
                                           const float* values, uint32_t n) {
  if (n && !items) throw edgerec::Error("null interaction items");
  std::vector<edgerec::ItemValue> h;
  h.reserve(n);
  for (uint32_t j = 0; j < n; ++j) {
    check_item(m, items[j]);
    const float v = values ? values[j] : 1.0f;
    if (!std::isfinite(v))
      throw edgerec::Error("interaction with item '" + m.items.id(items[j]) + "' has a non-finite value");
    h.push_back({items[j], v});
  }
  return h;
}

// The skip mask for the pending filters, `seen` and `self`, or nullptr when nothing is skipped.
// Consumes the filters.
const std::vector<std::uint8_t>* build_skip(edgerec_model* h, const std::vector<edgerec::ItemValue>* seen,
                                            int32_t self) {
  const index_t n = h->model->n_items();
  const bool filter = !h->include.empty() || !h->exclude.empty() || (seen && !seen->empty()) || self >= 0;
  if (filter) {
    h->skip.assign(n, h->include.empty() ? 0 : 1);
    for (uint32_t i : h->include)
      if (i < n) h->skip[i] = 0;
    for (uint32_t i : h->exclude)
      if (i < n) h->skip[i] = 1;
    if (seen)
      for (const auto& s : *seen) h->skip[s.item] = 1;
    if (self >= 0) h->skip[static_cast<std::size_t>(self)] = 1;
  }
  h->include.clear();
  h->exclude.clear();
  return filter ? &h->skip : nullptr;
}

inline bool better(const edgerec::TopK& a, const edgerec::TopK& b) {
  return a.score > b.score || (a.score == b.score && a.item < b.item);
}

// The same selection as edgerec::select_top_k() (score descending, index ascending, NaN and
// skipped items never returned), faster on a full catalogue: once k items are kept, the scan
// for the next item that beats the k-th best runs in the SIMD kernel next_above(). An equal
// score never displaces a kept item, since every kept item has a lower index.
std::vector<edgerec::TopK> top_k(const float* scores, index_t n, int k,
                                 const std::vector<std::uint8_t>* skip) {
  std::vector<edgerec::TopK> heap;
  if (k <= 0) return heap;
  const std::size_t cap = static_cast<std::size_t>(k);
  heap.reserve(std::min<std::size_t>(cap, n) + 1);
  std::size_t i = 0;
  for (; i < n && heap.size() < cap; ++i) {
    if (std::isnan(scores[i]) || (skip && (*skip)[i])) continue;
    heap.push_back({static_cast<index_t>(i), scores[i]});
    std::push_heap(heap.begin(), heap.end(), better);
  }
  if (heap.size() == cap) {
    while ((i = edgerec::kernels::next_above(scores, i, n, heap.front().score)) < n) {
      if (!skip || !(*skip)[i]) {
        std::pop_heap(heap.begin(), heap.end(), better);
        heap.back() = {static_cast<index_t>(i), scores[i]};
        std::push_heap(heap.begin(), heap.end(), better);
      }
      ++i;
    }
  }
  std::sort(heap.begin(), heap.end(), better);
  return heap;
}

void push_results(edgerec_model* h, const std::vector<edgerec::TopK>& top) {
  for (const auto& t : top) {
    h->result_items.push_back(t.item);
    h->result_scores.push_back(t.score);
  }
}

// Top-k over h->scores with the pending filters, `seen` and `self` skipped.
void finish_top_k(edgerec_model* h, int32_t k, const std::vector<edgerec::ItemValue>* seen,
                  int32_t self = -1) {
  const auto* skip = build_skip(h, seen, self);
  push_results(h, top_k(h->scores.data(), h->model->n_items(), k, skip));
}

// The int8 path: scan the int8 copy for the best candidates, then re-score those exactly with
// the f32 kernel so the results carry f32 scores and f32 order. Quantisation noise (about 0.5%
// of a score's spread) only decides which items reach the short list, and a short list of 4k
// leaves it a wide margin.
void top_k_int8(edgerec_model* h, const float* u, float offset, int32_t k,
                const std::vector<edgerec::ItemValue>* seen) {
  const auto& V = h->model->embeddings()->V;
  const std::size_t n = static_cast<std::size_t>(V.rows()), dim = static_cast<std::size_t>(V.cols());
  const auto* skip = build_skip(h, seen, -1);
  h->q_user.resize(h->q_stride);
  const float us = edgerec::kernels::quantize_query_int16(u, dim, h->q_stride, h->q_user.data());
  edgerec::kernels::score_all_int8(h->q_user.data(), us, h->q_items.data(), h->q_scale.data(), n,
                                   h->q_stride, 0.0f, h->scores.data());
  const int shortlist = static_cast<int>(std::min<std::int64_t>(
      static_cast<std::int64_t>(n), std::max<std::int64_t>(4 * std::int64_t{k}, std::int64_t{k} + 32)));
  auto top = top_k(h->scores.data(), static_cast<index_t>(n), k > 0 ? shortlist : 0, skip);
  for (auto& t : top)
    edgerec::kernels::score_all(u, V.data() + static_cast<std::size_t>(t.item) * dim, 1, dim, offset, &t.score);
  std::sort(top.begin(), top.end(), better);
  if (top.size() > static_cast<std::size_t>(k)) top.resize(static_cast<std::size_t>(k));
  push_results(h, top);
}

// Filters belong to the one call after edgerec_filter_set(), whether it succeeded or not.
void drop_filters(edgerec_model* h) {
  if (!h) return;
  h->include.clear();
  h->exclude.clear();
}

const edgerec::Embeddings& embeddings_or_throw(const edgerec::Model& m) {
  const auto* e = m.embeddings();
  if (!e) throw edgerec::Error(std::string(edgerec::kind_name(m.kind())) + " models have no embeddings");
  return *e;
}

}  // namespace

extern "C" {

edgerec_model* edgerec_model_load(const uint8_t* bytes, uint32_t size) {
  auto* h = new (std::nothrow) edgerec_model;
  if (!h) return nullptr;
  try {
    if (!bytes && size) throw edgerec::Error("null model bytes");
    h->model = edgerec::model_from_bytes(reinterpret_cast<const char*>(bytes), size, "model");
    h->scores.resize(h->model->n_items());
  } catch (const std::bad_alloc&) {
    h->status = EDGEREC_ERROR;
    h->error = "out of memory while loading the model";
    h->model.reset();
  } catch (const std::exception& e) {
    h->status = EDGEREC_ERROR;
    h->error = e.what();
    h->model.reset();
  }
  return h;
}

void edgerec_model_free(edgerec_model* model) { delete model; }
int32_t edgerec_model_status(const edgerec_model* model) { return model ? model->status : EDGEREC_ERROR; }
const char* edgerec_model_error(const edgerec_model* model) {
  return model ? model->error.c_str() : "null model handle";
}

const char* edgerec_model_info_json(edgerec_model* h) {
  guarded(h, [&](const edgerec::Model& m) {
    const auto* e = m.embeddings();
    h->text = std::string("{\"kind\":\"") + edgerec::kind_name(m.kind()) +
              "\",\"users\":" + std::to_string(m.n_users()) + ",\"items\":" + std::to_string(m.n_items()) +
              ",\"dims\":" + std::to_string(e ? e->V.cols() : 0) +
              ",\"factors\":" + std::to_string(e ? e->factor_dims : 0) +
              ",\"predictsRatings\":" + (m.predicts_ratings() ? "true" : "false") +
              ",\"trainRows\":" + std::to_string(m.info.train_rows) +
              ",\"formatVersion\":" + std::to_string(edgerec::kModelFormatVersion) +
              ",\"version\":\"" EDGEREC_VERSION "\",\"kernels\":\"" + edgerec::kernels::flavour() +
              "\",\"precision\":\"" + (h->q_stride ? "int8" : "f32") + "\"}";
  });
  return h && h->status == EDGEREC_OK ? h->text.c_str() : "";
}

uint32_t edgerec_model_item_count(const edgerec_model* h) { return h && h->model ? h->model->n_items() : 0; }
uint32_t edgerec_model_user_count(const edgerec_model* h) { return h && h->model ? h->model->n_users() : 0; }

const char* edgerec_model_item_id(const edgerec_model* h, uint32_t index) {
  if (!h || !h->model || index >= h->model->n_items()) return "";
  return h->model->items.id(index).c_str();
}

int32_t edgerec_model_item_index(const edgerec_model* h, const char* id, uint32_t len) {
  if (!h || !h->model || (!id && len)) return -1;
  return static_cast<int32_t>(h->model->items.find(std::string_view(id, len)));
}

int32_t edgerec_model_user_index(const edgerec_model* h, const char* id, uint32_t len) {
  if (!h || !h->model || (!id && len)) return -1;
  return static_cast<int32_t>(h->model->users.find(std::string_view(id, len)));
}

int32_t edgerec_model_user_at(edgerec_model* h, const char* id, uint32_t len) {
  int32_t out = -1;
  guarded(h, [&](const edgerec::Model& m) { out = static_cast<int32_t>(m.users.at(std::string_view(id ? id : "", len), "user")); });
  return out;
}

int32_t edgerec_model_item_at(edgerec_model* h, const char* id, uint32_t len) {
  int32_t out = -1;
  guarded(h, [&](const edgerec::Model& m) { out = static_cast<int32_t>(m.items.at(std::string_view(id ? id : "", len), "item")); });
  return out;
}

uint32_t edgerec_model_dims(const edgerec_model* h) {
  const auto* e = h && h->model ? h->model->embeddings() : nullptr;
  return e ? static_cast<uint32_t>(e->V.cols()) : 0;
}

uint32_t edgerec_model_factor_dims(const edgerec_model* h) {
  const auto* e = h && h->model ? h->model->embeddings() : nullptr;
  return e ? static_cast<uint32_t>(e->factor_dims) : 0;
}

const float* edgerec_model_item_matrix(const edgerec_model* h) {
  const auto* e = h && h->model ? h->model->embeddings() : nullptr;
  return e ? e->V.data() : nullptr;
}

int32_t edgerec_model_quantize(edgerec_model* h, int32_t int8) {
  return guarded(h, [&](const edgerec::Model& m) {
    if (!int8) {
      h->q_items = {};
      h->q_scale = {};
      h->q_stride = 0;
      return;
    }
    const auto* e = m.embeddings();
    if (!e) throw edgerec::Error(std::string(edgerec::kind_name(m.kind())) + " models have no item matrix to quantise");
    const std::size_t n = static_cast<std::size_t>(e->V.rows()), dim = static_cast<std::size_t>(e->V.cols());
    // Whole 8-column steps for the SIMD kernel; the padding columns are zero in both operands.
    const std::size_t stride = (dim + 7) & ~std::size_t{7};
    std::vector<std::int8_t> q(n * stride);
    std::vector<float> scale(n);
    edgerec::kernels::quantize_rows_int8(e->V.data(), n, dim, stride, q.data(), scale.data());
    h->q_items = std::move(q);
    h->q_scale = std::move(scale);
    h->q_stride = stride;
  });
}

int32_t edgerec_model_precision_int8(const edgerec_model* h) { return h && h->q_stride ? 1 : 0; }

int32_t edgerec_filter_set(edgerec_model* h, const uint32_t* include, uint32_t n_include,
                           const uint32_t* exclude, uint32_t n_exclude) {
  return guarded(h, [&](const edgerec::Model&) {
    if ((n_include && !include) || (n_exclude && !exclude)) throw edgerec::Error("null filter list");
    h->include.assign(include, include + n_include);
    h->exclude.assign(exclude, exclude + n_exclude);
  });
}

int32_t edgerec_recommend(edgerec_model* h, uint32_t user, int32_t k, int32_t exclude_seen) {
  const int32_t rc = guarded(h, [&](const edgerec::Model& m) {
    check_k(k);
    if (user >= m.n_users())
      throw edgerec::Error("user index " + std::to_string(user) + " is out of range (" +
                           std::to_string(m.n_users()) + " users)");
    const auto seen = exclude_seen ? m.history(user) : std::vector<edgerec::ItemValue>{};
    if (h->q_stride) {
      const auto& e = *m.embeddings();
      top_k_int8(h, e.U.row(user).data(), e.user_offset[user], k, &seen);
      return;
    }
    m.score(user, h->scores.data());
    finish_top_k(h, k, &seen);
  });
  drop_filters(h);
  return rc;
}

int32_t edgerec_recommend_for(edgerec_model* h, const uint32_t* items, const float* values,
                              uint32_t n, int32_t k, int32_t exclude_seen) {
  const int32_t rc = guarded(h, [&](const edgerec::Model& m) {
    check_k(k);
    const auto history = to_history(m, items, values, n);
    if (h->q_stride && !history.empty()) {
      h->user.resize(static_cast<std::size_t>(m.embeddings()->V.cols()));
      float offset = 0.0f;
      if (m.fold_in_vector(history, h->user.data(), &offset)) {
        top_k_int8(h, h->user.data(), offset, k, exclude_seen ? &history : nullptr);
        return;
      }
    }
    m.score_new(history, h->scores.data());
    finish_top_k(h, k, exclude_seen ? &history : nullptr);
  });
  drop_filters(h);
  return rc;
}

int32_t edgerec_similar(edgerec_model* h, uint32_t item, int32_t k) {
  const int32_t rc = guarded(h, [&](const edgerec::Model& m) {
    check_k(k);
    check_item(m, item);
    m.similar(item, h->scores.data());
    finish_top_k(h, k, nullptr, item);
  });
  drop_filters(h);
  return rc;
}

int32_t edgerec_explain(edgerec_model* h, int32_t user, const uint32_t* items, const float* values,
                        uint32_t n, uint32_t item, int32_t k) {
  return guarded(h, [&](const edgerec::Model& m) {
    check_k(k);
    check_item(m, item);
    if (user >= static_cast<int32_t>(m.n_users())) throw edgerec::Error("user index out of range");
    const auto history = user >= 0 ? m.history(static_cast<index_t>(user)) : to_history(m, items, values, n);
    auto c = m.explain(history, item, user);
    std::stable_sort(c.begin(), c.end(), [](const auto& a, const auto& b) { return a.weight > b.weight; });
    if (c.size() > static_cast<std::size_t>(k)) c.resize(static_cast<std::size_t>(k));
    for (const auto& x : c) {
      h->result_items.push_back(x.item);
      h->result_scores.push_back(x.weight);
    }
  });
}

int32_t edgerec_user_vector(edgerec_model* h, int32_t user, const uint32_t* items,
                            const float* values, uint32_t n) {
  return guarded(h, [&](const edgerec::Model& m) {
    const auto& e = embeddings_or_throw(m);
    const std::size_t dim = static_cast<std::size_t>(e.V.cols());
    h->result_scores.resize(dim + 1);
    if (user >= 0) {
      if (user >= static_cast<int32_t>(m.n_users())) throw edgerec::Error("user index out of range");
      const auto row = e.U.row(static_cast<Eigen::Index>(user));
      std::copy(row.data(), row.data() + dim, h->result_scores.begin());
      h->result_scores[dim] = e.user_offset[static_cast<Eigen::Index>(user)];
      return;
    }
    const auto history = to_history(m, items, values, n);
    if (!m.fold_in_vector(history, h->result_scores.data(), &h->result_scores[dim]))
      throw edgerec::Error("a new user needs at least one interaction with a known item to have a vector");
  });
}

// The item/score arrays have equal lengths except after edgerec_user_vector (scores only).
int32_t edgerec_user_history(edgerec_model* h, uint32_t user) {
  return guarded(h, [&](const edgerec::Model& m) {
    if (user >= m.n_users())
      throw edgerec::Error("user index " + std::to_string(user) + " is out of range");
    for (const auto& x : m.history(user)) {
      h->result_items.push_back(x.item);
      h->result_scores.push_back(x.value);
    }
  });
}

uint32_t edgerec_result_count(const edgerec_model* h) {
  return h ? static_cast<uint32_t>(h->result_scores.size()) : 0;
}
const uint32_t* edgerec_result_items(const edgerec_model* h) { return h ? h->result_items.data() : nullptr; }
const float* edgerec_result_scores(const edgerec_model* h) { return h ? h->result_scores.data() : nullptr; }
const char* edgerec_version(void) { return EDGEREC_VERSION; }

}  // extern "C"

