// edgerec/eval.hpp — evaluation protocols: train on one part, measure on the other.
//
// Scores are only ever computed on held-out data the model did not see in training.
// Ranking metrics rank, for each test user, every item the user did not interact with in
// training ("full ranking", relevant = the user's test items); the NCF, leave-last-out and
// sequential protocols also report the sampled metric (held-out item among 99 or 100
// negatives), since the literature quotes it, but sampled metrics mislead (Krichene & Rendle
// 2020), so both appear.
//
// Details every protocol shares:
// - Candidates of the full ranking: every item except the user's training items. Relevant:
//   the user's test items (with rating >= relevance_threshold when set and the test set has
//   ratings), minus any that are also training items (they cannot be ranked). Only users with
//   at least one relevant item count; each user weighs the same in the means.
// - Ties: conservative (see rank_relevant in metrics.hpp): a relevant item ranks below every
//   candidate with a score >= its own, so a constant or coarse model gains nothing from ties.
// - Keys: rmse, mae (models that predict ratings, on test sets with ratings; predictions are
//   clipped to the training rating range by Model::predict); hr@K ndcg@K recall@K precision@K
//   map@K mrr auc; coverage@K and gini@K of the users' top-K lists (popularity Gini, see
//   metrics.hpp). For loo, seq and ncf the full-ranking keys carry the prefix "full_" and the
//   unprefixed ranking keys are the sampled ones.
//
// The sequential protocol (Protocol::seq), as SASRec (Kang & McAuley 2018) and S3-Rec (Zhou et
// al. 2020) evaluate on their files: each user's interactions in time order (file order for the
// papers' files, which have no timestamps: Interactions::file_order); a user with at least 3
// has the last as the test item, the one before it as the validation item and the rest as
// training; a user with fewer is training only (SASRec's data_partition). For a sequence model
// the test input history includes the validation item; for the models here that means:
// - evaluate() fits on everything but the test items (so the validation items and the short
//   users' interactions are training data) and ranks each user's test item;
// - tune() fits each trial on everything but the test and validation items and ranks the
//   validation items (validation_split of that training part: each user's last training
//   interaction). One difference from SASRec there: a user with exactly 2 interactions gives
//   one to validation, since tune sees the training part only and cannot tell such a user from
//   one with 3 whose test item went; data filtered to 5-core (Beauty) has none.
// - Metrics: full ranking, the primary figures, as "full_hr@K", "full_ndcg@K", ... (candidates:
//   every item but the user's training items, so at test time the validation item is not a
//   candidate); sampled, "hr@K", "ndcg@K", ...: the held-out item among `negatives` items (100,
//   as SASRec and S3-Rec) drawn uniformly, seeded by EvalOptions::seed, from the items the user
//   never interacted with anywhere in the data (training, validation and test).
// - A held-out item that is also one of the user's training items (a repeat kept by
//   DuplicatePolicy::keep; the default policy merges repeats) cannot be ranked among unseen
//   items, so that user does not count (the rule above for every protocol).
// - Determinism: users are split into a number of chunks that depends only on the number of
//   users; per-chunk sums are merged in chunk order, so results are bit-identical for any
//   thread count (given a model that is).
// - Parallelism: Backend::parallel_for over users; Model::score must be thread-safe (it is
//   const). Cost: one Model::score per test user plus O(n_items) to rank and take the top-K.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "edgerec/backend.hpp"
#include "edgerec/data.hpp"
#include "edgerec/item_meta.hpp"
#include "edgerec/model.hpp"
#include "edgerec/rerank.hpp"
#include "edgerec/split.hpp"

namespace edgerec {

enum class Protocol { holdout, kfold, loo, temporal, ncf, seq };
Protocol parse_protocol(std::string_view name);
const char* protocol_name(Protocol p);

struct EvalOptions {
  Protocol protocol = Protocol::kfold;
  int folds = 5;               // kfold
  double test_fraction = 0.2;  // holdout, temporal
  int k = 10;                  // ranking cut-off
  // Sampled negatives per held-out item (loo, seq); 0 = the protocol's convention: 99 for loo
  // (NCF), 100 for seq (SASRec, S3-Rec). See sampled_negatives().
  int negatives = 0;
  std::uint64_t seed = 0;      // split seed (the model's seed is Hyper::seed)
  // Ratings >= this count as relevant in ranking metrics (explicit data); NaN = every test item.
  float relevance_threshold = std::numeric_limits<float>::quiet_NaN();
  bool ranking = true;         // compute ranking metrics (rating metrics need predicts_ratings())
  // Share of a rating protocol's training part held out as its validation part (see
  // validation_split); tune scores its trials there.
  double validation_fraction = 0.1;
  // Beyond-accuracy metrics (edgerec/rerank.hpp), with every full ranking's top-K lists:
  // "ild@K" (intra-list diversity, over the model's item factors, else over the content
  // features of item_meta; absent when neither), "novelty@K", and "calibration_kl@K" when
  // item_meta has a categorical field "genres". item_meta is in file order (load_item_meta);
  // each fitted model aligns it to its items.
  std::shared_ptr<const ItemMeta> item_meta;
  // User features (load_user_meta, file order), for the kinds that read them (two-tower): each
  // fitted model gets them aligned to its training users (align_user_meta) before fit(), under
  // every protocol of this header; a kind that does not read them refuses them (Model::fit).
  std::shared_ptr<const UserMeta> user_meta;
  // With rerank.kind != none, each user's top pool_factor * K candidates are also re-ranked to
  // K and the re-ranked lists' metrics are reported beside the model's under the prefix
  // "rerank_" (before any protocol prefix: "rerank_ndcg@10", "rerank_full_ndcg@10"): hr, ndcg,
  // recall, precision, map at K (from the list itself), coverage, gini, ild, novelty,
  // calibration_kl. mmr needs item vectors (factors or content), calibrated a "genres" field;
  // evaluation throws Error otherwise. With rerank.auto_lambda, each split's lambda is chosen
  // on the validation part of its training part (validation_split: a model fitted on the rest
  // of the training part, the grid and criterion at RerankOptions::auto_lambda) before the test
  // part is measured with it; the test part plays no role in the choice. Not for evaluate_ncf.
  RerankOptions rerank;
  // Item cold start (evaluate_cold_items): the share of the items, in (0, 1), whose interactions
  // are all held out; 0 = not this evaluation. With cold_validation the measured items are a
  // second such share drawn from the items left after the test items are removed (and the test
  // items' interactions are not used at all): the validation part hyper-parameters are chosen on.
  double cold_items = 0;
  bool cold_validation = false;
};

// One grid point of the automatic lambda choice, measured on the validation part.
struct LambdaTrial {
  double lambda = 0;
  int pool_factor = 0;   // the candidate pool (x K) it re-ranked
  double ndcg = 0;       // rerank_ndcg@K on the validation part
  double ndcg_se = 0;    // the standard error of its per-user change (rerank_ndcg_se@K)
  double objective = 0;  // the kind's objective there (ild@K, calibration_kl@K or gini@K)
  bool eligible = false; // ndcg - ndcg_se within the allowed loss of the model's own
};

struct EvalResult {
  std::map<std::string, double> metrics;  // rmse, mae, hr@10, ndcg@10, full_hr@10, ...
  // kfold: each fold's metrics (in fold order) and, per key, the population standard deviation
  // over the folds that have it (numpy's default, what Surprise prints beside its means).
  // Empty for the single-split protocols.
  std::vector<std::map<std::string, double>> fold_metrics;
  std::map<std::string, double> metrics_std;
  // loo, seq: how "last" was decided: "time" (timestamps) or "file" (file order: the data has
  // none).
  // Empty for the other protocols.
  std::string order;
  double fit_seconds = 0;                 // summed over folds
  // Epochs trained (TrainInfo::epochs_run; summed over folds) and, for models that stop early
  // on their validation part, the kept epoch of the first fold (0 otherwise).
  int epochs_run = 0;
  int best_epoch = 0;
  double eval_seconds = 0;
  int folds = 1;
  std::uint64_t train_rows = 0;           // of the first fold
  std::uint64_t test_rows = 0;
  // rerank.auto_lambda: the lambda chosen for each split (fold order), the model's own ndcg@K
  // on the first split's validation part and that split's grid.
  std::vector<double> rerank_lambdas;
  std::vector<int> rerank_pools;          // and the pool factor (rerank.auto_pool, else the given one)
  double validation_ndcg = 0;
  std::vector<LambdaTrial> lambda_trials;
};

// The automatic lambda choice (RerankOptions::auto_lambda, and the pool's with auto_pool) for
// one protocol split: fits `kind` on validation_split(split.train).train and measures each grid
// point on its test part. Returns the chosen lambda and pool factor; *trials and *base_ndcg (if
// non-null) receive the grid (pool-major, lambda ascending) and the model's own validation ndcg@K.
struct RerankChoice {
  double lambda = 0;
  int pool_factor = 0;
};
RerankChoice choose_rerank_lambda(const Interactions& train, ModelKind kind, const Hyper& hyper,
                                  const EvalOptions& options, Backend& backend,
                                  std::vector<LambdaTrial>* trials = nullptr, double* base_ndcg = nullptr);

// Runs `protocol` on `data`. kfold: fits one model per fold; metrics are the means over folds
// (fold_metrics and metrics_std give each fold and the spread), fit_seconds and eval_seconds
// the sums. Every trainer fits on the training part it is given; the neural kinds, which stop
// early, carve their validation part from it themselves (each user's last training interaction,
// see edgerec/nn/train.hpp), never from the test part. loo: leave_last_out(); seq: leave_last_out(data, 3) (see
// above); for both, sampled metrics rank the held-out item among sampled_negatives() items the
// user never interacted with in `data` (sample_negatives with options.seed). Protocol::ncf throws Error: use evaluate_ncf().
// Progress: forwarded to Model::fit, plus ("fold", f, folds) after each fold and
// ("evaluate", 1, 1) at the end, always from the calling thread.
EvalResult evaluate(const Interactions& data, ModelKind kind, const Hyper& hyper,
                    const EvalOptions& options, Backend& backend, const Progress& progress = {});

// Item cold start: a seeded options.cold_items share of the items that have interactions (drawn
// with options.seed) are the cold items; ALL their interactions are held out. The model trains on
// the rest in an index space without them (it does not know their ids), with options.item_meta
// aligned to its items set as Model::item_meta before fit(), so the cold items are the
// metadata's cold rows (a kind that embeds items from metadata, two-tower, reads it). Then every
// user with a held-out interaction (and known to the model) ranks the cold items only: positives
// are the user's held-out cold items, negatives the other cold items. Keys (K = options.k):
//   cold_auc     per user AUC of the positives against the negatives, ties counting one half
//                (so a model that cannot tell cold items apart, every id-only kind, gets exactly
//                0.5), averaged over users;
//   cold_hr@K, cold_ndcg@K, cold_recall@K   the ranking among the cold items, ties conservative
//                (metrics.hpp: an id-only model's constant scores rank every positive last);
//   cold_items, cold_users, cold_users_unknown (users whose every interaction was held out),
//   cold_items_scored (cold items the model gave a vector: 0 for id-only kinds).
// With options.cold_validation the test items are removed and a second share of the remaining
// items is measured instead, under "val_cold_auc", "val_cold_hr@K", ...: choose hyper-parameters
// there, never on the test items. Deterministic for a deterministic model. Throws Error for a
// fraction outside (0, 1) or when no user has a cold item to rank.
EvalResult evaluate_cold_items(const Interactions& data, ModelKind kind, const Hyper& hyper,
                               const EvalOptions& options, Backend& backend, const Progress& progress = {});

// The number of sampled negatives `options` asks for: options.negatives, or when that is 0 the
// protocol's convention (seq: 100, else 99).
int sampled_negatives(const EvalOptions& options);

// The NCF protocol on given files: `train` is the training file, `test` its held-out items and
// negatives. Reports hr@K, ndcg@K (sampled: 1 positive + the given negatives) and full_hr@K,
// full_ndcg@K, full_recall@K, ... (against every item the user has not seen in training).
// A negative equal to the held-out item (the ML-1M files have a few) is dropped, as the
// original NCF evaluation code does. Throws Error on indices outside the trained model or on
// mismatched test arrays.
EvalResult evaluate_ncf(const Interactions& train, const NcfTest& test, ModelKind kind,
                        const Hyper& hyper, const EvalOptions& options, Backend& backend,
                        const Progress& progress = {});

// The train/test split `options.protocol` makes of `data` (kfold: fold `fold`). Protocol::ncf
// throws Error (its test part is a file). Pure function of (data, options, fold).
Split protocol_split(const Interactions& data, const EvalOptions& options, int fold = 0);

// The validation part carved from a protocol's TRAINING part `train` (never from its test
// part, which callers must not pass): split.train is what a trial fits on, split.test what it is
// scored on. holdout, kfold: a seeded random `options.validation_fraction` of the rows (seed
// mixed from options.seed, so it differs from the test split's draw); temporal: the latest
// `validation_fraction` of `train` by time; loo, ncf, seq: each user's last training
// interaction (by time, or by file order when the data has no timestamps; users with one
// interaction keep it for training). Throws Error when the validation part would be empty.
Split validation_split(const Interactions& train, const EvalOptions& options);

// Fits `kind` on split.train and measures on split.test as `options.protocol` does: loo and seq
// add the sampled metrics (negatives: items in neither the user's train nor test rows) under the
// unprefixed names and the full-ranking ones under "full_"; every other protocol reports
// measure()'s keys.
// Used for the protocols' own splits and for a user-given test file (same id space: see
// align_test). kfold and ncf are treated like holdout here.
EvalResult evaluate_split(const Split& split, ModelKind kind, const Hyper& hyper,
                          const EvalOptions& options, Backend& backend,
                          const Progress& progress = {});

// What align_test did with a separately loaded test file.
struct AlignReport {
  std::uint64_t kept = 0;
  std::uint64_t unknown_user_rows = 0;  // dropped: the user is not in the training data
  std::uint64_t unknown_item_rows = 0;  // dropped: the item is not (user known)
};
// `test` (loaded on its own) re-expressed in `train`'s index space: rows whose user or item id
// the training data lacks cannot be scored by a model trained on it, so they are dropped and
// counted in `report`. The result shares train's id maps; has_ratings, has_time, file_order and
// source are the test file's. Throws Error when no row is left.
Interactions align_test(const Interactions& train, const Interactions& test,
                        AlignReport* report = nullptr);

// Rating metrics and full-ranking metrics of a trained model on a test set (used by the above).
// `test` must share the model's index space (a split of the data the model was trained on).
void measure(const Model& model, const Interactions& test, const EvalOptions& options,
             Backend& backend, std::map<std::string, double>& metrics);

// measure()'s ranking with the sampled metrics beside it, as the loo, seq and ncf protocols
// report them: every user of `test` with a relevant candidate item also ranks those items among
// negatives[user] (indexed by user; an empty list ranks against nothing), under the unprefixed
// names (hr@K, ndcg@K, ...); the full-ranking metrics carry the prefix "full_". Rating metrics
// (rmse, mae) are added where the model predicts ratings and the test part has them. With
// full_ranking = false only the sampled metrics are made, scoring just each user's candidates
// (Model::score_items: what a neural kind's per-epoch validation can afford).
void measure_sampled(const Model& model, const Interactions& test,
                     const std::vector<std::vector<index_t>>& negatives, const EvalOptions& options,
                     Backend& backend, std::map<std::string, double>& metrics,
                     bool full_ranking = true);

}  // namespace edgerec
