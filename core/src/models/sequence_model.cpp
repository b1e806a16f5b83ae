// The sequence model kinds: sasrec (Kang & McAuley 2018), gru4rec (Hidasi et al. 2016, GRU) and
// lstm (the same with an LSTM). One network class with a switch on the kind; all three read the
// user's items in time order (Model::sequences) and end in a dot product with the item table.
//
// Serving form (issue 8, item 6): after training, V = the item embedding table (the network's
// input and output table, no bias column) and U = each known user's query vector, the network's
// output at the last position of the user's stored sequence (its last max_len items). So score,
// top_k (NormIndex), the int8 item matrix and the wasm scan serve these kinds unchanged. A new
// user has no fold-in optimisation: fold_in() is one forward pass over the visitor's recent items.
//
// Training: every position of every user's sequence predicts its next item, with a sampled
// softmax cross-entropy over `train_negatives` uniform negatives shared by the mini-batch
// (nn::shared_sampled_softmax_cross_entropy; Klenitskiy & Vasilev 2023 show cross-entropy with
// many negatives lifts SASRec far above its BCE form). Batches are bucketed by length (a seeded
// shuffle, then sorted by length within chunks of kBucketBatches batches, then the batches
// shuffled), so a batch is as long as its longest sequence rather than max_len; positions are
// left-padded and padding positions are left out of the loss. Adam with global-norm clipping;
// early stopping on the validation part through nn::run_epochs (nn/train.hpp).
//
// Determinism: the same seed and backend thread count give the same bytes.
//
// Thread-safety: the serving network lives on the model's own serial CPU backend (so a loaded
// model needs no backend), and its forward passes (fold-in, explain) run under a mutex: a
// forward pass writes the attention layer's last_attention(). Scoring known users reads U only.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>
#include <numeric>
#include <string>
#include <vector>

#include "edgerec/nn/autodiff.hpp"
#include "edgerec/nn/layers.hpp"
#include "edgerec/nn/loss.hpp"
#include "edgerec/nn/optim.hpp"
#include "edgerec/nn/train.hpp"
#include "edgerec/split.hpp"
#include "models/embedding_model.hpp"
#include "models/factories.hpp"
#include "serve_only.hpp"

namespace edgerec {
namespace {

// Global-norm gradient clipping threshold (Pascanu et al. 2013); rarely reached after warm-up.
constexpr double kClipNorm = 5.0;
// Length buckets: sorted within chunks of this many batches (more: less padding, less mixing).
constexpr std::size_t kBucketBatches = 32;
// Users per batch of the inference forward pass (U after training, validation).
constexpr std::int64_t kInferenceBatch = 256;

// The network: item embedding -> (sasrec) scaled by sqrt(D) + learned positions -> `layers`
// pre-norm Transformer blocks of causal self-attention and a point-wise ReLU feed-forward, each
// sub-layer x + dropout(f(norm(x))), then a final layer norm (as the SASRec reference code);
// (gru4rec, lstm) -> `layers` recurrent layers with dropout between them. Output [B, T, D].
class SeqNet final : public nn::Module {
 public:
  struct Config {
    ModelKind kind = ModelKind::sasrec;
    std::int64_t items = 0, dim = 0, max_len = 0, layers = 0, heads = 1;
    double dropout = 0.0, init_std = 0.1;
  };

  SeqNet(Backend& backend, const Config& c, Rng& rng)
      : config(c), items(backend, "items", c.items, c.dim, DType::f32, rng, c.init_std) {
    const std::string k = kind_name(c.kind);
    if (c.kind == ModelKind::sasrec) {
      positions = std::make_unique<nn::Embedding>(backend, "positions", c.max_len, c.dim, DType::f32, rng, c.init_std);
      for (std::int64_t l = 0; l < c.layers; ++l) {
        const std::string n = "block" + std::to_string(l);
        auto b = std::make_unique<Block>();
        b->attention_norm = std::make_unique<nn::LayerNorm>(backend, n + ".attention_norm", c.dim, DType::f32);
        b->attention = std::make_unique<nn::MultiHeadAttention>(backend, n + ".attention", c.dim, c.heads,
                                                                DType::f32, rng, true, c.dropout);
        b->ffn_norm = std::make_unique<nn::LayerNorm>(backend, n + ".ffn_norm", c.dim, DType::f32);
        b->ffn = std::make_unique<nn::FeedForward>(backend, n + ".ffn", c.dim, c.dim, DType::f32, rng, Act::relu,
                                                   c.dropout);
        blocks.push_back(std::move(b));
      }
      final_norm = std::make_unique<nn::LayerNorm>(backend, "final_norm", c.dim, DType::f32);
    } else {
      for (std::int64_t l = 0; l < c.layers; ++l) {
        const std::string n = "rnn" + std::to_string(l);
        if (c.kind == ModelKind::gru4rec)
          grus.push_back(std::make_unique<nn::Gru>(backend, n, c.dim, c.dim, DType::f32, rng));
        else
          lstms.push_back(std::make_unique<nn::Lstm>(backend, n, c.dim, c.dim, DType::f32, rng));
      }
    }
  }

  // One batch of left-padded sequences: seq i32 [B, T] (-1 at padding).
  struct Batch {
    std::int64_t B = 0, T = 0;
    std::vector<std::int32_t> seq;
  };

  nn::Var forward(nn::Tape& tape, const Batch& batch) {
    Backend& be = tape.backend();
    const std::int64_t B = batch.B, T = batch.T, D = config.dim;
    std::vector<std::int32_t> keys(batch.seq.size());
    for (std::size_t i = 0; i < keys.size(); ++i) keys[i] = batch.seq[i] >= 0 ? 1 : 0;
    const Tensor seq = make_tensor(be, Shape{B, T}, batch.seq);
    const Tensor key_mask = make_tensor(be, Shape{B, T}, keys);
    nn::Var x = items.forward(tape, seq);
    if (config.kind == ModelKind::sasrec) {
      // Positions count back from the end (the last item is always max_len - 1), as when every
      // sequence is left-padded to max_len in the paper; padding gets no position (row -1).
      std::vector<std::int32_t> pos(batch.seq.size());
      for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t t = 0; t < T; ++t) {
          const auto i = static_cast<std::size_t>(b * T + t);
          pos[i] = keys[i] ? static_cast<std::int32_t>(config.max_len - T + t) : -1;
        }
      x = nn::add(x, positions->forward(tape, make_tensor(be, Shape{B, T}, pos)), std::sqrt(static_cast<double>(D)));
      x = nn::dropout(x, config.dropout);
      for (auto& b : blocks) {
        x = nn::add(x, nn::dropout(b->attention->forward(tape, b->attention_norm->forward(tape, x), key_mask),
                                   config.dropout));
        x = nn::add(x, nn::dropout(b->ffn->forward(tape, b->ffn_norm->forward(tape, x)), config.dropout));
      }
      return final_norm->forward(tape, x);
    }
    x = nn::dropout(x, config.dropout);
    for (std::size_t l = 0; l < grus.size(); ++l)
      x = nn::dropout(grus[l]->forward(tape, x, key_mask), config.dropout);
    for (std::size_t l = 0; l < lstms.size(); ++l)
      x = nn::dropout(lstms[l]->forward(tape, x, key_mask), config.dropout);
    return x;
  }

  // The attention of the last block's forward pass ([B, heads, T, T]); undefined for RNNs.
  const Tensor& last_attention() const {
    static const Tensor none;
    return blocks.empty() ? none : blocks.back()->attention->last_attention();
  }

  void collect(std::vector<nn::Parameter*>& out) override {
    items.collect(out);
    if (positions) positions->collect(out);
    for (auto& b : blocks) {
      b->attention_norm->collect(out);
      b->attention->collect(out);
      b->ffn_norm->collect(out);
      b->ffn->collect(out);
    }
    if (final_norm) final_norm->collect(out);
    for (auto& g : grus) g->collect(out);
    for (auto& l : lstms) l->collect(out);
  }

  Config config;
  nn::Embedding items;
  std::unique_ptr<nn::Embedding> positions;
  struct Block {
    std::unique_ptr<nn::LayerNorm> attention_norm;
    std::unique_ptr<nn::MultiHeadAttention> attention;
    std::unique_ptr<nn::LayerNorm> ffn_norm;
    std::unique_ptr<nn::FeedForward> ffn;
  };
  std::vector<std::unique_ptr<Block>> blocks;
  std::unique_ptr<nn::LayerNorm> final_norm;
  std::vector<std::unique_ptr<nn::Gru>> grus;
  std::vector<std::unique_ptr<nn::Lstm>> lstms;
};

// The last `max_len` entries of a sequence.
std::pair<const index_t*, std::size_t> window(const index_t* items, std::size_t n, std::int64_t max_len) {
  const std::size_t m = std::min(n, static_cast<std::size_t>(max_len));
  return {items + (n - m), m};
}

// The network's parameters on the host, for the model file: every tensor but the item table
// (which is the embeddings' V), in SeqNet::parameters() order, each as a matrix [dim 0, rest].
struct NetParams {
  std::vector<std::string> names;
  std::vector<Matrix> values;
  static constexpr std::uint32_t kVersion = 1;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    if constexpr (Archive::is_loading::value)
      if (version != kVersion)
        ar.fail("network version " + std::to_string(version) + " is not " + std::to_string(kVersion) +
                " (a newer edgerec wrote it?)");
    for (std::size_t i = 0; i < names.size(); ++i)
      ar(cereal::make_nvp(names[i].c_str(), io::shaped(values[i], values[i].rows(), values[i].cols())));
  }
};

class SequenceModel final : public EmbeddingModel {
 public:
  // Its model file section: factors, epochs, lr, reg (Adam's L2 weight decay), init_std, the
  // neural hyper-parameters (batch, dropout, max_len, layers, heads, train_negatives, patience)
  // and the seed; the embeddings (V = item table, U = known users' queries); then the network
  // (NetParams, its own class version): every parameter but the item table, each shape
  // checked against what the hyper-parameters build.
  static constexpr std::uint32_t kSectionVersion = 1;
  void save_section(SaveArchive& ar) const override;
  void load_section(LoadArchive& ar) override;

  explicit SequenceModel(ModelKind kind) : kind_(kind) {}
  ModelKind kind() const override { return kind_; }
  bool needs_sequences() const override { return true; }

  Hyper defaults() const override {
    // Chosen on the validation part of Amazon Beauty's seq protocol (the curve's
    // val_full_ndcg@10; models/README.md lists the runs): lr, dropout and init_std were
    // compared by hand; factors, max_len, layers and heads are the paper's.
    Hyper h;
    h.factors = 64;
    h.epochs = 200;
    h.lr = 2e-3f;
    h.reg = 0.0f;
    h.init_std = 0.02f;
    h.batch = 128;
    h.dropout = kind_ == ModelKind::sasrec ? 0.5f : 0.3f;
    h.max_len = 50;
    h.layers = kind_ == ModelKind::sasrec ? 2 : 1;
    h.heads = 1;
    h.train_negatives = 256;
    h.patience = 5;
    return h;
  }

  Attribution explain(const std::vector<ItemValue>& history, index_t item, std::int64_t user) const override;

 protected:
  void fit_impl(const Interactions& train, Backend& backend, const Progress& progress) override;

  void fold_in(const std::vector<ItemValue>& history, RowVector& u, float& offset) const override {
    std::vector<index_t> seq;
    for (const auto& h : history)
      if (h.item < n_items()) seq.push_back(h.item);
    offset = 0.0f;
    u = RowVector::Zero(emb_.V.cols());
    if (seq.empty()) return;
    const std::lock_guard<std::mutex> lock(serve_mutex_);
    u = query(seq);
  }

 private:
  friend class cereal::access;

  SeqNet::Config config() const {
    SeqNet::Config c;
    c.kind = kind_;
    c.items = n_items();
    c.dim = *hyper.factors;
    c.max_len = *hyper.max_len;
    c.layers = *hyper.layers;
    c.heads = *hyper.heads;
    c.dropout = *hyper.dropout;
    c.init_std = *hyper.init_std;
    return c;
  }

  // Batches of the users in `rows` (indices into `seqs`), each row's last max_len items (minus
  // `drop_last` items at the end), left-padded to the batch's longest.
  static SeqNet::Batch make_batch(const Sequences& seqs, const std::vector<index_t>& rows, std::size_t begin,
                                  std::size_t end, std::int64_t max_len, std::size_t drop_last) {
    SeqNet::Batch b;
    b.B = static_cast<std::int64_t>(end - begin);
    for (std::size_t r = begin; r < end; ++r)
      b.T = std::max<std::int64_t>(
          b.T, std::min<std::int64_t>(max_len, static_cast<std::int64_t>(seqs.row_size(rows[r]) - drop_last)));
    b.seq.assign(static_cast<std::size_t>(b.B * b.T), -1);
    for (std::size_t r = begin; r < end; ++r) {
      const auto [w, n] = window(seqs.row(rows[r]), seqs.row_size(rows[r]) - drop_last, max_len);
      std::int32_t* out = b.seq.data() + static_cast<std::size_t>((r - begin) * static_cast<std::size_t>(b.T));
      for (std::size_t j = 0; j < n; ++j) out[static_cast<std::size_t>(b.T) - n + j] = static_cast<std::int32_t>(w[j]);
    }
    return b;
  }

  // U (n_users x D) = the network's output at the last position of each user's sequence, and
  // V = the item table, from `net` on `backend` (inference: no dropout).
  void compute_embeddings(SeqNet& net, Backend& backend) {
    const std::int64_t D = net.config.dim;
    const Sequences& seqs = *sequences;
    emb_.V.resize(n_items(), D);
    backend.download(net.items.weight.value, emb_.V.data());
    emb_.U = Matrix::Zero(n_users(), D);
    emb_.user_offset = Vector::Zero(n_users());
    emb_.factor_dims = static_cast<int>(D);
    std::vector<index_t> rows;
    for (index_t u = 0; u < std::min(n_users(), seqs.rows()); ++u)
      if (seqs.row_size(u) > 0) rows.push_back(u);
    std::stable_sort(rows.begin(), rows.end(),
                     [&](index_t a, index_t b) { return seqs.row_size(a) < seqs.row_size(b); });
    std::vector<float> out;
    for (std::size_t begin = 0; begin < rows.size(); begin += kInferenceBatch) {
      const std::size_t end = std::min(rows.size(), begin + static_cast<std::size_t>(kInferenceBatch));
      const SeqNet::Batch b = make_batch(seqs, rows, begin, end, net.config.max_len, 0);
      nn::Tape tape(backend, 0, false);
      const nn::Var h = net.forward(tape, b);
      std::vector<std::int32_t> last(static_cast<std::size_t>(b.B));
      for (std::int64_t r = 0; r < b.B; ++r) last[static_cast<std::size_t>(r)] = static_cast<std::int32_t>(r * b.T + b.T - 1);
      const nn::Var q = nn::gather(nn::reshape(h, Shape{b.B * b.T, D}), make_tensor(backend, Shape{b.B}, last));
      out = to_vector<float>(backend, q.value());
      for (std::int64_t r = 0; r < b.B; ++r)
        std::copy(out.begin() + r * D, out.begin() + (r + 1) * D,
                  emb_.U.row(static_cast<Eigen::Index>(rows[begin + static_cast<std::size_t>(r)])).data());
    }
    if (!emb_.U.allFinite() || !emb_.V.allFinite())
      throw Error(std::string(kind_name(kind_)) + " diverged (non-finite parameters): lower --lr");
    params_changed();
  }

  // The query vector of one sequence on the serving network. Caller holds serve_mutex_.
  RowVector query(const std::vector<index_t>& seq) const {
    const auto [w, n] = window(seq.data(), seq.size(), net_->config.max_len);
    SeqNet::Batch b;
    b.B = 1;
    b.T = static_cast<std::int64_t>(n);
    b.seq.assign(w, w + n);
    nn::Tape tape(*cpu_, 0, false);
    const nn::Var h = net_->forward(tape, b);
    const std::int64_t D = net_->config.dim;
    const std::vector<float> all = to_vector<float>(*cpu_, h.value());
    RowVector u(D);
    std::copy(all.end() - D, all.end(), u.data());
    return u;
  }

  // The serving network on the model's own serial backend, with `host` (NetParams order) and
  // the item table from emb_.V.
  void build_serving_net(const std::vector<std::vector<float>>& host) {
    cpu_ = make_cpu_backend();
    Rng rng(0);
    net_ = std::make_unique<SeqNet>(*cpu_, config(), rng);
    auto params = net_->parameters();
    cpu_->upload(params[0]->value, emb_.V.data());
    for (std::size_t i = 1; i < params.size(); ++i) cpu_->upload(params[i]->value, host[i - 1].data());
  }

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version);

  ModelKind kind_;
  std::unique_ptr<Backend> cpu_;
  std::unique_ptr<SeqNet> net_;
  mutable std::mutex serve_mutex_;
};

void SequenceModel::fit_impl(const Interactions& train, Backend& backend, const Progress& progress) {
  EDGEREC_TRAINING_ONLY("training");
  if (*hyper.factors % *hyper.heads != 0)
    throw Error("--factors " + std::to_string(*hyper.factors) + " must be divisible by --heads " +
                std::to_string(*hyper.heads));
  if (*hyper.train_negatives < 1) throw Error("--train-negatives must be at least 1 for " + std::string(kind_name(kind_)));
  if (kind_ != ModelKind::sasrec && *hyper.layers < 1) throw Error("--layers must be at least 1 for " + std::string(kind_name(kind_)));
  const std::string stage = kind_name(kind_);
  Rng init(mix_seed(hyper.seed, static_cast<std::uint64_t>(kind_)));
  SeqNet net(backend, config(), init);
  const std::vector<nn::Parameter*> params = net.parameters();
  AdamStep adam;
  adam.lr = *hyper.lr;
  adam.weight_decay = *hyper.reg;
  nn::Adam optimizer(backend, params, adam);
  const nn::LrSchedule schedule = nn::lr_schedule(hyper);
  std::int64_t step = 0;

  const nn::Holdout holdout = nn::hold_out_last(train);
  {
    const nn::HeldOutHistory held(*this, holdout.fit);
    const Sequences& seqs = *sequences;
    // Examples: users with a next item to predict (two or more items).
    std::vector<index_t> users;
    for (index_t u = 0; u < seqs.rows(); ++u)
      if (seqs.row_size(u) >= 2) users.push_back(u);
    const auto batch_size = static_cast<std::size_t>(*hyper.batch);
    const std::int64_t max_len = *hyper.max_len, D = *hyper.factors;
    const auto negatives = static_cast<std::int64_t>(*hyper.train_negatives);
    const int n_batches = static_cast<int>((users.size() + batch_size - 1) / batch_size);

    auto train_epoch = [&](int epoch) {
      const std::vector<std::int32_t> order = nn::epoch_order(users.size(), hyper.seed, epoch, 0x5E0);
      std::vector<index_t> rows(order.size());
      for (std::size_t i = 0; i < order.size(); ++i) rows[i] = users[static_cast<std::size_t>(order[i])];
      const std::size_t chunk = batch_size * kBucketBatches;
      for (std::size_t c = 0; c < rows.size(); c += chunk)
        std::stable_sort(rows.begin() + static_cast<std::ptrdiff_t>(c),
                         rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), c + chunk)),
                         [&](index_t a, index_t b) { return seqs.row_size(a) < seqs.row_size(b); });
      const std::vector<std::int32_t> batch_order =
          nn::epoch_order(static_cast<std::size_t>(n_batches), hyper.seed, epoch, 0xBA7);
      nn::EpochLoss result;
      result.lr = optimizer.lr;
      double loss_sum = 0;
      std::size_t positions = 0;
      for (int k = 0; k < n_batches; ++k) {
        const std::size_t begin = static_cast<std::size_t>(batch_order[static_cast<std::size_t>(k)]) * batch_size;
        const std::size_t end = std::min(rows.size(), begin + batch_size);
        // Inputs: all but the last item; targets: the items one step later.
        const SeqNet::Batch b = make_batch(seqs, rows, begin, end, max_len, 1);
        std::vector<std::int32_t> where, targets;
        for (std::size_t r = begin; r < end; ++r) {
          const std::size_t len = seqs.row_size(rows[r]);
          const auto [w, n] = window(seqs.row(rows[r]) + 1, len - 1, max_len);
          for (std::size_t j = 0; j < n; ++j) {
            where.push_back(static_cast<std::int32_t>(static_cast<std::int64_t>(r - begin) * b.T + b.T -
                                                      static_cast<std::int64_t>(n) + static_cast<std::int64_t>(j)));
            targets.push_back(static_cast<std::int32_t>(w[j]));
          }
        }
        Rng rng(mix_seed(hyper.seed, static_cast<std::uint64_t>(epoch), static_cast<std::uint64_t>(k) + 1));
        std::vector<std::int32_t> neg(static_cast<std::size_t>(negatives));
        for (auto& v : neg) v = static_cast<std::int32_t>(rng.below(n_items()));
        const auto R = static_cast<std::int64_t>(where.size());
        nn::Tape tape(backend, mix_seed(hyper.seed, static_cast<std::uint64_t>(epoch), 0xD50 + static_cast<std::uint64_t>(k)));
        const nn::Var h = net.forward(tape, b);
        const nn::Var q = nn::gather(nn::reshape(h, Shape{b.B * b.T, D}), make_tensor(backend, Shape{R}, where));
        const nn::Var loss = nn::shared_sampled_softmax_cross_entropy(
            q, tape.param(net.items.weight), make_tensor(backend, Shape{R}, targets),
            make_tensor(backend, Shape{negatives}, neg));
        loss_sum += static_cast<double>(to_vector<float>(backend, loss.value())[0]) * static_cast<double>(R);
        positions += static_cast<std::size_t>(R);
        tape.backward(loss);
        optimizer.clip_grad_norm(kClipNorm);
        optimizer.lr = schedule.at(step++, static_cast<std::int64_t>(*hyper.epochs) * n_batches);
        result.lr = optimizer.lr;
        optimizer.step();
        optimizer.zero_grad();
        progress(stage.c_str(), k + 1, n_batches);
      }
      result.loss = positions ? loss_sum / static_cast<double>(positions) : 0.0;
      return result;
    };
    const nn::Validation validation(holdout, hyper.val_negatives.value_or(0), hyper.seed);
    auto validate = [&] {
      compute_embeddings(net, backend);
      return validation(*this, backend);
    };
    if (users.empty()) throw Error(stage + ": no user has two interactions to learn a next item from");
    nn::run_epochs(backend, params, *hyper.epochs, *hyper.patience, train_epoch, validate,
                   validation.name(), progress, info);
  }
  // The held-out items are history again: queries read the whole training part.
  compute_embeddings(net, backend);
  std::vector<std::vector<float>> host;
  for (std::size_t i = 1; i < params.size(); ++i) host.push_back(to_vector<float>(backend, params[i]->value));
  build_serving_net(host);
}

Attribution SequenceModel::explain(const std::vector<ItemValue>& history, index_t item, std::int64_t user) const {
  if (item >= n_items()) throw Error("explain: item index out of range");
  Attribution a;
  a.exact = false;
  a.base = 0.0;
  if (history.empty()) return a;
  // The sequence the served score reads: a known user's stored sequence (time order, repeats
  // kept), or the folded-in history as given.
  std::vector<index_t> seq;
  if (user >= 0 && sequences && user < sequences->rows()) {
    const auto u = static_cast<index_t>(user);
    seq.assign(sequences->row(u), sequences->row(u) + sequences->row_size(u));
  } else {
    for (const auto& h : history) seq.push_back(h.item);
  }
  for (const auto& h : history)
    if (h.item >= n_items()) throw Error("explain: item index out of range");
  const auto [w, n] = window(seq.data(), seq.size(), *hyper.max_len);
  const std::vector<index_t> win(w, w + n);
  std::vector<double> by_position(n, 0.0);
  const std::lock_guard<std::mutex> lock(serve_mutex_);
  if (kind_ == ModelKind::sasrec) {
    a.note = "weights: the last position's attention over the history (last block, mean over heads; they sum to "
             "1 and are not score units; items older than max_len get 0); rest: the score minus their sum";
    (void)query(win);
    const Tensor& att = net_->last_attention();  // [1, heads, n, n]
    const std::vector<float> p = to_vector<float>(*cpu_, att);
    const auto heads = static_cast<std::size_t>(att.dim(1));
    for (std::size_t hh = 0; hh < heads; ++hh)
      for (std::size_t j = 0; j < n; ++j)
        by_position[j] += static_cast<double>(p[(hh * n + (n - 1)) * n + j]) / static_cast<double>(heads);
  } else {
    a.note = "weights: occlusion, the score's drop when every occurrence of the item is left out of the "
             "sequence (items older than max_len get 0); rest: the score minus their sum";
    const float full = query(win).dot(emb_.V.row(item));
    for (std::size_t j = 0; j < n; ++j) {
      if (std::find(win.begin(), win.begin() + static_cast<std::ptrdiff_t>(j), win[j]) !=
          win.begin() + static_cast<std::ptrdiff_t>(j))
        continue;  // the item's first position carries its whole weight
      std::vector<index_t> rest;
      for (const index_t x : win)
        if (x != win[j]) rest.push_back(x);
      const float without = rest.empty() ? 0.0f : query(rest).dot(emb_.V.row(item));
      by_position[j] = static_cast<double>(full - without);
    }
  }
  for (const auto& h : history) {
    double weight = 0;
    for (std::size_t j = 0; j < n; ++j)
      if (win[j] == h.item) weight += by_position[j];
    a.weights.push_back({h.item, static_cast<float>(weight)});
  }
  return a;
}

template <class Archive>
void SequenceModel::serialize(Archive& ar, std::uint32_t version) {
  constexpr bool loading = Archive::is_loading::value;
  if constexpr (loading)
    if (version == 0) ar.fail("sequence models have no format version 1 or 2 files");
  io::section_start(ar, version, kSectionVersion, hyper,
                    io::kFactors | io::kEpochs | io::kLr | io::kReg | io::kInitStd);
  ar(cereal::make_nvp("batch", hyper.batch), cereal::make_nvp("dropout", hyper.dropout),
     cereal::make_nvp("max_len", hyper.max_len), cereal::make_nvp("layers", hyper.layers),
     cereal::make_nvp("heads", hyper.heads), cereal::make_nvp("train_negatives", hyper.train_negatives),
     cereal::make_nvp("patience", hyper.patience));
  NetParams file;
  std::unique_ptr<Backend> shapes_backend;
  std::unique_ptr<SeqNet> shapes_net;
  if constexpr (loading) {
    // The network the hyper-parameters build; its shapes are what the file must hold.
    const Hyper d = defaults();
    hyper = hyper.merged_over(d);
    auto check = [&](const char* name, std::int64_t v, std::int64_t lo, std::int64_t hi) {
      if (v < lo || v > hi)
        ar.fail(name, std::to_string(v) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    };
    check("hyper.factors", *hyper.factors, 1, 4096);
    check("max_len", *hyper.max_len, 1, 4096);
    check("layers", *hyper.layers, kind_ == ModelKind::sasrec ? 0 : 1, 64);
    check("heads", *hyper.heads, 1, 64);
    check("batch", *hyper.batch, 1, 1 << 20);
    check("train_negatives", *hyper.train_negatives, 0, 1 << 20);
    check("patience", *hyper.patience, 0, 100000);
    if (!(*hyper.dropout >= 0.0f && *hyper.dropout < 1.0f)) ar.fail("dropout", "must be in [0, 1)");
    if (*hyper.factors % *hyper.heads != 0) ar.fail("heads", "does not divide factors");
  }
  serialize_embeddings(ar);
  if constexpr (loading) {
    if (emb_.V.cols() != *hyper.factors || emb_.factor_dims != *hyper.factors)
      ar.fail("item_factors", std::to_string(emb_.V.cols()) + " columns (factor_dims " +
                                  std::to_string(emb_.factor_dims) + "), expected the factor count " +
                                  std::to_string(*hyper.factors));
    shapes_backend = make_cpu_backend();
    Rng rng(0);
    shapes_net = std::make_unique<SeqNet>(*shapes_backend, config(), rng);
  }
  const SeqNet* source = loading ? shapes_net.get() : net_.get();
  if (!source) throw Error(std::string("cannot save the model: the ") + kind_name(kind_) + " network is not trained");
  auto params = const_cast<SeqNet*>(source)->parameters();
  for (std::size_t i = 1; i < params.size(); ++i) {
    const Tensor& t = params[i]->value;
    const auto rows = static_cast<Eigen::Index>(t.dim(0));
    file.names.push_back(params[i]->name);
    file.values.emplace_back(rows, static_cast<Eigen::Index>(t.numel()) / rows);
    if constexpr (!loading) cpu_->download(t, file.values.back().data());
  }
  ar(cereal::make_nvp("network", file));
  if constexpr (loading) {
    std::vector<std::vector<float>> host;
    for (const Matrix& m : file.values) host.emplace_back(m.data(), m.data() + m.size());
    build_serving_net(host);
  }
}

}  // namespace
}  // namespace edgerec

CEREAL_CLASS_VERSION(edgerec::NetParams, edgerec::NetParams::kVersion)
EDGEREC_MODEL_SECTION(edgerec::SequenceModel)

namespace edgerec {

std::unique_ptr<Model> make_sasrec() { return std::make_unique<SequenceModel>(ModelKind::sasrec); }
std::unique_ptr<Model> make_gru4rec() { return std::make_unique<SequenceModel>(ModelKind::gru4rec); }
std::unique_ptr<Model> make_lstm() { return std::make_unique<SequenceModel>(ModelKind::lstm); }

}  // namespace edgerec
