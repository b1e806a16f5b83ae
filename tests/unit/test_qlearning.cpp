// Tabular Q-learning against known answers on small deterministic chains.
#include <cmath>

#include "edgerec/qlearning.hpp"
#include "test_util.hpp"

using namespace edgerec;
using edgerec::test::error_of;

namespace {

// States 0..n-1 in a row, start in `start`. Action 1 moves right; reaching n-1 pays 1 and ends
// the episode. Action 0 moves left; at state 0 it pays `left_reward` and ends the episode
// (0: the left end is a wall and the agent stays at 0).
class Chain final : public Environment {
 public:
  Chain(int n, int start, double left_reward) : n_(n), start_(start), left_(left_reward) {}
  int states() const override { return n_; }
  int actions() const override { return 2; }
  int reset(Rng&) override { return start_; }
  QStep step(int s, int a, Rng&) override {
    if (a == 1) {
      if (s + 1 == n_ - 1) return {s + 1, 1.0, true};
      return {s + 1, 0.0, false};
    }
    if (s == 0) return left_ > 0 ? QStep{0, left_, true} : QStep{0, 0.0, false};
    return {s - 1, 0.0, false};
  }

 private:
  int n_, start_;
  double left_;
};

// A start state drawn uniformly, so every state is visited.
class RandomStartChain final : public Environment {
 public:
  RandomStartChain(int n, double left_reward) : chain_(n, 0, left_reward), n_(n) {}
  int states() const override { return n_; }
  int actions() const override { return 2; }
  int reset(Rng& rng) override { return static_cast<int>(rng.below(n_ - 1)); }
  QStep step(int s, int a, Rng& rng) override { return chain_.step(s, a, rng); }

 private:
  Chain chain_;
  int n_;
};

}  // namespace

TEST_CASE("q-learning: a chain whose optimal policy is 'always right', Q* known in closed form", "[qlearning]") {
  const int n = 6;
  const double gamma = 0.9;
  RandomStartChain env(n, 0.0);
  QLearningOptions o;
  o.gamma = gamma;
  o.lr = 0.5;
  o.epsilon = 0.3;
  o.episodes = 3000;
  o.seed = 4;
  const QTable q = q_learning(env, o);
  // Q*(s, right) = γ^(n−2−s); Q*(s, left) = γ V*(max(s−1, 0)).
  for (int s = 0; s < n - 1; ++s) {
    INFO("state " << s);
    const double right = std::pow(gamma, n - 2 - s);
    const double left = gamma * std::pow(gamma, n - 2 - std::max(s - 1, 0));
    CHECK(q.best_action(s) == 1);
    CHECK(q.at(s, 1) == Approx(right).margin(1e-6));
    CHECK(q.at(s, 0) == Approx(left).margin(1e-6));
  }
  Rng rng(0);
  Chain from0(n, 0, 0.0);
  CHECK(greedy_return(q, from0, gamma, 100, rng) == Approx(std::pow(gamma, n - 2)));
}

TEST_CASE("q-learning: a near small reward beats a far large one when γ is small", "[qlearning]") {
  // n = 6, γ = 0.5, left end pays 0.1 at once: at state 0 leaving left (0.1) beats going right
  // (0.5^4 = 0.0625); from state 1, left then left is 0.05 and right is 0.5^3 = 0.125.
  RandomStartChain env(6, 0.1);
  QLearningOptions o;
  o.gamma = 0.5;
  o.lr = 0.5;
  o.epsilon = 0.3;
  o.episodes = 3000;
  o.seed = 1;
  const QTable q = q_learning(env, o);
  CHECK(q.best_action(0) == 0);
  CHECK(q.at(0, 0) == Approx(0.1).margin(1e-6));
  CHECK(q.at(0, 1) == Approx(0.0625).margin(1e-6));
  for (int s = 1; s < 5; ++s) CHECK(q.best_action(s) == 1);
  // With γ = 0.9 the far reward wins everywhere (0.9^4 = 0.656 > 0.1).
  o.gamma = 0.9;
  const QTable far = q_learning(env, o);
  for (int s = 0; s < 5; ++s) CHECK(far.best_action(s) == 1);
}

TEST_CASE("q-learning: the update rule, determinism and bad options", "[qlearning]") {
  QTable q;
  q.states = 2;
  q.actions = 2;
  q.q = {0.0, 0.0, 1.0, 3.0};
  q.update(0, 1, QStep{1, 2.0, false}, 0.5, 0.25);  // 0 + 0.25 (2 + 0.5·3 − 0)
  CHECK(q.at(0, 1) == Approx(0.875));
  q.update(0, 0, QStep{1, 2.0, true}, 0.5, 0.25);   // terminal: no bootstrap
  CHECK(q.at(0, 0) == Approx(0.5));

  RandomStartChain env(5, 0.0);
  QLearningOptions o;
  o.episodes = 50;
  o.epsilon = 0.5;
  o.seed = 9;
  CHECK(q_learning(env, o).q == q_learning(env, o).q);
  o.seed = 10;
  const auto other = q_learning(env, o).q;
  o.seed = 9;
  CHECK(q_learning(env, o).q != other);
  o.gamma = 1.5;
  CHECK_THAT(error_of([&] { q_learning(env, o); }), Catch::Contains("gamma"));
  o.gamma = 0.9;
  o.lr = 0;
  CHECK_THAT(error_of([&] { q_learning(env, o); }), Catch::Contains("learning rate"));
}
