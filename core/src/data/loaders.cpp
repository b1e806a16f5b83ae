// The interaction loaders: format sniffing, one parser driven by a per-format spec, and the
// rejection bookkeeping. The whole file is read at once and parsed in place with from_chars.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "edgerec/data.hpp"
#include "text.hpp"

namespace edgerec {
namespace {

constexpr std::size_t kSniffBytes = 64 * 1024;
constexpr int kSniffLines = 64;
constexpr std::size_t kMaxKeptRejections = 20;
// Integer ids below this use a direct table instead of hashing their text (MovieLens and NCF
// ids are small); 4M slots cost at most 16 MB.
constexpr std::uint64_t kDirectIds = 1u << 22;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Complete, non-blank lines of the sniffed head (a cut-off last line is left out).
std::vector<std::string_view> head_lines(std::string_view head, bool whole_file, int max_lines) {
  std::vector<std::string_view> out;
  if (!whole_file) {
    const std::size_t last_nl = head.rfind('\n');
    head = last_nl == std::string_view::npos ? std::string_view() : head.substr(0, last_nl + 1);
  }
  text::LineReader reader(head);
  std::string_view line;
  while (static_cast<int>(out.size()) < max_lines && reader.next(line)) {
    if (!text::is_blank(line)) out.push_back(line);
  }
  return out;
}

bool is_ml100k_name(std::string_view name) {
  // u.data and the u1..u5 / ua / ub .base/.test splits that ship with it.
  if (name == "u.data") return true;
  if (name.size() == 7 && name[0] == 'u' && (text::ends_with(name, ".base") ||
                                             text::ends_with(name, ".test"))) {
    const char c = name[1];
    return (c >= '1' && c <= '5') || c == 'a' || c == 'b';
  }
  return false;
}

// Step 4 of the sniffing rules in data.hpp: the papers' sequence files, by content. Every line
// must be two or more non-negative integers separated by spaces or tabs.
Format sniff_sequence(const std::vector<std::string_view>& lines) {
  if (lines.empty()) return Format::csv;
  std::vector<std::uint64_t> users;
  int min_fields = std::numeric_limits<int>::max(), max_fields = 0;
  for (std::string_view line : lines) {
    int n = 0;
    bool integers = true;
    std::uint64_t user = 0;
    text::for_each_token(line, [&](std::string_view t) {
      std::uint64_t v = 0;
      std::string_view canonical;
      if (!integers || text::parse_uint_id(t, v, canonical) != nullptr) {
        integers = false;
        return;
      }
      if (n++ == 0) user = v;
    });
    if (!integers || n < 2) return Format::csv;
    users.push_back(user);
    min_fields = std::min(min_fields, n);
    max_fields = std::max(max_fields, n);
  }
  std::vector<std::uint64_t> sorted = users;
  std::sort(sorted.begin(), sorted.end());
  const bool distinct = std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end();
  if (max_fields == 2) {
    // seq-pairs: a user's interactions are consecutive lines (each user's history in order).
    std::size_t runs = 1;
    for (std::size_t i = 1; i < users.size(); ++i) runs += users[i] != users[i - 1];
    const std::size_t users_seen =
        static_cast<std::size_t>(std::unique(sorted.begin(), sorted.end()) - sorted.begin());
    return runs == users_seen ? Format::seq_pairs : Format::csv;
  }
  // A delimited file has one field count; a user's line is as long as their history. More than
  // four integer fields on every line is no csv layout edgerec reads either.
  if (distinct && (min_fields != max_fields || min_fields > 4)) return Format::seq_lines;
  return Format::csv;
}

Format detect_from(std::string_view path, std::string_view head, bool whole_file) {
  const std::string name = lower(text::base_name(path));
  if (text::ends_with(name, ".train.rating") || text::ends_with(name, ".test.rating") ||
      text::ends_with(name, ".pairs.tsv")) {
    return Format::ncf;
  }
  const std::vector<std::string_view> lines = head_lines(head, whole_file, 1);
  const std::string_view first = lines.empty() ? std::string_view() : lines[0];
  if (first.find("::") != std::string_view::npos) return Format::ml1m;
  if (text::starts_with(lower(first.substr(0, 15)), "userid,movieid")) return Format::ml_latest;
  if (is_ml100k_name(name)) return Format::ml100k;
  return sniff_sequence(head_lines(head, whole_file, kSniffLines));
}

// How one format's lines are read.
struct Spec {
  Format format = Format::csv;
  text::SplitRule rule;
  int fields = 4;  // exact number of fields per line
  int user_col = 0, item_col = 1, rating_col = 2, time_col = 3;  // -1 = absent
  bool integer_ids = true;
  bool header = false;  // skip the first non-blank line
};

std::string describe_delimiter(const text::SplitRule& rule) {
  if (rule.double_colon) return "'::'";
  switch (rule.delimiter) {
    case '\t': return "tab";
    case ' ': return "space";
    default: return std::string("'") + rule.delimiter + "'";
  }
}

int mode_of(const std::vector<int>& counts, int fallback) {
  int best = fallback, best_n = 0;
  for (int c : counts) {
    const int n = static_cast<int>(std::count(counts.begin(), counts.end(), c));
    if (n > best_n || (n == best_n && c < best)) {
      best = c;
      best_n = n;
    }
  }
  return best;
}

bool in(const std::string& s, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (s == n) return true;
  return false;
}

Spec make_spec(Format format, const LoadOptions& o, std::string_view head, bool whole_file,
               bool auto_mode) {
  Spec spec;
  spec.format = format;
  const std::vector<std::string_view> lines = head_lines(head, whole_file, kSniffLines);
  std::string scratch;
  text::Fields f;
  switch (format) {
    case Format::ml100k:
      spec.rule.delimiter = '\t';
      return spec;
    case Format::ml1m:
      spec.rule.double_colon = true;
      return spec;
    case Format::ml_latest:
      spec.rule.delimiter = ',';
      // The header is expected, but a headerless copy is read too.
      if (!lines.empty()) {
        text::split(lines[0], spec.rule, f, scratch);
        spec.header = f.count > 0 && lower(text::trim(f.field[0])) == "userid";
      }
      return spec;
    case Format::ncf: {
      // *.train.pairs.tsv has 2 fields, *.train.rating 4 (user item rating time); 3 is read too.
      spec.rule.delimiter = '\t';
      std::vector<int> counts;
      for (std::string_view line : lines) {
        text::split(line, spec.rule, f, scratch);
        if (f.count >= 2 && f.count <= 4) counts.push_back(f.count);
      }
      spec.fields = mode_of(counts, 2);
      spec.rating_col = spec.fields >= 3 ? 2 : -1;
      spec.time_col = spec.fields >= 4 ? 3 : -1;
      return spec;
    }
    case Format::seq_pairs:
    case Format::seq_lines:
      // Read by Loader::run_sequences, which needs only the format.
      spec.rating_col = spec.time_col = -1;
      return spec;
    case Format::csv:
    case Format::auto_detect:
      break;
  }

  // Generic delimited text.
  spec.format = Format::csv;
  spec.integer_ids = false;
  spec.user_col = o.user_col;
  spec.item_col = o.item_col;
  spec.rule.quotes = true;
  spec.rule.trim = true;
  const int needed = std::max(o.user_col, o.item_col) + 1;
  if (o.delimiter != 0) {
    spec.rule.delimiter = o.delimiter;
  } else {
    // The delimiter that cuts the most lines into the same number (>= needed) of fields.
    int best_score = 0;
    spec.rule.delimiter = ',';
    for (char d : {',', '\t', ';', '|', ' '}) {
      text::SplitRule rule = spec.rule;
      rule.delimiter = d;
      rule.collapse = d == ' ';
      std::vector<int> counts;
      for (std::string_view line : lines) {
        text::split(line, rule, f, scratch);
        if (!f.error && f.count >= needed) counts.push_back(f.count);
      }
      const int m = mode_of(counts, 0);
      const int score = static_cast<int>(std::count(counts.begin(), counts.end(), m));
      if (score > best_score) {
        best_score = score;
        spec.rule.delimiter = d;
      }
    }
  }
  spec.rule.collapse = spec.rule.delimiter == ' ';

  std::vector<int> counts;
  for (std::string_view line : lines) {
    text::split(line, spec.rule, f, scratch);
    if (!f.error && f.count >= needed) counts.push_back(f.count);
  }
  spec.fields = mode_of(counts, std::max(needed, 2));
  // Optional columns the file does not have are absent (user,item[,rating[,timestamp]]).
  spec.rating_col = o.rating_col >= 0 && o.rating_col < spec.fields ? o.rating_col : -1;
  spec.time_col = o.time_col >= 0 && o.time_col < spec.fields ? o.time_col : -1;

  spec.header = o.header;
  if (!spec.header && auto_mode && !lines.empty()) {
    text::Fields f2;
    text::split(lines[0], spec.rule, f, scratch);
    std::string scratch2;
    const bool second = lines.size() > 1;
    if (second) text::split(lines[1], spec.rule, f2, scratch2);
    if (!f.error && f.count == spec.fields) {
      const std::string u = lower(f.field[spec.user_col]);
      const std::string i = lower(f.field[spec.item_col]);
      const bool named = in(u, {"user", "userid", "user_id", "user id", "uid", "users"}) &&
                         in(i, {"item", "itemid", "item_id", "item id", "iid", "items", "movie",
                                "movieid", "movie_id", "product", "productid", "product_id",
                                "track", "trackid", "track_id", "book", "isbn", "artist",
                                "song", "asin"});
      // A rating or time column that is text on line 1 and a number on line 2 is a header.
      const auto text_then_number = [&](int col) {
        return col >= 0 && col < text::kMaxFields && !text::looks_numeric(f.field[col]) &&
               second && !f2.error && f2.count == spec.fields &&
               text::looks_numeric(f2.field[col]);
      };
      spec.header = named || text_then_number(spec.rating_col) || text_then_number(spec.time_col);
    }
  }
  return spec;
}

// Ids seen so far, keyed by views into the file buffer, so a row whose ids are already known
// costs one hash of the bytes and no std::string (IdMap's own lookup builds one per call).
class ViewIndex {
 public:
  index_t get(IdMap& map, std::string_view key) {
    if (2 * (used_ + 1) > slots_.size()) grow();
    const std::uint64_t h = hash(key);
    for (std::size_t k = h & (slots_.size() - 1);; k = (k + 1) & (slots_.size() - 1)) {
      Slot& s = slots_[k];
      if (s.data == nullptr) {
        s = {h, key.data(), key.size(), map.add(key)};
        ++used_;
        return s.index;
      }
      if (s.hash == h && s.size == key.size() && std::memcmp(s.data, key.data(), key.size()) == 0) {
        return s.index;
      }
    }
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    const char* data = nullptr;
    std::size_t size = 0;
    index_t index = 0;
  };
  static std::uint64_t hash(std::string_view key) {  // FNV-1a, then a final mix
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (char c : key) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    return h ^ (h >> 29);
  }
  void grow() {
    std::vector<Slot> old(std::max<std::size_t>(64, slots_.size() * 2));
    old.swap(slots_);
    for (const Slot& s : old) {
      if (s.data == nullptr) continue;
      std::size_t k = s.hash & (slots_.size() - 1);
      while (slots_[k].data != nullptr) k = (k + 1) & (slots_.size() - 1);
      slots_[k] = s;
    }
  }
  std::vector<Slot> slots_;
  std::size_t used_ = 0;
};

class Loader {
 public:
  Loader(const std::string& path, const LoadOptions& o, LoadReport& report)
      : path_(path), o_(o), report_(report) {}

  // `records`: how many records the rejection drops (a seq-lines line: one per item).
  void reject(std::uint64_t line, const char* field, std::string reason,
              std::uint64_t records = 1) {
    if (o_.strict) {
      throw Error(path_ + ":" + std::to_string(line) + ": field '" + field + "': " + reason);
    }
    report_.rejected += records;
    if (report_.first_rejections.size() < kMaxKeptRejections) {
      report_.first_rejections.push_back({line, field, std::move(reason)});
    }
  }

  index_t integer_id(IdMap& map, std::vector<index_t>& direct, std::uint64_t v,
                     std::string_view canonical) {
    if (v < kDirectIds) {
      if (v >= direct.size()) {
        direct.resize(std::min<std::uint64_t>(kDirectIds, std::max<std::uint64_t>(v + 1, direct.size() * 2)), 0);
      }
      index_t& slot = direct[v];
      if (slot == 0) slot = map.add(canonical) + 1;
      return slot - 1;
    }
    return map.add(canonical);
  }

  Interactions run(std::string_view buffer, const Spec& spec) {
    if (spec.format == Format::seq_pairs || spec.format == Format::seq_lines) {
      return run_sequences(buffer, spec.format == Format::seq_pairs);
    }
    Interactions data;
    data.source = path_;
    data.has_ratings = spec.rating_col >= 0;
    data.has_time = spec.time_col >= 0;
    data.file_order = !data.has_time;
    // One row per line at most; memchr keeps this cheap even in unoptimised builds.
    data.rows.reserve(count_lines(buffer));

    text::LineReader reader(buffer);
    std::string_view line;
    text::Fields f;
    std::string scratch;
    std::vector<index_t> direct_users, direct_items;
    ViewIndex user_index, item_index;
    bool header_pending = spec.header;
    bool header_seen = false;
    const std::string fields_expected = "expected " + std::to_string(spec.fields) +
                                        " (delimiter " + describe_delimiter(spec.rule) + ")";
    while (reader.next(line)) {
      if (text::is_blank(line)) continue;
      const std::uint64_t ln = reader.number();
      if (header_pending) {
        header_pending = false;
        header_seen = true;
        continue;
      }
      ++report_.lines;
      ++report_.records;
      if (too_long(line, ln)) continue;
      text::split(line, spec.rule, f, scratch);
      if (f.error) {
        reject(ln, "line", f.error);
        continue;
      }
      if (f.count != spec.fields) {
        reject(ln, "line", std::to_string(f.count) + " fields, " + fields_expected);
        continue;
      }
      const std::string_view us = f.field[spec.user_col], is = f.field[spec.item_col];
      std::uint64_t uv = 0, iv = 0;
      std::string_view ucanon = us, icanon = is;
      const char* bad;
      if (spec.integer_ids) {
        if ((bad = text::parse_uint_id(us, uv, ucanon))) {
          reject(ln, "user", quoted(us) + bad);
          continue;
        }
        if ((bad = text::parse_uint_id(is, iv, icanon))) {
          reject(ln, "item", quoted(is) + bad);
          continue;
        }
      } else {
        if ((bad = text::check_string_id(us))) {
          reject(ln, "user", quoted(us) + bad);
          continue;
        }
        if ((bad = text::check_string_id(is))) {
          reject(ln, "item", quoted(is) + bad);
          continue;
        }
      }
      float value = 1.0f;
      if (spec.rating_col >= 0) {
        const std::string_view rs = f.field[spec.rating_col];
        if ((bad = text::parse_rating(rs, value))) {
          reject(ln, "rating", quoted(rs) + bad);
          continue;
        }
        if (value > o_.max_rating) {
          reject(ln, "rating", quoted(rs) + "is above the maximum rating " + number(o_.max_rating));
          continue;
        }
        if (value < o_.min_rating) {
          reject(ln, "rating", quoted(rs) + "is below the minimum rating " + number(o_.min_rating));
          continue;
        }
      }
      // Without a timestamp column, the row's position in the file (Interactions::file_order).
      std::int64_t time = static_cast<std::int64_t>(report_.records);
      if (spec.time_col >= 0) {
        const std::string_view ts = f.field[spec.time_col];
        if ((bad = text::parse_time(ts, time))) {
          reject(ln, "timestamp", quoted(ts) + bad);
          continue;
        }
      }
      Interaction x;
      if (spec.integer_ids) {
        x.user = integer_id(data.users, direct_users, uv, ucanon);
        x.item = integer_id(data.items, direct_items, iv, icanon);
      } else {
        // Unescaped quoted ids live in the per-line scratch buffer, so they cannot be cached.
        const auto in_buffer = [&](std::string_view v) {
          return v.data() >= buffer.data() && v.data() < buffer.data() + buffer.size();
        };
        x.user = in_buffer(us) ? user_index.get(data.users, us) : data.users.add(us);
        x.item = in_buffer(is) ? item_index.get(data.items, is) : data.items.add(is);
      }
      x.value = value;
      x.time = time;
      data.rows.push_back(x);
    }

    return finish(std::move(data), header_seen);
  }

  // seq-pairs (`pairs`) and seq-lines: integer ids separated by spaces or tabs, each row's
  // time its position in the file. A seq-lines line is one user's history, so a bad token
  // rejects the whole line (see data.hpp).
  Interactions run_sequences(std::string_view buffer, bool pairs) {
    Interactions data;
    data.source = path_;
    data.file_order = true;
    if (pairs) data.rows.reserve(count_lines(buffer));
    text::LineReader reader(buffer);
    std::string_view line;
    std::vector<std::string_view> tokens;
    std::vector<index_t> direct_users, direct_items;
    while (reader.next(line)) {
      if (text::is_blank(line)) continue;
      const std::uint64_t ln = reader.number();
      ++report_.lines;
      const std::uint64_t first_record = report_.records;
      if (too_long(line, ln)) {
        ++report_.records;  // its items are not counted: one rejected record
        continue;
      }
      tokens.clear();
      text::for_each_token(line, [&](std::string_view t) { tokens.push_back(t); });
      const std::uint64_t records =
          pairs ? 1 : std::max<std::uint64_t>(1, tokens.empty() ? 0 : tokens.size() - 1);
      report_.records += records;
      if (pairs && tokens.size() != 2) {
        reject(ln, "line", std::to_string(tokens.size()) +
                               " fields, expected 2 (user item, separated by spaces or tabs)");
        continue;
      }
      if (tokens.size() < 2) {
        reject(ln, "line", "a user without items (expected 'user item1 item2 ...')", records);
        continue;
      }
      std::uint64_t uv = 0;
      std::string_view ucanon;
      if (const char* bad = text::parse_uint_id(tokens[0], uv, ucanon)) {
        reject(ln, "user", quoted(tokens[0]) + bad, records);
        continue;
      }
      // Items are checked before any is added, so a rejected line leaves no trace in the maps.
      bool ok = true;
      for (std::size_t k = 1; k < tokens.size() && ok; ++k) {
        std::uint64_t iv = 0;
        std::string_view icanon;
        if (const char* bad = text::parse_uint_id(tokens[k], iv, icanon)) {
          reject(ln, "item", quoted(tokens[k]) + bad +
                                 (pairs ? "" : " (item " + std::to_string(k) + " of the line)"),
                 records);
          ok = false;
        }
      }
      if (!ok) continue;
      const index_t user = integer_id(data.users, direct_users, uv, ucanon);
      for (std::size_t k = 1; k < tokens.size(); ++k) {
        std::uint64_t iv = 0;
        std::string_view icanon;
        text::parse_uint_id(tokens[k], iv, icanon);
        Interaction x;
        x.user = user;
        x.item = integer_id(data.items, direct_items, iv, icanon);
        x.time = static_cast<std::int64_t>(first_record + k);
        data.rows.push_back(x);
      }
    }
    return finish(std::move(data), false);
  }

 private:
  static std::size_t count_lines(std::string_view buffer) {
    std::size_t newlines = 0;
    for (const char *p = buffer.data(), *e = p + buffer.size();
         (p = static_cast<const char*>(std::memchr(p, '\n', e - p))) != nullptr; ++p) {
      ++newlines;
    }
    return newlines + 1;
  }

  // Rejects a line longer than the limit; true when it did.
  bool too_long(std::string_view line, std::uint64_t ln) {
    if (line.size() <= o_.max_line_bytes) return false;
    reject(ln, "line", "line is " + std::to_string(line.size()) +
                           " bytes, longer than the limit of " + std::to_string(o_.max_line_bytes));
    return true;
  }

  Interactions finish(Interactions data, bool header_seen) {
    if (data.rows.empty()) {
      if (report_.lines == 0) {
        throw Error(path_ + ": no interactions (" + (header_seen ? "only a header" : "empty file") +
                    ")");
      }
      const RejectedRow& r = report_.first_rejections.front();
      throw Error(path_ + ": no valid interactions: all " + std::to_string(report_.lines) +
                  " lines rejected; first: line " + std::to_string(r.line) + ": field '" +
                  r.field + "': " + r.reason);
    }
    return data;
  }

  static std::string quoted(std::string_view s) { return "'" + text::printable(s) + "' "; }
  static std::string number(float v) { return text::format_float(v); }

  const std::string& path_;
  const LoadOptions& o_;
  LoadReport& report_;
};

void check_options(const LoadOptions& o) {
  if (o.user_col < 0 || o.item_col < 0 || o.user_col == o.item_col ||
      o.user_col >= text::kMaxFields || o.item_col >= text::kMaxFields) {
    throw Error("invalid user/item columns " + std::to_string(o.user_col) + "/" +
                std::to_string(o.item_col) + " (0-based, distinct, below " +
                std::to_string(text::kMaxFields) + ")");
  }
  for (int c : {o.rating_col, o.time_col}) {
    if (c >= text::kMaxFields || (c >= 0 && (c == o.user_col || c == o.item_col))) {
      throw Error("invalid rating/time column " + std::to_string(c));
    }
  }
  if (o.rating_col >= 0 && o.rating_col == o.time_col) {
    throw Error("rating and time columns must differ");
  }
  if (o.delimiter == '"' || o.delimiter == '\n' || o.delimiter == '\r') {
    throw Error("invalid delimiter (a quote or a line break)");
  }
  if (!(o.min_rating <= o.max_rating)) throw Error("min_rating must not exceed max_rating");
  if (o.max_line_bytes == 0) throw Error("max_line_bytes must be > 0");
  if (o.kcore < 0) throw Error("k-core must be >= 0");
}

}  // namespace

std::string LoadReport::summary() const {
  std::string s = std::string(format_name(format)) + ": " + std::to_string(lines) + " lines" +
                  (records != lines ? " (" + std::to_string(records) + " interactions)" : "") + ", " +
                  std::to_string(accepted) + " interactions kept, " + std::to_string(rejected) +
                  " rejected, " + std::to_string(duplicates) + " duplicates merged";
  if (below_threshold) s += ", " + std::to_string(below_threshold) + " below threshold";
  if (kcore_removed) s += ", " + std::to_string(kcore_removed) + " removed by k-core";
  if (!first_rejections.empty()) {
    const RejectedRow& r = first_rejections.front();
    s += "; first rejected: line " + std::to_string(r.line) + ": field '" + r.field + "': " +
         r.reason;
  }
  return s;
}

Format detect_format(const std::string& path) {
  const std::string head = text::read_head(path, kSniffBytes);
  return detect_from(path, head, head.size() < kSniffBytes);
}

Interactions load_interactions(const std::string& path, const LoadOptions& options,
                               LoadReport* report) {
  check_options(options);  // before reading: bad options fail fast, even on a huge file
  const std::string buffer = text::read_file(path, options.max_file_bytes);
  return load_interactions_from_memory(buffer, path, options, report);
}

Interactions load_interactions_from_memory(std::string_view buffer, const std::string& path,
                                           const LoadOptions& options, LoadReport* report) {
  check_options(options);
  LoadReport local;
  LoadReport& rep = report ? *report : local;
  rep = LoadReport{};
  const bool whole = buffer.size() <= kSniffBytes;
  const std::string_view head(buffer.data(), std::min(buffer.size(), kSniffBytes));
  const bool auto_mode = options.format == Format::auto_detect;
  const Format format = auto_mode ? detect_from(path, head, whole) : options.format;
  const Spec spec = make_spec(format, options, head, whole, auto_mode);
  rep.format = spec.format;
  Interactions data = Loader(path, options, rep).run(buffer, spec);
  clean_interactions(data, options, &rep);
  return data;
}

}  // namespace edgerec
