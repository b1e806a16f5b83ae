// Tabular Q-learning (see edgerec/qlearning.hpp).
#include "edgerec/qlearning.hpp"

#include <cmath>
#include <string>

#include "edgerec/error.hpp"

namespace edgerec {
namespace {

void check_state(const Environment& env, int s) {
  if (s < 0 || s >= env.states())
    throw Error("q-learning: the environment returned state " + std::to_string(s) + ", outside [0, " +
                std::to_string(env.states()) + ")");
}

}  // namespace

int QTable::best_action(int s) const {
  int best = 0;
  for (int a = 1; a < actions; ++a)
    if (at(s, a) > at(s, best)) best = a;
  return best;
}

void QTable::update(int s, int a, const QStep& step, double gamma, double lr) {
  const double target = step.reward + (step.terminal ? 0.0 : gamma * value(step.next_state));
  at(s, a) += lr * (target - at(s, a));
}

QTable q_learning(Environment& env, const QLearningOptions& o) {
  if (!(o.gamma >= 0 && o.gamma <= 1)) throw Error("q-learning: gamma must be in [0, 1]");
  if (!(o.lr > 0 && o.lr <= 1)) throw Error("q-learning: the learning rate must be in (0, 1]");
  if (!(o.epsilon >= 0 && o.epsilon <= 1)) throw Error("q-learning: epsilon must be in [0, 1]");
  if (o.episodes < 0 || o.max_steps < 1) throw Error("q-learning: episodes >= 0 and max_steps >= 1");
  if (!std::isfinite(o.initial_q)) throw Error("q-learning: initial_q must be finite");
  if (env.states() < 1 || env.actions() < 1) throw Error("q-learning: the environment has no states or actions");
  QTable q;
  q.states = env.states();
  q.actions = env.actions();
  q.q.assign(static_cast<std::size_t>(q.states) * q.actions, o.initial_q);
  Rng rng(mix_seed(o.seed, 0x716c6561726eull /* "qlearn" */));
  for (int episode = 0; episode < o.episodes; ++episode) {
    int s = env.reset(rng);
    check_state(env, s);
    for (int t = 0; t < o.max_steps; ++t) {
      // One draw decides explore or exploit on every step, so the stream does not depend on it.
      const double u = rng.uniform();
      const int a = u < o.epsilon ? static_cast<int>(rng.below(q.actions)) : q.best_action(s);
      const QStep step = env.step(s, a, rng);
      if (!step.terminal) check_state(env, step.next_state);
      q.update(s, a, step, o.gamma, o.lr);
      if (step.terminal) break;
      s = step.next_state;
    }
  }
  return q;
}

double greedy_return(const QTable& q, Environment& env, double gamma, int max_steps, Rng& rng) {
  int s = env.reset(rng);
  double total = 0, discount = 1;
  for (int t = 0; t < max_steps; ++t) {
    const QStep step = env.step(s, q.best_action(s), rng);
    total += discount * step.reward;
    discount *= gamma;
    if (step.terminal) break;
    s = step.next_state;
  }
  return total;
}

}  // namespace edgerec
