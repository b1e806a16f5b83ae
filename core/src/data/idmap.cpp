// IdMap, Interactions helpers and the names of formats and duplicate policies.
#include <string>

#include "edgerec/data.hpp"
#include "text.hpp"

namespace edgerec {

index_t IdMap::add(std::string_view id) {
  std::string key(id);
  const auto it = index_.find(key);
  if (it != index_.end()) return it->second;
  if (ids_.size() >= std::numeric_limits<index_t>::max()) {
    throw Error("too many distinct ids (the limit is 2^32 - 1)");
  }
  const index_t index = static_cast<index_t>(ids_.size());
  ids_.push_back(key);
  index_.emplace(std::move(key), index);
  return index;
}

std::int64_t IdMap::find(std::string_view id) const {
  const auto it = index_.find(std::string(id));
  return it == index_.end() ? -1 : static_cast<std::int64_t>(it->second);
}

index_t IdMap::at(std::string_view id, const char* what) const {
  const std::int64_t index = find(id);
  if (index < 0) throw Error(std::string("unknown ") + what + " id '" + text::printable(id) + "'");
  return static_cast<index_t>(index);
}

void IdMap::reserve(std::size_t n) {
  ids_.reserve(n);
  index_.reserve(n);
}

IdMap IdMap::from_ids(std::vector<std::string> ids) {
  if (ids.size() >= std::numeric_limits<index_t>::max()) {
    throw Error("too many distinct ids (the limit is 2^32 - 1)");
  }
  IdMap map;
  map.index_.reserve(ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (!map.index_.emplace(ids[i], static_cast<index_t>(i)).second) {
      throw Error("duplicate id '" + text::printable(ids[i]) + "' in id map");
    }
  }
  map.ids_ = std::move(ids);
  return map;
}

Interactions Interactions::empty_like() const {
  Interactions out;
  out.users = users;
  out.items = items;
  out.has_ratings = has_ratings;
  out.has_time = has_time;
  out.file_order = file_order;
  out.source = source;
  return out;
}

const char* format_name(Format f) {
  switch (f) {
    case Format::auto_detect: return "auto";
    case Format::ml100k: return "ml100k";
    case Format::ml1m: return "ml1m";
    case Format::ml_latest: return "ml-latest";
    case Format::csv: return "csv";
    case Format::ncf: return "ncf";
    case Format::seq_pairs: return "seq-pairs";
    case Format::seq_lines: return "seq-lines";
  }
  return "?";
}

Format parse_format(std::string_view name) {
  if (name == "auto") return Format::auto_detect;
  if (name == "ml100k" || name == "ml-100k") return Format::ml100k;
  if (name == "ml1m" || name == "ml-1m") return Format::ml1m;
  if (name == "ml-latest" || name == "ml_latest" || name == "mllatest") return Format::ml_latest;
  if (name == "csv" || name == "tsv") return Format::csv;
  if (name == "ncf") return Format::ncf;
  if (name == "seq-pairs" || name == "seq_pairs") return Format::seq_pairs;
  if (name == "seq-lines" || name == "seq_lines") return Format::seq_lines;
  throw Error("unknown format '" + text::printable(name) +
              "' (valid: auto, ml100k, ml1m, ml-latest, csv, ncf, seq-pairs, seq-lines)");
}

const char* duplicate_policy_name(DuplicatePolicy p) {
  switch (p) {
    case DuplicatePolicy::last: return "last";
    case DuplicatePolicy::first: return "first";
    case DuplicatePolicy::mean: return "mean";
    case DuplicatePolicy::max: return "max";
    case DuplicatePolicy::sum: return "sum";
    case DuplicatePolicy::keep: return "keep";
  }
  return "?";
}

DuplicatePolicy parse_duplicate_policy(std::string_view name) {
  for (DuplicatePolicy p : {DuplicatePolicy::last, DuplicatePolicy::first, DuplicatePolicy::mean,
                            DuplicatePolicy::max, DuplicatePolicy::sum, DuplicatePolicy::keep}) {
    if (name == duplicate_policy_name(p)) return p;
  }
  throw Error("unknown duplicate policy '" + text::printable(name) +
              "' (valid: last, first, mean, max, sum, keep)");
}

}  // namespace edgerec
