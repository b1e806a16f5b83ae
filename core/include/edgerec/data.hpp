// edgerec/data.hpp — interactions, id maps, sparse matrices and the loaders.
//
// Ownership: every type here is a plain value type (copyable, movable) that owns its memory.
// Thread-safety: const methods may be called concurrently; nothing here has hidden shared state.
// Units: ratings are whatever the file holds (MovieLens: 1..5 stars); timestamps are integer
// seconds since the Unix epoch when the file has them. A loaded file without a timestamp column
// gets each row's position in the file instead (1, 2, 3, ...: see Interactions::file_order), so
// that time order is file order; data built in code may leave them 0.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "edgerec/error.hpp"

namespace edgerec {

// Dense index of a user or an item. 32 bits everywhere (the model file, wasm32, the C ABI).
using index_t = std::uint32_t;

// Maps the user's external string ids to dense indices 0..size()-1 in first-seen order.
// Saved inside every model so that every API speaks the user's own ids.
class IdMap {
 public:
  // Returns the index of `id`, adding it when new.
  index_t add(std::string_view id);
  // Returns the index of `id`, or -1 (as int64) when unknown.
  std::int64_t find(std::string_view id) const;
  // Like find() but throws Error("unknown <what> id '<id>'") when unknown.
  index_t at(std::string_view id, const char* what) const;
  const std::string& id(index_t index) const { return ids_[index]; }
  const std::vector<std::string>& ids() const { return ids_; }
  index_t size() const { return static_cast<index_t>(ids_.size()); }
  void reserve(std::size_t n);
  // Rebuilds the map from a list of ids (used by the model reader); throws on duplicates.
  static IdMap from_ids(std::vector<std::string> ids);

 private:
  std::vector<std::string> ids_;
  std::unordered_map<std::string, index_t> index_;
};

// One observed interaction. `value` is the rating for explicit data and 1 for implicit data.
struct Interaction {
  index_t user = 0;
  index_t item = 0;
  float value = 1.0f;
  std::int64_t time = 0;
};

// A set of interactions in coordinate form together with the id maps of its index space.
// Splits of a dataset keep the full id maps, so train and test share one index space.
struct Interactions {
  IdMap users;
  IdMap items;
  std::vector<Interaction> rows;
  bool has_ratings = false;     // values are explicit ratings (not all 1)
  bool has_time = false;        // timestamps were present in the source
  // No timestamps, but the rows' order means something: `time` is each row's 1-based position
  // in the source file (for a `seq-lines` file, the item's position in the file, so a user's
  // line reads oldest first). Set by the loaders for every file without a timestamp column; the
  // papers' sequence files (SASRec, S3-Rec) carry time only this way. Everything that orders by
  // time (duplicate policies, leave-last-out, the seq protocol, ordered histories) therefore
  // sees file order; what needs real timestamps (the temporal split) checks has_time instead.
  // Never both true.
  bool file_order = false;
  std::string source;           // file name or "synthetic(...)", for messages and model metadata

  index_t n_users() const { return users.size(); }
  index_t n_items() const { return items.size(); }
  std::size_t size() const { return rows.size(); }
  // Same id maps and flags, no rows (to build a split).
  Interactions empty_like() const;
};

// Compressed sparse rows. Row r holds columns indices[indptr[r] .. indptr[r+1]) sorted ascending,
// with values alongside. Built from Interactions by user (rows = users) or by item. Each (row,
// column) is stored once: should the data still hold a repeated pair (DuplicatePolicy::keep),
// the value of its last occurrence in row order wins. Building throws Error when a row refers
// to an index outside the id maps.
struct Csr {
  std::vector<std::uint64_t> indptr{0};
  std::vector<index_t> indices;
  std::vector<float> values;
  index_t cols = 0;

  index_t rows() const { return static_cast<index_t>(indptr.size() - 1); }
  std::size_t nnz() const { return indices.size(); }
  std::size_t row_size(index_t r) const { return indptr[r + 1] - indptr[r]; }
  const index_t* row_indices(index_t r) const { return indices.data() + indptr[r]; }
  const float* row_values(index_t r) const { return values.data() + indptr[r]; }
  // True when column c is present in row r (binary search).
  bool contains(index_t r, index_t c) const;

  static Csr by_user(const Interactions& data);
  static Csr by_item(const Interactions& data);
  // Transpose (rows become columns).
  Csr transpose() const;
};

// ---- Loading -------------------------------------------------------------------------------

enum class Format {
  auto_detect,  // sniff from name and first lines
  ml100k,       // u.data: user \t item \t rating \t timestamp
  ml1m,         // ratings.dat: user::item::rating::timestamp
  ml_latest,    // ratings.csv with header userId,movieId,rating,timestamp
  csv,          // generic delimited user,item[,rating[,timestamp]]
  ncf,          // *.train.pairs.tsv (user item) or *.train.rating (user item rating time)
  seq_pairs,    // "seq-pairs": `user item`, one interaction per line in time order (SASRec,
                // BERT4Rec data files)
  seq_lines,    // "seq-lines": `user item1 item2 ...`, one user per line, items oldest first
                // (S3-Rec's Beauty.txt and its successors)
};
// Ids: MovieLens and NCF ids must be non-negative integers of at most 20 digits that fit in 64
// bits (leading zeros dropped: "007" is "7"); csv ids are any non-empty valid UTF-8 text of at
// most 256 bytes without control characters (surrounding spaces trimmed, RFC 4180 quotes
// honoured). Every line must have the format's number of fields (csv: the most common count
// among the first 64 lines; a rating/time column beyond it means the file has none). Blank
// lines are ignored; a UTF-8 byte order mark is skipped.
//
// The sequence formats (seq-pairs, seq-lines) have integer ids as above, fields separated by
// spaces or tabs (runs count as one), no ratings (value 1) and no timestamps: each row's time is
// its position in the file (Interactions::file_order). seq-lines: every line is one user's
// items, oldest first; a user on several lines gets them all in file order. A line with a bad
// id, or a user without items, is rejected whole (dropping one item would silently make its
// neighbours consecutive), and counts one rejected record per item (LoadReport::records); a
// line longer than LoadOptions::max_line_bytes (1 MiB by default: some 150,000 six-digit items)
// is rejected as one record.
// Repeated items in a sequence follow LoadOptions::duplicates like any repeated pair: the default
// `last` keeps one interaction at the item's latest position; `keep` keeps every occurrence, as
// the SASRec reference code does (protocols then rank a held-out item that repeats one of the
// user's training items as an item the user has seen: see eval.hpp).
//
// Sniffing (Format::auto_detect), in this order:
//   1. by name: *.train.rating, *.test.rating, *.pairs.tsv -> ncf;
//   2. a first line with "::" -> ml1m; one starting "userId,movieId" -> ml-latest;
//   3. by name: u.data, u1..u5/ua/ub .base/.test -> ml100k;
//   4. by content of the first 64 lines, when every line is two or more non-negative integers
//      separated by spaces or tabs:
//        - exactly two on every line, and each user's lines adjacent -> seq-pairs;
//        - each line's first integer (the user) different, and the lines' lengths differ or all
//          have more than four fields -> seq-lines;
//   5. otherwise csv.
// A `user item` file cannot be told from an NCF pairs file or a two-column CSV by its content;
// all three give the same rows in the same order (ids "007" and "7" are one id in ncf and seq-*,
// two in csv), so the name only says which rule matched. A sequence file whose first 64 users
// all have the same number of items, at most three, or that lists a user twice among its first
// 64 lines, reads as csv by content: name the format (--format seq-lines) for such a file.
const char* format_name(Format f);
Format parse_format(std::string_view name);  // throws Error on an unknown name

// What to do with a (user, item) pair seen more than once. The merged row keeps the position of
// the pair's first occurrence in the file.
//   last:  the value and time of the latest row by timestamp (equal times: later in the file)
//   first: the value and time of the earliest row by timestamp (equal times: earlier in the file)
//   mean / max / sum: that of the values, with the latest time
//   keep:  no merging (models and Csr then see each pair once, with its last value)
enum class DuplicatePolicy { last, first, mean, max, sum, keep };
DuplicatePolicy parse_duplicate_policy(std::string_view name);
const char* duplicate_policy_name(DuplicatePolicy p);

// Data files are read whole into memory (then parsed in place). Regular files and pipes are
// read; directories, devices (/dev/zero) and sockets are refused, and so is a file or stream of
// more than this many bytes (4 GiB: MovieLens 32M's ratings.csv is 0.9 GB), so an endless
// stream gives an Error instead of exhausting memory. The NCF test files have the same limit.
constexpr std::uint64_t kMaxDataFileBytes = std::uint64_t{4} << 30;

struct LoadOptions {
  Format format = Format::auto_detect;
  char delimiter = 0;              // csv: 0 = sniff among ',', '\t', ';', '|', ' '
  bool header = false;             // csv: skip the first line (sniffed when auto_detect)
  int user_col = 0, item_col = 1;  // csv: 0-based columns
  int rating_col = 2;              // csv: -1 = no rating (implicit, value 1)
  int time_col = 3;                // csv: -1 = no timestamp
  bool strict = false;             // fail on the first bad row instead of skipping it
  float min_rating = -1e30f;       // ratings outside [min_rating, max_rating] are rejected
  float max_rating = 1e30f;
  DuplicatePolicy duplicates = DuplicatePolicy::last;  // `last` by timestamp, then file order
  // Explicit -> implicit: keep rows with rating >= threshold and set their value to 1. NaN = off.
  float implicit_threshold = std::numeric_limits<float>::quiet_NaN();
  int kcore = 0;                   // iteratively drop users and items with fewer interactions
  std::size_t max_line_bytes = 1 << 20;  // longer lines are rejected (a 10 MB line is garbage)
  // The file is read whole into memory; a longer file or stream is refused (kMaxDataFileBytes).
  std::uint64_t max_file_bytes = kMaxDataFileBytes;
};

// One rejected row, reported with its location.
struct RejectedRow {
  std::uint64_t line = 0;
  std::string field;    // "user", "item", "rating", "timestamp", "line"
  std::string reason;
};

struct LoadReport {
  // Every data record is accounted for:
  // records = accepted + rejected + duplicates + below_threshold + kcore_removed.
  std::uint64_t lines = 0;        // non-blank data lines read (header excluded)
  // Interactions read: one per line, except seq-lines, where each item of a line is one (a
  // line without items counts one, so that its rejection is counted).
  std::uint64_t records = 0;
  std::uint64_t accepted = 0;     // interactions left after cleaning
  std::uint64_t rejected = 0;     // records rejected (a rejected seq-lines line: all its items)
  std::uint64_t duplicates = 0;   // rows merged by the duplicate policy
  std::uint64_t below_threshold = 0;
  std::uint64_t kcore_removed = 0;
  std::vector<RejectedRow> first_rejections;  // at most 20 kept for the message
  Format format = Format::auto_detect;        // the format actually used
  std::string summary() const;                // one human line
};

// Detects the format of `path` from its name and first lines.
Format detect_format(const std::string& path);

// Loads interactions from a file. Throws Error naming file, line and field on a bad row in
// strict mode, on unreadable files and when nothing valid remains.
Interactions load_interactions(const std::string& path, const LoadOptions& options = {},
                               LoadReport* report = nullptr);

// The same for a file's bytes already in memory (an embedder's buffer, the fuzz targets).
// `name` stands for the path: in messages, as Interactions::source, and for format sniffing
// by file name (Format::auto_detect). LoadOptions::max_file_bytes does not apply.
Interactions load_interactions_from_memory(std::string_view bytes, const std::string& name,
                                           const LoadOptions& options = {},
                                           LoadReport* report = nullptr);

// Applies duplicate policy, implicit threshold and k-core to `data` in place (load calls this),
// in that order, then re-indexes the id maps densely: every id left in the maps has at least one
// interaction, survivors keep their first-seen order. (So never call it on one side of a split,
// whose maps must stay shared.) Adds to the report's counters and sets `accepted` to the rows
// left; has_ratings becomes false when every value is 1. Throws Error when rows were given and
// none is left.
void clean_interactions(Interactions& data, const LoadOptions& options, LoadReport* report);

// The NCF leave-one-out test files: for each user its held-out item and the sampled negatives.
// Ids are looked up in `data`'s maps (NCF files use the same integer ids as the train file).
struct NcfTest {
  std::vector<index_t> users;
  std::vector<index_t> positives;              // positives[i] is user users[i]'s held-out item
  std::vector<std::vector<index_t>> negatives; // the 99 given negatives of users[i]
};
// `test_rating`: "user\titem[\t...]" per line; `test_negative`: "(user,item)\tneg1\tneg2..." .
// Items unseen in training are added to data.items so they can still be ranked (scored as cold).
// Both files are fixed formats: any bad line, a user unknown to `data` or a test case without its
// negatives line throws Error naming file, line and field. `test_negative` may be "" (no sampled
// negatives: full-ranking metrics only). A negative that repeats on its line or is the held-out
// item itself is dropped, as NCF's reference evaluation (a dict of scores) effectively does.
NcfTest load_ncf_test(const std::string& test_rating, const std::string& test_negative,
                      Interactions& data);
// The same from the files' bytes; `*_name` stand for the paths in messages, and
// `test_negative == nullptr` means no negatives file.
NcfTest load_ncf_test_from_memory(std::string_view test_rating, const std::string& rating_name,
                                  const std::string_view* test_negative,
                                  const std::string& negative_name, Interactions& data);

// ---- Synthetic catalogue -------------------------------------------------------------------

struct SyntheticOptions {
  index_t users = 2000;
  index_t items = 1000;
  std::uint64_t interactions = 60000;  // target count (before duplicate removal)
  int clusters = 12;                   // latent taste clusters
  int genres = 18;                     // genres, each item has 1..3
  float popularity_exponent = 1.0f;    // Zipf exponent of item popularity
  bool ratings = true;                 // 1..5 star ratings, else implicit
  std::uint64_t seed = 42;
};

// A synthetic catalogue: users in taste clusters, items with genres and Zipf popularity,
// timestamps increasing per user. Same options + seed give the same data on every platform.
struct SyntheticCatalogue {
  Interactions data;
  std::vector<std::string> item_titles;           // "Item 17 (Drama|Comedy)"-like names
  std::vector<std::vector<int>> item_genres;      // genre indices per item
  std::vector<std::string> genre_names;
};
SyntheticCatalogue generate_synthetic(const SyntheticOptions& options);
// Writes "user,item,rating,timestamp" with a header (ids as given, RFC 4180-quoted when needed),
// atomically (temporary file, then rename). Throws Error naming the path when it cannot write.
void write_csv(const Interactions& data, const std::string& path);
// The catalogue's interactions as above, and items.csv beside it ("item,title,genres", genres
// joined by '|').
void write_csv(const SyntheticCatalogue& catalogue, const std::string& path);

}  // namespace edgerec
