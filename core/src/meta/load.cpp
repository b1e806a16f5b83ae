// Item metadata loaders: MovieLens u.item / movies.dat / movies.csv, generic CSV with a header,
// content vector files, and the alignment to a model's item index (edgerec/item_meta.hpp).
#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "data/text.hpp"
#include "edgerec/error.hpp"
#include "edgerec/item_meta.hpp"

namespace edgerec {
namespace {

// u.genre's order; u.item's 19 flags follow it.
const char* const kMl100kGenres[19] = {
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western"};
constexpr std::size_t kMaxTitleBytes = 4096;
constexpr int kMaxVectorDims = 4096;

std::size_t utf8_len(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
  if (c >= 0xF5) len = 0;
  if (len == 0 || i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return len;
}
bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t len = utf8_len(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}
std::string latin1_to_utf8(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

// Builds an ItemMeta in file order, one add() per item.
class Builder {
 public:
  // `noun`: what a row is ("item", "user"), for the messages.
  explicit Builder(std::string name, const char* noun = "item") : name_(std::move(name)), noun_(noun) {}
  // Declares the fields, in column order.
  int categorical(const std::string& field) {
    meta_.categorical.push_back({});
    meta_.categorical.back().name = field;
    vocab_.emplace_back();
    return static_cast<int>(meta_.categorical.size() - 1);
  }
  int numeric(const std::string& field) {
    meta_.numeric.push_back({});
    meta_.numeric.back().name = field;
    return static_cast<int>(meta_.numeric.size() - 1);
  }
  [[noreturn]] void fail(std::uint64_t line, const std::string& field, const std::string& what) const {
    throw Error(name_ + ":" + std::to_string(line) + ": field '" + field + "': " + what);
  }
  void begin(std::uint64_t line, std::string_view id, std::string title) {
    line_ = line;
    if (const char* bad = text::check_string_id(id)) fail(line, "id", std::string("'") + text::printable(id) + "' " + bad);
    if (meta_.ids.find(id) >= 0) fail(line, "id", std::string(noun_) + " '" + std::string(id) + "' is listed twice");
    if (title.size() > kMaxTitleBytes) fail(line, "title", "is longer than " + std::to_string(kMaxTitleBytes) + " bytes");
    meta_.ids.add(id);
    meta_.described.push_back(1);
    meta_.titles.push_back(std::move(title));
    for (auto& f : meta_.categorical) f.offsets.push_back(f.offsets.back());
    for (auto& f : meta_.numeric) {
      f.values.push_back(0.0f);
      f.present.push_back(0);
    }
  }
  void value(int field, std::string_view v) {
    v = text::trim(v);
    if (v.empty()) return;
    auto& f = meta_.categorical[static_cast<std::size_t>(field)];
    if (v.size() > kMaxTitleBytes) fail(line_, f.name, "a value is longer than " + std::to_string(kMaxTitleBytes) + " bytes");
    auto [it, fresh] = vocab_[static_cast<std::size_t>(field)].try_emplace(std::string(v), static_cast<index_t>(f.vocabulary.size()));
    if (fresh) f.vocabulary.emplace_back(v);
    // Keep the row's codes distinct and ascending (insertion into the short tail).
    const auto begin = f.codes.begin() + static_cast<std::ptrdiff_t>(f.offsets[f.offsets.size() - 2]);
    const auto pos = std::lower_bound(begin, f.codes.end(), it->second);
    if (pos != f.codes.end() && *pos == it->second) return;
    f.codes.insert(pos, it->second);
    ++f.offsets.back();
  }
  void values(int field, std::string_view v, char sep) {
    std::size_t s = 0;
    while (s <= v.size()) {
      std::size_t e = v.find(sep, s);
      if (e == std::string_view::npos) e = v.size();
      value(field, v.substr(s, e - s));
      s = e + 1;
    }
  }
  void number(int field, std::string_view v) {
    v = text::trim(v);
    if (v.empty()) return;
    auto& f = meta_.numeric[static_cast<std::size_t>(field)];
    float x = 0;
    if (const char* bad = text::parse_rating(v, x)) fail(line_, f.name, "'" + text::printable(v) + "' " + bad);
    f.values.back() = x;
    f.present.back() = 1;
  }
  void number_value(int field, float x) {
    auto& f = meta_.numeric[static_cast<std::size_t>(field)];
    f.values.back() = x;
    f.present.back() = 1;
  }
  ItemMeta finish() {
    if (meta_.rows() == 0) throw Error(name_ + ": no " + noun_ + "s");
    // The file name only: a model file should not carry the trainer's directories.
    meta_.source = std::string(text::base_name(name_));
    meta_.check();
    return std::move(meta_);
  }

 private:
  std::string name_;
  const char* noun_;
  ItemMeta meta_;
  std::vector<std::unordered_map<std::string, index_t>> vocab_;
  std::uint64_t line_ = 0;
};

// A trailing "(1995)" in a MovieLens title: the release year, or 0.
int title_year(std::string_view title) {
  title = text::trim(title);
  if (title.size() < 6 || title.back() != ')') return 0;
  const std::string_view y = title.substr(title.size() - 5, 4);
  if (title[title.size() - 6] != '(' || !std::all_of(y.begin(), y.end(), [](char c) { return c >= '0' && c <= '9'; })) return 0;
  return std::stoi(std::string(y));
}

std::string canonical_int_id(const Builder& b, std::uint64_t line, std::string_view s) {
  std::uint64_t v = 0;
  std::string_view canon;
  if (const char* bad = text::parse_uint_id(text::trim(s), v, canon))
    b.fail(line, "id", "'" + text::printable(s) + "' " + bad);
  return std::string(canon);
}

std::string decoded(std::string_view s) { return valid_utf8(s) ? std::string(s) : latin1_to_utf8(s); }

ItemMeta load_ml100k(std::string_view bytes, const std::string& name) {
  Builder b(name);
  const int genres = b.categorical("genres");
  const int year = b.numeric("year");
  text::LineReader lines(bytes);
  std::string_view line;
  std::string scratch;
  text::Fields f;
  text::SplitRule rule;
  rule.delimiter = '|';
  while (lines.next(line)) {
    if (text::is_blank(line)) continue;
    const std::string utf8 = decoded(line);  // u.item is ISO-8859-1
    text::split(utf8, rule, f, scratch);
    if (f.count != 24) b.fail(lines.number(), "line", "has " + std::to_string(f.count) + " fields, expected 24 (id|title|release date|video release date|IMDb URL|19 genre flags)");
    b.begin(lines.number(), canonical_int_id(b, lines.number(), f.field[0]), std::string(text::trim(f.field[1])));
    for (int g = 0; g < 19; ++g) {
      const std::string_view flag = text::trim(f.field[5 + g]);
      if (flag != "0" && flag != "1") b.fail(lines.number(), kMl100kGenres[g], "genre flag '" + text::printable(flag) + "' is not 0 or 1");
      if (flag == "1") b.value(genres, kMl100kGenres[g]);
    }
    // Release date "01-Jan-1995" (empty for a few items).
    const std::string_view date = text::trim(f.field[2]);
    if (!date.empty()) {
      const std::string_view y = date.size() >= 4 ? date.substr(date.size() - 4) : date;
      if (!text::looks_numeric(y)) b.fail(lines.number(), "release date", "'" + text::printable(date) + "' is not dd-Mon-yyyy");
      b.number(year, y);
    }
  }
  return b.finish();
}

ItemMeta load_movies(std::string_view bytes, const std::string& name, bool dat) {
  Builder b(name);
  const int genres = b.categorical("genres");
  const int year = b.numeric("year");
  text::LineReader lines(bytes);
  std::string_view line;
  std::string scratch;
  text::Fields f;
  text::SplitRule rule;
  if (dat) {
    rule.double_colon = true;
  } else {
    rule.delimiter = ',';
    rule.quotes = true;
  }
  bool header = !dat;
  while (lines.next(line)) {
    if (text::is_blank(line)) continue;
    if (header) {
      header = false;
      continue;
    }
    const std::string utf8 = dat ? decoded(line) : std::string(line);
    if (!dat && !valid_utf8(utf8)) b.fail(lines.number(), "line", "is not valid UTF-8");
    text::split(utf8, rule, f, scratch);
    if (f.error) b.fail(lines.number(), "line", f.error);
    if (f.count != 3) b.fail(lines.number(), "line", "has " + std::to_string(f.count) + " fields, expected 3 (id, title, genres)");
    const std::string title(text::trim(f.field[1]));
    b.begin(lines.number(), canonical_int_id(b, lines.number(), f.field[0]), title);
    if (text::trim(f.field[2]) != "(no genres listed)") b.values(genres, f.field[2], '|');
    if (const int y = title_year(title)) b.number_value(year, static_cast<float>(y));
  }
  return b.finish();
}

// `users`: a user-feature file (the id column's default names are the user ones).
ItemMeta load_csv(std::string_view bytes, const std::string& name, const ItemMetaOptions& o, bool users) {
  Builder b(name, users ? "user" : "item");
  text::LineReader lines(bytes);
  std::string_view line;
  while (lines.next(line) && text::is_blank(line)) {
  }
  if (text::is_blank(line)) throw Error(name + ": empty file, expected a header line naming the columns");
  char delim = o.delimiter;
  if (delim == 0) {
    delim = ',';
    for (const char c : {'\t', ';', ','})
      if (line.find(c) != std::string_view::npos) {
        delim = c;
        break;
      }
    if (line.find(',') != std::string_view::npos) delim = ',';
  }
  if (delim == o.separator)
    throw Error(name + ": the field delimiter and the multi-value separator are both '" + std::string(1, delim) + "'");
  text::SplitRule rule;
  rule.delimiter = delim;
  rule.quotes = true;
  rule.trim = true;
  std::string scratch;
  text::Fields f;
  text::split(line, rule, f, scratch);
  const std::uint64_t header_line = lines.number();
  if (f.error) b.fail(header_line, "header", f.error);
  if (f.count > text::kMaxFields) b.fail(header_line, "header", "has " + std::to_string(f.count) + " columns, at most " + std::to_string(text::kMaxFields));
  enum Type { none, id, title, cat, num, skip };
  const int ncols = f.count;
  std::vector<std::string> names(static_cast<std::size_t>(ncols));
  std::vector<Type> types(static_cast<std::size_t>(ncols), none);
  for (int c = 0; c < ncols; ++c) {
    std::string h(text::trim(f.field[c]));
    const std::size_t colon = h.rfind(':');
    if (colon != std::string::npos) {
      const std::string t = h.substr(colon + 1);
      const Type ty = t == "id" ? id : t == "title" ? title : t == "cat" ? cat : t == "num" ? num : t == "skip" ? skip : none;
      if (ty == none) b.fail(header_line, h, "unknown column type '" + t + "' (id, title, cat, num or skip)");
      types[static_cast<std::size_t>(c)] = ty;
      h.resize(colon);
    }
    if (h.empty() || !valid_utf8(h)) b.fail(header_line, "header", "column " + std::to_string(c + 1) + " has no valid name");
    names[static_cast<std::size_t>(c)] = h;
  }
  auto find_type = [&](Type t) {
    int at = -1;
    for (int c = 0; c < ncols; ++c)
      if (types[static_cast<std::size_t>(c)] == t) {
        if (at >= 0) b.fail(header_line, names[static_cast<std::size_t>(c)], "a second column of the same type");
        at = c;
      }
    return at;
  };
  int id_col = find_type(id);
  if (id_col < 0) {
    for (int c = 0; c < ncols && id_col < 0; ++c)
      for (const std::string_view n : users ? std::vector<std::string_view>{"id", "user", "user_id", "userId"}
                                            : std::vector<std::string_view>{"id", "item", "item_id", "itemId", "movieId"})
        if (types[static_cast<std::size_t>(c)] == none && names[static_cast<std::size_t>(c)] == n) id_col = c;
    if (id_col < 0) id_col = 0;
    types[static_cast<std::size_t>(id_col)] = id;
  }
  int title_col = find_type(title);
  if (title_col < 0)
    for (int c = 0; c < ncols && title_col < 0; ++c)
      if (types[static_cast<std::size_t>(c)] == none && (names[static_cast<std::size_t>(c)] == "title" || names[static_cast<std::size_t>(c)] == "name")) {
        title_col = c;
        types[static_cast<std::size_t>(c)] = title;
      }
  // Untyped columns: numeric when every non-empty value is a number.
  struct Row {
    std::uint64_t line;
    std::vector<std::string> fields;
  };
  std::vector<Row> rows;
  std::vector<bool> all_numeric(static_cast<std::size_t>(ncols), true);
  while (lines.next(line)) {
    if (text::is_blank(line)) continue;
    if (!valid_utf8(line)) b.fail(lines.number(), "line", "is not valid UTF-8");
    text::split(line, rule, f, scratch);
    if (f.error) b.fail(lines.number(), "line", f.error);
    if (f.count != ncols) b.fail(lines.number(), "line", "has " + std::to_string(f.count) + " fields, the header names " + std::to_string(ncols));
    Row r{lines.number(), {}};
    for (int c = 0; c < ncols; ++c) {
      r.fields.emplace_back(text::trim(f.field[c]));
      if (!r.fields.back().empty() && !text::looks_numeric(r.fields.back())) all_numeric[static_cast<std::size_t>(c)] = false;
    }
    rows.push_back(std::move(r));
  }
  std::vector<int> slot(static_cast<std::size_t>(ncols), -1);
  for (int c = 0; c < ncols; ++c) {
    Type& t = types[static_cast<std::size_t>(c)];
    if (t == none) t = all_numeric[static_cast<std::size_t>(c)] ? num : cat;
    const std::string& n = names[static_cast<std::size_t>(c)];
    if ((t == cat || t == num) && n == "title") b.fail(header_line, n, "'title' can only be the title column");
    if (t == cat) slot[static_cast<std::size_t>(c)] = b.categorical(n);
    if (t == num) slot[static_cast<std::size_t>(c)] = b.numeric(n);
  }
  for (const Row& r : rows) {
    b.begin(r.line, r.fields[static_cast<std::size_t>(id_col)], title_col >= 0 ? r.fields[static_cast<std::size_t>(title_col)] : std::string());
    for (int c = 0; c < ncols; ++c) {
      const auto k = static_cast<std::size_t>(c);
      if (types[k] == cat) b.values(slot[k], r.fields[k], o.separator);
      if (types[k] == num) b.number(slot[k], r.fields[k]);
    }
  }
  return b.finish();
}

// MovieLens user files: gender and occupation categorical, age numeric. The zip code is not
// read: in ML-100K 795 distinct codes for 943 users, so as a categorical field it would be
// almost one value per user, an id in disguise (the user tower already has the id embedding)
// that only adds parameters to overfit, and it is the most identifying column of the file
// (together with age and gender), which a model file shipped to devices should not depend on.
//   ml100k: "user id | age | gender | occupation | zip code", no header, '|'-separated;
//   ml1m:   "UserID::Gender::Age::Occupation::Zip-code" (age a bucket's lower bound, 1..56;
//           occupation a code 0..20, kept as its text).
ItemMeta load_movielens_users(std::string_view bytes, const std::string& name, bool ml1m) {
  Builder b(name, "user");
  const int gender = b.categorical("gender");
  const int occupation = b.categorical("occupation");
  const int age = b.numeric("age");
  text::LineReader lines(bytes);
  std::string_view line;
  std::string scratch;
  text::Fields f;
  text::SplitRule rule;
  if (ml1m) rule.double_colon = true;
  else rule.delimiter = '|';
  const int age_at = ml1m ? 2 : 1, gender_at = ml1m ? 1 : 2, occupation_at = 3;
  while (lines.next(line)) {
    if (text::is_blank(line)) continue;
    const std::string utf8 = decoded(line);  // ISO-8859-1 like the other MovieLens files
    text::split(utf8, rule, f, scratch);
    if (f.error) b.fail(lines.number(), "line", f.error);
    if (f.count != 5)
      b.fail(lines.number(), "line", "has " + std::to_string(f.count) + " fields, expected 5 (" +
                                         (ml1m ? "UserID::Gender::Age::Occupation::Zip-code" : "user id|age|gender|occupation|zip code") + ")");
    b.begin(lines.number(), canonical_int_id(b, lines.number(), f.field[0]), std::string());
    const std::string_view g = text::trim(f.field[gender_at]);
    if (g != "M" && g != "F") b.fail(lines.number(), "gender", "'" + text::printable(g) + "' is not M or F");
    b.value(gender, g);
    const std::string_view a = text::trim(f.field[age_at]);
    std::uint64_t years = 0;
    std::string_view canon;
    if (text::parse_uint_id(a, years, canon) || years > 150)
      b.fail(lines.number(), "age", "'" + text::printable(a) + "' is not an age in years (0..150)");
    b.number_value(age, static_cast<float>(years));
    const std::string_view o = text::trim(f.field[occupation_at]);
    if (o.empty()) b.fail(lines.number(), "occupation", "is empty");
    b.value(occupation, o);
  }
  return b.finish();
}

}  // namespace

const char* item_meta_format_name(ItemMetaFormat f) {
  switch (f) {
    case ItemMetaFormat::auto_detect: return "auto";
    case ItemMetaFormat::ml100k_items: return "ml100k-items";
    case ItemMetaFormat::ml1m_items: return "ml1m-items";
    case ItemMetaFormat::ml_latest_items: return "ml-latest-items";
    case ItemMetaFormat::csv: return "csv";
    case ItemMetaFormat::ml100k_users: return "ml100k-users";
    case ItemMetaFormat::ml1m_users: return "ml1m-users";
  }
  return "?";
}

namespace {
ItemMetaFormat sniff(std::string_view name, std::string_view head) {
  const std::string_view base = text::base_name(name);
  if (base == "u.item") return ItemMetaFormat::ml100k_items;
  // MovieLens user files by name, so that --item-meta u.user is a clear error (load_item_meta).
  if (base == "u.user") return ItemMetaFormat::ml100k_users;
  if (base == "users.dat") return ItemMetaFormat::ml1m_users;
  text::LineReader lines(head);
  std::string_view first;
  lines.next(first);
  if (base == "movies.dat" || first.find("::") != std::string_view::npos) return ItemMetaFormat::ml1m_items;
  if (text::starts_with(first, "movieId,title,genres")) return ItemMetaFormat::ml_latest_items;
  return ItemMetaFormat::csv;
}
}  // namespace

ItemMetaFormat item_meta_format(const std::string& path) { return sniff(path, text::read_head(path, 4096)); }

namespace {
ItemMetaFormat sniff_users(std::string_view name, std::string_view head) {
  const std::string_view base = text::base_name(name);
  if (base == "u.user") return ItemMetaFormat::ml100k_users;
  text::LineReader lines(head);
  std::string_view first;
  lines.next(first);
  if (base == "users.dat" || first.find("::") != std::string_view::npos) return ItemMetaFormat::ml1m_users;
  return ItemMetaFormat::csv;
}
}  // namespace

ItemMetaFormat user_meta_format(const std::string& path) { return sniff_users(path, text::read_head(path, 4096)); }

UserMeta load_user_meta_from_memory(std::string_view bytes, const std::string& name, const ItemMetaOptions& o) {
  const ItemMetaFormat f = o.format == ItemMetaFormat::auto_detect ? sniff_users(name, bytes.substr(0, 4096)) : o.format;
  switch (f) {
    case ItemMetaFormat::ml100k_users: return load_movielens_users(bytes, name, false);
    case ItemMetaFormat::ml1m_users: return load_movielens_users(bytes, name, true);
    case ItemMetaFormat::csv: return load_csv(bytes, name, o, true);
    default:
      throw Error(name + ": " + item_meta_format_name(f) + " is an item metadata format, not a user-feature file");
  }
}

UserMeta load_user_meta(const std::string& path, const ItemMetaOptions& o) {
  return load_user_meta_from_memory(text::read_file(path, kMaxDataFileBytes), path, o);
}

ItemMeta load_item_meta_from_memory(std::string_view bytes, const std::string& name, const ItemMetaOptions& o) {
  const ItemMetaFormat f = o.format == ItemMetaFormat::auto_detect ? sniff(name, bytes.substr(0, 4096)) : o.format;
  switch (f) {
    case ItemMetaFormat::ml100k_items: return load_ml100k(bytes, name);
    case ItemMetaFormat::ml1m_items: return load_movies(bytes, name, true);
    case ItemMetaFormat::ml_latest_items: return load_movies(bytes, name, false);
    case ItemMetaFormat::ml100k_users:
    case ItemMetaFormat::ml1m_users:
      throw Error(name + ": a user-feature file (" + item_meta_format_name(f) + "), not item metadata");
    default: return load_csv(bytes, name, o, false);
  }
}

ItemMeta load_item_meta(const std::string& path, const ItemMetaOptions& o) {
  return load_item_meta_from_memory(text::read_file(path, kMaxDataFileBytes), path, o);
}

void load_item_vectors_from_memory(ItemMeta& meta, std::string_view bytes, const std::string& name) {
  auto fail = [&](std::uint64_t line, const std::string& field, const std::string& what) {
    throw Error(name + ":" + std::to_string(line) + ": field '" + field + "': " + what);
  };
  text::LineReader lines(bytes);
  std::string_view line;
  char sep = 0;
  int dims = -1;
  std::vector<std::pair<std::string, std::vector<float>>> rows;
  std::unordered_map<std::string, std::uint64_t> seen;
  while (lines.next(line)) {
    if (text::is_blank(line)) continue;
    if (sep == 0) sep = line.find(',') != std::string_view::npos ? ',' : line.find('\t') != std::string_view::npos ? '\t' : ' ';
    std::vector<std::string_view> parts;
    std::size_t s = 0;
    while (s <= line.size()) {
      std::size_t e = line.find(sep, s);
      if (e == std::string_view::npos) e = line.size();
      const std::string_view p = text::trim(line.substr(s, e - s));
      if (!(sep == ' ' && p.empty())) parts.push_back(p);
      s = e + 1;
    }
    if (rows.empty() && dims < 0 && parts.size() >= 2 && !text::looks_numeric(parts[1])) {
      dims = -2;  // a header line
      continue;
    }
    if (parts.size() < 2) fail(lines.number(), "line", "has no vector (expected id then floats)");
    const int d = static_cast<int>(parts.size() - 1);
    if (d > kMaxVectorDims) fail(lines.number(), "line", std::to_string(d) + " floats, at most " + std::to_string(kMaxVectorDims));
    if (dims < 0) dims = d;
    if (d != dims) fail(lines.number(), "line", "has " + std::to_string(d) + " floats, the first row has " + std::to_string(dims));
    if (const char* bad = text::check_string_id(parts[0])) fail(lines.number(), "id", std::string("'") + text::printable(parts[0]) + "' " + bad);
    std::string id(parts[0]);
    if (!seen.emplace(id, lines.number()).second) fail(lines.number(), "id", "item '" + id + "' is listed twice");
    std::vector<float> v(static_cast<std::size_t>(d));
    for (int k = 0; k < d; ++k)
      if (const char* bad = text::parse_rating(parts[static_cast<std::size_t>(k) + 1], v[static_cast<std::size_t>(k)]))
        fail(lines.number(), "value " + std::to_string(k + 1), "'" + text::printable(parts[static_cast<std::size_t>(k) + 1]) + "' " + bad);
    rows.emplace_back(std::move(id), std::move(v));
  }
  if (rows.empty()) throw Error(name + ": no vectors");
  // New ids become undescribed rows.
  for (const auto& [id, v] : rows) {
    if (meta.find(id) >= 0) continue;
    meta.ids.add(id);
    meta.described.push_back(0);
    meta.titles.emplace_back();
    for (auto& f : meta.categorical) f.offsets.push_back(f.offsets.back());
    for (auto& f : meta.numeric) {
      f.values.push_back(0.0f);
      f.present.push_back(0);
    }
  }
  meta.vectors = Matrix::Zero(meta.rows(), dims);
  meta.has_vector.assign(static_cast<std::size_t>(meta.rows()), 0);
  for (const auto& [id, v] : rows) {
    const auto r = static_cast<index_t>(meta.find(id));
    for (int k = 0; k < dims; ++k) meta.vectors(r, k) = v[static_cast<std::size_t>(k)];
    meta.has_vector[static_cast<std::size_t>(r)] = 1;
  }
  meta.check();
}

void load_item_vectors(ItemMeta& meta, const std::string& path) {
  load_item_vectors_from_memory(meta, text::read_file(path, kMaxDataFileBytes), path);
}

ItemMeta align_item_meta(const ItemMeta& meta, const IdMap& items, ItemMetaReport* report) {
  meta.check();
  const index_t n = items.size();
  std::vector<std::int64_t> from;  // new row -> old row, or -1
  from.reserve(static_cast<std::size_t>(n) + static_cast<std::size_t>(meta.rows()));
  std::size_t matched = 0;
  for (index_t i = 0; i < n; ++i) {
    const std::int64_t r = meta.find(items.id(i));
    from.push_back(r);
    matched += r >= 0;
  }
  for (index_t r = 0; r < meta.rows(); ++r)
    if (items.find(meta.ids.id(r)) < 0) from.push_back(std::int64_t{r});
  ItemMeta out;
  out.source = meta.source;
  const auto rows = from.size();
  for (std::size_t k = 0; k < rows; ++k) {
    const std::int64_t r = from[k];
    out.ids.add(k < static_cast<std::size_t>(n) ? items.id(static_cast<index_t>(k)) : meta.ids.id(static_cast<index_t>(r)));
    out.described.push_back(r >= 0 ? meta.described[static_cast<std::size_t>(r)] : 0);
    out.titles.push_back(r >= 0 ? meta.titles[static_cast<std::size_t>(r)] : std::string());
  }
  for (const auto& f : meta.categorical) {
    ItemMeta::Categorical g;
    g.name = f.name;
    g.vocabulary = f.vocabulary;
    for (const std::int64_t r : from) {
      if (r >= 0) g.codes.insert(g.codes.end(), f.codes.begin() + static_cast<std::ptrdiff_t>(f.offsets[r]), f.codes.begin() + static_cast<std::ptrdiff_t>(f.offsets[r + 1]));
      g.offsets.push_back(g.codes.size());
    }
    out.categorical.push_back(std::move(g));
  }
  for (const auto& f : meta.numeric) {
    ItemMeta::Numeric g;
    g.name = f.name;
    for (const std::int64_t r : from) {
      g.values.push_back(r >= 0 ? f.values[static_cast<std::size_t>(r)] : 0.0f);
      g.present.push_back(r >= 0 ? f.present[static_cast<std::size_t>(r)] : 0);
    }
    out.numeric.push_back(std::move(g));
  }
  if (!meta.has_vector.empty()) {
    out.vectors = Matrix::Zero(static_cast<Eigen::Index>(rows), meta.vectors.cols());
    out.has_vector.assign(rows, 0);
    for (std::size_t k = 0; k < rows; ++k)
      if (from[k] >= 0) {
        out.vectors.row(static_cast<Eigen::Index>(k)) = meta.vectors.row(static_cast<Eigen::Index>(from[k]));
        out.has_vector[k] = meta.has_vector[static_cast<std::size_t>(from[k])];
      }
  }
  out.check();
  if (report) {
    report->rows = static_cast<std::size_t>(meta.rows());
    report->matched = matched;
    report->cold = rows - static_cast<std::size_t>(n);
    report->undescribed = static_cast<std::size_t>(n) - matched;
  }
  return out;
}

UserMeta align_user_meta(const UserMeta& meta, const IdMap& users, ItemMetaReport* report) {
  // The item layout, then the rows past the model's users cut off (see the header for why).
  UserMeta out = align_item_meta(meta, users, report);
  const index_t n = users.size();
  if (out.rows() == n) return out;
  IdMap ids;
  for (index_t r = 0; r < n; ++r) ids.add(out.ids.id(r));
  out.ids = std::move(ids);
  out.described.resize(n);
  out.titles.resize(n);
  for (auto& f : out.categorical) {
    f.offsets.resize(std::size_t{n} + 1);
    f.codes.resize(f.offsets.back());
  }
  for (auto& f : out.numeric) {
    f.values.resize(n);
    f.present.resize(n);
  }
  if (!out.has_vector.empty()) {
    out.vectors = Matrix(out.vectors.topRows(n));
    out.has_vector.resize(n);
  }
  out.check();
  return out;
}

}  // namespace edgerec
