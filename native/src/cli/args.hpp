// The command line's own value parsers (what CLI11 does not check itself): id lists, a new
// user's interactions, seeds. Kept apart from main.cpp so the fuzz target fuzz_cli_lists calls
// exactly the code the CLI runs. Each throws edgerec::Error with a one-line message.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edgerec/recommender.hpp"

namespace edgerec::cli {

// "a,b,c" -> {"a", "b", "c"}; empty entries are dropped ("a,,b," -> {"a", "b"}).
std::vector<std::string> split_list(const std::string& s);

// "item[:value],item[:value],..." — a new user's interactions (`--items`). The value follows
// the last ':' (ids may contain ':' when a value is given) and must be a finite float; without
// a value the interaction counts 1.
std::vector<UserInteraction> parse_interactions(const std::string& s);

// A seed: 1 to 20 decimal digits, at most 2^64 - 1. CLI11 alone would turn "-1" into 2^64 - 1,
// read "010" as octal and saturate "99999999999999999999" without a word.
std::uint64_t parse_seed(std::string_view s);

}  // namespace edgerec::cli
