// edgerec — the native command line: generate, train, eval, tune, recommend, similar, explain,
// info, strip, export-onnx, simulate.
//
// Every subcommand and flag is declared once in the tables below (CLI11 turns them into --help,
// validation and defaults). Errors from the core arrive as edgerec::Error and leave as one line
// on stderr with exit status 1; usage errors (CLI11's parse errors, bad flag values) leave as one
// line "edgerec: error: ..." with exit status 2.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "edgerec/edgerec.hpp"
#include "edgerec/nn/train.hpp"
#include "edgerec/onnx_export.hpp"
#include "edgerec/cuda_backend.hpp"
#include "edgerec/openmp_backend.hpp"
#include "edgerec/session_rl.hpp"
#include "args.hpp"

namespace er = edgerec;
using nlohmann::json;
// Ids are bytes from the user's files and need not be UTF-8; JSON output replaces invalid
// sequences with U+FFFD instead of throwing.
constexpr auto kInvalidUtf8 = json::error_handler_t::replace;
using er::cli::parse_interactions;
using er::cli::split_list;

namespace {

// --seed and --split-seed: checked and rewritten as plain decimal before CLI11 converts them
// (a transform, not a check: only a transform may rewrite, and "010" must then read as 10).
CLI::Validator seed_validator() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        try {
          s = std::to_string(er::cli::parse_seed(s));
          return {};
        } catch (const er::Error& e) {
          return e.what();
        }
      },
      "UINT64", "seed");
}

// ---- progress bar (stderr, only when it is a terminal) ----------------------------------------

// The step bar goes to stderr on a terminal only. Each epoch of a model that validates per epoch
// prints one line on stderr (unless quiet) and, with a curve file, appends one JSON line to it
// (`run` counts the fits of the command: eval fits once per fold; `stage` names a fit's stage
// where it has several, and epoch 0 is a stage's starting point, with a null loss).
er::Progress make_progress(bool quiet, const std::string& curve_path = {}) {
  const bool tty = !quiet && isatty(fileno(stderr));
  er::Progress::StepFn step;
  if (tty)
    step = [](const char* stage, int done, int total) {
      const int width = 30;
      const int filled = total > 0 ? done * width / total : width;
      std::fprintf(stderr, "\r%-10s [%s%s] %d/%d", stage, std::string(filled, '#').c_str(),
                   std::string(width - filled, '.').c_str(), done, total);
      if (done >= total) std::fprintf(stderr, "\n");
      std::fflush(stderr);
    };
  std::shared_ptr<std::ofstream> curve;
  if (!curve_path.empty()) {
    curve = std::make_shared<std::ofstream>(curve_path, std::ios::trunc);
    if (!*curve) throw er::Error("--curve: cannot write " + curve_path + ": " + std::strerror(errno));
  }
  if (quiet && !curve) return er::Progress(step);
  // A fit's records come in stages (neumf: gmf, mlp, neumf), each counting its epochs from 1 (or
  // 0); a record that goes back in its stage, or returns to a stage already seen, starts a fit.
  struct Runs {
    int run = 0;
    std::set<std::string> stages;
    std::string stage;
    int epoch = 0;
  };
  auto runs = std::make_shared<Runs>();
  er::Progress::EpochFn epoch = [quiet, tty, curve, runs, curve_path](const er::EpochRecord& r) {
    Runs& rs = *runs;
    if (rs.run == 0 || (rs.stages.count(r.stage) && (r.stage != rs.stage || r.epoch <= rs.epoch))) {
      ++rs.run;
      rs.stages.clear();
    }
    rs.stages.insert(r.stage);
    rs.stage = r.stage;
    rs.epoch = r.epoch;
    const int* run = &rs.run;
    if (!quiet) {
      if (tty) std::fprintf(stderr, "\r\033[K");
      if (r.epoch == 0)  // the start of a stage that begins from trained parameters
        std::fprintf(stderr, "%s%sstart %*s  %s %.4f%s\n", r.stage.c_str(), r.stage.empty() ? "" : " ",
                     static_cast<int>(2 * std::to_string(r.epochs).size() + 1), "", r.metric.c_str(), r.value,
                     r.best ? " *" : "  ");
      else if (r.metric.empty())  // an epoch with nothing to validate on (neumf's refit)
        std::fprintf(stderr, "%s%sepoch %*d/%d  loss %.5f  lr %.3g  %.1f s\n", r.stage.c_str(),
                     r.stage.empty() ? "" : " ", static_cast<int>(std::to_string(r.epochs).size()), r.epoch,
                     r.epochs, r.loss, r.lr, r.seconds);
      else
        std::fprintf(stderr, "%s%sepoch %*d/%d  loss %.5f  %s %.4f%s  lr %.3g  %.1f s\n", r.stage.c_str(),
                     r.stage.empty() ? "" : " ", static_cast<int>(std::to_string(r.epochs).size()), r.epoch,
                     r.epochs, r.loss, r.metric.c_str(), r.value, r.best ? " *" : "  ", r.lr, r.seconds);
      std::fflush(stderr);
    }
    if (curve) {
      json j{{"run", *run}, {"epoch", r.epoch}, {"metric", r.metric},
             {"lr", r.lr}, {"best", r.best}, {"seconds", r.seconds}};
      j["loss"] = std::isfinite(r.loss) ? json(r.loss) : json(nullptr);
      j["value"] = std::isfinite(r.value) ? json(r.value) : json(nullptr);
      if (!r.stage.empty()) j["stage"] = r.stage;
      *curve << j.dump() << "\n";
      curve->flush();
      if (!*curve) throw er::Error("--curve: writing " + curve_path + " failed");
    }
  };
  return er::Progress(step, epoch);
}

// ---- shared flag groups -------------------------------------------------------------------------

struct DataFlags {
  std::string path;
  std::string format = "auto";
  std::string delimiter;
  bool header = false;
  int user_col = 0, item_col = 1, rating_col = 2, time_col = 3;
  bool strict = false;
  std::optional<float> min_rating, max_rating, implicit_threshold;
  std::string duplicates = "last";
  int kcore = 0;

  void add(CLI::App* app, bool required) {
    auto* d = app->add_option("--data", path,
                              "Interactions file (MovieLens u.data / ratings.dat / ratings.csv, "
                              "CSV/TSV, NCF *.train.pairs.tsv|*.train.rating, the papers' "
                              "sequence files), or 'synthetic' for the embedded synthetic catalogue");
    if (required) d->required();
    app->add_option("--format", format,
                    "auto, ml100k, ml1m, ml-latest, csv, ncf, seq-pairs ('user item' per line in "
                    "time order: SASRec, BERT4Rec), seq-lines ('user item1 item2 ...' per user, "
                    "oldest first: S3-Rec); files without timestamps keep their line order as "
                    "time. auto: by name, then by content (integer-only lines: 2 fields with each "
                    "user's lines adjacent = seq-pairs; one distinct user per line with varying "
                    "lengths or > 4 fields = seq-lines), else csv")
        ->capture_default_str();
    app->add_option("--delimiter", delimiter, "csv: field delimiter (default: sniffed; 'tab' for \\t)");
    app->add_flag("--header", header, "csv: the first line is a header");
    app->add_option("--user-col", user_col, "csv: 0-based user column")->capture_default_str();
    app->add_option("--item-col", item_col, "csv: 0-based item column")->capture_default_str();
    app->add_option("--rating-col", rating_col, "csv: rating column, -1 for none (implicit)")->capture_default_str();
    app->add_option("--time-col", time_col, "csv: timestamp column, -1 for none")->capture_default_str();
    app->add_flag("--strict", strict, "fail on the first bad row (default: skip and report)");
    app->add_option("--min-rating", min_rating, "reject ratings below this");
    app->add_option("--max-rating", max_rating, "reject ratings above this");
    app->add_option("--duplicates", duplicates, "duplicate (user,item) policy: last, first, mean, max, sum, keep")->capture_default_str();
    app->add_option("--implicit-threshold", implicit_threshold,
                    "keep ratings >= this as implicit interactions (value 1)");
    app->add_option("--kcore", kcore, "keep only users and items with at least this many interactions")->capture_default_str();
  }

  er::Interactions load(er::LoadReport* report) const {
    if (path == "synthetic") return er::generate_synthetic({}).data;
    er::LoadOptions o;
    o.format = er::parse_format(format);
    if (delimiter == "tab" || delimiter == "\\t") o.delimiter = '\t';
    else if (delimiter.size() == 1) o.delimiter = delimiter[0];
    else if (!delimiter.empty()) throw er::Error("--delimiter must be one character or 'tab'");
    o.header = header;
    o.user_col = user_col;
    o.item_col = item_col;
    o.rating_col = rating_col;
    o.time_col = time_col;
    o.strict = strict;
    if (min_rating) o.min_rating = *min_rating;
    if (max_rating) o.max_rating = *max_rating;
    if (implicit_threshold) o.implicit_threshold = *implicit_threshold;
    o.duplicates = er::parse_duplicate_policy(duplicates);
    o.kcore = kcore;
    return er::load_interactions(path, o, report);
  }
};

struct ModelFlags {
  std::string kind = "ials";
  er::Hyper hyper;
  int threads = 0;
  std::string backend = "auto";

  void add(CLI::App* app) {
    // The list comes from the kind table, so a new kind cannot be missing from the help.
    std::string kinds;
    for (const auto k : er::all_kinds()) kinds += (kinds.empty() ? "" : ", ") + std::string(er::kind_name(k));
    app->add_option("--model", kind, "Model kind: " + kinds)->capture_default_str();
    app->add_option("--factors", hyper.factors, "latent factors (default per model)");
    app->add_option("--epochs", hyper.epochs, "epochs / ALS iterations");
    app->add_option("--lr", hyper.lr, "SGD learning rate");
    app->add_option("--reg", hyper.reg, "L2 regularisation (baseline: of the user biases)");
    app->add_option("--bias-reg", hyper.bias_reg, "L2 regularisation of biases (baseline: of the item biases)");
    app->add_option("--alpha", hyper.alpha, "implicit confidence scale (c = 1 + alpha r)");
    app->add_option("--init-std", hyper.init_std, "std-dev of the initial factors");
    app->add_option("--neighbors", hyper.neighbors, "itemknn: neighbours kept per item");
    app->add_option("--cg-steps", hyper.cg_steps, "ials: conjugate-gradient steps per solve");
    app->add_option("--batch", hyper.batch, "neural kinds: examples per mini-batch");
    app->add_option("--dropout", hyper.dropout, "neural kinds: dropout probability in [0, 1)");
    app->add_option("--max-len", hyper.max_len, "sequence kinds: most recent items of a history read");
    app->add_option("--layers", hyper.layers, "neural kinds: recurrent / attention blocks (neumf: MLP layers)");
    app->add_option("--heads", hyper.heads, "sasrec: attention heads");
    app->add_option("--train-negatives", hyper.train_negatives,
                    "neural kinds: sampled negatives per positive in training");
    app->add_option("--patience", hyper.patience,
                    "neural kinds: stop after this many epochs without a better validation score "
                    "(0 = run every epoch; --epochs is the maximum)");
    app->add_option("--val-negatives", hyper.val_negatives,
                    "neural kinds: score the validation part among N sampled negatives (0 = full "
                    "ranking; the ncf protocol's default is its test file's count)");
    app->add_option("--pretrain", hyper.pretrain,
                    "neumf: most epochs of each pre-training stage (GMF, MLP; 0 = none)");
    app->add_option("--refit", hyper.refit,
                    "neumf: 1 = after early stopping, train again on the whole training part "
                    "(validation part included) for the epochs validation chose (the default); 0 = "
                    "keep the early-stopped model");
    app->add_option("--lr-schedule", hyper.lr_schedule,
                    "sasrec, gru4rec, lstm, two-tower: the learning rate over the steps of --epochs: "
                    "constant (the default), linear or cosine decay to 0")
        ->transform(CLI::CheckedTransformer(std::map<std::string, int>{{"constant", 0}, {"linear", 1}, {"cosine", 2}}));
    app->add_option("--warmup", hyper.warmup,
                    "sasrec, gru4rec, lstm, two-tower: linear learning-rate warm-up over this many steps (0 = none)");
    app->add_option("--recent", hyper.recent,
                    "neumf: each user's N most recent training interactions (time order, else file "
                    "order) are trained on twice per epoch (0 = none)");
    app->add_option("--seed", hyper.seed, "random seed (same seed, same model)")
        ->capture_default_str()
        ->transform(seed_validator());
    app->add_option("--threads", threads, "worker threads (0 = all cores, or OMP_NUM_THREADS)")
        ->capture_default_str()
        ->check(CLI::Range(0, er::kMaxThreads));
    app->add_option("--backend", backend,
                    "auto (cuda where this build has it and a device is present, else openmp), cpu "
                    "(serial reference), openmp, cuda")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "cpu", "openmp", "cuda"}));
  }
};

// Which backend ran, for --json: its name and, on CUDA, the device and its peak memory.
void put_backend(json& j, const er::Backend& backend) {
  j["backend"] = backend.name();
  er::CudaDeviceInfo d;
  if (er::cuda_device_info(backend, d))
    j["device"] = {{"name", d.name},
                   {"index", d.device},
                   {"compute_capability", std::to_string(d.compute_major) + "." + std::to_string(d.compute_minor)},
                   {"memory_bytes", d.total_bytes},
                   {"peak_memory_bytes", d.peak_bytes}};
}

// Floats are printed with the 7 significant digits they hold (0.02, not 0.0199999995529).
double short_float(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7g", static_cast<double>(v));
  return std::strtod(buf, nullptr);
}

json hyper_json(const er::Hyper& h) {
  json j;
  auto put = [&](const char* k, const auto& v) {
    if constexpr (std::is_same_v<std::decay_t<decltype(*v)>, float>) {
      if (v) j[k] = short_float(*v);
    } else if (v) {
      j[k] = *v;
    }
  };
  put("factors", h.factors);
  put("epochs", h.epochs);
  put("lr", h.lr);
  put("reg", h.reg);
  put("bias_reg", h.bias_reg);
  put("alpha", h.alpha);
  put("init_std", h.init_std);
  put("neighbors", h.neighbors);
  put("cg_steps", h.cg_steps);
  put("batch", h.batch);
  put("dropout", h.dropout);
  put("max_len", h.max_len);
  put("layers", h.layers);
  put("heads", h.heads);
  put("train_negatives", h.train_negatives);
  put("patience", h.patience);
  put("val_negatives", h.val_negatives);
  put("pretrain", h.pretrain);
  put("refit", h.refit);
  put("recent", h.recent);
  if (h.lr_schedule) j["lr_schedule"] = er::nn::lr_schedule_name(*h.lr_schedule);
  put("warmup", h.warmup);
  j["seed"] = h.seed;
  return j;
}

json report_json(const er::LoadReport& r) {
  json rej = json::array();
  for (const auto& x : r.first_rejections)
    rej.push_back({{"line", x.line}, {"field", x.field}, {"reason", x.reason}});
  return {{"format", er::format_name(r.format)}, {"lines", r.lines},         {"records", r.records},
          {"accepted", r.accepted},
          {"rejected", r.rejected},              {"duplicates", r.duplicates}, {"below_threshold", r.below_threshold},
          {"kcore_removed", r.kcore_removed},    {"first_rejections", rej}};
}

void print_report(const er::LoadReport& r, const std::string& path) {
  if (r.rejected == 0) return;
  std::cerr << "edgerec: " << path << ": " << r.summary() << "\n";
  for (const auto& x : r.first_rejections)
    std::cerr << "  " << path << ":" << x.line << ": field '" << x.field << "': " << x.reason << "\n";
}

// An item's title and genres from the model's item metadata, into `j` (nothing without
// metadata, or for an item it does not describe): "title" and "genres" (the categorical field
// of that name, as a list).
void add_item_meta(json& j, const er::Model& m, const std::string& id) {
  if (!m.item_meta) return;
  const er::ItemMeta& meta = *m.item_meta;
  const std::int64_t r = meta.find(id);
  if (r < 0 || !meta.described[static_cast<std::size_t>(r)]) return;
  const auto row = static_cast<er::index_t>(r);
  if (!meta.titles[row].empty()) j["title"] = meta.titles[row];
  if (const auto* g = meta.field("genres")) j["genres"] = meta.values(*g, row);
}

// "  Title (Genre|Genre)" for text output; "" without metadata.
std::string item_label(const er::Model& m, const std::string& id) {
  json j = json::object();
  add_item_meta(j, m, id);
  std::string out;
  if (j.contains("title")) out = j["title"].get<std::string>();
  if (j.contains("genres") && !j["genres"].empty()) {
    std::string g;
    for (const auto& x : j["genres"]) g += (g.empty() ? "" : "|") + x.get<std::string>();
    out += (out.empty() ? "(" : " (") + g + ")";
  }
  return out.empty() ? out : "  " + out;
}

json recs_json(const std::vector<er::Recommendation>& recs, const er::Model& m) {
  json a = json::array();
  for (const auto& r : recs) {
    json j{{"item", r.item}, {"score", short_float(r.score)}};
    add_item_meta(j, m, r.item);
    a.push_back(std::move(j));
  }
  return a;
}

// An explanation's fields into `j`: score = sum(weights) + others + rest (weights and rest at
// full double precision, so the sum checks out to rounding; the score as recommend prints it).
// recommend --explain keeps the item's listed score (a batch scores with the backend's kernel,
// which may round differently from the single-user path explain measures).
void add_explanation(json& j, const er::ScoreExplanation& e, const char* list_key, bool with_score) {
  json w = json::array();
  for (const auto& x : e.weights) w.push_back({{"item", x.item}, {"weight", static_cast<double>(x.weight)}});
  if (with_score) j["score"] = short_float(e.score);
  j[list_key] = std::move(w);
  j["others"] = e.others;
  j["rest"] = e.rest;
  j["residual"] = e.residual;
  j["exact"] = e.exact;
  j["note"] = e.note;
}

// How a new user's --items were used (Model::prepare_history), for recommend and explain.
json history_json(const er::HistoryReport& h, int unknown, bool popularity) {
  json j{{"given", h.given + static_cast<std::size_t>(unknown)}, {"unknown", unknown},
         {"duplicates", h.duplicates}, {"dropped", h.dropped}, {"clamped", h.clamped},
         {"used", h.used}, {"max_used", er::kMaxFoldInHistory}};
  if (popularity) j["fallback"] = "popularity";
  return j;
}

// The same on stderr, for the text output: only what changed the user's input.
void print_history_notes(const er::HistoryReport& h, int unknown, bool popularity) {
  if (unknown > 0) std::cerr << "edgerec: " << unknown << " unknown item id(s) in --items ignored\n";
  if (h.duplicates > 0) std::cerr << "edgerec: " << h.duplicates << " repeated item(s) in --items: the last value counts\n";
  if (h.dropped > 0)
    std::cerr << "edgerec: --items names more than " << er::kMaxFoldInHistory
              << " items: only the most recent " << er::kMaxFoldInHistory << " are used\n";
  if (h.clamped > 0) std::cerr << "edgerec: " << h.clamped << " value(s) in --items clamped to the model's rating range\n";
  if (popularity) std::cerr << "edgerec: no item in --items is known to the model: popular items instead\n";
}

void print_recs(const std::vector<er::Recommendation>& recs, const er::Model& m) {
  int rank = 1;
  for (const auto& r : recs)
    std::printf("%3d. %-24s %.4f%s\n", rank++, r.item.c_str(), r.score, item_label(m, r.item).c_str());
}

json metrics_json(const std::map<std::string, double>& m) {
  json j = json::object();
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

// ---- subcommands --------------------------------------------------------------------------------

struct GenerateCmd {
  er::SyntheticOptions o;
  bool implicit = false;
  std::string out = "data/synthetic";
  bool json_out = false;

  CLI::App* add(CLI::App& app) {
    auto* c = app.add_subcommand("generate", "Write a seeded synthetic catalogue (ratings.csv, items.csv)");
    c->add_option("--out", out, "output directory")->capture_default_str();
    c->add_option("--users", o.users, "users")->capture_default_str();
    c->add_option("--items", o.items, "items")->capture_default_str();
    c->add_option("--interactions", o.interactions, "target interaction count")->capture_default_str();
    c->add_option("--clusters", o.clusters, "latent taste clusters")->capture_default_str();
    c->add_option("--genres", o.genres, "genres")->capture_default_str();
    c->add_option("--seed", o.seed, "random seed")->capture_default_str()->transform(seed_validator());
    c->add_flag("--implicit", implicit, "implicit feedback (no ratings)");
    c->add_flag("--json", json_out, "print one JSON object on stdout");
    return c;
  }

  int run() {
    o.ratings = !implicit;
    const auto cat = er::generate_synthetic(o);
    std::filesystem::create_directories(out);
    const std::string ratings = (std::filesystem::path(out) / "ratings.csv").string();
    const std::string items = (std::filesystem::path(out) / "items.csv").string();
    er::write_csv(cat, ratings);  // items.csv (titles, genres) beside it
    if (json_out)
      std::cout << json{{"ratings", ratings}, {"items", items}, {"users", cat.data.n_users()},
                        {"items_count", cat.data.n_items()}, {"interactions", cat.data.size()}}
                       .dump(-1, ' ', false, kInvalidUtf8)
                << "\n";
    else
      std::cout << "wrote " << cat.data.size() << " interactions of " << cat.data.n_users()
                << " users and " << cat.data.n_items() << " items to " << ratings << " (titles in "
                << items << ")\n";
    return 0;
  }
};

struct TrainCmd {
  DataFlags data;
  ModelFlags model;
  std::string out = "model.edgerec";
  std::string curve;
  bool json_out = false, quiet = false, reproducible = false;
  std::string item_meta, item_vectors, meta_delimiter, user_meta;
  char meta_separator = '|';

  CLI::App* add(CLI::App& app) {
    auto* c = app.add_subcommand("train", "Train a model on a data file and save it");
    c->add_option("--item-meta", item_meta,
                  "item metadata to keep in the model: CSV with a header (id, title, categorical and "
                  "numeric columns), or MovieLens u.item / movies.dat / movies.csv (recognised)");
    c->add_option("--item-vectors", item_vectors, "content vectors to keep in the model: id,f1,f2,... per line");
    c->add_option("--user-meta", user_meta,
                  "two-tower: user features for the user tower: CSV with a header (user id, categorical and "
                  "numeric columns), or MovieLens u.user / users.dat (recognised: gender, occupation, age)");
    c->add_option("--meta-delimiter", meta_delimiter, "item / user metadata CSV: field delimiter (default: sniffed; 'tab' for \\t)");
    c->add_option("--meta-separator", meta_separator, "item / user metadata CSV: separator of multi-valued fields")->capture_default_str();
    data.add(c, true);
    model.add(c);
    c->add_option("--out", out, "model file to write (atomically)")->capture_default_str();
    c->add_option("--curve", curve, "neural kinds: write each epoch's figures as JSON lines to this file");
    c->add_flag("--json", json_out, "print one JSON object on stdout");
    c->add_flag("--quiet", quiet, "no progress bar and no epoch lines");
    c->add_flag("--reproducible", reproducible,
                "store 0 as the training time, so the same data, flags, seed, thread count and "
                "edgerec build give a byte-identical file (also when SOURCE_DATE_EPOCH is set)");
    return c;
  }

  int run() {
    // Metadata first: a bad file fails before minutes of training.
    auto m = er::make_model(er::parse_kind(model.kind));
    if (!user_meta.empty() && !m->reads_user_meta())
      throw er::Error(std::string("--user-meta: ") + er::kind_name(m->kind()) +
                      " does not read user features (only two-tower's user tower does)");
    er::ItemMetaOptions mo;
    mo.separator = meta_separator;
    if (meta_delimiter == "tab") mo.delimiter = '\t';
    else if (meta_delimiter.size() == 1) mo.delimiter = meta_delimiter[0];
    else if (!meta_delimiter.empty()) throw er::Error("--meta-delimiter must be one character or 'tab'");
    std::optional<er::ItemMeta> meta;
    if (!item_meta.empty()) meta = er::load_item_meta(item_meta, mo);
    std::optional<er::UserMeta> umeta;
    if (!user_meta.empty()) umeta = er::load_user_meta(user_meta, mo);
    if (!item_vectors.empty()) {
      if (!meta) meta.emplace();
      er::load_item_vectors(*meta, item_vectors);
    }
    er::LoadReport report;
    const auto train = data.load(&report);
    if (!json_out) print_report(report, data.path);
    auto backend = er::make_backend(model.backend, model.threads);
    // The metadata is aligned to the training items (the ids fit() copies) before fit(): a kind
    // that embeds items from their metadata (two-tower) trains on it; the others ignore it.
    er::ItemMetaReport meta_report;
    if (meta) m->item_meta = std::make_shared<const er::ItemMeta>(er::align_item_meta(*meta, train.items, &meta_report));
    // The user features likewise, to the training users (two-tower's user tower reads them).
    er::ItemMetaReport user_report;
    if (umeta) m->user_meta = std::make_shared<const er::UserMeta>(er::align_user_meta(*umeta, train.users, &user_report));
    m->fit(train, model.hyper, *backend, make_progress(quiet || json_out, curve));
    // The training time is the only thing in a model file that differs between two runs with
    // the same inputs (the reproducible-builds convention: SOURCE_DATE_EPOCH asks for that too).
    const double fit_seconds = m->info.fit_seconds;
    if (reproducible || std::getenv("SOURCE_DATE_EPOCH")) m->info.fit_seconds = 0;
    er::save_model(*m, out);
    const auto bytes = std::filesystem::file_size(out);
    if (json_out) {
      json j{{"model", er::kind_name(m->kind())}, {"out", out}, {"bytes", bytes},
             {"users", m->n_users()}, {"items", m->n_items()}, {"train_rows", m->info.train_rows},
             {"fit_seconds", fit_seconds}, {"threads", m->info.threads},
             {"hyper", hyper_json(m->hyper)}, {"load", report_json(report)},
             {"epochs_run", m->info.epochs_run}};
      if (m->info.best_epoch > 0) j["best_epoch"] = m->info.best_epoch;
      if (!m->info.loss.empty()) j["loss"] = m->info.loss;
      if (meta)
        j["item_meta"] = {{"rows", meta_report.rows}, {"matched", meta_report.matched},
                          {"cold", meta_report.cold}, {"undescribed", meta_report.undescribed}};
      if (umeta)
        j["user_meta"] = {{"rows", user_report.rows}, {"matched", user_report.matched},
                          {"without_interactions", user_report.cold}, {"undescribed", user_report.undescribed}};
      put_backend(j, *backend);
      std::cout << j.dump(-1, ' ', false, kInvalidUtf8) << "\n";
    } else {
      if (meta)
        std::cout << "item metadata: " << meta_report.rows << " items, " << meta_report.matched
                  << " of the model's, " << meta_report.cold << " without interactions (cold), "
                  << meta_report.undescribed << " of the model's items not described\n";
      if (umeta)
        std::cout << "user features: " << user_report.rows << " users, " << user_report.matched
                  << " of the model's, " << user_report.cold << " without interactions (not used), "
                  << user_report.undescribed << " of the model's users not described (a zero feature row)\n";
      std::cout << "trained " << er::kind_name(m->kind()) << " on " << m->info.train_rows << " interactions ("
                << m->n_users() << " users, " << m->n_items() << " items) in " << fit_seconds
                << " s; saved " << out << " (" << bytes << " bytes)\n";
    }
    return 0;
  }
};

// Protocol flags shared by eval and tune (same names, same meaning).
struct ProtocolFlags {
  er::EvalOptions eval;
  std::string protocol = "kfold";
  std::string test_rating, test_negative, test_path;
  std::optional<float> relevance;
  bool ranking = false, no_ranking = false;

  // `validation`: the command uses the validation part (tune; eval trains on the whole training
  // part, since no trainer early-stops).
  void add(CLI::App* c, bool validation) {
    c->add_option("--protocol", protocol,
                  "holdout, kfold, loo (leave-last-out), temporal, ncf, seq (sequential, as "
                  "SASRec/S3-Rec: per user in time order the last item is test, the one before "
                  "validation; users with < 3 train only; test runs train on all but the last item); "
                  "eval only: replay (bandit policies replayed on --log, Li et al. 2011)")
        ->capture_default_str();
    c->add_option("--folds", eval.folds, "kfold: folds")->capture_default_str();
    c->add_option("--test-fraction", eval.test_fraction, "holdout/temporal: test share")->capture_default_str();
    if (validation)
      c->add_option("--validation-fraction", eval.validation_fraction,
                    "holdout/kfold/temporal: share of the training part held out for validation "
                    "(loo/ncf/seq: each user's last training interaction)")
          ->capture_default_str();
    c->add_option("-k,--k", eval.k, "ranking cut-off K")->capture_default_str();
    c->add_option("--negatives", eval.negatives,
                  "loo/seq: sampled negatives per held-out item, drawn from items the user never "
                  "interacted with (default 0: 99 for loo as NCF, 100 for seq as SASRec/S3-Rec)")
        ->check(CLI::Range(0, 1000000));
    c->add_option("--split-seed", eval.seed, "split seed (default: --seed)")->transform(seed_validator());
    c->add_option("--relevance-threshold", relevance,
                  "ranking metrics count test ratings >= this as relevant (turns ranking on)");
    c->add_flag("--ranking", ranking,
                "explicit ratings: also compute ranking metrics, every test rating relevant");
    c->add_flag("--no-ranking", no_ranking, "skip ranking metrics");
    c->add_option("--test", test_path,
                  "a user-given test file (same format flags as --data): train on --data, test on "
                  "this; rows with a user or item unknown to --data are dropped and counted");
    c->add_option("--test-rating", test_rating, "ncf: *.test.rating file");
    c->add_option("--test-negative", test_negative, "ncf: *.test.negative file");
  }

  // Settles the options once the data is loaded. Explicit ratings under a rating protocol get
  // ranking metrics only when asked: counting every test rating (even half a star) as relevant
  // is rarely what anyone means, and the ranking pass costs more than the fit.
  void resolve(CLI::App* c, const ModelFlags& model, const er::Interactions& d) {
    eval.protocol = er::parse_protocol(protocol);
    if (c->count("--split-seed") == 0) eval.seed = model.hyper.seed;
    if (relevance) {
      if (!std::isfinite(*relevance)) throw er::Error("--relevance-threshold must be a finite number");
      eval.relevance_threshold = *relevance;
    }
    if (no_ranking && (ranking || relevance))
      throw er::Error("--no-ranking contradicts --ranking / --relevance-threshold");
    if (!test_path.empty() && eval.protocol == er::Protocol::ncf)
      throw er::Error("--test cannot be used with --protocol ncf (its test files are --test-rating and --test-negative)");
    if (!test_path.empty() && (!test_rating.empty() || !test_negative.empty()))
      throw er::Error("--test-rating/--test-negative belong to --protocol ncf; use --test FILE for other protocols");
    const bool rating_protocol = eval.protocol != er::Protocol::loo &&
                                 eval.protocol != er::Protocol::ncf &&
                                 eval.protocol != er::Protocol::seq;
    if (no_ranking) eval.ranking = false;
    else if (ranking || relevance) eval.ranking = true;
    else eval.ranking = !(d.has_ratings && rating_protocol);
    explicit_off = d.has_ratings && rating_protocol && !eval.ranking && !no_ranking;
  }
  bool explicit_off = false;  // ranking skipped by the explicit-ratings rule (said in the output)

  // The user-given test file in --data's id space.
  er::Interactions load_test(const DataFlags& data, const er::Interactions& d, er::AlignReport& align,
                             er::LoadReport& report, bool quiet) const {
    DataFlags t = data;
    t.path = test_path;
    t.kcore = 0;  // a test file is taken as given: k-core belongs to the training data
    const auto loaded = t.load(&report);
    if (!quiet) print_report(report, test_path);
    auto test = er::align_test(d, loaded, &align);
    if (!quiet && (align.unknown_user_rows || align.unknown_item_rows))
      std::cerr << "edgerec: " << test_path << ": dropped " << align.unknown_user_rows
                << " row(s) with a user and " << align.unknown_item_rows
                << " row(s) with an item unknown to " << data.path << "; kept " << align.kept << "\n";
    return test;
  }

  void put_json(json& j, const er::AlignReport* align) const {
    j["ranking"] = eval.ranking;
    j["relevance_threshold"] =
        eval.ranking && relevance ? json(short_float(*relevance)) : json(nullptr);
    if (align)
      j["test_file"] = {{"path", test_path}, {"kept", align->kept},
                        {"unknown_user_rows", align->unknown_user_rows},
                        {"unknown_item_rows", align->unknown_item_rows}};
    if (sampled()) j["negatives"] = er::sampled_negatives(eval);
  }

  // The protocols whose unprefixed ranking metrics are sampled (ncf's negatives are its file's).
  bool sampled() const {
    return eval.ranking && (eval.protocol == er::Protocol::loo || eval.protocol == er::Protocol::seq);
  }

  void print_notes(const er::AlignReport* align) const {
    if (align)
      std::printf("  test file %s: %llu rows kept, %llu dropped (unknown user), %llu dropped (unknown item)\n",
                  test_path.c_str(), static_cast<unsigned long long>(align->kept),
                  static_cast<unsigned long long>(align->unknown_user_rows),
                  static_cast<unsigned long long>(align->unknown_item_rows));
    if (sampled())
      std::printf("  hr@K, ndcg@K, ...: each test item among %d sampled negatives; full_*: "
                  "among every item the user has not trained on\n",
                  er::sampled_negatives(eval));
    if (eval.ranking && relevance)
      std::printf("  relevant: test ratings >= %g\n", static_cast<double>(*relevance));
    else if (eval.ranking && ranking)
      std::printf("  relevant: every test rating\n");
    if (explicit_off)
      std::printf("  ranking metrics skipped on explicit ratings: --relevance-threshold T counts "
                  "ratings >= T as relevant, --ranking counts every rating\n");
  }
};

void print_order(const std::string& order, const char* what) {
  if (order == "file")
    std::printf("  %s: no timestamps, so each user's last row in file order was used\n", what);
  else if (order == "time")
    std::printf("  %s: each user's last interaction by timestamp\n", what);
}

const char* order_label(er::Protocol p) {
  return p == er::Protocol::seq ? "seq (test: each user's last item, validation: the one before)"
                                : "leave-last-out";
}

json eval_json(const er::EvalResult& r) {
  json j{{"metrics", metrics_json(r.metrics)}, {"fit_seconds", r.fit_seconds},
         {"eval_seconds", r.eval_seconds}, {"folds", r.folds}, {"train_rows", r.train_rows},
         {"test_rows", r.test_rows}, {"epochs_run", r.epochs_run}};
  if (r.best_epoch > 0) j["best_epoch"] = r.best_epoch;
  if (!r.fold_metrics.empty()) {
    json folds = json::array();
    for (const auto& m : r.fold_metrics) folds.push_back(metrics_json(m));
    j["fold_metrics"] = folds;
    j["metrics_std"] = metrics_json(r.metrics_std);
  }
  if (!r.order.empty()) j["order"] = r.order;
  return j;
}

void print_metrics(const er::EvalResult& r) {
  if (r.fold_metrics.empty()) {
    for (const auto& [k, v] : r.metrics) std::printf("  %-16s %.4f\n", k.c_str(), v);
    return;
  }
  std::printf("  %-16s %-8s %-8s per fold\n", "metric", "mean", "std");
  for (const auto& [k, v] : r.metrics) {
    std::printf("  %-16s %.4f   %.4f  ", k.c_str(), v, r.metrics_std.at(k));
    for (const auto& m : r.fold_metrics) {
      const auto it = m.find(k);
      if (it == m.end()) std::printf("   -    ");
      else std::printf(" %.4f", it->second);
    }
    std::printf("\n");
  }
}

struct EvalCmd {
  DataFlags data;
  ModelFlags model;
  ProtocolFlags p;
  std::string curve;
  bool json_out = false, quiet = false;
  std::string item_meta, user_meta, rerank = "none", rerank_lambda = "0.5", rerank_pool = "10";
  double cold_items = 0;
  bool cold_validation = false;

  CLI::App* add(CLI::App& app) {
    auto* c = app.add_subcommand("eval", "Evaluate a model kind under a protocol (trains on the train part only)");
    c->add_option("--cold-items", cold_items,
                  "item cold start: hold out ALL interactions of this share of the items (drawn with --split-seed), "
                  "train on the rest with --item-meta, and rank the held-out items among themselves: cold_auc, "
                  "cold_hr@K, cold_ndcg@K (--protocol does not apply)");
    c->add_flag("--cold-validation", cold_validation,
                "with --cold-items: measure on a second share drawn from the items left after the test items "
                "are removed (val_cold_* keys), for choosing hyper-parameters without the test items");
    data.add(c, true);
    model.add(c);
    p.add(c, false);
    c->add_option("--curve", curve,
                  "neural kinds: write each epoch's figures (training loss, the score on the "
                  "model's own validation part) as JSON lines to this file; --protocol replay: "
                  "each policy's cumulative reward");
    c->add_flag("--json", json_out, "print one JSON object on stdout");
    c->add_flag("--quiet", quiet, "no progress bar and no epoch lines");
    c->add_option("--item-meta", item_meta,
                  "item metadata (as train's): content features for ild@K when the model has no "
                  "item factors, genres for calibration_kl@K and --rerank calibrated");
    c->add_option("--user-meta", user_meta,
                  "two-tower: user features (as train's), given to every model the protocol fits");
    c->add_option("--rerank", rerank,
                  "also re-rank each top-K from the model's top --rerank-pool x K: mmr (maximal "
                  "marginal relevance), calibrated (Steck 2018, genres) or popularity (long-tail boost, "
                  "xQuAD as Abdollahpouri et al. 2019); metrics as rerank_*")
        ->capture_default_str();
    c->add_option("--rerank-lambda", rerank_lambda,
                  "re-ranking trade-off in [0,1]: mmr's weight of the score (1 = no change), "
                  "calibrated's and popularity's weight of calibration / the long tail (0 = no change); "
                  "auto: chosen per split on the validation part of its training part (the largest "
                  "gain in ild / calibration KL / gini with validation ndcg within --rerank-max-loss)")
        ->capture_default_str();
    c->add_option("--rerank-max-loss", p.eval.rerank.max_ndcg_loss,
                  "--rerank-lambda auto: the largest relative ndcg@K loss allowed on the validation part")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    c->add_option("--validation-fraction", p.eval.validation_fraction,
                  "--rerank-lambda auto, holdout/kfold/temporal: share of the training part held out "
                  "for validation (loo/seq: each user's last training interaction)")
        ->capture_default_str();
    c->add_option("--rerank-pool", rerank_pool,
                  "re-ranking candidates: this many times K (1..1000), or auto: chosen with "
                  "--rerank-lambda auto among 2, 3, 5, 10 and 20")
        ->capture_default_str();
    replay.add(c);
    c->add_option("--new-users", new_users.fraction,
                  "new-user cold start (replaces --protocol): hold this share of the users out of "
                  "training, reveal each one's first --new-user-reveal items in time order and compare "
                  "popularity, fold-in and fold-in plus a bandit's exploration on their later items "
                  "(see README, New users)")
        ->check(CLI::Range(0.0, 1.0));
    c->add_option("--new-user-reveal", new_users.reveal, "new users: items each held-out user brings")
        ->capture_default_str()->check(CLI::Range(1, 100000));
    c->add_option("--new-user-feedback", new_users.feedback_share,
                  "new users: share of the items after the revealed ones that can answer exploration "
                  "(the rest are the test targets)")
        ->capture_default_str()->check(CLI::Range(0.0, 1.0));
    c->add_option("--new-user-steps", new_users.steps, "new users: interactive rounds per user")
        ->capture_default_str()->check(CLI::Range(0, 100000));
    c->add_option("--new-user-folds", new_users.folds,
                  "new users: disjoint held-out draws of --new-users' size (consecutive blocks of one "
                  "seeded shuffle, each with its own fit); metrics pool all their users (0.2 x 5 folds: "
                  "every eligible user once)")
        ->capture_default_str()->check(CLI::Range(1, 1000));
    c->add_option("--new-user-candidates", new_users.candidates,
                  "new users: the fold-in's top-N the policy chooses among each round")
        ->capture_default_str()->check(CLI::Range(1, 100000));
    c->add_option("--new-user-policy", new_user_policy,
                  "new users: the exploring policy (egreedy, linucb, linucb-hybrid, thompson, random, greedy)")
        ->capture_default_str();
    return c;
  }

  er::NewUserOptions new_users;
  std::string new_user_policy = "linucb-hybrid";

  int run(CLI::App* c) {
    if (c->count("--new-users")) return run_new_users(c);
    for (const char* flag : {"--new-user-reveal", "--new-user-feedback", "--new-user-steps", "--new-user-folds",
                             "--new-user-candidates", "--new-user-policy"})
      if (c->count(flag)) throw er::Error(std::string(flag) + " belongs to --new-users FRACTION");
    if (!user_meta.empty()) {
      if (p.protocol == "replay") throw er::Error("--user-meta does not apply to --protocol replay");
      const auto m = er::make_model(er::parse_kind(model.kind));
      if (!m->reads_user_meta())
        throw er::Error(std::string("--user-meta: ") + er::kind_name(m->kind()) +
                        " does not read user features (only two-tower's user tower does)");
    }
    if (p.protocol == "replay") return run_replay();
    if (!replay.log.empty()) throw er::Error("--log belongs to --protocol replay");
    er::LoadReport report;
    auto d = data.load(&report);
    if (!json_out) print_report(report, data.path);
    p.resolve(c, model, d);
    auto& eval = p.eval;
    eval.rerank.kind = er::parse_rerank(rerank);
    if (rerank_lambda == "auto") {
      if (eval.rerank.kind == er::RerankKind::none) throw er::Error("--rerank-lambda auto needs --rerank mmr, calibrated or popularity");
      eval.rerank.auto_lambda = true;
      eval.rerank.auto_pool = rerank_pool == "auto";
    } else {
      char* end = nullptr;
      const double l = std::strtod(rerank_lambda.c_str(), &end);
      if (rerank_lambda.empty() || *end != '\0' || !(l >= 0.0 && l <= 1.0))
        throw er::Error("--rerank-lambda must be a number in [0, 1] or auto (got '" + rerank_lambda + "')");
      eval.rerank.lambda = l;
      if (rerank_pool == "auto") throw er::Error("--rerank-pool auto needs --rerank-lambda auto");
    }
    if (rerank_pool != "auto") {
      char* end = nullptr;
      const long n = std::strtol(rerank_pool.c_str(), &end, 10);
      if (rerank_pool.empty() || *end != '\0' || n < 1 || n > 1000)
        throw er::Error("--rerank-pool must be a whole number in [1, 1000] or auto (got '" + rerank_pool + "')");
      eval.rerank.pool_factor = static_cast<int>(n);
    }
    if (eval.rerank.kind != er::RerankKind::none && !eval.ranking)
      throw er::Error("--rerank needs ranking metrics (explicit ratings: --relevance-threshold T or --ranking)");
    if (!item_meta.empty()) eval.item_meta = std::make_shared<const er::ItemMeta>(er::load_item_meta(item_meta));
    if (!user_meta.empty()) eval.user_meta = std::make_shared<const er::UserMeta>(er::load_user_meta(user_meta));
    if (cold_validation && cold_items == 0) throw er::Error("--cold-validation needs --cold-items FRACTION");
    if (c->count("--cold-items") && !(cold_items > 0 && cold_items < 1))
      throw er::Error("--cold-items: the fraction of items to hold out must be strictly between 0 and 1 (got " +
                      std::to_string(cold_items) + ")");
    if (cold_items > 0) {
      if (eval.rerank.kind != er::RerankKind::none) throw er::Error("--rerank does not apply to --cold-items");
      if (!p.test_path.empty() || !p.test_rating.empty() || !p.test_negative.empty() || c->count("--protocol"))
        throw er::Error("--cold-items makes its own test part: --protocol, --test, --test-rating and --test-negative do not apply");
    }
    eval.cold_items = cold_items;
    eval.cold_validation = cold_validation;
    auto backend = er::make_backend(model.backend, model.threads);
    const auto kind = er::parse_kind(model.kind);
    const auto progress = make_progress(quiet || json_out, curve);
    er::EvalResult r;
    std::optional<er::AlignReport> align;
    if (cold_items > 0) {
      r = er::evaluate_cold_items(d, kind, model.hyper, eval, *backend, progress);
    } else if (eval.protocol == er::Protocol::ncf) {
      if (p.test_rating.empty() || p.test_negative.empty())
        throw er::Error("--protocol ncf needs --test-rating and --test-negative");
      const auto test = er::load_ncf_test(p.test_rating, p.test_negative, d);
      r = er::evaluate_ncf(d, test, kind, model.hyper, eval, *backend, progress);
    } else if (!p.test_path.empty()) {
      er::LoadReport test_report;
      align.emplace();
      auto test = p.load_test(data, d, *align, test_report, json_out);
      r = er::evaluate_split(er::Split{std::move(d), std::move(test)}, kind, model.hyper, eval,
                             *backend, progress);
      r.order.clear();  // the user chose the test rows: no "last" was decided here
    } else {
      r = er::evaluate(d, kind, model.hyper, eval, *backend, progress);
    }
    if (json_out) {
      json j = eval_json(r);
      j["model"] = er::kind_name(kind);
      j["protocol"] = cold_items > 0 ? "cold-items" : er::protocol_name(eval.protocol);
      if (cold_items > 0) {
        j["cold_items_fraction"] = cold_items;
        j["cold_validation"] = cold_validation;
        j["split_seed"] = eval.seed;
      }
      j["threads"] = backend->threads();
      put_backend(j, *backend);
      j["hyper"] = hyper_json(model.hyper.merged_over(er::default_hyper(kind)));
      j["data"] = data.path;
      j["load"] = report_json(report);
      if (cold_items == 0) p.put_json(j, align ? &*align : nullptr);
      if (eval.rerank.kind != er::RerankKind::none)
        j["rerank"] = {{"kind", rerank}, {"lambda", eval.rerank.lambda}, {"pool_factor", eval.rerank.pool_factor}};
      if (eval.rerank.auto_lambda) {
        json grid = json::array();
        for (const auto& t : r.lambda_trials)
          grid.push_back({{"lambda", t.lambda}, {"pool_factor", t.pool_factor}, {"ndcg", t.ndcg},
                          {"ndcg_se", t.ndcg_se}, {"objective", t.objective}, {"eligible", t.eligible}});
        j["rerank"]["lambda"] = r.rerank_lambdas.size() == 1 ? json(r.rerank_lambdas[0]) : json(r.rerank_lambdas);
        j["rerank"]["pool_factor"] = r.rerank_pools.size() == 1 ? json(r.rerank_pools[0]) : json(r.rerank_pools);
        j["rerank"]["auto"] = {{"max_ndcg_loss", eval.rerank.max_ndcg_loss}, {"validation_ndcg", r.validation_ndcg},
                               {"validation_fraction", eval.validation_fraction}, {"grid", grid}};
      }
      std::cout << j.dump(-1, ' ', false, kInvalidUtf8) << "\n";
    } else if (cold_items > 0) {
      std::printf("%s, item cold start (%g of the items held out, %s): fit %.3f s, eval %.3f s", er::kind_name(kind),
                  cold_items, cold_validation ? "measured on a validation share of the others" : "measured on them",
                  r.fit_seconds, r.eval_seconds);
      if (r.best_epoch > 0) std::printf(", %d epochs (best %d)", r.epochs_run, r.best_epoch);
      std::printf("\n");
      print_metrics(r);
    } else {
      std::printf("%s, %s protocol (%d fold%s): fit %.3f s, eval %.3f s", er::kind_name(kind),
                  er::protocol_name(eval.protocol), r.folds, r.folds == 1 ? "" : "s", r.fit_seconds,
                  r.eval_seconds);
      if (r.best_epoch > 0) std::printf(", %d epochs (best %d)", r.epochs_run, r.best_epoch);
      std::printf("\n");
      print_order(r.order, order_label(eval.protocol));
      if (eval.rerank.auto_lambda)
        for (std::size_t f = 0; f < r.rerank_lambdas.size(); ++f)
          std::printf("  --rerank-lambda auto: %.1f, pool %d x K (chosen on the validation part of %s training part)\n",
                      r.rerank_lambdas[f], r.rerank_pools[f],
                      r.rerank_lambdas.size() == 1 ? "the" : ("fold " + std::to_string(f + 1) + "'s").c_str());
      p.print_notes(align ? &*align : nullptr);
      print_metrics(r);
    }
    return 0;
  }

  // --new-users FRACTION: the new-user cold-start protocol (edgerec/new_users.hpp).
  int run_new_users(CLI::App* c) {
    if (c->count("--protocol") || !p.test_path.empty() || !p.test_rating.empty() || !p.test_negative.empty() ||
        !replay.log.empty())
      throw er::Error("--new-users is its own protocol: --protocol, --test, --test-rating, --test-negative and --log do not apply");
    if (rerank != "none" || c->count("--rerank-lambda")) throw er::Error("re-ranking (--rerank, --rerank-lambda) does not apply to --new-users");
    if (!item_meta.empty()) throw er::Error("--item-meta does not apply to --new-users (its methods read no metadata)");
    if (!user_meta.empty()) {
      const auto m = er::make_model(er::parse_kind(model.kind));
      if (!m->reads_user_meta())
        throw er::Error(std::string("--user-meta: ") + er::kind_name(m->kind()) +
                        " does not read user features (only two-tower's user tower does)");
      new_users.user_meta = std::make_shared<const er::UserMeta>(er::load_user_meta(user_meta));
    }
    if (c->count("--cold-items") || cold_validation)
      throw er::Error("--new-users and --cold-items are two protocols: give one");
    auto& o = new_users;
    if (!(o.fraction > 0.0 && o.fraction < 1.0)) throw er::Error("--new-users must be a fraction strictly between 0 and 1");
    o.policy = replay.policy;
    o.policy.kind = er::parse_policy(new_user_policy);
    o.context_dims = replay.context_dims;
    o.k = p.eval.k;
    o.seed = c->count("--split-seed") ? p.eval.seed : model.hyper.seed;
    if (p.relevance) {
      if (!std::isfinite(*p.relevance)) throw er::Error("--relevance-threshold must be a finite number");
      o.relevance_threshold = *p.relevance;
    }
    er::LoadReport report;
    const auto d = data.load(&report);
    if (!json_out) print_report(report, data.path);
    auto backend = er::make_backend(model.backend, model.threads);
    const auto kind = er::parse_kind(model.kind);
    const auto r = er::evaluate_new_users(d, kind, model.hyper, o, *backend, make_progress(quiet || json_out, curve));
    if (json_out) {
      json j{{"protocol", "new-users"}, {"model", er::kind_name(kind)}, {"data", data.path},
             {"metrics", metrics_json(r.metrics)}, {"fit_seconds", r.fit_seconds}, {"eval_seconds", r.eval_seconds},
             {"train_rows", r.train_rows}, {"threads", backend->threads()},
             {"hyper", hyper_json(model.hyper.merged_over(er::default_hyper(kind)))},
             {"new_users", {{"fraction", o.fraction}, {"folds", o.folds}, {"seed", o.seed}, {"reveal", o.reveal},
                            {"feedback_share", o.feedback_share}, {"steps", o.steps},
                            {"candidates", o.candidates}, {"policy", er::policy_name(o.policy.kind)},
                            {"explored", r.explored}, {"eligible_users", r.eligible_users},
                            {"held_out_users", r.held_out_users}, {"counted_users", r.counted_users},
                            {"feedback_items", r.feedback_items}, {"test_items", r.test_items}}},
             {"relevance_threshold", p.relevance ? json(short_float(*p.relevance)) : json(nullptr)},
             {"load", report_json(report)}};
      if (!r.fold_metrics.empty()) {
        json folds = json::array();
        for (std::size_t f = 0; f < r.fold_metrics.size(); ++f)
          folds.push_back({{"counted_users", r.fold_counted_users[f]}, {"metrics", metrics_json(r.fold_metrics[f])}});
        j["new_users"]["fold_results"] = folds;
      }
      put_backend(j, *backend);
      std::cout << j.dump(-1, ' ', false, kInvalidUtf8) << "\n";
      return 0;
    }
    if (o.folds > 1) std::printf("%d folds (consecutive draws of one seeded shuffle, each fitted on its own), pooled:\n", o.folds);
    std::printf("%s, new users: %llu of %llu eligible users held out (seed %llu), %llu counted; each reveals %d "
                "items, %.2f of the rest answer %d %s rounds, the others are the targets; fit %.3f s, eval %.3f s\n",
                er::kind_name(kind), static_cast<unsigned long long>(r.held_out_users),
                static_cast<unsigned long long>(r.eligible_users), static_cast<unsigned long long>(o.seed),
                static_cast<unsigned long long>(r.counted_users), o.reveal, o.feedback_share, o.steps,
                er::policy_name(o.policy.kind), r.fit_seconds, r.eval_seconds);
    if (!r.explored) std::printf("  explore/exploit/greedy skipped: %s\n", o.steps == 0 ? "--new-user-steps 0" : "the model has no item embeddings");
    for (const auto& [k, v] : r.metrics) std::printf("  %-22s %.4f\n", k.c_str(), v);
    return 0;
  }

  // --protocol replay: the bandit policies replayed on a logged-bandit file (edgerec simulate),
  // with the --model kind trained on --data as the base model (candidates' scores, features).
  struct ReplayFlags {
    std::string log;
    std::string policies = "random,greedy,egreedy,linucb,linucb-hybrid,thompson";
    er::PolicyOptions policy;
    er::ReplayOptions replay;
    int context_dims = 16;
    void add(CLI::App* c) {
      c->add_option("--log", log, "replay: the logged-bandit CSV (edgerec simulate)");
      c->add_option("--policies", policies,
                    "replay: comma-separated policies: random, greedy (the base model's best "
                    "candidate), egreedy, linucb (disjoint), linucb-hybrid, thompson")
          ->capture_default_str();
      c->add_option("--steps", replay.steps, "replay: stop each policy after this many kept events (0 = the whole log)")
          ->capture_default_str();
      c->add_option("--curve-every", replay.curve_every, "replay: a curve point every this many kept events")
          ->capture_default_str()
          ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 40));
      c->add_option("--epsilon", policy.epsilon, "replay, --new-users: egreedy's exploration probability")->capture_default_str();
      c->add_option("--ucb-alpha", policy.alpha, "replay, --new-users: linucb's confidence-bound width")->capture_default_str();
      c->add_option("--ts-v", policy.v, "replay, --new-users: thompson's posterior scale v (covariance v^2 B^-1)")->capture_default_str();
      c->add_option("--context-dims", context_dims,
                    "replay, --new-users: principal directions of the base model's item factors used as arm context")
          ->capture_default_str();
    }
  } replay;

  int run_replay() {
    if (replay.log.empty()) throw er::Error("--protocol replay needs --log FILE (a logged-bandit CSV: edgerec simulate)");
    if (!p.test_path.empty() || !p.test_rating.empty() || !p.test_negative.empty())
      throw er::Error("--protocol replay reads its events from --log; --test, --test-rating and --test-negative do not apply");
    std::vector<er::PolicyKind> kinds;
    for (const auto& name : split_list(replay.policies)) kinds.push_back(er::parse_policy(name));
    if (kinds.empty()) throw er::Error("--policies names no policy");
    er::LoadReport report;
    const auto d = data.load(&report);
    if (!json_out) print_report(report, data.path);
    auto backend = er::make_backend(model.backend, model.threads);
    const auto kind = er::parse_kind(model.kind);
    auto base = er::make_model(kind);
    base->fit(d, model.hyper, *backend, make_progress(quiet || json_out));
    const er::BanditFeatures features(*base, replay.context_dims);
    const auto log = er::read_bandit_log(replay.log);
    std::vector<er::ReplayResult> results;
    std::string curve_lines;
    for (std::size_t k = 0; k < kinds.size(); ++k) {
      er::PolicyOptions o = replay.policy;
      o.kind = kinds[k];
      o.seed = er::policy_seed(model.hyper.seed, kinds[k]);
      auto policy = er::make_policy(o, features.arm_dims(), features.user_dims());
      results.push_back(er::replay(*policy, log, features, replay.replay));
      for (const auto& pt : results.back().curve)
        curve_lines += json{{"policy", results.back().policy}, {"step", pt.step}, {"scanned", pt.scanned},
                            {"reward", pt.reward}, {"ctr", pt.reward / static_cast<double>(pt.step)}}
                           .dump() + "\n";
    }
    if (!curve.empty()) er::write_atomically(curve, curve_lines);
    if (json_out) {
      json rows = json::array();
      for (const auto& r : results)
        rows.push_back({{"policy", r.policy}, {"kept", r.kept}, {"scanned", r.scanned}, {"skipped", r.skipped},
                        {"reward", r.reward}, {"ctr", r.ctr}, {"ips", r.ips}, {"snips", r.snips}});
      json j{{"protocol", "replay"}, {"log", replay.log}, {"events", log.events.size()},
             {"steps", replay.replay.steps}, {"model", er::kind_name(kind)}, {"data", data.path},
             {"hyper", hyper_json(model.hyper.merged_over(er::default_hyper(kind)))},
             {"bandit", {{"epsilon", replay.policy.epsilon}, {"ucb_alpha", replay.policy.alpha},
                         {"ts_v", replay.policy.v}, {"context_dims", features.dims()},
                         {"arm_dims", features.arm_dims()}, {"user_dims", features.user_dims()}}},
             {"policies", rows}, {"load", report_json(report)}};
      std::cout << j.dump(-1, ' ', false, kInvalidUtf8) << "\n";
      return 0;
    }
    std::printf("replay of %s (%zu events), base model %s trained on %s; each policy until %llu kept events\n",
                replay.log.c_str(), log.events.size(), er::kind_name(kind), data.path.c_str(),
                static_cast<unsigned long long>(replay.replay.steps));
    std::printf("  %-14s %8s %9s %8s %8s %8s %8s\n", "policy", "kept", "scanned", "reward", "ctr", "ips", "snips");
    for (const auto& r : results)
      std::printf("  %-14s %8llu %9llu %8.0f %8.4f %8.4f %8.4f\n", r.policy.c_str(),
                  static_cast<unsigned long long>(r.kept), static_cast<unsigned long long>(r.scanned),
                  r.reward, r.ctr, r.ips, r.snips);
    for (const auto& r : results)
      if (r.skipped > 0)
        std::printf("  %s: %llu event(s) skipped (a user or candidate unknown to the base model)\n",
                    r.policy.c_str(), static_cast<unsigned long long>(r.skipped));
    return 0;
  }
};

struct SimulateCmd {
  DataFlags data;
  er::SimulateOptions o;
  std::string out = "logged.csv", reward = "threshold";
  bool json_out = false, quiet = false;
  // Session mode (--sessions N): Q-learning with function approximation against the greedy
  // base model over sessions with boredom (edgerec/session_rl.hpp).
  er::SessionOptions session;
  er::QApproxOptions q;
  er::TabularSessionOptions tabular;
  int eval_sessions = 1000, context_dims = 16;
  std::string policies = "random,greedy,qlearn-linear,qlearn-mlp,qlearn-tabular", base_model = "ials", curve;
  CLI::Option* candidates_flag = nullptr;
  CLI::Option* sessions_flag = nullptr;

  CLI::App* add(CLI::App& app) {
    auto* c = app.add_subcommand(
        "simulate",
        "Build a logged-bandit dataset from rating data: hidden preferences from an svd model "
        "fitted on all of --data, a uniformly random logging policy over each event's candidates");
    data.add(c, true);
    c->add_option("--out", out, "logged-bandit CSV to write (atomically)")->capture_default_str();
    c->add_option("--events,--steps", o.events, "logged events")->capture_default_str()
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32));
    candidates_flag = c->add_option("--candidates", o.candidates,
                                    "candidate items per event, drawn uniformly from the user's unrated items "
                                    "(session mode: the base model's top unrated items, default 50)")
        ->capture_default_str()->check(CLI::Range(1, 100000));
    c->add_option("--reward", reward,
                  "threshold: a click when the hidden rating >= --threshold; bernoulli: a click with "
                  "probability (hidden rating - min) / (max - min) of the data's rating range")
        ->capture_default_str();
    c->add_option("--threshold", o.threshold, "threshold reward: the hidden rating that counts as a click")->capture_default_str();
    c->add_option("--seed", o.seed, "seed of the hidden model and of the event stream")
        ->capture_default_str()->transform(seed_validator());
    c->add_flag("--json", json_out, "print one JSON object on stdout");
    c->add_flag("--quiet", quiet, "no progress bar");
    const std::string S = "session mode: ";
    sessions_flag = c->add_option("--sessions", q.sessions,
                  "session mode (instead of writing a log): train Q-learning over this many sessions, "
                  "then compare --policies on held-out users' sessions")
        ->check(CLI::Range(1, 100000000));
    c->add_option("--policies", policies,
                  S + "comma-separated: random, greedy (the base model's best unshown candidate), "
                      "qlearn-linear, qlearn-mlp, qlearn-tabular (a Q table over (step, the last item's "
                      "taste group) x the next group)")
        ->capture_default_str();
    c->add_option("--eval-sessions", eval_sessions, S + "evaluation sessions per policy")
        ->capture_default_str()->check(CLI::Range(1, 100000000));
    c->add_option("--session-steps", session.steps, S + "shows per session (N)")->capture_default_str();
    c->add_option("--history", session.history, S + "the state reads the mean embedding of the last k items shown")
        ->capture_default_str();
    c->add_option("--boredom", session.boredom,
                  S + "rating points lost per unit of hidden similarity to what the session showed")
        ->capture_default_str();
    c->add_option("--boredom-decay", session.boredom_decay, S + "boredom's decay per step back, in [0, 1]")
        ->capture_default_str();
    c->add_option("--eval-fraction", session.eval_fraction, S + "share of users held out for evaluation")
        ->capture_default_str();
    c->add_option("--base-model", base_model, S + "the served model kind (an embedding model), fitted on --data")
        ->capture_default_str();
    c->add_option("--context-dims", context_dims, S + "principal directions of the base item factors in the features")
        ->capture_default_str();
    c->add_option("--gamma", q.gamma, S + "Q-learning's discount")->capture_default_str();
    c->add_option("--lr", q.lr, S + "Adam's learning rate for the Q-function")->capture_default_str();
    c->add_option("--tabular-lr", tabular.lr, S + "qlearn-tabular's table update rate, in (0, 1]")->capture_default_str();
    c->add_option("--epsilon", q.epsilon, S + "exploration probability while training")->capture_default_str();
    c->add_option("--hidden", q.hidden, S + "qlearn-mlp's hidden width")->capture_default_str();
    c->add_option("--batch", q.batch, S + "replayed transitions per update")->capture_default_str();
    c->add_option("--replay", q.replay, S + "replay buffer capacity (transitions)")->capture_default_str();
    c->add_option("--target-every", q.target_every, S + "updates between target-network copies")->capture_default_str();
    c->add_option("--curve", curve, S + "write the mean reward at each step per policy as JSON lines");
    return c;
  }

  int run_sessions(const er::Interactions& d, const er::LoadReport& report) {
    std::vector<std::string> names = split_list(policies);
    if (names.empty()) throw er::Error("--policies names no policy");
    for (const auto& n : names)
      if (n != "random" && n != "greedy" && n != "qlearn-linear" && n != "qlearn-mlp" && n != "qlearn-tabular")
        throw er::Error("unknown session policy '" + n + "' (valid: random, greedy, qlearn-linear, qlearn-mlp, qlearn-tabular)");
    session.reward = o.reward;
    session.threshold = o.threshold;
    session.seed = o.seed;
    session.candidates = candidates_flag->count() > 0 ? o.candidates : 50;
    auto backend = er::make_backend("cpu", 1);
    const auto progress = make_progress(quiet || json_out);
    const auto hidden = er::fit_hidden_preferences(d, o.seed, *backend, progress);
    auto base = er::make_model(er::parse_kind(base_model));
    er::Hyper h;
    h.seed = o.seed;
    base->fit(d, h, *backend, progress);
    const er::BanditFeatures features(*base, context_dims);
    const er::SessionSimulator sim(*hidden, features, session);
    std::vector<er::SessionEval> results;
    json trained = json::object();
    for (const auto& n : names) {
      if (n == "random") {
        results.push_back(er::evaluate_sessions(sim, n, er::random_chooser(sim, er::mix_seed(o.seed, 0x72616e64ull)),
                                                eval_sessions, o.seed));
      } else if (n == "greedy") {
        results.push_back(er::evaluate_sessions(sim, n, er::greedy_chooser(sim), eval_sessions, o.seed));
      } else if (n == "qlearn-tabular") {
        er::TabularSessionOptions to = tabular;
        to.gamma = q.gamma;
        to.epsilon = q.epsilon;
        to.sessions = q.sessions;
        to.seed = o.seed;
        const auto start = std::chrono::steady_clock::now();
        const auto table = er::TabularSessionQ::train(sim, to);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        results.push_back(er::evaluate_sessions(sim, n, er::tabular_chooser(sim, table), eval_sessions, o.seed));
        trained[n] = {{"states", table.table().states}, {"actions", table.table().actions},
                      {"updates", static_cast<std::uint64_t>(to.sessions) * static_cast<std::uint64_t>(session.steps)},
                      {"seconds", seconds}};
      } else {
        er::QApproxOptions qo = q;
        qo.kind = n == "qlearn-mlp" ? er::QApprox::mlp : er::QApprox::linear;
        qo.seed = o.seed;
        er::QTrainReport tr;
        const auto fn = er::QFunction::train(sim, *backend, qo, &tr, progress);
        results.push_back(er::evaluate_sessions(sim, n, er::q_chooser(sim, fn), eval_sessions, o.seed));
        trained[n] = {{"updates", tr.updates}, {"train_reward_per_session", tr.reward_per_session},
                      {"seconds", tr.seconds}};
      }
    }
    if (!curve.empty()) {
      std::string lines;
      for (const auto& r : results)
        for (std::size_t t = 0; t < r.reward_at_step.size(); ++t)
          lines += json{{"policy", r.policy}, {"step", t + 1}, {"reward", r.reward_at_step[t]}}.dump() + "\n";
      er::write_atomically(curve, lines);
    }
    if (json_out) {
      json rows = json::array();
      for (const auto& r : results) {
        json row{{"policy", r.policy}, {"reward_per_session", r.reward_per_session}, {"rating", r.rating},
                 {"reward_at_step", r.reward_at_step}};
        if (trained.contains(r.policy)) row["training"] = trained[r.policy];
        rows.push_back(row);
      }
      std::cout << json{{"mode", "sessions"}, {"data", data.path}, {"seed", o.seed}, {"hidden_model", "svd"},
                        {"base_model", base_model}, {"reward", reward}, {"threshold", o.threshold},
                        {"session_steps", session.steps}, {"candidates", session.candidates},
                        {"history", session.history}, {"boredom", session.boredom},
                        {"boredom_decay", session.boredom_decay}, {"train_users", sim.train_users().size()},
                        {"eval_users", sim.eval_users().size()}, {"train_sessions", q.sessions},
                        {"eval_sessions", eval_sessions},
                        {"q", {{"gamma", q.gamma}, {"lr", q.lr}, {"tabular_lr", tabular.lr}, {"epsilon", q.epsilon}, {"hidden", q.hidden},
                               {"batch", q.batch}, {"replay", q.replay}, {"target_every", q.target_every},
                               {"context_dims", features.dims()}}},
                        {"policies", rows}, {"load", report_json(report)}}
                       .dump(-1, ' ', false, kInvalidUtf8)
                << "\n";
      return 0;
    }
    std::printf("sessions of %d shows over %d candidates (base model %s), boredom %g decay %g; hidden "
                "preferences: svd on %s (seed %llu); %zu training users, %zu held-out users, %d evaluation "
                "sessions per policy\n",
                session.steps, session.candidates, base_model.c_str(), session.boredom, session.boredom_decay,
                data.path.c_str(), static_cast<unsigned long long>(o.seed), sim.train_users().size(),
                sim.eval_users().size(), eval_sessions);
    std::printf("  %-14s %18s %14s\n", "policy", "reward/session", "mean rating");
    for (const auto& r : results)
      std::printf("  %-14s %18.4f %14.4f\n", r.policy.c_str(), r.reward_per_session, r.rating);
    return 0;
  }

  int run() {
    if (reward == "threshold") o.reward = er::RewardModel::threshold;
    else if (reward == "bernoulli") o.reward = er::RewardModel::bernoulli;
    else throw er::Error("unknown --reward '" + reward + "' (valid: threshold, bernoulli)");
    if (!std::isfinite(o.threshold)) throw er::Error("--threshold must be a finite number");
    er::LoadReport report;
    const auto d = data.load(&report);
    if (!json_out) print_report(report, data.path);
    if (sessions_flag->count() > 0) return run_sessions(d, report);
    auto backend = er::make_backend("cpu", 1);
    const auto r = er::simulate_bandit_log(d, o, *backend, make_progress(quiet || json_out));
    er::write_atomically(out, er::format_bandit_log(r.log));
    if (json_out)
      std::cout << json{{"out", out}, {"events", o.events}, {"candidates", o.candidates},
                        {"reward", reward}, {"threshold", o.threshold}, {"seed", o.seed},
                        {"users", d.n_users()}, {"items", d.n_items()}, {"hidden_model", "svd"},
                        {"click_rate", r.click_rate}, {"best_click_rate", r.best_click_rate},
                        {"excluded_users", r.excluded_users},
                        {"fit_seconds", r.fit_seconds}, {"data", data.path}, {"load", report_json(report)}}
                       .dump(-1, ' ', false, kInvalidUtf8)
                << "\n";
    else
      std::printf("wrote %s: %llu events, %d candidates each, logged click rate %.4f (best candidate "
                  "%.4f); hidden preferences: svd on %s (seed %llu)\n",
                  out.c_str(), static_cast<unsigned long long>(o.events), o.candidates, r.click_rate,
                  r.best_click_rate, data.path.c_str(), static_cast<unsigned long long>(o.seed));
    return 0;
  }
};

std::string search_space_help() {
  std::string s = "Search spaces (random search; flags given on the command line are kept fixed):\n";
  for (const char* k : {"baseline", "svd", "svdpp", "ials", "bpr", "itemknn"}) {
    s += std::string("  ") + k + ":\n";
    std::istringstream lines(er::describe_search_space(er::parse_kind(k)));
    for (std::string line; std::getline(lines, line);) s += "    " + line + "\n";
  }
  return s;
}

struct TuneCmd {
  DataFlags data;
  ModelFlags model;
  ProtocolFlags p;
  int trials = 20;
  std::string objective;
  bool final_test = false, json_out = false, quiet = false;

  CLI::App* add(CLI::App& app) {
    auto* c = app.add_subcommand(
        "tune",
        "Random search of hyper-parameters scored on the validation part of the protocol's "
        "training part only (never its test part); --final then tests the chosen configuration");
    data.add(c, true);
    model.add(c);
    p.add(c, true);
    c->add_option("--trials", trials, "configurations to try (the budget)")->capture_default_str();
    c->add_option("--objective", objective,
                  "validation metric to optimise (default: rmse for rating models on rated data, "
                  "else ndcg@K of the full ranking; rmse/mae are minimised, others maximised)");
    c->add_flag("--final", final_test,
                "retrain the best configuration on the whole training part (train + validation) "
                "and report its test metrics (kfold: fold 0, the fold the search ran on)");
    c->add_flag("--json", json_out, "print one JSON object on stdout (every trial)");
    c->add_flag("--quiet", quiet, "no progress bar");
    c->footer(search_space_help() +
              "The search seed is --seed (also the models' seed; the split seed unless --split-seed).\n"
              "kfold: the search and --final use fold 0 (the other folds' test rows are in its "
              "training part).\n");
    return c;
  }

  int run(CLI::App* c) {
    er::LoadReport report;
    auto d = data.load(&report);
    if (!json_out) print_report(report, data.path);
    p.resolve(c, model, d);
    const auto kind = er::parse_kind(model.kind);
    auto backend = er::make_backend(model.backend, model.threads);
    auto bar = make_progress(quiet || json_out);
    er::Progress progress;
    if (bar)
      progress = [bar](const char* stage, int done, int total) {
        if (std::strcmp(stage, "trial") == 0) bar(stage, done, total);
      };
    er::TuneOptions o;
    o.eval = p.eval;
    o.trials = trials;
    o.seed = model.hyper.seed;
    o.objective = objective;

    // The search sees only the training part: all of --data when the test part is a file,
    // else the protocol's split of --data (fold 0 for kfold).
    const bool test_is_file = p.eval.protocol == er::Protocol::ncf || !p.test_path.empty();
    std::optional<er::Split> outer;
    if (!test_is_file) outer = er::protocol_split(d, p.eval, 0);
    const auto t = er::tune(outer ? outer->train : d, kind, model.hyper, o, *backend, progress);
    const auto& best = t.trials[t.best];

    std::optional<er::EvalResult> fin;
    std::optional<er::AlignReport> align;
    if (final_test) {
      if (p.eval.protocol == er::Protocol::ncf) {
        if (p.test_rating.empty() || p.test_negative.empty())
          throw er::Error("--final with --protocol ncf needs --test-rating and --test-negative");
        const auto test = er::load_ncf_test(p.test_rating, p.test_negative, d);
        fin = er::evaluate_ncf(d, test, kind, best.hyper, p.eval, *backend, {});
      } else if (!p.test_path.empty()) {
        er::LoadReport test_report;
        align.emplace();
        auto test = p.load_test(data, d, *align, test_report, json_out);
        fin = er::evaluate_split(er::Split{std::move(d), std::move(test)}, kind, best.hyper, p.eval,
                                 *backend, {});
        fin->order.clear();
      } else {
        fin = er::evaluate_split(*outer, kind, best.hyper, p.eval, *backend, {});
      }
    }

    if (json_out) {
      json trials_json = json::array();
      for (std::size_t i = 0; i < t.trials.size(); ++i)
        trials_json.push_back({{"trial", i + 1}, {"score", t.trials[i].score},
                               {"flags", er::hyper_flags(kind, t.trials[i].hyper)},
                               {"hyper", hyper_json(t.trials[i].hyper.merged_over(er::default_hyper(kind)))},
                               {"metrics", metrics_json(t.trials[i].metrics)},
                               {"fit_seconds", t.trials[i].fit_seconds}});
      for (std::size_t i = 0; i < t.trials.size(); ++i)
        if (!t.trials[i].error.empty()) trials_json[i]["error"] = t.trials[i].error;
      json j{{"model", er::kind_name(kind)}, {"protocol", er::protocol_name(p.eval.protocol)},
             {"objective", t.objective}, {"minimise", t.minimise}, {"seed", model.hyper.seed},
             {"split_seed", p.eval.seed}, {"fit_rows", t.fit_rows},
             {"validation_rows", t.validation_rows}, {"trials", trials_json},
             {"best", {{"trial", t.best + 1}, {"score", best.score},
                       {"flags", er::hyper_flags(kind, best.hyper)},
                       {"hyper", hyper_json(best.hyper.merged_over(er::default_hyper(kind)))}}},
             {"data", data.path}, {"threads", backend->threads()}, {"load", report_json(report)}};
      put_backend(j, *backend);
      if (p.eval.protocol == er::Protocol::kfold) j["fold"] = 0;
      if (!t.order.empty()) j["order"] = t.order;
      if (fin) {
        json f = eval_json(*fin);
        p.put_json(f, align ? &*align : nullptr);
        j["final"] = f;
      }
      std::cout << j.dump(-1, ' ', false, kInvalidUtf8) << "\n";
      return 0;
    }
    std::printf("tune %s, %s protocol%s: %zu trials fitted on %llu rows, scored on the %llu-row "
                "validation part of the training part (the test part is not used)\n",
                er::kind_name(kind), er::protocol_name(p.eval.protocol),
                p.eval.protocol == er::Protocol::kfold ? " (fold 0)" : "", t.trials.size(),
                static_cast<unsigned long long>(t.fit_rows),
                static_cast<unsigned long long>(t.validation_rows));
    print_order(t.order, "validation");
    std::printf("objective: validation %s (%s is better)\n", t.objective.c_str(),
                t.minimise ? "lower" : "higher");
    for (std::size_t i = 0; i < t.trials.size(); ++i)
      std::printf("  %3zu  %.4f  %s%s%s\n", i + 1, t.trials[i].score,
                  er::hyper_flags(kind, t.trials[i].hyper).c_str(),
                  t.trials[i].error.empty() ? "" : "  failed: ", t.trials[i].error.c_str());
    std::printf("best: trial %zu, validation %s %.4f\n  %s\n", t.best + 1, t.objective.c_str(),
                best.score, er::hyper_flags(kind, best.hyper).c_str());
    if (fin) {
      std::printf("final: the best configuration retrained on the whole training part (%llu rows); "
                  "test metrics (%llu test rows):\n",
                  static_cast<unsigned long long>(fin->train_rows),
                  static_cast<unsigned long long>(fin->test_rows));
      print_order(fin->order, order_label(p.eval.protocol));
      p.print_notes(align ? &*align : nullptr);
      print_metrics(*fin);
    }
    return 0;
  }
};

struct ServeFlags {
  std::string model_path;
  int k = 10;
  bool json_out = false;
  void add(CLI::App* c) {
    c->add_option("--model", model_path, "model file")->required();
    c->add_option("-k,--k", k, "how many items")->capture_default_str()->check(CLI::Range(0, 1000000));
    c->add_flag("--json", json_out, "print one JSON object on stdout");
  }
};

struct RecommendCmd {
  ServeFlags s;
  std::vector<std::string> user_ids;
  std::string items;
  std::string include, exclude, filter, user_meta;
  bool include_seen = false, explain = false, cold = false;
  float shrinkage = er::BlendOptions{}.shrinkage;
  std::string rerank = "none";
  er::RerankOptions rerank_options;

  CLI::App* add(CLI::App& app) {
    auto* c = app.add_subcommand("recommend", "Top-K items for a known user, or for a new user from --items");
    s.add(c);
    c->add_option("--rerank", rerank,
                  "re-rank the model's top --rerank-pool x K to K: mmr (diversity over item factors or "
                  "metadata content), calibrated (genre proportions of the user's items, Steck 2018) or "
                  "popularity (long-tail boost, xQuAD as Abdollahpouri et al. 2019)")
        ->capture_default_str();
    c->add_option("--rerank-lambda", rerank_options.lambda,
                  "mmr: weight of the score (1 = no change); calibrated, popularity: weight of calibration / the long tail (0 = no change)")
        ->capture_default_str()
        ->check(CLI::Range(0.0, 1.0));
    c->add_option("--rerank-pool", rerank_options.pool_factor, "re-ranking candidates: this many times K")
        ->capture_default_str()
        ->check(CLI::Range(1, 1000));
    c->add_option("--user", user_ids, "user id (repeat for a batch)");
    c->add_option("--items", items, "a new user's interactions: item[:value],... (fold-in)");
    c->add_option("--user-meta", user_meta,
                  "a new user's features: --user ID names a user the model does not know and this "
                  "user-feature file (as train's --user-meta) describes; with --items, also their "
                  "interactions (two-tower trained with --user-meta)");
    c->add_option("--include", include, "only recommend these items (comma-separated ids)");
    c->add_option("--exclude", exclude, "never recommend these items (comma-separated ids)");
    c->add_flag("--include-seen", include_seen, "allow items the user already interacted with");
    c->add_flag("--explain", explain, "add the user's items that contributed most to each");
    c->add_option("--filter", filter,
                  "only items with one of these values of a categorical metadata field: FIELD=V1|V2 "
                  "(e.g. genres=Action); without --user and --items: a brand-new user, popular items within it");
    c->add_flag("--cold", cold,
                "item cold start (needs item metadata): rank every item with metadata, those without "
                "interactions included, by content scores blended with the model's (see --blend-shrinkage)");
    c->add_option("--blend-shrinkage", shrinkage,
                  "--cold: interactions at which an item's content and collaborative scores weigh the same")
        ->capture_default_str()->check(CLI::Range(0.0f, 1e9f));
    return c;
  }

  int run() {
    if (!user_meta.empty()) return run_described();
    if (!user_ids.empty() && !items.empty()) throw er::Error("give either --user ID or --items LIST");
    if (user_ids.empty() && items.empty() && filter.empty() && !cold)
      throw er::Error("give either --user ID or --items LIST (or --filter for a brand-new user)");
    const auto m = er::load_model(s.model_path);
    rerank_options.kind = er::parse_rerank(rerank);
    if (cold && rerank_options.kind != er::RerankKind::none) throw er::Error("--rerank does not apply to --cold rankings");
    if (cold) return run_meta(*m);
    er::Recommender rec(*m);
    er::RecommendOptions o;
    o.k = rerank_options.kind == er::RerankKind::none ? s.k : s.k * rerank_options.pool_factor;
    o.exclude_seen = !include_seen;
    o.include = split_list(include);
    o.exclude = split_list(exclude);
    apply_filter(*m, o);
    std::vector<json> results;
    std::optional<er::Reranker> reranker;
    if (rerank_options.kind != er::RerankKind::none) reranker.emplace(*m, rerank_options.kind);
    auto one = [&](const std::string& label, const std::vector<er::Recommendation>& pool,
                   const std::vector<er::UserInteraction>* history, json extra) {
      std::vector<er::Recommendation> recs = pool;
      if (reranker) {
        // Calibrated's target: the user's items (training history, or the new user's --items).
        std::vector<er::index_t> items_of;
        if (history) {
          for (const auto& h : *history)
            if (const auto i = m->items.find(h.item); i >= 0 && i < m->n_items()) items_of.push_back(static_cast<er::index_t>(i));
        } else if (const auto u = m->users.find(label); u >= 0 && static_cast<er::index_t>(u) < m->seen.rows()) {
          const auto uu = static_cast<er::index_t>(u);
          items_of.assign(m->seen.row_indices(uu), m->seen.row_indices(uu) + m->seen.row_size(uu));
        }
        recs = er::rerank_recommendations(*m, *reranker, pool, items_of, rerank_options.lambda, s.k);
      }
      json j{{"user", label}, {"items", recs_json(recs, *m)}};
      j.update(extra);
      std::vector<std::string> text;
      if (explain)
        for (std::size_t r = 0; r < recs.size(); ++r) {
          const auto e = history ? rec.explain_for(*history, recs[r].item, 3) : rec.explain(label, recs[r].item, 3);
          add_explanation(j["items"][r], e, "because", false);
          std::string b;
          for (const auto& w : e.weights) b += (b.empty() ? "" : ", ") + w.item;
          text.push_back(b);
        }
      if (s.json_out) {
        results.push_back(j);
      } else {
        std::printf("recommendations for %s:\n", label.c_str());
        for (std::size_t r = 0; r < recs.size(); ++r) {
          std::printf("%3zu. %-24s %.4f%s", r + 1, recs[r].item.c_str(), recs[r].score,
                      item_label(*m, recs[r].item).c_str());
          if (explain && !text[r].empty()) std::printf("   because of %s", text[r].c_str());
          std::printf("\n");
        }
      }
    };
    if (!items.empty() || user_ids.empty()) {
      // (No --user and no --items: a brand-new user, with --filter.)
      const auto history = items.empty() ? std::vector<er::UserInteraction>{} : parse_interactions(items);
      int ignored = 0;
      er::ScoreExplanation report;
      const auto recs = rec.recommend_for(history, o, &ignored, &report);
      one("(new user)", recs, &history, json{{"history", history_json(report.history, ignored, report.popularity)}});
      if (!s.json_out) print_history_notes(report.history, ignored, report.popularity);
    } else if (user_ids.size() == 1) {
      one(user_ids[0], rec.recommend(user_ids[0], o), nullptr, json::object());
    } else {
      auto backend = er::make_openmp_backend();
      const auto all = rec.recommend_batch(user_ids, o, *backend);
      for (std::size_t u = 0; u < user_ids.size(); ++u) one(user_ids[u], all[u], nullptr, json::object());
    }
    if (s.json_out) {
      if (results.size() == 1) std::cout << results[0].dump(-1, ' ', false, kInvalidUtf8) << "\n";
      else std::cout << json{{"results", results}}.dump(-1, ' ', false, kInvalidUtf8) << "\n";
    }
    return 0;
  }
  int run_meta(const er::Model& m);
  int run_described();
  // --filter: the model's own ranking and scores, restricted to the items the filter lets
  // through (and --include, when given).
  void apply_filter(const er::Model& m, er::RecommendOptions& o) const {
    if (filter.empty()) return;
    const std::vector<std::uint8_t> pass = er::ColdStart(m).filter_rows(filter);
    std::vector<std::string> allowed;
    for (er::index_t i = 0; i < m.n_items(); ++i)
      if (pass[i] && (o.include.empty() || std::find(o.include.begin(), o.include.end(), m.items.id(i)) != o.include.end()))
        allowed.push_back(m.items.id(i));
    if (allowed.empty()) o.k = 0;  // an empty include list would allow every item
    o.include = std::move(allowed);
  }
};

// recommend --user-meta: a new user from their row of a user-feature file (and --items).
int RecommendCmd::run_described() {
  if (user_ids.size() != 1) throw er::Error("--user-meta: give one --user ID, the new user the file describes");
  if (cold || explain || rerank != "none")
    throw er::Error("--user-meta does not combine with --cold, --explain or --rerank");
  const std::string& id = user_ids[0];
  const auto m = er::load_model(s.model_path);
  if (m->users.find(id) >= 0)
    throw er::Error("--user-meta: user '" + id + "' is known to the model (the features are for new users; drop --user-meta)");
  const er::UserMeta meta = er::load_user_meta(user_meta);
  const std::int64_t row = meta.find(id);
  if (row < 0) throw er::Error("--user-meta: user '" + id + "' is not in " + user_meta);
  er::RecommendOptions o;
  o.k = s.k;
  o.exclude_seen = !include_seen;
  o.include = split_list(include);
  o.exclude = split_list(exclude);
  apply_filter(*m, o);
  const auto history = items.empty() ? std::vector<er::UserInteraction>{} : parse_interactions(items);
  int ignored = 0;
  er::Recommender rec(*m);
  const auto recs = rec.recommend_described(history, meta, row, o, &ignored);
  if (s.json_out) {
    json j{{"user", id}, {"items", recs_json(recs, *m)}, {"user_meta", user_meta}, {"unknown", ignored}};
    std::cout << j.dump(-1, ' ', false, kInvalidUtf8) << "\n";
  } else {
    if (ignored > 0) std::cerr << "edgerec: " << ignored << " unknown item id(s) in --items ignored\n";
    std::printf("recommendations for %s (new user, from %s%s):\n", id.c_str(), user_meta.c_str(),
                history.empty() ? "" : " and --items");
    print_recs(recs, *m);
  }
  return 0;
}

// recommend --cold: over the item metadata (er::ColdStart), cold items included.
int RecommendCmd::run_meta(const er::Model& m) {
  if (explain) throw er::Error("--explain does not apply to --cold rankings");
  if (!include.empty() || !exclude.empty()) throw er::Error("--include / --exclude do not combine with --cold");
  if (user_ids.size() > 1) throw er::Error("--cold takes one --user");
  er::ColdStart cs(m);
  er::ColdStartOptions o;
  o.k = s.k;
  o.exclude_seen = !include_seen;
  o.filter = filter;
  o.blend.shrinkage = shrinkage;
  std::vector<er::Recommendation> recs;
  std::string label = "(new user)";
  int ignored = 0;
  if (!user_ids.empty()) {
    label = user_ids[0];
    recs = cs.recommend(label, o);
  } else {
    recs = cs.recommend_for(parse_interactions(items), o, &ignored);
  }
  if (s.json_out) {
    json j{{"user", label}, {"items", recs_json(recs, m)}, {"mode", "cold"}, {"blend_shrinkage", shrinkage}};
    if (!filter.empty()) j["filter"] = filter;
    if (user_ids.empty()) j["unknown"] = ignored;
    std::cout << j.dump(-1, ' ', false, kInvalidUtf8) << "\n";
  } else {
    if (ignored > 0) std::cerr << "edgerec: " << ignored << " unknown item id(s) in --items ignored\n";
    std::printf("recommendations for %s (content and collaborative scores blended):\n", label.c_str());
    print_recs(recs, m);
  }
  return 0;
}

struct SimilarCmd {
  ServeFlags s;
  std::string item, features;
  bool content = false;
  CLI::App* add(CLI::App& app) {
    auto* c = app.add_subcommand("similar", "Items most similar to an item");
    s.add(c);
    c->add_option("--item", item, "item id (an item with metadata but no interactions: by content)");
    c->add_option("--features", features,
                  "or an item given only its metadata: FIELD=V1|V2;FIELD=NUMBER (e.g. "
                  "\"genres=Action|Comedy;year=1995\"), ranked by content (two-tower: embedded by its item "
                  "tower and ranked in its item space)");
    c->add_flag("--content", content,
                "rank by content (metadata features) even for an item the model knows, or a two-tower model's --features");
    return c;
  }
  int run() {
    if (item.empty() == features.empty()) throw er::Error("give either --item ID or --features DESCRIPTION");
    const auto m = er::load_model(s.model_path);
    std::vector<er::Recommendation> recs;
    // The model scores the items it knows; an item known only from metadata needs content.
    bool by_content = !features.empty() || content || (m->items.find(item) < 0 && m->item_meta &&
                                                       m->item_meta->find(item) >= 0);
    if (by_content) {
      er::ColdStart cs(*m);
      bool by_tower = false;
      recs = features.empty() ? cs.similar(item, s.k, content, &by_tower) : cs.similar_to(features, s.k, content, &by_tower);
      by_content = !by_tower;
    } else {
      er::Recommender rec(*m);
      recs = rec.similar(item, s.k);
    }
    const std::string label = features.empty() ? item : "(" + features + ")";
    if (s.json_out) {
      json j{{"item", label}, {"items", recs_json(recs, *m)}, {"by", by_content ? "content" : "model"}};
      if (!features.empty()) j["features"] = features;
      else add_item_meta(j, *m, item);
      std::cout << j.dump(-1, ' ', false, kInvalidUtf8) << "\n";
    } else {
      std::printf("items similar to %s%s%s:\n", label.c_str(), features.empty() ? item_label(*m, item).c_str() : "",
                  by_content ? " (by content)" : "");
      print_recs(recs, *m);
    }
    return 0;
  }
};

struct ExplainCmd {
  ServeFlags s;
  std::string user, item, items;
  CLI::App* add(CLI::App& app) {
    auto* c = app.add_subcommand("explain", "How an item's served score splits over a user's items");
    s.add(c);
    s.k = -1;  // every item of the history (CLI11 range-checks only a given -k)
    c->add_option("--user", user, "known user id");
    c->add_option("--items", items, "or a new user's interactions: item[:value],...");
    c->add_option("--item", item, "the recommended item to explain")->required();
    return c;
  }
  int run() {
    if (user.empty() == items.empty()) throw er::Error("give either --user ID or --items LIST");
    const auto m = er::load_model(s.model_path);
    er::Recommender rec(*m);
    const er::ScoreExplanation e = user.empty() ? rec.explain_for(parse_interactions(items), item, s.k)
                                                : rec.explain(user, item, s.k);
    const int ignored = e.unknown;
    if (s.json_out) {
      json j{{"user", user.empty() ? "(new user)" : user}, {"item", item}};
      add_item_meta(j, *m, item);
      add_explanation(j, e, "weights", true);
      for (auto& w : j["weights"]) add_item_meta(w, *m, w["item"].get<std::string>());
      if (user.empty()) j["history"] = history_json(e.history, ignored, e.popularity);
      std::cout << j.dump(-1, ' ', false, kInvalidUtf8) << "\n";
    } else {
      if (user.empty()) print_history_notes(e.history, ignored, e.popularity);
      std::printf("%s%s scores %.4f for %s%s\n", item.c_str(), item_label(*m, item).c_str(), e.score,
                  user.empty() ? "the new user" : user.c_str(), e.exact ? "" : " (not an exact split: see the note)");
      for (const auto& x : e.weights)
        std::printf("  %-24s %+.4f%s\n", x.item.c_str(), x.weight, item_label(*m, x.item).c_str());
      if (e.others != 0) std::printf("  %-24s %+.4f\n", "(the other items)", e.others);
      std::printf("  %-24s %+.4f\n", "(rest)", e.rest);
      std::printf("%s\n", e.note.c_str());
    }
    return 0;
  }
};

struct InfoCmd {
  std::string path;
  bool json_out = false;
  CLI::App* add(CLI::App& app) {
    auto* c = app.add_subcommand("info", "Describe a model file (checks it fully)");
    c->add_option("--model", path, "model file")->required();
    c->add_flag("--json", json_out, "print one JSON object on stdout");
    return c;
  }
  int run() {
    const auto m = er::load_model(path);
    const auto bytes = std::filesystem::file_size(path);
    const auto* e = m->embeddings();
    // The file's own version (older files stay readable), from its header.
    std::ifstream in(path, std::ios::binary);
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto header = er::read_header(data.data(), data.size(), path);
    json j{{"file", path}, {"bytes", bytes}, {"format_version", header.version},
           {"model", er::kind_name(m->kind())}, {"users", m->n_users()}, {"items", m->n_items()},
           {"train_rows", m->info.train_rows}, {"source", m->info.source},
           {"fit_seconds", m->info.fit_seconds}, {"threads", m->info.threads},
           {"predicts_ratings", m->predicts_ratings()}, {"hyper", hyper_json(m->hyper)}};
    if (e) {
      j["dims"] = e->V.cols();
      j["item_matrix"] = e->items_int8 ? "int8" : "f32";
    }
    if (const auto& meta = m->item_meta) {
      json fields = json::object();
      for (const auto& f : meta->categorical) fields[f.name] = {{"type", "categorical"}, {"values", f.vocabulary.size()}};
      for (const auto& f : meta->numeric) fields[f.name] = {{"type", "numeric"}};
      j["item_meta"] = {{"rows", meta->rows()}, {"cold", meta->rows() - m->n_items()}, {"source", meta->source},
                        {"fields", fields}, {"vector_dims", meta->has_vector.empty() ? 0 : meta->vectors.cols()}};
    }
    // What it embeds from descriptions (two-tower): user features and the item tower.
    if (const auto d = m->described_inputs(); !d.user_categorical.empty() || !d.user_numeric.empty() || d.item_tower) {
      json fields = json::object();
      for (const auto& [name, values] : d.user_categorical) fields[name] = {{"type", "categorical"}, {"values", values}};
      for (const auto& name : d.user_numeric) fields[name] = {{"type", "numeric"}};
      j["user_features"] = fields;
      j["item_tower"] = d.item_tower;
    }
    // The scoring kernels this process runs ("avx2-fma" or "generic", chosen for this CPU).
    j["kernels"] = er::kernels::flavour();
    // Those of training ("avx512", "avx2" or "generic") and of matrix products.
    j["kernels_train"] = er::kernels::train_flavour();
    j["kernels_gemm"] = er::kernels::gemm_flavour();
    // The training backends of this binary: what --backend auto picks here, and why not CUDA.
    {
      std::string why;
      const bool cuda = er::cuda_available(&why);
      json b{{"default", cuda ? "cuda" : "openmp"}, {"cuda_built", er::cuda_built()}, {"cuda_available", cuda}};
      if (!cuda) b["cuda_reason"] = why;
      j["backends"] = b;
    }
    // How top-K serves this model (NormIndex in edgerec/topk.hpp): the norm-bounded visit or a
    // plain scan, and the sample the choice was made from.
    if (const auto* index = m->serving_index()) {
      const auto& c = index->choice();
      j["search"] = c.visit ? "visit" : "scan";
      j["search_sample"] = {{"source", c.source}, {"queries", c.queries}, {"scored", c.scored}, {"cost", c.cost}};
    }
    if (json_out) std::cout << j.dump(-1, ' ', false, kInvalidUtf8) << "\n";
    else std::cout << j.dump(2, ' ', false, kInvalidUtf8) << "\n";
    return 0;
  }
};

// `edgerec bench`: training speed on a backend, as one JSON object. The per-iteration figures are
// the intervals between the trainer's epoch callbacks (the first also holds the fit's setup:
// building the sparse matrices, uploading to a device), and their median is the headline.
struct BenchCmd {
  std::string backend = "auto";
  int threads = 0;
  er::index_t users = 138000, items = 27000;  // the shape of MovieLens 20M
  std::uint64_t interactions = 20000000;
  int factors = 256, epochs = 3, bpr_factors = 64, sasrec_epochs = 2;
  std::string ml1m, beauty;
  bool skip_synthetic = false;

  CLI::App* add(CLI::App& app) {
    auto* c = app.add_subcommand(
        "bench", "Time training on a backend (prints JSON): iALS s/iteration on a synthetic problem and "
                 "ML-1M, BPR s/epoch, SASRec s/epoch on Amazon Beauty, peak device memory");
    c->add_option("--backend", backend, "auto, cpu, openmp, cuda")
        ->capture_default_str()
        ->check(CLI::IsMember({"auto", "cpu", "openmp", "cuda"}));
    c->add_option("--threads", threads, "CPU worker threads (0 = all cores)")->check(CLI::Range(0, er::kMaxThreads));
    c->add_option("--users", users, "synthetic problem: users")->capture_default_str()->check(CLI::Range(1u, 1u << 30));
    c->add_option("--items", items, "synthetic problem: items")->capture_default_str()->check(CLI::Range(2u, 1u << 30));
    c->add_option("--interactions", interactions, "synthetic problem: interactions (before duplicates are removed)")
        ->capture_default_str()
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 32));
    c->add_option("--factors", factors, "iALS factors")->capture_default_str()->check(CLI::Range(1, 4096));
    c->add_option("--epochs", epochs, "iALS iterations / BPR epochs timed")->capture_default_str()->check(CLI::Range(1, 1000));
    c->add_option("--bpr-factors", bpr_factors, "BPR factors")->capture_default_str()->check(CLI::Range(1, 4096));
    c->add_flag("--no-synthetic", skip_synthetic, "skip the synthetic problem");
    c->add_option("--ml1m", ml1m, "MovieLens 1M data file (e.g. the NCF ml-1m.train.pairs.tsv): iALS and BPR on it");
    c->add_option("--beauty", beauty, "Amazon Beauty sequences (Beauty.txt): SASRec with its defaults on it");
    c->add_option("--sasrec-epochs", sasrec_epochs, "SASRec epochs timed")->capture_default_str()->check(CLI::Range(1, 1000));
    return c;
  }

  static double median(std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  }

  // Fits `kind` and times its epochs.
  json time_fit(er::ModelKind kind, const er::Interactions& data, const er::Hyper& hyper, er::Backend& b) {
    using clock = std::chrono::steady_clock;
    auto m = er::make_model(kind);
    const char* name = er::kind_name(kind);
    std::vector<double> intervals, records;
    auto last = clock::now();
    const auto t0 = last;
    er::Progress progress(
        [&](const char* stage, int, int) {
          if (std::strcmp(stage, name) != 0) return;
          const auto now = clock::now();
          intervals.push_back(std::chrono::duration<double>(now - last).count());
          last = now;
        },
        [&](const er::EpochRecord& r) { records.push_back(r.seconds); });
    m->fit(data, hyper, b, progress);
    const double total = std::chrono::duration<double>(clock::now() - t0).count();
    json j{{"users", data.n_users()}, {"items", data.n_items()}, {"interactions", data.rows.size()},
           {"fit_seconds", total}, {"hyper", hyper_json(hyper.merged_over(er::default_hyper(kind)))}};
    // The median of the epochs after the first when there are some: the first also holds the
    // setup (and a device's warm-up).
    const auto steady = [](const std::vector<double>& v) {
      return median(v.size() > 1 ? std::vector<double>(v.begin() + 1, v.end()) : v);
    };
    if (!records.empty()) {
      // Neural kinds: each epoch's training and validation pass (EpochRecord::seconds).
      j["epoch_seconds"] = records;
      j["seconds_per_epoch"] = steady(records);
      j["epoch_includes"] = "training and the validation pass";
    } else {
      j["iteration_seconds"] = intervals;
      j["seconds_per_iteration"] = steady(intervals);
    }
    return j;
  }

  int run() {
    auto b = er::make_backend(backend, threads);
    json j;
    put_backend(j, *b);
    j["threads"] = b->threads();
    er::Hyper als;
    als.factors = factors;
    als.epochs = epochs;
    er::Hyper bpr;
    bpr.factors = bpr_factors;
    bpr.epochs = epochs;
    if (!skip_synthetic) {
      er::SyntheticOptions o;
      o.users = users;
      o.items = items;
      o.interactions = interactions;
      o.ratings = false;
      const auto t0 = std::chrono::steady_clock::now();
      const auto data = er::generate_synthetic(o).data;
      j["synthetic_generate_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      j["ials_synthetic"] = time_fit(er::ModelKind::ials, data, als, *b);
      j["bpr_synthetic"] = time_fit(er::ModelKind::bpr, data, bpr, *b);
    }
    if (!ml1m.empty()) {
      er::LoadReport report;
      const auto data = er::load_interactions(ml1m, {}, &report);
      j["ials_ml1m"] = time_fit(er::ModelKind::ials, data, als, *b);
      j["ials_ml1m"]["data"] = ml1m;
      j["bpr_ml1m"] = time_fit(er::ModelKind::bpr, data, bpr, *b);
      j["bpr_ml1m"]["data"] = ml1m;
    }
    if (!beauty.empty()) {
      er::LoadReport report;
      const auto data = er::load_interactions(beauty, {}, &report);
      er::Hyper h;
      h.epochs = sasrec_epochs;
      h.patience = 0;
      j["sasrec_beauty"] = time_fit(er::ModelKind::sasrec, data, h, *b);
      j["sasrec_beauty"]["data"] = beauty;
    }
    put_backend(j, *b);  // again: the device's peak memory over every fit above
    std::cout << j.dump(-1, ' ', false, kInvalidUtf8) << "\n";
    return 0;
  }
};

struct StripCmd {
  std::string in, out;
  bool json_out = false;
  er::SaveOptions save;
  CLI::App* add(CLI::App& app) {
    auto* c = app.add_subcommand(
        "strip", "Keep only a model's item side, for serving new users on a device (drops user vectors, seen items, user ids)");
    c->add_option("--model", in, "model file to read")->required();
    c->add_option("--out", out, "model file to write (atomically)")->required();
    c->add_flag("--int8", save.int8_items,
                "store the item matrix as int8 codes with a per-row scale (a quarter of the bytes; "
                "scores move by up to 0.4% of an item's largest factor, so near-ties can swap)");
    c->add_flag("--json", json_out, "print one JSON object on stdout");
    return c;
  }
  int run() {
    const auto m = er::load_model(in);
    const auto before = std::filesystem::file_size(in);
    m->drop_users();
    er::save_model(*m, out, save);
    const auto after = std::filesystem::file_size(out);
    if (json_out)
      std::cout << json{{"model", er::kind_name(m->kind())}, {"out", out}, {"bytes_before", before},
                        {"bytes", after}, {"items", m->n_items()},
                        {"item_matrix", save.int8_items ? "int8" : "f32"}}
                       .dump(-1, ' ', false, kInvalidUtf8)
                << "\n";
    else
      std::cout << "wrote " << out << ": " << after << " bytes (was " << before << "), "
                << m->n_items() << " items, no users" << (save.int8_items ? ", int8 item matrix" : "") << "\n";
    return 0;
  }
};

struct ExportOnnxCmd {
  std::string model_path, out, user_vectors;
  er::OnnxExportOptions o;
  bool json_out = false;
  CLI::App* add(CLI::App& app) {
    auto* c = app.add_subcommand("export-onnx",
                                 "Write an embedding model's scoring graph (user vector x item matrix -> top-k, k an input) as ONNX");
    c->add_option("--model", model_path, "model file")->required();
    c->add_option("--out", out, "ONNX file to write (atomically)")->required();
    c->add_flag("--item-ids", o.item_ids, "also store the item ids in the file's metadata (edgerec.item_ids)");
    c->add_option("--user-vectors", user_vectors,
                  "also write the known users' inputs as JSON: {dims, has_offset, users, vectors, offsets}");
    c->add_flag("--json", json_out, "print one JSON object on stdout");
    return c;
  }
  int run() {
    const auto m = er::load_model(model_path);
    const auto t0 = std::chrono::steady_clock::now();
    const auto info = er::save_onnx(*m, out, o);
    if (!user_vectors.empty()) write_user_vectors(*m, info.has_offset);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (json_out)
      std::cout << json{{"model", er::kind_name(m->kind())}, {"out", out}, {"bytes", info.bytes},
                        {"items", info.items}, {"dims", info.dims},
                        {"has_offset", info.has_offset}, {"seconds", seconds}}
                       .dump(-1, ' ', false, kInvalidUtf8)
                << "\n";
    else
      std::cout << "wrote " << out << " (" << info.bytes << " bytes): " << er::kind_name(m->kind()) << ", "
                << info.items << " items x " << info.dims << " dims"
                << (info.has_offset ? ", with offset input" : "") << "; inputs user_vector"
                << (info.has_offset ? ", offset" : "") << ", k; outputs scores, indices\n";
    return 0;
  }

  // The graph's inputs for every known user, so the ONNX file can serve them outside edgerec
  // (and tests can feed onnxruntime). Floats go through JSON as doubles: they round-trip exactly.
  void write_user_vectors(const er::Model& m, bool has_offset) const {
    const auto* e = m.embeddings();
    json vectors = json::array(), offsets = json::array();
    for (er::index_t u = 0; u < m.n_users(); ++u) {
      json row = json::array();
      for (Eigen::Index d = 0; d < e->U.cols(); ++d) row.push_back(e->U(u, d));
      vectors.push_back(std::move(row));
      offsets.push_back(e->user_offset[u]);
    }
    const json j{{"dims", e->U.cols()}, {"has_offset", has_offset}, {"users", m.users.ids()},
                 {"vectors", std::move(vectors)}, {"offsets", std::move(offsets)}};
    er::write_atomically(user_vectors, j.dump(-1, ' ', false, kInvalidUtf8) + "\n");
  }
};

}  // namespace

// A usage error as one line (CLI11's own message has a second line and exit codes 100-120).
static int usage_error(const CLI::App& app, std::string what) {
  for (char& c : what)
    if (c == '\n' || c == '\r') c = ' ';
  std::string help = "edgerec --help";
  for (const CLI::App* sub : app.get_subcommands())
    help = "edgerec " + sub->get_name() + " --help";
  std::cerr << "edgerec: error: " << what << " (see '" << help << "')\n";
  return 2;
}

int main(int argc, char** argv) {
  CLI::App app{"edgerec " EDGEREC_VERSION " — recommender engine: train natively, serve anywhere"};
  app.require_subcommand(1);
  app.set_version_flag("--version", EDGEREC_VERSION);
  GenerateCmd generate;
  TrainCmd train;
  EvalCmd eval;
  RecommendCmd recommend;
  SimilarCmd similar;
  ExplainCmd explain;
  InfoCmd info;
  ExportOnnxCmd export_onnx;
  TuneCmd tune;
  SimulateCmd simulate;
  BenchCmd bench;
  auto* c_generate = generate.add(app);
  auto* c_train = train.add(app);
  auto* c_eval = eval.add(app);
  auto* c_tune = tune.add(app);
  auto* c_recommend = recommend.add(app);
  auto* c_similar = similar.add(app);
  auto* c_explain = explain.add(app);
  auto* c_info = info.add(app);
  StripCmd strip;
  auto* c_strip = strip.add(app);
  auto* c_export_onnx = export_onnx.add(app);
  auto* c_simulate = simulate.add(app);
  auto* c_bench = bench.add(app);
  // CLI11 would say "A subcommand is required" for a misspelt one.
  if (argc > 1 && argv[1][0] != '-') {
    const auto subs = static_cast<const CLI::App&>(app).get_subcommands([](const CLI::App*) { return true; });
    std::string names;
    bool known = false;
    for (const CLI::App* sub : subs) {
      names += (names.empty() ? "" : ", ") + sub->get_name();
      known = known || sub->check_name(argv[1]);
    }
    if (!known)
      return usage_error(app, "unknown subcommand '" + std::string(argv[1]) + "' (one of: " + names + ")");
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version: CLI11 prints them
    return usage_error(app, e.what());
  }
  try {
    if (c_generate->parsed()) return generate.run();
    if (c_train->parsed()) return train.run();
    if (c_eval->parsed()) return eval.run(c_eval);
    if (c_tune->parsed()) return tune.run(c_tune);
    if (c_recommend->parsed()) return recommend.run();
    if (c_similar->parsed()) return similar.run();
    if (c_explain->parsed()) return explain.run();
    if (c_info->parsed()) return info.run();
    if (c_strip->parsed()) return strip.run();
    if (c_export_onnx->parsed()) return export_onnx.run();
    if (c_simulate->parsed()) return simulate.run();
    if (c_bench->parsed()) return bench.run();
  } catch (const er::Error& e) {
    std::cerr << "edgerec: error: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    std::cerr << "edgerec: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "edgerec: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
