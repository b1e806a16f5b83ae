// The reference BPR epoch, stratified so that threads never share parameters.
//
// Users are cut into T = threads() contiguous blocks of about equal interaction count, items into
// T blocks of a random partition drawn afresh every epoch. An epoch is T sub-epochs; in
// sub-epoch s, worker t trains on the interactions of its user block t whose item lies in item
// block (t + s) % T, drawing negatives from that item block too. Within a sub-epoch the workers'
// user rows, item rows and item biases are disjoint, so the result cannot depend on scheduling;
// every random stream comes from mix_seed(epoch seed, block, sub-epoch), so it depends only on
// the seed and T. Over the T sub-epochs every interaction is visited exactly once, in a random
// order within its stratum.
//
// Why a new item partition each epoch: with fixed blocks a positive is only ever compared with
// negatives of its own block, so nothing calibrates one block's scores against another's (on the
// ML-1M NCF split fixed contiguous blocks cost 0.13 of hr@10 at T = 2). A fresh random partition
// makes each negative, over the epochs, a uniform draw from all items.
//
// T = 1 is plain BPR: one shuffled pass over all interactions, negatives uniform over all items.
#include <algorithm>
#include <vector>

#include "backend/bpr_strata.hpp"
#include "backend/train_flavours.hpp"
#include "edgerec/backend.hpp"
#include "edgerec/kernels.hpp"
#include "edgerec/split.hpp"
#include "models/bpr_sample.hpp"
#include "serve_only.hpp"

#ifndef EDGEREC_TRAIN_NAMESPACE
#define EDGEREC_TRAIN_NAMESPACE edgerec::train_generic
#endif

namespace EDGEREC_TRAIN_NAMESPACE {
namespace {

// How many samples ahead the loop prefetches.
constexpr std::size_t kAhead = 6;
// Largest (users x items) bit matrix built for negative rejection: 64 MiB.
constexpr std::uint64_t kMaxBitMatrix = std::uint64_t{1} << 29;

}  // namespace

double bpr_epoch(Backend& backend, const Csr& by_user, Matrix& P, Matrix& Q, Vector& item_bias,
                 const BprStep& step) {
  const index_t n_users = by_user.rows();
  const index_t n_items = by_user.cols;
  const int f = static_cast<int>(P.cols());

  const int T = static_cast<int>(std::max<index_t>(1, std::min<index_t>(
      {static_cast<index_t>(std::max(1, backend.threads())), n_users, n_items})));
  const std::vector<index_t> ucut = bpr_strata::balanced_cuts(by_user, T);

  // This epoch's item partition: block_of[i], and each block's items (ascending).
  std::vector<index_t> block_of;
  std::vector<std::vector<index_t>> block_items;
  bpr_strata::item_partition(n_items, T, step.seed, block_of, block_items);

  // Membership of (user, item) for rejecting negatives: a bit matrix when it is small (one memory
  // read instead of a binary search, which was 40% of the epoch), else the sorted rows. Both
  // give the same answers, so the result does not depend on which is used.
  std::vector<std::uint64_t> bits;
  const std::uint64_t n_bits = std::uint64_t{n_users} * n_items;
  if (n_bits <= kMaxBitMatrix) {
    bits.assign((n_bits + 63) / 64, 0);
    for (index_t u = 0; u < n_users; ++u)
      for (std::size_t e = 0; e < by_user.row_size(u); ++e) {
        const std::uint64_t k = std::uint64_t{u} * n_items + by_user.row_indices(u)[e];
        bits[k >> 6] |= std::uint64_t{1} << (k & 63);
      }
  }
  const auto positive = [&](index_t u, index_t j) {
    if (bits.empty()) return by_user.contains(u, j);
    const std::uint64_t k = std::uint64_t{u} * n_items + j;
    return (bits[k >> 6] >> (k & 63) & 1) != 0;
  };

  std::vector<double> loss(static_cast<std::size_t>(T) * T, 0.0);
  std::vector<std::uint64_t> count(static_cast<std::size_t>(T) * T, 0);
  std::vector<std::vector<std::uint64_t>> work(static_cast<std::size_t>(T));  // per worker
  std::vector<std::vector<index_t>> first(static_cast<std::size_t>(T));

  for (int s = 0; s < T; ++s) {
    backend.parallel_for(static_cast<std::size_t>(T), T, [&](std::size_t t_begin, std::size_t t_end, int) {
      for (std::size_t t = t_begin; t < t_end; ++t) {
        const int b = static_cast<int>((t + static_cast<std::size_t>(s)) % static_cast<std::size_t>(T));
        // The stratum: (user in block t, item in block b), packed as user << 32 | item.
        auto& pos = work[t];
        pos.clear();
        for (index_t u = ucut[t]; u < ucut[t + 1]; ++u) {
          const index_t* row = by_user.row_indices(u);
          for (std::size_t e = 0; e < by_user.row_size(u); ++e)
            if (block_of[row[e]] == static_cast<index_t>(b)) pos.push_back(std::uint64_t{u} << 32 | row[e]);
        }
        Rng rng(mix_seed(step.seed, t, static_cast<std::uint64_t>(s)));
        shuffle(pos, rng);  // every interaction once, in random order

        const std::vector<index_t>& negatives = block_items[static_cast<std::size_t>(b)];
        // Every sample's first negative candidate is drawn up front, so the memory a sample
        // will touch (its rows, biases and membership bit, mostly cache misses at random) can
        // be prefetched kAhead samples early. Further candidates, after a rejection, continue
        // the same stream, so the draws stay a function of the seed alone.
        auto& cand = first[t];
        cand.resize(pos.size());
        for (auto& c : cand) c = negatives[rng.below(negatives.size())];
        const auto prefetch_row = [f](const float* row) {
          for (int k = 0; k < f; k += 16) __builtin_prefetch(row + k, 1);
        };
        double sum = 0.0;
        std::uint64_t used = 0;
        for (std::size_t k = 0; k < pos.size(); ++k) {
          if (k + kAhead < pos.size()) {
            const std::uint64_t a = pos[k + kAhead];
            const index_t ua = static_cast<index_t>(a >> 32), ia = static_cast<index_t>(a),
                          ja = cand[k + kAhead];
            prefetch_row(P.row(ua).data());
            prefetch_row(Q.row(ia).data());
            prefetch_row(Q.row(ja).data());
            __builtin_prefetch(&item_bias[ia], 1);
            __builtin_prefetch(&item_bias[ja], 1);
            if (!bits.empty()) __builtin_prefetch(&bits[(std::uint64_t{ua} * n_items + ja) >> 6]);
          }
          const index_t u = static_cast<index_t>(pos[k] >> 32);
          const index_t i = static_cast<index_t>(pos[k]);
          // Rejection sampling of a negative; a user who has (nearly) every item of the block
          // gives up after a few tries and the sample is skipped.
          index_t j = cand[k];
          bool found = !positive(u, j);
          for (int tries = 1; tries < 32 && !found; ++tries) {
            j = negatives[rng.below(negatives.size())];
            found = !positive(u, j);
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

}  // namespace EDGEREC_TRAIN_NAMESPACE

#ifndef EDGEREC_TRAIN_FLAVOUR_ONLY
namespace edgerec {

double Backend::bpr_epoch(const Csr& by_user, Matrix& P, Matrix& Q, Vector& item_bias,
                          const BprStep& step) {
  EDGEREC_TRAINING_ONLY("BPR training");
  const index_t n_users = by_user.rows();
  const index_t n_items = by_user.cols;
  if (P.rows() != static_cast<Eigen::Index>(n_users) || Q.rows() != static_cast<Eigen::Index>(n_items) ||
      item_bias.size() != static_cast<Eigen::Index>(n_items) || P.cols() != Q.cols())
    throw Error("bpr_epoch: factor matrices do not match the interaction matrix");
  if (by_user.nnz() == 0 || n_items < 2) return 0.0;
  return train_active_flavour().bpr_epoch(*this, by_user, P, Q, item_bias, step);
}

void Backend::bpr_fit(const Csr& by_user, Matrix& P, Matrix& Q, Vector& item_bias, int epochs,
                      const std::function<BprStep(int)>& step_of, const EpochHook& after_epoch) {
  EDGEREC_TRAINING_ONLY("BPR training");
  for (int e = 0; e < epochs; ++e) {
    const double loss = bpr_epoch(by_user, P, Q, item_bias, step_of(e));
    if (after_epoch) after_epoch(e, loss);
  }
}

namespace train_generic {
const TrainFlavour& flavour() {
  static const TrainFlavour f{"generic", &als_solve_rows, &bpr_epoch};
  return f;
}
}  // namespace train_generic

#ifdef __EMSCRIPTEN__
// wasm has one flavour (simd128 vectors) and no dispatch.
std::vector<const TrainFlavour*> train_flavours() { return {&train_generic::flavour()}; }
const TrainFlavour& train_active_flavour() { return train_generic::flavour(); }
const char* kernels::train_flavour() { return "generic"; }
#endif

}  // namespace edgerec
#endif
