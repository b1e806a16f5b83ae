#include "text.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>

#include <sys/stat.h>

#include "edgerec/error.hpp"

namespace edgerec::text {
namespace {

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

File open_or_throw(const std::string& path) {
  errno = 0;
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    throw Error(path + ": cannot open: " + (errno ? std::strerror(errno) : "unknown error"));
  }
  return f;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one (overlong forms,
// surrogates and code points above U+10FFFF are invalid).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  std::size_t len;
  std::uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return 0;  // overlong
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;                          // surrogate
  if (cp > 0x10FFFF) return 0;
  return len;
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

}  // namespace

std::string read_file(const std::string& path, std::uint64_t max_bytes) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) throw Error(path + ": cannot read: it is a directory");
    if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
      throw Error(path + ": cannot read: not a regular file or a pipe (" +
                  (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) ? "a device" : "a special file") +
                  ")");
    }
  }
  const auto too_long = [&](const std::string& what) {
    return Error(path + ": cannot read: " + what + " more than the limit of " +
                 std::to_string(max_bytes) + " bytes for a data file");
  };
  File f = open_or_throw(path);
  std::string out;
  // Regular files: one allocation of the exact size. Pipes and the like fall back to growth.
  if (std::fseek(f.get(), 0, SEEK_END) == 0) {
    const long size = std::ftell(f.get());
    std::rewind(f.get());
    if (size > 0 && static_cast<std::uint64_t>(size) > max_bytes) {
      throw too_long("it has " + std::to_string(size) + " bytes,");
    }
    if (size > 0) {
      try {
        out.resize(static_cast<std::size_t>(size));
      } catch (const std::exception&) {
        throw Error(path + ": cannot read: " + std::to_string(size) + " bytes do not fit in memory");
      }
      out.resize(std::fread(out.data(), 1, out.size(), f.get()));
      if (std::ferror(f.get())) {
        throw Error(path + ": cannot read: " + (errno ? std::strerror(errno) : "read error"));
      }
    }
  }
  // The rest: a pipe, a file that grew since its size was taken, or one whose size is not known
  // (procfs). Read up to one byte past the limit, so "exactly the limit" still passes.
  char chunk[1 << 16];
  for (;;) {
    const std::size_t got = std::fread(chunk, 1, sizeof chunk, f.get());
    if (out.size() + got > max_bytes) throw too_long("it holds");
    out.append(chunk, got);
    if (got < sizeof chunk) break;
  }
  if (std::ferror(f.get())) {
    throw Error(path + ": cannot read: " + (errno ? std::strerror(errno) : "read error"));
  }
  return out;
}

std::string read_head(const std::string& path, std::size_t max_bytes) {
  File f = open_or_throw(path);
  std::string out(max_bytes, '\0');
  const std::size_t got = std::fread(out.data(), 1, max_bytes, f.get());
  if (std::ferror(f.get())) {
    throw Error(path + ": cannot read: " + (errno ? std::strerror(errno) : "read error"));
  }
  out.resize(got);
  return out;
}

std::string_view base_name(std::string_view path) {
  const std::size_t slash = path.find_last_of("/\\");
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool is_blank(std::string_view line) {
  for (char c : line)
    if (!is_space(c)) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

void split(std::string_view line, const SplitRule& rule, Fields& out, std::string& scratch) {
  out.count = 0;
  out.error = nullptr;
  const auto push = [&](std::string_view f) {
    if (out.count < kMaxFields) out.field[out.count] = f;
    ++out.count;
  };
  const char delim = rule.delimiter;
  const char* p = line.data();
  const char* const end = p + line.size();

  if (!rule.quotes || line.find('"') == std::string_view::npos) {
    if (rule.collapse) {
      while (p < end && *p == delim) ++p;
      if (p == end) return;
    }
    for (;;) {
      const char* d;
      if (rule.double_colon) {
        d = p;
        for (;;) {
          d = static_cast<const char*>(std::memchr(d, ':', end - d));
          if (!d || (d + 1 < end && d[1] == ':')) break;
          ++d;
        }
      } else {
        d = static_cast<const char*>(std::memchr(p, delim, end - p));
      }
      if (!d) {
        push(rule.trim ? trim(std::string_view(p, end - p)) : std::string_view(p, end - p));
        return;
      }
      push(rule.trim ? trim(std::string_view(p, d - p)) : std::string_view(p, d - p));
      p = d + (rule.double_colon ? 2 : 1);
      if (rule.collapse) {
        while (p < end && *p == delim) ++p;
        if (p == end) return;
      }
    }
  }

  // Quoted fields: unescaped text goes to `scratch`, which never outgrows the line.
  scratch.clear();
  scratch.reserve(line.size());
  if (rule.collapse) {
    while (p < end && *p == delim) ++p;
    if (p == end) return;
  }
  for (;;) {
    const char* q = p;
    while (q < end && *q != delim && is_space(*q)) ++q;
    if (q < end && *q == '"') {
      const std::size_t start = scratch.size();
      ++q;
      bool closed = false;
      while (q < end) {
        if (*q == '"') {
          if (q + 1 < end && q[1] == '"') {
            scratch.push_back('"');
            q += 2;
            continue;
          }
          closed = true;
          ++q;
          break;
        }
        scratch.push_back(*q++);
      }
      if (!closed) {
        out.error = "unterminated quote";
        return;
      }
      while (q < end && *q != delim && is_space(*q)) ++q;
      push(std::string_view(scratch.data() + start, scratch.size() - start));
      if (q == end) return;
      if (*q != delim) {
        out.error = "text after a closing quote";
        return;
      }
      p = q + 1;
    } else {
      const char* d = static_cast<const char*>(std::memchr(p, delim, end - p));
      const char* stop = d ? d : end;
      push(rule.trim ? trim(std::string_view(p, stop - p)) : std::string_view(p, stop - p));
      if (!d) return;
      p = d + 1;
    }
    if (rule.collapse) {
      while (p < end && *p == delim) ++p;
      if (p == end) return;
    }
  }
}

const char* parse_uint_id(std::string_view s, std::uint64_t& value, std::string_view& canonical) {
  if (s.empty()) return "is empty";
  if (s[0] == '-') return "is negative (ids must be non-negative integers)";
  if (s.size() > 20) return "is longer than 20 digits";
  // One pass: up to 19 digits cannot overflow 64 bits, the 20th is checked.
  std::uint64_t v = 0;
  const std::size_t n = s.size();
  for (std::size_t k = 0; k < n; ++k) {
    const unsigned d = static_cast<unsigned char>(s[k]) - static_cast<unsigned>('0');
    if (d > 9) return "is not a non-negative integer";
    if (k < 19) {
      v = v * 10 + d;
    } else if (__builtin_mul_overflow(v, std::uint64_t(10), &v) ||
               __builtin_add_overflow(v, std::uint64_t(d), &v)) {
      return "does not fit in 64 bits";
    }
  }
  value = v;
  std::size_t zeros = 0;
  while (zeros + 1 < s.size() && s[zeros] == '0') ++zeros;
  canonical = s.substr(zeros);
  return nullptr;
}

const char* check_string_id(std::string_view s) {
  if (s.empty()) return "is empty";
  if (s.size() > 256) return "is longer than 256 bytes";
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) return "contains a control character";
    if (c < 0x80) {
      ++i;
      continue;
    }
    const std::size_t len = utf8_sequence(s, i);
    if (len == 0) return "is not valid UTF-8";
    i += len;
  }
  return nullptr;
}

namespace {

// Parses a decimal floating-point number the same way on every platform. The grammar is checked
// here ([+-]digits[.digits][(e|E)[+-]digits]; hex, "inf" and "nan" are not numbers we accept),
// then the value is converted with correct rounding: std::from_chars where the library has it
// (libstdc++), strtod otherwise (emscripten's libc++ 14 lacks floating-point from_chars); both
// round correctly, so the result is identical. Returns nullptr or a reason.
const char* parse_decimal(std::string_view s, double& out) {
  if (s.empty()) return "is empty";
  std::size_t i = 0;
  const std::size_t n = s.size();
  if (s[i] == '+' || s[i] == '-') ++i;
  const std::size_t mantissa = i;
  std::size_t digits = 0;
  while (i < n && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (i < n && s[i] == '.') {
    ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  }
  if (digits == 0) {
    std::string word;
    for (std::size_t k = mantissa; k < n && k < mantissa + 8; ++k) word += static_cast<char>(s[k] | 0x20);
    if (n - mantissa <= 8 && (word == "nan" || word == "inf" || word == "infinity")) {
      return "is not a finite number";
    }
    return "is not a number";
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    std::size_t exp_digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i, ++exp_digits;
    if (exp_digits == 0) return "is not a number";
  }
  if (i != n) return "is not a number";

  // Short plain integers (most ratings) are exact in a double: no conversion routine needed.
  if (n - mantissa <= 15 && s.find_first_of(".eE") == std::string_view::npos) {
    std::int64_t v = 0;
    for (std::size_t k = mantissa; k < n; ++k) v = v * 10 + (s[k] - '0');
    out = s[0] == '-' ? -static_cast<double>(v) : static_cast<double>(v);
    return nullptr;
  }
#if defined(__cpp_lib_to_chars) && __cpp_lib_to_chars >= 201611L
  const char* b = s.data() + (s[0] == '+' ? 1 : 0);
  const auto r = std::from_chars(b, s.data() + n, out);
  if (r.ec == std::errc::result_out_of_range) return "is out of range";
  if (r.ec != std::errc() || r.ptr != s.data() + n) return "is not a number";
#else
  const std::string copy(s);
  errno = 0;
  char* end = nullptr;
  out = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return "is not a number";
  if (errno == ERANGE) return "is out of range";
#endif
  if (!std::isfinite(out)) return "is out of range";
  return nullptr;
}

}  // namespace

const char* parse_rating(std::string_view s, float& value) {
  double d = 0;
  if (const char* bad = parse_decimal(s, d)) return bad;
  if (std::fabs(d) > static_cast<double>(std::numeric_limits<float>::max())) {
    return "is out of range";
  }
  value = static_cast<float>(d);
  return nullptr;
}

const char* parse_time(std::string_view s, std::int64_t& value) {
  if (s.empty()) return "is empty";
  const char* b = s.data();
  const char* e = b + s.size();
  if (*b == '+') ++b;
  const auto r = std::from_chars(b, e, value);
  if (r.ec == std::errc::result_out_of_range) return "is out of range";
  if (r.ec == std::errc() && r.ptr == e) return nullptr;
  if (r.ec != std::errc() || *r.ptr != '.') return "is not an integer";
  double d = 0;
  if (const char* bad = parse_decimal(s, d)) return bad;
  if (std::fabs(d) >= 9.2e18) return "is out of range";
  value = static_cast<std::int64_t>(d);
  return nullptr;
}

std::string format_float(float v) {
  // The shortest %g form that reads back as the same float (snprintf rounds correctly in glibc
  // and musl alike; std::to_chars for floats is missing from emscripten's libc++ 14).
  char buf[48];
  for (int precision = 1; precision <= 9; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, static_cast<double>(v));
    if (std::strtof(buf, nullptr) == v) break;
  }
  return buf;
}

bool looks_numeric(std::string_view s) {
  float v;
  return parse_rating(trim(s), v) == nullptr;
}

std::string printable(std::string_view s, std::size_t max_bytes) {
  static const char hex[] = "0123456789abcdef";
  std::string out;
  std::size_t i = 0;
  while (i < s.size() && i < max_bytes) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const std::size_t len = c < 0x80 ? 1 : utf8_sequence(s, i);
    if (c < 0x20 || c == 0x7F || c == '\'' || len == 0) {
      if (c == '\'') {
        out += "\\'";
      } else {
        out += "\\x";
        out += hex[c >> 4];
        out += hex[c & 15];
      }
      ++i;
    } else {
      out.append(s.data() + i, len);
      i += len;
    }
  }
  if (i < s.size()) out += "...";
  return out;
}

}  // namespace edgerec::text
