// The C ABI (see wasm/include/edgerec_c.h): index-based calls over edgerec::Model, with every
// C++ exception caught here and kept as the handle's message.
#include "edgerec_c.h"

#include <algorithm>
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
  std::vector<edgerec::ItemValue> h;
  h.reserve(n);
  for (uint32_t j = 0; j < n; ++j) {
    check_item(m, items[j]);
    const float v = values ? values[j] : 1.0f;
    if (!(v == v) || v > 3.4e38f || v < -3.4e38f) throw edgerec::Error("interaction value is not finite");
    h.push_back({items[j], v});
  }
  return h;
}

// Top-k over h->scores with the pending filters and `seen` skipped; filters are consumed.
void finish_top_k(edgerec_model* h, int32_t k, const std::vector<edgerec::ItemValue>* seen,
                  int64_t self = -1) {
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
  const auto top = edgerec::select_top_k(h->scores.data(), n, k, filter ? &h->skip : nullptr);
  for (const auto& t : top) {
    h->result_items.push_back(t.item);
    h->result_scores.push_back(t.score);
  }
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
              ",\"version\":\"" EDGEREC_VERSION "\",\"kernels\":\"" + edgerec::kernels::flavour() + "\"}";
  });
  return h && h->status == EDGEREC_OK ? h->text.c_str() : "";
}

uint32_t edgerec_model_item_count(const edgerec_model* h) { return h && h->model ? h->model->n_items() : 0; }
uint32_t edgerec_model_user_count(const edgerec_model* h) { return h && h->model ? h->model->n_users() : 0; }

const char* edgerec_model_item_id(const edgerec_model* h, uint32_t index) {
  if (!h || !h->model || index >= h->model->n_items()) return "";
  return h->model->items.id(index).c_str();
}

int64_t edgerec_model_item_index(const edgerec_model* h, const char* id, uint32_t len) {
  if (!h || !h->model || (!id && len)) return -1;
  return h->model->items.find(std::string_view(id, len));
}

int64_t edgerec_model_user_index(const edgerec_model* h, const char* id, uint32_t len) {
  if (!h || !h->model || (!id && len)) return -1;
  return h->model->users.find(std::string_view(id, len));
}

int32_t edgerec_filter_set(edgerec_model* h, const uint32_t* include, uint32_t n_include,
                           const uint32_t* exclude, uint32_t n_exclude) {
  return guarded(h, [&](const edgerec::Model&) {
    h->include.assign(include, include + n_include);
    h->exclude.assign(exclude, exclude + n_exclude);
  });
}

int32_t edgerec_recommend(edgerec_model* h, uint32_t user, int32_t k, int32_t exclude_seen) {
  return guarded(h, [&](const edgerec::Model& m) {
    check_k(k);
    if (user >= m.n_users())
      throw edgerec::Error("user index " + std::to_string(user) + " is out of range");
    m.score(user, h->scores.data());
    const auto seen = exclude_seen ? m.history(user) : std::vector<edgerec::ItemValue>{};
    finish_top_k(h, k, &seen);
  });
}

int32_t edgerec_recommend_for(edgerec_model* h, const uint32_t* items, const float* values,
                              uint32_t n, int32_t k, int32_t exclude_seen) {
  return guarded(h, [&](const edgerec::Model& m) {
    check_k(k);
    const auto history = to_history(m, items, values, n);
    m.score_new(history, h->scores.data());
    finish_top_k(h, k, exclude_seen ? &history : nullptr);
  });
}

int32_t edgerec_similar(edgerec_model* h, uint32_t item, int32_t k) {
  return guarded(h, [&](const edgerec::Model& m) {
    check_k(k);
    check_item(m, item);
    m.similar(item, h->scores.data());
    finish_top_k(h, k, nullptr, item);
  });
}

int32_t edgerec_explain(edgerec_model* h, int64_t user, const uint32_t* items, const float* values,
                        uint32_t n, uint32_t item, int32_t k) {
  return guarded(h, [&](const edgerec::Model& m) {
    check_k(k);
    check_item(m, item);
    if (user >= static_cast<int64_t>(m.n_users())) throw edgerec::Error("user index out of range");
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

uint32_t edgerec_result_count(const edgerec_model* h) {
  return h ? static_cast<uint32_t>(h->result_items.size()) : 0;
}
const uint32_t* edgerec_result_items(const edgerec_model* h) { return h ? h->result_items.data() : nullptr; }
const float* edgerec_result_scores(const edgerec_model* h) { return h ? h->result_scores.data() : nullptr; }
const char* edgerec_version(void) { return EDGEREC_VERSION; }

}  // extern "C"
