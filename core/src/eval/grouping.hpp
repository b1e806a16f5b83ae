// Internal: rows of an Interactions grouped by user, in file order within each user. The
// splits and protocols need "this user's rows" often; a counting sort gives it in O(n) without
// depending on how Csr merges or orders duplicates.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgerec/data.hpp"

namespace edgerec::detail {

struct UserRows {
  std::vector<std::uint64_t> start;  // n_users + 1 offsets into `row`
  std::vector<std::uint64_t> row;    // row numbers of data.rows

  std::size_t size(index_t u) const { return start[u + 1] - start[u]; }
  const std::uint64_t* begin(index_t u) const { return row.data() + start[u]; }
  const std::uint64_t* end(index_t u) const { return row.data() + start[u + 1]; }
};

// Throws Error when a row's user or item is outside the id maps (a corrupt Interactions).
inline UserRows group_by_user(const Interactions& data) {
  const index_t n_users = data.n_users();
  const index_t n_items = data.n_items();
  UserRows g;
  g.start.assign(static_cast<std::size_t>(n_users) + 1, 0);
  for (std::size_t i = 0; i < data.rows.size(); ++i) {
    const auto& r = data.rows[i];
    if (r.user >= n_users || r.item >= n_items)
      throw Error(data.source + ": row " + std::to_string(i) + " has user " +
                  std::to_string(r.user) + " / item " + std::to_string(r.item) +
                  " outside the id maps (" + std::to_string(n_users) + " users, " +
                  std::to_string(n_items) + " items)");
    ++g.start[r.user + 1];
  }
  for (index_t u = 0; u < n_users; ++u) g.start[u + 1] += g.start[u];
  g.row.resize(data.rows.size());
  std::vector<std::uint64_t> next(g.start.begin(), g.start.end() - 1);
  for (std::size_t i = 0; i < data.rows.size(); ++i) g.row[next[data.rows[i].user]++] = i;
  return g;
}

}  // namespace edgerec::detail
