// The NCF leave-one-out test files (He et al. 2017): `*.test.rating` holds each user's held-out
// item, `*.test.negative` the 99 sampled negatives as "(user,item)\tneg1\tneg2...". Both are
// fixed formats, so any bad line is an error (there is no "skip and report" for a test set).
#include <algorithm>
#include <string>
#include <unordered_map>

#include "edgerec/data.hpp"
#include "text.hpp"

namespace edgerec {
namespace {

constexpr std::size_t kMaxLine = 1 << 20;

[[noreturn]] void fail(const std::string& path, std::uint64_t line, const char* field,
                       const std::string& reason) {
  throw Error(path + ":" + std::to_string(line) + ": field '" + field + "': " + reason);
}

std::string quoted(std::string_view s) { return "'" + text::printable(s) + "' "; }

// Canonical integer id text; throws with the location when it is not one.
std::string_view id_field(std::string_view s, const std::string& path, std::uint64_t line,
                          const char* field) {
  std::uint64_t v;
  std::string_view canonical;
  if (const char* bad = text::parse_uint_id(s, v, canonical)) fail(path, line, field, quoted(s) + bad);
  return canonical;
}

index_t user_index(const Interactions& data, std::string_view id, const std::string& path,
                   std::uint64_t line) {
  const std::int64_t u = data.users.find(id);
  if (u < 0) fail(path, line, "user", quoted(id) + "is not a user of the training data");
  return static_cast<index_t>(u);
}

void check_length(std::string_view line, const std::string& path, std::uint64_t ln) {
  if (line.size() > kMaxLine) {
    fail(path, ln, "line", "line is " + std::to_string(line.size()) +
                               " bytes, longer than the limit of " + std::to_string(kMaxLine));
  }
}

std::uint64_t pair_key(index_t u, index_t i) { return (std::uint64_t(u) << 32) | i; }

}  // namespace

NcfTest load_ncf_test(const std::string& test_rating, const std::string& test_negative,
                      Interactions& data) {
  const std::string rating = text::read_file(test_rating, kMaxDataFileBytes);
  if (test_negative.empty()) return load_ncf_test_from_memory(rating, test_rating, nullptr, "", data);
  const std::string negative = text::read_file(test_negative, kMaxDataFileBytes);
  const std::string_view negative_view(negative);
  return load_ncf_test_from_memory(rating, test_rating, &negative_view, test_negative, data);
}

NcfTest load_ncf_test_from_memory(std::string_view rating_bytes, const std::string& test_rating,
                                  const std::string_view* negative_bytes,
                                  const std::string& test_negative, Interactions& data) {
  NcfTest out;
  std::vector<std::uint64_t> rating_lines;
  {
    text::LineReader reader(rating_bytes);
    std::string_view line;
    while (reader.next(line)) {
      if (text::is_blank(line)) continue;
      const std::uint64_t ln = reader.number();
      check_length(line, test_rating, ln);
      std::string_view tok[2];
      int count = 0;
      text::for_each_token(line, [&](std::string_view t) {
        if (count < 2) tok[count] = t;
        ++count;
      });
      if (count < 2) {
        fail(test_rating, ln, "line", std::to_string(count) + " fields, expected user and item");
      }
      const index_t u = user_index(data, id_field(tok[0], test_rating, ln, "user"), test_rating, ln);
      const std::string_view item = id_field(tok[1], test_rating, ln, "item");
      out.users.push_back(u);
      out.positives.push_back(data.items.add(item));  // unseen in training: scored as cold
      rating_lines.push_back(ln);
    }
    if (out.users.empty()) throw Error(test_rating + ": no test cases (empty file)");
  }
  out.negatives.assign(out.users.size(), {});
  if (!negative_bytes) return out;  // full-ranking metrics only

  std::unordered_map<std::uint64_t, std::size_t> case_of;
  case_of.reserve(out.users.size());
  for (std::size_t k = 0; k < out.users.size(); ++k) {
    if (!case_of.emplace(pair_key(out.users[k], out.positives[k]), k).second) {
      fail(test_rating, rating_lines[k], "item", "the pair (user, item) occurs twice");
    }
  }
  std::vector<char> filled(out.users.size(), 0);
  text::LineReader reader(*negative_bytes);
  std::string_view line;
  std::size_t lines = 0;
  std::vector<std::size_t> stamp;  // stamp[item] == lines: already a negative on this line
  while (reader.next(line)) {
    if (text::is_blank(line)) continue;
    const std::uint64_t ln = reader.number();
    check_length(line, test_negative, ln);
    ++lines;
    bool first = true;
    std::size_t k = 0;
    index_t positive = 0;
    text::for_each_token(line, [&](std::string_view t) {
      if (first) {
        first = false;
        // "(user,item)": the case this line's negatives belong to.
        const std::size_t comma = t.find(',');
        if (t.size() < 5 || t.front() != '(' || t.back() != ')' || comma == std::string_view::npos) {
          fail(test_negative, ln, "line", quoted(t) + "is not a '(user,item)' pair");
        }
        const std::string_view us = t.substr(1, comma - 1);
        const std::string_view is = t.substr(comma + 1, t.size() - comma - 2);
        const index_t u = user_index(data, id_field(us, test_negative, ln, "user"), test_negative, ln);
        const std::int64_t i = data.items.find(id_field(is, test_negative, ln, "item"));
        const auto it = i < 0 ? case_of.end() : case_of.find(pair_key(u, static_cast<index_t>(i)));
        if (it == case_of.end()) {
          fail(test_negative, ln, "item", quoted(t) + "is not a test case of " + test_rating);
        }
        k = it->second;
        if (filled[k]) fail(test_negative, ln, "item", quoted(t) + "occurs twice");
        filled[k] = 1;
        positive = static_cast<index_t>(i);
        return;
      }
      // The reference evaluation (NCF's evaluate.py) scores items through a dict, so a negative
      // that repeats, or that is the held-out item itself (156 lines of the ML-1M file), counts
      // once; dropping them here gives the same ranking.
      const index_t neg = data.items.add(id_field(t, test_negative, ln, "negative"));
      if (neg >= stamp.size()) stamp.resize(std::max<std::size_t>(neg + 1, stamp.size() * 2), 0);
      if (neg == positive || stamp[neg] == lines) return;
      stamp[neg] = lines;
      out.negatives[k].push_back(neg);
    });
  }
  if (lines == 0) throw Error(test_negative + ": no test cases (empty file)");
  for (std::size_t k = 0; k < filled.size(); ++k) {
    if (!filled[k]) {
      throw Error(test_negative + ": no negatives for the test case on " + test_rating + ":" +
                  std::to_string(rating_lines[k]));
    }
  }
  return out;
}

}  // namespace edgerec
