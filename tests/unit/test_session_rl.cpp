// Q-learning with function approximation: the session simulator's rules against hand-computed
// values, the features' layout, determinism, bad options, and a loose learning check.
#include <algorithm>
#include <cmath>
#include <set>

#include "edgerec/session_rl.hpp"
#include "test_util.hpp"

using namespace edgerec;
using edgerec::test::error_of;

namespace {

// svd (hidden) and ials (base) fitted on the same synthetic ratings.
const Model& hidden_model() { return test::small_trained(ModelKind::svd, true); }
const Model& base_model() { return test::small_trained(ModelKind::ials, true); }

SessionOptions session_options() {
  SessionOptions o;
  o.steps = 5;
  o.candidates = 12;
  o.history = 2;
  o.boredom = 0.7;
  o.boredom_decay = 0.5;
  o.threshold = 4.0f;
  o.seed = 3;
  return o;
}

}  // namespace

TEST_CASE("session simulator: candidates, held-out users, boredom and rewards as documented", "[session]") {
  const BanditFeatures f(base_model(), 4);
  const SessionOptions o = session_options();
  const SessionSimulator sim(hidden_model(), f, o);
  // Held-out users: disjoint from the training users, about eval_fraction of them.
  std::set<index_t> train(sim.train_users().begin(), sim.train_users().end());
  for (const index_t u : sim.eval_users()) CHECK(train.count(u) == 0);
  const double share = static_cast<double>(sim.eval_users().size()) /
                       static_cast<double>(sim.eval_users().size() + sim.train_users().size());
  CHECK(std::abs(share - 0.2) < 0.01);

  const index_t user = sim.eval_users().front();
  BanditEvent e;
  f.candidates(user, 12, true, e);
  CHECK(sim.candidates(user) == e.items);

  // The hidden item factors, centred, unit rows: the similarity boredom uses.
  const Embeddings& he = *hidden_model().embeddings();
  MatrixD w = he.V.leftCols(he.factor_dims).cast<double>();
  w.rowwise() -= w.colwise().mean();
  for (Eigen::Index r = 0; r < w.rows(); ++r) w.row(r).normalize();
  auto rating = [&](std::size_t c) {
    return std::clamp(static_cast<double>(hidden_model().predict(user, e.items[c])),
                      static_cast<double>(hidden_model().rating_min), static_cast<double>(hidden_model().rating_max));
  };
  auto cos = [&](std::size_t a, std::size_t b) { return std::max(0.0, w.row(e.items[a]).dot(w.row(e.items[b]))); };

  SessionSimulator::Session s;
  s.user = user;
  Rng rng(1);
  CHECK(sim.effective_rating(s, 4) == Approx(rating(4)));
  CHECK(sim.show(s, 4, rng) == (rating(4) >= 4.0 ? 1.0 : 0.0));
  CHECK(sim.effective_rating(s, 7) == Approx(rating(7) - 0.7 * cos(7, 4)));
  CHECK(sim.show(s, 7, rng) == (rating(7) - 0.7 * cos(7, 4) >= 4.0 ? 1.0 : 0.0));
  // The latest show counts fully, the one before it half (decay 0.5).
  CHECK(sim.effective_rating(s, 2) == Approx(rating(2) - 0.7 * (cos(2, 7) + 0.5 * cos(2, 4))));
  CHECK_THAT(error_of([&] { sim.show(s, 4, rng); }), Catch::Contains("not available"));

  // Features: h̄ is the mean v̄ of the last `history` (2) shows, t = shows / steps.
  sim.show(s, 2, rng);
  std::vector<float> phi(static_cast<std::size_t>(sim.feature_dims()));
  sim.features(s, {0}, phi.data());
  const int D = f.dims();
  REQUIRE(sim.feature_dims() == 4 * D + 3);
  const VectorD u = f.user_vector(user), v = f.item_vector(e.items[0]);
  const VectorD h = (f.item_vector(e.items[2]) + f.item_vector(e.items[7])) / 2;
  for (int j = 0; j < D; ++j) {
    CHECK(phi[j] == Approx(u[j] * v[j]).margin(1e-6));
    CHECK(phi[D + j] == Approx(h[j] * v[j]).margin(1e-6));
    CHECK(phi[2 * D + j] == Approx(v[j]).margin(1e-6));
    CHECK(phi[3 * D + j] == Approx(h[j]).margin(1e-6));
  }
  CHECK(phi[4 * D] == Approx(3.0 / 5));
  CHECK(phi[4 * D + 1] == Approx(f.standardised(e.base[0])).margin(1e-5));
  CHECK(phi[4 * D + 2] == 1.0f);
  sim.show(s, 0, rng);
  sim.show(s, 1, rng);
  CHECK(sim.done(s));
  CHECK_THAT(error_of([&] { sim.show(s, 3, rng); }), Catch::Contains("over"));
}

TEST_CASE("session simulator: bad options are refused with the flag's name", "[session]") {
  const BanditFeatures f(base_model(), 4);
  auto refused = [&](auto change) {
    SessionOptions o = session_options();
    change(o);
    return error_of([&] { SessionSimulator(hidden_model(), f, o); });
  };
  CHECK_THAT(refused([](SessionOptions& o) { o.steps = 13; }), Catch::Contains("--session-steps"));
  CHECK_THAT(refused([](SessionOptions& o) { o.boredom = -1; }), Catch::Contains("--boredom"));
  CHECK_THAT(refused([](SessionOptions& o) { o.boredom_decay = 1.5; }), Catch::Contains("--boredom-decay"));
  CHECK_THAT(refused([](SessionOptions& o) { o.eval_fraction = 1; }), Catch::Contains("--eval-fraction"));
  CHECK_THAT(refused([](SessionOptions& o) { o.history = 0; }), Catch::Contains("--history"));
}

TEST_CASE("Q-learning with function approximation: deterministic, learns, bad options", "[session]") {
  const BanditFeatures f(base_model(), 4);
  SessionOptions so = session_options();
  so.boredom = 0;  // a myopic problem: the immediate click is all there is to learn
  const SessionSimulator sim(hidden_model(), f, so);
  auto backend = make_cpu_backend();
  for (const QApprox kind : {QApprox::linear, QApprox::mlp}) {
    QApproxOptions o;
    o.kind = kind;
    o.sessions = 800;
    o.hidden = 8;
    o.lr = 3e-3;
    o.gamma = 0.5;
    o.seed = 11;
    QTrainReport report;
    const QFunction a = QFunction::train(sim, *backend, o, &report);
    const QFunction b = QFunction::train(sim, *backend, o);
    SessionSimulator::Session s;
    s.user = sim.eval_users()[3];
    CHECK(a.values(sim, s) == b.values(sim, s));
    CHECK(report.updates == 800u * 5 - 31);  // one per step once the buffer holds a batch
    // Learned from clicks only, it beats picking at random on held-out users' sessions.
    const auto q = evaluate_sessions(sim, "q", q_chooser(sim, a), 400, 2);
    const auto random = evaluate_sessions(sim, "random", random_chooser(sim, 5), 400, 2);
    CHECK(q.reward_per_session > random.reward_per_session + 0.2);
    CHECK(q.reward_at_step.size() == 5);
    double sum = 0;
    for (const double r : q.reward_at_step) sum += r;
    CHECK(sum == Approx(q.reward_per_session));
  }
  QApproxOptions bad;
  bad.gamma = 1.5;
  CHECK_THAT(error_of([&] { QFunction::train(sim, *backend, bad); }), Catch::Contains("--gamma"));
  bad = {};
  bad.epsilon = -0.1;
  CHECK_THAT(error_of([&] { QFunction::train(sim, *backend, bad); }), Catch::Contains("--epsilon"));
  bad = {};
  bad.lr = 0;
  CHECK_THAT(error_of([&] { QFunction::train(sim, *backend, bad); }), Catch::Contains("--lr"));
}

TEST_CASE("tabular Q-learning over sessions: groups, states, deterministic, learns, bad options", "[session]") {
  const BanditFeatures f(base_model(), 4);
  const SessionSimulator sim(hidden_model(), f, session_options());  // boredom 0.7: order matters
  TabularSessionOptions o;
  o.sessions = 2000;
  o.seed = 4;
  const auto a = TabularSessionQ::train(sim, o);
  const auto b = TabularSessionQ::train(sim, o);
  CHECK(a.table().q == b.table().q);
  CHECK(a.groups() == 8);  // 4 context dims: 2 x 4 signed leading directions
  CHECK(a.table().states == 5 * 9);
  CHECK(a.table().actions == 8);
  SessionSimulator::Session s;
  s.user = sim.eval_users()[1];
  CHECK(a.state(sim, s) == 0);  // t = 0, nothing shown
  Rng rng(1);
  std::set<std::size_t> shown;
  for (int t = 0; t < 5; ++t) {
    const std::size_t c = a.best(sim, s);
    CHECK(shown.insert(c).second);  // never shown twice
    // It is the best-scored unshown candidate of its group: no earlier unshown one shares it.
    for (std::size_t e = 0; e < c; ++e)
      if (!sim.shown(s, e)) CHECK(a.group(sim, s.user, e) != a.group(sim, s.user, c));
    const int g = a.group(sim, s.user, c);
    CHECK((g >= 0 && g < 8));
    sim.show(s, c, rng);
    CHECK(a.state(sim, s) == (t + 1) * 9 + g + 1);
  }
  // What it learned is what its policy earns: the start state's value Q(s0, best group) is the
  // discounted return (gamma 0.5) its greedy sessions collect on held-out users, within 0.1 (the
  // users differ, and 2,000 sessions at rate 0.03 leave the estimate a little short).
  const auto q = evaluate_sessions(sim, "tabular", tabular_chooser(sim, a), 400, 2);
  double ret = 0, discount = 1;
  for (const double r : q.reward_at_step) ret += discount * r, discount *= o.gamma;
  CHECK(ret > 0.2);
  CHECK(a.table().value(0) == Approx(ret).margin(0.1));
  o.gamma = 1.5;
  CHECK_THAT(error_of([&] { TabularSessionQ::train(sim, o); }), Catch::Contains("gamma"));
  o = {};
  o.lr = 0;
  CHECK_THAT(error_of([&] { TabularSessionQ::train(sim, o); }), Catch::Contains("learning rate"));
  o = {};
  o.sessions = 0;
  CHECK_THAT(error_of([&] { TabularSessionQ::train(sim, o); }), Catch::Contains("--sessions"));
}

TEST_CASE("session evaluation: greedy shows the base model's candidates in order", "[session]") {
  const BanditFeatures f(base_model(), 4);
  const SessionSimulator sim(hidden_model(), f, session_options());
  SessionSimulator::Session s;
  s.user = sim.eval_users()[0];
  const auto greedy = greedy_chooser(sim);
  Rng rng(0);
  for (std::size_t t = 0; t < 5; ++t) {
    // Candidates are sorted by base score, best first.
    CHECK(greedy(s) == t);
    sim.show(s, greedy(s), rng);
  }
}
