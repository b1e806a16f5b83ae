// Loaders, cleaning, id maps, sparse matrices and the synthetic catalogue.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "edgerec/data.hpp"
#include "edgerec/split.hpp"
#include "test_util.hpp"

using namespace edgerec;

namespace {

// ctest runs test cases in parallel processes, so each case writes under its own directory.

std::string uid(const Interactions& d, const Interaction& x) { return d.users.id(x.user); }
std::string iid(const Interactions& d, const Interaction& x) { return d.items.id(x.item); }

// (user id, item id) -> value, independent of index order.
std::map<std::pair<std::string, std::string>, float> by_ids(const Interactions& d) {
  std::map<std::pair<std::string, std::string>, float> out;
  for (const Interaction& x : d.rows) out[{uid(d, x), iid(d, x)}] = x.value;
  return out;
}

bool every_id_used(const Interactions& d) {
  std::vector<int> u(d.n_users()), i(d.n_items());
  for (const Interaction& x : d.rows) {
    u[x.user] = 1;
    i[x.item] = 1;
  }
  return std::count(u.begin(), u.end(), 0) == 0 && std::count(i.begin(), i.end(), 0) == 0;
}

void check_report_identity(const LoadReport& r) {
  CHECK(r.lines == r.accepted + r.rejected + r.duplicates + r.below_threshold + r.kcore_removed);
}

}  // namespace

TEST_CASE("IdMap keeps first-seen order and rejects duplicate ids", "[data]") {
  IdMap m;
  CHECK(m.add("b") == 0);
  CHECK(m.add("a") == 1);
  CHECK(m.add("b") == 0);
  CHECK(m.size() == 2);
  CHECK(m.find("a") == 1);
  CHECK(m.find("zz") == -1);
  CHECK(m.at("b", "user") == 0);
  CHECK(test::error_of([&] { m.at("zz", "user"); }) == "unknown user id 'zz'");
  CHECK(m.id(1) == "a");
  IdMap r = IdMap::from_ids({"x", "y", "z"});
  CHECK(r.find("z") == 2);
  CHECK(r.ids() == std::vector<std::string>{"x", "y", "z"});
  CHECK_THROWS_AS(IdMap::from_ids({"x", "y", "x"}), Error);
}

TEST_CASE("format and duplicate policy names round-trip", "[data]") {
  for (Format f : {Format::auto_detect, Format::ml100k, Format::ml1m, Format::ml_latest,
                   Format::csv, Format::ncf}) {
    CHECK(parse_format(format_name(f)) == f);
  }
  CHECK(parse_format("ml-100k") == Format::ml100k);
  CHECK_THROWS_WITH(parse_format("parquet"), Catch::Contains("unknown format 'parquet'"));
  for (DuplicatePolicy p : {DuplicatePolicy::last, DuplicatePolicy::first, DuplicatePolicy::mean,
                            DuplicatePolicy::max, DuplicatePolicy::sum, DuplicatePolicy::keep}) {
    CHECK(parse_duplicate_policy(duplicate_policy_name(p)) == p);
  }
  CHECK_THROWS_AS(parse_duplicate_policy("median"), Error);
}

TEST_CASE("MovieLens 100K u.data", "[data]") {
  const std::string p = test::write_file("data-ml100k", "u.data",
                                   "196\t242\t3\t881250949\n"
                                   "186\t302\t3\t891717742\n"
                                   "22\t377\t1\t878887116\n"
                                   "196\t377\t4\t881251000\n");
  CHECK(detect_format(p) == Format::ml100k);
  LoadReport r;
  const Interactions d = load_interactions(p, {}, &r);
  CHECK(r.format == Format::ml100k);
  REQUIRE(d.size() == 4);
  CHECK(d.n_users() == 3);
  CHECK(d.n_items() == 3);
  CHECK(d.users.ids() == std::vector<std::string>{"196", "186", "22"});
  CHECK(d.items.ids() == std::vector<std::string>{"242", "302", "377"});
  CHECK(d.has_ratings);
  CHECK(d.has_time);
  CHECK(d.source == p);
  CHECK(d.rows[3].user == 0);
  CHECK(d.rows[3].item == 2);
  CHECK(d.rows[3].value == 4.0f);
  CHECK(d.rows[3].time == 881251000);
  CHECK(r.lines == 4);
  CHECK(r.accepted == 4);
  CHECK(r.rejected == 0);
}

TEST_CASE("MovieLens 1M ratings.dat and latest-small ratings.csv", "[data]") {
  const std::string dat = test::write_file("data-ml1m", "ratings.dat",
                                     "1::1193::5::978300760\r\n1::661::3::978302109\r\n"
                                     "2::1193::4::978298413\r\n");
  CHECK(detect_format(dat) == Format::ml1m);
  const Interactions a = load_interactions(dat);
  CHECK(a.size() == 3);
  CHECK(a.n_users() == 2);
  CHECK(a.n_items() == 2);
  CHECK(by_ids(a).at({"2", "1193"}) == 4.0f);
  CHECK(a.rows[1].time == 978302109);

  const std::string csv = test::write_file("data-ml1m", "ratings.csv",
                                     "userId,movieId,rating,timestamp\n"
                                     "1,1,4.0,964982703\n1,3,4.5,964981247\n2,1,0.5,964982224\n");
  CHECK(detect_format(csv) == Format::ml_latest);
  LoadReport r;
  const Interactions b = load_interactions(csv, {}, &r);
  CHECK(r.format == Format::ml_latest);
  CHECK(r.lines == 3);  // the header is not a data line
  CHECK(b.size() == 3);
  CHECK(by_ids(b).at({"1", "3"}) == 4.5f);
  CHECK(by_ids(b).at({"2", "1"}) == 0.5f);
}

TEST_CASE("NCF training files: pairs and .train.rating", "[data]") {
  const std::string pairs = test::write_file("data-ncf", "x.train.pairs.tsv", "0\t31\n0\t22\n1\t31\n2\t5\n");
  CHECK(detect_format(pairs) == Format::ncf);
  const Interactions a = load_interactions(pairs);
  CHECK(a.size() == 4);
  CHECK(a.n_users() == 3);
  CHECK(a.n_items() == 3);
  CHECK_FALSE(a.has_ratings);
  CHECK_FALSE(a.has_time);
  for (const Interaction& x : a.rows) CHECK(x.value == 1.0f);

  const std::string rated =
      test::write_file("data-ncf", "x.train.rating", "0\t31\t5\t978300760\n0\t22\t3\t978302109\n1\t31\t4\t9\n");
  CHECK(detect_format(rated) == Format::ncf);
  const Interactions b = load_interactions(rated);
  CHECK(b.size() == 3);
  CHECK(b.has_ratings);  // the values are star ratings, whatever the protocol does with them
  CHECK(b.has_time);
  CHECK(by_ids(b).at({"0", "22"}) == 3.0f);
}

TEST_CASE("integer ids drop leading zeros", "[data]") {
  const std::string p = test::write_file("data-zeros", "u.data", "007\t1\t3\t1\n7\t01\t4\t2\n");
  LoadOptions o;
  o.duplicates = DuplicatePolicy::keep;
  const Interactions d = load_interactions(p, o);
  CHECK(d.n_users() == 1);
  CHECK(d.n_items() == 1);
  CHECK(d.users.id(0) == "7");
}

TEST_CASE("generic CSV: delimiter sniffing, header sniffing, optional columns", "[data]") {
  struct Case {
    char delim;
    const char* name;
  };
  for (Case c : {Case{',', "comma"}, Case{'\t', "tab"}, Case{';', "semicolon"}, Case{'|', "pipe"},
                 Case{' ', "space"}}) {
    SECTION(c.name) {
      std::string body = "user,item,rating,timestamp\nalice,The Matrix,5,100\nbob,Heat,3,200\n"
                         "alice,Heat,4,300\n";
      if (c.delim == ' ') body = "user  item rating timestamp\nalice The_Matrix  5 100\nbob Heat 3 200\nalice Heat 4 300\n";
      else std::replace(body.begin(), body.end(), ',', c.delim);
      const std::string p = test::write_file("data-csv-delim", std::string(c.name) + ".txt", body);
      CHECK(detect_format(p) == Format::csv);
      LoadReport r;
      const Interactions d = load_interactions(p, {}, &r);
      CHECK(r.format == Format::csv);
      CHECK(r.rejected == 0);
      REQUIRE(d.size() == 3);
      CHECK(d.users.ids() == std::vector<std::string>{"alice", "bob"});
      CHECK(d.n_items() == 2);
      CHECK(d.has_ratings);
      CHECK(d.has_time);
      CHECK(d.rows[2].time == 300);
      CHECK(by_ids(d).at({"alice", "Heat"}) == 4.0f);
    }
  }

  SECTION("two columns are implicit feedback") {
    const std::string p = test::write_file("data-csv-2col", "plays.csv", "u1,song a\nu2,song b\nu1,song b\n");
    const Interactions d = load_interactions(p);
    CHECK(d.size() == 3);
    CHECK_FALSE(d.has_ratings);
    CHECK_FALSE(d.has_time);
    CHECK(d.users.find("u1") == 0);  // "u1,song a" is data, not a header
  }

  SECTION("header sniffed from a text rating column") {
    const std::string p = test::write_file("data-csv-hdr", "h.csv", "who,what,stars\n1,2,5\n2,2,3\n");
    LoadReport r;
    const Interactions d = load_interactions(p, {}, &r);
    CHECK(r.lines == 2);
    CHECK(d.size() == 2);
    CHECK(d.users.find("who") == -1);
  }

  SECTION("chosen columns and delimiter, explicit header") {
    const std::string p = test::write_file("data-csv-cols", "cols.csv",
                                     "ts;rating;item;user\n10;2;i1;u1\n20;5;i2;u1\n30;4;i1;u2\n");
    LoadOptions o;
    o.format = Format::csv;
    o.delimiter = ';';
    o.header = true;
    o.user_col = 3;
    o.item_col = 2;
    o.rating_col = 1;
    o.time_col = 0;
    const Interactions d = load_interactions(p, o);
    REQUIRE(d.size() == 3);
    CHECK(d.users.ids() == std::vector<std::string>{"u1", "u2"});
    CHECK(by_ids(d).at({"u1", "i2"}) == 5.0f);
    CHECK(d.rows[2].time == 30);

    o.rating_col = -1;  // ignore the ratings: implicit
    const Interactions e = load_interactions(p, o);
    CHECK_FALSE(e.has_ratings);
    CHECK(by_ids(e).at({"u1", "i2"}) == 1.0f);
  }

  SECTION("quoted fields") {
    const std::string p = test::write_file("data-csv-quote", "q.csv",
                                     "\"Smith, J\",\"say \"\"hi\"\"\",4\nbob,\"x\",2\n");
    const Interactions d = load_interactions(p);
    REQUIRE(d.size() == 2);
    CHECK(d.users.id(0) == "Smith, J");
    CHECK(d.items.id(0) == "say \"hi\"");
    CHECK(d.items.id(1) == "x");
  }

  SECTION("bad options") {
    const std::string p = test::write_file("data-csv-badopt", "b.csv", "a,b\n");
    LoadOptions o;
    o.user_col = 1;
    o.item_col = 1;
    CHECK_THROWS_AS(load_interactions(p, o), Error);
    o = {};
    o.min_rating = 5;
    o.max_rating = 1;
    CHECK_THROWS_AS(load_interactions(p, o), Error);
  }
}

TEST_CASE("format detection by name and content", "[data]") {
  CHECK(detect_format(test::write_file("data-detect", "u1.base", "1\t2\t3\t4\n")) == Format::ml100k);
  CHECK(detect_format(test::write_file("data-detect", "anything.txt", "1::2::3::4\n")) == Format::ml1m);
  CHECK(detect_format(test::write_file("data-detect", "r.csv", "userId,movieId,rating,timestamp\n")) ==
        Format::ml_latest);
  CHECK(detect_format(test::write_file("data-detect", "ml-1m.test.rating", "0\t1\t2\t3\n")) == Format::ncf);
  CHECK(detect_format(test::write_file("data-detect", "plain.tsv", "1\t2\t3\t4\n")) == Format::csv);
  CHECK_THROWS_WITH(detect_format("/nonexistent/dir/u.data"),
                    Catch::Contains("/nonexistent/dir/u.data") && Catch::Contains("cannot open"));
}

TEST_CASE("duplicate policies", "[data]") {
  // (1, 10) occurs three times: values 2 @ t=30, 4 @ t=10, 5 @ t=30. (2, 10) once.
  const std::string p = test::write_file("data-dups", "u.data",
                                   "1\t10\t2\t30\n2\t10\t3\t5\n1\t10\t4\t10\n1\t10\t5\t30\n");
  const auto load = [&](DuplicatePolicy policy, LoadReport* r = nullptr) {
    LoadOptions o;
    o.duplicates = policy;
    return load_interactions(p, o, r);
  };
  LoadReport r;
  const Interactions last = load(DuplicatePolicy::last, &r);
  REQUIRE(last.size() == 2);
  CHECK(r.duplicates == 2);
  check_report_identity(r);
  // The merged row stays at the pair's first position; equal times go to the later line.
  CHECK(uid(last, last.rows[0]) == "1");
  CHECK(last.rows[0].value == 5.0f);
  CHECK(last.rows[0].time == 30);

  const Interactions first = load(DuplicatePolicy::first);
  CHECK(first.rows[0].value == 4.0f);
  CHECK(first.rows[0].time == 10);

  const Interactions mean = load(DuplicatePolicy::mean);
  CHECK(mean.rows[0].value == Approx(11.0 / 3.0));
  CHECK(mean.rows[0].time == 30);

  CHECK(load(DuplicatePolicy::max).rows[0].value == 5.0f);
  CHECK(load(DuplicatePolicy::sum).rows[0].value == 11.0f);

  LoadReport rk;
  const Interactions keep = load(DuplicatePolicy::keep, &rk);
  CHECK(keep.size() == 4);
  CHECK(rk.duplicates == 0);
  // Csr stores each pair once even then: the last occurrence in file order.
  const Csr m = Csr::by_user(keep);
  CHECK(m.nnz() == 2);
  CHECK(m.row_size(0) == 1);
  CHECK(m.row_values(0)[0] == 5.0f);
}

TEST_CASE("implicit threshold and k-core with dense re-indexing", "[data]") {
  SECTION("threshold") {
    const std::string p = test::write_file("data-thr", "u.data",
                                     "1\t10\t5\t1\n1\t11\t2\t2\n2\t11\t1\t3\n3\t12\t4\t4\n");
    LoadOptions o;
    o.implicit_threshold = 4;
    LoadReport r;
    const Interactions d = load_interactions(p, o, &r);
    CHECK(r.below_threshold == 2);
    check_report_identity(r);
    CHECK_FALSE(d.has_ratings);
    CHECK(d.size() == 2);
    // User 2 and item 11 only had low ratings: they leave the maps.
    CHECK(d.users.ids() == std::vector<std::string>{"1", "3"});
    CHECK(d.items.ids() == std::vector<std::string>{"10", "12"});
    CHECK(every_id_used(d));
    for (const Interaction& x : d.rows) CHECK(x.value == 1.0f);

    o.implicit_threshold = 6;
    CHECK_THROWS_WITH(load_interactions(p, o),
                      Catch::Contains(p) && Catch::Contains("below the implicit threshold"));
  }

  SECTION("k-core is iterative") {
    // Users a, b, c each rate items x, y; user d rates x and z. With k = 2, item z (1 rating)
    // goes, which leaves d with one rating, so d goes too: the second round matters.
    const std::string p = test::write_file("data-kcore", "k.csv",
                                     "a,x\na,y\nb,x\nb,y\nc,x\nc,y\nd,x\nd,z\n");
    LoadOptions o;
    o.kcore = 2;
    LoadReport r;
    const Interactions d = load_interactions(p, o, &r);
    CHECK(r.kcore_removed == 2);
    check_report_identity(r);
    CHECK(d.size() == 6);
    CHECK(d.users.ids() == std::vector<std::string>{"a", "b", "c"});
    CHECK(d.items.ids() == std::vector<std::string>{"x", "y"});
    CHECK(every_id_used(d));

    o.kcore = 4;  // nobody has 4 items
    CHECK_THROWS_WITH(load_interactions(p, o), Catch::Contains("4-core"));
  }
}

TEST_CASE("bad rows: default skips and reports, strict fails on the first", "[data]") {
  const std::string p = test::write_file("data-strict", "u.data",
                                   "1\t10\t5\t1\n1\t11\tabc\t2\n2\t11\t9\t3\n\n3\t12\t4\t4\n");
  LoadOptions o;
  o.max_rating = 5;
  LoadReport r;
  const Interactions d = load_interactions(p, o, &r);
  CHECK(d.size() == 2);
  CHECK(r.lines == 4);  // the blank line is not a data line
  CHECK(r.rejected == 2);
  check_report_identity(r);
  REQUIRE(r.first_rejections.size() == 2);
  CHECK(r.first_rejections[0].line == 2);
  CHECK(r.first_rejections[0].field == "rating");
  CHECK(r.first_rejections[0].reason == "'abc' is not a number");
  CHECK(r.first_rejections[1].line == 3);
  CHECK(r.first_rejections[1].reason == "'9' is above the maximum rating 5");
  CHECK_THAT(r.summary(), Catch::Contains("2 rejected") && Catch::Contains("line 2"));

  o.strict = true;
  CHECK(test::error_of([&] { load_interactions(p, o); }) ==
        p + ":2: field 'rating': 'abc' is not a number");
}

TEST_CASE("rating and timestamp syntax", "[data]") {
  const std::vector<std::pair<std::string, float>> good = {
      {"4", 4.0f}, {"+4", 4.0f}, {"-2", -2.0f}, {"3.5", 3.5f}, {"3.", 3.0f}, {".5", 0.5f},
      {"1e0", 1.0f}, {"2.5E-1", 0.25f}, {"0.1", 0.1f}, {"007", 7.0f}, {"12345678901234567890", 1.2345679e19f}};
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"4e", "is not a number"},     {"0x10", "is not a number"},  {"1,5", "x"},
      {"--1", "is not a number"},    {".", "is not a number"},     {"nan", "is not a finite number"},
      {"-Infinity", "is not a finite number"}, {"1e39", "is out of range"},
      {"1e-400", "is out of range"}, {"1e400", "is out of range"}, {"4 stars", "is not a number"}};
  std::string body;
  for (std::size_t k = 0; k < good.size(); ++k) body += "u\tg" + std::to_string(k) + "\t" + good[k].first + "\t1.9\n";
  for (std::size_t k = 0; k < bad.size(); ++k) body += "u\tb" + std::to_string(k) + "\t" + bad[k].first + "\t1\n";
  const std::string p = test::write_file("data-syntax", "s.tsv", body);
  LoadOptions o;
  o.format = Format::csv;
  o.delimiter = '\t';
  LoadReport r;
  const Interactions d = load_interactions(p, o, &r);
  REQUIRE(d.size() == good.size());
  for (std::size_t k = 0; k < good.size(); ++k) {
    INFO(good[k].first);
    CHECK(d.rows[k].value == good[k].second);
    CHECK(d.rows[k].time == 1);  // a fractional timestamp is truncated to whole seconds
  }
  REQUIRE(r.first_rejections.size() == bad.size());
  for (std::size_t k = 0; k < bad.size(); ++k) {
    INFO(bad[k].first);
    CHECK(r.first_rejections[k].field == "rating");
    if (bad[k].second != "x") CHECK(r.first_rejections[k].reason == "'" + bad[k].first + "' " + bad[k].second);
  }
}

TEST_CASE("only 20 rejections are kept, all are counted", "[data]") {
  std::string body = "1,2,3\n";
  for (int k = 0; k < 50; ++k) body += "1,2,x\n";
  LoadReport r;
  load_interactions(test::write_file("data-many", "m.csv", body), {}, &r);
  CHECK(r.rejected == 50);
  CHECK(r.first_rejections.size() == 20);
  CHECK(r.first_rejections.back().line == 21);
}

TEST_CASE("empty, header-only and missing files", "[data]") {
  const std::string empty = test::write_file("data-empty", "u.data", "");
  CHECK(test::error_of([&] { load_interactions(empty); }) == empty + ": no interactions (empty file)");
  const std::string blank = test::write_file("data-empty", "blank.csv", "\n  \n");
  CHECK(test::error_of([&] { load_interactions(blank); }) == blank + ": no interactions (empty file)");
  const std::string header = test::write_file("data-empty", "ratings.csv", "userId,movieId,rating,timestamp\n");
  CHECK_THAT(test::error_of([&] { load_interactions(header); }), Catch::Contains("only a header"));
  CHECK_THAT(test::error_of([&] { load_interactions("/nonexistent/r.csv"); }),
             Catch::StartsWith("/nonexistent/r.csv: cannot open"));
  const std::string dir = test::temp_dir("data-empty");
  CHECK_THAT(test::error_of([&] { load_interactions(dir); }), Catch::StartsWith(dir + ": cannot"));
}

TEST_CASE("NCF test files", "[data]") {
  const std::string train = test::write_file("data-ncftest", "t.train.pairs.tsv", "0\t1\n0\t2\n1\t2\n1\t3\n");
  const std::string rating = test::write_file("data-ncftest", "t.test.rating", "0\t3\t5\t100\n1\t9\t4\t200\n");
  const std::string negative = test::write_file("data-ncftest", "t.test.negative",
                                          "(0,3)\t1\t7\n(1,9)\t1\t3\t7\n");
  Interactions data = load_interactions(train);
  CHECK(data.n_items() == 3);
  const NcfTest t = load_ncf_test(rating, negative, data);
  REQUIRE(t.users.size() == 2);
  CHECK(data.users.id(t.users[0]) == "0");
  CHECK(data.items.id(t.positives[0]) == "3");
  // Items 9 and 7 were never trained on; they join the map so they can be ranked.
  CHECK(data.n_items() == 5);
  CHECK(data.items.id(t.positives[1]) == "9");
  REQUIRE(t.negatives[1].size() == 3);
  CHECK(data.items.id(t.negatives[1][2]) == "7");
  CHECK(t.negatives[0].size() == 2);

  Interactions d2 = load_interactions(train);
  const NcfTest only = load_ncf_test(rating, "", d2);
  CHECK(only.users.size() == 2);
  CHECK(only.negatives[0].empty());

  const std::string wrong = test::write_file("data-ncftest", "w.test.negative", "(0,3)\t1\n(1,8)\t1\n");
  Interactions d3 = load_interactions(train);
  CHECK_THAT(test::error_of([&] { load_ncf_test(rating, wrong, d3); }),
             Catch::Contains("w.test.negative:2: field 'item'"));
  const std::string stranger = test::write_file("data-ncftest", "s.test.rating", "0\t3\n42\t1\n");
  Interactions d4 = load_interactions(train);
  CHECK_THAT(test::error_of([&] { load_ncf_test(stranger, "", d4); }),
             Catch::Contains("s.test.rating:2: field 'user': '42' is not a user"));
  const std::string missing = test::write_file("data-ncftest", "m.test.negative", "(0,3)\t1\n");
  Interactions d5 = load_interactions(train);
  CHECK_THAT(test::error_of([&] { load_ncf_test(rating, missing, d5); }),
             Catch::Contains("no negatives for the test case on " + rating + ":2"));
}

TEST_CASE("Csr by user, by item, transpose, contains", "[data]") {
  Interactions d;
  for (const char* u : {"u0", "u1", "u2"}) d.users.add(u);
  for (const char* i : {"i0", "i1", "i2", "i3"}) d.items.add(i);
  d.rows = {{0, 3, 1.0f, 0}, {1, 0, 2.0f, 0}, {0, 1, 3.0f, 0}, {2, 3, 4.0f, 0}, {0, 0, 5.0f, 0}};
  const Csr m = Csr::by_user(d);
  CHECK(m.rows() == 3);
  CHECK(m.cols == 4);
  CHECK(m.nnz() == 5);
  CHECK(m.indptr == std::vector<std::uint64_t>{0, 3, 4, 5});
  CHECK(m.indices == std::vector<index_t>{0, 1, 3, 0, 3});
  CHECK(m.values == std::vector<float>{5, 3, 1, 2, 4});
  CHECK(m.contains(0, 1));
  CHECK_FALSE(m.contains(0, 2));
  CHECK_FALSE(m.contains(1, 3));
  CHECK_FALSE(m.contains(7, 0));

  const Csr t = Csr::by_item(d);
  CHECK(t.rows() == 4);
  CHECK(t.cols == 3);
  CHECK(t.indptr == std::vector<std::uint64_t>{0, 2, 3, 3, 5});
  CHECK(t.indices == std::vector<index_t>{0, 1, 0, 0, 2});
  CHECK(t.values == std::vector<float>{5, 2, 3, 1, 4});
  const Csr tt = m.transpose();
  CHECK(tt.indptr == t.indptr);
  CHECK(tt.indices == t.indices);
  CHECK(tt.values == t.values);
  CHECK(tt.cols == t.cols);
  const Csr back = tt.transpose();
  CHECK(back.indices == m.indices);
  CHECK(back.values == m.values);

  d.rows.push_back({5, 0, 1.0f, 0});
  CHECK_THROWS_AS(Csr::by_user(d), Error);
  const Csr none = Csr::by_user(Interactions{});
  CHECK(none.rows() == 0);
  CHECK(none.nnz() == 0);
}

TEST_CASE("empty_like keeps maps and flags, drops rows", "[data]") {
  const Interactions d = load_interactions(test::write_file("data-like", "u.data", "1\t2\t3\t4\n5\t6\t7\t8\n"));
  const Interactions e = d.empty_like();
  CHECK(e.size() == 0);
  CHECK(e.users.ids() == d.users.ids());
  CHECK(e.items.ids() == d.items.ids());
  CHECK(e.has_ratings == d.has_ratings);
  CHECK(e.has_time == d.has_time);
  CHECK(e.source == d.source);
}

TEST_CASE("synthetic catalogue: deterministic, complete, no repeated pairs", "[data][synthetic]") {
  SyntheticOptions o;
  o.users = 500;
  o.items = 300;
  o.interactions = 15000;
  o.seed = 7;
  const SyntheticCatalogue a = generate_synthetic(o);
  const SyntheticCatalogue b = generate_synthetic(o);
  const Interactions& d = a.data;
  REQUIRE(d.size() == 15000);
  CHECK(d.n_users() == 500);
  CHECK(d.n_items() == 300);
  CHECK(d.has_ratings);
  CHECK(d.has_time);
  CHECK(every_id_used(d));
  REQUIRE(b.data.size() == d.size());
  bool same = true;
  for (std::size_t k = 0; k < d.size(); ++k) {
    const Interaction &x = d.rows[k], &y = b.data.rows[k];
    same = same && x.user == y.user && x.item == y.item && x.value == y.value && x.time == y.time;
  }
  CHECK(same);
  CHECK(a.item_titles == b.item_titles);
  CHECK(a.item_genres == b.item_genres);

  std::set<std::pair<index_t, index_t>> pairs;
  std::vector<std::int64_t> last_time(d.n_users(), std::numeric_limits<std::int64_t>::min());
  bool increasing = true;
  std::map<float, int> stars;
  for (const Interaction& x : d.rows) {
    pairs.insert({x.user, x.item});
    increasing = increasing && x.time > last_time[x.user];
    last_time[x.user] = x.time;
    ++stars[x.value];
  }
  CHECK(pairs.size() == d.size());
  CHECK(increasing);
  // Every star value occurs, and only whole stars 1..5.
  CHECK(stars.size() == 5);
  CHECK(stars.begin()->first == 1.0f);
  CHECK(stars.rbegin()->first == 5.0f);
  double mean = 0;
  for (const auto& [s, n] : stars) mean += s * n;
  mean /= d.size();
  CHECK(mean > 3.0);
  CHECK(mean < 4.2);

  REQUIRE(a.item_titles.size() == 300);
  REQUIRE(a.item_genres.size() == 300);
  CHECK(std::set<std::string>(a.item_titles.begin(), a.item_titles.end()).size() == 300);
  CHECK(a.genre_names.size() == 18);
  CHECK(a.genre_names[0] == "Drama");
  for (const auto& g : a.item_genres) {
    CHECK(g.size() >= 1);
    CHECK(g.size() <= 3);
    CHECK(std::set<int>(g.begin(), g.end()).size() == g.size());
    for (int x : g) CHECK((x >= 0 && x < 18));
  }

  o.seed = 8;
  const SyntheticCatalogue c = generate_synthetic(o);
  CHECK(by_ids(c.data) != by_ids(d));
}

TEST_CASE("synthetic catalogue is the same on every platform", "[data][synthetic]") {
  // A fingerprint of one small catalogue. The generator uses only IEEE basic arithmetic (no
  // libm transcendental functions, no fused multiply-add), so this value must not change with
  // the compiler, the CPU or the wasm build; if the generator is changed on purpose, the
  // embedded default catalogue changes too, and this constant with it.
  SyntheticOptions o;
  o.users = 300;
  o.items = 200;
  o.interactions = 5000;
  o.seed = 3;
  const SyntheticCatalogue c = generate_synthetic(o);
  std::uint64_t h = 0xcbf29ce484222325ull;
  const auto mix = [&](std::uint64_t v) { h = (h ^ v) * 0x100000001b3ull; };
  for (const Interaction& x : c.data.rows) {
    mix(x.user);
    mix(x.item);
    mix(static_cast<std::uint64_t>(x.value * 2));
    mix(static_cast<std::uint64_t>(x.time));
  }
  for (const std::string& t : c.item_titles)
    for (char ch : t) mix(static_cast<unsigned char>(ch));
  for (const auto& g : c.item_genres)
    for (int x : g) mix(static_cast<std::uint64_t>(x));
  CHECK(h == 0x8bb4590f813f3ab8ull);
}

TEST_CASE("synthetic popularity follows a power law", "[data][synthetic]") {
  SyntheticOptions o;  // the defaults: 2000 users, 1000 items, 60000 interactions
  const Interactions d = generate_synthetic(o).data;
  std::vector<std::uint64_t> count(d.n_items(), 0);
  for (const Interaction& x : d.rows) ++count[x.item];
  std::sort(count.rbegin(), count.rend());
  std::uint64_t top = 0;
  for (std::size_t k = 0; k < count.size() / 10; ++k) top += count[k];
  // Zipf(1) over 1000 items puts ~40% of the mass on the top 10%; uniform would put 10%.
  CHECK(static_cast<double>(top) / d.size() > 0.3);
  CHECK(count.back() >= 1);
}

TEST_CASE("synthetic data carries personal signal beyond popularity", "[data][synthetic]") {
  // Hold out each user's last item; an item-item cosine recommender built from the rest must
  // hit it far more often than popularity. (Models are checked the same way in their tests.)
  SyntheticOptions o;
  o.users = 1500;
  o.items = 600;
  o.interactions = 40000;
  o.ratings = false;
  const Interactions d = generate_synthetic(o).data;
  CHECK_FALSE(d.has_ratings);
  std::vector<std::vector<index_t>> hist(d.n_users());
  for (const Interaction& x : d.rows) hist[x.user].push_back(x.item);  // time order
  const index_t n = d.n_items();
  std::vector<float> co(static_cast<std::size_t>(n) * n, 0.0f);
  std::vector<float> pop(n, 0.0f);
  for (const auto& h : hist) {
    for (std::size_t a = 0; a + 1 < h.size(); ++a) {
      pop[h[a]] += 1;
      for (std::size_t b = 0; b + 1 < h.size(); ++b)
        if (a != b) co[static_cast<std::size_t>(h[a]) * n + h[b]] += 1;
    }
  }
  int hits_knn = 0, hits_pop = 0, cases = 0;
  std::vector<float> score(n);
  for (const auto& h : hist) {
    if (h.size() < 3) continue;
    ++cases;
    const index_t target = h.back();
    std::fill(score.begin(), score.end(), 0.0f);
    for (std::size_t a = 0; a + 1 < h.size(); ++a)
      for (index_t i = 0; i < n; ++i)
        if (pop[i] > 0)
          score[i] += co[static_cast<std::size_t>(h[a]) * n + i] / std::sqrt(pop[i] * pop[h[a]]);
    const auto rank_of = [&](const std::vector<float>& s) {
      std::vector<char> seen(n, 0);
      for (std::size_t a = 0; a + 1 < h.size(); ++a) seen[h[a]] = 1;
      int better = 0;
      for (index_t i = 0; i < n; ++i)
        if (!seen[i] && i != target && s[i] > s[target]) ++better;
      return better;
    };
    hits_knn += rank_of(score) < 10;
    hits_pop += rank_of(pop) < 10;
  }
  INFO("cases " << cases << " knn hits " << hits_knn << " popularity hits " << hits_pop);
  CHECK(hits_knn > 1.3 * hits_pop);
}

TEST_CASE("synthetic: implicit mode keeps the pairs; bad options are errors", "[data][synthetic]") {
  SyntheticOptions o;
  o.users = 50;
  o.items = 40;
  o.interactions = 600;
  const Interactions explicit_data = generate_synthetic(o).data;
  o.ratings = false;
  const Interactions implicit_data = generate_synthetic(o).data;
  REQUIRE(implicit_data.size() == explicit_data.size());
  for (std::size_t k = 0; k < implicit_data.size(); ++k) {
    CHECK(implicit_data.rows[k].value == 1.0f);
    CHECK(implicit_data.rows[k].item == explicit_data.rows[k].item);
  }
  CHECK_FALSE(implicit_data.has_ratings);

  SyntheticOptions bad = o;
  bad.interactions = 39;  // fewer than the items
  CHECK_THROWS_AS(generate_synthetic(bad), Error);
  bad.interactions = 50 * 40 + 1;
  CHECK_THROWS_AS(generate_synthetic(bad), Error);
  bad = o;
  bad.clusters = 0;
  CHECK_THROWS_AS(generate_synthetic(bad), Error);

  // A full matrix: every user rates every item exactly once.
  SyntheticOptions full = o;
  full.users = 20;
  full.items = 15;
  full.interactions = 300;
  const Interactions f = generate_synthetic(full).data;
  std::set<std::pair<index_t, index_t>> pairs;
  for (const Interaction& x : f.rows) pairs.insert({x.user, x.item});
  CHECK(pairs.size() == 300);
}

TEST_CASE("write_csv round-trips through the loader", "[data][synthetic]") {
  SyntheticOptions o;
  o.users = 80;
  o.items = 60;
  o.interactions = 1500;
  const SyntheticCatalogue cat = generate_synthetic(o);
  const std::string dir = test::temp_dir("data-write");
  const std::string path = dir + "/ratings.csv";
  write_csv(cat, path);
  LoadReport r;
  const Interactions back = load_interactions(path, {}, &r);
  CHECK(r.format == Format::csv);
  CHECK(r.rejected == 0);
  // Ids are the same text; indices follow first-seen order in the file, rows keep file order.
  REQUIRE(back.size() == cat.data.size());
  std::size_t differ = 0;
  for (std::size_t k = 0; k < back.size(); ++k) {
    const Interaction &x = back.rows[k], &y = cat.data.rows[k];
    differ += uid(back, x) != uid(cat.data, y) || iid(back, x) != iid(cat.data, y) ||
              x.value != y.value || x.time != y.time;
  }
  CHECK(differ == 0);
  CHECK(back.n_users() == cat.data.n_users());
  CHECK(back.n_items() == cat.data.n_items());
  std::ifstream items(dir + "/items.csv");
  std::string line;
  std::getline(items, line);
  CHECK(line == "item,title,genres");
  int lines = 0;
  while (std::getline(items, line)) ++lines;
  CHECK(lines == 60);

  // Ids that need quoting survive too.
  Interactions odd;
  odd.users.add("a,b");
  odd.users.add(" padded ");
  odd.items.add("say \"x\"");
  odd.rows = {{0, 0, 2.5f, 7}, {1, 0, 1.0f, 8}};
  write_csv(odd, dir + "/odd.csv");
  const Interactions odd_back = load_interactions(dir + "/odd.csv");
  CHECK(odd_back.users.ids() == odd.users.ids());
  CHECK(odd_back.items.ids() == odd.items.ids());
  CHECK(odd_back.rows[0].value == 2.5f);
  CHECK_THROWS_WITH(write_csv(odd, "/nonexistent/dir/x.csv"), Catch::Contains("/nonexistent/dir/x.csv"));
}

TEST_CASE("real data: MovieLens 100K", "[data][real][realdata]") {
  const std::string p = test::shared_data("ml-100k/u.data");
  EDGEREC_SKIP_IF_NO_DATA(p, "ml-100k/u.data");
  CHECK(detect_format(p) == Format::ml100k);
  LoadReport r;
  const Interactions d = load_interactions(p, {}, &r);
  CHECK(d.size() == 100000);
  CHECK(d.n_users() == 943);
  CHECK(d.n_items() == 1682);
  CHECK(r.rejected == 0);
  CHECK(r.duplicates == 0);
  CHECK(d.has_ratings);
  std::map<float, int> stars;
  for (const Interaction& x : d.rows) ++stars[x.value];
  // The published distribution of ML-100K's stars.
  CHECK(stars == std::map<float, int>{{1, 6110}, {2, 11370}, {3, 27145}, {4, 34174}, {5, 21201}});

  LoadOptions o;
  o.implicit_threshold = 4;
  LoadReport ri;
  const Interactions imp = load_interactions(p, o, &ri);
  CHECK(imp.size() == 55375);
  CHECK(ri.below_threshold == 44625);
  CHECK_FALSE(imp.has_ratings);
  CHECK(every_id_used(imp));

  o = {};
  o.kcore = 20;
  LoadReport rk;
  const Interactions core = load_interactions(p, o, &rk);
  check_report_identity(rk);
  const Csr by_user = Csr::by_user(core), by_item = Csr::by_item(core);
  std::size_t min_u = core.size(), min_i = core.size();
  for (index_t u = 0; u < by_user.rows(); ++u) min_u = std::min(min_u, by_user.row_size(u));
  for (index_t i = 0; i < by_item.rows(); ++i) min_i = std::min(min_i, by_item.row_size(i));
  CHECK(min_u >= 20);
  CHECK(min_i >= 20);
  CHECK(core.n_users() < 943);
}

TEST_CASE("real data: ML-1M NCF files", "[data][real][realdata]") {
  const std::string train = test::shared_data("ml-1m/ncf/ml-1m.train.pairs.tsv");
  const std::string rating = test::shared_data("ml-1m/ncf/ml-1m.test.rating");
  const std::string negative = test::shared_data("ml-1m/ncf/ml-1m.test.negative");
  EDGEREC_SKIP_IF_NO_DATA(train, "ml-1m/ncf/ml-1m.train.pairs.tsv");
  EDGEREC_SKIP_IF_NO_DATA(negative, "ml-1m/ncf/ml-1m.test.negative");
  LoadReport r;
  Interactions d = load_interactions(train, {}, &r);
  CHECK(r.format == Format::ncf);
  CHECK(d.size() == 994169);
  CHECK(d.n_users() == 6040);
  // 3,706 items in all; two of them occur only as held-out test items.
  CHECK(d.n_items() == 3704);
  CHECK_FALSE(d.has_ratings);
  const Csr seen = Csr::by_user(d);
  const NcfTest t = load_ncf_test(rating, negative, d);
  CHECK(d.n_items() == 3706);
  REQUIRE(t.users.size() == 6040);
  std::size_t bad = 0, short_lists = 0;
  for (std::size_t k = 0; k < t.users.size(); ++k) {
    // 156 lines list the held-out item among their 99 negatives; it is dropped there.
    short_lists += t.negatives[k].size() == 98;
    bad += t.negatives[k].size() != 99 && t.negatives[k].size() != 98;
    bad += seen.contains(t.users[k], t.positives[k]);  // held out, so never in training
    for (index_t n : t.negatives[k]) bad += seen.contains(t.users[k], n);
  }
  CHECK(bad == 0);
  CHECK(short_lists == 156);
}
