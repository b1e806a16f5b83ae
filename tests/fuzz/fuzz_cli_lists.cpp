// The command line's own value parsers (native/src/cli/args.hpp): `--include`/`--exclude` id
// lists, `--items a:5,b:3` and seeds. Every input is an Error or a result that reads back: list
// entries are non-empty and comma-free, item values finite, and a seed's decimal text is the
// input without its leading zeros.
#include <cmath>
#include <cstdint>
#include <string>

#include "args.hpp"
#include "edgerec/error.hpp"
#include "fuzz_util.hpp"

namespace er = edgerec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string s(reinterpret_cast<const char*>(data), size);

  std::size_t chars = 0;
  for (const std::string& x : er::cli::split_list(s)) {
    FUZZ_CHECK(!x.empty() && x.find(',') == std::string::npos);
    chars += x.size();
  }
  FUZZ_CHECK(chars <= s.size());

  try {
    for (const er::UserInteraction& x : er::cli::parse_interactions(s)) {
      FUZZ_CHECK(std::isfinite(x.value));
      FUZZ_CHECK(x.item.find(',') == std::string::npos);
    }
  } catch (const er::Error&) {
  }

  try {
    const std::uint64_t seed = er::cli::parse_seed(s);
    const std::size_t nz = s.find_first_not_of('0');
    FUZZ_CHECK(std::to_string(seed) == (nz == std::string::npos ? "0" : s.substr(nz)));
  } catch (const er::Error&) {
  }
  return 0;
}
