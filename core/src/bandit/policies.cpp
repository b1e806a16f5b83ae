// The bandit policies: random, greedy, ε-greedy, LinUCB (disjoint and hybrid) and linear
// Thompson sampling. See edgerec/bandit.hpp for the models and their scores.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <limits>
#include <string>

#include "edgerec/bandit.hpp"
#include "edgerec/error.hpp"
#include "serve_only.hpp"

namespace edgerec {

PolicyKind parse_policy(std::string_view name) {
  if (name == "random") return PolicyKind::random;
  if (name == "greedy") return PolicyKind::greedy;
  if (name == "egreedy" || name == "epsilon-greedy") return PolicyKind::egreedy;
  if (name == "linucb") return PolicyKind::linucb;
  if (name == "linucb-hybrid") return PolicyKind::linucb_hybrid;
  if (name == "thompson") return PolicyKind::thompson;
  throw Error("unknown policy '" + std::string(name) +
              "' (valid: random, greedy, egreedy, linucb, linucb-hybrid, thompson)");
}

const char* policy_name(PolicyKind kind) {
  switch (kind) {
    case PolicyKind::random: return "random";
    case PolicyKind::greedy: return "greedy";
    case PolicyKind::egreedy: return "egreedy";
    case PolicyKind::linucb: return "linucb";
    case PolicyKind::linucb_hybrid: return "linucb-hybrid";
    case PolicyKind::thompson: return "thompson";
  }
  return "unknown";
}

const std::vector<PolicyKind>& all_policies() {
  static const std::vector<PolicyKind> kinds{PolicyKind::random,  PolicyKind::greedy,
                                             PolicyKind::egreedy, PolicyKind::linucb,
                                             PolicyKind::linucb_hybrid, PolicyKind::thompson};
  return kinds;
}

Ridge::Ridge(int dims, double lambda)
    : A(MatrixD::Identity(dims, dims) * lambda),
      A_inv(MatrixD::Identity(dims, dims) / lambda),
      b(VectorD::Zero(dims)) {}

void Ridge::add(const VectorD& x, double reward) {
  A.noalias() += x * x.transpose();
  b.noalias() += reward * x;
  // (A + xxᵀ)⁻¹ = A⁻¹ − A⁻¹x xᵀA⁻¹ / (1 + xᵀA⁻¹x); A⁻¹ is symmetric, so A⁻¹x serves both sides.
  const VectorD Ax = A_inv * x;
  const double denom = 1.0 + x.dot(Ax);
  A_inv.noalias() -= (Ax * Ax.transpose()) / denom;
}

namespace {

// Little-endian bytes of the policies' state (wasm and the native targets are little-endian).
struct StateWriter {
  std::string& out;
  template <class T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void rng(const Rng& r) {
    for (int j = 0; j < 4; ++j) put<std::uint64_t>(r.state()[j]);
  }
  // A ridge: its size, the upper triangles of A and A⁻¹ (both kept, so a restored ridge goes on
  // exactly where it was, with no refactorisation), b.
  void ridge(const Ridge& r) {
    const auto d = static_cast<std::uint32_t>(r.b.size());
    put(d);
    for (const MatrixD* m : {&r.A, &r.A_inv})
      for (std::uint32_t i = 0; i < d; ++i)
        for (std::uint32_t j = i; j < d; ++j) put((*m)(i, j));
    for (std::uint32_t i = 0; i < d; ++i) put(r.b[i]);
  }
};

struct StateReader {
  std::string_view in;
  template <class T>
  T get() {
    if (in.size() < sizeof(T)) throw Error("bandit state: truncated");
    T v;
    std::memcpy(&v, in.data(), sizeof v);
    in.remove_prefix(sizeof v);
    return v;
  }
  void rng(Rng& r) {
    std::uint64_t s[4];
    for (auto& x : s) x = get<std::uint64_t>();
    r.set_state(s);
  }
  Ridge ridge(int dims) {
    const auto d = get<std::uint32_t>();
    if (d != static_cast<std::uint32_t>(dims))
      throw Error("bandit state: a ridge of " + std::to_string(d) + " dimensions, the policy has " + std::to_string(dims));
    Ridge r(dims, 1.0);
    for (MatrixD* m : {&r.A, &r.A_inv})
      for (int i = 0; i < dims; ++i)
        for (int j = i; j < dims; ++j) (*m)(i, j) = (*m)(j, i) = get<double>();
    for (int i = 0; i < dims; ++i) r.b[i] = get<double>();
    if (!r.A.allFinite() || !r.A_inv.allFinite() || !r.b.allFinite()) throw Error("bandit state: a ridge holds a non-finite number");
    return r;
  }
  void finish() const {
    if (!in.empty()) throw Error("bandit state: " + std::to_string(in.size()) + " unexpected trailing bytes");
  }
};

void check_event(const BanditEvent& e, int arm_dims, int user_dims) {
  const auto n = e.items.size();
  if (n == 0) throw Error("bandit: an event has no candidates");
  if (arm_dims > 0 && (static_cast<std::size_t>(e.z.rows()) != n || e.z.cols() != arm_dims))
    throw Error("bandit: the event's arm features are " + std::to_string(e.z.rows()) + " x " +
                std::to_string(e.z.cols()) + ", the policy expects " + std::to_string(n) + " x " +
                std::to_string(arm_dims));
  if (user_dims > 0 && e.x.size() != user_dims)
    throw Error("bandit: the event's user context has " + std::to_string(e.x.size()) +
                " numbers, the policy expects " + std::to_string(user_dims));
}

// First index of the largest value (ties: the earliest candidate).
std::size_t argmax(const std::vector<double>& values) {
  std::size_t best = 0;
  double best_v = -std::numeric_limits<double>::infinity();
  for (std::size_t a = 0; a < values.size(); ++a) {
    if (values[a] > best_v) {
      best_v = values[a];
      best = a;
    }
  }
  return best;
}

class RandomPolicy final : public Policy {
 public:
  explicit RandomPolicy(std::uint64_t seed) : rng_(seed) {}
  PolicyKind kind() const override { return PolicyKind::random; }
  std::size_t choose(const BanditEvent& e) override {
    check_event(e, 0, 0);
    return static_cast<std::size_t>(rng_.below(e.items.size()));
  }
  std::vector<double> scores(const BanditEvent& e) const override {
    check_event(e, 0, 0);
    return std::vector<double>(e.items.size(), 0.0);
  }
  void update(const BanditEvent&, std::size_t, double) override {}
  void save(std::string& out) const override { StateWriter{out}.rng(rng_); }
  void load(std::string_view in) override {
    StateReader r{in};
    Rng rng = rng_;
    r.rng(rng);
    r.finish();
    rng_ = rng;
  }

 private:
  Rng rng_;
};

class GreedyPolicy final : public Policy {
 public:
  PolicyKind kind() const override { return PolicyKind::greedy; }
  std::size_t choose(const BanditEvent& e) override {
    return argmax(scores(e));
  }
  std::vector<double> scores(const BanditEvent& e) const override {
    check_event(e, 0, 0);
    if (e.base.size() != e.items.size())
      throw Error("bandit: greedy needs the base model's score of every candidate");
    return std::vector<double>(e.base.begin(), e.base.end());
  }
  void update(const BanditEvent&, std::size_t, double) override {}
  void save(std::string&) const override {}
  void load(std::string_view in) override { StateReader{in}.finish(); }
};

class EpsilonGreedy final : public Policy {
 public:
  EpsilonGreedy(const PolicyOptions& o, int arm_dims)
      : epsilon_(o.epsilon), dims_(arm_dims), ridge_(arm_dims, o.lambda),
        theta_(VectorD::Zero(arm_dims)), rng_(o.seed) {}
  PolicyKind kind() const override { return PolicyKind::egreedy; }
  std::size_t choose(const BanditEvent& e) override {
    check_event(e, dims_, 0);
    // One draw decides explore or exploit on every event, so the stream does not depend on it.
    const double u = rng_.uniform();
    if (u < epsilon_) return static_cast<std::size_t>(rng_.below(e.items.size()));
    return argmax(scores(e));
  }
  std::vector<double> scores(const BanditEvent& e) const override {
    check_event(e, dims_, 0);
    const VectorD s = e.z * theta_;
    return std::vector<double>(s.data(), s.data() + s.size());
  }
  void update(const BanditEvent& e, std::size_t chosen, double reward) override {
    ridge_.add(e.z.row(chosen).transpose(), reward);
    theta_ = ridge_.theta();
  }
  void save(std::string& out) const override {
    StateWriter w{out};
    w.ridge(ridge_);
    w.rng(rng_);
  }
  void load(std::string_view in) override {
    StateReader r{in};
    Ridge ridge = r.ridge(dims_);
    Rng rng = rng_;
    r.rng(rng);
    r.finish();
    ridge_ = std::move(ridge);
    theta_ = ridge_.theta();
    rng_ = rng;
  }

 private:
  double epsilon_;
  int dims_;
  Ridge ridge_;
  VectorD theta_;
  Rng rng_;
};

class LinUcbDisjoint final : public Policy {
 public:
  LinUcbDisjoint(const PolicyOptions& o, int arm_dims)
      : alpha_(o.alpha), lambda_(o.lambda), dims_(arm_dims) {}
  PolicyKind kind() const override { return PolicyKind::linucb; }
  std::size_t choose(const BanditEvent& e) override { return argmax(scores(e)); }
  std::vector<double> scores(const BanditEvent& e) const override { return ucb(e, alpha_); }
  std::vector<double> estimates(const BanditEvent& e) const override { return ucb(e, 0.0); }
  std::vector<double> ucb(const BanditEvent& e, double alpha) const {
    check_event(e, dims_, 0);
    std::vector<double> out(e.items.size());
    for (std::size_t a = 0; a < out.size(); ++a) {
      const auto z = e.z.row(static_cast<Eigen::Index>(a));
      const auto it = arms_.find(e.items[a]);
      // An arm never shown has A = λI, b = 0: score α√(zᵀz/λ).
      if (it == arms_.end()) {
        out[a] = alpha * std::sqrt(z.squaredNorm() / lambda_);
        continue;
      }
      const VectorD Az = it->second.ridge.A_inv * z.transpose();
      out[a] = z.dot(it->second.theta) + alpha * std::sqrt(std::max(0.0, z.dot(Az)));
    }
    return out;
  }
  void update(const BanditEvent& e, std::size_t chosen, double reward) override {
    auto it = arms_.find(e.items[chosen]);
    if (it == arms_.end()) it = arms_.emplace(e.items[chosen], Arm{Ridge(dims_, lambda_), {}}).first;
    it->second.ridge.add(e.z.row(chosen).transpose(), reward);
    it->second.theta = it->second.ridge.theta();
  }
  // Arms in item order, so equal states give equal bytes.
  void save(std::string& out) const override {
    StateWriter w{out};
    std::vector<index_t> items;
    for (const auto& [item, arm] : arms_) items.push_back(item);
    std::sort(items.begin(), items.end());
    w.put(static_cast<std::uint32_t>(items.size()));
    for (const index_t item : items) {
      w.put(static_cast<std::uint32_t>(item));
      w.ridge(arms_.at(item).ridge);
    }
  }
  void load(std::string_view in) override {
    StateReader r{in};
    std::unordered_map<index_t, Arm> arms;
    const auto n = r.get<std::uint32_t>();
    for (std::uint32_t a = 0; a < n; ++a) {
      const auto item = static_cast<index_t>(r.get<std::uint32_t>());
      Ridge ridge = r.ridge(dims_);
      VectorD theta = ridge.theta();
      arms[item] = Arm{std::move(ridge), std::move(theta)};
    }
    r.finish();
    arms_ = std::move(arms);
  }

 private:
  struct Arm {
    Ridge ridge;    // A_a, A_a⁻¹, b_a
    VectorD theta;  // A_a⁻¹ b_a, kept between updates
  };
  double alpha_, lambda_;
  int dims_;
  std::unordered_map<index_t, Arm> arms_;
};

// Li et al. 2010, Algorithm 2. Names follow the paper: z (shared, k) and x (per arm, d).
class LinUcbHybrid final : public Policy {
 public:
  LinUcbHybrid(const PolicyOptions& o, int arm_dims, int user_dims)
      : alpha_(o.alpha), lambda_(o.lambda), k_(arm_dims), d_(user_dims),
        A0_(MatrixD::Identity(k_, k_) * lambda_), A0_inv_(MatrixD::Identity(k_, k_) / lambda_),
        b0_(VectorD::Zero(k_)), beta_(VectorD::Zero(k_)) {}
  PolicyKind kind() const override { return PolicyKind::linucb_hybrid; }

  std::size_t choose(const BanditEvent& e) override { return argmax(scores(e)); }
  std::vector<double> scores(const BanditEvent& e) const override { return ucb(e, alpha_); }
  std::vector<double> estimates(const BanditEvent& e) const override { return ucb(e, 0.0); }
  std::vector<double> ucb(const BanditEvent& e, double alpha) const {
    check_event(e, k_, d_);
    std::vector<double> out(e.items.size());
    for (std::size_t a = 0; a < out.size(); ++a) out[a] = score(e, e.x, a, alpha);
    return out;
  }
  double score(const BanditEvent& e, const VectorD& x, std::size_t a, double alpha) const {
    const VectorD z = e.z.row(static_cast<Eigen::Index>(a)).transpose();
    const VectorD A0z = A0_inv_ * z;
    const auto it = arms_.find(e.items[a]);
    if (it == arms_.end()) {
      // A_a = λI, B_a = 0, b_a = 0: θ_a = 0 and the cross terms vanish.
      const double s = z.dot(A0z) + x.squaredNorm() / lambda_;
      return z.dot(beta_) + alpha * std::sqrt(std::max(0.0, s));
    }
    const Arm& arm = it->second;
    const VectorD Aa_x = arm.ridge.A_inv * x;              // A_a⁻¹ x
    const VectorD Bt_Aa_x = arm.B.transpose() * Aa_x;  // B_aᵀ A_a⁻¹ x
    const VectorD theta = arm.ridge.A_inv * (arm.ridge.b - arm.B * beta_);
    const double s = z.dot(A0z) - 2.0 * A0z.dot(Bt_Aa_x) + x.dot(Aa_x) +
                     Bt_Aa_x.dot(A0_inv_ * Bt_Aa_x);
    return z.dot(beta_) + x.dot(theta) + alpha * std::sqrt(std::max(0.0, s));
  }

  void update(const BanditEvent& e, std::size_t chosen, double reward) override {
    const VectorD z = e.z.row(chosen).transpose();
    const VectorD& x = e.x;
    auto it = arms_.find(e.items[chosen]);
    if (it == arms_.end())
      it = arms_.emplace(e.items[chosen], Arm{Ridge(d_, lambda_), MatrixD::Zero(d_, k_)}).first;
    Arm& arm = it->second;
    // Remove the arm's old contribution from the shared part, update the arm, add it back.
    A0_ += arm.B.transpose() * arm.ridge.A_inv * arm.B;
    b0_ += arm.B.transpose() * (arm.ridge.A_inv * arm.ridge.b);
    arm.ridge.add(x, reward);
    arm.B += x * z.transpose();
    A0_ += z * z.transpose() - arm.B.transpose() * arm.ridge.A_inv * arm.B;
    b0_ += reward * z - arm.B.transpose() * (arm.ridge.A_inv * arm.ridge.b);
    // A0 changes by more than rank one: refactorise it (k = 2D + 2, small).
    A0_ = 0.5 * (A0_ + A0_.transpose());
    A0_inv_ = A0_.llt().solve(MatrixD::Identity(k_, k_));
    beta_ = A0_inv_ * b0_;
  }
  void save(std::string& out) const override {
    StateWriter w{out};
    Ridge shared(k_, lambda_);
    shared.A = A0_;
    shared.A_inv = A0_inv_;
    shared.b = b0_;
    w.ridge(shared);
    std::vector<index_t> items;
    for (const auto& [item, arm] : arms_) items.push_back(item);
    std::sort(items.begin(), items.end());
    w.put(static_cast<std::uint32_t>(items.size()));
    for (const index_t item : items) {
      const Arm& arm = arms_.at(item);
      w.put(static_cast<std::uint32_t>(item));
      w.ridge(arm.ridge);
      for (int i = 0; i < d_; ++i)
        for (int j = 0; j < k_; ++j) w.put(arm.B(i, j));
    }
  }
  void load(std::string_view in) override {
    StateReader r{in};
    Ridge shared = r.ridge(k_);
    std::unordered_map<index_t, Arm> arms;
    const auto n = r.get<std::uint32_t>();
    for (std::uint32_t a = 0; a < n; ++a) {
      const auto item = static_cast<index_t>(r.get<std::uint32_t>());
      Arm arm{r.ridge(d_), MatrixD(d_, k_)};
      for (int i = 0; i < d_; ++i)
        for (int j = 0; j < k_; ++j) arm.B(i, j) = r.get<double>();
      arms[item] = std::move(arm);
    }
    r.finish();
    A0_ = std::move(shared.A);
    A0_inv_ = std::move(shared.A_inv);
    b0_ = std::move(shared.b);
    beta_ = A0_inv_ * b0_;
    arms_ = std::move(arms);
  }

 private:
  struct Arm {
    Ridge ridge;  // A_a, A_a⁻¹, b_a
    MatrixD B;    // B_a: d x k
  };
  double alpha_, lambda_;
  int k_, d_;
  MatrixD A0_, A0_inv_;
  VectorD b0_, beta_;
  std::unordered_map<index_t, Arm> arms_;
};

class LinearThompson final : public Policy {
 public:
  LinearThompson(const PolicyOptions& o, int arm_dims)
      : v_(o.v), dims_(arm_dims), ridge_(arm_dims, o.lambda), mu_(VectorD::Zero(arm_dims)),
        rng_(o.seed) {
    refactor();
  }
  PolicyKind kind() const override { return PolicyKind::thompson; }
  std::size_t choose(const BanditEvent& e) override {
    check_event(e, dims_, 0);
    // θ̃ = μ̂ + v L⁻ᵀ ε with B = LLᵀ has covariance v² B⁻¹.
    VectorD eps(dims_);
    for (int j = 0; j < dims_; ++j) eps[j] = rng_.normal();
    const VectorD theta = mu_ + v_ * solve_upper(eps);
    const VectorD s = e.z * theta;
    return argmax(std::vector<double>(s.data(), s.data() + s.size()));
  }
  // The posterior mean's scores (choose() scores a sample instead).
  std::vector<double> scores(const BanditEvent& e) const override {
    check_event(e, dims_, 0);
    const VectorD s = e.z * mu_;
    return std::vector<double>(s.data(), s.data() + s.size());
  }
  void update(const BanditEvent& e, std::size_t chosen, double reward) override {
    ridge_.add(e.z.row(chosen).transpose(), reward);
    mu_ = ridge_.theta();
    refactor();
  }
  void save(std::string& out) const override {
    StateWriter w{out};
    w.ridge(ridge_);
    w.rng(rng_);
  }
  void load(std::string_view in) override {
    StateReader r{in};
    Ridge ridge = r.ridge(dims_);
    Rng rng = rng_;
    r.rng(rng);
    r.finish();
    ridge_ = std::move(ridge);
    mu_ = ridge_.theta();
    rng_ = rng;
    refactor();
  }

 private:
  // B = LLᵀ. The serving build factorises with plain loops (Eigen's blocked LLT and its
  // triangular solves cost the wasm more bytes than this policy); natively Eigen's LLT. The two
  // agree to rounding.
  void refactor() {
    if constexpr (kServeOnly) {
      const auto n = ridge_.A.rows();
      lower_ = MatrixD::Zero(n, n);
      for (Eigen::Index j = 0; j < n; ++j) {
        double d = ridge_.A(j, j);
        for (Eigen::Index k = 0; k < j; ++k) d -= lower_(j, k) * lower_(j, k);
        if (!(d > 0)) throw Error("thompson: the posterior precision is not positive definite");
        lower_(j, j) = std::sqrt(d);
        for (Eigen::Index i = j + 1; i < n; ++i) {
          double x = ridge_.A(i, j);
          for (Eigen::Index k = 0; k < j; ++k) x -= lower_(i, k) * lower_(j, k);
          lower_(i, j) = x / lower_(j, j);
        }
      }
    } else {
      chol_.compute(ridge_.A);
    }
  }
  // x with Lᵀ x = e.
  VectorD solve_upper(const VectorD& e) const {
    if constexpr (kServeOnly) {
      const auto n = e.size();
      VectorD x(n);
      for (Eigen::Index i = n - 1; i >= 0; --i) {
        double v = e[i];
        for (Eigen::Index k = i + 1; k < n; ++k) v -= lower_(k, i) * x[k];
        x[i] = v / lower_(i, i);
      }
      return x;
    } else {
      return chol_.matrixU().solve(e);
    }
  }
  MatrixD lower_;  // L, the serving build's factor
  double v_;
  int dims_;
  Ridge ridge_;  // B, B⁻¹, f
  VectorD mu_;
  Eigen::LLT<MatrixD> chol_;
  Rng rng_;
};

}  // namespace

std::uint64_t policy_seed(std::uint64_t seed, PolicyKind kind) {
  return mix_seed(seed, static_cast<std::uint64_t>(kind), 0x62616e646974ull /* "bandit" */);
}

std::unique_ptr<Policy> make_policy(const PolicyOptions& o, int arm_dims, int user_dims) {
  if (!(o.lambda > 0) || !std::isfinite(o.lambda)) throw Error("bandit: lambda must be > 0");
  if (!(o.epsilon >= 0 && o.epsilon <= 1)) throw Error("--epsilon must be in [0, 1]");
  if (!(o.alpha >= 0) || !std::isfinite(o.alpha)) throw Error("--ucb-alpha must be >= 0");
  if (!(o.v >= 0) || !std::isfinite(o.v)) throw Error("--ts-v must be >= 0");
  const bool linear = o.kind != PolicyKind::random && o.kind != PolicyKind::greedy;
  if (linear && arm_dims < 1) throw Error("bandit: arm features need at least one dimension");
  if (o.kind == PolicyKind::linucb_hybrid && user_dims < 1)
    throw Error("bandit: linucb-hybrid needs a user context");
  switch (o.kind) {
    case PolicyKind::random: return std::make_unique<RandomPolicy>(o.seed);
    case PolicyKind::greedy: return std::make_unique<GreedyPolicy>();
    case PolicyKind::egreedy: return std::make_unique<EpsilonGreedy>(o, arm_dims);
    case PolicyKind::linucb: return std::make_unique<LinUcbDisjoint>(o, arm_dims);
    case PolicyKind::linucb_hybrid:
      // Left out of the serving build (wasm) for its size: its shared part needs a refactorised
      // matrix and matrix products the other policies do not.
      if constexpr (kServeOnly) not_in_serving_build("linucb-hybrid");
      else return std::make_unique<LinUcbHybrid>(o, arm_dims, user_dims);
    case PolicyKind::thompson: return std::make_unique<LinearThompson>(o, arm_dims);
  }
  throw Error("bandit: unknown policy kind");
}

namespace {
constexpr char kStateMagic[4] = {'E', 'R', 'B', 'S'};
constexpr std::uint32_t kStateFormat = 1;
}  // namespace

std::string save_policy_state(const Policy& policy, std::uint64_t model) {
  std::string out(kStateMagic, 4);
  StateWriter w{out};
  w.put(kStateFormat);
  w.put(static_cast<std::uint32_t>(policy.kind()));
  w.put(model);
  policy.save(out);
  return out;
}

void load_policy_state(Policy& policy, std::string_view bytes, std::uint64_t model) {
  if (bytes.size() < 4 || bytes.substr(0, 4) != std::string_view(kStateMagic, 4))
    throw Error("bandit state: not a saved bandit state");
  StateReader r{bytes.substr(4)};
  const auto format = r.get<std::uint32_t>();
  if (format != kStateFormat)
    throw Error("bandit state: format " + std::to_string(format) + " (this edgerec reads " +
                std::to_string(kStateFormat) + ")");
  const auto kind = r.get<std::uint32_t>();
  if (kind != static_cast<std::uint32_t>(policy.kind()))
    throw Error(std::string("bandit state: saved by another policy (this one is ") + policy_name(policy.kind()) + ")");
  if (r.get<std::uint64_t>() != model) throw Error("bandit state: learned over another model");
  policy.load(r.in);
}

}  // namespace edgerec
