// edgerec/model.hpp — the model kinds, their hyper-parameters and the Model interface.
//
// A Model owns its parameters, the id maps of its training data, the training interactions by
// user (to exclude seen items and explain), and item popularity (cold start). It is trained by
// fit() through a Backend and then only read: every const method is safe to call from many
// threads at once. Scores are "higher is better"; explicit-rating models (baselines, SVD,
// SVD++) score in rating units (stars), so their scores are predicted ratings.
//
// Determinism: fit() gives the same parameters, bit for bit, for the same data, hyper-parameters,
// seed and backend thread count. Models that do not use stratified SGD (all but BPR) give the
// same result for any thread count.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "edgerec/backend.hpp"
#include "edgerec/data.hpp"
#include "edgerec/topk.hpp"

namespace edgerec {

class SaveArchive;
class LoadArchive;
struct ItemMeta;  // edgerec/item_meta.hpp

// Numbers are written into model files: never renumber, only append.
enum class ModelKind : std::uint32_t {
  popularity = 1,     // item interaction counts
  mean_baseline = 2,  // user mean + item mean - global mean
  baseline = 3,       // mu + b_u + b_i fitted by ALS (Surprise's BaselineOnly)
  svd = 4,            // biased MF by SGD (Funk / Koren)
  svdpp = 5,          // SVD++ (Koren 2008)
  ials = 6,           // implicit ALS with CG (Hu, Koren, Volinsky 2008)
  bpr = 7,            // Bayesian personalised ranking (Rendle 2009)
  itemknn = 8,        // item-item cosine k nearest neighbours
  neumf = 9,          // neural matrix factorisation, GMF + MLP (He et al. 2017)
  gru4rec = 10,       // next-item GRU over the user's history (Hidasi et al. 2016)
  lstm = 11,          // next-item LSTM over the user's history
  sasrec = 12,        // self-attentive sequential recommendation (Kang & McAuley 2018)
  two_tower = 13,     // user and item towers over ids, history and item metadata (Yi et al. 2019)
};
const char* kind_name(ModelKind kind);
ModelKind parse_kind(std::string_view name);      // throws Error listing the valid names
bool kind_is_valid(std::uint32_t value);
const std::vector<ModelKind>& all_kinds();

// Hyper-parameters. Unset fields take the model kind's default (see default_hyper()), which is
// tuned on MovieLens. Units: lr per sample; reg is the L2 weight lambda; alpha the implicit
// confidence scale (c = 1 + alpha * r); init_std the std-dev of the Gaussian factor init.
struct Hyper {
  std::optional<int> factors;
  std::optional<int> epochs;       // ALS/baseline: iterations
  std::optional<float> lr;
  std::optional<float> reg;
  std::optional<float> bias_reg;
  std::optional<float> alpha;
  std::optional<float> init_std;
  std::optional<int> neighbors;    // itemknn
  std::optional<int> cg_steps;     // ials
  // Neural kinds (epochs is their maximum: they stop early on a validation part, see
  // edgerec/nn/train.hpp). batch: examples per mini-batch; dropout: probability in [0, 1)
  // (two-tower: of zeroing an id embedding, its cold-start training); max_len: most recent items
  // of a history a sequence model reads (two-tower: most items its user tower averages per
  // example); layers: recurrent or attention blocks (neumf, two-tower: MLP layers); heads:
  // attention heads; train_negatives: sampled negatives per positive in training (two-tower: per
  // batch, beside the in-batch ones; not the evaluation's --negatives); patience: epochs without a
  // better validation score before stopping (0 = never stop early); val_negatives: how the
  // validation part is scored (0 = full ranking, the default; N = each held-out item among N
  // sampled items the user never interacted with, as the NCF protocol's test: evaluate_ncf sets
  // it to the test file's count when unset); pretrain (neumf): the most epochs of each of the
  // paper's two pre-training stages, GMF alone and MLP alone, before the fused model (0 = none);
  // refit (neumf; 1 = on, its default): after early stopping, train again from the same
  // initialisation on the whole training part, validation part included, for the epochs the
  // validation chose in each stage (0 = keep the early-stopped model); recent (neumf): each
  // user's `recent` most recent training interactions (time order; file order without
  // timestamps) are trained on twice per epoch, an extra copy each with its own negatives
  // (0 = none); lr_schedule (sasrec, gru4rec, lstm, two-tower): the learning rate over the
  // steps of --epochs (nn::LrSchedule: 0 constant, the default; 1 linear, 2 cosine decay to 0 at
  // the last step of the last epoch allowed), after a linear warm-up over `warmup` steps (0 =
  // none, the default).
  std::optional<int> lr_schedule;
  std::optional<int> warmup;
  std::optional<int> batch;
  std::optional<float> dropout;
  std::optional<int> max_len;
  std::optional<int> layers;
  std::optional<int> heads;
  std::optional<int> train_negatives;
  std::optional<int> patience;
  std::optional<int> val_negatives;
  std::optional<int> pretrain;
  std::optional<int> refit;
  std::optional<int> recent;
  std::uint64_t seed = 0;

  // `this` with unset fields filled from `defaults`.
  Hyper merged_over(const Hyper& defaults) const;
};
Hyper default_hyper(ModelKind kind);

// What training measured, saved with the model.
struct TrainInfo {
  double fit_seconds = 0;
  std::uint64_t train_rows = 0;
  std::string source;
  std::vector<float> loss;  // per epoch, where the model has one
  std::int32_t threads = 1;
  // Not saved in the model file: epochs trained (iterations for ALS-type models; for models
  // that stop early, up to the stop) and, for those, the epoch whose parameters were kept
  // (1-based; 0 = the model does not stop early).
  std::int32_t epochs_run = 0;
  std::int32_t best_epoch = 0;
};

// One epoch of a model trained with a validation part (edgerec/nn/train.hpp): what the CLI
// prints per epoch and writes with --curve.
struct EpochRecord {
  int epoch = 0;              // 1-based; 0: the parameters a stage starts from (not trained by it)
  int epochs = 0;             // the maximum (Hyper::epochs)
  double loss = 0;            // mean training loss over the epoch's examples (NaN for epoch 0)
  std::string metric;         // the validation metric's name, e.g. "full_ndcg@10"
  double value = 0;           // its value on the validation part (NaN when not measured)
  bool best = false;          // the best value so far (these parameters are kept)
  double lr = 0;              // learning rate of the epoch's first step
  double seconds = 0;         // training plus validation
  // The training stage for a kind that trains in several (neumf with pre-training: "gmf",
  // "mlp", "neumf"; epochs count from 1 in each); empty for one stage.
  std::string stage;
};

// (item index, value) — a user's own interactions, for fold-in and explanations.
struct ItemValue {
  index_t item;
  float value = 1.0f;
};

// How much one of the user's items contributed to a recommended item's score.
struct Contribution {
  index_t item;
  float weight;
};

// How one item's score splits over the user's items (Model::explain). The caller (Recommender,
// the C ABI) adds the served score: score = sum(weights) + rest, where rest = score - sum(weights)
// holds `base` (the terms that do not depend on the user's items: biases, offsets, popularity)
// and a residual (what the weights and base do not account for).
struct Attribution {
  std::vector<Contribution> weights;  // one per history entry, in history order
  double base = 0;                    // the history-independent terms of the score
  // True when the weights are the score's own per-item terms, so the residual is only float
  // rounding. False when the model's user parameters are not a linear function of the user's
  // items (SGD-trained users, iALS's stored conjugate-gradient vectors): the weights then split
  // a closed-form stand-in for them (named in `note`) and the residual is its difference from
  // the served score.
  bool exact = true;
  std::string note;  // one sentence: what the weights are, what rest holds
};

// How a caller's fold-in history was cleaned (Model::prepare_history).
struct HistoryReport {
  std::size_t given = 0;       // entries passed in
  std::size_t duplicates = 0;  // entries dropped because a later entry names the same item
  std::size_t dropped = 0;     // distinct items dropped, oldest first, over kMaxFoldInHistory
  std::size_t clamped = 0;     // values moved into the model's rating range
  std::size_t used = 0;        // entries the fold-in uses
};

// A fold-in uses at most this many distinct items, the most recent ones (fold-in cost is linear
// in the history: an imported profile of 10^6 entries would otherwise stall a page for minutes).
constexpr std::size_t kMaxFoldInHistory = 1000;

// Each user's training items in time order, the input of sequence models: row u is
// items[offsets[u], offsets[u + 1]). Ties in time keep the order of the data's rows (file lines).
// Repeats are kept (a user who came back to an item has it twice), so a row can be longer than
// the user's row of Model::seen, whose items it holds and no others.
struct Sequences {
  std::vector<std::uint64_t> offsets{0};  // rows + 1 entries, from 0, non-decreasing
  std::vector<index_t> items;             // offsets.back() entries, item indices

  index_t rows() const { return static_cast<index_t>(offsets.size() - 1); }
  std::size_t row_size(index_t u) const { return static_cast<std::size_t>(offsets[u + 1] - offsets[u]); }
  const index_t* row(index_t u) const { return items.data() + offsets[u]; }
  // One row per user of `data` (data.n_users() rows): its rows stably sorted by time. Throws
  // Error when a row refers to an index outside the id maps.
  static Sequences by_user(const Interactions& data);
};

// Called during training from the thread that called fit(): step(stage name, step done, steps in
// all) as work advances, and epoch(record) once per epoch of models trained with a validation
// part. Either may be empty. Converts from any callable of the step's signature, so a lambda
// can stand for a Progress with no epoch callback.
class Progress {
 public:
  using StepFn = std::function<void(const char* stage, int done, int total)>;
  using EpochFn = std::function<void(const EpochRecord&)>;
  Progress() = default;
  template <class F, class = std::enable_if_t<std::is_constructible_v<StepFn, F> &&
                                              !std::is_same_v<std::decay_t<F>, Progress>>>
  Progress(F&& step) : step_(std::forward<F>(step)) {}  // NOLINT: implicit, as a std::function
  Progress(StepFn step, EpochFn epoch) : step_(std::move(step)), epoch_(std::move(epoch)) {}
  explicit operator bool() const { return static_cast<bool>(step_); }
  void operator()(const char* stage, int done, int total) const {
    if (step_) step_(stage, done, total);
  }
  void epoch(const EpochRecord& record) const {
    if (epoch_) epoch_(record);
  }
  bool has_epoch() const { return static_cast<bool>(epoch_); }

 private:
  StepFn step_;
  EpochFn epoch_;
};

// The factor form shared by the embedding models: score(u, i) = U.row(u) . V.row(i) + offset(u).
// Item biases live in a column of V (with a 1 in U), so one matrix-vector kernel scores all
// models, in C++, in wasm and in the exported ONNX graph.
struct Embeddings {
  Matrix U;                 // users x dim
  Matrix V;                 // items x dim
  Vector user_offset;       // per user constant (mu + b_u for explicit models, else 0)
  int factor_dims = 0;      // leading columns that are latent factors (the rest are biases)
  // How the model file this came from stored V: false = f32; true = int8 codes, so V holds the
  // dequantised values (SaveOptions::int8_items). False for a model trained in this process.
  bool items_int8 = false;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual ModelKind kind() const = 0;
  // The kind's default hyper-parameters (tuned on MovieLens; the model card lists the scores).
  virtual Hyper defaults() const = 0;
  // True for models whose scores are ratings (RMSE/MAE apply).
  virtual bool predicts_ratings() const { return false; }

  // Trains on `train` (copies its id maps, builds `seen` and `item_popularity`, then fits).
  void fit(const Interactions& train, const Hyper& hyper, Backend& backend,
           const Progress& progress = {});

  // Writes n_items() scores for known user `user` into out.
  virtual void score(index_t user, float* out) const = 0;
  // The scores of `n` candidate items (each < n_items()) for known user `user`, out[j] for
  // items[j]: the same values score() gives them. The default scores every item and picks;
  // a kind whose score costs a forward pass per item (neumf) scores the candidates alone.
  virtual void score_items(index_t user, const index_t* items, std::size_t n, float* out) const;
  // Scores for a user the model has not seen, from that user's own interactions (fold-in).
  // An empty history gives popularity-ordered scores. Serving paths pass the history through
  // prepare_history() first. Throws Error when the folded-in vector is not finite (a model
  // with huge finite factors), here and in top_k_new() and fold_in_vector(): a NaN vector
  // would otherwise rank no item at all.
  virtual void score_new(const std::vector<ItemValue>& history, float* out) const = 0;
  // The new user's scoring vector as score_new() uses it, for callers with their own kernels
  // (the wasm int8 path, ONNX Runtime): fills `u` (embeddings()->V.cols() floats) and `*offset`
  // so that score_new(history)[i] == dot(u, V.row(i)) + *offset. Returns false, writing
  // nothing, for models without embeddings and for an empty history.
  virtual bool fold_in_vector(const std::vector<ItemValue>& /*history*/, float* /*u*/,
                              float* /*offset*/) const {
    return false;
  }
  // A new user's scoring vector, as fold_in_vector(), from their items and their user features:
  // row `row` of `users` (a UserMeta in any row order, e.g. as load_user_meta() read it; -1: no
  // row, all features zero). Fields are matched by name with those the model was trained on, a
  // value it never saw adds nothing, and the row is encoded as training encoded the training
  // users (edgerec/item_meta.hpp ItemFeatures, with the training users' means and deviations).
  // The history may be empty (features alone). Returns false, writing nothing, for kinds that
  // read no user features and models trained without them (two-tower without --user-meta). Not
  // in the serving-only (wasm) build. Throws Error for a row out of range.
  virtual bool fold_in_vector_described(const std::vector<ItemValue>& /*history*/, const ItemMeta& /*users*/,
                                        std::int64_t /*row*/, float* /*u*/, float* /*offset*/) const {
    return false;
  }
  // The k best items of score(user) / score_new(history), skipping items where `skip`
  // (nullable, n_items() bytes) is non-zero, in select_top_k() order. Exactly select_top_k()
  // over the full scores; models in factor form get there scoring only the items a norm bound
  // cannot rule out (NormIndex). `scratch`: n_items() floats of working space. `stats`
  // (nullable) says how many items were scored.
  virtual std::vector<TopK> top_k(index_t user, int k, const std::uint8_t* skip, float* scratch,
                                  NormIndex::Stats* stats = nullptr) const;
  virtual std::vector<TopK> top_k_new(const std::vector<ItemValue>& history, int k,
                                      const std::uint8_t* skip, float* scratch,
                                      NormIndex::Stats* stats = nullptr) const;
  // The index behind top_k() / top_k_new(), built on first use (thread-safe), with its choice
  // between the norm-bounded visit and a plain scan (NormIndex::choice(), made from a sample
  // of this model's own queries); nullptr for models that always scan. Valid until the
  // parameters change (fit, load, drop_users).
  virtual const NormIndex* serving_index() const { return nullptr; }
  // One predicted score (rating for explicit models).
  virtual float predict(index_t user, index_t item) const;
  // How `item`'s score splits over `history` (see Attribution; weights in history order).
  // `user` is the known user the history belongs to (its training history; the split is of the
  // stored user parameters), or -1 for a folded-in user (history as prepare_history() leaves it;
  // the split is of the fold-in). An empty history gives no weights and base = the score.
  virtual Attribution explain(const std::vector<ItemValue>& history, index_t item,
                              std::int64_t user) const = 0;
  // A caller's fold-in history as the serving paths use it: entries are taken as oldest first;
  // an item given more than once counts once, with its last value; only the most recent
  // kMaxFoldInHistory distinct items are kept; rating models clamp values into
  // [rating_min, rating_max] (as training saw them). Items must be in range.
  std::vector<ItemValue> prepare_history(const std::vector<ItemValue>& history,
                                         HistoryReport* report = nullptr) const;
  // Similarity of every item to `item` into out (n_items floats); throws Error for models
  // without an item space (popularity, baselines).
  virtual void similar(index_t item, float* out) const;
  // The factor form, for fast kernels and ONNX export; nullptr for non-embedding models.
  virtual const Embeddings* embeddings() const { return nullptr; }
  // Item vectors of the item metadata's cold rows (item_meta rows n_items() .. rows() - 1, in
  // that order), in the item space of embeddings(): cold row r scores
  // dot(u, cold_item_factors()->row(r - n_items())) + offset for a user vector u and offset (a
  // row of U, or fold_in_vector()). nullptr for kinds that cannot embed an item from its
  // metadata (every kind but two-tower) and when the model has no cold rows.
  virtual const Matrix* cold_item_factors() const { return nullptr; }
  // An item given only its description (ItemFeatures::describe over item_meta: "field=v1|v2;
  // field=number"), embedded into `out` (embeddings()->V.cols() floats) in the item space of
  // embeddings(), as the model would embed a cold row of its metadata. False (out untouched) for
  // kinds without an item tower (every kind but two-tower), for a two-tower model trained
  // without item metadata and for files saved before the item tower was (two-tower section
  // versions 1 and 2). Throws Error for a malformed description.
  virtual bool item_vector_described(std::string_view /*description*/, float* /*out*/) const { return false; }
  // What a model embeds from descriptions, for `edgerec info`: the user feature layout it was
  // trained with (a categorical field's width is its number of values; numeric fields are one
  // column each) and whether it keeps an item tower (item_vector_described can answer).
  struct DescribedInputs {
    std::vector<std::pair<std::string, std::uint64_t>> user_categorical;  // field, values
    std::vector<std::string> user_numeric;
    bool item_tower = false;
  };
  virtual DescribedInputs described_inputs() const { return {}; }

  // Keeps only the item side, what serves new users (fold-in, similar items, explanations,
  // popularity), and drops what serves known users: user vectors, their seen items and the user
  // id map. For on-device files, where the visitor is always a new user: an iALS model of 100k
  // items and 20k users shrinks from 49 MB to about half. Afterwards n_users() is 0.
  virtual void drop_users();

  // True for kinds that read each user's items in time order (sequence models): fit() then keeps
  // them in `sequences`, and the model file stores them (a file of such a kind without them is
  // refused). Default false.
  virtual bool needs_sequences() const { return false; }

  // The kind's own section of the model file, after the common part: its hyper-parameters and
  // parameters, written and read through cereal with the kind's class version (see
  // EDGEREC_MODEL_SECTION in core/src/io/archive.hpp; format versions 1 and 2 had the model part
  // without the version and hyper-parameters, which load_section() also reads). load_section()
  // checks every shape against the id maps.
  virtual void save_section(SaveArchive& ar) const = 0;
  virtual void load_section(LoadArchive& ar) = 0;

  index_t n_users() const { return users.size(); }
  index_t n_items() const { return items.size(); }
  // The user's training interactions as ItemValue (empty for an out-of-range user).
  std::vector<ItemValue> history(index_t user) const;

  IdMap users;
  IdMap items;
  Csr seen;                            // training interactions, rows = users
  std::vector<float> item_popularity;  // training interaction count per item
  Hyper hyper;                         // resolved hyper-parameters used by fit()
  // Each user's items in time order: kept by fit() when needs_sequences(), and loaded from a file
  // that has them; empty otherwise. Rows follow `users` (none after drop_users()).
  std::optional<Sequences> sequences;
  TrainInfo info;
  // Observed rating range of the training data; predict() of rating models clips to it (as
  // Surprise does). Equal values (implicit data) mean no clipping.
  float rating_min = 0.0f;
  float rating_max = 0.0f;
  // Optional item metadata (titles, genres, numeric columns, content vectors; see
  // edgerec/item_meta.hpp): its first n_items() rows are this model's items, the rest items
  // without interactions (cold start). Null when the model was trained without --item-meta.
  // Set by the caller, aligned to the training items: before fit() for two-tower, which trains
  // its item tower on it and embeds the cold rows (cold_item_factors()); the other kinds never
  // read it while training. fit() never clears it; kept by drop_users().
  std::shared_ptr<const ItemMeta> item_meta;
  // Optional user features (a UserMeta, edgerec/item_meta.hpp: demographics such as gender, age,
  // occupation), aligned to the training users by align_user_meta() (row r = user r; a user it
  // does not describe has a zero feature row). Set by the caller before fit(), for the kinds
  // whose reads_user_meta() is true (two-tower's user tower); fit() refuses it for the others.
  // Read only while training and never saved as such: a kind that reads it keeps what it serves
  // with in its own section (two-tower: the user vectors computed with it, and the feature
  // layout). Null after a load; fit() never clears it; drop_users() does.
  std::shared_ptr<const ItemMeta> user_meta;
  // Whether fit() reads user_meta. Default false.
  virtual bool reads_user_meta() const { return false; }

 protected:
  virtual void fit_impl(const Interactions& train, Backend& backend, const Progress& progress) = 0;
  // Called after the parameters change (end of fit(), a load): drops anything derived from them.
  virtual void params_changed() {}
  void popularity_scores(float* out) const;
};

std::unique_ptr<Model> make_model(ModelKind kind);

}  // namespace edgerec
