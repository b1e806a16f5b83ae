#include "args.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "edgerec/error.hpp"

namespace edgerec::cli {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, ','))
    if (!x.empty()) out.push_back(x);
  return out;
}

std::vector<UserInteraction> parse_interactions(const std::string& s) {
  std::vector<UserInteraction> out;
  for (const auto& part : split_list(s)) {
    const auto colon = part.rfind(':');
    UserInteraction x;
    x.item = part.substr(0, colon);
    if (colon != std::string::npos) {
      const std::string v = part.substr(colon + 1);
      char* end = nullptr;
      x.value = std::strtof(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !std::isfinite(x.value))
        throw Error("--items: value '" + v + "' of item '" + x.item + "' is not a finite number");
    }
    out.push_back(x);
  }
  return out;
}

std::uint64_t parse_seed(std::string_view s) {
  std::uint64_t v = 0;
  const bool digits = !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (!digits || ec != std::errc() || end != s.data() + s.size()) {
    const std::string shown = s.size() > 40 ? std::string(s.substr(0, 40)) + "..." : std::string(s);
    throw Error("seed '" + shown + "' is not an integer in [0, 18446744073709551615]");
  }
  return v;
}

}  // namespace edgerec::cli
