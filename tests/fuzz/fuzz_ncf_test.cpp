// The NCF leave-one-out files: a train file (*.train.rating, read by the ncf loader) and the
// test files *.test.rating and *.test.negative. The input holds the three, separated by NUL
// bytes (a NUL in a real file is bad data anyway); a missing third part means no negatives
// file. Every input is an Error or a test set whose indices are inside the id maps, with one
// held-out item and its negatives per test case, none of them the held-out item.
#include <cstdint>
#include <string>
#include <string_view>

#include "edgerec/edgerec.hpp"
#include "fuzz_util.hpp"

namespace er = edgerec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const std::size_t s1 = all.find('\0');
  if (s1 == std::string_view::npos) return -1;
  const std::size_t s2 = all.find('\0', s1 + 1);
  const std::string_view train = all.substr(0, s1);
  const std::string_view rating =
      all.substr(s1 + 1, s2 == std::string_view::npos ? std::string_view::npos : s2 - s1 - 1);
  const std::string_view negative =
      s2 == std::string_view::npos ? std::string_view() : all.substr(s2 + 1);

  er::Interactions d;
  try {
    er::LoadOptions o;
    o.format = er::Format::ncf;
    d = er::load_interactions_from_memory(train, "ml-1m.train.rating", o);
  } catch (const er::Error&) {
    return 0;
  }
  const er::index_t users = d.n_users();
  er::NcfTest t;
  try {
    t = er::load_ncf_test_from_memory(rating, "ml-1m.test.rating",
                                      s2 == std::string_view::npos ? nullptr : &negative,
                                      "ml-1m.test.negative", d);
  } catch (const er::Error&) {
    return 0;
  }
  FUZZ_CHECK(d.n_users() == users);  // test files never add users
  FUZZ_CHECK(!t.users.empty());
  FUZZ_CHECK(t.positives.size() == t.users.size() && t.negatives.size() == t.users.size());
  for (std::size_t k = 0; k < t.users.size(); ++k) {
    FUZZ_CHECK(t.users[k] < d.n_users() && t.positives[k] < d.n_items());
    for (const er::index_t n : t.negatives[k]) FUZZ_CHECK(n < d.n_items() && n != t.positives[k]);
  }
  return 0;
}
