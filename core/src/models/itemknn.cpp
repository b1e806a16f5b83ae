// Item-based top-N recommendation (Sarwar et al. 2001; Deshpande & Karypis 2004): cosine
// similarity between the items' user columns, keeping each item's `neighbors` most similar items.
//
//   sim(j, i) = sum_u r_uj r_ui / (|r_j| |r_i|)   for i among the top-N neighbours of j, else 0
//   score(u, i) = sum_{j in u's items} r_uj sim(j, i)
//
// r is the interaction's value as given (1 for implicit data, the rating otherwise). The sparse
// neighbour table is the whole model, so a new user's scores need no fold-in at all: it is the
// same sum over the given items. An explanation is that sum's terms.
#include <algorithm>
#include <cmath>

#include "edgerec/model_file.hpp"
#include "io/archive.hpp"
#include "models/factories.hpp"
#include "serve_only.hpp"

namespace edgerec {
namespace {

class ItemKnn final : public Model {
 public:
  // Its model file section: neighbors and the seed, then the neighbour table (a CSR, n_items x
  // n_items).
  static constexpr std::uint32_t kSectionVersion = 1;
  void save_section(SaveArchive& ar) const override;
  void load_section(LoadArchive& ar) override;
  ModelKind kind() const override { return ModelKind::itemknn; }

  Hyper defaults() const override {
    // Chosen by `edgerec tune` on the validation part of the ML-1M NCF training pairs (see
    // models/README.md for the command and the score).
    Hyper h;
    h.neighbors = 6;
    return h;
  }

  void score(index_t user, float* out) const override { accumulate(history(user), out); }

  void score_new(const std::vector<ItemValue>& history, float* out) const override {
    if (history.empty()) {
      popularity_scores(out);
      return;
    }
    accumulate(history, out);
  }

  // The score is the sum of these terms, so the split is exact.
  Attribution explain(const std::vector<ItemValue>& history, index_t item,
                      std::int64_t) const override {
    if (item >= n_items()) throw Error("explain: item index out of range");
    Attribution a;
    for (const auto& h : history) {
      const float s = h.item < n_items() && std::isfinite(h.value) ? h.value * sim(h.item, item) : 0.0f;
      a.weights.push_back({h.item, s});
    }
    a.note = "exact terms value_j * sim(j, item)";
    return a;
  }

  void similar(index_t item, float* out) const override {
    std::fill(out, out + n_items(), 0.0f);
    if (item >= n_items()) return;
    const index_t* cols = neighbors_.row_indices(item);
    const float* vals = neighbors_.row_values(item);
    for (std::size_t e = 0; e < neighbors_.row_size(item); ++e) out[cols[e]] = vals[e];
  }

 protected:
  void fit_impl(const Interactions&, Backend& backend, const Progress& progress) override {
    EDGEREC_TRAINING_ONLY("training");
    const index_t n = n_items();
    const std::size_t keep = static_cast<std::size_t>(*hyper.neighbors);
    const Csr by_item = seen.transpose();
    std::vector<float> norm(n, 0.0f);
    for (index_t i = 0; i < n; ++i) {
      double s = 0;
      for (std::size_t e = 0; e < by_item.row_size(i); ++e) s += double(by_item.row_values(i)[e]) * by_item.row_values(i)[e];
      norm[i] = static_cast<float>(std::sqrt(s));
    }

    // Each chunk fills its own rows; they are joined in chunk order, so the table does not
    // depend on the thread count.
    const int chunks = static_cast<int>(std::max<index_t>(1, std::min<index_t>(n, 64u * static_cast<index_t>(backend.threads()))));
    std::vector<Csr> parts(static_cast<std::size_t>(chunks));
    backend.parallel_for(n, chunks, [&](std::size_t begin, std::size_t end, int chunk) {
      Csr& part = parts[static_cast<std::size_t>(chunk)];
      std::vector<float> acc(n, 0.0f);
      std::vector<index_t> touched;
      std::vector<std::pair<float, index_t>> cand;
      for (std::size_t ii = begin; ii < end; ++ii) {
        const index_t i = static_cast<index_t>(ii);
        touched.clear();
        for (std::size_t e = 0; e < by_item.row_size(i); ++e) {
          const index_t u = by_item.row_indices(i)[e];
          const float w = by_item.row_values(i)[e];
          const index_t* cols = seen.row_indices(u);
          const float* vals = seen.row_values(u);
          for (std::size_t k = 0; k < seen.row_size(u); ++k) {
            const index_t j = cols[k];
            if (acc[j] == 0.0f) touched.push_back(j);
            acc[j] += w * vals[k];
          }
        }
        cand.clear();
        for (const index_t j : touched) {
          const float d = norm[i] * norm[j];
          const float s = d > 0 ? acc[j] / d : 0.0f;
          acc[j] = 0.0f;
          // A cancelled-to-zero sum can be touched twice; the duplicate then has s == 0.
          if (j != i && s > 0 && std::isfinite(s)) cand.push_back({s, j});
        }
        const auto better = [](const std::pair<float, index_t>& a, const std::pair<float, index_t>& b) {
          return a.first > b.first || (a.first == b.first && a.second < b.second);
        };
        if (cand.size() > keep) {
          std::nth_element(cand.begin(), cand.begin() + static_cast<std::ptrdiff_t>(keep), cand.end(), better);
          cand.resize(keep);
        }
        std::sort(cand.begin(), cand.end(),
                  [](const auto& a, const auto& b) { return a.second < b.second; });
        for (const auto& [s, j] : cand) {
          part.indices.push_back(j);
          part.values.push_back(s);
        }
        part.indptr.push_back(part.indices.size());
      }
    });

    neighbors_ = Csr{};
    neighbors_.cols = n;
    for (const Csr& part : parts) {
      const std::uint64_t base = neighbors_.indices.size();
      for (std::size_t r = 1; r < part.indptr.size(); ++r) neighbors_.indptr.push_back(base + part.indptr[r]);
      neighbors_.indices.insert(neighbors_.indices.end(), part.indices.begin(), part.indices.end());
      neighbors_.values.insert(neighbors_.values.end(), part.values.begin(), part.values.end());
    }
    if (progress) progress("itemknn", 1, 1);
  }

 private:
  // sim(j, i) from j's neighbour row, 0 when i is not among them.
  float sim(index_t j, index_t i) const {
    const index_t* first = neighbors_.row_indices(j);
    const index_t* last = first + neighbors_.row_size(j);
    const index_t* it = std::lower_bound(first, last, i);
    return it != last && *it == i ? neighbors_.row_values(j)[it - first] : 0.0f;
  }

  void accumulate(const std::vector<ItemValue>& history, float* out) const {
    std::fill(out, out + n_items(), 0.0f);
    for (const auto& h : history) {
      if (h.item >= n_items() || !std::isfinite(h.value)) continue;
      const index_t* cols = neighbors_.row_indices(h.item);
      const float* vals = neighbors_.row_values(h.item);
      for (std::size_t e = 0; e < neighbors_.row_size(h.item); ++e) out[cols[e]] += h.value * vals[e];
    }
  }

  Csr neighbors_;  // rows = items, each row its top-N neighbours (sorted by column)
 private:
  friend class cereal::access;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    io::section_start(ar, version, kSectionVersion, hyper, io::kNeighbors);
    ar(cereal::make_nvp("neighbors", io::shaped(neighbors_, n_items(), n_items())));
  }
};

}  // namespace
}  // namespace edgerec

EDGEREC_MODEL_SECTION(edgerec::ItemKnn)

namespace edgerec {

std::unique_ptr<Model> make_itemknn() { return std::make_unique<ItemKnn>(); }

}  // namespace edgerec
