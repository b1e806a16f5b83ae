// Sequences::by_user: each user's training items in time order (edgerec/model.hpp).
#include <algorithm>
#include <numeric>
#include <string>

#include "edgerec/model.hpp"

namespace edgerec {

Sequences Sequences::by_user(const Interactions& data) {
  const index_t users = data.n_users(), items = data.n_items();
  const std::size_t n = data.rows.size();
  Sequences s;
  s.offsets.assign(static_cast<std::size_t>(users) + 1, 0);
  for (std::size_t k = 0; k < n; ++k) {
    const Interaction& r = data.rows[k];
    if (r.user >= users || r.item >= items)
      throw Error("row " + std::to_string(k) + " refers to user " + std::to_string(r.user) +
                  " or item " + std::to_string(r.item) + " outside the id maps (" +
                  std::to_string(users) + " users, " + std::to_string(items) + " items)");
    ++s.offsets[static_cast<std::size_t>(r.user) + 1];
  }
  for (index_t u = 0; u < users; ++u) s.offsets[u + 1] += s.offsets[u];
  // Rows by time, ties in row order (a stable sort), then dealt out to their users in that order.
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return data.rows[a].time < data.rows[b].time;
  });
  s.items.resize(n);
  std::vector<std::uint64_t> fill(s.offsets.begin(), s.offsets.end() - 1);
  for (const std::size_t k : order) {
    const Interaction& r = data.rows[k];
    s.items[static_cast<std::size_t>(fill[r.user]++)] = r.item;
  }
  return s;
}

}  // namespace edgerec
