// The item metadata section of the model file (see edgerec/model_file.hpp, format version 4).
#include "meta/item_meta_io.hpp"

#include <algorithm>
#include <unordered_set>

#include "edgerec/item_meta.hpp"

namespace edgerec {
namespace {

constexpr std::uint32_t kMaxFields = 1024;
constexpr std::uint64_t kMaxRows = std::numeric_limits<std::int32_t>::max();

// The section as cereal sees it: a class with its own version, so the section can change
// without a format version bump.
struct ItemMetaSection {
  static constexpr std::uint32_t kSectionVersion = 1;
  const Model* model;
  ItemMeta* meta;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    using cereal::make_nvp;
    constexpr bool loading = Archive::is_loading::value;
    if constexpr (loading)
      if (version == 0 || version > kSectionVersion)
        ar.fail("section version " + std::to_string(version) + (version == 0 ? " is invalid" : " is newer than this edgerec reads (" + std::to_string(kSectionVersion) + "); upgrade edgerec"));
    ItemMeta& m = *meta;
    const index_t n_items = model->n_items();
    // Rows below n_items are the model's items: only the cold items' ids are stored.
    std::vector<std::string> cold;
    std::vector<index_t> undescribed, no_vector;
    std::uint32_t n_cat = 0, n_num = 0;
    if constexpr (!loading) {
      cold.assign(m.ids.ids().begin() + n_items, m.ids.ids().end());
      for (index_t r = 0; r < m.rows(); ++r)
        if (!m.described[r]) undescribed.push_back(r);
      n_cat = static_cast<std::uint32_t>(m.categorical.size());
      n_num = static_cast<std::uint32_t>(m.numeric.size());
    }
    ar(make_nvp("source", m.source), make_nvp("cold_ids", io::at_most(cold, kMaxRows - n_items)));
    index_t rows = 0;
    if constexpr (loading) {
      std::vector<std::string> ids(model->items.ids());
      ids.insert(ids.end(), cold.begin(), cold.end());
      try {
        m.ids = IdMap::from_ids(std::move(ids));
      } catch (const Error& e) {
        ar.fail("cold_ids", e.what());
      }
    }
    rows = m.rows();
    ar(make_nvp("undescribed", io::at_most(undescribed, rows, rows)),
       make_nvp("titles", io::at_most(m.titles, rows)),
       make_nvp("categorical", n_cat));
    if constexpr (loading) {
      m.described.assign(rows, 1);
      for (const index_t r : undescribed) m.described[r] = 0;
      if (m.titles.size() != rows) ar.fail("titles", "has " + std::to_string(m.titles.size()) + " entries, expected one per row (" + std::to_string(rows) + ")");
      if (n_cat > kMaxFields) ar.fail("categorical", std::to_string(n_cat) + " fields, at most " + std::to_string(kMaxFields));
      m.categorical.assign(n_cat, {});
    }
    for (auto& f : m.categorical) {
      ar(make_nvp("name", f.name), make_nvp("vocabulary", io::at_most(f.vocabulary, kMaxElements)),
         make_nvp("offsets", io::at_most(f.offsets, std::uint64_t{rows} + 1)));
      // Its bound is the vocabulary just read (a separate call: arguments are evaluated first).
      ar(make_nvp("codes", io::at_most(f.codes, kMaxElements, static_cast<index_t>(f.vocabulary.size()))));
    }
    ar(make_nvp("numeric", n_num));
    if constexpr (loading) {
      if (n_num > kMaxFields) ar.fail("numeric", std::to_string(n_num) + " fields, at most " + std::to_string(kMaxFields));
      m.numeric.assign(n_num, {});
    }
    for (auto& f : m.numeric) {
      std::vector<index_t> missing;
      if constexpr (!loading)
        for (index_t r = 0; r < rows; ++r)
          if (!f.present[r]) missing.push_back(r);
      ar(make_nvp("name", f.name), make_nvp("values", io::at_most(f.values, rows)),
         make_nvp("missing", io::at_most(missing, rows, rows)));
      if constexpr (loading) {
        f.present.assign(rows, 1);
        for (const index_t r : missing) f.present[r] = 0;
      }
    }
    if constexpr (!loading)
      if (!m.has_vector.empty())
        for (index_t r = 0; r < rows; ++r)
          if (!m.has_vector[r]) no_vector.push_back(r);
    std::uint8_t has_vectors = m.has_vector.empty() ? 0 : 1;
    ar(make_nvp("vectors", has_vectors));
    if constexpr (loading)
      if (has_vectors > 1) ar.fail("vectors", "presence flag is " + std::to_string(has_vectors) + ", expected 0 or 1");
    if (has_vectors) {
      ar(make_nvp("vectors.matrix", io::shaped(m.vectors, rows, -1)),
         make_nvp("vectors.missing", io::at_most(no_vector, rows, rows)));
      if constexpr (loading) {
        if (m.vectors.cols() < 1 || m.vectors.cols() > 4096) ar.fail("vectors.matrix", std::to_string(m.vectors.cols()) + " columns, expected 1..4096");
        m.has_vector.assign(rows, 1);
        for (const index_t r : no_vector) m.has_vector[r] = 0;
      }
    }
    if constexpr (loading) {
      try {
        m.check();
      } catch (const Error& e) {
        ar.fail(e.what());
      }
    }
  }
};

}  // namespace
}  // namespace edgerec

CEREAL_CLASS_VERSION(edgerec::ItemMetaSection, edgerec::ItemMetaSection::kSectionVersion)

namespace edgerec {

void save_item_meta_section(SaveArchive& ar, const Model& m) {
  const std::uint8_t has = m.item_meta ? 1 : 0;
  ar(cereal::make_nvp("item_meta", has));
  if (!has) return;
  const ItemMeta& meta = *m.item_meta;
  try {
    meta.check();
  } catch (const Error& e) {
    throw Error(std::string("cannot save the model: ") + e.what());
  }
  if (meta.rows() < m.n_items() ||
      !std::equal(m.items.ids().begin(), m.items.ids().end(), meta.ids.ids().begin()))
    throw Error("cannot save the model: its item metadata's first rows are not the model's items (align_item_meta)");
  ItemMetaSection s{&m, const_cast<ItemMeta*>(&meta)};
  ar(cereal::make_nvp("item_meta", s));
}

void load_item_meta_section(LoadArchive& ar, Model& m) {
  std::uint8_t has = 0;
  ar(cereal::make_nvp("item_meta", has));
  if (has > 1) ar.fail("item_meta", "presence flag is " + std::to_string(has) + ", expected 0 or 1");
  m.item_meta.reset();
  if (!has) return;
  auto meta = std::make_shared<ItemMeta>();
  ItemMetaSection s{&m, meta.get()};
  ar(cereal::make_nvp("item_meta", s));
  m.item_meta = std::move(meta);
}

}  // namespace edgerec
