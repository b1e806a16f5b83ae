// edgerec/error.hpp — the one exception type the core throws.
//
// Every failure the user can cause (bad file, bad id, bad option) is an edgerec::Error whose
// message is one line naming the problem: "u.data:17: field 'rating': 'abc' is not a number".
// Programming errors are not reported this way; they are bugs.
#pragma once

#include <stdexcept>
#include <string>

namespace edgerec {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace edgerec
