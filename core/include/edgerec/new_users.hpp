// edgerec/new_users.hpp — the new-user cold-start protocol (`edgerec eval --new-users FRACTION`):
// users the model never trained on arrive with a few interactions; does folding them in, and
// exploring with a contextual bandit, beat serving them the popular items?
//
// Protocol (every step seeded by NewUserOptions::seed; nothing depends on the thread count):
//  1. Eligible users: those with at least reveal + 2 distinct items. A seeded shuffle of them
//     picks round(fraction x eligible) held-out users (at least 1; at least one eligible or
//     other user must remain for training). Every row of a held-out user leaves the training
//     data: the model is fitted on the other users' rows only.
//  2. Each held-out user's distinct items in time order (ties, and data without timestamps: file
//     order; a repeated item keeps its first occurrence) split into three windows, fixed before
//     any method runs and the same for every method:
//       revealed  the first `reveal` (default 5): what the user brings (its values as rated);
//       feedback  the next floor(share x rest) items, share = feedback_share (default 0.5) of
//                 the rest: the only items that can answer an exploration step;
//       test      the remaining items (>= 1 by eligibility): the targets. They are never shown
//                 to any method as feedback, so the scores below are test scores.
//     With a relevance threshold (and rated data) only test ratings >= it are relevant; a user
//     with no relevant test item does not count.
//  3. Methods, each a top-K list per user over the same candidates, every item except the
//     revealed and feedback-window ones (as full ranking excludes training items):
//       popularity  the training interaction counts (Model::item_popularity);
//       foldin      Model::top_k_new of the revealed items (the model's own fold-in);
//       explore     `steps` interactive rounds, then a ranking by what the policy learned. Each
//                   round folds in the user's history so far and offers the policy its top
//                   `candidates` items followed by the `candidates` most popular ones (neither
//                   revealed nor shown before, duplicates dropped), each described by
//                   BanditFeatures of the fold-in vector plus one more column, the item's log
//                   training popularity standardised over the items; the policy
//                   (PolicyOptions::kind, default LinUCB hybrid, Li et al. 2010) picks one; the
//                   reward is 1 when the item is in the user's feedback window (it then joins
//                   the history with its value), else 0. One policy learns across the held-out
//                   users, visited in the seeded order, as a deployed policy would, so it learns
//                   how far a new user's fold-in should lean on popularity. The final list: the
//                   same candidate construction from the final history (skipping the revealed
//                   and feedback items), ranked by the policy's estimates (Policy::estimates: what it
//                   learned, without the exploration bonus it chose by);
//       exploit     the same with egreedy at epsilon 0 (the ridge over the same features, never
//                   exploring): what learning without exploration gives;
//       greedy      the same rounds with the greedy policy (the fold-in's best candidate), then
//                   the fold-in of the final history: feedback without any learning.
//     Items shown and not accepted stay candidates of the final lists (a reward of 0 only says
//     "not in the feedback window").
//     With user features (NewUserOptions::user_meta, for kinds that read them: two-tower), two
//     more, each the model's ranking of Model::fold_in_vector_described():
//       features         the held-out user's features alone (no item: a visitor at sign-up,
//                        whose demographics are known before any interaction);
//       foldin_features  the revealed items and the features.
//     The model trains with the training users' features only (the held-out users' rows are left
//     out of the file it reads, so their values do not even reach the z-score statistics); a
//     held-out user the file does not list has a zero feature row.
//  4. Metrics over the counted users, the mean of hr@K, ndcg@K and recall@K of each method's
//     list against the user's test items, as "<method>_hr@K", ...; "explore_accepted",
//     "exploit_accepted" and "greedy_accepted": the mean number of accepted items per user.
// The explore, exploit and greedy methods need a model with latent item factors (the bandit's features); for
// other kinds they are left out. Items only held-out users interacted with stay in the catalogue
// (with no training interaction) and count as targets and candidates alike.
// The defaults: reveal 5 and share 0.5 set beforehand; 20 steps, LinUCB hybrid (alpha 0.01, the
// bandit default) and the base model (README: iALS) chosen on ML-100K draws with seeds 1 and 2
// (validation draws; the reported figure is seed 0's), among 10 / 20 steps, LinUCB hybrid /
// egreedy / Thompson and iALS / BPR; 50 candidates set beforehand.
//
// Cost: per held-out user, 3 x (steps + 1) + 1 fold-ins, each with a top-`candidates` search, a
// popularity top-`candidates` and the policy's scoring of up to 2 x candidates arms; serial (the
// shared policies' updates are ordered): about 19 s for ML-100K's 189 held-out users with iALS
// on one core. Thread-safety: a pure function of its arguments (the model is only read).
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "edgerec/bandit.hpp"
#include "edgerec/data.hpp"
#include "edgerec/item_meta.hpp"
#include "edgerec/model.hpp"

namespace edgerec {

struct NewUserOptions {
  double fraction = 0.2;         // share of the eligible users held out, in (0, 1)
  // Folds: 1 = one held-out draw (the first round(fraction x eligible) users of the seeded
  // shuffle). F >= 2: F disjoint draws of that size, consecutive blocks of the same shuffle (fold
  // 0 is the one-draw protocol's; the last may be smaller), each held out in turn from its own
  // fit, with fresh policies; the metrics pool every counted user of every fold. Every fold must
  // hold a user: (F - 1) x round(fraction x eligible) < eligible (fraction 0.2, 5 folds: every
  // eligible user is a new user once). Pooling over all users cuts the draw-to-draw noise of one 20% draw
  // (ML-100K: 189 users, hr@10's standard error ~0.03).
  int folds = 1;
  int reveal = 5;                // items each held-out user brings
  double feedback_share = 0.5;   // share of the items after the revealed ones that can answer
                                 // exploration, in [0, 1)
  int steps = 20;                // interactive rounds per user (0: no explore/exploit/greedy)
  int candidates = 50;           // fold-in top-N the policy chooses among per round
  int context_dims = 16;         // BanditFeatures context dimensions
  PolicyOptions policy = hybrid();  // the explore policy (LinUCB hybrid by default), its knobs
  int k = 10;                    // list length
  std::uint64_t seed = 0;        // held-out draw and the policies' seeds
  // Test ratings >= this are relevant (rated data); NaN = every test item.
  float relevance_threshold = std::numeric_limits<float>::quiet_NaN();
  // Every user's features (load_user_meta, file order; null: none): see "features" above.
  // evaluate_new_users() fits the model with the training users' rows; measure_new_users() reads
  // the held-out users' rows (by user id) for the features methods, which it adds when the model
  // folds in with features (Model::fold_in_vector_described()).
  std::shared_ptr<const UserMeta> user_meta;

  static PolicyOptions hybrid() {
    PolicyOptions p;
    p.kind = PolicyKind::linucb_hybrid;
    return p;
  }
};

struct NewUserResult {
  std::map<std::string, double> metrics;  // popularity_hr@10, foldin_ndcg@10, explore_hr@10, ...
  std::uint64_t held_out_users = 0;       // drawn
  std::uint64_t counted_users = 0;        // with at least one relevant test item
  std::uint64_t eligible_users = 0;
  std::uint64_t train_rows = 0;
  std::uint64_t feedback_items = 0;       // summed over held-out users
  std::uint64_t test_items = 0;           // relevant test items, summed over counted users
  double fit_seconds = 0;
  double eval_seconds = 0;
  bool explored = false;                  // explore/exploit/greedy ran (the model has factors)
  // With folds >= 2: each fold's own metrics and counted users, in fold order (metrics above
  // are their means weighted by counted users). Empty for one draw.
  std::vector<std::map<std::string, double>> fold_metrics;
  std::vector<std::uint64_t> fold_counted_users;
};

// The per-user windows of step 2 (exposed for tests): items in the order they are revealed.
struct NewUserWindows {
  index_t user = 0;
  std::vector<ItemValue> revealed, feedback, test;
};
// Step 1 and 2: the held-out users' windows of fold `fold` (0 <= fold < options.folds), in the
// seeded visiting order. Throws Error for options out of range, when no user (or every user)
// would be held out, or when the fold would be empty (fraction x folds > 1).
std::vector<NewUserWindows> new_user_windows(const Interactions& data, const NewUserOptions& options,
                                             std::uint64_t* eligible = nullptr, int fold = 0);

// The whole protocol: for each fold, fits `kind` (hyper) on the other users' rows, then steps 3
// and 4; with folds >= 2 the metrics pool the folds' counted users (held_out_users, counted_users,
// feedback_items, test_items and both times are sums over the folds, train_rows fold 0's).
NewUserResult evaluate_new_users(const Interactions& data, ModelKind kind, const Hyper& hyper,
                                 const NewUserOptions& options, Backend& backend,
                                 const Progress& progress = {});

// Steps 3 and 4 for a model already fitted without the windows' users (for tests).
NewUserResult measure_new_users(const Model& model, const std::vector<NewUserWindows>& users,
                                const NewUserOptions& options);

}  // namespace edgerec
