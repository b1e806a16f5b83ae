// edgerec/item_meta.hpp — item metadata (titles, categorical fields such as genres, numeric
// columns, precomputed content vectors), its loaders, the content feature vectors built from it,
// and content-based (cold-start) scoring.
//
// A model may carry an ItemMeta (Model::item_meta; the optional section of model format v4).
// Its rows are laid out against the model's item index, so no mapping table is needed:
//   rows [0, model.n_items())  are the model's items, row r = item index r (same id); a model
//                              item the metadata file does not list has described[r] == 0 and
//                              empty fields;
//   rows [model.n_items(), rows())  are the cold items: listed in the metadata (or vector) file
//                              but absent from the training interactions, in file order. The
//                              collaborative model cannot score them; content_scores() can.
// So `row < model.n_items()` is the test for "the model knows this item".
//
// Ownership and threads: an ItemMeta is a plain value; a Model holds it through a
// shared_ptr<const ItemMeta> and never changes it after training or loading, so every const
// function here is safe from many threads. ItemFeatures is immutable after construction.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "edgerec/backend.hpp"
#include "edgerec/data.hpp"
#include "edgerec/recommender.hpp"

namespace edgerec {

class Model;

struct ItemMeta {
  // A categorical field: each row holds zero or more values (genres "Action|Comedy" is two).
  struct Categorical {
    std::string name;                       // the header's column name, e.g. "genres"
    std::vector<std::string> vocabulary;    // distinct values, first-seen order
    std::vector<std::uint64_t> offsets{0};  // rows + 1: row r's values are codes[offsets[r], offsets[r+1])
    std::vector<index_t> codes;             // indices into vocabulary, each row's distinct and ascending
  };
  // A numeric field: one finite value per row, or missing.
  struct Numeric {
    std::string name;
    std::vector<float> values;            // rows entries; 0 where missing
    std::vector<std::uint8_t> present;    // rows entries, 1 where the row has a value
  };

  IdMap ids;                              // row ids (see the layout above)
  std::vector<std::uint8_t> described;    // 1 where the row came from the metadata file
  std::vector<std::string> titles;        // "" when none
  std::vector<Categorical> categorical;
  std::vector<Numeric> numeric;
  Matrix vectors;                         // rows x dims content vectors (0 x 0 when none given)
  std::vector<std::uint8_t> has_vector;   // rows entries (empty when no vectors)
  std::string source;                     // the metadata file's name (no directories), for info

  index_t rows() const { return ids.size(); }
  // Row of `id`, or -1.
  std::int64_t find(std::string_view id) const { return ids.find(id); }
  // The categorical field named `name`, or nullptr.
  const Categorical* field(std::string_view name) const;
  // Row r's values of a categorical field, as text.
  std::vector<std::string> values(const Categorical& f, index_t row) const;
  // Throws Error when the parts disagree (sizes, offsets, codes, duplicate names): what the model
  // reader and the savers call, so an inconsistent ItemMeta never reaches a file.
  void check() const;
};

// ---- Loading --------------------------------------------------------------------------------

// Metadata file formats, recognised by item_meta_format() from the name and first line:
//   ml100k-items  MovieLens 100K u.item: id|title|release date|video release|IMDb URL|19 genre
//                 flags (0/1, in u.genre's order), ISO-8859-1. Gives title, "genres", and
//                 numeric "year" (of the release date).
//   ml1m-items    MovieLens 1M movies.dat: id::title::genres ('|'-separated), ISO-8859-1.
//   ml-latest-items  movies.csv (ML-20M, ML-latest): header movieId,title,genres, UTF-8,
//                 RFC 4180 quotes; "(no genres listed)" means none.
//                 Both give title, "genres", and numeric "year" from a trailing "(1995)" in the title.
//   csv           any delimited file with a header naming the columns (see ItemMetaOptions).
// User-feature files (load_user_meta(), below):
//   ml100k-users  MovieLens 100K u.user: user id|age|gender|occupation|zip code, no header.
//   ml1m-users    MovieLens 1M users.dat: UserID::Gender::Age::Occupation::Zip-code.
//                 Both give categorical "gender" (M or F) and "occupation", numeric "age"; the
//                 zip code is not read (load.cpp says why).
enum class ItemMetaFormat { auto_detect, ml100k_items, ml1m_items, ml_latest_items, csv, ml100k_users, ml1m_users };
const char* item_meta_format_name(ItemMetaFormat f);

struct ItemMetaOptions {
  ItemMetaFormat format = ItemMetaFormat::auto_detect;
  // csv: field delimiter; 0 = sniffed from the header among ',', '\t', ';'.
  char delimiter = 0;
  // csv: separator of the values of a multi-valued categorical field.
  char separator = '|';
};

// The generic csv layout: a header line names the columns; each name may end in a type,
// "name:type", with type one of
//   id      the item id (default: the column named id, item, item_id, itemId or movieId, else
//           the first column); ids are matched to the interaction file's ids as text, trimmed;
//   title   the display title (default: the column named title or name);
//   cat     categorical, multi-valued with `separator` (e.g. genres "Action|Comedy");
//   num     numeric (a finite number, or empty for missing);
//   skip    ignored.
// Untyped columns are numeric when every non-empty value in the file is a number, else
// categorical. Fields are trimmed; RFC 4180 quotes are honoured; the file must be UTF-8.
// Errors (a missing header, a duplicate id, a wrong field count, a non-numeric value in a num
// column, invalid UTF-8) throw Error naming the file, line and field.
ItemMetaFormat item_meta_format(const std::string& path);
// Reads a metadata file into an ItemMeta whose rows are the file's items in file order (every
// row described). Throws Error as above.
ItemMeta load_item_meta(const std::string& path, const ItemMetaOptions& options = {});
ItemMeta load_item_meta_from_memory(std::string_view bytes, const std::string& name,
                                    const ItemMetaOptions& options = {});

// Content vectors: one line per item, "id,f1,f2,..." (',' or tab or space separated, sniffed
// from the first line; an optional header line whose second field is not a number). Every row
// has the same number of floats (1..4096), each finite. Adds them to `meta` (rows of `meta`
// get their vector; ids `meta` lacks become new, undescribed rows). Throws Error naming file,
// line and field.
void load_item_vectors(ItemMeta& meta, const std::string& path);
void load_item_vectors_from_memory(ItemMeta& meta, std::string_view bytes, const std::string& name);

// ---- User features ---------------------------------------------------------------------------
//
// A user-feature file (demographics: `edgerec train --user-meta`, read by two-tower's user tower)
// has the structure of an item metadata file, an id column and categorical and numeric columns,
// so it is read by the same parsers into the same struct: a UserMeta is an ItemMeta whose rows
// are users (titles stay empty, no content vectors). The csv format is ItemMetaOptions' with the
// user id column's default names: id, user, user_id or userId, else the first column; a "title"
// column, if any, is read and ignored by the features. MovieLens u.user and users.dat are
// recognised (above). Errors as for item metadata: file, line and field ("users.csv:3: field
// 'age': 'x' is not a number"; a user listed twice; "no users").
using UserMeta = ItemMeta;
ItemMetaFormat user_meta_format(const std::string& path);
UserMeta load_user_meta(const std::string& path, const ItemMetaOptions& options = {});
UserMeta load_user_meta_from_memory(std::string_view bytes, const std::string& name,
                                    const ItemMetaOptions& options = {});

// What align_item_meta() / align_user_meta() did, for the CLI's report.
struct ItemMetaReport {
  std::size_t rows = 0;            // rows of the metadata (file order)
  std::size_t matched = 0;         // of them, items of the model
  std::size_t cold = 0;            // of them, items without training interactions
  std::size_t undescribed = 0;     // model items the metadata does not list
};
// Reorders `meta` (file order) into the layout against `items` (the model's item ids): row r <
// items.size() is item r, the rest are the cold items in file order.
ItemMeta align_item_meta(const ItemMeta& meta, const IdMap& items, ItemMetaReport* report = nullptr);
// Reorders `meta` against `users` (the model's user ids): exactly users.size() rows, row r user
// r; a user the file does not list is undescribed (a zero feature row). The file's users without
// training interactions are dropped (report->cold counts them): a model keeps no vector for them,
// and leaving them out keeps the z-scores of the numeric fields a statistic of the training users.
UserMeta align_user_meta(const UserMeta& meta, const IdMap& users, ItemMetaReport* report = nullptr);

// ---- Content features ------------------------------------------------------------------------

// One feature vector per row, for cosine similarity between items:
//   - each categorical field: a one-hot block over its vocabulary, 1/sqrt(n) on each of the
//     row's n values (a unit block; an item with no value has a zero block);
//   - the numeric fields: one block of z-scores, (x - mean) / std over the rows that have a
//     value (clipped to [-3, 3]; missing or constant: 0), divided by sqrt(number of fields);
//   - the content vectors: the row's vector scaled to unit length (zero when the row has none);
// each block times its weight (FeatureWeights), then the whole row scaled to unit length, so the
// dot product of two rows is their cosine. A row with no feature at all is the zero vector and
// has cosine 0 with every item.
struct FeatureWeights {
  float categorical = 1.0f;  // per categorical field
  float numeric = 1.0f;
  float vectors = 1.0f;
};

class ItemFeatures {
 public:
  ItemFeatures(const ItemMeta& meta, const FeatureWeights& weights = {});
  int dims() const { return static_cast<int>(rows_.cols()); }
  index_t rows() const { return static_cast<index_t>(rows_.rows()); }
  // Row r's unit feature vector (or zeros).
  const Matrix& matrix() const { return rows_; }
  // The feature vector of an item given only a description (`similar --features`):
  // "field=v1|v2;field2=3.5;title=..." — categorical fields take values (unknown values are
  // ignored: no item shares them), numeric fields a number; `title` is ignored. Throws Error
  // naming an unknown field or a malformed number.
  std::vector<float> describe(std::string_view description) const;
  // Cosine of every row with `query` (dims() floats, any length) into out (rows() floats).
  void cosine(const float* query, float* out) const;
  // Per numeric field (ItemMeta::numeric order), the mean and standard deviation of its z-score
  // (the deviation is 0 when the field is constant or has fewer than two values: it then
  // contributes nothing).
  const std::vector<float>& numeric_mean() const { return mean_; }
  const std::vector<float>& numeric_std() const { return std_; }
  // The weighted mean of the rows of `history` (row, weight) — a user's content profile.
  std::vector<float> profile(const std::vector<std::pair<index_t, float>>& history) const;

 private:
  const ItemMeta* meta_;
  FeatureWeights weights_;
  Matrix rows_;
  std::vector<int> cat_offset_;   // first column of each categorical field's block
  int num_offset_ = 0, vec_offset_ = 0;
  std::vector<float> mean_, std_;  // per numeric field
  std::vector<float> unit(std::vector<float> v) const;
};

// How content and collaborative scores are blended (Model-independent, see blend_scores()):
// an item with n training interactions gets
//   s = w(n) * z_collab + (1 - w(n)) * z_content,   w(n) = n / (n + shrinkage),
// where z_collab and z_content are the two scores standardised (z-scores) over the items being
// ranked; an item the model does not know (a cold row) has n = 0, so s = z_content. With
// shrinkage 0 every known item keeps its collaborative score (w = 1).
struct BlendOptions {
  float shrinkage = 20.0f;  // interactions at which both scores weigh the same
};
// Blends into out (rows() floats): collab has model.n_items() scores (NaN/-inf = excluded),
// content has rows() cosines; counts are the model's item_popularity. Excluded items stay
// -infinity.
void blend_scores(const float* collab, index_t n_model_items, const float* content,
                  index_t rows, const std::vector<float>& counts, const BlendOptions& options,
                  float* out);

// ---- Cold start --------------------------------------------------------------------------------

struct ColdStartOptions {
  int k = 10;
  bool exclude_seen = true;  // skip the user's own items
  // "field=v1|v2": only items having one of these values of a categorical field (e.g.
  // "genres=Action"); "" = every item. An unknown field is an Error; an unknown value matches
  // nothing.
  std::string filter;
  BlendOptions blend;
};

// Serving over every metadata row, cold items included: content scores (cosine between the
// user's content profile, the value-weighted mean of the feature rows of the user's items, and
// each item's features) blended with the model's collaborative scores by blend_scores(). For a
// new user with no item the model knows, the collaborative part is the model's popularity
// scores (Model::score_new of an empty history), so a brand-new user gets popularity, within
// the filter. A model that embeds items from their metadata (Model::cold_item_factors(): two-tower)
// instead ranks every row by its own scores, the cold rows by their item-tower vectors, whenever
// it has a user vector (a known user, or a new user with an item the model knows); similar()
// then is the cosine in its item space, and so is similar_to() where the model embeds a
// description (Model::item_vector_described). Holds a reference to the model (which must outlive it)
// and its own features and scratch: one ColdStart per thread.
class ColdStart {
 public:
  // Throws Error when the model has no item metadata.
  explicit ColdStart(const Model& model, const FeatureWeights& weights = {});
  // A known user (training history).
  std::vector<Recommendation> recommend(const std::string& user, const ColdStartOptions& options);
  // A new user from their items (model items and cold items both count; unknown ids are
  // ignored and counted in *ignored).
  std::vector<Recommendation> recommend_for(const std::vector<UserInteraction>& history,
                                            const ColdStartOptions& options, int* ignored = nullptr);
  // The k items most similar by content (cosine of features) to any metadata row, itself excluded;
  // for two-tower (unless content_only) the cosine in its item space, *by_model (if given) set.
  std::vector<Recommendation> similar(const std::string& item, int k, bool content_only = false,
                                      bool* by_model = nullptr);
  // The k items most similar to an item given only its description (ItemFeatures::describe):
  // for a model with an item tower (Model::item_vector_described: two-tower), the cosine in its
  // item space between the tower's vector of the description and every row's vector, as
  // similar() ranks a cold row; otherwise, or with content_only, the cosine of content features.
  // *by_model (if given) says which.
  std::vector<Recommendation> similar_to(std::string_view description, int k, bool content_only = false,
                                         bool* by_model = nullptr);
  // 1 per row that passes `filter` (ColdStartOptions::filter); all ones for "".
  std::vector<std::uint8_t> filter_rows(std::string_view filter) const;
  const ItemFeatures& features() const { return features_; }

 private:
  std::vector<Recommendation> rank(const std::vector<ItemValue>& collab_history, std::int64_t user,
                                   const std::vector<std::pair<index_t, float>>& rows,
                                   const ColdStartOptions& options);
  void item_space_cosine(const float* q);
  const Model& model_;
  const ItemMeta& meta_;
  ItemFeatures features_;
  std::vector<float> collab_, content_, blended_;
};

}  // namespace edgerec
