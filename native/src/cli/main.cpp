// edgerec — the native command line: generate, train, eval, recommend, similar, explain, info,
// export-onnx.
//
// Every subcommand and flag is declared once in the tables below (CLI11 turns them into --help,
// validation and defaults). Errors from the core arrive as edgerec::Error and leave as one line
// on stderr with exit status 1; usage errors exit 2 (CLI11's convention is kept).
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "edgerec/edgerec.hpp"
#include "edgerec/onnx_export.hpp"
#include "edgerec/openmp_backend.hpp"

namespace er = edgerec;
using nlohmann::json;
// Ids are bytes from the user's files and need not be UTF-8; JSON output replaces invalid
// sequences with U+FFFD instead of throwing.
constexpr auto kInvalidUtf8 = json::error_handler_t::replace;

namespace {

// ---- progress bar (stderr, only when it is a terminal) ----------------------------------------

er::Progress make_progress(bool quiet) {
  if (quiet || !isatty(fileno(stderr))) return {};
  return [](const char* stage, int done, int total) {
    const int width = 30;
    const int filled = total > 0 ? done * width / total : width;
    std::fprintf(stderr, "\r%-10s [%s%s] %d/%d", stage, std::string(filled, '#').c_str(),
                 std::string(width - filled, '.').c_str(), done, total);
    if (done >= total) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
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
                              "CSV/TSV, NCF *.train.pairs.tsv|*.train.rating), or 'synthetic' "
                              "for the embedded synthetic catalogue");
    if (required) d->required();
    app->add_option("--format", format, "auto, ml100k, ml1m, ml-latest, csv, ncf")->capture_default_str();
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
    app->add_option("--model", kind,
                    "Model kind: popularity, mean-baseline, baseline, svd, svdpp, ials, bpr, itemknn")
        ->capture_default_str();
    app->add_option("--factors", hyper.factors, "latent factors (default per model)");
    app->add_option("--epochs", hyper.epochs, "epochs / ALS iterations");
    app->add_option("--lr", hyper.lr, "SGD learning rate");
    app->add_option("--reg", hyper.reg, "L2 regularisation (baseline: of the user biases)");
    app->add_option("--bias-reg", hyper.bias_reg, "L2 regularisation of biases (baseline: of the item biases)");
    app->add_option("--alpha", hyper.alpha, "implicit confidence scale (c = 1 + alpha r)");
    app->add_option("--init-std", hyper.init_std, "std-dev of the initial factors");
    app->add_option("--neighbors", hyper.neighbors, "itemknn: neighbours kept per item");
    app->add_option("--cg-steps", hyper.cg_steps, "ials: conjugate-gradient steps per solve");
    app->add_option("--seed", hyper.seed, "random seed (same seed, same model)")->capture_default_str();
    app->add_option("--threads", threads, "worker threads (0 = all cores)")->capture_default_str();
    app->add_option("--backend", backend, "auto, cpu (serial reference), openmp")->capture_default_str();
  }
};

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
  j["seed"] = h.seed;
  return j;
}

json report_json(const er::LoadReport& r) {
  json rej = json::array();
  for (const auto& x : r.first_rejections)
    rej.push_back({{"line", x.line}, {"field", x.field}, {"reason", x.reason}});
  return {{"format", er::format_name(r.format)}, {"lines", r.lines},         {"accepted", r.accepted},
          {"rejected", r.rejected},              {"duplicates", r.duplicates}, {"below_threshold", r.below_threshold},
          {"kcore_removed", r.kcore_removed},    {"first_rejections", rej}};
}

void print_report(const er::LoadReport& r, const std::string& path) {
  if (r.rejected == 0) return;
  std::cerr << "edgerec: " << path << ": " << r.summary() << "\n";
  for (const auto& x : r.first_rejections)
    std::cerr << "  " << path << ":" << x.line << ": field '" << x.field << "': " << x.reason << "\n";
}

json recs_json(const std::vector<er::Recommendation>& recs) {
  json a = json::array();
  for (const auto& r : recs) a.push_back({{"item", r.item}, {"score", short_float(r.score)}});
  return a;
}

void print_recs(const std::vector<er::Recommendation>& recs) {
  int rank = 1;
  for (const auto& r : recs) std::printf("%3d. %-24s %.4f\n", rank++, r.item.c_str(), r.score);
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, ','))
    if (!x.empty()) out.push_back(x);
  return out;
}

// "item[:value],item[:value],..." — a new user's interactions on the command line.
std::vector<er::UserInteraction> parse_interactions(const std::string& s) {
  std::vector<er::UserInteraction> out;
  for (const auto& part : split_list(s)) {
    const auto colon = part.rfind(':');
    er::UserInteraction x;
    x.item = part.substr(0, colon);
    if (colon != std::string::npos) {
      const std::string v = part.substr(colon + 1);
      char* end = nullptr;
      x.value = std::strtof(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !std::isfinite(x.value))
        throw er::Error("--items: value '" + v + "' of item '" + x.item + "' is not a finite number");
    }
    out.push_back(x);
  }
  return out;
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
    c->add_option("--seed", o.seed, "random seed")->capture_default_str();
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
  bool json_out = false, quiet = false;

  CLI::App* add(CLI::App& app) {
    auto* c = app.add_subcommand("train", "Train a model on a data file and save it");
    data.add(c, true);
    model.add(c);
    c->add_option("--out", out, "model file to write (atomically)")->capture_default_str();
    c->add_flag("--json", json_out, "print one JSON object on stdout");
    c->add_flag("--quiet", quiet, "no progress bar");
    return c;
  }

  int run() {
    er::LoadReport report;
    const auto train = data.load(&report);
    if (!json_out) print_report(report, data.path);
    auto backend = er::make_backend(model.backend, model.threads);
    auto m = er::make_model(er::parse_kind(model.kind));
    m->fit(train, model.hyper, *backend, make_progress(quiet || json_out));
    er::save_model(*m, out);
    const auto bytes = std::filesystem::file_size(out);
    if (json_out) {
      json j{{"model", er::kind_name(m->kind())}, {"out", out}, {"bytes", bytes},
             {"users", m->n_users()}, {"items", m->n_items()}, {"train_rows", m->info.train_rows},
             {"fit_seconds", m->info.fit_seconds}, {"threads", m->info.threads},
             {"hyper", hyper_json(m->hyper)}, {"load", report_json(report)}};
      if (!m->info.loss.empty()) j["loss"] = m->info.loss;
      std::cout << j.dump(-1, ' ', false, kInvalidUtf8) << "\n";
    } else {
      std::cout << "trained " << er::kind_name(m->kind()) << " on " << m->info.train_rows << " interactions ("
                << m->n_users() << " users, " << m->n_items() << " items) in " << m->info.fit_seconds
                << " s; saved " << out << " (" << bytes << " bytes)\n";
    }
    return 0;
  }
};

struct EvalCmd {
  DataFlags data;
  ModelFlags model;
  er::EvalOptions eval;
  std::string protocol = "kfold";
  std::string test_rating, test_negative;
  std::optional<float> relevance;
  bool json_out = false, quiet = false;

  CLI::App* add(CLI::App& app) {
    auto* c = app.add_subcommand("eval", "Evaluate a model kind under a protocol (trains on the train part only)");
    data.add(c, true);
    model.add(c);
    c->add_option("--protocol", protocol, "holdout, kfold, loo (leave-last-out), temporal, ncf")->capture_default_str();
    c->add_option("--folds", eval.folds, "kfold: folds")->capture_default_str();
    c->add_option("--test-fraction", eval.test_fraction, "holdout/temporal: test share")->capture_default_str();
    c->add_option("-k,--k", eval.k, "ranking cut-off K")->capture_default_str();
    c->add_option("--negatives", eval.negatives, "loo: sampled negatives per user")->capture_default_str();
    c->add_option("--split-seed", eval.seed, "split seed (default: --seed)");
    c->add_option("--relevance-threshold", relevance, "ratings >= this are relevant in ranking metrics");
    c->add_option("--test-rating", test_rating, "ncf: *.test.rating file");
    c->add_option("--test-negative", test_negative, "ncf: *.test.negative file");
    c->add_flag("--no-ranking", [this](std::int64_t) { eval.ranking = false; }, "skip ranking metrics");
    c->add_flag("--json", json_out, "print one JSON object on stdout");
    c->add_flag("--quiet", quiet, "no progress bar");
    return c;
  }

  int run(CLI::App* c) {
    eval.protocol = er::parse_protocol(protocol);
    if (c->count("--split-seed") == 0) eval.seed = model.hyper.seed;
    if (relevance) eval.relevance_threshold = *relevance;
    er::LoadReport report;
    auto d = data.load(&report);
    if (!json_out) print_report(report, data.path);
    auto backend = er::make_backend(model.backend, model.threads);
    const auto kind = er::parse_kind(model.kind);
    const auto progress = make_progress(quiet || json_out);
    er::EvalResult r;
    if (eval.protocol == er::Protocol::ncf) {
      if (test_rating.empty() || test_negative.empty())
        throw er::Error("--protocol ncf needs --test-rating and --test-negative");
      const auto test = er::load_ncf_test(test_rating, test_negative, d);
      r = er::evaluate_ncf(d, test, kind, model.hyper, eval, *backend, progress);
    } else {
      r = er::evaluate(d, kind, model.hyper, eval, *backend, progress);
    }
    if (json_out) {
      json j{{"model", er::kind_name(kind)}, {"protocol", er::protocol_name(eval.protocol)},
             {"metrics", metrics_json(r.metrics)}, {"fit_seconds", r.fit_seconds},
             {"eval_seconds", r.eval_seconds}, {"folds", r.folds}, {"train_rows", r.train_rows},
             {"test_rows", r.test_rows}, {"threads", backend->threads()},
             {"hyper", hyper_json(model.hyper.merged_over(er::default_hyper(kind)))},
             {"data", data.path}, {"load", report_json(report)}};
      std::cout << j.dump(-1, ' ', false, kInvalidUtf8) << "\n";
    } else {
      std::printf("%s, %s protocol (%d fold%s): fit %.3f s, eval %.3f s\n", er::kind_name(kind),
                  er::protocol_name(eval.protocol), r.folds, r.folds == 1 ? "" : "s", r.fit_seconds,
                  r.eval_seconds);
      for (const auto& [k, v] : r.metrics) std::printf("  %-16s %.4f\n", k.c_str(), v);
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
  std::string include, exclude;
  bool include_seen = false, explain = false;

  CLI::App* add(CLI::App& app) {
    auto* c = app.add_subcommand("recommend", "Top-K items for a known user, or for a new user from --items");
    s.add(c);
    c->add_option("--user", user_ids, "user id (repeat for a batch)");
    c->add_option("--items", items, "a new user's interactions: item[:value],... (fold-in)");
    c->add_option("--include", include, "only recommend these items (comma-separated ids)");
    c->add_option("--exclude", exclude, "never recommend these items (comma-separated ids)");
    c->add_flag("--include-seen", include_seen, "allow items the user already interacted with");
    c->add_flag("--explain", explain, "add the user's items that contributed most to each");
    return c;
  }

  int run() {
    if (user_ids.empty() == items.empty()) throw er::Error("give either --user ID or --items LIST");
    const auto m = er::load_model(s.model_path);
    er::Recommender rec(*m);
    er::RecommendOptions o;
    o.k = s.k;
    o.exclude_seen = !include_seen;
    o.include = split_list(include);
    o.exclude = split_list(exclude);
    std::vector<json> results;
    auto one = [&](const std::string& label, const std::vector<er::Recommendation>& recs,
                   const std::vector<er::UserInteraction>* history) {
      json j{{"user", label}, {"items", recs_json(recs)}};
      if (explain)
        for (std::size_t r = 0; r < recs.size(); ++r) {
          const auto e = history ? rec.explain_for(*history, recs[r].item, 3) : rec.explain(label, recs[r].item, 3);
          json because = json::array();
          for (const auto& x : e) because.push_back({{"item", x.item}, {"weight", x.weight}});
          j["items"][r]["because"] = because;
        }
      if (s.json_out) {
        results.push_back(j);
      } else {
        std::printf("recommendations for %s:\n", label.c_str());
        for (std::size_t r = 0; r < recs.size(); ++r) {
          std::printf("%3zu. %-24s %.4f", r + 1, recs[r].item.c_str(), recs[r].score);
          if (explain) {
            std::string b;
            for (const auto& x : j["items"][r]["because"]) b += (b.empty() ? "" : ", ") + x["item"].get<std::string>();
            if (!b.empty()) std::printf("   because of %s", b.c_str());
          }
          std::printf("\n");
        }
      }
    };
    if (!items.empty()) {
      const auto history = parse_interactions(items);
      int ignored = 0;
      one("(new user)", rec.recommend_for(history, o, &ignored), &history);
      if (ignored > 0) std::cerr << "edgerec: " << ignored << " unknown item id(s) in --items ignored\n";
    } else if (user_ids.size() == 1) {
      one(user_ids[0], rec.recommend(user_ids[0], o), nullptr);
    } else {
      auto backend = er::make_openmp_backend();
      const auto all = rec.recommend_batch(user_ids, o, *backend);
      for (std::size_t u = 0; u < user_ids.size(); ++u) one(user_ids[u], all[u], nullptr);
    }
    if (s.json_out) {
      if (results.size() == 1) std::cout << results[0].dump(-1, ' ', false, kInvalidUtf8) << "\n";
      else std::cout << json{{"results", results}}.dump(-1, ' ', false, kInvalidUtf8) << "\n";
    }
    return 0;
  }
};

struct SimilarCmd {
  ServeFlags s;
  std::string item;
  CLI::App* add(CLI::App& app) {
    auto* c = app.add_subcommand("similar", "Items most similar to an item");
    s.add(c);
    c->add_option("--item", item, "item id")->required();
    return c;
  }
  int run() {
    const auto m = er::load_model(s.model_path);
    er::Recommender rec(*m);
    const auto recs = rec.similar(item, s.k);
    if (s.json_out) std::cout << json{{"item", item}, {"items", recs_json(recs)}}.dump(-1, ' ', false, kInvalidUtf8) << "\n";
    else {
      std::printf("items similar to %s:\n", item.c_str());
      print_recs(recs);
    }
    return 0;
  }
};

struct ExplainCmd {
  ServeFlags s;
  std::string user, item, items;
  CLI::App* add(CLI::App& app) {
    auto* c = app.add_subcommand("explain", "Which of a user's items made an item score high");
    s.add(c);
    s.k = 5;
    c->add_option("--user", user, "known user id");
    c->add_option("--items", items, "or a new user's interactions: item[:value],...");
    c->add_option("--item", item, "the recommended item to explain")->required();
    return c;
  }
  int run() {
    if (user.empty() == items.empty()) throw er::Error("give either --user ID or --items LIST");
    const auto m = er::load_model(s.model_path);
    er::Recommender rec(*m);
    const auto e = user.empty() ? rec.explain_for(parse_interactions(items), item, s.k) : rec.explain(user, item, s.k);
    if (s.json_out) {
      json a = json::array();
      for (const auto& x : e) a.push_back({{"item", x.item}, {"weight", x.weight}});
      std::cout << json{{"user", user.empty() ? "(new user)" : user}, {"item", item}, {"because", a}}.dump(-1, ' ', false, kInvalidUtf8) << "\n";
    } else {
      if (e.empty()) std::printf("%s models cannot attribute scores to the user's items\n", er::kind_name(m->kind()));
      for (const auto& x : e) std::printf("  %-24s %+.4f\n", x.item.c_str(), x.weight);
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
    std::ofstream f(user_vectors, std::ios::binary | std::ios::trunc);
    if (!f) throw er::Error("cannot write '" + user_vectors + "': " + std::strerror(errno));
    f << j.dump(-1, ' ', false, kInvalidUtf8) << "\n";
    f.flush();
    if (!f) throw er::Error("cannot write '" + user_vectors + "': " + std::strerror(errno));
  }
};

}  // namespace

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
  auto* c_generate = generate.add(app);
  auto* c_train = train.add(app);
  auto* c_eval = eval.add(app);
  auto* c_recommend = recommend.add(app);
  auto* c_similar = similar.add(app);
  auto* c_explain = explain.add(app);
  auto* c_info = info.add(app);
  StripCmd strip;
  auto* c_strip = strip.add(app);
  auto* c_export_onnx = export_onnx.add(app);
  CLI11_PARSE(app, argc, argv);
  try {
    if (c_generate->parsed()) return generate.run();
    if (c_train->parsed()) return train.run();
    if (c_eval->parsed()) return eval.run(c_eval);
    if (c_recommend->parsed()) return recommend.run();
    if (c_similar->parsed()) return similar.run();
    if (c_explain->parsed()) return explain.run();
    if (c_info->parsed()) return info.run();
    if (c_strip->parsed()) return strip.run();
    if (c_export_onnx->parsed()) return export_onnx.run();
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
