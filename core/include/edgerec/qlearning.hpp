// edgerec/qlearning.hpp — tabular Q-learning for small state spaces.
//
// Q(s,a) ← Q(s,a) + η (r + γ max_a' Q(s',a') − Q(s,a)), with the bootstrap term dropped when
// s' is terminal; actions chosen ε-greedily (ties: the lowest action) during training. An
// Environment gives states and actions as small integers; Q is a dense states x actions table
// (row-major, plain members, so it can be saved later). Deterministic for a seed. Not
// thread-safe: one learner per thread.
#pragma once

#include <cstdint>
#include <vector>

#include "edgerec/split.hpp"

namespace edgerec {

struct QStep {
  int next_state = 0;
  double reward = 0;
  bool terminal = false;
};

// A small episodic environment. reset() gives the start state of an episode; step() the
// outcome of taking `action` in `state`. Either may draw from `rng` (a stochastic environment).
class Environment {
 public:
  virtual ~Environment() = default;
  virtual int states() const = 0;
  virtual int actions() const = 0;
  virtual int reset(Rng& rng) = 0;
  virtual QStep step(int state, int action, Rng& rng) = 0;
};

struct QLearningOptions {
  double gamma = 0.9;     // discount, in [0, 1]
  double lr = 0.1;        // η, in (0, 1]
  double epsilon = 0.1;   // exploration probability while training, in [0, 1]
  int episodes = 1000;
  int max_steps = 100;    // per episode (an episode that has not ended by then is cut)
  double initial_q = 0;   // every Q(s,a) starts here
  std::uint64_t seed = 0;
};

struct QTable {
  int states = 0, actions = 0;
  std::vector<double> q;  // states x actions, row-major
  double& at(int s, int a) { return q[static_cast<std::size_t>(s) * actions + a]; }
  double at(int s, int a) const { return q[static_cast<std::size_t>(s) * actions + a]; }
  // The greedy action of state s (ties: the lowest action).
  int best_action(int s) const;
  double value(int s) const { return at(s, best_action(s)); }
  // One Q-learning update for the transition (s, a, r, s').
  void update(int s, int a, const QStep& step, double gamma, double lr);
};

// Trains a Q table on `env` for options.episodes episodes. Throws Error on options out of
// range or an environment that returns a state outside [0, states()).
QTable q_learning(Environment& env, const QLearningOptions& options);

// The sum of discounted rewards of one greedy episode from `env.reset()` (at most max_steps).
double greedy_return(const QTable& q, Environment& env, double gamma, int max_steps, Rng& rng);

}  // namespace edgerec
