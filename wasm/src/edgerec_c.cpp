// The C ABI (see wasm/include/edgerec_c.h): index-based calls over edgerec::Model, with every
// C++ exception caught here and kept as the handle's message.
#include "edgerec_c.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
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
  std::vector<std::uint8_t> skip;       // all zero between calls but for skip_set / skip_dirty
  std::vector<edgerec::index_t> skip_set;
  bool skip_dirty = false;
  std::vector<uint32_t> include, exclude;
  std::vector<uint32_t> result_items;
  std::vector<float> result_scores;
  // The int8 flavour (edgerec_model_quantize): an int8 NormIndex over V, or null for f32.
  std::unique_ptr<edgerec::NormIndex> int8;
  std::vector<float> user;  // a folded-in user vector
  edgerec::NormIndex::Stats stats;  // of the last recommend call
  edgerec::NormIndex::Mode search = edgerec::NormIndex::Mode::chosen;  // f32 top-k (set_search)
  std::uint32_t file_version = 0;   // the loaded file's format version
  std::string info;  // edgerec_result_info() of the last recommend_for / explain call
  std::unique_ptr<edgerec::ColdStart> cold;  // built on the first cold-start call
  // The last edgerec_rerank's re-ranker (its item vectors, short head or genres), kept while the
  // kind stays the same.
  std::unique_ptr<edgerec::Reranker> reranker;
};

struct edgerec_bandit {
  std::unique_ptr<edgerec::BanditFeatures> features;  // over the model handle's model
  std::unique_ptr<edgerec::Policy> policy;
  std::uint64_t fingerprint = 0;
  edgerec::BanditEvent event;  // the last choose's candidates and features (reward's input)
  std::string state;           // the last save's bytes
};

namespace {

using edgerec::index_t;

template <class F>
int32_t guarded(edgerec_model* h, F&& body) {
  if (!h) return EDGEREC_ERROR;
  h->error.clear();
  h->result_items.clear();
  h->result_scores.clear();
  h->info = "{}";
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

// Appends a non-negative number with 4 decimals, for JSON (std::to_string(double) would pull
// printf's float formatting into the wasm).
void append_fixed4(std::string& out, double x) {
  auto v = static_cast<unsigned long long>(x * 1e4 + 0.5);
  char b[32];
  char* p = b + sizeof b;
  for (int d = 0; d < 5 || v; ++d, v /= 10) {
    if (d == 4) *--p = '.';
    *--p = static_cast<char>('0' + v % 10);
  }
  out.append(p, b + sizeof b);
}

// k, clamped to the catalogue: the top-k heap reserves k entries.
int32_t check_k(const edgerec::Model& m, int32_t k) {
  if (k < 0) throw edgerec::Error("k must be >= 0");
  return static_cast<int32_t>(std::min<uint32_t>(static_cast<uint32_t>(k), m.n_items()));
}

void check_item(const edgerec::Model& m, uint32_t item) {
  if (item >= m.n_items())
    throw edgerec::Error("item index " + std::to_string(item) + " is out of range (" +
                         std::to_string(m.n_items()) + " items)");
}

std::vector<edgerec::ItemValue> to_history(const edgerec::Model& m, const uint32_t* items,
                                           const float* values, uint32_t n,
                                           edgerec::HistoryReport* report = nullptr) {
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
  return m.prepare_history(h, report);
}

// JSON pieces of edgerec_result_info(): doubles at full precision, so sums check out in JS.
std::string json_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string history_info(const edgerec::HistoryReport& r) {
  return "\"history\":{\"given\":" + std::to_string(r.given) + ",\"duplicates\":" +
         std::to_string(r.duplicates) + ",\"dropped\":" + std::to_string(r.dropped) +
         ",\"clamped\":" + std::to_string(r.clamped) + ",\"used\":" + std::to_string(r.used) +
         ",\"maxUsed\":" + std::to_string(edgerec::kMaxFoldInHistory) + "}" +
         (r.used == 0 ? ",\"fallback\":\"popularity\"" : "");
}

// The skip mask for the pending filters, `seen` and `self`, or nullptr when nothing is skipped.
// Consumes the filters. The mask stays allocated and all-zero between calls: only the entries
// the last call set are cleared, so a query with a short history does not rewrite n bytes.
const std::vector<std::uint8_t>* build_skip(edgerec_model* h, const std::vector<edgerec::ItemValue>* seen,
                                            int32_t self) {
  const index_t n = h->model->n_items();
  if (h->skip.size() != n || h->skip_dirty) {
    h->skip.assign(n, 0);
    h->skip_dirty = false;
  } else {
    for (index_t i : h->skip_set) h->skip[i] = 0;
  }
  h->skip_set.clear();
  const bool filter = !h->include.empty() || !h->exclude.empty() || (seen && !seen->empty()) || self >= 0;
  if (filter) {
    auto set = [&](index_t i) {
      h->skip[i] = 1;
      h->skip_set.push_back(i);
    };
    if (!h->include.empty()) {
      // Everything but the included items: the next call starts from a fresh mask.
      std::fill(h->skip.begin(), h->skip.end(), std::uint8_t{1});
      h->skip_dirty = true;
      for (uint32_t i : h->include)
        if (i < n) h->skip[i] = 0;
    }
    for (uint32_t i : h->exclude)
      if (i < n) set(i);
    if (seen)
      for (const auto& s : *seen) set(s.item);
    if (self >= 0) set(static_cast<index_t>(self));
  }
  h->include.clear();
  h->exclude.clear();
  return filter ? &h->skip : nullptr;
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
  push_results(h, edgerec::select_top_k(h->scores.data(), h->model->n_items(), k, skip ? skip->data() : nullptr));
}

// Top-k for a query vector with the pending filters and `seen` skipped: through the model's
// own (exact) top_k for f32, its index in a forced search mode, or the int8 index.
template <class F32>
void query_top_k(edgerec_model* h, const float* u, float offset, int32_t k,
                 const std::vector<edgerec::ItemValue>* seen, F32&& f32) {
  const auto* skip = build_skip(h, seen, -1);
  const std::uint8_t* mask = skip ? skip->data() : nullptr;
  h->stats = {};
  const std::size_t first = h->result_scores.size();
  const edgerec::NormIndex* index = h->int8 ? h->int8.get()
      : h->search != edgerec::NormIndex::Mode::chosen ? h->model->serving_index() : nullptr;
  if (index && u)
    push_results(h, index->top_k(h->model->embeddings()->V, u, offset, k, mask, h->scores.data(), &h->stats, h->search));
  else
    push_results(h, f32(mask));
  // Rating models serve predicted ratings clipped to the training range, as the CLI's
  // Recommender and eval do (the order stays that of the unclipped scores).
  const auto& m = *h->model;
  if (m.predicts_ratings() && m.rating_max > m.rating_min)
    for (std::size_t i = first; i < h->result_scores.size(); ++i)
      h->result_scores[i] = std::clamp(h->result_scores[i], m.rating_min, m.rating_max);
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

// Top-k for known user `user`, as edgerec_recommend serves it.
void serve_known(edgerec_model* h, const edgerec::Model& m, uint32_t user, int32_t k,
                 int32_t exclude_seen) {
  if (user >= m.n_users())
    throw edgerec::Error("user index " + std::to_string(user) + " is out of range (" +
                         std::to_string(m.n_users()) + " users)");
  const auto seen = exclude_seen ? m.history(user) : std::vector<edgerec::ItemValue>{};
  const auto* e = m.embeddings();
  query_top_k(h, e ? e->U.row(user).data() : nullptr, e ? e->user_offset[user] : 0.0f, k, &seen,
              [&](const std::uint8_t* mask) { return m.top_k(user, k, mask, h->scores.data(), &h->stats); });
}

// Top-k for a prepared new-user history, as edgerec_recommend_for serves it.
void serve_new(edgerec_model* h, const edgerec::Model& m,
               const std::vector<edgerec::ItemValue>& history, int32_t k, int32_t exclude_seen) {
  const float* u = nullptr;
  float offset = 0.0f;
  if ((h->int8 || h->search != edgerec::NormIndex::Mode::chosen) && m.embeddings()) {
    h->user.resize(static_cast<std::size_t>(m.embeddings()->V.cols()));
    if (m.fold_in_vector(history, h->user.data(), &offset)) u = h->user.data();
  }
  query_top_k(h, u, offset, k, exclude_seen ? &history : nullptr,
              [&](const std::uint8_t* mask) { return m.top_k_new(history, k, mask, h->scores.data(), &h->stats); });
}

}  // namespace

extern "C" {

edgerec_model* edgerec_model_load(const uint8_t* bytes, uint32_t size) {
  auto* h = new (std::nothrow) edgerec_model;
  if (!h) return nullptr;
  try {
    if (!bytes && size) throw edgerec::Error("null model bytes");
    h->model = edgerec::model_from_bytes(reinterpret_cast<const char*>(bytes), size, "model");
    // Bytes 4..7 of a file model_from_bytes() accepted: its format version, little-endian.
    for (int b = 3; b >= 0; --b) h->file_version = (h->file_version << 8) | bytes[4 + b];
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

// [min, max] that a rating model's recommendations are clipped to, or null (no clipping).
static std::string rating_range_json(const edgerec::Model& m) {
  if (!m.predicts_ratings() || !(m.rating_max > m.rating_min)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "[%.9g,%.9g]", static_cast<double>(m.rating_min),
                static_cast<double>(m.rating_max));
  return buf;
}

const char* edgerec_model_info_json(edgerec_model* h) {
  guarded(h, [&](const edgerec::Model& m) {
    const auto* e = m.embeddings();
    h->text = std::string("{\"kind\":\"") + edgerec::kind_name(m.kind()) +
              "\",\"users\":" + std::to_string(m.n_users()) + ",\"items\":" + std::to_string(m.n_items()) +
              ",\"dims\":" + std::to_string(e ? e->V.cols() : 0) +
              ",\"factors\":" + std::to_string(e ? e->factor_dims : 0) +
              ",\"predictsRatings\":" + (m.predicts_ratings() ? "true" : "false") +
              ",\"ratingRange\":" + rating_range_json(m) +
              ",\"trainRows\":" + std::to_string(m.info.train_rows) +
              ",\"formatVersion\":" + std::to_string(h->file_version) +
              ",\"fileItemMatrix\":" + (e ? (e->items_int8 ? "\"int8\"" : "\"f32\"") : "null") +
              ",\"version\":\"" EDGEREC_VERSION "\",\"kernels\":\"" + edgerec::kernels::flavour() +
              "\",\"precision\":\"" + (h->int8 ? "int8" : "f32") + "\"";
    h->text += "}";
  });
  return h && h->status == EDGEREC_OK ? h->text.c_str() : "";
}

extern "C++" {  // helpers inside the extern "C" block
namespace {
// A JSON string (metadata text is valid UTF-8, checked by its loader): quotes, backslashes and
// control characters escaped.
void append_json_string(std::string& t, const std::string& s) {
  static const char kHex[] = "0123456789abcdef";
  t += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      t += '\\';
      t += ch;
    } else if (c < 0x20) {
      t += "\\u00";
      t += kHex[c >> 4];
      t += kHex[c & 15];
    } else {
      t += ch;
    }
  }
  t += '"';
}
template <class V>
void append_int_array(std::string& t, const V& v) {
  t += '[';
  for (std::size_t k = 0, n = v.size(); k < n; ++k) {
    if (k) t += ',';
    t += std::to_string(v[k]);
  }
  t += ']';
}
void append_string_array(std::string& t, const std::vector<std::string>& v, std::size_t from = 0) {
  t += '[';
  for (std::size_t k = from; k < v.size(); ++k) {
    if (k > from) t += ',';
    append_json_string(t, v[k]);
  }
  t += ']';
}
}  // namespace
}  // extern "C++"

const char* edgerec_model_item_meta_json(edgerec_model* h) {
  // Not through guarded(): the JavaScript side reads the metadata while it reads the results of
  // another call (titles beside ids), whose items, scores and info must stay.
  if (!h || !h->model) return "";
  try {
    const edgerec::Model& m = *h->model;
    auto& t = h->text;
    if (!m.item_meta) return "null";
    const edgerec::ItemMeta& meta = *m.item_meta;
    t = "{\"rows\":";
    t += std::to_string(meta.rows());
    t += ",\"source\":";
    append_json_string(t, meta.source);
    t += ",\"coldIds\":";
    append_string_array(t, meta.ids.ids(), m.n_items());
    t += ",\"described\":";
    append_int_array(t, meta.described);
    t += ",\"titles\":";
    append_string_array(t, meta.titles);
    t += ",\"categorical\":[";
    for (std::size_t f = 0; f < meta.categorical.size(); ++f) {
      const auto& c = meta.categorical[f];
      t += f ? ",{\"name\":" : "{\"name\":";
      append_json_string(t, c.name);
      t += ",\"vocabulary\":";
      append_string_array(t, c.vocabulary);
      t += ",\"offsets\":";
      append_int_array(t, c.offsets);
      t += ",\"codes\":";
      append_int_array(t, c.codes);
      t += '}';
    }
    t += "],\"numeric\":[";
    char buf[32];
    for (std::size_t f = 0; f < meta.numeric.size(); ++f) {
      const auto& c = meta.numeric[f];
      t += f ? ",{\"name\":" : "{\"name\":";
      append_json_string(t, c.name);
      t += ",\"values\":[";
      for (std::size_t r = 0; r < c.values.size(); ++r) {
        if (r) t += ',';
        if (!c.present[r]) {
          t += "null";
          continue;
        }
        std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(c.values[r]));
        t += buf;
      }
      t += "]}";
    }
    t += "],\"vectorDims\":";
    t += std::to_string(meta.has_vector.empty() ? 0 : meta.vectors.cols());
    t += '}';
  } catch (const std::exception& e) {
    h->error = e.what();
    h->status = EDGEREC_ERROR;
    return "";
  }
  return h->text.c_str();
}

const char* edgerec_model_search_json(edgerec_model* h) {
  guarded(h, [&](const edgerec::Model& m) {
    h->text = "{";
    if (const auto* index = m.serving_index()) {
      const auto& c = index->choice();
      // Appends, not operator+ chains: every temporary string costs wasm bytes.
      auto& t = h->text;
      t += "\"search\":\"";
      t += c.visit ? "visit" : "scan";
      t += "\",\"searchSample\":{\"source\":\"";
      t += c.source;
      t += "\",\"queries\":";
      t += std::to_string(c.queries);
      t += ",\"scored\":";
      append_fixed4(t, c.scored);
      t += ",\"cost\":";
      append_fixed4(t, c.cost);
      t += "}";
    }
    h->text += "}";
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
      h->int8.reset();
      return;
    }
    const auto* e = m.embeddings();
    if (!e) throw edgerec::Error(std::string(edgerec::kind_name(m.kind())) + " models have no item matrix to quantise");
    h->int8 = std::make_unique<edgerec::NormIndex>(e->V, edgerec::NormIndex::Precision::int8);
  });
}

int32_t edgerec_model_precision_int8(const edgerec_model* h) { return h && h->int8 ? 1 : 0; }

int32_t edgerec_model_set_search(edgerec_model* h, int32_t mode) {
  if (!h) return EDGEREC_ERROR;
  // No core call can throw here, so no guarded() (each instance of it costs wasm bytes).
  h->status = h->model && mode >= 0 && mode <= 2 ? EDGEREC_OK : EDGEREC_ERROR;
  h->error = h->status == EDGEREC_OK ? "" : h->model ? "search mode must be 0 (chosen), 1 (visit) or 2 (scan)" : "no model loaded";
  if (h->status == EDGEREC_OK) h->search = static_cast<edgerec::NormIndex::Mode>(mode);
  return h->status;
}

uint32_t edgerec_last_scored(const edgerec_model* h) {
  return h ? static_cast<uint32_t>(h->stats.scored) : 0;
}

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
    k = check_k(m, k);
    serve_known(h, m, user, k, exclude_seen);
  });
  drop_filters(h);
  return rc;
}

int32_t edgerec_recommend_for(edgerec_model* h, const uint32_t* items, const float* values,
                              uint32_t n, int32_t k, int32_t exclude_seen) {
  const int32_t rc = guarded(h, [&](const edgerec::Model& m) {
    k = check_k(m, k);
    edgerec::HistoryReport report;
    serve_new(h, m, to_history(m, items, values, n, &report), k, exclude_seen);
    h->info = "{" + history_info(report) + "}";
  });
  drop_filters(h);
  return rc;
}

int32_t edgerec_similar(edgerec_model* h, uint32_t item, int32_t k) {
  const int32_t rc = guarded(h, [&](const edgerec::Model& m) {
    k = check_k(m, k);
    check_item(m, item);
    m.similar(item, h->scores.data());
    finish_top_k(h, k, nullptr, item);
  });
  drop_filters(h);
  return rc;
}

int32_t edgerec_explain(edgerec_model* h, int32_t user, const uint32_t* items, const float* values,
                        uint32_t n, uint32_t item, int32_t k) {
  const int32_t rc = guarded(h, [&](const edgerec::Model& m) {
    check_item(m, item);
    if (user >= static_cast<int32_t>(m.n_users())) throw edgerec::Error("user index out of range");
    edgerec::HistoryReport report;
    const auto history = user >= 0 ? m.history(static_cast<index_t>(user)) : to_history(m, items, values, n, &report);
    // The served score: the recommend path itself, with only `item` allowed.
    h->include.assign(1, item);
    h->exclude.clear();
    if (user >= 0) serve_known(h, m, static_cast<uint32_t>(user), 1, 0);
    else serve_new(h, m, history, 1, 0);
    if (h->result_scores.empty()) throw edgerec::Error("explain: the item has no finite score for this user");
    const float score = h->result_scores[0];
    h->result_items.clear();
    h->result_scores.clear();
    auto split = edgerec::split_score(m, history, item, user, score, k);
    for (const auto& x : split.weights) {
      h->result_items.push_back(x.item);
      h->result_scores.push_back(x.weight);
    }
    std::string note;
    for (const char c : split.note) {
      if (c == '"' || c == '\\') note += '\\';
      note += c;
    }
    h->info = "{\"score\":" + json_number(score) + ",\"others\":" + json_number(split.others) +
              ",\"rest\":" + json_number(split.rest) + ",\"residual\":" + json_number(split.residual) +
              ",\"exact\":" + (split.exact ? "true" : "false") + ",\"note\":\"" + note + "\"" +
              (user < 0 ? "," + history_info(report) : std::string()) + "}";
  });
  drop_filters(h);
  return rc;
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

extern "C++" {
namespace {
// edgerec_rerank's body, built for size (minsize: -Oz for this function, where the rest of this
// file is -O3 for the serving path): it runs once per list on at most pool x k items.
__attribute__((minsize)) void rerank_into(edgerec_model* h, const edgerec::Model& m, const std::vector<index_t>& pool,
                                          const std::vector<float>& pool_scores, int32_t kind, double lambda,
                                          int32_t k, int32_t user, const uint32_t* items, uint32_t n) {
  if (k < 0) throw edgerec::Error("k must be >= 0");
  if (pool.size() != pool_scores.size()) throw edgerec::Error("re-ranking: the last result is not a ranked list");
  for (index_t i : pool) check_item(m, i);
  std::vector<index_t> history;
  if (user >= 0) {
    if (static_cast<uint32_t>(user) >= m.n_users()) throw edgerec::Error("user index out of range");
    const index_t* b = m.seen.row_indices(static_cast<index_t>(user));
    history.assign(b, b + m.seen.row_size(static_cast<index_t>(user)));
  } else {
    if (n && !items) throw edgerec::Error("null interaction items");
    for (uint32_t j = 0; j < n; ++j) {
      check_item(m, items[j]);
      history.push_back(items[j]);
    }
  }
  static_assert(static_cast<int>(edgerec::RerankKind::popularity) == 3, "edgerec_rerank's kinds are RerankKind's order");
  if (kind < 0 || kind > 3)
    throw edgerec::Error("unknown re-ranker " + std::to_string(kind) + " (0 none, 1 mmr, 2 calibrated, 3 popularity)");
  const auto rk = static_cast<edgerec::RerankKind>(kind);
  if (!h->reranker || h->reranker->kind() != rk) {
    h->reranker.reset();
    h->reranker = std::make_unique<edgerec::Reranker>(m, rk);
  }
  const std::vector<index_t> picked = h->reranker->pick(pool, pool_scores, history.data(), history.size(), lambda, k);
  for (index_t i : picked) {
    h->result_items.push_back(i);
    h->result_scores.push_back(pool_scores[static_cast<std::size_t>(std::find(pool.begin(), pool.end(), i) - pool.begin())]);
  }
}
}  // namespace
}

int32_t edgerec_rerank(edgerec_model* h, int32_t kind, double lambda, int32_t k, int32_t user,
                       const uint32_t* items, uint32_t n) {
  if (!h) return EDGEREC_ERROR;
  // guarded() clears the results: the pool is the last call's, moved out (a move cannot throw
  // outside guarded()'s catch).
  const std::vector<index_t> pool = std::move(h->result_items);
  const std::vector<float> pool_scores = std::move(h->result_scores);
  const std::string info = std::move(h->info);
  return guarded(h, [&](const edgerec::Model& m) {
    rerank_into(h, m, pool, pool_scores, kind, lambda, k, user, items, n);
    h->info = info;
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

extern "C++" {
namespace {
edgerec::ColdStart& cold_start(edgerec_model* h, const edgerec::Model& m) {
  if (!h->cold) h->cold = std::make_unique<edgerec::ColdStart>(m);
  return *h->cold;
}
void push_rows(edgerec_model* h, const edgerec::Model& m, const std::vector<edgerec::Recommendation>& recs) {
  for (const auto& r : recs) {
    h->result_items.push_back(static_cast<uint32_t>(m.item_meta->find(r.item)));
    h->result_scores.push_back(r.score);
  }
}
}  // namespace
}  // extern "C++"

int32_t edgerec_similar_content(edgerec_model* h, uint32_t row, const char* features, uint32_t features_len,
                                int32_t k) {
  return guarded(h, [&](const edgerec::Model& m) {
    auto& cs = cold_start(h, m);
    k = std::max<int32_t>(k, 0);
    if (features_len > 0) {
      push_rows(h, m, cs.similar_to(std::string_view(features, features_len), k));
    } else {
      if (row >= m.item_meta->rows()) throw edgerec::Error("metadata row " + std::to_string(row) + " is out of range");
      push_rows(h, m, cs.similar(m.item_meta->ids.id(row), k));
    }
  });
}

int32_t edgerec_recommend_cold(edgerec_model* h, const uint32_t* rows, const float* values, uint32_t n, int32_t k,
                               int32_t exclude_seen, float shrinkage, const char* filter, uint32_t filter_len) {
  return guarded(h, [&](const edgerec::Model& m) {
    auto& cs = cold_start(h, m);
    std::vector<edgerec::UserInteraction> history;
    for (uint32_t j = 0; j < n; ++j) {
      if (rows[j] >= m.item_meta->rows()) throw edgerec::Error("metadata row " + std::to_string(rows[j]) + " is out of range");
      history.push_back({m.item_meta->ids.id(rows[j]), values[j]});
    }
    edgerec::ColdStartOptions o;
    o.k = std::max<int32_t>(k, 0);
    o.exclude_seen = exclude_seen != 0;
    o.blend.shrinkage = shrinkage;
    if (filter_len > 0) o.filter.assign(filter, filter_len);
    push_rows(h, m, cs.recommend_for(history, o));
  });
}

edgerec_bandit* edgerec_bandit_new(edgerec_model* h, int32_t policy, double epsilon, double alpha, double v,
                                   int32_t context_dims, uint32_t seed) {
  edgerec_bandit* out = nullptr;
  guarded(h, [&](const edgerec::Model& m) {
    static const edgerec::PolicyKind kinds[] = {
        edgerec::PolicyKind::egreedy,  edgerec::PolicyKind::linucb, edgerec::PolicyKind::linucb_hybrid,
        edgerec::PolicyKind::thompson, edgerec::PolicyKind::greedy, edgerec::PolicyKind::random};
    if (policy < 0 || policy > 5) throw edgerec::Error("unknown bandit policy " + std::to_string(policy));
    auto b = std::make_unique<edgerec_bandit>();
    b->features = std::make_unique<edgerec::BanditFeatures>(m, context_dims);
    edgerec::PolicyOptions o;
    o.kind = kinds[policy];
    o.epsilon = epsilon;
    o.alpha = alpha;
    o.v = v;
    o.seed = seed;
    b->policy = edgerec::make_policy(o, b->features->arm_dims(), b->features->user_dims());
    b->fingerprint = b->features->fingerprint();
    out = b.release();
  });
  return out;
}

void edgerec_bandit_free(edgerec_bandit* bandit) { delete bandit; }

int32_t edgerec_bandit_choose(edgerec_model* h, edgerec_bandit* b, int32_t user, const uint32_t* items,
                              const float* values, uint32_t n, int32_t candidates, int32_t exclude_seen) {
  int32_t pick = EDGEREC_ERROR;
  const int32_t rc = guarded(h, [&](const edgerec::Model& m) {
    if (!b) throw edgerec::Error("no bandit");
    const int32_t k = check_k(m, candidates);
    if (k < 1) throw edgerec::Error("a bandit needs at least one candidate");
    const auto& e = embeddings_or_throw(m);
    auto& ev = b->event;
    h->user.resize(static_cast<std::size_t>(e.V.cols()));
    float offset = 0.0f;
    const float* u = nullptr;
    if (user >= 0) {
      if (user >= static_cast<int32_t>(m.n_users())) throw edgerec::Error("user index out of range");
      serve_known(h, m, static_cast<uint32_t>(user), k, exclude_seen);
      const auto row = e.U.row(static_cast<Eigen::Index>(user));
      std::copy(row.data(), row.data() + row.size(), h->user.begin());
      offset = e.user_offset[static_cast<Eigen::Index>(user)];
      u = h->user.data();
    } else {
      const auto history = to_history(m, items, values, n);
      const edgerec::NormIndex* index = m.serving_index();
      if (index && m.fold_in_vector(history, h->user.data(), &offset)) {
        // One fold-in serves both the candidates and the features (what top_k_new would do,
        // without folding the visitor in a second time).
        u = h->user.data();
        query_top_k(h, u, offset, k, exclude_seen ? &history : nullptr, [&](const std::uint8_t* mask) {
          return index->top_k(e.V, u, offset, k, mask, h->scores.data(), &h->stats, h->search);
        });
      } else {
        serve_new(h, m, history, k, exclude_seen);  // an empty history: the popularity list
        if (m.fold_in_vector(history, h->user.data(), &offset)) u = h->user.data();
      }
    }
    ev.items.assign(h->result_items.begin(), h->result_items.end());
    if (ev.items.empty()) throw edgerec::Error("no candidate is left for the bandit (every item is filtered out)");
    b->features->fill_vector(u, offset, ev);
    const auto scores = b->policy->scores(ev);
    pick = static_cast<int32_t>(b->policy->choose(ev));
    for (std::size_t c = 0; c < scores.size(); ++c) h->result_scores[c] = static_cast<float>(scores[c]);
  });
  drop_filters(h);
  if (rc != EDGEREC_OK && b) b->event.items.clear();
  return rc == EDGEREC_OK ? pick : EDGEREC_ERROR;
}

int32_t edgerec_bandit_reward(edgerec_model* h, edgerec_bandit* b, uint32_t item, double reward) {
  return guarded(h, [&](const edgerec::Model& m) {
    if (!b) throw edgerec::Error("no bandit");
    check_item(m, item);
    if (!std::isfinite(reward)) throw edgerec::Error("the reward must be a finite number");
    const auto& items = b->event.items;
    const auto at = std::find(items.begin(), items.end(), static_cast<index_t>(item));
    if (at == items.end())
      throw edgerec::Error("item '" + m.items.id(item) + "' was not among the last pick's candidates");
    b->policy->update(b->event, static_cast<std::size_t>(at - items.begin()), reward);
  });
}

int32_t edgerec_bandit_save(edgerec_model* h, edgerec_bandit* b) {
  return guarded(h, [&](const edgerec::Model&) {
    if (!b) throw edgerec::Error("no bandit");
    b->state = edgerec::save_policy_state(*b->policy, b->fingerprint);
  });
}

const uint8_t* edgerec_bandit_state(const edgerec_bandit* b) {
  return b ? reinterpret_cast<const uint8_t*>(b->state.data()) : nullptr;
}
uint32_t edgerec_bandit_state_size(const edgerec_bandit* b) { return b ? static_cast<uint32_t>(b->state.size()) : 0; }

int32_t edgerec_bandit_load(edgerec_model* h, edgerec_bandit* b, const uint8_t* bytes, uint32_t size) {
  return guarded(h, [&](const edgerec::Model&) {
    if (!b) throw edgerec::Error("no bandit");
    if (!bytes && size) throw edgerec::Error("null bandit state");
    edgerec::load_policy_state(*b->policy,
                               std::string_view(reinterpret_cast<const char*>(bytes), size), b->fingerprint);
  });
}

const char* edgerec_result_info(const edgerec_model* h) { return h ? h->info.c_str() : "{}"; }

uint32_t edgerec_result_count(const edgerec_model* h) {
  return h ? static_cast<uint32_t>(h->result_scores.size()) : 0;
}
const uint32_t* edgerec_result_items(const edgerec_model* h) { return h ? h->result_items.data() : nullptr; }
const float* edgerec_result_scores(const edgerec_model* h) { return h ? h->result_scores.data() : nullptr; }
const char* edgerec_version(void) { return EDGEREC_VERSION; }

}  // extern "C"

