// NeuMF (He, Liao, Zhang, Nie, Hu, Chua 2017, "Neural Collaborative Filtering"): a GMF branch
// (element-wise product of a user and an item embedding) and an MLP branch (the concatenation of
// two other embeddings through ReLU layers) fused by one linear output unit on their
// concatenation, a sigmoid of it the probability that the user interacts with the item:
//
//   gmf = p_u * q_i                                   (f wide)
//   h_1 = relu([m_u, n_i] W_1' + b_1), h_k = relu(h_{k-1} W_k' + b_k), k = 2..L   (h_L f wide)
//   score(u, i) = [gmf, h_L] . w_out + b_out          (a logit; higher is better)
//
// Widths: --factors f is the GMF width and the last MLP layer's; --layers L MLP layers halve
// from the concatenated input: w_k = f 2^(L-k), so the MLP embeddings are e = f 2^(L-1) wide
// (the paper's "predictive factors" f with layers [4f, 2f, f] for L = 2 ... e.g. its
// [64, 32, 16, 8] is f = 8, L = 3).
//
// Training (edgerec/nn/train.hpp): each user's last training interaction is held out for
// validation; every other interaction is a positive (label 1) with --train-negatives items the
// user has not interacted with drawn uniformly as negatives (label 0), drawn again each epoch;
// binary cross-entropy over seeded mini-batches of --batch examples; AdamW (--lr; --reg is the
// decoupled weight decay on every parameter); early stopping on the validation part's nDCG@10
// (full ranking, or among --val-negatives sampled items: the ncf protocol's default) after
// --patience epochs without a better one, keeping the best epoch. Recency (--recent N, default
// 20): each user's N latest interactions of the part trained on are positives twice per epoch
// (an extra copy with its own negatives): the test item of a leave-last-out split is each
// user's next one, and their latest ones say most about it.
// Pre-training (--pretrain N > 0, the default; the paper's section 3.4.1): GMF alone, then MLP
// alone, each for at most N epochs with the same early stopping, then the fused model starts
// from both (output layer [a w_gmf, (1 - a) w_mlp], a the best of 0.3..0.7 on validation, the
// paper's 0.5 on ties) and is fine-tuned by Adam at a small fixed rate, its start kept unless a
// fine-tuning epoch beats it on validation.
// Refit (--refit 1, the default): then everything again from the same initialisation on the
// whole training part, each stage for the epochs validation kept in it, with the same a.
//
// Serving: no factor form (embeddings() is nullptr). The model owns a serial reference backend
// made at fit/load, and score() runs one batched forward pass over every item on it, with the
// first MLP layer split into its user and item halves, each precomputed per user / per item
// (score = one add, L-1 small GEMMs and the output). A new user's two embeddings are fitted to
// the history with the item side fixed (fold_in()). All const methods only read shared state and
// allocate their own tensors: thread-safe.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <optional>

#include "edgerec/nn/autodiff.hpp"
#include "edgerec/nn/layers.hpp"
#include "edgerec/nn/loss.hpp"
#include "edgerec/nn/optim.hpp"
#include "edgerec/nn/train.hpp"
#include "edgerec/split.hpp"
#include "io/archive.hpp"
#include "models/attribution.hpp"
#include "models/factories.hpp"
#include "serve_only.hpp"

namespace edgerec {
namespace {

constexpr int kMaxLayers = 8;
constexpr std::uint64_t kNegativeStream = 0x4E454Full;  // training negatives
constexpr std::uint64_t kOrderStream = 0x4F5244ull;     // example order
constexpr std::uint64_t kFoldInStream = 0xF01D2ull;
// Fold-in: full-batch Adam passes over the history (each with fresh negatives), items fixed.
constexpr int kFoldInPasses = 60;
constexpr double kFoldInLr = 0.05;
// The weights of GMF in the fused output layer after pre-training (the paper's alpha, which it
// fixes at 0.5) tried on the validation part, the paper's first.
constexpr double kAlphas[] = {0.5, 0.3, 0.4, 0.6, 0.7};
// Adam's learning rate for fine-tuning the fused model after pre-training: small, so that it
// starts from the two pre-trained models instead of leaving them (the paper fine-tunes with
// plain SGD for the same reason). Validated on ML-1M: the fused start was not beaten anyway.
constexpr double kFineTuneLr = 1e-4;

// The MLP widths w_0 (the concatenated input) .. w_L = f.
std::vector<std::int64_t> tower_widths(int f, int layers) {
  std::vector<std::int64_t> w;
  for (int k = 0; k <= layers; ++k) w.push_back(static_cast<std::int64_t>(f) << (layers - k));
  return w;
}

Tensor upload_matrix(Backend& b, const Matrix& m) {
  Tensor t = b.alloc(Shape{m.rows(), m.cols()}, DType::f32);
  if (m.size() > 0) b.upload(t, m.data());
  return t;
}

Tensor upload_vector(Backend& b, const Vector& v) {
  Tensor t = b.alloc(Shape{v.size()}, DType::f32);
  if (v.size() > 0) b.upload(t, v.data());
  return t;
}

void download_into(Backend& b, const nn::Parameter& p, Matrix& m) {
  m.resize(p.value.dim(0), p.value.rank() > 1 ? p.value.dim(1) : 1);
  b.download(p.value, m.data());
}

void download_into(Backend& b, const nn::Parameter& p, Vector& v) {
  v.resize(static_cast<Eigen::Index>(p.value.numel()));
  b.download(p.value, v.data());
}

// The paper's training stages: GMF alone and MLP alone (pre-training), then the fused model.
enum class Stage { gmf, mlp, fused };

// The network while it trains, on the training backend.
class Net final : public nn::Module {
 public:
  Net(Backend& b, index_t users, index_t items, int f, int layers, double init_std, Rng& rng)
      : widths(tower_widths(f, layers)),
        gmf_user(b, "gmf_user", users, f, DType::f32, rng, init_std),
        gmf_item(b, "gmf_item", items, f, DType::f32, rng, init_std),
        mlp_user(b, "mlp_user", users, widths[0] / 2, DType::f32, rng, init_std),
        mlp_item(b, "mlp_item", items, widths[0] / 2, DType::f32, rng, init_std),
        first_user(b, "mlp.0.user", widths[0] / 2, widths[1], DType::f32, rng),
        first_item(b, "mlp.0.item", widths[0] / 2, widths[1], DType::f32, rng, Act::identity, false),
        out_gmf(b, "out.gmf", f, 1, DType::f32, rng, Act::identity, false),
        out_mlp(b, "out.mlp", f, 1, DType::f32, rng) {
    // The two halves are one ReLU layer over the concatenation: He init with its fan-in.
    nn::he_normal(b, first_user.weight, widths[0], rng);
    nn::he_normal(b, first_item.weight, widths[0], rng);
    for (int k = 2; k <= layers; ++k)
      tower.push_back(std::make_unique<nn::Linear>(b, "mlp." + std::to_string(k - 1), widths[k - 1], widths[k],
                                                   DType::f32, rng, Act::relu));
    // The output unit reads the concatenation [gmf, h_L] (2f inputs): Xavier over that.
    nn::xavier_uniform(b, out_gmf.weight, 2 * f, 1, rng);
    nn::xavier_uniform(b, out_mlp.weight, 2 * f, 1, rng);
  }

  // Logits [B] for the (users[r], items[r]) pairs (i32 [B] each). The pre-training stages run
  // one branch with the output bias (out_mlp's): GMF alone, MLP alone (the paper's two models).
  nn::Var forward(nn::Tape& tape, const Tensor& users, const Tensor& items, Stage stage = Stage::fused) {
    nn::Var logit;
    if (stage != Stage::mlp) {
      const nn::Var gmf = nn::mul(gmf_user.forward(tape, users), gmf_item.forward(tape, items));
      logit = out_gmf.forward(tape, gmf);
      if (stage == Stage::gmf) logit = nn::add(logit, tape.param(out_mlp.bias));
    }
    if (stage != Stage::gmf) {
      nn::Var h = nn::relu(nn::add(first_user.forward(tape, mlp_user.forward(tape, users)),
                                   first_item.forward(tape, mlp_item.forward(tape, items))));
      for (auto& layer : tower) h = layer->forward(tape, h);
      logit = stage == Stage::mlp ? out_mlp.forward(tape, h) : nn::add(logit, out_mlp.forward(tape, h));
    }
    return nn::reshape(logit, Shape{users.dim(0)});
  }

  // What a stage trains.
  std::vector<nn::Parameter*> stage_parameters(Stage stage) {
    if (stage == Stage::fused) return parameters();
    if (stage == Stage::gmf) return {&gmf_user.weight, &gmf_item.weight, &out_gmf.weight, &out_mlp.bias};
    std::vector<nn::Parameter*> p;
    mlp_user.collect(p);
    mlp_item.collect(p);
    first_user.collect(p);
    first_item.collect(p);
    for (auto& layer : tower) layer->collect(p);
    out_mlp.collect(p);
    return p;
  }

  void collect(std::vector<nn::Parameter*>& out) override {
    gmf_user.collect(out);
    gmf_item.collect(out);
    mlp_user.collect(out);
    mlp_item.collect(out);
    first_user.collect(out);
    first_item.collect(out);
    for (auto& layer : tower) layer->collect(out);
    out_gmf.collect(out);
    out_mlp.collect(out);
  }

  std::vector<std::int64_t> widths;
  nn::Embedding gmf_user, gmf_item, mlp_user, mlp_item;
  nn::Linear first_user, first_item;
  std::vector<std::unique_ptr<nn::Linear>> tower;  // layers 2..L
  nn::Linear out_gmf, out_mlp;
};

class NeuMf final : public Model {
 public:
  // Its model file section: factors, epochs, lr, reg, init_std, then batch, layers,
  // train_negatives, patience and the seed; then the weights (see serialize()).
  static constexpr std::uint32_t kSectionVersion = 1;
  void save_section(SaveArchive& ar) const override;
  void load_section(LoadArchive& ar) override;
  ModelKind kind() const override { return ModelKind::neumf; }

  Hyper defaults() const override {
    // Chosen on the validation part of the ML-1M NCF training file (models/README.md).
    Hyper h;
    h.factors = 32;
    h.layers = 2;
    h.pretrain = 20;
    h.epochs = 12;
    h.lr = 0.005f;
    h.reg = 0.0f;
    h.init_std = 0.01f;
    h.batch = 4096;
    h.train_negatives = 4;
    h.patience = 3;
    h.refit = 1;
    h.recent = 20;
    return h;
  }

  void score(index_t user, float* out) const override {
    if (user >= n_users() || !cache_) {
      popularity_scores(out);
      return;
    }
    score_with(cache_->gmf_user.select0(user), cache_->user_proj.select0(user), out);
  }

  void score_items(index_t user, const index_t* items, std::size_t n, float* out) const override {
    if (user >= n_users() || !cache_) {
      Model::score_items(user, items, n, out);
      return;
    }
    std::vector<std::int32_t> index(n);
    for (std::size_t j = 0; j < n; ++j) {
      if (items[j] >= n_items()) throw Error("score_items: item index out of range");
      index[j] = static_cast<std::int32_t>(items[j]);
    }
    const Tensor t = make_tensor(*serve_, Shape{static_cast<std::int64_t>(n)}, index);
    score_with(cache_->gmf_user.select0(user), cache_->user_proj.select0(user), out, &t);
  }

  void score_new(const std::vector<ItemValue>& history, float* out) const override {
    Tensor gu, up;
    if (!cache_ || !fold_in(history, gu, up)) {
      popularity_scores(out);
      return;
    }
    score_with(gu, up, out);
  }

  // NeuMF's score is not a sum over the user's items, so there are no exact per-item terms. The
  // weights split the served score over the history in proportion to each item's positive
  // cosine similarity to `item` in the item embedding space ([GMF | MLP] item embeddings, as
  // similar()); items no more similar than orthogonal get 0. Cheap (one dot product per item),
  // and honest about what it is: exact = false.
  Attribution explain(const std::vector<ItemValue>& history, index_t item,
                      std::int64_t user) const override {
    if (item >= n_items()) throw Error("explain: item index out of range");
    std::vector<float> scores(n_items());
    if (user >= 0 && static_cast<std::uint64_t>(user) < n_users())
      score(static_cast<index_t>(user), scores.data());
    else
      score_new(history, scores.data());
    return split_by_similarity(*this, history, item, scores[item],
                               "the score split in proportion to each history item's positive cosine similarity to the "
                               "item in NeuMF's item embedding space (the network is not additive over the history); "
                               "rest: the score when no history item is similar");
  }

  // Cosine similarity over the items' concatenated [GMF | MLP] embeddings.
  void similar(index_t item, float* out) const override {
    if (!cache_ || item >= n_items()) {
      std::fill(out, out + n_items(), 0.0f);
      return;
    }
    Backend& b = *serve_;
    const Tensor& unit = cache_->item_unit;
    Tensor s = b.alloc(Shape{unit.dim(0), 1}, DType::f32);
    b.gemm(false, false, 1.0, unit, unit.select0(item).view(Shape{unit.dim(1), 1}), 0.0, s);
    b.download(s, out);
  }

  void drop_users() override {
    Model::drop_users();
    w_.gmf_user.resize(0, w_.gmf_user.cols());
    w_.mlp_user.resize(0, w_.mlp_user.cols());
    build_cache();
  }

  // The largest relative difference between fold_in_gradient() and the gradient an nn::Tape
  // computes for the same loss, at a random starting point (test_neumf).
  double fold_in_gradient_error(const std::vector<std::int32_t>& items, const std::vector<float>& labels) const {
    if (!cache_) throw Error("neumf: no trained model to check the fold-in gradient of");
    if (items.empty() || items.size() != labels.size()) throw Error("neumf: one label per item, at least one item");
    Backend& b = *serve_;
    const Cache& c = *cache_;
    Rng rng(mix_seed(hyper.seed, kFoldInStream));
    nn::Parameter pg = nn::make_parameter(b, "check.gmf_user", Shape{1, c.gmf_item.dim(1)}, DType::f32);
    nn::Parameter pm = nn::make_parameter(b, "check.mlp_user", Shape{1, c.first_user.dim(1)}, DType::f32);
    nn::init_normal(b, pg, 0.1, rng);
    nn::init_normal(b, pm, 0.1, rng);
    const auto rows = static_cast<std::int64_t>(items.size());
    const Tensor index = make_tensor(b, Shape{rows}, items);
    fold_in_gradient(index, make_tensor(b, Shape{rows, 1}, labels), pg, pm);
    const std::vector<float> hand_g = to_vector<float>(b, pg.grad), hand_m = to_vector<float>(b, pm.grad);
    b.fill(pg.grad, 0.0);
    b.fill(pm.grad, 0.0);
    nn::Tape tape(b);
    const nn::Var gmf = nn::mul(nn::gather(tape.constant(c.gmf_item), index), tape.param(pg));
    const nn::Var user_half =
        nn::add(nn::matmul(tape.param(pm), tape.constant(c.first_user), false, true), tape.constant(c.first_bias));
    nn::Var h = nn::relu(nn::add(nn::gather(tape.constant(c.item_proj), index), user_half));
    for (std::size_t k = 0; k < c.tower_wt.size(); ++k)
      h = nn::relu(nn::add(nn::matmul(h, tape.constant(c.tower_wt[k])), tape.constant(c.tower_b[k])));
    nn::Var logit = nn::add(nn::matmul(h, tape.constant(c.out_mlp_t)), nn::matmul(gmf, tape.constant(c.out_gmf_t)));
    logit = nn::add(logit, tape.constant(c.out_bias));
    tape.backward(nn::bce_with_logits(nn::reshape(logit, Shape{rows}), make_tensor(b, Shape{rows}, labels)));
    const std::vector<float> tape_g = to_vector<float>(b, pg.grad), tape_m = to_vector<float>(b, pm.grad);
    double worst = 0, scale = 0;
    for (const float v : tape_g) scale = std::max(scale, std::abs(static_cast<double>(v)));
    for (const float v : tape_m) scale = std::max(scale, std::abs(static_cast<double>(v)));
    for (std::size_t k = 0; k < hand_g.size(); ++k)
      worst = std::max(worst, std::abs(static_cast<double>(hand_g[k]) - tape_g[k]));
    for (std::size_t k = 0; k < hand_m.size(); ++k)
      worst = std::max(worst, std::abs(static_cast<double>(hand_m[k]) - tape_m[k]));
    return scale > 0 ? worst / scale : worst;
  }

 protected:
  void fit_impl(const Interactions& train, Backend& backend, const Progress& progress) override {
    EDGEREC_TRAINING_ONLY("training");
    const int f = *hyper.factors, layers = *hyper.layers;
    check_shape_hyper(f, layers);
    const std::int64_t batch = *hyper.batch;
    const int negatives = *hyper.train_negatives;
    const nn::Holdout parts = nn::hold_out_last(train);
    AdamStep adam;
    adam.lr = *hyper.lr;
    adam.weight_decay = *hyper.reg;
    adam.decoupled = true;
    const int pretrain = hyper.pretrain.value_or(0);
    const bool refit = hyper.refit.value_or(0) > 0;
    const int recent = hyper.recent.value_or(0);

    // Pass 0 trains on the fit part with early stopping on the validation part; with --refit,
    // pass 1 trains again from the same initialisation on the whole training part (the held-out
    // interactions included: each user's latest, the most telling of what comes next) for the
    // epochs pass 0 kept in each stage, with nothing left to validate on.
    std::unique_ptr<Net> net;
    double alpha = kAlphas[0];  // GMF's weight in the fused start, chosen by pass 0
    std::map<Stage, int> kept;  // per stage: the epochs pass 0 kept (0: the stage's start)
    for (int pass = 0; pass < (refit ? 2 : 1); ++pass) {
      const bool validating = pass == 0;
      Rng rng(mix_seed(hyper.seed, static_cast<std::uint64_t>(ModelKind::neumf)));
      net.reset();
      net = std::make_unique<Net>(backend, n_users(), n_items(), f, layers, *hyper.init_std, rng);
      std::optional<nn::HeldOutHistory> held;
      std::optional<nn::Validation> validation;
      if (validating) {
        held.emplace(*this, parts.fit);
        validation.emplace(parts, hyper.val_negatives.value_or(0), hyper.seed);
      }
      // The positives: every interaction of the part trained on (seen), user-major.
      std::vector<std::int32_t> pos_user, pos_item;
      for (index_t u = 0; u < seen.rows(); ++u)
        for (std::size_t k = 0; k < seen.row_size(u); ++k) {
          pos_user.push_back(static_cast<std::int32_t>(u));
          pos_item.push_back(static_cast<std::int32_t>(seen.row_indices(u)[k]));
        }
      // --recent N: each user's N latest interactions of the part trained on once more. The
      // interaction just before a held-out one says most about it (dropping each user's
      // second-to-last training pair cost GMF 0.016 validation nDCG on ML-1M), and a pointwise
      // loss over ~165 pairs per user gives the latest no more weight than the oldest.
      if (recent > 0) {
        const Interactions& part = validating ? parts.fit : train;
        std::vector<std::vector<std::size_t>> by_user(n_users());
        for (std::size_t r = 0; r < part.rows.size(); ++r) by_user[part.rows[r].user].push_back(r);
        for (index_t u = 0; u < n_users(); ++u) {
          auto& rs = by_user[u];
          std::stable_sort(rs.begin(), rs.end(),
                           [&](std::size_t a, std::size_t b) { return part.rows[a].time < part.rows[b].time; });
          const std::size_t from = rs.size() > static_cast<std::size_t>(recent) ? rs.size() - static_cast<std::size_t>(recent) : 0;
          for (std::size_t j = from; j < rs.size(); ++j) {
            pos_user.push_back(static_cast<std::int32_t>(u));
            pos_item.push_back(static_cast<std::int32_t>(part.rows[rs[j]].item));
          }
        }
      }
      const std::size_t per = 1 + static_cast<std::size_t>(negatives);
      const std::size_t n = pos_user.size() * per;
      std::vector<std::int32_t> ex_user(n), ex_item(n), b_user, b_item;
      std::vector<float> ex_label(n), b_label;

      // One epoch of `stage`; `counter` numbers epochs across the stages, so each draws its own
      // negatives and order (the same streams in both passes).
      int counter = 0;
      const auto train_epoch = [&](Stage stage, nn::Optimizer& opt) {
        const int epoch = ++counter;
        // This epoch's negatives: uniform over the items the user has not interacted with (in
        // the part trained on), by rejection; a user who has them all gets none.
        Rng neg(mix_seed(hyper.seed, static_cast<std::uint64_t>(epoch), kNegativeStream));
        for (std::size_t p = 0; p < pos_user.size(); ++p) {
          const index_t u = static_cast<index_t>(pos_user[p]);
          const bool room = seen.row_size(u) < n_items();
          for (std::size_t j = 0; j < per; ++j) {
            std::int32_t item = pos_item[p];
            float label = 1.0f;
            if (j > 0) {
              label = 0.0f;
              item = -1;
              for (int tries = 0; room && tries < 64 && item < 0; ++tries) {
                const auto c = static_cast<index_t>(neg.below(n_items()));
                if (!seen.contains(u, c)) item = static_cast<std::int32_t>(c);
              }
              if (item < 0) {  // no unseen item found: repeat the positive, masked as one
                item = pos_item[p];
                label = 1.0f;
              }
            }
            ex_user[p * per + j] = pos_user[p];
            ex_item[p * per + j] = item;
            ex_label[p * per + j] = label;
          }
        }
        const auto order = nn::epoch_order(n, hyper.seed, epoch, kOrderStream);
        double loss_sum = 0;
        for (std::size_t begin = 0; begin < n; begin += static_cast<std::size_t>(batch)) {
          const std::size_t end = std::min(n, begin + static_cast<std::size_t>(batch));
          b_user.clear();
          b_item.clear();
          b_label.clear();
          for (std::size_t r = begin; r < end; ++r) {
            const auto e = static_cast<std::size_t>(order[r]);
            b_user.push_back(ex_user[e]);
            b_item.push_back(ex_item[e]);
            b_label.push_back(ex_label[e]);
          }
          const auto rows = static_cast<std::int64_t>(end - begin);
          nn::Tape tape(backend, mix_seed(hyper.seed, static_cast<std::uint64_t>(epoch), begin));
          const nn::Var loss = nn::bce_with_logits(
              net->forward(tape, make_tensor(backend, Shape{rows}, b_user), make_tensor(backend, Shape{rows}, b_item), stage),
              make_tensor(backend, Shape{rows}, b_label));
          tape.backward(loss);
          opt.step();
          opt.zero_grad();
          loss_sum += static_cast<double>(to_vector<float>(backend, loss.value())[0]) * static_cast<double>(rows);
          if (progress) progress("neumf", static_cast<int>(end * 100 / n), 100);
        }
        return nn::EpochLoss{n ? loss_sum / static_cast<double>(n) : 0.0, opt.lr};
      };
      const auto validate = [&] {
        publish(backend, *net);
        return (*validation)(*this, backend);
      };
      // Runs one stage. Pass 0: through the shared loop; info counts its epochs over all stages,
      // and best_epoch is the epoch (in that count) whose parameters the model ends with. Pass
      // 1: the epochs pass 0 kept, each reported with no validation value.
      int epochs_before = 0;
      const auto run_stage = [&](Stage stage, const char* name, nn::Optimizer& opt, int max_epochs,
                                 std::optional<double> start) {
        std::string label = pretrain > 0 ? name : "";
        if (!validating) label = label.empty() ? "refit" : "refit " + label;
        const Progress staged(
            [&](const char* s, int done, int total) { progress(s, done, total); },
            [&](const EpochRecord& r) {
              EpochRecord named = r;
              named.stage = label;
              progress.epoch(named);
            });
        if (!validating) {
          const int epochs = kept[stage];
          for (int e = 1; e <= epochs; ++e) {
            const auto t0 = std::chrono::steady_clock::now();
            const nn::EpochLoss l = train_epoch(stage, opt);
            if (!std::isfinite(l.loss))
              throw Error("training diverged at refit epoch " + std::to_string(e) + " (the loss is not finite): lower --lr");
            EpochRecord r;
            r.epoch = e;
            r.epochs = epochs;
            r.loss = l.loss;
            r.lr = l.lr;
            r.value = std::numeric_limits<double>::quiet_NaN();
            r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            staged.epoch(r);
          }
          return;
        }
        TrainInfo stage_info;
        nn::run_epochs(backend, net->stage_parameters(stage), max_epochs, *hyper.patience,
                       [&](int) { return train_epoch(stage, opt); }, validate, validation->name(), staged,
                       stage_info, start);
        kept[stage] = stage_info.best_epoch;
        info.loss.insert(info.loss.end(), stage_info.loss.begin(), stage_info.loss.end());
        info.best_epoch = epochs_before + stage_info.best_epoch;  // a kept start: epochs_before
        epochs_before += stage_info.epochs_run;
        info.epochs_run = epochs_before;
      };

      std::optional<double> fused_start;
      if (pretrain > 0) {
        // The paper's pre-training: GMF alone, then MLP alone, each from its random
        // initialisation with Adam until validation stops improving. A branch's output weights
        // are zero while the other trains, so the model scores (and validates) that branch alone.
        backend.fill(net->out_mlp.weight.value, 0.0);
        {
          nn::Adam opt(backend, net->stage_parameters(Stage::gmf), adam);
          run_stage(Stage::gmf, "gmf", opt, pretrain, std::nullopt);
        }
        const Tensor gmf_out = backend.alloc(net->out_gmf.weight.value.shape(), DType::f32);
        const Tensor gmf_bias = backend.alloc(net->out_mlp.bias.value.shape(), DType::f32);
        backend.copy(net->out_gmf.weight.value, gmf_out);
        backend.copy(net->out_mlp.bias.value, gmf_bias);
        backend.fill(net->out_gmf.weight.value, 0.0);
        backend.fill(net->out_mlp.bias.value, 0.0);
        nn::xavier_uniform(backend, net->out_mlp.weight, f, 1, rng);
        {
          nn::Adam opt(backend, net->stage_parameters(Stage::mlp), adam);
          run_stage(Stage::mlp, "mlp", opt, pretrain, std::nullopt);
        }
        // NeuMF from the two: the output layer over [gmf, h_L] is [a w_gmf, (1 - a) w_mlp] with
        // bias a b_gmf + (1 - a) b_mlp, so the fused model starts as a weighted mean of the two
        // pre-trained logits. The paper fixes a = 0.5; pass 0 tries kAlphas on the validation part
        // (the stronger branch should weigh more) and keeps the best, ties to the earlier (0.5
        // first); the refit uses pass 0's choice. Fine-tuning keeps that start unless an epoch
        // beats it on validation.
        const Tensor mlp_out = backend.alloc(net->out_mlp.weight.value.shape(), DType::f32);
        const Tensor mlp_bias = backend.alloc(net->out_mlp.bias.value.shape(), DType::f32);
        backend.copy(net->out_mlp.weight.value, mlp_out);
        backend.copy(net->out_mlp.bias.value, mlp_bias);
        const auto fuse = [&](double a) {
          backend.scale(gmf_out, a, 0.0, net->out_gmf.weight.value);
          backend.scale(mlp_out, 1.0 - a, 0.0, net->out_mlp.weight.value);
          backend.add(gmf_bias, mlp_bias, net->out_mlp.bias.value, a, 1.0 - a);
        };
        if (validating) {
          for (const double a : kAlphas) {
            fuse(a);
            const double score = validate();
            EpochRecord r;  // one line per candidate start, as stage "fuse a=0.5" etc.
            r.metric = validation->name();
            r.value = score;
            r.loss = std::numeric_limits<double>::quiet_NaN();
            r.best = !fused_start || score > *fused_start;
            r.stage = "fuse a=" + std::to_string(a).substr(0, 3);
            progress.epoch(r);
            if (r.best) {
              fused_start = score;
              alpha = a;
            }
          }
        }
        fuse(alpha);
      }
      AdamStep fused = adam;
      if (pretrain > 0) fused.lr = kFineTuneLr;
      nn::Adam opt(backend, net->stage_parameters(Stage::fused), fused);
      run_stage(Stage::fused, "neumf", opt, *hyper.epochs, fused_start);
    }
    publish(backend, *net);
  }

  void params_changed() override { build_cache(); }

 private:
  // The network's weights on the host: what the file stores and the serving cache is made from.
  struct Weights {
    Matrix gmf_user, gmf_item;      // [users, f], [items, f]
    Matrix mlp_user, mlp_item;      // [users, e], [items, e]
    Matrix first_user, first_item;  // [w_1, e] each: the halves of W_1 over [m_u, n_i]
    Vector first_bias;              // [w_1]
    std::vector<Matrix> tower_w;    // layer k = 2..L: [w_k, w_{k-1}]
    std::vector<Vector> tower_b;    // [w_k]
    Matrix out_gmf, out_mlp;        // [1, f] each: w_out over [gmf, h_L]
    Vector out_bias;                // [1]
  };

  // The weights as the serving forward pass reads them, on serve_.
  struct Cache {
    Tensor gmf_user, gmf_item;
    Tensor user_proj;   // [users, w_1]: m_u W_1u' + b_1
    Tensor item_proj;   // [items, w_1]: n_i W_1i'
    Tensor first_user;  // [w_1, e] (fold-in)
    Tensor first_bias;  // [w_1]
    std::vector<Tensor> tower_wt, tower_b;  // [w_{k-1}, w_k] (transposed: a row-major GEMM), [w_k]
    Tensor out_gmf_t, out_mlp_t;            // [f, 1]
    Tensor out_bias;                        // [1]
    Tensor item_unit;                       // [items, f + e]: unit-length [GMF | MLP] rows
  };

  static void check_shape_hyper(int f, int layers) {
    if (layers < 1 || layers > kMaxLayers)
      throw Error("neumf: --layers must be in 1.." + std::to_string(kMaxLayers) + " (got " +
                  std::to_string(layers) + ")");
    if ((static_cast<std::int64_t>(f) << layers) > 65536)
      throw Error("neumf: --factors x 2^--layers must be at most 65536 (the MLP input width)");
  }

  void publish(Backend& b, const Net& net) {
    download_into(b, net.gmf_user.weight, w_.gmf_user);
    download_into(b, net.gmf_item.weight, w_.gmf_item);
    download_into(b, net.mlp_user.weight, w_.mlp_user);
    download_into(b, net.mlp_item.weight, w_.mlp_item);
    download_into(b, net.first_user.weight, w_.first_user);
    download_into(b, net.first_item.weight, w_.first_item);
    download_into(b, net.first_user.bias, w_.first_bias);
    w_.tower_w.resize(net.tower.size());
    w_.tower_b.resize(net.tower.size());
    for (std::size_t k = 0; k < net.tower.size(); ++k) {
      download_into(b, net.tower[k]->weight, w_.tower_w[k]);
      download_into(b, net.tower[k]->bias, w_.tower_b[k]);
    }
    download_into(b, net.out_gmf.weight, w_.out_gmf);
    download_into(b, net.out_mlp.weight, w_.out_mlp);
    download_into(b, net.out_mlp.bias, w_.out_bias);
    build_cache();
  }

  void build_cache() {
    if (w_.gmf_item.size() == 0 && w_.out_bias.size() == 0) {
      cache_.reset();
      return;
    }
    if (!serve_) serve_ = make_cpu_backend();
    Backend& b = *serve_;
    auto c = std::make_unique<Cache>();
    c->gmf_user = upload_matrix(b, w_.gmf_user);
    c->gmf_item = upload_matrix(b, w_.gmf_item);
    c->first_user = upload_matrix(b, w_.first_user);
    c->first_bias = upload_vector(b, w_.first_bias);
    const Tensor first_item = upload_matrix(b, w_.first_item);
    const Tensor mlp_user = upload_matrix(b, w_.mlp_user), mlp_item = upload_matrix(b, w_.mlp_item);
    const std::int64_t w1 = w_.first_bias.size();
    c->user_proj = b.alloc(Shape{w_.mlp_user.rows(), w1}, DType::f32);
    c->item_proj = b.alloc(Shape{w_.mlp_item.rows(), w1}, DType::f32);
    if (w_.mlp_user.rows() > 0) {
      b.gemm(false, true, 1.0, mlp_user, c->first_user, 0.0, c->user_proj);
      b.add(c->user_proj, c->first_bias, c->user_proj);
    }
    b.gemm(false, true, 1.0, mlp_item, first_item, 0.0, c->item_proj);
    for (std::size_t k = 0; k < w_.tower_w.size(); ++k) {
      c->tower_wt.push_back(upload_matrix(b, w_.tower_w[k].transpose()));
      c->tower_b.push_back(upload_vector(b, w_.tower_b[k]));
    }
    c->out_gmf_t = upload_matrix(b, w_.out_gmf.transpose());
    c->out_mlp_t = upload_matrix(b, w_.out_mlp.transpose());
    c->out_bias = upload_vector(b, w_.out_bias);
    // similar(): rows of [GMF | MLP] scaled to unit length (a zero row stays zero).
    Matrix unit(w_.gmf_item.rows(), w_.gmf_item.cols() + w_.mlp_item.cols());
    unit << w_.gmf_item, w_.mlp_item;
    for (Eigen::Index i = 0; i < unit.rows(); ++i) {
      const float norm = unit.row(i).norm();
      if (norm > 0) unit.row(i) /= norm;
    }
    c->item_unit = upload_matrix(b, unit);
    cache_ = std::move(c);
  }

  // Scores of every item (or of the items in `index`, i32 [n]) for a user given by its GMF
  // embedding gu ([f] or [1, f]) and the user half of the first MLP layer up ([w_1] or [1, w_1],
  // bias included): one forward pass.
  void score_with(const Tensor& gu, const Tensor& up, float* out, const Tensor* index = nullptr) const {
    Backend& b = *serve_;
    const Cache& c = *cache_;
    Tensor item_proj = c.item_proj, gmf_item = c.gmf_item;
    if (index) {
      item_proj = b.alloc(Shape{index->dim(0), c.item_proj.dim(1)}, DType::f32);
      gmf_item = b.alloc(Shape{index->dim(0), c.gmf_item.dim(1)}, DType::f32);
      b.gather_rows(c.item_proj, *index, item_proj);
      b.gather_rows(c.gmf_item, *index, gmf_item);
    }
    const std::int64_t items = item_proj.dim(0);
    Tensor h = b.alloc(item_proj.shape(), DType::f32);
    b.add(item_proj, up, h);
    b.activation(Act::relu, h, h);
    for (std::size_t k = 0; k < c.tower_wt.size(); ++k) {
      Tensor y = b.alloc(Shape{items, c.tower_wt[k].dim(1)}, DType::f32);
      b.gemm(false, false, 1.0, h, c.tower_wt[k], 0.0, y);
      b.add(y, c.tower_b[k], y);
      b.activation(Act::relu, y, y);
      h = y;
    }
    Tensor s = b.alloc(Shape{items, 1}, DType::f32);
    b.gemm(false, false, 1.0, h, c.out_mlp_t, 0.0, s);
    Tensor g = b.alloc(gmf_item.shape(), DType::f32);
    b.mul(gmf_item, gu, g);
    b.gemm(false, false, 1.0, g, c.out_gmf_t, 1.0, s);
    b.add(s, c.out_bias, s);
    b.download(s, out);
  }

  // Fits a new user's GMF and MLP embeddings to `history` (every entry a positive, whatever its
  // value) with the item side fixed: kFoldInPasses full-batch Adam steps on binary cross-entropy
  // with --train-negatives fresh uniform negatives per positive each pass, from a fixed seed (a
  // history always folds in to the same vectors). Writes gu [1, f] and up [1, w_1]; false for
  // an empty history.
  bool fold_in(const std::vector<ItemValue>& history, Tensor& gu, Tensor& up) const {
    std::vector<index_t> pos;
    for (const auto& h : history)
      if (h.item < n_items()) pos.push_back(h.item);
    std::sort(pos.begin(), pos.end());
    pos.erase(std::unique(pos.begin(), pos.end()), pos.end());
    if (pos.empty()) return false;
    Backend& b = *serve_;
    const Cache& c = *cache_;
    const std::int64_t f = c.gmf_item.dim(1), e = c.first_user.dim(1);
    Rng rng(mix_seed(hyper.seed, kFoldInStream));
    nn::Parameter pg = nn::make_parameter(b, "fold_in.gmf_user", Shape{1, f}, DType::f32);
    nn::Parameter pm = nn::make_parameter(b, "fold_in.mlp_user", Shape{1, e}, DType::f32);
    const double init_std = hyper.init_std ? *hyper.init_std : 0.01;
    nn::init_normal(b, pg, init_std, rng);
    nn::init_normal(b, pm, init_std, rng);
    AdamStep adam;
    adam.lr = kFoldInLr;
    nn::Adam opt(b, {&pg, &pm}, adam);
    const int negatives = std::max(1, hyper.train_negatives ? *hyper.train_negatives : 4);
    const bool room = pos.size() < n_items();
    std::vector<std::int32_t> items;
    std::vector<float> labels;
    for (int pass = 0; pass < kFoldInPasses; ++pass) {
      items.clear();
      labels.clear();
      for (const index_t i : pos) {
        items.push_back(static_cast<std::int32_t>(i));
        labels.push_back(1.0f);
        for (int j = 0; j < negatives && room; ++j) {
          for (int tries = 0; tries < 64; ++tries) {
            const auto cand = static_cast<index_t>(rng.below(n_items()));
            if (std::binary_search(pos.begin(), pos.end(), cand)) continue;
            items.push_back(static_cast<std::int32_t>(cand));
            labels.push_back(0.0f);
            break;
          }
        }
      }
      const auto rows = static_cast<std::int64_t>(items.size());
      const Tensor index = make_tensor(b, Shape{rows}, items);
      fold_in_gradient(index, make_tensor(b, Shape{rows, 1}, labels), pg, pm);
      opt.step();
      opt.zero_grad();
    }
    if (!std::isfinite(b.sum_squares(pg.value)) || !std::isfinite(b.sum_squares(pm.value)))
      throw Error("neumf fold-in diverged: the new user's embeddings are not finite");
    gu = pg.value;
    up = b.alloc(Shape{1, c.first_bias.dim(0)}, DType::f32);
    b.gemm(false, true, 1.0, pm.value, c.first_user, 0.0, up);
    b.add(up, c.first_bias, up);
    return true;
  }

  // The fold-in's gradient by hand, on the serving backend: d loss / d pg and d loss / d pm into
  // their .grad, for the mean binary cross-entropy of the fused logits of the `index` items
  // against `labels` [rows, 1]. Written out rather than recorded on an nn::Tape because the
  // serving-only build (wasm), which folds new users in, has no backward passes
  // (serve_only.hpp); test_neumf checks it against the tape's gradient.
  void fold_in_gradient(const Tensor& index, const Tensor& labels, nn::Parameter& pg, nn::Parameter& pm) const {
    Backend& b = *serve_;
    const Cache& c = *cache_;
    const std::int64_t rows = index.numel(), f = c.gmf_item.dim(1), layers = static_cast<std::int64_t>(c.tower_wt.size());
    const auto alloc = [&](std::int64_t cols) { return b.alloc(Shape{rows, cols}, DType::f32); };
    // Forward: GMF part g = gmf_item[i] * pg; MLP pre-activations a_0 = item_proj[i] + (pm W_1u' + b_1),
    // a_k = relu(a_{k-1}) W_k + b_k; logit = relu(a_L) o_mlp + g o_gmf + o_b.
    const Tensor gi = alloc(f);
    b.gather_rows(c.gmf_item, index, gi);
    const Tensor g = alloc(f);
    b.mul(gi, pg.value, g);
    const Tensor u = b.alloc(Shape{1, c.first_bias.dim(0)}, DType::f32);
    b.gemm(false, true, 1.0, pm.value, c.first_user, 0.0, u);
    b.add(u, c.first_bias, u);
    std::vector<Tensor> pre, act;
    pre.push_back(alloc(u.dim(1)));
    b.gather_rows(c.item_proj, index, pre[0]);
    b.add(pre[0], u, pre[0]);
    for (std::int64_t k = 0;; ++k) {
      act.push_back(alloc(pre[k].dim(1)));
      b.activation(Act::relu, pre[k], act[k]);
      if (k == layers) break;
      pre.push_back(alloc(c.tower_wt[k].dim(1)));
      b.gemm(false, false, 1.0, act[k], c.tower_wt[k], 0.0, pre[k + 1]);
      b.add(pre[k + 1], c.tower_b[k], pre[k + 1]);
    }
    const Tensor logit = alloc(1);
    b.gemm(false, false, 1.0, act[layers], c.out_mlp_t, 0.0, logit);
    b.gemm(false, false, 1.0, g, c.out_gmf_t, 1.0, logit);
    b.add(logit, c.out_bias, logit);
    // Backward: d loss / d logit = (sigmoid(logit) - label) / rows.
    const Tensor dlogit = alloc(1);
    b.activation(Act::sigmoid, logit, dlogit);
    b.add(dlogit, labels, dlogit, 1.0 / static_cast<double>(rows), -1.0 / static_cast<double>(rows));
    const Tensor dg = alloc(f);
    b.gemm(false, true, 1.0, dlogit, c.out_gmf_t, 0.0, dg);
    b.mul(dg, gi, dg);
    b.reduce_rows(dg, pg.grad);
    Tensor dh = alloc(act[layers].dim(1));
    b.gemm(false, true, 1.0, dlogit, c.out_mlp_t, 0.0, dh);
    for (std::int64_t k = layers;; --k) {
      const Tensor da = alloc(pre[k].dim(1));
      b.activation_backward(Act::relu, pre[k], dh, da);
      if (k == 0) {
        const Tensor du = b.alloc(Shape{1, da.dim(1)}, DType::f32);
        b.reduce_rows(da, du);
        b.gemm(false, false, 1.0, du, c.first_user, 0.0, pm.grad);
        return;
      }
      dh = alloc(pre[k - 1].dim(1));
      b.gemm(false, true, 1.0, da, c.tower_wt[k - 1], 0.0, dh);
    }
  }

  Weights w_;
  std::unique_ptr<Backend> serve_;  // the serial reference backend serving runs on
  std::unique_ptr<const Cache> cache_;

  friend class cereal::access;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    io::section_start(ar, version, kSectionVersion, hyper,
                      io::kFactors | io::kEpochs | io::kLr | io::kReg | io::kInitStd);
    ar(cereal::make_nvp("batch", hyper.batch), cereal::make_nvp("layers", hyper.layers),
       cereal::make_nvp("train_negatives", hyper.train_negatives), cereal::make_nvp("patience", hyper.patience));
    int f = 0, layers = 0;
    if constexpr (Archive::is_loading::value) {
      if (!hyper.factors) ar.fail("hyper.factors", "is missing (neumf needs its width)");
      if (!hyper.layers || *hyper.layers < 1 || *hyper.layers > kMaxLayers)
        ar.fail("layers", "must be present and in 1.." + std::to_string(kMaxLayers));
      if ((static_cast<std::int64_t>(*hyper.factors) << *hyper.layers) > 65536)
        ar.fail("layers", "factors x 2^layers exceeds 65536");
      for (auto [v, name] : {std::pair{hyper.batch, "batch"}, {hyper.train_negatives, "train_negatives"},
                             {hyper.patience, "patience"}})
        if (v && *v < (std::string(name) == "batch" ? 1 : 0)) ar.fail(name, "is negative");
    }
    f = *hyper.factors;
    layers = *hyper.layers;
    const auto w = tower_widths(f, layers);
    const std::int64_t e = w[0] / 2;
    ar(cereal::make_nvp("gmf_user", io::shaped(w_.gmf_user, n_users(), f)),
       cereal::make_nvp("gmf_item", io::shaped(w_.gmf_item, n_items(), f)),
       cereal::make_nvp("mlp_user", io::shaped(w_.mlp_user, n_users(), e)),
       cereal::make_nvp("mlp_item", io::shaped(w_.mlp_item, n_items(), e)),
       cereal::make_nvp("mlp_0_user_weight", io::shaped(w_.first_user, w[1], e)),
       cereal::make_nvp("mlp_0_item_weight", io::shaped(w_.first_item, w[1], e)),
       cereal::make_nvp("mlp_0_bias", io::shaped(w_.first_bias, w[1])));
    if constexpr (Archive::is_loading::value) {
      w_.tower_w.assign(static_cast<std::size_t>(layers - 1), Matrix{});
      w_.tower_b.assign(static_cast<std::size_t>(layers - 1), Vector{});
    }
    for (int k = 2; k <= layers; ++k) {
      const std::string wn = "mlp_" + std::to_string(k - 1) + "_weight", bn = "mlp_" + std::to_string(k - 1) + "_bias";
      const auto idx = static_cast<std::size_t>(k - 2);
      ar(cereal::make_nvp(wn.c_str(), io::shaped(w_.tower_w[idx], w[static_cast<std::size_t>(k)], w[static_cast<std::size_t>(k - 1)])),
         cereal::make_nvp(bn.c_str(), io::shaped(w_.tower_b[idx], w[static_cast<std::size_t>(k)])));
    }
    ar(cereal::make_nvp("out_gmf", io::shaped(w_.out_gmf, 1, f)), cereal::make_nvp("out_mlp", io::shaped(w_.out_mlp, 1, f)),
       cereal::make_nvp("out_bias", io::shaped(w_.out_bias, 1)));
    if constexpr (Archive::is_loading::value) build_cache();
  }
};

}  // namespace
}  // namespace edgerec

EDGEREC_MODEL_SECTION(edgerec::NeuMf)

namespace edgerec {

std::unique_ptr<Model> make_neumf() { return std::make_unique<NeuMf>(); }

double neumf_fold_in_gradient_error(const Model& model, const std::vector<std::int32_t>& items,
                                    const std::vector<float>& labels) {
  const auto* neumf = dynamic_cast<const NeuMf*>(&model);
  if (!neumf) throw Error("neumf_fold_in_gradient_error: not a neumf model");
  return neumf->fold_in_gradient_error(items, labels);
}

}  // namespace edgerec
