// Item metadata: consistency checks, content feature vectors, score blending (the layout and
// the formulas are in edgerec/item_meta.hpp). The loaders are in load.cpp, so a serving build
// that never reads a metadata file (the wasm package) does not link them.
#include "edgerec/item_meta.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "edgerec/error.hpp"

namespace edgerec {

const ItemMeta::Categorical* ItemMeta::field(std::string_view name) const {
  for (const auto& f : categorical)
    if (f.name == name) return &f;
  return nullptr;
}

std::vector<std::string> ItemMeta::values(const Categorical& f, index_t row) const {
  std::vector<std::string> out;
  if (row >= rows() || f.offsets.size() != std::size_t{rows()} + 1) return out;
  for (std::uint64_t k = f.offsets[row]; k < f.offsets[row + 1]; ++k) out.push_back(f.vocabulary[f.codes[k]]);
  return out;
}

void ItemMeta::check() const {
  const std::size_t n = rows();
  auto bad = [](const std::string& what) { throw Error("item metadata: " + what); };
  if (described.size() != n) bad("'described' has " + std::to_string(described.size()) + " entries, expected " + std::to_string(n));
  if (titles.size() != n) bad("'titles' has " + std::to_string(titles.size()) + " entries, expected " + std::to_string(n));
  // IdMap for the duplicate checks: the serving build (wasm) has its code already.
  IdMap names;
  auto fresh = [](IdMap& seen, const std::string& s) {
    if (seen.find(s) >= 0) return false;
    seen.add(s);
    return true;
  };
  for (const auto& f : categorical) {
    if (f.name.empty() || !fresh(names, f.name)) bad("field name '" + f.name + "' is empty or repeated");
    if (f.offsets.size() != n + 1 || f.offsets[0] != 0) bad("field '" + f.name + "': offsets do not have one entry per row plus one, from 0");
    for (std::size_t r = 0; r < n; ++r)
      if (f.offsets[r + 1] < f.offsets[r]) bad("field '" + f.name + "': offsets decrease at row " + std::to_string(r + 1));
    if (f.offsets[n] != f.codes.size()) bad("field '" + f.name + "': offsets end at " + std::to_string(f.offsets[n]) + ", not at the code count");
    for (std::size_t r = 0; r < n; ++r)
      for (std::uint64_t k = f.offsets[r]; k < f.offsets[r + 1]; ++k) {
        if (f.codes[k] >= f.vocabulary.size()) bad("field '" + f.name + "': row " + std::to_string(r) + " has value code " + std::to_string(f.codes[k]) + ", beyond its vocabulary");
        if (k > f.offsets[r] && f.codes[k] <= f.codes[k - 1]) bad("field '" + f.name + "': row " + std::to_string(r) + "'s values are not distinct and ascending");
      }
    IdMap vocab;
    for (const auto& v : f.vocabulary)
      if (!fresh(vocab, v)) bad("field '" + f.name + "': repeated vocabulary value '" + v + "'");
  }
  for (const auto& f : numeric) {
    if (f.name.empty() || !fresh(names, f.name)) bad("field name '" + f.name + "' is empty or repeated");
    if (f.values.size() != n || f.present.size() != n) bad("field '" + f.name + "' does not have one value per row");
    for (const float v : f.values)
      if (!std::isfinite(v)) bad("field '" + f.name + "' has a non-finite value");
  }
  if (names.find("title") >= 0) bad("'title' is not a field name (titles are kept apart)");
  if (vectors.size() > 0 || !has_vector.empty()) {
    if (static_cast<std::size_t>(vectors.rows()) != n || has_vector.size() != n)
      bad("content vectors: " + std::to_string(vectors.rows()) + " rows, expected " + std::to_string(n));
    if (!vectors.allFinite()) bad("content vectors hold a non-finite value");
  }
}

// ---- features --------------------------------------------------------------------------------

namespace {
constexpr float kZClip = 3.0f;

// A decimal number ([+-]digits[.digits][e[+-]digits]) for describe(): a few lines instead of
// strtod's parser in the serving build. False when `s` is not one.
bool parse_number(std::string_view s, double& out) {
  std::size_t i = 0;
  const bool neg = i < s.size() && (s[i] == '-' || s[i] == '+') ? s[i++] == '-' : false;
  double v = 0;
  int digits = 0, scale = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits) v = v * 10 + (s[i] - '0');
  if (i < s.size() && s[i] == '.')
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits, --scale) v = v * 10 + (s[i] - '0');
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    const bool eneg = i < s.size() && (s[i] == '-' || s[i] == '+') ? s[i++] == '-' : false;
    int e = 0, ed = 0;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9' && e < 100000; ++i, ++ed) e = e * 10 + (s[i] - '0');
    if (ed == 0) return false;
    scale += eneg ? -e : e;
  }
  if (i != s.size()) return false;
  out = (neg ? -v : v) * std::pow(10.0, scale);
  return std::isfinite(out);
}

void normalise(float* v, int n) {
  double s = 0;
  for (int d = 0; d < n; ++d) s += double(v[d]) * v[d];
  if (s <= 0) return;
  const float inv = static_cast<float>(1.0 / std::sqrt(s));
  for (int d = 0; d < n; ++d) v[d] *= inv;
}
}  // namespace

ItemFeatures::ItemFeatures(const ItemMeta& meta, const FeatureWeights& weights)
    : meta_(&meta), weights_(weights) {
  int dims = 0;
  for (const auto& f : meta.categorical) {
    cat_offset_.push_back(dims);
    dims += static_cast<int>(f.vocabulary.size());
  }
  num_offset_ = dims;
  dims += static_cast<int>(meta.numeric.size());
  vec_offset_ = dims;
  const int vdims = static_cast<int>(meta.vectors.cols());
  dims += vdims;
  const index_t n = meta.rows();
  rows_ = Matrix::Zero(n, dims);
  for (std::size_t c = 0; c < meta.categorical.size(); ++c) {
    const auto& f = meta.categorical[c];
    for (index_t r = 0; r < n; ++r) {
      const auto count = f.offsets[r + 1] - f.offsets[r];
      if (count == 0) continue;
      const float w = weights.categorical / std::sqrt(static_cast<float>(count));
      for (std::uint64_t k = f.offsets[r]; k < f.offsets[r + 1]; ++k) rows_(r, cat_offset_[c] + static_cast<int>(f.codes[k])) = w;
    }
  }
  const float num_scale = meta.numeric.empty() ? 0.0f : weights.numeric / std::sqrt(static_cast<float>(meta.numeric.size()));
  for (std::size_t j = 0; j < meta.numeric.size(); ++j) {
    const auto& f = meta.numeric[j];
    double sum = 0, sq = 0;
    std::size_t m = 0;
    for (index_t r = 0; r < n; ++r)
      if (f.present[r]) {
        sum += f.values[r];
        ++m;
      }
    const double mean = m ? sum / m : 0.0;
    for (index_t r = 0; r < n; ++r)
      if (f.present[r]) sq += (f.values[r] - mean) * (f.values[r] - mean);
    const double sd = m > 1 ? std::sqrt(sq / m) : 0.0;
    mean_.push_back(static_cast<float>(mean));
    std_.push_back(static_cast<float>(sd));
    if (!(sd > 0)) continue;
    for (index_t r = 0; r < n; ++r)
      if (f.present[r]) {
        const float z = std::clamp(static_cast<float>((f.values[r] - mean) / sd), -kZClip, kZClip);
        rows_(r, num_offset_ + static_cast<int>(j)) = z * num_scale;
      }
  }
  if (vdims > 0)
    for (index_t r = 0; r < n; ++r) {
      if (!meta.has_vector[r]) continue;
      const float norm = meta.vectors.row(r).norm();
      if (norm > 0) rows_.row(r).segment(vec_offset_, vdims) = meta.vectors.row(r) * (weights.vectors / norm);
    }
  for (index_t r = 0; r < n; ++r) normalise(rows_.row(r).data(), dims);
}

std::vector<float> ItemFeatures::unit(std::vector<float> v) const {
  normalise(v.data(), static_cast<int>(v.size()));
  return v;
}

std::vector<float> ItemFeatures::describe(std::string_view description) const {
  std::vector<float> q(static_cast<std::size_t>(dims()), 0.0f);
  const ItemMeta& meta = *meta_;
  std::size_t start = 0;
  while (start <= description.size()) {
    std::size_t end = description.find(';', start);
    if (end == std::string_view::npos) end = description.size();
    std::string_view part = description.substr(start, end - start);
    start = end + 1;
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (part.empty()) continue;
    const std::size_t eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0)
      throw Error("--features: '" + std::string(part) + "' is not field=value");
    const std::string name(part.substr(0, eq));
    const std::string_view value = part.substr(eq + 1);
    if (name == "title") continue;
    bool found = false;
    for (std::size_t c = 0; c < meta.categorical.size() && !found; ++c) {
      const auto& f = meta.categorical[c];
      if (f.name != name) continue;
      found = true;
      std::vector<int> hits;
      std::size_t s = 0;
      while (s <= value.size()) {
        std::size_t e = value.find('|', s);
        if (e == std::string_view::npos) e = value.size();
        const std::string v(value.substr(s, e - s));
        s = e + 1;
        const auto it = std::find(f.vocabulary.begin(), f.vocabulary.end(), v);
        if (it != f.vocabulary.end()) hits.push_back(static_cast<int>(it - f.vocabulary.begin()));
      }
      std::sort(hits.begin(), hits.end());
      hits.erase(std::unique(hits.begin(), hits.end()), hits.end());
      for (const int h : hits)
        q[static_cast<std::size_t>(cat_offset_[c] + h)] = weights_.categorical / std::sqrt(static_cast<float>(hits.size()));
    }
    for (std::size_t j = 0; j < meta.numeric.size() && !found; ++j) {
      if (meta.numeric[j].name != name) continue;
      found = true;
      double x = 0;
      if (!parse_number(value, x))
        throw Error("--features: field '" + name + "': '" + std::string(value) + "' is not a number");
      if (std_[j] > 0)
        q[static_cast<std::size_t>(num_offset_) + j] =
            std::clamp(static_cast<float>((x - mean_[j]) / std_[j]), -kZClip, kZClip) * weights_.numeric /
            std::sqrt(static_cast<float>(meta.numeric.size()));
    }
    if (!found) {
      std::string known;
      for (const auto& f : meta.categorical) known += (known.empty() ? "" : ", ") + f.name;
      for (const auto& f : meta.numeric) known += (known.empty() ? "" : ", ") + f.name;
      throw Error("--features: unknown field '" + name + "' (the model's fields: " + (known.empty() ? "none" : known) + ")");
    }
  }
  return unit(std::move(q));
}

void ItemFeatures::cosine(const float* query, float* out) const {
  const index_t n = rows();
  const int d = dims();
  for (index_t r = 0; r < n; ++r) {
    const float* row = rows_.row(r).data();
    float s = 0;
    for (int k = 0; k < d; ++k) s += row[k] * query[k];
    out[r] = s;
  }
}

std::vector<float> ItemFeatures::profile(const std::vector<std::pair<index_t, float>>& history) const {
  std::vector<float> p(static_cast<std::size_t>(dims()), 0.0f);
  for (const auto& [row, w] : history) {
    if (row >= rows()) continue;
    const float* x = rows_.row(row).data();
    for (int k = 0; k < dims(); ++k) p[static_cast<std::size_t>(k)] += w * x[k];
  }
  return unit(std::move(p));
}

// ---- blending --------------------------------------------------------------------------------

void blend_scores(const float* collab, index_t n_model_items, const float* content, index_t rows,
                  const std::vector<float>& counts, const BlendOptions& options, float* out) {
  if (n_model_items > rows || counts.size() < static_cast<std::size_t>(n_model_items))
    throw Error("blend_scores: " + std::to_string(n_model_items) + " model items, " + std::to_string(rows) +
                " metadata rows, " + std::to_string(counts.size()) + " counts");
  if (!(options.shrinkage >= 0)) throw Error("blend: the shrinkage must be >= 0");
  // Standardise each score over the items that can be ranked (collab finite; every row for content).
  auto stats = [](const float* s, index_t n, const float* mask) {
    double sum = 0, sq = 0;
    std::size_t m = 0;
    for (index_t i = 0; i < n; ++i)
      if (std::isfinite(s[i]) && (!mask || std::isfinite(mask[i]))) {
        sum += s[i];
        ++m;
      }
    const double mean = m ? sum / m : 0;
    for (index_t i = 0; i < n; ++i)
      if (std::isfinite(s[i]) && (!mask || std::isfinite(mask[i]))) sq += (s[i] - mean) * (s[i] - mean);
    const double sd = m > 1 ? std::sqrt(sq / m) : 0;
    return std::pair<double, double>(mean, sd > 0 ? sd : 1.0);
  };
  const auto [cm, cs] = stats(collab, n_model_items, nullptr);
  const auto [tm, ts] = stats(content, rows, nullptr);
  const float ninf = -std::numeric_limits<float>::infinity();
  for (index_t i = 0; i < rows; ++i) {
    const double zt = (content[i] - tm) / ts;
    if (i < n_model_items) {
      if (!std::isfinite(collab[i])) {
        out[i] = ninf;
        continue;
      }
      const double n = counts[static_cast<std::size_t>(i)];
      const double w = options.shrinkage > 0 ? n / (n + options.shrinkage) : 1.0;
      out[i] = static_cast<float>(w * (collab[i] - cm) / cs + (1 - w) * zt);
    } else {
      out[i] = static_cast<float>(zt);
    }
  }
}

}  // namespace edgerec
