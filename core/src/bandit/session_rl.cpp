// The session simulator and Q-learning with function approximation (see
// edgerec/session_rl.hpp).
#include "edgerec/session_rl.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>

#include "edgerec/error.hpp"
#include "edgerec/nn/autodiff.hpp"
#include "edgerec/nn/layers.hpp"
#include "edgerec/nn/loss.hpp"
#include "edgerec/nn/optim.hpp"
#include "serve_only.hpp"

namespace edgerec {

// ---- Simulator -----------------------------------------------------------------------------

SessionSimulator::SessionSimulator(const Model& hidden, const BanditFeatures& base, const SessionOptions& o)
    : hidden_(&hidden), base_(&base), options_(o) {
  if (o.steps < 1) throw Error("--session-steps must be at least 1");
  if (o.candidates < 1) throw Error("--candidates must be at least 1");
  if (o.steps > o.candidates)
    throw Error("--session-steps (" + std::to_string(o.steps) + ") cannot exceed --candidates (" +
                std::to_string(o.candidates) + "): nothing is shown twice in a session");
  if (o.history < 1) throw Error("--history must be at least 1");
  if (!(o.boredom >= 0) || !std::isfinite(o.boredom)) throw Error("--boredom must be a finite number >= 0");
  if (!(o.boredom_decay >= 0 && o.boredom_decay <= 1)) throw Error("--boredom-decay must be in [0, 1]");
  if (!std::isfinite(o.threshold)) throw Error("--threshold must be a finite number");
  if (!(o.eval_fraction > 0 && o.eval_fraction < 1)) throw Error("--eval-fraction must be in (0, 1)");
  const Embeddings* e = hidden.embeddings();
  if (!e) throw Error("session simulator: the hidden model has no item factors");
  const Model& model = base.model();
  if (model.n_users() != hidden.n_users() || model.n_items() != hidden.n_items())
    throw Error("session simulator: the base and hidden models were fitted on different data");
  lo_ = hidden.rating_min;
  hi_ = hidden.rating_max;
  if (o.reward == RewardModel::bernoulli && !(hi_ > lo_))
    throw Error("session simulator: --reward bernoulli needs a rating range");
  const int f = e->factor_dims > 0 ? e->factor_dims : static_cast<int>(e->V.cols());
  hidden_items_ = e->V.leftCols(f).cast<double>();
  // Centred first: svd's item factors share a common direction, so raw cosines call almost any
  // two items similar and boredom would hit every policy alike.
  hidden_items_.rowwise() -= hidden_items_.colwise().mean();
  for (Eigen::Index r = 0; r < hidden_items_.rows(); ++r) {
    const double n = hidden_items_.row(r).norm();
    if (n > 0) hidden_items_.row(r) /= n;
  }

  const index_t users = model.n_users();
  candidates_.resize(users);
  scores_.resize(users);
  std::vector<index_t> eligible;
  BanditEvent ev;
  for (index_t u = 0; u < users; ++u) {
    if (model.n_items() - model.seen.row_size(u) < static_cast<std::size_t>(o.candidates)) continue;
    base.candidates(u, o.candidates, true, ev);
    candidates_[u] = ev.items;
    scores_[u] = ev.base;
    eligible.push_back(u);
  }
  // A seeded shuffle, then the first eval_fraction of it is held out.
  Rng rng(mix_seed(o.seed, 0x73657373696f6eull /* "session" */));
  shuffle(eligible, rng);
  const auto n_eval = static_cast<std::size_t>(std::llround(o.eval_fraction * static_cast<double>(eligible.size())));
  if (eligible.size() < 2 || n_eval < 1 || n_eval >= eligible.size())
    throw Error("session simulator: too few users with " + std::to_string(o.candidates) +
                " unrated items to hold some out for evaluation");
  eval_users_.assign(eligible.begin(), eligible.begin() + static_cast<std::ptrdiff_t>(n_eval));
  train_users_.assign(eligible.begin() + static_cast<std::ptrdiff_t>(n_eval), eligible.end());
  std::sort(eval_users_.begin(), eval_users_.end());
  std::sort(train_users_.begin(), train_users_.end());
}

const std::vector<index_t>& SessionSimulator::candidates(index_t user) const {
  if (user >= candidates_.size() || candidates_[user].empty())
    throw Error("session simulator: user index " + std::to_string(user) + " has no candidate set");
  return candidates_[user];
}

const std::vector<float>& SessionSimulator::base_scores(index_t user) const {
  candidates(user);
  return scores_[user];
}

bool SessionSimulator::shown(const Session& s, std::size_t c) const {
  return std::find(s.shown.begin(), s.shown.end(), c) != s.shown.end();
}

double SessionSimulator::effective_rating(const Session& s, std::size_t c) const {
  const auto& items = candidates(s.user);
  const index_t item = items.at(c);
  const double r = std::clamp(static_cast<double>(hidden_->predict(s.user, item)), static_cast<double>(lo_),
                              static_cast<double>(hi_));
  double bored = 0, weight = 1;
  for (auto it = s.shown.rbegin(); it != s.shown.rend() && weight > 0; ++it, weight *= options_.boredom_decay)
    bored += weight * std::max(0.0, hidden_items_.row(item).dot(hidden_items_.row(items[*it])));
  return r - options_.boredom * bored;
}

double SessionSimulator::show(Session& s, std::size_t c, Rng& rng) const {
  if (done(s)) throw Error("session simulator: the session is over");
  if (c >= candidates(s.user).size() || shown(s, c))
    throw Error("session simulator: candidate " + std::to_string(c) + " is not available");
  const double r = effective_rating(s, c);
  const double draw = rng.uniform();  // drawn in both reward models: one stream for both
  double reward;
  if (options_.reward == RewardModel::threshold)
    reward = r >= options_.threshold ? 1.0 : 0.0;
  else
    reward = draw < std::clamp((r - lo_) / static_cast<double>(hi_ - lo_), 0.0, 1.0) ? 1.0 : 0.0;
  s.shown.push_back(c);
  return reward;
}

void SessionSimulator::features(const Session& s, const std::vector<std::size_t>& cs, float* out) const {
  const int D = base_->dims();
  const auto& items = candidates(s.user);
  const auto& scores = scores_[s.user];
  const VectorD u = base_->user_vector(s.user);
  VectorD h = VectorD::Zero(D);
  int k = 0;
  for (auto it = s.shown.rbegin(); it != s.shown.rend() && k < options_.history; ++it, ++k)
    h += base_->item_vector(items[*it]);
  if (k > 0) h /= k;
  const double t = static_cast<double>(s.shown.size()) / options_.steps;
  const int F = feature_dims();
  for (std::size_t r = 0; r < cs.size(); ++r) {
    const VectorD v = base_->item_vector(items.at(cs[r]));
    float* row = out + r * static_cast<std::size_t>(F);
    for (int j = 0; j < D; ++j) {
      row[j] = static_cast<float>(u[j] * v[j]);
      row[D + j] = static_cast<float>(h[j] * v[j]);
      row[2 * D + j] = static_cast<float>(v[j]);
      row[3 * D + j] = static_cast<float>(h[j]);
    }
    row[4 * D] = static_cast<float>(t);
    row[4 * D + 1] = static_cast<float>(base_->standardised(scores[cs[r]]));
    row[4 * D + 2] = 1.0f;
  }
}

// ---- Q-function ----------------------------------------------------------------------------

namespace {

std::vector<std::size_t> all_positions(std::size_t n) {
  std::vector<std::size_t> cs(n);
  for (std::size_t c = 0; c < n; ++c) cs[c] = c;
  return cs;
}

// The first unshown candidate with the highest value.
std::size_t best_unshown(const SessionSimulator& sim, const SessionSimulator::Session& s,
                         const std::vector<double>& values) {
  std::size_t best = values.size();
  for (std::size_t c = 0; c < values.size(); ++c)
    if (!sim.shown(s, c) && (best == values.size() || values[c] > values[best])) best = c;
  if (best == values.size()) throw Error("session simulator: every candidate was shown");
  return best;
}

}  // namespace

struct QFunction::Impl {
  Impl(Backend& b, int in, const QApproxOptions& o, Rng& rng)
      : backend(b),
        net(b, "q", o.kind == QApprox::mlp ? std::vector<std::int64_t>{in, o.hidden, 1} : std::vector<std::int64_t>{in, 1},
            DType::f32, rng),
        target(b, "q_target", o.kind == QApprox::mlp ? std::vector<std::int64_t>{in, o.hidden, 1} : std::vector<std::int64_t>{in, 1},
               DType::f32, rng),
        inputs(in) {}
  Backend& backend;
  nn::Mlp net, target;
  int inputs;

  // Q of `rows` feature rows (rows x inputs floats) by `m`.
  std::vector<float> forward(nn::Mlp& m, const std::vector<float>& x, std::int64_t rows) {
    nn::Tape tape(backend, 0, false);
    const nn::Var q = m.forward(tape, tape.constant(make_tensor(backend, Shape{rows, inputs}, x)));
    return to_vector<float>(backend, q.value());
  }
  void copy_to_target() {
    const auto from = net.parameters(), to = target.parameters();
    for (std::size_t p = 0; p < from.size(); ++p)
      backend.upload(to[p]->value, to_vector<float>(backend, from[p]->value).data());
  }
};

QFunction::QFunction(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
QFunction::~QFunction() = default;
QFunction::QFunction(QFunction&&) noexcept = default;

std::vector<double> QFunction::values(const SessionSimulator& sim, const SessionSimulator::Session& s) const {
  const auto cs = all_positions(sim.candidates(s.user).size());
  std::vector<float> x(cs.size() * static_cast<std::size_t>(sim.feature_dims()));
  sim.features(s, cs, x.data());
  const auto q = impl_->forward(impl_->net, x, static_cast<std::int64_t>(cs.size()));
  return std::vector<double>(q.begin(), q.end());
}

std::size_t QFunction::best(const SessionSimulator& sim, const SessionSimulator::Session& s) const {
  return best_unshown(sim, s, values(sim, s));
}

QFunction QFunction::train(const SessionSimulator& sim, Backend& backend, const QApproxOptions& o,
                           QTrainReport* report, const Progress& progress) {
  EDGEREC_TRAINING_ONLY("Q-learning training");
  if (!(o.gamma >= 0 && o.gamma <= 1)) throw Error("--gamma must be in [0, 1]");
  if (!(o.lr > 0) || !std::isfinite(o.lr)) throw Error("--lr must be > 0");
  if (!(o.epsilon >= 0 && o.epsilon <= 1)) throw Error("--epsilon must be in [0, 1]");
  if (o.sessions < 0) throw Error("--sessions must be >= 0");
  if (o.hidden < 1) throw Error("--hidden must be at least 1");
  if (o.batch < 1 || o.replay < o.batch) throw Error("--batch must be at least 1 and at most the replay capacity");
  if (o.target_every < 1) throw Error("--target-every must be at least 1");
  const auto start = std::chrono::steady_clock::now();
  Rng init(mix_seed(o.seed, 0x712d696e6974ull /* "q-init" */));
  auto impl = std::make_unique<Impl>(backend, sim.feature_dims(), o, init);
  impl->copy_to_target();
  AdamStep adam;
  adam.lr = o.lr;
  nn::Adam optimiser(backend, impl->net.parameters(), adam);

  // A transition is replayed from the session prefix it started in: (user, shown before, the
  // action, reward, terminal); its features are rebuilt when sampled.
  struct Transition {
    SessionSimulator::Session before;
    std::size_t action = 0;
    double reward = 0;
    bool terminal = false;
  };
  std::vector<Transition> buffer;
  buffer.reserve(static_cast<std::size_t>(std::min(o.replay, o.sessions * sim.options().steps + 1)));
  std::size_t next_slot = 0;
  const int F = sim.feature_dims();
  Rng rng(mix_seed(o.seed, 0x716c6561726eull /* "qlearn" */));
  Rng reward_rng(mix_seed(o.seed, 0x72657761726400ull /* "reward" */));
  std::uint64_t updates = 0;
  double total_reward = 0;
  const auto& users = sim.train_users();
  std::vector<float> x, xn, y;
  std::vector<std::size_t> one(1), next_cs;
  std::vector<std::size_t> group;  // next-state rows of each batch entry: [group[i], group[i + 1])

  Impl& net = *impl;  // QFunction q below takes the pointer over; the lambda keeps this reference
  auto update = [&]() {
    const auto B = static_cast<std::size_t>(o.batch);
    x.assign(B * F, 0.0f);
    xn.clear();
    group.assign(1, 0);
    std::vector<const Transition*> batch(B);
    for (std::size_t i = 0; i < B; ++i) {
      const Transition& tr = buffer[rng.below(buffer.size())];
      batch[i] = &tr;
      one[0] = tr.action;
      sim.features(tr.before, one, x.data() + i * F);
      if (!tr.terminal) {
        SessionSimulator::Session after = tr.before;
        after.shown.push_back(tr.action);
        next_cs.clear();
        for (std::size_t c = 0; c < sim.candidates(after.user).size(); ++c)
          if (!sim.shown(after, c)) next_cs.push_back(c);
        const std::size_t at = xn.size();
        xn.resize(at + next_cs.size() * F);
        sim.features(after, next_cs, xn.data() + at);
      }
      group.push_back(xn.size() / F);
    }
    std::vector<float> next_q;
    if (!xn.empty()) next_q = net.forward(net.target, xn, static_cast<std::int64_t>(xn.size() / F));
    y.assign(B, 0.0f);
    for (std::size_t i = 0; i < B; ++i) {
      double target = batch[i]->reward;
      if (!batch[i]->terminal) {
        const auto first = next_q.begin() + static_cast<std::ptrdiff_t>(group[i]);
        const auto last = next_q.begin() + static_cast<std::ptrdiff_t>(group[i + 1]);
        target += o.gamma * static_cast<double>(*std::max_element(first, last));
      }
      y[i] = static_cast<float>(target);
    }
    nn::Tape tape(backend, updates);
    const nn::Var q = net.net.forward(tape, tape.constant(make_tensor(backend, Shape{o.batch, F}, x)));
    const nn::Var loss = nn::mse(q, make_tensor(backend, Shape{o.batch}, y));
    tape.backward(loss);
    optimiser.clip_grad_norm(10.0);
    optimiser.step();
    optimiser.zero_grad();
    if (++updates % static_cast<std::uint64_t>(o.target_every) == 0) net.copy_to_target();
  };

  const int report_every = std::max(1, o.sessions / 100);
  QFunction q(std::move(impl));
  for (int e = 0; e < o.sessions; ++e) {
    SessionSimulator::Session s;
    s.user = users[rng.below(users.size())];
    const std::size_t n = sim.candidates(s.user).size();
    while (!sim.done(s)) {
      // One draw decides explore or exploit on every step, so the stream does not depend on it.
      const double u = rng.uniform();
      std::size_t c;
      if (u < o.epsilon) {
        do c = static_cast<std::size_t>(rng.below(n));
        while (sim.shown(s, c));
      } else {
        c = q.best(sim, s);
      }
      Transition tr{s, c, 0.0, false};
      tr.reward = sim.show(s, c, reward_rng);
      tr.terminal = sim.done(s);
      total_reward += tr.reward;
      if (buffer.size() < static_cast<std::size_t>(o.replay)) {
        buffer.push_back(std::move(tr));
      } else {
        buffer[next_slot] = std::move(tr);
        next_slot = (next_slot + 1) % buffer.size();
      }
      if (buffer.size() >= static_cast<std::size_t>(o.batch)) update();
    }
    if ((e + 1) % report_every == 0) progress("q-learning", (e + 1) / report_every, o.sessions / report_every);
  }
  if (report) {
    report->updates = updates;
    report->reward_per_session = o.sessions > 0 ? total_reward / o.sessions : 0.0;
    report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return q;
}

// ---- Tabular Q-learning ----------------------------------------------------------------------

int TabularSessionQ::group(const SessionSimulator& sim, index_t user, std::size_t c) const {
  const VectorD v = sim.base().item_vector(sim.candidates(user).at(c));
  const Eigen::Index lead = std::min<Eigen::Index>(groups_ / 2, v.size());
  Eigen::Index d = 0;
  for (Eigen::Index j = 1; j < lead; ++j)
    if (std::abs(v[j]) > std::abs(v[d])) d = j;
  return static_cast<int>(2 * d + (v[d] < 0 ? 1 : 0));
}

int TabularSessionQ::state(const SessionSimulator& sim, const SessionSimulator::Session& s) const {
  const int last = s.shown.empty() ? 0 : group(sim, s.user, s.shown.back()) + 1;
  return static_cast<int>(s.shown.size()) * (groups_ + 1) + last;
}

namespace {

// The best-scored (earliest: candidates come best first) unshown candidate of group g, or of all
// groups when g has none left (g < 0: of all).
std::size_t best_in_group(const SessionSimulator& sim, const TabularSessionQ& q, const SessionSimulator::Session& s,
                          int g) {
  const std::size_t n = sim.candidates(s.user).size();
  std::size_t any = n;
  for (std::size_t c = 0; c < n; ++c) {
    if (sim.shown(s, c)) continue;
    if (any == n) any = c;
    if (g < 0 || q.group(sim, s.user, c) == g) return c;
  }
  if (any == n) throw Error("session simulator: no candidate left to show");
  return any;
}

// The session simulator as a q_learning Environment: an episode is one session of a training
// user drawn with the environment's stream.
class SessionEnvironment final : public Environment {
 public:
  SessionEnvironment(const SessionSimulator& sim, const TabularSessionQ& q) : sim_(sim), q_(q) {}
  int states() const override { return sim_.options().steps * (q_.groups() + 1); }
  int actions() const override { return q_.groups(); }
  int reset(Rng& rng) override {
    const auto& users = sim_.train_users();
    session_ = {};
    session_.user = users[rng.below(users.size())];
    return q_.state(sim_, session_);
  }
  QStep step(int /*state*/, int action, Rng& rng) override {
    QStep out;
    out.reward = sim_.show(session_, best_in_group(sim_, q_, session_, action), rng);
    out.terminal = sim_.done(session_);
    out.next_state = out.terminal ? 0 : q_.state(sim_, session_);
    return out;
  }

 private:
  const SessionSimulator& sim_;
  const TabularSessionQ& q_;
  SessionSimulator::Session session_;
};

}  // namespace

TabularSessionQ TabularSessionQ::train(const SessionSimulator& sim, const TabularSessionOptions& o) {
  if (o.sessions < 1) throw Error("--sessions must be at least 1");
  TabularSessionQ q;
  q.groups_ = 2 * std::min(4, sim.base().dims());
  SessionEnvironment env(sim, q);
  QLearningOptions lo;
  lo.gamma = o.gamma;
  lo.lr = o.lr;
  lo.epsilon = o.epsilon;
  lo.episodes = o.sessions;
  lo.max_steps = sim.options().steps;
  lo.seed = mix_seed(o.seed, 0x7461626c65ull /* "table" */);
  q.table_ = q_learning(env, lo);  // checks gamma, lr and epsilon, naming them
  return q;
}

std::size_t TabularSessionQ::best(const SessionSimulator& sim, const SessionSimulator::Session& s) const {
  const int st = state(sim, s);
  int best = -1;
  for (int g = 0; g < groups_; ++g) {
    bool left = false;
    for (std::size_t c = 0; c < sim.candidates(s.user).size() && !left; ++c)
      left = !sim.shown(s, c) && group(sim, s.user, c) == g;
    if (left && (best < 0 || table_.at(st, g) > table_.at(st, best))) best = g;
  }
  return best_in_group(sim, *this, s, best);
}

// ---- Policies and evaluation ---------------------------------------------------------------

SessionChooser greedy_chooser(const SessionSimulator& sim) {
  return [&sim](const SessionSimulator::Session& s) {
    const auto& scores = sim.base_scores(s.user);
    return best_unshown(sim, s, std::vector<double>(scores.begin(), scores.end()));
  };
}

SessionChooser random_chooser(const SessionSimulator& sim, std::uint64_t seed) {
  auto rng = std::make_shared<Rng>(seed);
  return [&sim, rng](const SessionSimulator::Session& s) {
    const std::size_t n = sim.candidates(s.user).size();
    std::size_t c;
    do c = static_cast<std::size_t>(rng->below(n));
    while (sim.shown(s, c));
    return c;
  };
}

SessionChooser q_chooser(const SessionSimulator& sim, const QFunction& q) {
  return [&sim, &q](const SessionSimulator::Session& s) { return q.best(sim, s); };
}

SessionChooser tabular_chooser(const SessionSimulator& sim, const TabularSessionQ& q) {
  return [&sim, &q](const SessionSimulator::Session& s) { return q.best(sim, s); };
}

SessionEval evaluate_sessions(const SessionSimulator& sim, const std::string& name, const SessionChooser& choose,
                              int sessions, std::uint64_t seed) {
  if (sessions < 1) throw Error("--eval-sessions must be at least 1");
  SessionEval r;
  r.policy = name;
  r.sessions = sessions;
  const int N = sim.options().steps;
  r.reward_at_step.assign(static_cast<std::size_t>(N), 0.0);
  Rng rng(mix_seed(seed, 0x6576616c2d726577ull /* "eval-rew" */));
  const auto& users = sim.eval_users();
  double total = 0, rating = 0;
  for (int e = 0; e < sessions; ++e) {
    SessionSimulator::Session s;
    s.user = users[static_cast<std::size_t>(e) % users.size()];
    for (int t = 0; t < N; ++t) {
      const std::size_t c = choose(s);
      rating += sim.effective_rating(s, c);
      const double reward = sim.show(s, c, rng);
      r.reward_at_step[static_cast<std::size_t>(t)] += reward;
      total += reward;
    }
  }
  r.reward_per_session = total / sessions;
  r.rating = rating / (static_cast<double>(sessions) * N);
  for (double& v : r.reward_at_step) v /= sessions;
  return r;
}

}  // namespace edgerec
