// Helpers shared by the unit tests.
#pragma once

#include <filesystem>
#include <string>

#include <catch2/catch.hpp>

namespace edgerec::test {

// Path of a file in ../shared/data, or "" when the real data is absent (tests then skip with
// a message that says so; Catch2 2 has no SKIP, so ctest matches "SKIPPED:").
inline std::string shared_data(const std::string& relative) {
  std::filesystem::path p = std::filesystem::path(EDGEREC_SHARED_DATA) / relative;
  if (!std::filesystem::exists(p)) return "";
  return p.string();
}

inline std::string temp_dir(const std::string& name) {
  std::filesystem::path p = std::filesystem::path(EDGEREC_TEST_TMP) / name;
  std::filesystem::create_directories(p);
  return p.string();
}

}  // namespace edgerec::test

#define EDGEREC_SKIP_IF_NO_DATA(path, what)                                                 \
  if ((path).empty()) {                                                                     \
    WARN("SKIPPED: " what " not found under " EDGEREC_SHARED_DATA " (real data is optional)"); \
    return;                                                                                 \
  }
