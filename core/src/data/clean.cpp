// Cleaning after parsing: duplicates, implicit threshold, k-core, then dense re-indexing.
#include <algorithm>
#include <cmath>
#include <string>

#include "edgerec/data.hpp"
#include "text.hpp"

namespace edgerec {
namespace {

constexpr index_t kNone = std::numeric_limits<index_t>::max();

// Merges repeated (user, item) pairs in O(n): a stable counting sort by user, then one pass per
// user with an item -> representative table. The merged row stays where the pair first occurs in
// the file, so file order (used to break timestamp ties later) is otherwise untouched.
std::uint64_t merge_duplicates(Interactions& data, DuplicatePolicy policy) {
  std::vector<Interaction>& rows = data.rows;
  const std::size_t n = rows.size();
  const index_t n_users = data.n_users();
  std::vector<std::uint64_t> start(static_cast<std::size_t>(n_users) + 1, 0);
  for (const Interaction& x : rows) ++start[x.user + 1];
  for (index_t u = 0; u < n_users; ++u) start[u + 1] += start[u];
  std::vector<std::uint64_t> order(n);
  {
    std::vector<std::uint64_t> fill(start.begin(), start.end() - 1);
    for (std::size_t i = 0; i < n; ++i) order[fill[rows[i].user]++] = i;
  }

  std::vector<index_t> mark(data.n_items(), kNone);  // user that last claimed the item
  std::vector<std::uint64_t> rep(data.n_items(), 0);  // that user's representative row
  std::vector<char> keep(n, 1);
  std::vector<double> sum;            // mean: running sum per representative row
  std::vector<std::uint32_t> count;   // mean: occurrences per representative row
  if (policy == DuplicatePolicy::mean) {
    sum.assign(n, 0.0);
    count.assign(n, 0);
  }
  std::uint64_t merged = 0;
  for (index_t u = 0; u < n_users; ++u) {
    for (std::uint64_t k = start[u]; k < start[u + 1]; ++k) {
      const std::uint64_t i = order[k];
      const index_t item = rows[i].item;
      if (mark[item] != u) {
        mark[item] = u;
        rep[item] = i;
        if (!count.empty()) {
          sum[i] = rows[i].value;
          count[i] = 1;
        }
        continue;
      }
      Interaction& r = rows[rep[item]];
      const Interaction& x = rows[i];
      switch (policy) {
        case DuplicatePolicy::last:  // later time wins; equal times: later in the file
          if (x.time >= r.time) {
            r.value = x.value;
            r.time = x.time;
          }
          break;
        case DuplicatePolicy::first:  // earlier time wins; equal times: earlier in the file
          if (x.time < r.time) {
            r.value = x.value;
            r.time = x.time;
          }
          break;
        case DuplicatePolicy::max:
          r.value = std::max(r.value, x.value);
          r.time = std::max(r.time, x.time);
          break;
        case DuplicatePolicy::sum:
          r.value += x.value;
          r.time = std::max(r.time, x.time);
          // Each value is finite (the loader checks), but their float sum may not be; an
          // infinite rating would poison training and the saver refuses it much later.
          if (!std::isfinite(r.value)) {
            throw Error(data.source + ": duplicate policy 'sum': the values of user '" +
                        text::printable(data.users.id(u)) + "' for item '" +
                        text::printable(data.items.id(item)) +
                        "' add up to more than a float holds (3.4e38)");
          }
          break;
        case DuplicatePolicy::mean:
          sum[rep[item]] += x.value;
          ++count[rep[item]];
          r.time = std::max(r.time, x.time);
          break;
        case DuplicatePolicy::keep:
          break;
      }
      keep[i] = 0;
      ++merged;
    }
  }
  if (merged == 0) return 0;
  std::size_t w = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!keep[i]) continue;
    if (!count.empty() && count[i] > 1) rows[i].value = static_cast<float>(sum[i] / count[i]);
    rows[w++] = rows[i];
  }
  rows.resize(w);
  return merged;
}

// Re-indexes users and items so every id in the maps has at least one row; survivors keep their
// first-seen order. Returns false when nothing needed to change.
bool compact_ids(Interactions& data) {
  std::vector<std::uint64_t> ucount(data.n_users(), 0), icount(data.n_items(), 0);
  for (const Interaction& x : data.rows) {
    ++ucount[x.user];
    ++icount[x.item];
  }
  const auto all_used = [](const std::vector<std::uint64_t>& c) {
    return std::find(c.begin(), c.end(), 0) == c.end();
  };
  if (all_used(ucount) && all_used(icount)) return false;
  const auto remap = [](const IdMap& old, const std::vector<std::uint64_t>& c,
                        std::vector<index_t>& to) {
    std::vector<std::string> ids;
    to.assign(old.size(), kNone);
    for (index_t k = 0; k < old.size(); ++k) {
      if (c[k] == 0) continue;
      to[k] = static_cast<index_t>(ids.size());
      ids.push_back(old.id(k));
    }
    return IdMap::from_ids(std::move(ids));
  };
  std::vector<index_t> uto, ito;
  IdMap users = remap(data.users, ucount, uto);
  IdMap items = remap(data.items, icount, ito);
  for (Interaction& x : data.rows) {
    x.user = uto[x.user];
    x.item = ito[x.item];
  }
  data.users = std::move(users);
  data.items = std::move(items);
  return true;
}

}  // namespace

void clean_interactions(Interactions& data, const LoadOptions& options, LoadReport* report) {
  LoadReport local;
  LoadReport& rep = report ? *report : local;
  if (options.kcore < 0) throw Error("k-core must be >= 0, got " + std::to_string(options.kcore));
  for (const Interaction& x : data.rows) {
    if (x.user >= data.n_users() || x.item >= data.n_items()) {
      throw Error(data.source + ": interaction refers to an index outside the id maps");
    }
  }
  const std::size_t before = data.rows.size();

  if (options.duplicates != DuplicatePolicy::keep) {
    rep.duplicates += merge_duplicates(data, options.duplicates);
  }

  if (!std::isnan(options.implicit_threshold)) {
    std::size_t w = 0;
    for (const Interaction& x : data.rows) {
      if (!(x.value >= options.implicit_threshold)) continue;
      data.rows[w] = x;
      data.rows[w++].value = 1.0f;
    }
    rep.below_threshold += data.rows.size() - w;
    data.rows.resize(w);
    data.has_ratings = false;
  }

  if (options.kcore > 1) {
    // Dropping a row can push its user or item below k, so repeat until nothing changes.
    const std::uint64_t k = static_cast<std::uint64_t>(options.kcore);
    for (;;) {
      std::vector<std::uint64_t> ucount(data.n_users(), 0), icount(data.n_items(), 0);
      for (const Interaction& x : data.rows) {
        ++ucount[x.user];
        ++icount[x.item];
      }
      std::size_t w = 0;
      for (const Interaction& x : data.rows) {
        if (ucount[x.user] >= k && icount[x.item] >= k) data.rows[w++] = x;
      }
      if (w == data.rows.size()) break;
      rep.kcore_removed += data.rows.size() - w;
      data.rows.resize(w);
    }
  }

  if (data.rows.empty() && before > 0) {
    std::string why;
    if (rep.below_threshold > 0) {
      why += std::to_string(rep.below_threshold) + " below the implicit threshold";
    }
    if (rep.kcore_removed > 0) {
      if (!why.empty()) why += ", ";
      why += std::to_string(rep.kcore_removed) + " removed by the " +
             std::to_string(options.kcore) + "-core filter";
    }
    throw Error(data.source + ": no interactions left after cleaning (" + why + ")");
  }

  compact_ids(data);

  if (data.has_ratings) {
    data.has_ratings = std::any_of(data.rows.begin(), data.rows.end(),
                                   [](const Interaction& x) { return x.value != 1.0f; });
  }
  rep.accepted = data.rows.size();
}

}  // namespace edgerec
