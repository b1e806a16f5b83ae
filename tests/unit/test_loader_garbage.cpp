// Every loader fed garbage: each must either throw edgerec::Error with a message naming file,
// line and field (strict mode, or when nothing valid is left) or skip the bad rows and report
// them (default mode). Never a crash, a hang or a silently wrong row.
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include <unistd.h>

#include "edgerec/data.hpp"
#include "edgerec/split.hpp"
#include "test_util.hpp"

using namespace edgerec;

namespace {

std::string dir_for(const std::string& name) { return test::temp_dir("garbage-" + name); }

std::string write(const std::string& dir, const std::string& name, const std::string& content) {
  const std::string path = dir + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return path;
}

std::string noise(std::size_t bytes, std::uint64_t seed) {
  Rng rng(seed);
  std::string s(bytes, '\0');
  for (char& c : s) c = static_cast<char>(rng.below(256));
  return s;
}

// For INFO messages: the bad line with control bytes visible.
std::string text_of(const std::string& s) {
  std::string out;
  for (unsigned char c : s.substr(0, 60)) {
    if (c < 0x20 || c >= 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

struct FormatCase {
  Format format;
  const char* file;  // a name that also auto-detects as this format
  // A valid line, then one with each kind of bad field, in this format's syntax.
  std::string valid;
  std::string sep;
};

const std::vector<FormatCase>& formats() {
  static const std::vector<FormatCase> all = {
      {Format::ml100k, "u.data", "1\t2\t3\t4", "\t"},
      {Format::ml1m, "ratings.dat", "1::2::3::4", "::"},
      {Format::ml_latest, "ratings.csv", "1,2,3.5,4", ","},
      {Format::csv, "data.csv", "1,2,3,4", ","},
      {Format::ncf, "x.train.rating", "1\t2\t3\t4", "\t"},
      {Format::auto_detect, "u.data", "1\t2\t3\t4", "\t"},
  };
  return all;
}

std::string join(const FormatCase& c, std::initializer_list<std::string> fields) {
  std::string out;
  bool first = true;
  for (const std::string& f : fields) {
    if (!first) out += c.sep;
    first = false;
    out += f;
  }
  return out;
}

LoadOptions options(Format f, bool strict) {
  LoadOptions o;
  o.format = f;
  o.strict = strict;
  o.max_rating = 5;
  o.min_rating = 0.5f;
  return o;
}

// A valid first line (so sniffing sees the format), then `bad` on line 2, then a valid line.
void expect_bad_line(const FormatCase& c, const std::string& bad, const std::string& field,
                     const std::string& tag) {
  const std::string dir = dir_for(std::string(format_name(c.format)) + "-" + tag);
  const std::string header = c.format == Format::ml_latest ? "userId,movieId,rating,timestamp\n" : "";
  const int line = c.format == Format::ml_latest ? 3 : 2;
  const std::string path = write(dir, c.file, header + c.valid + "\n" + bad + "\n" + join(c, {"7", "8", "4", "9"}) + "\n");
  INFO("format " << format_name(c.format) << ", bad line: " << text_of(bad));

  LoadReport r;
  const Interactions d = load_interactions(path, options(c.format, false), &r);
  CHECK(d.size() == 2);
  CHECK(r.rejected == 1);
  REQUIRE(r.first_rejections.size() == 1);
  CHECK(r.first_rejections[0].line == static_cast<std::uint64_t>(line));
  CHECK(r.first_rejections[0].field == field);

  const std::string e = test::error_of([&] { load_interactions(path, options(c.format, true)); });
  CHECK_THAT(e, Catch::StartsWith(path + ":" + std::to_string(line) + ": field '" + field + "': "));
}

}  // namespace

TEST_CASE("garbage: empty files", "[garbage]") {
  for (const FormatCase& c : formats()) {
    const std::string path = write(dir_for(std::string("empty-") + format_name(c.format)), c.file, "");
    for (bool strict : {false, true}) {
      CHECK(test::error_of([&] { load_interactions(path, options(c.format, strict)); }) ==
            path + ": no interactions (empty file)");
    }
  }
}

TEST_CASE("garbage: binary noise", "[garbage]") {
  for (const FormatCase& c : formats()) {
    for (std::uint64_t seed : {1, 2, 3}) {
      const std::string path = write(dir_for(std::string("noise-") + format_name(c.format)),
                                     c.file, noise(64 * 1024, seed));
      INFO("format " << format_name(c.format) << " seed " << seed);
      // Nothing in noise is a valid row: the default mode ends with an error naming the first
      // rejected line, strict mode fails on that line.
      const std::string lax = test::error_of([&] { load_interactions(path, options(c.format, false)); });
      CHECK_THAT(lax, Catch::StartsWith(path + ": no valid interactions") &&
                          Catch::Contains("first: line ") && Catch::Contains("field '"));
      const std::string strict = test::error_of([&] { load_interactions(path, options(c.format, true)); });
      CHECK_THAT(strict, Catch::StartsWith(path + ":") && Catch::Contains(": field '"));
      CHECK(strict.find('\n') == std::string::npos);
    }
    // Sniffing noise must not fail either.
    CHECK_NOTHROW(detect_format(write(dir_for("noise-detect"), "n.bin", noise(100000, 9))));
  }
}

TEST_CASE("garbage: a 10 MB single line", "[garbage]") {
  std::string huge(10 * 1024 * 1024, '7');
  for (std::size_t k = 1; k < huge.size(); k += 97) huge[k] = '\t';
  for (const FormatCase& c : formats()) {
    const std::string dir = dir_for(std::string("long-") + format_name(c.format));
    const std::string alone = write(dir, c.file, huge);
    CHECK_THAT(test::error_of([&] { load_interactions(alone, options(c.format, false)); }),
               Catch::Contains("field 'line': line is 10485760 bytes, longer than the limit"));
    CHECK_THAT(test::error_of([&] { load_interactions(alone, options(c.format, true)); }),
               Catch::StartsWith(alone + ":1: field 'line': line is 10485760 bytes"));

    // Between valid lines it is one rejected row among good ones.
    const std::string mixed = write(dir, c.file, c.valid + "\n" + huge + "\n" + c.valid + "\n");
    LoadReport r;
    LoadOptions o = options(c.format, false);
    o.duplicates = DuplicatePolicy::keep;
    const Interactions d = load_interactions(mixed, o, &r);
    CHECK(d.size() == 2);
    REQUIRE(r.first_rejections.size() == 1);
    CHECK(r.first_rejections[0].line == 2);
    CHECK(r.first_rejections[0].field == "line");
  }
}

TEST_CASE("garbage: bad ids, ratings and column counts", "[garbage]") {
  for (const FormatCase& c : formats()) {
    const bool integer_ids = c.format != Format::csv;
    SECTION(std::string("format ") + format_name(c.format)) {
      // Ratings that are not finite numbers or are out of range.
      int k = 0;
      for (const char* r : {"nan", "NaN", "inf", "-inf", "1e999", "abc", "", "9", "0.1", "4..5"}) {
        expect_bad_line(c, join(c, {"5", "6", r, "100"}), "rating", "rating" + std::to_string(k++));
      }
      // Wrong column counts.
      expect_bad_line(c, join(c, {"5", "6", "3"}), "line", "cols3");
      expect_bad_line(c, join(c, {"5", "6", "3", "4", "5"}), "line", "cols5");
      expect_bad_line(c, "5", "line", "cols1");
      // Timestamps.
      expect_bad_line(c, join(c, {"5", "6", "3", "yesterday"}), "timestamp", "time");
      expect_bad_line(c, join(c, {"5", "6", "3", "99999999999999999999999"}), "timestamp", "time2");
      // Ids.
      if (integer_ids) {
        expect_bad_line(c, join(c, {"-5", "6", "3", "4"}), "user", "neg-user");
        expect_bad_line(c, join(c, {"5", "-6", "3", "4"}), "item", "neg-item");
        expect_bad_line(c, join(c, {"123456789012345678901234567890", "6", "3", "4"}), "user", "long-user");
        expect_bad_line(c, join(c, {"18446744073709551616", "6", "3", "4"}), "user", "overflow");
        expect_bad_line(c, join(c, {"1e99", "6", "3", "4"}), "user", "float-user");
        expect_bad_line(c, join(c, {"5", "0x1F", "3", "4"}), "item", "hex-item");
        expect_bad_line(c, join(c, {"\xff\xfe", "6", "3", "4"}), "user", "latin1");
      } else {
        expect_bad_line(c, join(c, {std::string(300, 'x'), "6", "3", "4"}), "user", "long-user");
        expect_bad_line(c, join(c, {"\xff\xfe", "6", "3", "4"}), "user", "latin1");
        expect_bad_line(c, join(c, {"5", "a\xc3", "3", "4"}), "item", "cut-utf8");
        expect_bad_line(c, join(c, {std::string("a\0b", 3), "6", "3", "4"}), "user", "nul");
        expect_bad_line(c, join(c, {"", "6", "3", "4"}), "user", "empty-user");
        expect_bad_line(c, "\"5,6,3,4", "line", "quote");
      }
    }
  }
}

TEST_CASE("garbage: messages are one printable line", "[garbage]") {
  const std::string path =
      write(dir_for("printable"), "u.data", "1\t2\t3\t4\n1\t2\t\x01\xff\x1b[31m\t4\n");
  LoadOptions o;
  o.strict = true;
  const std::string e = test::error_of([&] { load_interactions(path, o); });
  CHECK(e == path + ":2: field 'rating': '\\x01\\xff\\x1b[31m' is not a number");
}

TEST_CASE("garbage: NCF test files", "[garbage]") {
  const std::string dir = dir_for("ncf");
  const std::string train = write(dir, "g.train.pairs.tsv", "0\t1\n0\t2\n1\t2\n");
  const std::string good_rating = write(dir, "good.test.rating", "0\t3\n1\t1\n");
  const std::string good_negative = write(dir, "good.test.negative", "(0,3)\t1\t4\n(1,1)\t5\n");
  const auto expect = [&](const std::string& rating, const std::string& negative,
                          const std::string& where, const std::string& also = "") {
    Interactions d = load_interactions(train);
    const std::string e = test::error_of([&] { load_ncf_test(rating, negative, d); });
    INFO("expected: " << where);
    CHECK_THAT(e, Catch::StartsWith(where) && Catch::Contains(also));
    CHECK(e.find('\n') == std::string::npos);
  };
  {
    Interactions d = load_interactions(train);
    CHECK_NOTHROW(load_ncf_test(good_rating, good_negative, d));
  }
  const auto rating = [&](const std::string& name, const std::string& body) {
    return write(dir, name + ".test.rating", body);
  };
  const auto negative = [&](const std::string& name, const std::string& body) {
    return write(dir, name + ".test.negative", body);
  };

  std::string p = rating("empty", "");
  expect(p, good_negative, p + ": no test cases (empty file)");
  p = negative("empty", "");
  expect(good_rating, p, p + ": no test cases (empty file)");
  p = rating("noise", noise(20000, 4));
  expect(p, good_negative, p + ":", ": field '");
  p = negative("noise", noise(20000, 5));
  expect(good_rating, p, p + ":", ": field '");
  std::string huge(10 * 1024 * 1024, '1');
  p = rating("long", "0\t3\n" + huge + "\n");
  expect(p, good_negative, p + ":2: field 'line': line is 10485760 bytes");
  p = negative("long", "(0,3)\t" + huge + "\n");
  expect(good_rating, p, p + ":1: field 'line'");
  p = rating("neg", "0\t3\n-1\t1\n");
  expect(p, good_negative, p + ":2: field 'user': '-1' is negative");
  p = rating("huge", "0\t99999999999999999999999\n");
  expect(p, good_negative, p + ":1: field 'item': '99999999999999999999999' is longer than 20 digits");
  p = rating("onecol", "0\n");
  expect(p, good_negative, p + ":1: field 'line': 1 fields");
  p = rating("latin1", "0\t\xe9\n");
  expect(p, good_negative, p + ":1: field 'item'");
  p = negative("nopair", "0,3\t1\n");
  expect(good_rating, p, p + ":1: field 'line': '0,3' is not a '(user,item)' pair");
  p = negative("badneg", "(0,3)\t1\tnan\n(1,1)\t5\n");
  expect(good_rating, p, p + ":1: field 'negative': 'nan' is not a non-negative integer");
  p = negative("twice", "(0,3)\t1\n(0,3)\t2\n(1,1)\t5\n");
  expect(good_rating, p, p + ":2: field 'item': '(0,3)' occurs twice");
  p = negative("stranger", "(0,3)\t1\n(1,2)\t5\n");
  expect(good_rating, p, p + ":2: field 'item': '(1,2)' is not a test case");
  p = negative("missing", "(0,3)\t1\n");
  expect(good_rating, p, p + ": no negatives for the test case on " + good_rating + ":2");
  expect("/nonexistent/x.test.rating", good_negative, "/nonexistent/x.test.rating: cannot open");
}

TEST_CASE("garbage: devices, endless streams and oversized files are refused", "[garbage]") {
  const std::string dir = dir_for("limits");
  // A device would be read without end (/dev/zero) or block (a terminal): refused unread.
  CHECK(test::error_of([] { load_interactions("/dev/zero"); }) ==
        "/dev/zero: cannot read: not a regular file or a pipe (a device)");
  Interactions d = load_interactions(write(dir, "t.train.pairs.tsv", "0\t1\n1\t2\n"));
  CHECK_THAT(test::error_of([&] { load_ncf_test("/dev/zero", "", d); }),
             Catch::StartsWith("/dev/zero: cannot read: not a regular file"));

  // A regular file over the limit is refused before it is read; one at the limit loads.
  const std::string body = "1,2,5\n1,3,4\n2,2,3\n";
  const std::string path = write(dir, "small.csv", body);
  LoadOptions o;
  o.max_file_bytes = body.size() - 1;
  CHECK(test::error_of([&] { load_interactions(path, o); }) ==
        path + ": cannot read: it has " + std::to_string(body.size()) +
            " bytes, more than the limit of " + std::to_string(body.size() - 1) +
            " bytes for a data file");
  o.max_file_bytes = body.size();
  CHECK(load_interactions(path, o).size() == 3);
  CHECK(LoadOptions{}.max_file_bytes == kMaxDataFileBytes);

  // A pipe that never ends (a writer thread filling it until the reader gives up) stops at
  // the limit with an Error instead of growing memory without bound.
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  auto old_sigpipe = std::signal(SIGPIPE, SIG_IGN);
  std::thread writer([fd = fds[1]] {
    const std::string line(4096, '1');
    while (::write(fd, line.data(), line.size()) > 0) {
    }
    ::close(fd);
  });
  LoadOptions small;
  small.format = Format::csv;
  small.max_file_bytes = 1 << 20;
  const std::string fd_path = "/dev/fd/" + std::to_string(fds[0]);
  const std::string e = test::error_of([&] { load_interactions(fd_path, small); });
  ::close(fds[0]);  // the writer's next write fails with EPIPE and it stops
  writer.join();
  std::signal(SIGPIPE, old_sigpipe);
  CHECK(e == fd_path + ": cannot read: it holds more than the limit of 1048576 bytes for a data file");
}

TEST_CASE("garbage: duplicate policy 'sum' refuses a sum that overflows a float", "[garbage]") {
  const std::string dir = dir_for("sum");
  LoadOptions o;
  o.duplicates = DuplicatePolicy::sum;
  o.min_rating = -3.4e38f;  // the default bounds (+-1e30) leave room for 3.4e8 duplicates
  o.max_rating = 3.4e38f;
  // Each rating is a finite float; their sum is not.
  const std::string p = write(dir, "u.data", "1\t10\t3e38\t1\n2\t10\t1\t1\n1\t10\t3e38\t2\n");
  CHECK(test::error_of([&] { load_interactions(p, o); }) ==
        p + ": duplicate policy 'sum': the values of user '1' for item '10' add up to more than "
            "a float holds (3.4e38)");
  const std::string neg = write(dir, "neg.data", "1\t10\t-3e38\t1\n1\t10\t-3e38\t2\n");
  o.format = Format::ml100k;
  CHECK_THAT(test::error_of([&] { load_interactions(neg, o); }), Catch::Contains("add up to more"));
  // Large but finite sums stay.
  const std::string fine = write(dir, "fine.data", "1\t10\t1e38\t1\n1\t10\t1e38\t2\n");
  CHECK(load_interactions(fine, o).rows[0].value == 2e38f);
}

TEST_CASE("garbage: loading from memory is loading the file", "[garbage]") {
  const std::string dir = dir_for("memory");
  const std::string body = "userId,movieId,rating,timestamp\n1,10,4.0,5\n1,11,3.5,6\nx,12,1,7\n2,10,5,8\n";
  const std::string path = write(dir, "ratings.csv", body);
  LoadReport from_file, from_memory;
  const Interactions a = load_interactions(path, {}, &from_file);
  const Interactions b = load_interactions_from_memory(body, path, {}, &from_memory);
  CHECK(from_file.format == Format::ml_latest);
  CHECK(from_memory.format == Format::ml_latest);
  CHECK(from_file.summary() == from_memory.summary());
  REQUIRE(a.size() == b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    CHECK(a.users.id(a.rows[k].user) == b.users.id(b.rows[k].user));
    CHECK(a.items.id(a.rows[k].item) == b.items.id(b.rows[k].item));
    CHECK(a.rows[k].value == b.rows[k].value);
  }
  CHECK(b.source == path);

  Interactions d = load_interactions_from_memory("0\t1\n0\t2\n1\t2\n", "x.train.pairs.tsv");
  const std::string_view negatives = "(0,3)\t1\t4\n(1,1)\t5\n";
  const NcfTest t = load_ncf_test_from_memory("0\t3\n1\t1\n", "r", &negatives, "n", d);
  CHECK(t.users.size() == 2);
  CHECK(t.negatives[0].size() == 2);
  CHECK(load_ncf_test_from_memory("0\t3\n", "r", nullptr, "", d).negatives[0].empty());
  CHECK(test::error_of([&] { load_ncf_test_from_memory("7\t3\n", "r.test.rating", nullptr, "", d); }) ==
        "r.test.rating:1: field 'user': '7' is not a user of the training data");
}
