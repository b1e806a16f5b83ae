// Evaluation protocols. The expensive part is full ranking: every test user's scores over the
// whole catalogue. It runs through Backend::parallel_for over users in a fixed number of
// chunks that depends only on the number of users, each chunk with its own accumulator and
// buffers, merged in chunk order afterwards, so the floating-point sums (and therefore every
// reported digit) are the same for any thread count.
#include "edgerec/eval.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>

#include "edgerec/metrics.hpp"
#include "edgerec/split.hpp"
#include "eval/fit.hpp"
#include "eval/grouping.hpp"

namespace edgerec {

Protocol parse_protocol(std::string_view name) {
  if (name == "holdout") return Protocol::holdout;
  if (name == "kfold") return Protocol::kfold;
  if (name == "loo") return Protocol::loo;
  if (name == "temporal") return Protocol::temporal;
  if (name == "ncf") return Protocol::ncf;
  if (name == "seq") return Protocol::seq;
  throw Error("unknown protocol '" + std::string(name) +
              "' (valid: holdout, kfold, loo, temporal, ncf, seq)");
}

const char* protocol_name(Protocol p) {
  switch (p) {
    case Protocol::holdout: return "holdout";
    case Protocol::kfold: return "kfold";
    case Protocol::loo: return "loo";
    case Protocol::temporal: return "temporal";
    case Protocol::ncf: return "ncf";
    case Protocol::seq: return "seq";
  }
  return "unknown";
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Depends on the amount of work only (never on threads()), which is what makes the merged
// sums independent of the thread count; 256 chunks keep 2..64 threads evenly loaded.
int chunk_count(std::size_t n) {
  return static_cast<int>(std::clamp<std::size_t>(n / 16, 1, 256));
}

void check_options(const EvalOptions& o) {
  if (o.k < 1) throw Error("--k must be at least 1 (got " + std::to_string(o.k) + ")");
  if (o.protocol == Protocol::kfold && o.folds < 2)
    throw Error("--folds must be at least 2 (got " + std::to_string(o.folds) + ")");
  if ((o.protocol == Protocol::holdout || o.protocol == Protocol::temporal) &&
      !(o.test_fraction > 0.0 && o.test_fraction < 1.0))
    throw Error("--test-fraction must be strictly between 0 and 1 (got " +
                std::to_string(o.test_fraction) + ")");
  if (o.negatives < 0)
    throw Error("--negatives must be at least 1, or 0 for the protocol's convention (got " +
                std::to_string(o.negatives) + ")");
  if (o.rerank.auto_pool && !o.rerank.auto_lambda)
    throw Error("--rerank-pool auto needs --rerank-lambda auto (the pool is chosen with the lambda)");
}

// One ranking task: a user, the items that count as relevant, and (for sampled metrics) the
// negatives the relevant items are ranked against.
struct Case {
  index_t user = 0;
  std::vector<index_t> relevant;          // sorted, unique
  const std::vector<index_t>* negatives = nullptr;
};

// The K best candidates by score descending, ties by index ascending (the serving order), NaN
// never listed. Insertion into a sorted K-array: after the first few hundred items almost
// every candidate fails the single comparison with the current K-th score.
void top_k(const float* scores, index_t n, int k, const std::uint8_t* skip,
           std::vector<TopK>& best, std::vector<index_t>& out) {
  best.clear();
  const std::size_t cap = static_cast<std::size_t>(k);
  auto insert = [&](index_t i, float s) {
    auto at = std::partition_point(best.begin(), best.end(),
                                   [s](const TopK& t) { return t.score >= s; });
    best.insert(at, TopK{i, s});
  };
  index_t i = 0;
  for (; i < n && best.size() < cap; ++i)
    if (!skip[i] && !std::isnan(scores[i])) insert(i, scores[i]);
  if (best.size() == cap) {
    float kth = best.back().score;
    for (; i < n; ++i) {
      // One comparison rejects almost every item; it is false for NaN, and an equal score
      // loses to the listed item with the smaller index.
      if (!(scores[i] > kth) || skip[i]) continue;
      best.pop_back();
      insert(i, scores[i]);
      kth = best.back().score;
    }
  }
  out.clear();
  for (const auto& t : best) out.push_back(t.item);
}

struct RankingResult {
  RankingAccumulator full;
  RankingAccumulator sampled;
  std::vector<std::vector<index_t>> lists;  // full-ranking top-K per case (coverage, Gini)
  std::vector<std::vector<index_t>> reranked;  // the same re-ranked (EvalOptions::rerank)
};

// What the beyond-accuracy metrics and the re-rankers need of one fitted model.
struct BeyondAccuracy {
  Matrix unit;                                  // item vectors (ILD); empty when none
  std::shared_ptr<const ItemMeta> meta;         // aligned to the model's items, or null
  const ItemMeta::Categorical* genres = nullptr;
  RerankOptions rerank;
  std::optional<Reranker> reranker;             // with rerank.kind != none

  BeyondAccuracy(const Model& model, const EvalOptions& options) : rerank(options.rerank) {
    if (options.item_meta) {
      meta = std::make_shared<const ItemMeta>(align_item_meta(*options.item_meta, model.items));
      genres = meta->field("genres");
    }
    unit = item_unit_vectors(model, meta.get());
    if (rerank.kind == RerankKind::mmr && unit.rows() == 0)
      throw Error("--rerank mmr needs item vectors: a model with item factors, or --item-meta");
    if (rerank.kind == RerankKind::calibrated && !genres)
      throw Error("--rerank calibrated needs item metadata with a 'genres' field (--item-meta)");
    if (rerank.kind != RerankKind::none && rerank.pool_factor < 1)
      throw Error("re-ranking: the candidate pool factor must be at least 1");
    if (rerank.kind != RerankKind::none) reranker.emplace(model, rerank.kind, meta);
  }

  std::vector<double> user_genres(const Model& model, index_t user) const {
    const bool has = user < model.seen.rows();
    return genre_distribution(has ? model.seen.row_indices(user) : nullptr,
                              has ? model.seen.row_size(user) : 0, *genres);
  }
};

// Full ranking (and sampled ranking for cases with negatives) of every case. Candidates of the
// full ranking are the items the user did not interact with in training. With full = false only
// the sampled ranking is made, from the scores of its candidates alone (Model::score_items).
RankingResult rank_cases(const Model& model, const std::vector<Case>& cases, int k,
                         Backend& backend, bool full_ranking = true,
                         const BeyondAccuracy* beyond = nullptr) {
  const index_t n_items = model.n_items();
  const int chunks = chunk_count(cases.size());
  std::vector<RankingAccumulator> full(chunks, RankingAccumulator(k));
  std::vector<RankingAccumulator> sampled(chunks, RankingAccumulator(k));
  RankingResult result{RankingAccumulator(k), RankingAccumulator(k), {}, {}};
  result.lists.resize(cases.size());
  const bool rerank = beyond && beyond->rerank.kind != RerankKind::none;
  if (rerank) result.reranked.resize(cases.size());

  backend.parallel_for(cases.size(), chunks, [&](std::size_t begin, std::size_t end, int chunk) {
    std::vector<float> scores(n_items);
    std::vector<std::uint8_t> skip(n_items, 0);
    std::vector<TopK> best;
    std::vector<float> local_scores;
    std::vector<index_t> local_relevant, local_items, pool;
    std::vector<float> pool_scores;
    for (std::size_t c = begin; c < end; ++c) {
      const Case& cs = cases[c];
      if (!full_ranking) {
        if (!cs.negatives) continue;
        // The sampled list as below, scored on its own.
        local_items = cs.relevant;
        local_relevant.resize(cs.relevant.size());
        std::iota(local_relevant.begin(), local_relevant.end(), index_t{0});
        for (index_t i : *cs.negatives)
          if (!std::binary_search(cs.relevant.begin(), cs.relevant.end(), i)) local_items.push_back(i);
        local_scores.resize(local_items.size());
        model.score_items(cs.user, local_items.data(), local_items.size(), local_scores.data());
        std::size_t local_candidates = 0;
        const auto local_ranks =
            rank_relevant(local_scores.data(), static_cast<index_t>(local_scores.size()),
                          local_relevant, nullptr, &local_candidates);
        sampled[chunk].add_ranks(local_ranks, local_candidates);
        continue;
      }
      model.score(cs.user, scores.data());

      const bool has_seen = cs.user < model.seen.rows();
      const index_t* seen = has_seen ? model.seen.row_indices(cs.user) : nullptr;
      const std::size_t n_seen = has_seen ? model.seen.row_size(cs.user) : 0;
      for (std::size_t j = 0; j < n_seen; ++j) skip[seen[j]] = 1;

      std::size_t candidates = 0;
      const auto ranks = rank_relevant(scores.data(), n_items, cs.relevant, skip.data(), &candidates);
      full[chunk].add_ranks(ranks, candidates);
      if (!ranks.empty()) top_k(scores.data(), n_items, k, skip.data(), best, result.lists[c]);
      if (!ranks.empty() && rerank) {
        top_k(scores.data(), n_items, k * beyond->rerank.pool_factor, skip.data(), best, pool);
        pool_scores.resize(pool.size());
        for (std::size_t j = 0; j < pool.size(); ++j) pool_scores[j] = scores[pool[j]];
        result.reranked[c] = beyond->reranker->pick(pool, pool_scores, seen, n_seen, beyond->rerank.lambda, k);
      }

      for (std::size_t j = 0; j < n_seen; ++j) skip[seen[j]] = 0;

      if (cs.negatives) {
        // The sampled list: the relevant items first (local indices 0..r-1, so their mutual
        // order is index order, as in the full ranking), then the negatives that are not
        // relevant themselves.
        local_scores.clear();
        local_relevant.clear();
        for (index_t i : cs.relevant) {
          local_relevant.push_back(static_cast<index_t>(local_scores.size()));
          local_scores.push_back(scores[i]);
        }
        for (index_t i : *cs.negatives)
          if (!std::binary_search(cs.relevant.begin(), cs.relevant.end(), i))
            local_scores.push_back(scores[i]);
        std::size_t local_candidates = 0;
        const auto local_ranks =
            rank_relevant(local_scores.data(), static_cast<index_t>(local_scores.size()),
                          local_relevant, nullptr, &local_candidates);
        sampled[chunk].add_ranks(local_ranks, local_candidates);
      }
    }
  });
  for (int c = 0; c < chunks; ++c) {
    result.full.merge(full[c]);
    result.sampled.merge(sampled[c]);
  }
  return result;
}

void put_ranking(const RankingAccumulator& acc, const std::string& prefix,
                 std::map<std::string, double>& metrics) {
  for (const auto& [key, value] : acc.means()) metrics[prefix + key] = value;
}

// Coverage, Gini and the beyond-accuracy means of `all` (one list per case; empty = not
// counted), under `prefix`.
void put_list_metrics(const Model& model, const std::vector<Case>& cases,
                      const std::vector<std::vector<index_t>>& all, const BeyondAccuracy* beyond,
                      int k, const std::string& prefix, std::map<std::string, double>& metrics) {
  std::vector<std::vector<index_t>> lists;
  double ild = 0, nov = 0, kl = 0;
  std::size_t ild_n = 0, kl_n = 0;
  const double n_users = std::max<double>(1.0, model.n_users());
  for (std::size_t c = 0; c < all.size(); ++c) {
    const auto& l = all[c];
    if (l.empty()) continue;
    lists.push_back(l);
    nov += novelty(l, model.item_popularity, n_users);
    if (beyond && beyond->unit.rows() > 0 && l.size() >= 2) {
      ild += intra_list_diversity(l, beyond->unit);
      ++ild_n;
    }
    if (beyond && beyond->genres) {
      const auto p = beyond->user_genres(model, cases[c].user);
      bool any = false;
      for (double x : p) any = any || x > 0;
      if (any) {
        kl += calibration_kl(p, genre_distribution(l.data(), l.size(), *beyond->genres));
        ++kl_n;
      }
    }
  }
  if (lists.empty()) return;
  const std::string ks = std::to_string(k);
  const index_t n_items = model.n_items();
  metrics[prefix + "coverage@" + ks] = catalogue_coverage(lists, n_items);
  metrics[prefix + "gini@" + ks] = popularity_gini(lists, n_items);
  if (model.item_popularity.size() >= n_items)
    metrics[prefix + "novelty@" + ks] = nov / static_cast<double>(lists.size());
  if (ild_n) metrics[prefix + "ild@" + ks] = ild / static_cast<double>(ild_n);
  if (kl_n) metrics[prefix + "calibration_kl@" + ks] = kl / static_cast<double>(kl_n);
}

void put_lists(const Model& model, const std::vector<Case>& cases, const RankingResult& r,
               const BeyondAccuracy* beyond, int k, const std::string& prefix,
               std::map<std::string, double>& metrics) {
  if (r.full.users() == 0) return;
  put_list_metrics(model, cases, r.lists, beyond, k, prefix, metrics);
  if (r.reranked.empty()) return;
  // The re-ranked lists' accuracy, from the K items themselves (no candidate ranks beyond K).
  const std::string ks = std::to_string(k), rp = "rerank_" + prefix;
  double hr = 0, nd = 0, rec = 0, pre = 0, map = 0, diff = 0, diff2 = 0;
  std::size_t n = 0;
  for (std::size_t c = 0; c < r.reranked.size(); ++c) {
    const auto& l = r.reranked[c];
    if (l.empty()) continue;
    const auto& rel = cases[c].relevant;
    hr += hit_rate_at(l, rel, k);
    const double d = ndcg_at(l, rel, k);
    nd += d;
    const double delta = d - ndcg_at(r.lists[c], rel, k);
    diff += delta;
    diff2 += delta * delta;
    rec += recall_at(l, rel, k);
    pre += precision_at(l, rel, k);
    map += map_at(l, rel, k);
    ++n;
  }
  if (n == 0) return;
  const double dn = static_cast<double>(n);
  metrics[rp + "hr@" + ks] = hr / dn;
  metrics[rp + "ndcg@" + ks] = nd / dn;
  // The standard error of the per-user change in ndcg@K (re-ranked minus the model's own list):
  // how much of a measured cost is noise (the lambda choice keeps a margin of one of them).
  if (n > 1) {
    const double var = std::max(0.0, (diff2 - diff * diff / dn) / (dn - 1.0));
    metrics[rp + "ndcg_se@" + ks] = std::sqrt(var / dn);
  }
  metrics[rp + "recall@" + ks] = rec / dn;
  metrics[rp + "precision@" + ks] = pre / dn;
  metrics[rp + "map@" + ks] = map / dn;
  put_list_metrics(model, cases, r.reranked, beyond, k, rp, metrics);
}

// The sampled protocol's metrics under their own names, full ranking's under "full_".
void put_sampled_and_full(const Model& model, const std::vector<Case>& cases,
                          const RankingResult& r, const BeyondAccuracy* beyond, int k,
                          std::map<std::string, double>& metrics) {
  put_ranking(r.sampled, "", metrics);
  put_ranking(r.full, "full_", metrics);
  put_lists(model, cases, r, beyond, k, "full_", metrics);
}

void check_in_model(const Model& model, index_t user, index_t item, const char* what,
                    const std::string& source = "") {
  if (user >= model.n_users() || item >= model.n_items())
    throw Error(std::string(what) + (source.empty() ? "" : " " + source) + ": user " +
                std::to_string(user) + " / item " + std::to_string(item) +
                " is outside the trained model (" + std::to_string(model.n_users()) + " users, " +
                std::to_string(model.n_items()) + " items)");
}

// One case per test user with at least one relevant test item that is a candidate (not among
// the user's training items, which full ranking excludes).
std::vector<Case> cases_from_test(const Model& model, const Interactions& test,
                                  const EvalOptions& options) {
  const auto groups = detail::group_by_user(test);
  const bool thresholded = test.has_ratings && !std::isnan(options.relevance_threshold);
  std::vector<Case> cases;
  for (index_t u = 0; u < test.n_users(); ++u) {
    if (groups.size(u) == 0) continue;
    Case c;
    c.user = u;
    for (const std::uint64_t* r = groups.begin(u); r != groups.end(u); ++r) {
      const auto& row = test.rows[*r];
      check_in_model(model, row.user, row.item, "test set", test.source);
      if (thresholded && !(row.value >= options.relevance_threshold)) continue;
      if (u < model.seen.rows() && model.seen.contains(u, row.item)) continue;
      c.relevant.push_back(row.item);
    }
    std::sort(c.relevant.begin(), c.relevant.end());
    c.relevant.erase(std::unique(c.relevant.begin(), c.relevant.end()), c.relevant.end());
    if (!c.relevant.empty()) cases.push_back(std::move(c));
  }
  return cases;
}

void rating_metrics(const Model& model, const Interactions& test, Backend& backend,
                    std::map<std::string, double>& metrics) {
  if (!model.predicts_ratings() || !test.has_ratings || test.rows.empty()) return;
  for (const auto& r : test.rows) check_in_model(model, r.user, r.item, "test set", test.source);
  // Each prediction lands in its own slot, so the sums below run serially in row order.
  std::vector<float> predicted(test.rows.size()), actual(test.rows.size());
  backend.parallel_for(test.rows.size(), chunk_count(test.rows.size()),
                       [&](std::size_t begin, std::size_t end, int) {
                         for (std::size_t i = begin; i < end; ++i) {
                           predicted[i] = model.predict(test.rows[i].user, test.rows[i].item);
                           actual[i] = test.rows[i].value;
                         }
                       });
  metrics["rmse"] = rmse(predicted, actual);
  metrics["mae"] = mae(predicted, actual);
}

void measure_with_prefix(const Model& model, const Interactions& test, const EvalOptions& options,
                         Backend& backend, const std::string& prefix,
                         std::map<std::string, double>& metrics) {
  if (options.k < 1) throw Error("--k must be at least 1 (got " + std::to_string(options.k) + ")");
  rating_metrics(model, test, backend, metrics);
  if (!options.ranking) return;
  const auto cases = cases_from_test(model, test, options);
  const BeyondAccuracy beyond(model, options);
  const auto r = rank_cases(model, cases, options.k, backend, true, &beyond);
  put_ranking(r.full, prefix, metrics);
  put_lists(model, cases, r, &beyond, options.k, prefix, metrics);
}

void report(const Progress& progress, const char* stage, int done, int total) {
  if (progress) progress(stage, done, total);
}

// Protocols whose test part is each user's last interaction(s): sampled metrics beside the
// full ranking, and an order ("time" or "file") to report.
bool leave_out_protocol(Protocol p) { return p == Protocol::loo || p == Protocol::seq; }

// SASRec's data_partition: fewer than 3 interactions, training only.
constexpr int kSeqMinInteractions = 3;

}  // namespace

int sampled_negatives(const EvalOptions& options) {
  if (options.negatives < 0)
    throw Error("--negatives must be at least 1, or 0 for the protocol's convention (got " +
                std::to_string(options.negatives) + ")");
  if (options.negatives > 0) return options.negatives;
  return options.protocol == Protocol::seq ? 100 : 99;
}

void measure(const Model& model, const Interactions& test, const EvalOptions& options,
             Backend& backend, std::map<std::string, double>& metrics) {
  measure_with_prefix(model, test, options, backend, "", metrics);
}

void measure_sampled(const Model& model, const Interactions& test,
                     const std::vector<std::vector<index_t>>& negatives, const EvalOptions& options,
                     Backend& backend, std::map<std::string, double>& metrics, bool full_ranking) {
  if (options.k < 1) throw Error("--k must be at least 1 (got " + std::to_string(options.k) + ")");
  rating_metrics(model, test, backend, metrics);
  if (!options.ranking) return;
  auto cases = cases_from_test(model, test, options);
  for (auto& c : cases)
    if (c.user < negatives.size()) c.negatives = &negatives[c.user];
  std::optional<BeyondAccuracy> beyond;
  if (full_ranking) beyond.emplace(model, options);
  const auto r = rank_cases(model, cases, options.k, backend, full_ranking,
                            beyond ? &*beyond : nullptr);
  if (full_ranking)
    put_sampled_and_full(model, cases, r, &*beyond, options.k, metrics);
  else
    put_ranking(r.sampled, "", metrics);
}

Split protocol_split(const Interactions& data, const EvalOptions& options, int fold) {
  check_options(options);
  switch (options.protocol) {
    case Protocol::holdout: return random_holdout(data, options.test_fraction, options.seed);
    case Protocol::kfold: return kfold(data, options.folds, fold, options.seed);
    case Protocol::temporal: return temporal_split(data, options.test_fraction);
    case Protocol::loo: return leave_last_out(data);
    case Protocol::seq: return leave_last_out(data, kSeqMinInteractions);
    case Protocol::ncf: break;
  }
  throw Error("the ncf protocol needs its test files (--test-rating, --test-negative)");
}

Split validation_split(const Interactions& train, const EvalOptions& options) {
  const double f = options.validation_fraction;
  Split v;
  switch (options.protocol) {
    case Protocol::holdout:
    case Protocol::kfold:
      if (!(f > 0.0 && f < 1.0))
        throw Error("--validation-fraction must be strictly between 0 and 1 (got " +
                    std::to_string(f) + ")");
      // Its own stream: the validation rows are not a function of the test split's draw.
      v = random_holdout(train, f, mix_seed(options.seed, 0x76616c6964ull /* "valid" */));
      break;
    case Protocol::temporal:
      if (!(f > 0.0 && f < 1.0))
        throw Error("--validation-fraction must be strictly between 0 and 1 (got " +
                    std::to_string(f) + ")");
      v = temporal_split(train, f);
      break;
    case Protocol::loo:
    case Protocol::ncf:
    case Protocol::seq:
      // seq: the training part holds each long user's history up to the validation item, so
      // that item is the user's last training interaction (see eval.hpp).
      v = leave_last_out(train);
      break;
  }
  if (v.test.rows.empty())
    throw Error(std::string(protocol_name(options.protocol)) + ": the validation part of " +
                train.source + " is empty (every user has a single training interaction?)");
  return v;
}

Interactions align_test(const Interactions& train, const Interactions& test, AlignReport* report) {
  Interactions out = train.empty_like();
  out.has_ratings = test.has_ratings;
  out.has_time = test.has_time;
  out.file_order = test.file_order;
  out.source = test.source;
  AlignReport r;
  // Index translation once per id, not once per row.
  std::vector<std::int64_t> user_map(test.n_users()), item_map(test.n_items());
  for (index_t u = 0; u < test.n_users(); ++u) user_map[u] = train.users.find(test.users.id(u));
  for (index_t i = 0; i < test.n_items(); ++i) item_map[i] = train.items.find(test.items.id(i));
  out.rows.reserve(test.rows.size());
  for (const auto& row : test.rows) {
    const std::int64_t u = user_map.at(row.user), i = item_map.at(row.item);
    if (u < 0) {
      ++r.unknown_user_rows;
    } else if (i < 0) {
      ++r.unknown_item_rows;
    } else {
      Interaction x = row;
      x.user = static_cast<index_t>(u);
      x.item = static_cast<index_t>(i);
      out.rows.push_back(x);
    }
  }
  r.kept = out.rows.size();
  if (report) *report = r;
  if (out.rows.empty())
    throw Error("test file " + test.source + ": none of its " + std::to_string(test.rows.size()) +
                " rows has a user and an item known to the training data " + train.source);
  return out;
}

RerankChoice choose_rerank_lambda(const Interactions& train, ModelKind kind, const Hyper& hyper,
                                  const EvalOptions& options, Backend& backend,
                                  std::vector<LambdaTrial>* trials, double* base_ndcg) {
  const RerankKind rk = options.rerank.kind;
  if (rk == RerankKind::none) throw Error("--rerank-lambda auto needs --rerank mmr, calibrated or popularity");
  if (!options.ranking) throw Error("--rerank-lambda auto needs ranking metrics");
  const Split v = validation_split(train, options);
  auto model = detail::fit_for_eval(kind, v.train, hyper, options, backend);
  const std::string ks = std::to_string(options.k);
  const std::string objective = rk == RerankKind::mmr ? "ild@" + ks
                                : rk == RerankKind::calibrated ? "calibration_kl@" + ks : "gini@" + ks;
  const bool maximise = rk == RerankKind::mmr;
  const double neutral = rk == RerankKind::mmr ? 1.0 : 0.0;  // the lambda that changes nothing
  std::vector<int> pools{options.rerank.pool_factor};
  if (options.rerank.auto_pool) pools.assign(std::begin(kAutoPoolFactors), std::end(kAutoPoolFactors));
  std::vector<LambdaTrial> grid;
  double base = 0, best = 0;
  RerankChoice chosen{neutral, options.rerank.pool_factor};
  bool have = false;
  for (const int pool : pools) {
    const std::size_t first = grid.size();
    for (int g = 0; g <= 10; ++g) {
      EvalOptions o = options;
      o.rerank.lambda = g / 10.0;
      o.rerank.pool_factor = pool;
      o.rerank.auto_lambda = o.rerank.auto_pool = false;
      std::map<std::string, double> m;
      measure(*model, v.test, o, backend, m);
      const auto nd = m.find("ndcg@" + ks), rnd = m.find("rerank_ndcg@" + ks), obj = m.find("rerank_" + objective),
                 se = m.find("rerank_ndcg_se@" + ks);
      if (nd == m.end() || rnd == m.end() || obj == m.end())
        throw Error("--rerank-lambda auto: the validation part gives no " + std::string(nd == m.end() || rnd == m.end() ? "ndcg@" + ks : objective) +
                    " (no relevant validation item, or no item vectors / genres)");
      base = nd->second;
      // One standard error below the measured ndcg must still be within the allowed loss: the
      // grid's best-looking points are partly noise (a 10% validation part is small), and
      // choosing at the edge of the allowance overshoots it on new data.
      const double margin = se == m.end() ? 0.0 : se->second;
      LambdaTrial t{o.rerank.lambda, pool, rnd->second, margin, obj->second,
                    rnd->second - margin >= (1.0 - options.rerank.max_ndcg_loss) * base};
      if (t.lambda == neutral) t.eligible = true;
      grid.push_back(t);
    }
    // Visited from the neutral end and replaced only when strictly better, so that ties go to the
    // gentler re-ranking (and the earlier pool).
    for (int i = 0; i <= 10; ++i) {
      const auto& t = grid[first + static_cast<std::size_t>(neutral == 1.0 ? 10 - i : i)];
      if (!t.eligible) continue;
      if (!have || (maximise ? t.objective > best : t.objective < best)) {
        have = true;
        best = t.objective;
        chosen = {t.lambda, t.pool_factor};
      }
    }
  }
  if (trials) *trials = std::move(grid);
  if (base_ndcg) *base_ndcg = base;
  return chosen;
}

EvalResult evaluate_split(const Split& split, ModelKind kind, const Hyper& hyper,
                          const EvalOptions& options_in, Backend& backend, const Progress& progress) {
  EvalOptions options = options_in;
  EvalResult auto_choice;
  if (options.rerank.auto_lambda && options.rerank.kind != RerankKind::none) {
    const auto c = choose_rerank_lambda(split.train, kind, hyper, options, backend, &auto_choice.lambda_trials,
                                        &auto_choice.validation_ndcg);
    options.rerank.lambda = c.lambda;
    options.rerank.pool_factor = c.pool_factor;
    options.rerank.auto_lambda = options.rerank.auto_pool = false;
  }
  if (split.test.rows.empty())
    throw Error(std::string(protocol_name(options.protocol)) + ": the test set of " +
                split.train.source + " is empty");
  EvalResult result;
  if (options_in.rerank.auto_lambda && options.rerank.kind != RerankKind::none) {
    result.rerank_lambdas = {options.rerank.lambda};
    result.rerank_pools = {options.rerank.pool_factor};
    result.lambda_trials = std::move(auto_choice.lambda_trials);
    result.validation_ndcg = auto_choice.validation_ndcg;
  }
  result.train_rows = split.train.size();
  result.test_rows = split.test.size();
  auto model = detail::fit_for_eval(kind, split.train, hyper, options, backend, progress);
  result.fit_seconds = model->info.fit_seconds;
  result.epochs_run = model->info.epochs_run;
  result.best_epoch = model->info.best_epoch;

  const auto start = Clock::now();
  if (!leave_out_protocol(options.protocol)) {
    measure(*model, split.test, options, backend, result.metrics);
  } else {
    result.order = split.train.has_time ? "time" : "file";
    // Sampled metrics rank each held-out item among `negatives` items the user never touched
    // (in train and test together, so a negative is never a hidden positive); the full-ranking
    // ones carry the "full_" prefix as in the NCF protocol.
    std::vector<std::vector<index_t>> negatives(split.test.n_users());
    if (options.ranking) {
      std::vector<index_t> users;
      for (const auto& c : cases_from_test(*model, split.test, options)) users.push_back(c.user);
      Interactions all = split.train;
      all.rows.insert(all.rows.end(), split.test.rows.begin(), split.test.rows.end());
      auto drawn = sample_negatives(all, users, sampled_negatives(options), options.seed);
      for (std::size_t i = 0; i < users.size(); ++i) negatives[users[i]] = std::move(drawn[i]);
    }
    measure_sampled(*model, split.test, negatives, options, backend, result.metrics);
  }
  result.eval_seconds = seconds_since(start);
  report(progress, "evaluate", 1, 1);
  return result;
}

EvalResult evaluate(const Interactions& data, ModelKind kind, const Hyper& hyper,
                    const EvalOptions& options, Backend& backend, const Progress& progress) {
  check_options(options);
  if (options.protocol == Protocol::ncf)
    throw Error("the ncf protocol needs its test files (--test-rating, --test-negative)");
  if (options.protocol != Protocol::kfold)
    return evaluate_split(protocol_split(data, options), kind, hyper, options, backend, progress);

  // Means over folds; a metric a fold could not compute (no relevant test item) is averaged
  // over the folds that have it, and so is its spread.
  EvalResult result;
  result.folds = options.folds;
  for (int f = 0; f < options.folds; ++f) {
    const Split split = kfold(data, options.folds, f, options.seed);
    EvalOptions fold_options = options;
    if (options.rerank.auto_lambda && options.rerank.kind != RerankKind::none) {
      std::vector<LambdaTrial> trials;
      double base = 0;
      const auto c = choose_rerank_lambda(split.train, kind, hyper, options, backend, &trials, &base);
      fold_options.rerank.lambda = c.lambda;
      fold_options.rerank.pool_factor = c.pool_factor;
      fold_options.rerank.auto_lambda = fold_options.rerank.auto_pool = false;
      result.rerank_lambdas.push_back(c.lambda);
      result.rerank_pools.push_back(c.pool_factor);
      if (f == 0) {
        result.lambda_trials = std::move(trials);
        result.validation_ndcg = base;
      }
    }
    auto model = detail::fit_for_eval(kind, split.train, hyper, options, backend, progress);
    result.fit_seconds += model->info.fit_seconds;
    result.epochs_run += model->info.epochs_run;
    if (f == 0) {
      result.best_epoch = model->info.best_epoch;
      result.train_rows = split.train.size();
      result.test_rows = split.test.size();
    }
    const auto start = Clock::now();
    std::map<std::string, double> m;
    measure(*model, split.test, fold_options, backend, m);
    result.eval_seconds += seconds_since(start);
    result.fold_metrics.push_back(std::move(m));
    report(progress, "fold", f + 1, options.folds);
  }
  std::map<std::string, std::pair<double, int>> sums;
  for (const auto& m : result.fold_metrics)
    for (const auto& [key, value] : m) {
      sums[key].first += value;
      sums[key].second += 1;
    }
  for (const auto& [key, s] : sums) result.metrics[key] = s.first / s.second;
  std::map<std::string, double> squares;
  for (const auto& m : result.fold_metrics)
    for (const auto& [key, value] : m) {
      const double d = value - result.metrics[key];
      squares[key] += d * d;
    }
  for (const auto& [key, s] : sums) result.metrics_std[key] = std::sqrt(squares[key] / s.second);
  return result;
}

EvalResult evaluate_ncf(const Interactions& train, const NcfTest& test, ModelKind kind,
                        const Hyper& hyper, const EvalOptions& options, Backend& backend,
                        const Progress& progress) {
  if (options.k < 1) throw Error("--k must be at least 1 (got " + std::to_string(options.k) + ")");
  if (test.users.size() != test.positives.size() || test.users.size() != test.negatives.size())
    throw Error("ncf test set: " + std::to_string(test.users.size()) + " users, " +
                std::to_string(test.positives.size()) + " positives and " +
                std::to_string(test.negatives.size()) + " negative lists do not match");
  if (test.users.empty()) throw Error("ncf test set is empty");
  if (options.rerank.auto_lambda) throw Error("--rerank-lambda auto is not available with --protocol ncf");

  EvalResult result;
  result.train_rows = train.size();
  result.test_rows = test.users.size();
  // A kind that stops early validates as the protocol tests: among as many sampled negatives
  // as the test file lists (unless --val-negatives says otherwise).
  Hyper h = hyper;
  if (!h.val_negatives) h.val_negatives = static_cast<int>(test.negatives.front().size());
  auto model = detail::fit_for_eval(kind, train, h, options, backend, progress);
  result.fit_seconds = model->info.fit_seconds;
  result.epochs_run = model->info.epochs_run;
  result.best_epoch = model->info.best_epoch;

  const auto start = Clock::now();
  // One case per test line. The NCF files give each user one held-out item; a user listed
  // twice is simply ranked twice.
  std::vector<std::vector<index_t>> negatives(test.users.size());
  std::vector<Case> cases(test.users.size());
  for (std::size_t i = 0; i < test.users.size(); ++i) {
    check_in_model(*model, test.users[i], test.positives[i], "ncf test set");
    negatives[i] = test.negatives[i];
    for (index_t j : negatives[i]) check_in_model(*model, test.users[i], j, "ncf negatives");
    std::sort(negatives[i].begin(), negatives[i].end());
    negatives[i].erase(std::unique(negatives[i].begin(), negatives[i].end()), negatives[i].end());
    cases[i].user = test.users[i];
    cases[i].relevant = {test.positives[i]};
    cases[i].negatives = &negatives[i];
  }
  const BeyondAccuracy beyond(*model, options);
  const auto r = rank_cases(*model, cases, options.k, backend, true, &beyond);
  put_sampled_and_full(*model, cases, r, &beyond, options.k, result.metrics);
  result.eval_seconds = seconds_since(start);
  report(progress, "evaluate", 1, 1);
  return result;
}

}  // namespace edgerec
