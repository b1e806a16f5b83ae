// edgerec/eval.hpp — evaluation protocols: train on one part, measure on the other.
//
// Scores are only ever computed on held-out data the model did not see in training.
// Ranking metrics rank, for each test user, every item the user did not interact with in
// training ("full ranking", relevant = the user's test items); the NCF and leave-last-out
// protocols also report the sampled metric (held-out item among 99 negatives), since the
// literature quotes it, but sampled metrics mislead (Krichene & Rendle 2020), so both appear.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>

#include "edgerec/backend.hpp"
#include "edgerec/data.hpp"
#include "edgerec/model.hpp"

namespace edgerec {

enum class Protocol { holdout, kfold, loo, temporal, ncf };
Protocol parse_protocol(std::string_view name);
const char* protocol_name(Protocol p);

struct EvalOptions {
  Protocol protocol = Protocol::kfold;
  int folds = 5;               // kfold
  double test_fraction = 0.2;  // holdout, temporal
  int k = 10;                  // ranking cut-off
  int negatives = 99;          // loo sampled metric
  std::uint64_t seed = 0;      // split seed (the model's seed is Hyper::seed)
  // Ratings >= this count as relevant in ranking metrics (explicit data); NaN = every test item.
  float relevance_threshold = std::numeric_limits<float>::quiet_NaN();
  bool ranking = true;         // compute ranking metrics (rating metrics need predicts_ratings())
};

struct EvalResult {
  std::map<std::string, double> metrics;  // rmse, mae, hr@10, ndcg@10, full_hr@10, ...
  double fit_seconds = 0;                 // summed over folds
  double eval_seconds = 0;
  int folds = 1;
  std::uint64_t train_rows = 0;           // of the first fold
  std::uint64_t test_rows = 0;
};

// Runs `protocol` on `data`. For Protocol::ncf pass the test set via evaluate_ncf().
EvalResult evaluate(const Interactions& data, ModelKind kind, const Hyper& hyper,
                    const EvalOptions& options, Backend& backend, const Progress& progress = {});

// The NCF protocol on given files: `train` is the training file, `test` its held-out items and
// negatives. Reports hr@K, ndcg@K (sampled: 1 positive + the given negatives) and full_hr@K,
// full_ndcg@K, full_recall@K, ... (against every item the user has not seen in training).
EvalResult evaluate_ncf(const Interactions& train, const NcfTest& test, ModelKind kind,
                        const Hyper& hyper, const EvalOptions& options, Backend& backend,
                        const Progress& progress = {});

// Rating metrics and full-ranking metrics of a trained model on a test set (used by the above).
void measure(const Model& model, const Interactions& test, const EvalOptions& options,
             Backend& backend, std::map<std::string, double>& metrics);

}  // namespace edgerec
