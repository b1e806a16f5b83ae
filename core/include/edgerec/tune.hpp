// edgerec/tune.hpp — hyper-parameter search scored on a validation part only.
//
// tune() receives a protocol's TRAINING part and nothing else: it carves the validation part
// from it (validation_split in eval.hpp), fits every trial on the rest and scores it on the
// validation part. The test part is therefore never seen during the search by construction;
// callers evaluate the one chosen configuration on the test part afterwards (evaluate_split /
// evaluate_ncf), if at all.
//
// Search: seeded random search. Trial t draws each searched parameter from the kind's space
// (search_space) with its own stream mix_seed(options.seed, t, ...), so trial t's configuration
// does not depend on the budget, and the same seed gives the same trials on every platform.
// Parameters set in `fixed` are not searched. A configuration drawn twice is scored once.
// Determinism of the scores themselves is the trainers' (same seed and thread count, same model).
//
// Objective: options.objective, or by default "rmse" (minimised) for kinds that predict ratings
// on data with ratings, else "ndcg@K" (maximised; K = options.eval.k) of the full ranking of
// the validation items. Any key measure() reports may be named; rmse and mae are minimised,
// every other key maximised. A trial whose fit throws Error (an SGD run that diverges) or whose
// score is NaN is kept with its message and never wins; when no trial has a score, tune()
// throws Error.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "edgerec/eval.hpp"

namespace edgerec {

// One searched hyper-parameter. integer/real: uniform in [lo, hi], or log-uniform when `log`
// (reals are rounded to 3 significant digits, so the printed flags reproduce the trial);
// choice: one of `choices`.
struct SearchParam {
  enum class Type { integer, real, choice };
  std::string flag;  // the CLI flag without dashes: "factors", "lr", "reg", ...
  Type type = Type::real;
  double lo = 0, hi = 0;
  bool log = false;
  std::vector<double> choices;
};

// The documented space of each kind (empty for popularity and mean-baseline: nothing to tune).
std::vector<SearchParam> search_space(ModelKind kind);
// One line per parameter, e.g. "--reg  log-uniform real in [0.01, 0.3]" (for --help and cards).
std::string describe_search_space(ModelKind kind);
// The hyper-parameters `kind` uses, as CLI flags ("--factors 64 --reg 0.05 --seed 0"): `h`
// merged over the kind's defaults, only the fields the kind reads.
std::string hyper_flags(ModelKind kind, const Hyper& h);

struct TuneOptions {
  EvalOptions eval;          // protocol (decides the validation part), k, validation_fraction, seed
  int trials = 20;           // budget: configurations drawn
  std::uint64_t seed = 0;    // search seed (which configurations are drawn)
  std::string objective;     // "" = default (see above)
};

struct Trial {
  Hyper hyper;                            // the configuration (searched + fixed fields)
  double score = 0;                       // the objective on the validation part
  std::map<std::string, double> metrics;  // every validation metric measured
  double fit_seconds = 0;
  std::string error;                      // why the fit failed (e.g. diverged); score is NaN
};

struct TuneResult {
  std::string objective;
  bool minimise = false;
  std::vector<Trial> trials;              // in draw order
  std::size_t best = 0;                   // index into trials (first of equal scores)
  std::uint64_t fit_rows = 0;             // training part minus validation part
  std::uint64_t validation_rows = 0;
  std::string order;                      // loo/ncf/seq validation: "time" or "file"; else ""
};

// Random search of `kind` on the validation part of `train` (a protocol's training part; see
// above). Throws Error on a kind with nothing to tune, trials < 1, an unknown objective or an
// empty validation part. Progress: ("trial", t, trials) after each trial, plus the trainers'.
TuneResult tune(const Interactions& train, ModelKind kind, const Hyper& fixed,
                const TuneOptions& options, Backend& backend, const Progress& progress = {});

}  // namespace edgerec
