// The new-user cold-start protocol (edgerec/new_users.hpp). Serial by design: one bandit policy
// learns across the held-out users in a seeded order, and its updates must be ordered for the
// run to be reproducible.
#include "edgerec/new_users.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "edgerec/kernels.hpp"
#include "edgerec/metrics.hpp"
#include "edgerec/split.hpp"
#include "edgerec/topk.hpp"

namespace edgerec {

namespace {

void check(const NewUserOptions& o) {
  if (!(o.fraction > 0.0 && o.fraction < 1.0))
    throw Error("--new-users must be a fraction strictly between 0 and 1 (got " + std::to_string(o.fraction) + ")");
  if (o.reveal < 1) throw Error("--new-user-reveal must be at least 1 (got " + std::to_string(o.reveal) + ")");
  if (!(o.feedback_share >= 0.0 && o.feedback_share < 1.0))
    throw Error("--new-user-feedback must lie in [0, 1) (got " + std::to_string(o.feedback_share) + ")");
  if (o.steps < 0) throw Error("--new-user-steps must not be negative (got " + std::to_string(o.steps) + ")");
  if (o.candidates < 1) throw Error("--new-user-candidates must be at least 1 (got " + std::to_string(o.candidates) + ")");
  if (o.k < 1) throw Error("--k must be at least 1 (got " + std::to_string(o.k) + ")");
  if (o.folds < 1) throw Error("--new-user-folds must be at least 1 (got " + std::to_string(o.folds) + ")");
}

std::vector<index_t> relevant_items(const std::vector<ItemValue>& test, float threshold) {
  std::vector<index_t> out;
  for (const auto& iv : test)
    if (std::isnan(threshold) || iv.value >= threshold) out.push_back(iv.item);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<index_t> items_of(const std::vector<TopK>& top) {
  std::vector<index_t> out;
  out.reserve(top.size());
  for (const auto& t : top) out.push_back(t.item);
  return out;
}

struct Sums {
  double hr = 0, ndcg = 0, recall = 0, accepted = 0;
  void add(const std::vector<index_t>& list, const std::vector<index_t>& rel, int k) {
    hr += hit_rate_at(list, rel, k);
    ndcg += ndcg_at(list, rel, k);
    recall += recall_at(list, rel, k);
  }
  void put(const std::string& name, int k, double n, bool with_accepted,
           std::map<std::string, double>& m) const {
    const std::string ks = std::to_string(k);
    m[name + "_hr@" + ks] = hr / n;
    m[name + "_ndcg@" + ks] = ndcg / n;
    m[name + "_recall@" + ks] = recall / n;
    if (with_accepted) m[name + "_accepted"] = accepted / n;
  }
};

// What the new-user rounds share: the bandit's features of the base model plus one column, the
// item's standardised log popularity (so a linear policy can learn, from the feedback, how much
// of the popularity prior a new user's fold-in should keep), and the popularity ranking.
struct Explorer {
  const Model& model;
  const NewUserOptions& o;
  BanditFeatures features;
  std::vector<double> pop_z;  // per item
  std::vector<float> u, scratch;
  explicit Explorer(const Model& m, const NewUserOptions& options)
      : model(m), o(options), features(m, options.context_dims) {
    const index_t n = m.n_items();
    pop_z.resize(n);
    double mean = 0, sq = 0;
    for (index_t i = 0; i < n; ++i) pop_z[i] = std::log1p(std::max(0.0f, m.item_popularity[i])), mean += pop_z[i];
    mean /= std::max<double>(n, 1);
    for (index_t i = 0; i < n; ++i) sq += (pop_z[i] - mean) * (pop_z[i] - mean);
    const double sd = std::sqrt(sq / std::max<double>(n, 1));
    for (double& x : pop_z) x = sd > 0 ? (x - mean) / sd : 0.0;
    u.resize(static_cast<std::size_t>(m.embeddings()->V.cols()));
    scratch.resize(n);
  }
  int arm_dims() const { return features.arm_dims() + 1; }
  int user_dims() const { return features.user_dims(); }

  // e := the fold-in's top `candidates` items for `history` and then the most popular ones
  // (each list skipping `skip`, duplicates dropped), with their features.
  void event(const std::vector<ItemValue>& history, const std::uint8_t* skip, BanditEvent& e) {
    const auto h = model.prepare_history(history);
    const auto fold = model.top_k_new(h, o.candidates, skip, scratch.data());
    const auto pop = select_top_k(model.item_popularity.data(), model.n_items(), o.candidates, skip);
    e.items.clear();
    for (const auto& t : fold) e.items.push_back(t.item);
    for (const auto& t : pop)
      if (std::find(e.items.begin(), e.items.end(), t.item) == e.items.end()) e.items.push_back(t.item);
    float offset = 0;
    const bool has_vector = model.fold_in_vector(h, u.data(), &offset);
    features.fill_vector(has_vector ? u.data() : nullptr, offset, e);
    const Eigen::Index d = features.arm_dims();
    MatrixD z(e.z.rows(), d + 1);
    z.leftCols(d) = e.z;
    for (Eigen::Index a = 0; a < z.rows(); ++a) z(a, d) = pop_z[e.items[static_cast<std::size_t>(a)]];
    e.z = std::move(z);
  }

  // The interactive rounds of one user under `policy`; returns the history after them (the
  // revealed items plus those accepted, in order).
  std::vector<ItemValue> rounds(Policy& policy, const NewUserWindows& w, std::vector<std::uint8_t>& shown,
                                std::size_t* accepted) {
    std::unordered_map<index_t, float> feedback;
    for (const auto& iv : w.feedback) feedback.emplace(iv.item, iv.value);
    std::vector<ItemValue> history = w.revealed;
    std::vector<index_t> marked;
    for (const auto& iv : w.revealed) shown[iv.item] = 1, marked.push_back(iv.item);
    BanditEvent e;
    for (int step = 0; step < o.steps; ++step) {
      event(history, shown.data(), e);
      if (e.items.empty()) break;
      const std::size_t c = policy.choose(e);
      const index_t item = e.items[c];
      const auto hit = feedback.find(item);
      policy.update(e, c, hit != feedback.end() ? 1.0 : 0.0);
      shown[item] = 1;
      marked.push_back(item);
      if (hit != feedback.end()) {
        history.push_back({item, hit->second});
        ++*accepted;
      }
    }
    for (index_t i : marked) shown[i] = 0;
    return history;
  }

  // The final list: the k candidates (event() of `history`) with the highest policy scores
  // (ties: candidate order).
  std::vector<index_t> final_list(const Policy& policy, const std::vector<ItemValue>& history,
                                  const std::uint8_t* skip, int k) {
    BanditEvent e;
    event(history, skip, e);
    if (e.items.empty()) return {};
    const auto s = policy.estimates(e);
    std::vector<std::size_t> order(e.items.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return s[a] > s[b]; });
    std::vector<index_t> out;
    for (std::size_t i = 0; i < order.size() && out.size() < static_cast<std::size_t>(k); ++i)
      out.push_back(e.items[order[i]]);
    return out;
  }
};

}  // namespace

std::vector<NewUserWindows> new_user_windows(const Interactions& data, const NewUserOptions& options,
                                             std::uint64_t* eligible_out, int fold) {
  check(options);
  if (fold < 0 || fold >= options.folds)
    throw Error("new-user protocol: fold " + std::to_string(fold) + " of " + std::to_string(options.folds));
  // Each user's rows in file order, then stably by time: ties keep file order.
  std::vector<std::vector<std::uint64_t>> rows(data.n_users());
  for (std::uint64_t r = 0; r < data.rows.size(); ++r) {
    const auto& row = data.rows[r];
    if (row.user >= data.n_users() || row.item >= data.n_items())
      throw Error("new-user protocol: row " + std::to_string(r) + " of " + data.source + " is outside its id maps");
    rows[row.user].push_back(r);
  }
  std::vector<NewUserWindows> all(data.n_users());
  std::vector<index_t> eligible;
  std::vector<std::uint8_t> seen(data.n_items(), 0);
  for (index_t u = 0; u < data.n_users(); ++u) {
    auto& r = rows[u];
    std::stable_sort(r.begin(), r.end(), [&](std::uint64_t a, std::uint64_t b) { return data.rows[a].time < data.rows[b].time; });
    std::vector<ItemValue> items;
    for (std::uint64_t i : r) {
      const auto& row = data.rows[i];
      if (seen[row.item]) continue;  // a repeat: the first occurrence is when the user met it
      seen[row.item] = 1;
      items.push_back({row.item, row.value});
    }
    for (const auto& iv : items) seen[iv.item] = 0;
    if (items.size() < static_cast<std::size_t>(options.reveal) + 2) continue;
    eligible.push_back(u);
    auto& w = all[u];
    w.user = u;
    const std::size_t rest = items.size() - static_cast<std::size_t>(options.reveal);
    const auto fb = static_cast<std::size_t>(std::floor(options.feedback_share * static_cast<double>(rest)));
    const auto b = items.begin();
    w.revealed.assign(b, b + options.reveal);
    w.feedback.assign(b + options.reveal, b + options.reveal + static_cast<std::ptrdiff_t>(fb));
    w.test.assign(b + options.reveal + static_cast<std::ptrdiff_t>(fb), items.end());
  }
  if (eligible_out) *eligible_out = eligible.size();
  const auto want = static_cast<std::size_t>(std::llround(options.fraction * static_cast<double>(eligible.size())));
  const std::size_t n = std::max<std::size_t>(want, 1);
  if (eligible.empty())
    throw Error("new-user protocol: no user of " + data.source + " has the " + std::to_string(options.reveal + 2) +
                " distinct items it needs (" + std::to_string(options.reveal) + " revealed, one to test, one more)");
  if (n >= data.n_users())
    throw Error("new-user protocol: holding out " + std::to_string(n) + " of " + std::to_string(data.n_users()) +
                " users leaves none to train on");
  // Seeded Fisher-Yates over the eligible users; fold f holds out the f-th block of n, in that
  // order (fold 0: the first n).
  const std::size_t begin = static_cast<std::size_t>(fold) * n;
  if (begin >= eligible.size())
    throw Error("new-user protocol: fold " + std::to_string(fold + 1) + " of " + std::to_string(options.folds) +
                " would be empty: " + std::to_string(options.folds) + " folds of " + std::to_string(n) +
                " users exceed the " + std::to_string(eligible.size()) + " eligible ones (lower --new-users or --new-user-folds)");
  Rng rng(mix_seed(options.seed, 0x6e6577757365ull /* "newuse" */));
  shuffle(eligible, rng);
  std::vector<NewUserWindows> out;
  const std::size_t end = std::min(begin + n, eligible.size());
  out.reserve(end - begin);
  for (std::size_t i = begin; i < end; ++i) out.push_back(std::move(all[eligible[i]]));
  return out;
}

NewUserResult measure_new_users(const Model& model, const std::vector<NewUserWindows>& users,
                                const NewUserOptions& options) {
  check(options);
  const auto start = std::chrono::steady_clock::now();
  NewUserResult result;
  result.held_out_users = users.size();
  const index_t n_items = model.n_items();
  if (model.item_popularity.size() < n_items) throw Error("new-user protocol: the model has no item popularity");
  for (const auto& w : users) {
    if (w.user < model.seen.rows() && model.seen.row_size(w.user) > 0)
      throw Error("new-user protocol: held-out user " + std::to_string(w.user) + " has training rows in the model");
    for (const auto* part : {&w.revealed, &w.feedback, &w.test})
      for (const auto& iv : *part)
        if (iv.item >= n_items) throw Error("new-user protocol: item index outside the model");
  }
  // The bandit features need latent factors (a popularity or baseline model has none).
  const bool explore = model.embeddings() && model.embeddings()->factor_dims > 0;
  result.explored = explore && options.steps > 0;
  std::unique_ptr<Explorer> ex;
  std::unique_ptr<Policy> explorer, exploiter, greedy;
  if (result.explored) {
    ex = std::make_unique<Explorer>(model, options);
    PolicyOptions po = options.policy;
    po.seed = policy_seed(options.seed, po.kind);
    explorer = make_policy(po, ex->arm_dims(), ex->user_dims());
    // The same ridge over the same features, never exploring: what learning alone gives.
    po.kind = PolicyKind::egreedy;
    po.epsilon = 0.0;
    po.seed = policy_seed(options.seed, po.kind);
    exploiter = make_policy(po, ex->arm_dims(), ex->user_dims());
    po.kind = PolicyKind::greedy;
    po.seed = policy_seed(options.seed, po.kind);
    greedy = make_policy(po, ex->arm_dims(), ex->user_dims());
  }
  std::vector<std::uint8_t> skip(n_items, 0), shown(n_items, 0);
  std::vector<float> scratch(n_items);
  Sums pop, fold, exp, xpl, gre, feat, fold_feat;
  // The features methods: the model's ranking of its fold-in with the user's feature row.
  std::vector<float> fu(model.embeddings() ? static_cast<std::size_t>(model.embeddings()->V.cols()) : 0);
  float f_offset = 0;
  bool with_features = false;
  if (options.user_meta && model.embeddings())
    with_features = model.fold_in_vector_described({}, *options.user_meta, -1, fu.data(), &f_offset);

  std::size_t counted = 0;
  const int k = options.k;
  const auto ranked = [&](const std::vector<ItemValue>& history, std::int64_t row) {
    model.fold_in_vector_described(history, *options.user_meta, row, fu.data(), &f_offset);
    // The serving kernel, so these scores are the ones a deployed model would rank by.
    const Matrix& V = model.embeddings()->V;
    kernels::score_all(fu.data(), V.data(), static_cast<std::size_t>(n_items), fu.size(), f_offset, scratch.data());
    return items_of(select_top_k(scratch.data(), n_items, k, skip.data()));
  };
  for (const auto& w : users) {
    result.feedback_items += w.feedback.size();
    // Exploration runs for every held-out user, counted or not: the policy learns from all.
    std::vector<ItemValue> explored_history, exploited_history, greedy_history;
    std::size_t exp_accepted = 0, xpl_accepted = 0, gre_accepted = 0;
    if (result.explored) {
      explored_history = ex->rounds(*explorer, w, shown, &exp_accepted);
      exploited_history = ex->rounds(*exploiter, w, shown, &xpl_accepted);
      greedy_history = ex->rounds(*greedy, w, shown, &gre_accepted);
    }
    const auto rel = relevant_items(w.test, options.relevance_threshold);
    if (rel.empty()) continue;
    ++counted;
    result.test_items += rel.size();
    for (const auto* part : {&w.revealed, &w.feedback})
      for (const auto& iv : *part) skip[iv.item] = 1;
    pop.add(items_of(select_top_k(model.item_popularity.data(), n_items, k, skip.data())), rel, k);
    fold.add(items_of(model.top_k_new(model.prepare_history(w.revealed), k, skip.data(), scratch.data())), rel, k);
    if (with_features) {
      const std::int64_t row = options.user_meta->find(model.users.id(w.user));
      feat.add(ranked({}, row), rel, k);
      fold_feat.add(ranked(model.prepare_history(w.revealed), row), rel, k);
    }
    if (result.explored) {
      exp.add(ex->final_list(*explorer, explored_history, skip.data(), k), rel, k);
      xpl.add(ex->final_list(*exploiter, exploited_history, skip.data(), k), rel, k);
      xpl.accepted += static_cast<double>(xpl_accepted);
      gre.add(items_of(model.top_k_new(model.prepare_history(greedy_history), k, skip.data(), scratch.data())), rel, k);
      exp.accepted += static_cast<double>(exp_accepted);
      gre.accepted += static_cast<double>(gre_accepted);
    }
    for (const auto* part : {&w.revealed, &w.feedback})
      for (const auto& iv : *part) skip[iv.item] = 0;
  }
  result.counted_users = counted;
  if (counted == 0) throw Error("new-user protocol: no held-out user has a relevant test item");
  const double n = static_cast<double>(counted);
  pop.put("popularity", k, n, false, result.metrics);
  fold.put("foldin", k, n, false, result.metrics);
  if (with_features) {
    feat.put("features", k, n, false, result.metrics);
    fold_feat.put("foldin_features", k, n, false, result.metrics);
  }
  if (result.explored) {
    exp.put("explore", k, n, true, result.metrics);
    xpl.put("exploit", k, n, true, result.metrics);
    gre.put("greedy", k, n, true, result.metrics);
  }
  result.eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

namespace {

NewUserResult evaluate_fold(const Interactions& data, ModelKind kind, const Hyper& hyper,
                            const NewUserOptions& options, Backend& backend, const Progress& progress,
                            int fold) {
  std::uint64_t eligible = 0;
  const auto users = new_user_windows(data, options, &eligible, fold);
  std::vector<std::uint8_t> held(data.n_users(), 0);
  for (const auto& w : users) held[w.user] = 1;
  Interactions train = data.empty_like();
  for (const auto& row : data.rows)
    if (!held[row.user]) train.rows.push_back(row);
  auto model = make_model(kind);
  if (options.user_meta) {
    // The training users' rows only (aligned to them, then to the whole user index, where the
    // held-out users are then undescribed): nothing of a held-out user reaches training.
    IdMap training_users;
    for (index_t u = 0; u < data.n_users(); ++u)
      if (!held[u]) training_users.add(data.users.id(u));
    model->user_meta = std::make_shared<const UserMeta>(
        align_user_meta(align_user_meta(*options.user_meta, training_users), train.users));
  }
  model->fit(train, hyper, backend, progress);
  auto result = measure_new_users(*model, users, options);
  result.eligible_users = eligible;
  result.train_rows = train.size();
  result.fit_seconds = model->info.fit_seconds;
  return result;
}

}  // namespace

NewUserResult evaluate_new_users(const Interactions& data, ModelKind kind, const Hyper& hyper,
                                 const NewUserOptions& options, Backend& backend, const Progress& progress) {
  check(options);
  if (options.folds == 1) return evaluate_fold(data, kind, hyper, options, backend, progress, 0);
  NewUserResult out;
  std::map<std::string, double> sums;
  for (int f = 0; f < options.folds; ++f) {
    const auto r = evaluate_fold(data, kind, hyper, options, backend, progress, f);
    const double w = static_cast<double>(r.counted_users);
    for (const auto& [key, value] : r.metrics) sums[key] += w * value;
    if (f == 0) {
      out.eligible_users = r.eligible_users;
      out.train_rows = r.train_rows;
      out.explored = r.explored;
    }
    out.held_out_users += r.held_out_users;
    out.counted_users += r.counted_users;
    out.feedback_items += r.feedback_items;
    out.test_items += r.test_items;
    out.fit_seconds += r.fit_seconds;
    out.eval_seconds += r.eval_seconds;
    out.fold_metrics.push_back(r.metrics);
    out.fold_counted_users.push_back(r.counted_users);
  }
  for (const auto& [key, value] : sums) out.metrics[key] = value / static_cast<double>(out.counted_users);
  return out;
}

}  // namespace edgerec
