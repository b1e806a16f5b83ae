// The reference BPR epoch, stratified so that threads never share parameters.
//
// Users and items are each cut into T = threads() contiguous blocks of about equal interaction
// count. An epoch is T sub-epochs; in sub-epoch s, worker t trains on the interactions of its
// user block t whose item lies in item block (t + s) % T, drawing negatives from that item block
// too. Within a sub-epoch the workers' user rows, item rows and item biases are disjoint, so the
// result cannot depend on scheduling; each (block, sub-epoch) has its own RNG stream from
// mix_seed, so it depends only on the seed and T. Over the T sub-epochs every interaction is
// visited exactly once, in a random order within its stratum. T = 1 is plain BPR: one shuffled
// pass over all interactions with negatives drawn uniformly from all items.
#include <algorithm>
#include <vector>

#include "edgerec/backend.hpp"
#include "edgerec/split.hpp"
#include "models/bpr_sample.hpp"

namespace edgerec {
namespace {

// Boundaries b[0] = 0 < ... < b[T] = n cutting [0, n) into T ranges of about equal weight.
std::vector<index_t> balanced_cuts(const std::vector<std::uint64_t>& weight, int T) {
  const index_t n = static_cast<index_t>(weight.size());
  std::uint64_t total = 0;
  for (auto w : weight) total += w;
  std::vector<index_t> cuts(static_cast<std::size_t>(T) + 1, n);
  cuts[0] = 0;
  std::uint64_t acc = 0;
  index_t i = 0;
  for (int t = 1; t < T; ++t) {
    const std::uint64_t target = total * static_cast<std::uint64_t>(t) / static_cast<std::uint64_t>(T);
    while (i < n && acc + weight[i] / 2 < target) acc += weight[i++];
    // Every block keeps at least one row, so none is empty while n >= T.
    cuts[t] = std::clamp<index_t>(i, cuts[t - 1] + 1, n - static_cast<index_t>(T - t));
    while (i < cuts[t]) acc += weight[i++];
  }
  return cuts;
}

}  // namespace

double Backend::bpr_epoch(const Csr& by_user, Matrix& P, Matrix& Q, Vector& item_bias,
                          const BprStep& step) {
  const index_t n_users = by_user.rows();
  const index_t n_items = by_user.cols;
  if (P.rows() != static_cast<Eigen::Index>(n_users) || Q.rows() != static_cast<Eigen::Index>(n_items) ||
      item_bias.size() != static_cast<Eigen::Index>(n_items) || P.cols() != Q.cols())
    throw Error("bpr_epoch: factor matrices do not match the interaction matrix");
  if (by_user.nnz() == 0 || n_items < 2) return 0.0;
  const int f = static_cast<int>(P.cols());

  const int T = static_cast<int>(std::max<index_t>(1, std::min<index_t>(
      {static_cast<index_t>(std::max(1, threads())), n_users, n_items})));
  std::vector<std::uint64_t> user_w(n_users), item_w(n_items, 0);
  for (index_t u = 0; u < n_users; ++u) {
    user_w[u] = by_user.row_size(u);
    for (std::size_t e = 0; e < by_user.row_size(u); ++e) ++item_w[by_user.row_indices(u)[e]];
  }
  const std::vector<index_t> ucut = balanced_cuts(user_w, T);
  const std::vector<index_t> icut = balanced_cuts(item_w, T);

  std::vector<double> loss(static_cast<std::size_t>(T) * T, 0.0);
  std::vector<std::uint64_t> count(static_cast<std::size_t>(T) * T, 0);
  std::vector<std::vector<std::uint64_t>> work(static_cast<std::size_t>(T));  // per worker

  for (int s = 0; s < T; ++s) {
    parallel_for(static_cast<std::size_t>(T), T, [&](std::size_t t_begin, std::size_t t_end, int) {
      for (std::size_t t = t_begin; t < t_end; ++t) {
        const int b = static_cast<int>((t + static_cast<std::size_t>(s)) % static_cast<std::size_t>(T));
        const index_t lo = icut[b], hi = icut[b + 1];
        // The stratum: (user in block t, item in block b) packed as user << 32 | item, each
        // user's run found by binary search in its sorted row.
        auto& pos = work[t];
        pos.clear();
        for (index_t u = ucut[t]; u < ucut[t + 1]; ++u) {
          const index_t* row = by_user.row_indices(u);
          const index_t* end = row + by_user.row_size(u);
          const index_t* first = std::lower_bound(row, end, lo);
          const index_t* last = std::lower_bound(first, end, hi);
          for (const index_t* it = first; it != last; ++it)
            pos.push_back(std::uint64_t{u} << 32 | *it);
        }
        Rng rng(mix_seed(step.seed, t, static_cast<std::uint64_t>(s)));
        // Fisher-Yates shuffle: every interaction once, in random order.
        for (std::size_t k = pos.size(); k > 1; --k) std::swap(pos[k - 1], pos[rng.below(k)]);

        double sum = 0.0;
        std::uint64_t used = 0;
        const index_t span = hi - lo;
        for (const std::uint64_t e : pos) {
          const index_t u = static_cast<index_t>(e >> 32);
          const index_t i = static_cast<index_t>(e);
          // Rejection sampling of a negative; a user who has (nearly) every item of the block
          // gives up after a few tries and the sample is skipped.
          index_t j = i;
          bool found = false;
          for (int tries = 0; tries < 32 && !found; ++tries) {
            j = lo + static_cast<index_t>(rng.below(span));
            found = !by_user.contains(u, j);
          }
          if (!found) continue;
          sum += bpr::step(P.row(u).data(), Q.row(i).data(), Q.row(j).data(), item_bias[i],
                           item_bias[j], f, step.lr, step.reg, step.bias_reg);
          ++used;
        }
        loss[static_cast<std::size_t>(s) * T + t] = sum;
        count[static_cast<std::size_t>(s) * T + t] = used;
      }
    });
  }
  // Summed in a fixed order, so the loss is as deterministic as the parameters.
  double total = 0.0;
  std::uint64_t n = 0;
  for (std::size_t k = 0; k < loss.size(); ++k) {
    total += loss[k];
    n += count[k];
  }
  return n ? total / static_cast<double>(n) : 0.0;
}

}  // namespace edgerec
