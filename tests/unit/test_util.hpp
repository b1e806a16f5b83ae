// Helpers shared by the unit tests.
#pragma once

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <catch2/catch.hpp>

#include "edgerec/edgerec.hpp"

namespace edgerec::test {

// The real-data folder (MovieLens, Amazon copies): $EDGEREC_DATA when set and not empty, read at
// run time so one build can be pointed at another copy; otherwise the configure-time default
// (../shared/data beside the source tree).
inline std::string data_dir() {
  const char* env = std::getenv("EDGEREC_DATA");
  return env && *env ? std::string(env) : std::string(EDGEREC_SHARED_DATA);
}

// True under CI (CI=true or CI=1, as CI services set it): missing real data is then a failure,
// so that an accuracy bar can never pass by being skipped.
inline bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci && (std::strcmp(ci, "true") == 0 || std::strcmp(ci, "1") == 0);
}

// Path of a file in the real-data folder, or "" when it is absent (the test then skips, or fails
// under CI, through EDGEREC_SKIP_IF_NO_DATA).
inline std::string shared_data(const std::string& relative) {
  std::filesystem::path p = std::filesystem::path(data_dir()) / relative;
  if (!std::filesystem::exists(p)) return "";
  return p.string();
}

// A small model of `kind` trained once per process on a seeded synthetic catalogue (300 users,
// 200 items, 9000 interactions; 16 factors, 8 epochs, seed 3), shared by the serving tests.
// `ratings`: star ratings instead of implicit interactions.
inline const Model& small_trained(ModelKind kind, bool ratings) {
  static std::map<std::pair<ModelKind, bool>, std::unique_ptr<Model>> cache;
  auto& slot = cache[{kind, ratings}];
  if (!slot) {
    SyntheticOptions o;
    o.users = 300;
    o.items = 200;
    o.interactions = 9000;
    o.seed = 5;
    o.ratings = ratings;
    const auto data = generate_synthetic(o).data;
    slot = make_model(kind);
    Hyper h;
    h.factors = 16;
    h.epochs = 8;
    h.seed = 3;
    auto backend = make_cpu_backend();
    slot->fit(data, h, *backend);
  }
  return *slot;
}

inline std::string temp_dir(const std::string& name) {
  std::filesystem::path p = std::filesystem::path(EDGEREC_TEST_TMP) / name;
  std::filesystem::create_directories(p);
  return p.string();
}

// Writes `content` to temp_dir(dir)/name and returns the path. Give each test file its own
// `dir` prefix: ctest runs test files in parallel.
inline std::string write_file(const std::string& dir, const std::string& name,
                              const std::string& content) {
  const std::string path = temp_dir(dir) + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return path;
}

// The message of the edgerec::Error that f throws, "" when it throws none. Any other exception
// gives a message saying so (it would be a bug: bad input must give an Error).
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("NOT AN edgerec::Error: ") + e.what();
  }
  return "";
}

}  // namespace edgerec::test

// Real-data test cases carry the tag [realdata] (ctest label `realdata`) and start with this.
// Catch2 2 has no SKIP, so a skip is a warning that ctest matches ("SKIPPED:"); the failure
// message under CI must not contain that word, or ctest would report a skip.
#define EDGEREC_SKIP_IF_NO_DATA(path, what)                                                    \
  if ((path).empty()) {                                                                        \
    if (edgerec::test::under_ci())                                                             \
      FAIL("real data missing: " what " not found under '" << edgerec::test::data_dir()        \
           << "' (CI is set, so this fails instead of skipping; point EDGEREC_DATA at the data folder)"); \
    WARN("SKIPPED: " what " not found under '" << edgerec::test::data_dir()                    \
         << "' (real data is optional; set EDGEREC_DATA to the data folder)");                 \
    return;                                                                                    \
  }
