// The interaction loaders on arbitrary file contents, every format and the options that change
// how lines are read. The input's first two bytes choose the file name (which format sniffing
// sees), the format and the options; the rest is the file. Every input is an Error or data that
// keeps the loaders' promises: indices inside the id maps, every id used, finite values inside
// the rating bounds, and every data record accounted for in the report.
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edgerec/edgerec.hpp"
#include "fuzz_util.hpp"

namespace er = edgerec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return -1;
  const std::uint8_t a = data[0], b = data[1];
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 2, size - 2);

  // a: bits 0-2 the file name / format, 3-5 the duplicate policy, 6 strict, 7 k-core 2.
  struct Variant {
    const char* name;
    er::Format format;
  };
  static const Variant kVariants[] = {
      // Sniffing by content (ml1m, ml-latest, seq-pairs, seq-lines, csv) is reached through
      // "ratings.csv"; slot 1 reads the one format sniffing reaches only for tidy files.
      {"u.data", er::Format::auto_detect},           {"seq.txt", er::Format::seq_lines},
      {"ratings.csv", er::Format::auto_detect},      {"x.train.pairs.tsv", er::Format::auto_detect},
      {"x.train.rating", er::Format::ncf},           {"u1.base", er::Format::ml100k},
      {"data.txt", er::Format::csv},                 {"ratings.dat", er::Format::ml1m},
  };
  const Variant& v = kVariants[a & 7];
  er::LoadOptions o;
  o.format = v.format;
  static const er::DuplicatePolicy kPolicies[] = {
      er::DuplicatePolicy::last, er::DuplicatePolicy::first, er::DuplicatePolicy::mean,
      er::DuplicatePolicy::max,  er::DuplicatePolicy::sum,   er::DuplicatePolicy::keep,
      er::DuplicatePolicy::last, er::DuplicatePolicy::sum};
  o.duplicates = kPolicies[(a >> 3) & 7];
  o.strict = (a >> 6) & 1;
  o.kcore = (a >> 7) & 1 ? 2 : 0;
  // b: csv options (bits 0-2 delimiter, 3 header, 4 no rating column, 5 no time column,
  // 6 swapped user/item columns) and, for every format, 7 an implicit threshold / rating bounds.
  static const char kDelimiters[] = {0, ',', '\t', ';', '|', ' ', ':', 0};
  if (v.format == er::Format::csv) {
    o.delimiter = kDelimiters[b & 7];
    o.header = (b >> 3) & 1;
    if ((b >> 4) & 1) o.rating_col = -1;
    if ((b >> 5) & 1) o.time_col = -1;
    if ((b >> 6) & 1) std::swap(o.user_col, o.item_col);
  }
  if ((b >> 7) & 1) {
    o.implicit_threshold = 3.5f;
    o.min_rating = 0.5f;
    o.max_rating = 5.0f;
  }

  er::LoadReport report;
  er::Interactions d;
  try {
    d = er::load_interactions_from_memory(bytes, v.name, o, &report);
  } catch (const er::Error&) {
    return 0;
  }
  FUZZ_CHECK(!d.rows.empty());
  FUZZ_CHECK(report.records == report.accepted + report.rejected + report.duplicates +
                                   report.below_threshold + report.kcore_removed);
  FUZZ_CHECK(report.format == er::Format::seq_lines ? report.records >= report.lines
                                                    : report.records == report.lines);
  FUZZ_CHECK(report.accepted == d.rows.size());
  FUZZ_CHECK(report.first_rejections.size() <= 20 && report.first_rejections.size() <= report.rejected);
  std::vector<char> user_used(d.n_users(), 0), item_used(d.n_items(), 0);
  for (const er::Interaction& x : d.rows) {
    FUZZ_CHECK(x.user < d.n_users() && x.item < d.n_items());
    FUZZ_CHECK(std::isfinite(x.value));
    user_used[x.user] = item_used[x.item] = 1;
  }
  for (char u : user_used) FUZZ_CHECK(u);
  for (char i : item_used) FUZZ_CHECK(i);
  for (const std::string& id : d.users.ids()) FUZZ_CHECK(!id.empty());
  for (const std::string& id : d.items.ids()) FUZZ_CHECK(!id.empty());
  // What was loaded trains (the cheapest model) without complaint.
  auto m = er::make_model(er::ModelKind::popularity);
  m->fit(d, er::Hyper{}, *er::make_cpu_backend());
  return 0;
}
