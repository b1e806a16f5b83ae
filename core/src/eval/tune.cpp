// Random search on a validation part. The spaces below are what the model cards and
// `edgerec tune --help` document; a change here changes which configurations a seed draws.
#include "edgerec/tune.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <sstream>

namespace edgerec {
namespace {

using T = SearchParam::Type;

SearchParam integer(const char* flag, double lo, double hi, bool log = false) {
  return {flag, T::integer, lo, hi, log, {}};
}
SearchParam real(const char* flag, double lo, double hi, bool log = true) {
  return {flag, T::real, lo, hi, log, {}};
}
SearchParam choice(const char* flag, std::vector<double> values) {
  return {flag, T::choice, 0, 0, false, std::move(values)};
}

// 3 significant digits: the printed flag is the value the trial used.
double round3(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return std::strtod(buf, nullptr);
}

double draw(const SearchParam& p, Rng& rng) {
  if (p.type == T::choice) return p.choices[rng.below(p.choices.size())];
  const double u = rng.uniform();
  if (p.type == T::integer) {
    if (p.log) {
      // Log-uniform over [lo, hi + 1), floored: each integer gets the mass of its interval.
      const double v = std::floor(std::exp(std::log(p.lo) + u * (std::log(p.hi + 1) - std::log(p.lo))));
      return std::clamp(v, p.lo, p.hi);
    }
    return p.lo + static_cast<double>(rng.below(static_cast<std::uint64_t>(p.hi - p.lo + 1)));
  }
  const double v = p.log ? std::exp(std::log(p.lo) + u * (std::log(p.hi) - std::log(p.lo)))
                         : p.lo + u * (p.hi - p.lo);
  return round3(v);
}

// The Hyper field a flag names (the same names as the CLI's flags).
struct Field {
  std::optional<int>* i = nullptr;
  std::optional<float>* f = nullptr;
};
Field field(Hyper& h, const std::string& flag) {
  if (flag == "factors") return {&h.factors, nullptr};
  if (flag == "epochs") return {&h.epochs, nullptr};
  if (flag == "neighbors") return {&h.neighbors, nullptr};
  if (flag == "cg-steps") return {&h.cg_steps, nullptr};
  if (flag == "batch") return {&h.batch, nullptr};
  if (flag == "max-len") return {&h.max_len, nullptr};
  if (flag == "layers") return {&h.layers, nullptr};
  if (flag == "heads") return {&h.heads, nullptr};
  if (flag == "train-negatives") return {&h.train_negatives, nullptr};
  if (flag == "patience") return {&h.patience, nullptr};
  if (flag == "val-negatives") return {&h.val_negatives, nullptr};
  if (flag == "pretrain") return {&h.pretrain, nullptr};
  if (flag == "dropout") return {nullptr, &h.dropout};
  if (flag == "lr") return {nullptr, &h.lr};
  if (flag == "reg") return {nullptr, &h.reg};
  if (flag == "bias-reg") return {nullptr, &h.bias_reg};
  if (flag == "alpha") return {nullptr, &h.alpha};
  if (flag == "init-std") return {nullptr, &h.init_std};
  throw Error("internal: no hyper-parameter named '" + flag + "'");
}

bool is_set(Field f) { return f.i ? f.i->has_value() : f.f->has_value(); }

const char* const kFlags[] = {"factors",  "epochs",    "lr",       "reg",     "bias-reg",
                              "alpha",    "init-std",  "neighbors", "cg-steps", "batch",
                              "dropout",  "max-len",   "layers",   "heads",   "train-negatives",
                              "patience", "val-negatives", "pretrain"};

bool lower_is_better(const std::string& key) { return key == "rmse" || key == "mae"; }

}  // namespace

std::vector<SearchParam> search_space(ModelKind kind) {
  switch (kind) {
    case ModelKind::baseline:
      return {integer("epochs", 5, 20), real("reg", 0.5, 50), real("bias-reg", 0.5, 50)};
    case ModelKind::svd:
      return {choice("factors", {20, 50, 100, 150, 200}), integer("epochs", 10, 40),
              real("lr", 0.002, 0.05), real("reg", 0.005, 0.3), real("bias-reg", 0.002, 0.2),
              real("init-std", 0.01, 0.2)};
    case ModelKind::svdpp:
      return {choice("factors", {10, 20, 50, 100}), integer("epochs", 10, 40),
              real("lr", 0.002, 0.03), real("reg", 0.01, 0.3), real("bias-reg", 0.002, 0.2)};
    case ModelKind::ials:
      return {choice("factors", {32, 64, 128, 192}), integer("epochs", 5, 20), real("reg", 1, 500),
              real("alpha", 0.5, 30), choice("cg-steps", {2, 3, 4})};
    case ModelKind::bpr:
      return {choice("factors", {32, 64, 128}), integer("epochs", 20, 80), real("lr", 0.01, 0.3),
              real("reg", 0.0001, 0.05)};
    case ModelKind::itemknn:
      return {integer("neighbors", 2, 500, true)};
    case ModelKind::neumf:
      // epochs stays at the default maximum: training stops early on the validation part.
      return {choice("factors", {8, 16, 32}), choice("layers", {1, 2, 3}), real("lr", 0.001, 0.02),
              choice("batch", {1024, 2048, 4096}), choice("train-negatives", {2, 4, 8}),
              real("reg", 1e-6, 1e-2)};
    case ModelKind::sasrec:
      return {choice("factors", {32, 50, 64}), real("lr", 0.0003, 0.003), real("dropout", 0.1, 0.6, false),
              choice("heads", {1, 2}), choice("train-negatives", {128, 256, 512})};
    case ModelKind::gru4rec:
    case ModelKind::lstm:
      return {choice("factors", {32, 64, 100}), real("lr", 0.0003, 0.005), real("dropout", 0.0, 0.5, false),
              choice("layers", {1, 2}), choice("train-negatives", {128, 256, 512})};
    default:
      return {};
  }
}

std::string describe_search_space(ModelKind kind) {
  std::ostringstream o;
  for (const auto& p : search_space(kind)) {
    o << "--" << p.flag << "  ";
    if (p.type == T::choice) {
      o << "one of {";
      for (std::size_t i = 0; i < p.choices.size(); ++i) o << (i ? ", " : "") << p.choices[i];
      o << "}";
    } else {
      o << (p.log ? "log-uniform " : "uniform ") << (p.type == T::integer ? "integer" : "real")
        << " in [" << p.lo << ", " << p.hi << "]";
    }
    o << "\n";
  }
  return o.str();
}

std::string hyper_flags(ModelKind kind, const Hyper& h) {
  const Hyper d = default_hyper(kind);
  Hyper m = h.merged_over(d);
  Hyper dd = d;
  Hyper hh = h;
  std::ostringstream o;
  for (const char* flag : kFlags) {
    // Fields the kind reads are the ones its defaults set; a field only `h` sets is printed too.
    if (!is_set(field(dd, flag)) && !is_set(field(hh, flag))) continue;
    const Field f = field(m, flag);
    o << (o.tellp() > 0 ? " " : "") << "--" << flag << " ";
    if (f.i) {
      o << **f.i;
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.7g", static_cast<double>(**f.f));
      o << buf;
    }
  }
  o << (o.tellp() > 0 ? " " : "") << "--seed " << h.seed;
  return o.str();
}

TuneResult tune(const Interactions& train, ModelKind kind, const Hyper& fixed,
                const TuneOptions& options, Backend& backend, const Progress& progress) {
  const auto space = search_space(kind);
  if (space.empty())
    throw Error(std::string("model kind ") + kind_name(kind) + " has no hyper-parameters to tune");
  if (options.trials < 1)
    throw Error("--trials must be at least 1 (got " + std::to_string(options.trials) + ")");
  if (options.eval.k < 1) throw Error("--k must be at least 1 (got " + std::to_string(options.eval.k) + ")");

  TuneResult result;
  const bool rating = make_model(kind)->predicts_ratings() && train.has_ratings;
  result.objective = !options.objective.empty() ? options.objective
                     : rating                   ? "rmse"
                                                : "ndcg@" + std::to_string(options.eval.k);
  result.minimise = lower_is_better(result.objective);
  const bool rating_objective = result.objective == "rmse" || result.objective == "mae";
  if (rating_objective && !rating)
    throw Error("objective " + result.objective + " needs a model kind that predicts ratings (" +
                std::string(kind_name(kind)) + " does not) and data with ratings");

  const Split v = validation_split(train, options.eval);
  result.fit_rows = v.train.size();
  result.validation_rows = v.test.size();
  if (options.eval.protocol == Protocol::loo || options.eval.protocol == Protocol::ncf ||
      options.eval.protocol == Protocol::seq)
    result.order = train.has_time ? "time" : "file";

  // Only what the objective needs: the ranking pass costs more than a rating model's fit.
  EvalOptions measure_options = options.eval;
  measure_options.ranking = !rating_objective;

  std::map<std::string, std::size_t> seen;  // flags -> first trial with that configuration
  for (int t = 0; t < options.trials; ++t) {
    Hyper h = fixed;
    Rng rng(mix_seed(options.seed, static_cast<std::uint64_t>(t), 0x74756e65ull /* "tune" */));
    for (const auto& p : space) {
      Field f = field(h, p.flag);
      // Draw even for a fixed field, so fixing one parameter leaves the others' draws alone.
      const double value = draw(p, rng);
      if (is_set(f)) continue;
      if (f.i) *f.i = static_cast<int>(value);
      else *f.f = static_cast<float>(value);
    }
    Trial trial;
    trial.hyper = h;
    const std::string key = hyper_flags(kind, h);
    if (auto it = seen.find(key); it != seen.end()) {
      trial.score = result.trials[it->second].score;
      trial.metrics = result.trials[it->second].metrics;
      trial.error = result.trials[it->second].error;
    } else {
      seen.emplace(key, result.trials.size());
      auto model = make_model(kind);
      try {
        model->fit(v.train, h, backend, progress);
      } catch (const Error& e) {
        // A configuration that diverges (an SGD learning rate too large for its epochs) is a
        // failed trial, not a failed search: it is recorded and never wins.
        trial.error = e.what();
        trial.score = std::numeric_limits<double>::quiet_NaN();
        result.trials.push_back(std::move(trial));
        if (progress) progress("trial", t + 1, options.trials);
        continue;
      }
      trial.fit_seconds = model->info.fit_seconds;
      measure(*model, v.test, measure_options, backend, trial.metrics);
      const auto m = trial.metrics.find(result.objective);
      if (m == trial.metrics.end()) {
        std::string keys;
        for (const auto& [k, _] : trial.metrics) keys += (keys.empty() ? "" : ", ") + k;
        throw Error("objective '" + result.objective + "' is not among the validation metrics (" +
                    keys + ")");
      }
      trial.score = m->second;
    }
    result.trials.push_back(std::move(trial));
    const auto& best = result.trials[result.best];
    const auto& cur = result.trials.back();
    const bool better = !std::isnan(cur.score) &&
                        (std::isnan(best.score) ||
                         (result.minimise ? cur.score < best.score : cur.score > best.score));
    if (better) result.best = result.trials.size() - 1;
    if (progress) progress("trial", t + 1, options.trials);
  }
  if (std::isnan(result.trials[result.best].score)) {
    const auto& failed = result.trials.front();
    throw Error("tune: no trial gave a validation score" +
                (failed.error.empty() ? std::string() : " (trial 1: " + failed.error + ")"));
  }
  return result;
}

}  // namespace edgerec
