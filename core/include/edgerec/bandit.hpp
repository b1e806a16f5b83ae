// edgerec/bandit.hpp — contextual bandits over a base model's candidates, the logged-bandit
// simulator and off-policy evaluation (replay, IPS, self-normalised IPS).
//
// The loop: for a user, a base model proposes candidates (its top-N, or a logged event's
// candidate set); a policy picks one; the user's reward (a click: 1 or 0) comes back and the
// policy updates online, once per event. Policies only see feature vectors, so they work with
// any model that has item embeddings and with hand-made features in tests.
//
// Arm context (BanditFeatures, the choice made here). From the base model's factor form
// (Model::embeddings(): the latent columns of U and V, biases left out):
//   - P: the D leading principal directions of the item factors (eigenvectors of VᵀV, the
//     uncentred second moment, so dot products keep their largest part); D = context_dims,
//     at most the factor count; when D equals the factor count P is the identity.
//   - ū = unit(Pᵀu), v̄_i = unit(Pᵀv_i) (a zero vector stays zero).
//   - s = the base model's score u·v_i + offset, standardised by its mean and standard
//     deviation over the users' scores of every item (up to 256 evenly spaced users; a model
//     without users, such as a stripped one on the device, leaves s unstandardised).
//   - Shared arm features z = [ū ⊙ v̄_i (D), v̄_i (D), s, 1]: 2D + 2 numbers. The elementwise
//     product lets a linear model weigh the user-item match per direction, v̄_i the item's own
//     place in the space, s what the base model already knows.
//   - User context x = [ū (D), 1]: D + 1 numbers (LinUCB hybrid's per-arm part).
//
// Policies (all deterministic for a seed; online update per event; their state is plain
// members so it can be saved later — it is not written into model files):
//   - random: uniform among the candidates.
//   - greedy: the candidate with the highest base score (ties: the first).
//   - egreedy: ridge regression θ = A⁻¹b over z (A = I + Σzzᵀ), the candidate with the highest
//     θᵀz, and with probability ε a uniform candidate instead.
//   - linucb (disjoint, Li et al. 2010, Algorithm 1): one ridge model per item over its z,
//     score θ_aᵀz + α√(zᵀA_a⁻¹z).
//   - linucb-hybrid (Li et al. 2010, Algorithm 2): shared β over z (A0, b0) plus per item θ_a
//     over x (A_a, B_a, b_a), score zᵀβ + xᵀθ_a + α√s_{t,a}.
//   - thompson (linear Thompson sampling, Agrawal & Goyal 2013): B = I + Σzzᵀ, μ̂ = B⁻¹f;
//     per decision θ̃ ~ N(μ̂, v²B⁻¹), the candidate with the highest θ̃ᵀz.
// Every ridge inverse is kept up to date with the Sherman–Morrison rank-one formula (O(d²) per
// update); the hybrid's A0, which changes by more than rank one, is refactorised (its size is
// 2D + 2). Argmax ties go to the first candidate in the given order.
//
// Thread-safety: a Policy is mutable state used by one thread at a time. BanditFeatures is
// read-only after construction and may be shared; it keeps a pointer to the model, which must
// outlive it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <Eigen/Dense>

#include "edgerec/data.hpp"
#include "edgerec/model.hpp"
#include "edgerec/split.hpp"

namespace edgerec {

using MatrixD = Eigen::MatrixXd;
using VectorD = Eigen::VectorXd;

enum class PolicyKind { random, greedy, egreedy, linucb, linucb_hybrid, thompson };
PolicyKind parse_policy(std::string_view name);  // throws Error listing the valid names
const char* policy_name(PolicyKind kind);
const std::vector<PolicyKind>& all_policies();

// One decision's inputs, prepared by the caller (BanditFeatures::fill for a base model).
struct BanditEvent {
  std::vector<index_t> items;  // candidate arms (item indices); per-arm state is keyed by them
  std::vector<float> base;     // the base model's score of each candidate (greedy)
  MatrixD z;                   // candidates x arm_dims: shared arm features, one row each
  VectorD x;                   // user context (user_dims), LinUCB hybrid's per-arm part
};

// The defaults of epsilon, alpha and v were chosen on two validation simulations of ML-100K
// (seeds 1 and 2; the reported run is seed 0), as README.md's bandit section describes.
struct PolicyOptions {
  PolicyKind kind = PolicyKind::linucb;
  double epsilon = 0.02;  // egreedy: exploration probability
  double alpha = 0.01;    // linucb, linucb-hybrid: width of the confidence bound
  double v = 0.02;        // thompson: scale of the posterior's covariance (v² B⁻¹)
  double lambda = 1.0;    // ridge: every A starts as lambda * I
  std::uint64_t seed = 0;
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual PolicyKind kind() const = 0;
  // The index (into e.items) of the candidate to show. May advance the policy's RNG.
  // Throws Error when e has no candidates or its shapes do not match the policy's dimensions.
  virtual std::size_t choose(const BanditEvent& e) = 0;
  // What choose() maximises over e's candidates, without drawing anything: the UCB score for
  // linucb and linucb-hybrid, the ridge estimate for egreedy (its exploit step), the base score
  // for greedy, 0 for random, and for thompson the posterior mean's score (choose() scores a
  // sample of θ instead).
  virtual std::vector<double> scores(const BanditEvent& e) const = 0;
  // The policy's estimate of each candidate's reward, without any exploration term: scores()
  // less the confidence bonus for linucb and linucb-hybrid (the ridge mean; 0 for an arm never
  // shown), scores() for the others. What a list ranked by what the policy has learned uses.
  virtual std::vector<double> estimates(const BanditEvent& e) const { return scores(e); }
  // Learns from the reward of showing candidate `chosen` of `e` (online, one event).
  virtual void update(const BanditEvent& e, std::size_t chosen, double reward) = 0;
  // The learned state (ridge statistics, per-item models, the RNG's position) appended to `out`
  // as little-endian bytes, and read back by load() into a policy made with the same options
  // and dimensions, which then continues exactly where this one was (each ridge is stored as the
  // upper triangles of A and A⁻¹, and b). load() throws Error on truncated bytes or another
  // policy's state. linucb-hybrid is not built into the serving build (wasm): make_policy()
  // refuses it there.
  virtual void save(std::string& out) const = 0;
  virtual void load(std::string_view in) = 0;
};

// A policy's state with a header (magic "ERBS", format 1, the policy kind and `model`, a
// fingerprint of the features it was learned over: BanditFeatures::fingerprint()), and back.
// load_policy_state() throws Error naming what does not match (another kind, another model,
// truncated bytes), leaving the policy as it was.
std::string save_policy_state(const Policy& policy, std::uint64_t model);
void load_policy_state(Policy& policy, std::string_view bytes, std::uint64_t model);

// The seed of policy `kind` in a run seeded `seed` (each policy its own stream; the CLI's).
std::uint64_t policy_seed(std::uint64_t seed, PolicyKind kind);

// `arm_dims`: columns of BanditEvent::z; `user_dims`: size of BanditEvent::x.
std::unique_ptr<Policy> make_policy(const PolicyOptions& options, int arm_dims, int user_dims);

// A ridge regression kept as (A, A⁻¹, b) with Sherman–Morrison updates of A⁻¹: the building
// block of the linear policies, public for tests and for saving a policy's state.
struct Ridge {
  MatrixD A, A_inv;
  VectorD b;
  Ridge() = default;
  Ridge(int dims, double lambda);
  // A += xxᵀ, b += r x, A⁻¹ by Sherman–Morrison.
  void add(const VectorD& x, double reward);
  VectorD theta() const { return A_inv * b; }
};

// The arm context of one base model (see the top of this file). `context_dims` D >= 1 (capped
// at the model's factor count). Throws Error for a model without embeddings.
class BanditFeatures {
 public:
  BanditFeatures(const Model& model, int context_dims);
  int dims() const { return dims_; }
  int arm_dims() const { return 2 * dims_ + 2; }
  int user_dims() const { return dims_ + 1; }
  float base_score(index_t user, index_t item) const;
  // Fills e (x, z, base) for `user` and the candidates already in e.items.
  void fill(index_t user, BanditEvent& e) const;
  // The same for a user outside the model (a visitor folded in on the device): `user` is the
  // scoring vector (the model's dims floats, as Model::fold_in_vector gives; its first factor
  // columns are the latent part), `offset` its constant; nullptr = no vector yet (an empty
  // history): ū = 0 and the base scores are the offset.
  void fill_vector(const float* user, float offset, BanditEvent& e) const;
  // A hash of what the arm features are made of (the projected item vectors, D, the score
  // scale): a saved policy state is only valid over the same one.
  std::uint64_t fingerprint() const;
  // e.items := the base model's top `n` items for `user` (unseen ones only when exclude_seen),
  // then fill(). The online path: candidates that scale to large catalogues.
  void candidates(index_t user, int n, bool exclude_seen, BanditEvent& e) const;
  const Model& model() const { return *model_; }
  // ū of `user` and v̄ of `item` (D numbers, unit length or zero), and a base score
  // standardised as in z: the pieces Q-learning's state and action features are made of.
  VectorD user_vector(index_t user) const { return user_.row(user).transpose(); }
  VectorD item_vector(index_t item) const { return item_.row(item).transpose(); }
  double standardised(float score) const { return (static_cast<double>(score) - score_mean_) / score_std_; }

 private:
  const Model* model_;
  int dims_ = 0;
  MatrixD user_, item_;  // n x D unit rows
  MatrixD proj_;         // P: factors x D
  void init_projection(const Embeddings& e, int factors);
  void init_score_scale(const Embeddings& e);
  double score_mean_ = 0, score_std_ = 1;
};

// ---- Logged bandit data --------------------------------------------------------------------

// One logged event: a user, the candidates the logging policy chose among, the one it showed,
// the observed reward, and the probability the logging policy gave that item.
struct LoggedEvent {
  index_t user = 0;
  std::vector<index_t> candidates;
  index_t shown = 0;          // an item index (one of candidates)
  double reward = 0;
  double propensity = 1;      // in (0, 1]
};

// The log in its own id space (the ids as written); `source` is the file name.
struct BanditLog {
  IdMap users, items;
  std::vector<LoggedEvent> events;
  std::string source;
};

// The logged-bandit CSV (what `edgerec simulate` writes and `eval --protocol replay` reads):
//   event,user,item,reward,propensity,candidates
//   0,196,242,1,0.05,242|51|1022|...
// One header line, then one line per event: `event` a running number from 0, `user` and `item`
// ids (no ',', '|' or '"'), `reward` a finite number (0/1 for clicks), `propensity` in (0, 1],
// `candidates` the candidate item ids separated by '|', which must contain `item` and not repeat
// an id. Lines starting with '#' are comments. Throws Error "FILE:LINE: field 'NAME': problem"
// at the first bad line (a log is machine-written: a bad line means a broken file).
BanditLog read_bandit_log(const std::string& path);
BanditLog parse_bandit_log(std::string_view text, const std::string& source);
std::string format_bandit_log(const BanditLog& log);

// ---- Simulator -----------------------------------------------------------------------------

enum class RewardModel {
  threshold,  // click = 1 when the hidden rating >= threshold
  bernoulli,  // click with probability (hidden − rating_min) / (rating_max − rating_min), clamped
};

struct SimulateOptions {
  std::uint64_t events = 250000;  // logged events (about events / candidates kept by a replay)
  int candidates = 20;            // candidate set size of each event
  RewardModel reward = RewardModel::threshold;
  float threshold = 4.0f;
  std::uint64_t seed = 0;         // the hidden model's seed and the event stream's
};

struct SimulateResult {
  BanditLog log;
  double click_rate = 0;        // mean reward of the logged (uniformly random) events
  double best_click_rate = 0;   // mean over events of the best candidate's reward (threshold)
                                // or click probability (bernoulli): what an oracle would get
  index_t excluded_users = 0;   // users with fewer unrated items than `candidates`: never drawn
  double fit_seconds = 0;
};

// Builds a logged-bandit dataset from rating data. Hidden preferences: an `svd` model (its
// default hyper-parameters, Hyper::seed = options.seed) fitted on ALL of `data`; its predicted
// rating (clipped to the data's rating range) is each (user, item)'s hidden rating. Each event:
// a user drawn uniformly from the users with at least `candidates` unrated items (the others
// are counted in excluded_users); `candidates` distinct items drawn uniformly from the items
// that user has not rated; the logging policy shows one of them uniformly at random
// (propensity 1 / candidates); the reward follows options.reward. Deterministic for a seed and
// thread count of `backend` (SVD's SGD is serial). Throws Error for data without ratings or
// when no user has `candidates` unrated items.
// The simulator's hidden preferences: an `svd` model (its default hyper-parameters, seed
// `seed`) fitted on all of `data`. Throws Error for data without ratings.
std::unique_ptr<Model> fit_hidden_preferences(const Interactions& data, std::uint64_t seed,
                                              Backend& backend, const Progress& progress = {});

SimulateResult simulate_bandit_log(const Interactions& data, const SimulateOptions& options,
                                   Backend& backend, const Progress& progress = {});

// ---- Off-policy evaluation -----------------------------------------------------------------

struct ReplayOptions {
  std::uint64_t steps = 10000;  // stop after this many kept events (0 = the whole log)
  std::uint64_t curve_every = 100;  // a curve point every this many kept events (and the last)
};

struct CurvePoint {
  std::uint64_t step = 0;        // kept events so far
  std::uint64_t scanned = 0;     // logged events read so far
  double reward = 0;             // cumulative reward over the kept events
};

struct ReplayResult {
  std::string policy;
  std::uint64_t scanned = 0;  // events read (every one the policy was asked about)
  std::uint64_t kept = 0;     // events where the policy picked the logged item
  std::uint64_t skipped = 0;  // events whose user or a candidate the base model does not know
  double reward = 0;          // summed over kept events
  double ctr = 0;             // reward / kept: the replay estimate (Li et al. 2011)
  // Over the scanned events: IPS = Σ 1[pick = logged] r / p ÷ scanned; self-normalised IPS =
  // Σ 1[pick = logged] r / p ÷ Σ 1[pick = logged] / p. With a uniform logging policy over equal
  // candidate set sizes both equal ctr up to the ratio kept·|C| / scanned.
  double ips = 0;
  double snips = 0;
  std::vector<CurvePoint> curve;
};

// The replay method (Li et al. 2011): events are read in order; the policy picks among each
// event's candidates; only when it picks the logged item is the event kept, its reward counted
// and the policy updated (a policy learns from kept events only). Stops after options.steps
// kept events or at the end of the log. The log's ids are mapped to `features.model()`'s; an
// event whose user or any candidate the model does not know is skipped and counted. Unbiased
// for a uniformly random logging policy (what simulate_bandit_log writes).
ReplayResult replay(Policy& policy, const BanditLog& log, const BanditFeatures& features,
                    const ReplayOptions& options);

}  // namespace edgerec
