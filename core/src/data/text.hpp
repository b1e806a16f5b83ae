// Internal text helpers shared by the loaders: whole-file reading, line iteration, field
// splitting and strict number/id parsing. Not part of the public API.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace edgerec::text {

// Reads the whole file in one go (one allocation when the size is known). Regular files and
// pipes are read; anything else (a directory, a device such as /dev/zero, a socket) is refused,
// and so is a file or stream longer than `max_bytes` (an endless stream stops there instead of
// exhausting memory). Throws Error naming the path when it cannot be opened or read.
std::string read_file(const std::string& path, std::uint64_t max_bytes);
// Reads at most `max_bytes` from the start of the file (for sniffing).
std::string read_head(const std::string& path, std::size_t max_bytes);

// The file name without its directories, for name-based sniffing.
std::string_view base_name(std::string_view path);
bool ends_with(std::string_view s, std::string_view suffix);
bool starts_with(std::string_view s, std::string_view prefix);

// Iterates the lines of a buffer. Lines end at '\n'; a trailing '\r' is dropped. Finding the end
// is one memchr per line, so a huge line costs one linear scan and no copy.
class LineReader {
 public:
  explicit LineReader(std::string_view buffer) : data_(buffer.data()), end_(data_ + buffer.size()) {
    // A UTF-8 byte order mark is not part of the first field.
    if (buffer.size() >= 3 && std::memcmp(data_, "\xEF\xBB\xBF", 3) == 0) data_ += 3;
  }
  // Next line into `line`; false at the end. `number` is the 1-based line number.
  bool next(std::string_view& line) {
    if (data_ >= end_) return false;
    const char* nl = static_cast<const char*>(std::memchr(data_, '\n', end_ - data_));
    const char* stop = nl ? nl : end_;
    std::size_t len = static_cast<std::size_t>(stop - data_);
    if (len > 0 && data_[len - 1] == '\r') --len;
    line = std::string_view(data_, len);
    data_ = nl ? nl + 1 : end_;
    ++number_;
    return true;
  }
  std::uint64_t number() const { return number_; }

 private:
  const char* data_;
  const char* end_;
  std::uint64_t number_ = 0;
};

// True when the line holds nothing but spaces and tabs.
bool is_blank(std::string_view line);
std::string_view trim(std::string_view s);

// How a line is cut into fields.
struct SplitRule {
  char delimiter = ',';
  bool double_colon = false;  // MovieLens 1M "::"
  bool collapse = false;      // runs of the delimiter count as one (space-separated files)
  bool quotes = false;        // RFC 4180 double quotes (generic CSV)
  bool trim = false;          // strip spaces/tabs around fields
};

constexpr int kMaxFields = 32;

// The fields of one line. Only the first kMaxFields are kept, but `count` counts them all so a
// line with a wrong number of columns is still recognised.
struct Fields {
  std::string_view field[kMaxFields];
  int count = 0;
  const char* error = nullptr;  // e.g. "unterminated quote"
};

// Splits `line` by `rule`. `scratch` holds unescaped quoted fields; it is reserved to the line's
// length up front so views into it stay valid.
void split(std::string_view line, const SplitRule& rule, Fields& out, std::string& scratch);

// Calls f(token) for each run of characters other than spaces and tabs, with no field limit
// (an NCF negatives line has 100 tokens, a seq-lines line one per item of a user). Runs of
// separators count as one; leading and trailing ones are ignored.
template <class F>
void for_each_token(std::string_view line, F&& f) {
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == '\t' || line[i] == ' ')) ++i;
    if (i == line.size()) break;
    std::size_t j = i;
    while (j < line.size() && line[j] != '\t' && line[j] != ' ') ++j;
    f(line.substr(i, j - i));
    i = j;
  }
}

// Parse results: nullptr on success, else a reason ("is not a number", ...) for the message.
// Non-negative integer id of at most 20 digits that fits in 64 bits; leading zeros are dropped
// from `canonical` so "007" and "7" are one id.
const char* parse_uint_id(std::string_view s, std::uint64_t& value, std::string_view& canonical);
// Any non-empty string of at most 256 bytes of valid UTF-8 without control characters.
const char* check_string_id(std::string_view s);
// A finite number that fits in a float.
const char* parse_rating(std::string_view s, float& value);
// Integer seconds; a decimal fraction is accepted and truncated.
const char* parse_time(std::string_view s, std::int64_t& value);
// Shortest text that reads back as exactly `v` ("4", "3.5", "0.1"), the same on every platform.
std::string format_float(float v);
// Whether `s` parses as a finite number (for sniffing).
bool looks_numeric(std::string_view s);

// `s` made printable for a one-line message: control bytes and invalid UTF-8 as \xNN, cut after
// `max_bytes` with "...".
std::string printable(std::string_view s, std::size_t max_bytes = 40);

}  // namespace edgerec::text
