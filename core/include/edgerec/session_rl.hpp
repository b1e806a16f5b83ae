// edgerec/session_rl.hpp — Q-learning with function approximation over recommendation sessions,
// and the session simulator it is trained and compared in.
//
// Why a session simulator: the logged-bandit simulator (bandit.hpp) has no state, so the best
// policy there is myopic. Here a user's reaction depends on what the session already showed,
// so a policy that maximises the next click can lose over the session. Its rules (simple on
// purpose, the choice made here):
//   - Hidden preferences: the predicted rating r(u, i) of an svd model fitted on all the data
//     (fit_hidden_preferences, as `edgerec simulate`), clamped to its rating range.
//   - Boredom: showing an item makes similar items less welcome for a while. The effective
//     rating of item i at step t of a session that showed a_0 .. a_{t-1} is
//       r̃ = r(u, i) − β Σ_{m ≥ 0} δ^m max(0, cos(w_i, w_{a_{t-1-m}}))
//     with w the hidden svd model's item factors centred on their mean (the truth, which the
//     policies do not see; uncentred, almost any two items would count as similar),
//     β = boredom (rating points), δ = boredom_decay. Nothing is shown twice in a session.
//   - Reward: a click (1) when r̃ ≥ threshold, else 0; or (bernoulli) a click with probability
//     (r̃ − min) / (max − min), clamped.
//   - Actions: the base model's top `candidates` items the user has not rated (the same
//     candidate set for every session of a user); a session is `steps` shows long.
//   - Users: a seeded `eval_fraction` of the users is held out: training sessions draw their
//     user from the rest, evaluation sessions go through the held-out users in turn.
//
// Q-function (Q-learning with function approximation, Mnih et al. 2015's replay and target
// network, without their convolutional front end). Features of (state, action), 4D + 3 numbers,
// from the base model's arm context (BanditFeatures: ū, v̄ unit vectors in D dimensions):
//   state: ū, h̄ = the mean v̄ of the last `history` items shown (zero at the start), t / steps;
//   action: v̄ of the item and its standardised base score;
//   φ = [ū ⊙ v̄, h̄ ⊙ v̄, v̄, h̄, t / steps, score, 1].
// `linear`: Q = wᵀφ + b (one nn::Linear); `mlp`: φ → hidden (ReLU) → 1 (nn::Mlp). Trained with
// the target y = r + γ max_{a' unshown} Q_target(s', a') (y = r at the session's end), mean
// squared error over mini-batches drawn from a replay buffer, Adam, global-norm clipping at 10;
// the target network copies the online one every `target_every` updates; actions ε-greedy.
// Deterministic for a seed on a deterministic backend.
//
// Thread-safety: a SessionSimulator is read-only after construction and may be shared; a
// QFunction is used by one thread at a time. Both keep pointers to the models they were given,
// which must outlive them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "edgerec/bandit.hpp"
#include "edgerec/qlearning.hpp"

namespace edgerec {

// The defaults of boredom and boredom_decay were set on the ML-100K simulation of seed 1 (not
// the reported seed 0) so that repetition matters without drowning the preference signal.
struct SessionOptions {
  int steps = 10;              // N: shows per session
  int candidates = 50;         // the base model's top unrated items a session picks from
  int history = 5;             // k: the state reads the last k items shown
  double boredom = 0.5;        // β, rating points per unit of similarity
  double boredom_decay = 0.8;  // δ in [0, 1]
  RewardModel reward = RewardModel::threshold;
  float threshold = 4.0f;
  double eval_fraction = 0.2;  // share of users held out for evaluation, in (0, 1)
  std::uint64_t seed = 0;      // the user split
};

class SessionSimulator {
 public:
  // `hidden`: the hidden-preference model (an embedding model); `base`: the served model's arm
  // context, whose model gives the candidates. Throws Error on options out of range, a hidden
  // model without embeddings, models over different id maps, or fewer than two users with
  // `candidates` unrated items.
  SessionSimulator(const Model& hidden, const BanditFeatures& base, const SessionOptions& options);

  struct Session {
    index_t user = 0;
    std::vector<std::size_t> shown;  // candidate positions shown so far, oldest first
  };
  // The candidate set of `user` (item indices, best base score first) and their base scores.
  const std::vector<index_t>& candidates(index_t user) const;
  const std::vector<float>& base_scores(index_t user) const;
  bool shown(const Session& s, std::size_t c) const;
  bool done(const Session& s) const { return static_cast<int>(s.shown.size()) >= options_.steps; }
  // r̃ of candidate c in session s (see the top of this file).
  double effective_rating(const Session& s, std::size_t c) const;
  // Shows candidate c (not shown before): returns its reward (bernoulli draws from rng) and
  // appends it to s.shown.
  double show(Session& s, std::size_t c, Rng& rng) const;

  // φ of every candidate position in `cs` in state s, row-major into out (cs.size() x
  // feature_dims() floats).
  int feature_dims() const { return 4 * base_->dims() + 3; }
  void features(const Session& s, const std::vector<std::size_t>& cs, float* out) const;

  const std::vector<index_t>& train_users() const { return train_users_; }
  const std::vector<index_t>& eval_users() const { return eval_users_; }
  const SessionOptions& options() const { return options_; }
  const BanditFeatures& base() const { return *base_; }

 private:
  const Model* hidden_;
  const BanditFeatures* base_;
  SessionOptions options_;
  float lo_ = 0, hi_ = 0;
  MatrixD hidden_items_;  // unit rows of the hidden item factors
  std::vector<std::vector<index_t>> candidates_;  // per user; empty for users left out
  std::vector<std::vector<float>> scores_;
  std::vector<index_t> train_users_, eval_users_;
};

enum class QApprox { linear, mlp };

// gamma and lr default to what qlearn-linear scored best with on the validation simulations
// (seeds 1 and 2; models/README.md has the grid); qlearn-mlp did best there with gamma 0 and
// lr 1e-3.
struct QApproxOptions {
  QApprox kind = QApprox::mlp;
  double gamma = 0.5;      // discount, in [0, 1]
  double lr = 3e-3;        // Adam's learning rate, > 0
  double epsilon = 0.1;    // exploration probability while training, in [0, 1]
  int sessions = 1000;     // training sessions
  int hidden = 32;         // mlp: hidden width
  int batch = 32;          // transitions per update
  int replay = 20000;      // replay buffer capacity (transitions)
  int target_every = 200;  // updates between target-network copies
  std::uint64_t seed = 0;
};

struct QTrainReport {
  std::uint64_t updates = 0;
  double reward_per_session = 0;  // mean over the training sessions (exploration included)
  double seconds = 0;
};

class QFunction {
 public:
  ~QFunction();
  QFunction(QFunction&&) noexcept;
  // Trains on sessions of `sim`'s training users (see the top of this file). `backend` must
  // outlive the QFunction. Throws Error on options out of range.
  static QFunction train(const SessionSimulator& sim, Backend& backend, const QApproxOptions& options,
                         QTrainReport* report = nullptr, const Progress& progress = {});
  // Q(s, c) of every candidate position c of s's user (shown ones included).
  std::vector<double> values(const SessionSimulator& sim, const SessionSimulator::Session& s) const;
  // The unshown candidate with the highest Q (ties: the earlier candidate).
  std::size_t best(const SessionSimulator& sim, const SessionSimulator::Session& s) const;

 private:
  struct Impl;
  explicit QFunction(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Tabular Q-learning over sessions (qlearning.hpp's QTable and q_learning), for a state space
// small enough to enumerate. Items fall into G = 2 min(4, D) taste groups from the base model's
// arm vectors v̄ (D dims): group = 2 argmax_{d < min(4, D)} |v̄_d| + (v̄_d < 0), the strongest of
// the leading directions and its sign. State: (t, the group of the last item shown, or none at
// t = 0): steps x (G + 1) states. Action: a group; the policy shows that group's best-scored
// unshown candidate (the best unshown candidate of all when the group has none left). Reward:
// the click. So the table learns which group to follow which with, and when: what boredom
// rewards, in a form a table can hold (it never sees the user, so for a user's own taste it
// relies on the base model's order within a group).
struct TabularSessionOptions {
  double gamma = 0.5;    // discount, in [0, 1] (the function approximators' default)
  double lr = 0.03;      // η of the table update, in (0, 1]; chosen on the validation simulations
                         // (seeds 1 and 2) among 0.03, 0.1, 0.3 (models/README.md)
  double epsilon = 0.1;  // exploration while training
  int sessions = 1000;   // training sessions (episodes), users drawn from the training users
  std::uint64_t seed = 0;
};

class TabularSessionQ {
 public:
  // Trains on sessions of `sim`'s training users. Throws Error on options out of range.
  static TabularSessionQ train(const SessionSimulator& sim, const TabularSessionOptions& options);
  int groups() const { return groups_; }
  // The taste group of candidate position c of `user`.
  int group(const SessionSimulator& sim, index_t user, std::size_t c) const;
  // The state index of session s: t x (G + 1) + (the last shown item's group + 1, 0 = none).
  int state(const SessionSimulator& sim, const SessionSimulator::Session& s) const;
  // The candidate the table shows next in s: its best group with an unshown candidate (ties:
  // the lower group), that group's best-scored unshown candidate.
  std::size_t best(const SessionSimulator& sim, const SessionSimulator::Session& s) const;
  const QTable& table() const { return table_; }

 private:
  int groups_ = 0;
  QTable table_;
};

// A session policy: the candidate position to show next (never one already shown).
using SessionChooser = std::function<std::size_t(const SessionSimulator::Session&)>;
SessionChooser greedy_chooser(const SessionSimulator& sim);              // the highest base score
SessionChooser random_chooser(const SessionSimulator& sim, std::uint64_t seed);
SessionChooser q_chooser(const SessionSimulator& sim, const QFunction& q);
SessionChooser tabular_chooser(const SessionSimulator& sim, const TabularSessionQ& q);

struct SessionEval {
  std::string policy;
  int sessions = 0;
  double reward_per_session = 0;   // mean summed reward of a session
  double rating = 0;               // mean effective hidden rating of what was shown
  std::vector<double> reward_at_step;  // mean reward at each step t (steps entries)
};

// Runs `sessions` sessions through the held-out users in turn (session e: eval_users[e % n]);
// rewards drawn (bernoulli) from a stream seeded `seed`, the same for every policy.
SessionEval evaluate_sessions(const SessionSimulator& sim, const std::string& name,
                              const SessionChooser& choose, int sessions, std::uint64_t seed);

}  // namespace edgerec
