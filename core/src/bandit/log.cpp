// The logged-bandit CSV: reading (every field checked, errors name file, line and field) and
// writing. Layout in edgerec/bandit.hpp.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_set>

#include "data/text.hpp"
#include "edgerec/bandit.hpp"
#include "edgerec/error.hpp"

namespace edgerec {
namespace {

constexpr const char* kHeader = "event,user,item,reward,propensity,candidates";
constexpr const char* kFieldNames[] = {"event", "user", "item", "reward", "propensity", "candidates"};

// Shortest decimal text that reads back as exactly v.
std::string format_double(double v) {
  char buf[40];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

const char* parse_double(std::string_view s, double& out) {
  s = text::trim(s);
  if (s.empty()) return "is empty";
  const std::string copy(s);
  char* end = nullptr;
  out = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return "is not a number";
  if (!std::isfinite(out)) return "is not finite";
  return nullptr;
}

// An id the CSV can hold unquoted.
const char* check_log_id(std::string_view id) {
  if (const char* why = text::check_string_id(id)) return why;
  if (id.find_first_of(",|\"") != std::string_view::npos) return "contains ',', '|' or '\"'";
  return nullptr;
}

}  // namespace

BanditLog parse_bandit_log(std::string_view text, const std::string& source) {
  BanditLog log;
  log.source = source;
  text::LineReader reader(text);
  std::string_view line;
  bool header = false;
  std::string scratch;
  text::SplitRule rule;
  rule.delimiter = ',';
  text::Fields fields;
  std::unordered_set<index_t> seen;
  auto fail = [&](const char* field, const std::string& why) {
    throw Error(source + ":" + std::to_string(reader.number()) + ": field '" + field + "': " + why);
  };
  while (reader.next(line)) {
    if (text::is_blank(line) || line[0] == '#') continue;
    if (!header) {
      if (text::trim(line) != kHeader)
        throw Error(source + ":" + std::to_string(reader.number()) +
                    ": not a logged-bandit file: the header must be '" + kHeader + "', got '" +
                    text::printable(line, 80) + "'");
      header = true;
      continue;
    }
    text::split(line, rule, fields, scratch);
    if (fields.count != 6)
      throw Error(source + ":" + std::to_string(reader.number()) + ": expected 6 fields (" +
                  kHeader + "), got " + std::to_string(fields.count));
    std::uint64_t number = 0;
    std::string_view canonical;
    if (const char* why = text::parse_uint_id(text::trim(fields.field[0]), number, canonical))
      fail(kFieldNames[0], "'" + text::printable(fields.field[0]) + "' " + why);
    if (number != log.events.size())
      fail(kFieldNames[0], "expected " + std::to_string(log.events.size()) + " (events are numbered from 0, in order), got " +
                               std::to_string(number));
    LoggedEvent e;
    const std::string_view user = text::trim(fields.field[1]);
    if (const char* why = check_log_id(user)) fail(kFieldNames[1], "'" + text::printable(user) + "' " + why);
    const std::string_view item = text::trim(fields.field[2]);
    if (const char* why = check_log_id(item)) fail(kFieldNames[2], "'" + text::printable(item) + "' " + why);
    if (const char* why = parse_double(fields.field[3], e.reward))
      fail(kFieldNames[3], "'" + text::printable(fields.field[3]) + "' " + why);
    if (const char* why = parse_double(fields.field[4], e.propensity))
      fail(kFieldNames[4], "'" + text::printable(fields.field[4]) + "' " + why);
    if (!(e.propensity > 0 && e.propensity <= 1))
      fail(kFieldNames[4], text::printable(fields.field[4]) + " is not in (0, 1]");
    // Candidates: '|'-separated ids, distinct, including the shown item.
    const std::string_view list = text::trim(fields.field[5]);
    if (list.empty()) fail(kFieldNames[5], "is empty");
    seen.clear();
    bool has_shown = false;
    std::size_t start = 0;
    while (start <= list.size()) {
      std::size_t bar = list.find('|', start);
      if (bar == std::string_view::npos) bar = list.size();
      const std::string_view id = list.substr(start, bar - start);
      if (const char* why = check_log_id(id))
        fail(kFieldNames[5], "candidate " + std::to_string(e.candidates.size() + 1) + " '" +
                                 text::printable(id) + "' " + why);
      const index_t index = log.items.add(id);
      if (!seen.insert(index).second)
        fail(kFieldNames[5], "candidate '" + text::printable(id) + "' is listed twice");
      e.candidates.push_back(index);
      has_shown = has_shown || id == item;
      start = bar + 1;
    }
    if (!has_shown) fail(kFieldNames[2], "'" + text::printable(item) + "' is not one of the candidates");
    e.user = log.users.add(user);
    e.shown = log.items.add(item);
    log.events.push_back(std::move(e));
  }
  if (!header) throw Error(source + ": empty logged-bandit file (no header '" + std::string(kHeader) + "')");
  if (log.events.empty()) throw Error(source + ": the logged-bandit file has no events");
  return log;
}

BanditLog read_bandit_log(const std::string& path) {
  return parse_bandit_log(text::read_file(path, kMaxDataFileBytes), path);
}

std::string format_bandit_log(const BanditLog& log) {
  for (const auto* map : {&log.users, &log.items})
    for (const auto& id : map->ids())
      if (const char* why = check_log_id(id))
        throw Error("cannot write the logged-bandit file: id '" + text::printable(id) + "' " + why);
  std::string out = std::string(kHeader) + "\n";
  out.reserve(log.events.size() * 128);
  for (std::size_t t = 0; t < log.events.size(); ++t) {
    const auto& e = log.events[t];
    out += std::to_string(t);
    out += ',';
    out += log.users.id(e.user);
    out += ',';
    out += log.items.id(e.shown);
    out += ',';
    out += format_double(e.reward);
    out += ',';
    out += format_double(e.propensity);
    out += ',';
    for (std::size_t c = 0; c < e.candidates.size(); ++c) {
      if (c) out += '|';
      out += log.items.id(e.candidates[c]);
    }
    out += '\n';
  }
  return out;
}

}  // namespace edgerec
