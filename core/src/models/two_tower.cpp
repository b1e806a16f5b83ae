// Two-tower retrieval model (Covington et al. 2016; Yi et al. 2019, "Sampling-bias-corrected
// neural modeling for large corpus item recommendations"): a user tower and an item tower map
// their inputs to d = --factors wide vectors whose dot product is the score.
//
//   user tower:  x_u = [p_u, mean_{j in H(u)} h_j, g(u)]    (e + e + G; H(u): the user's training items)
//   item tower:  x_i = [q_i, features(i)]                    (e + F; features: ItemFeatures rows)
//   each:        z = relu(x W_1' + b_1), z = relu(z W_k' + b_k) (k = 2..L), vector = z W_out' + b_out
//   score(u, i) = user(u) . item(i)
//
// e = --factors, hidden widths 2e, L = --layers hidden layers. The item features are the content
// features of the model's item metadata (Model::item_meta, which must be set before fit(): the
// CLI's train --item-meta does so; edgerec/item_meta.hpp ItemFeatures: genres multi-hot, z-scored
// numeric fields, content vectors, the row scaled to unit length). Without metadata the item
// tower reads its id embedding alone.
//
// User features g(u) (optional; G = 0 without them): the rows of ItemFeatures over the model's
// user features (Model::user_meta, a UserMeta aligned to the training users; the CLI's train
// --user-meta, e.g. MovieLens u.user: gender and occupation multi-hot, age z-scored, the row scaled
// to unit length). A user the file does not describe has a zero row. The features are never
// dropped (unlike the id): what is known of a user at sign-up is always known. The first user
// layer is linear in its input blocks, so a zero row adds nothing: without the features the tower
// is exactly the one above, and its initial weights are the same for the same seed.
//
// Cold start. While training, each candidate item's id embedding q_i is replaced by zeros with
// probability --dropout (a fresh draw per batch), and so is each user's p_u, so both towers learn
// to embed from the other inputs alone: a cold item (metadata, no interactions) is the item tower
// over its features with a zero id embedding, and a new user the user tower over the mean of
// their items' history embeddings with a zero id embedding (fold_in()).
//
// Training (edgerec/nn/train.hpp): each user's last training interaction is held out for
// validation (early stopping on its full-ranking nDCG@10, keeping the best epoch); every other
// interaction is an example. A batch of B = --batch examples is scored against the candidate set
// S = the batch's positives (in-batch negatives) plus --train-negatives items drawn uniformly
// (the "mixed negative sampling" of Yang et al. 2020), deduplicated; the loss is the softmax
// cross-entropy of each example's positive among S, with each logit corrected by log Q
// (Yi et al. 2019): s(u, j) - log q_j, q_j = B p_j + N / n_items the expected number of times
// item j is in S (p_j: its share of the training interactions), so popular items, which the
// in-batch negatives over-sample, are not pushed down for it. A candidate the example's user has
// interacted with (other than the positive) is left out of that example's softmax. The user's
// history mean leaves out the example's own item (no leak of the target) and reads at most
// --max-len of the user's items (a seeded subset per epoch when there are more). AdamW (--lr,
// --reg weight decay). Seeded: the same seed and backend thread count give the same model.
//
// Serving: the dot-product form of EmbeddingModel (U = user vectors, V = item vectors,
// factor_dims = d, no offsets), so the fast top-K paths, the wasm package and ONNX export serve
// it without tower code. The file also keeps what a new user's fold-in needs (the history
// embeddings and the user tower's weights: a few small matrix-vector products) and the item
// tower's vectors of the metadata's cold rows (cold_item_factors()). Trained with user features,
// the user vectors U already hold each known user's features, so serving a known user needs
// nothing more; a new user's fold-in has no features (a zero row: the feature block drops out).
// The file also keeps the feature layout (field names, vocabularies, numeric means and deviations)
// and the first layer's weights over the features (section version 2), so that the user tower of
// a file is complete: fold_in_vector_described() embeds a new user from their items and a row of
// a user-feature file, encoded with that layout (native only; eval --new-users --user-meta).
#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>

#include "edgerec/item_meta.hpp"
#include "edgerec/nn/autodiff.hpp"
#include "edgerec/nn/layers.hpp"
#include "edgerec/nn/loss.hpp"
#include "edgerec/nn/optim.hpp"
#include "edgerec/nn/train.hpp"
#include "edgerec/split.hpp"
#include "models/attribution.hpp"
#include "models/embedding_model.hpp"
#include "models/factories.hpp"
#include "serve_only.hpp"

namespace edgerec {
namespace {

constexpr int kMaxLayers = 4;
constexpr std::uint64_t kOrderStream = 0x7707D;  // example order
constexpr std::uint64_t kBatchStream = 0x7707B;          // negatives, dropout, history subsets
// A logit left out of a row's softmax (an accidental hit): far below any real logit, finite so
// the softmax's max subtraction stays exact.
constexpr float kMasked = -1e9f;
constexpr double kClipNorm = 10.0;

// A tower's weights on the host: the first layer split by input block (a linear map of the
// concatenation), then the hidden layers and the output layer.
struct TowerWeights {
  Matrix first_id, first_side;  // [h, e], [h, side]
  Vector first_bias;            // [h]
  std::vector<Matrix> w;        // layers 2..L then the output layer: [out, in]
  std::vector<Vector> b;

  // The tower over a batch of inputs (rows of `side`), with a zero id embedding (a cold item, a
  // new user). Plain loops, not Eigen products: this runs in the wasm package (a new user's
  // fold-in), where Eigen's general matrix product would add its kernel to a size-capped binary.
  Matrix forward(const Matrix& side) const { return forward_with(side, first_side); }
  // The tower with ids: `input` = [id embedding | side] per row (training-side publishing).
  Matrix forward_ids(const Matrix& id, const Matrix& side) const {
    Matrix input(id.rows(), id.cols() + side.cols()), first(first_id.rows(), id.cols() + side.cols());
    input << id, side;
    first << first_id, first_side;
    return forward_with(input, first);
  }
  Matrix forward_with(const Matrix& side, const Matrix& first) const {
    const Eigen::Index n = side.rows();
    Matrix out(0, w.empty() ? first_bias.size() : w.back().rows());
    std::vector<float> z, next;
    for (Eigen::Index r = 0; r < n; ++r) {
      z.assign(static_cast<std::size_t>(first_bias.size()), 0.0f);
      for (Eigen::Index o = 0; o < first_bias.size(); ++o) {
        float s = first_bias[o];
        for (Eigen::Index k = 0; k < side.cols(); ++k) s += first(o, k) * side(r, k);
        z[static_cast<std::size_t>(o)] = s;
      }
      for (std::size_t l = 0; l < w.size(); ++l) {
        next.assign(static_cast<std::size_t>(w[l].rows()), 0.0f);
        for (Eigen::Index o = 0; o < w[l].rows(); ++o) {
          float s = b[l][o];
          for (Eigen::Index k = 0; k < w[l].cols(); ++k) s += w[l](o, k) * std::max(z[static_cast<std::size_t>(k)], 0.0f);
          next[static_cast<std::size_t>(o)] = s;
        }
        z.swap(next);
      }
      if (r == 0) out.resize(n, static_cast<Eigen::Index>(z.size()));
      for (std::size_t k = 0; k < z.size(); ++k) out(r, static_cast<Eigen::Index>(k)) = z[k];
    }
    return out;
  }
};

// The network while it trains, on the training backend.
class Net final : public nn::Module {
 public:
  Net(Backend& be, index_t users, index_t items, int e, int layers, int features, int user_features,
      double init_std, Rng& rng)
      : user_id(be, "user.id", users, e, DType::f32, rng, init_std),
        history(be, "user.history", items, e, DType::f32, rng, init_std),
        item_id(be, "item.id", items, e, DType::f32, rng, init_std),
        u_first_id(be, "user.0.id", e, 2 * e, DType::f32, rng),
        u_first_hist(be, "user.0.history", e, 2 * e, DType::f32, rng, Act::identity, false),
        i_first_id(be, "item.0.id", e, 2 * e, DType::f32, rng),
        e(e),
        features(features) {
    nn::he_normal(be, u_first_id.weight, 2 * e + user_features, rng);
    nn::he_normal(be, u_first_hist.weight, 2 * e + user_features, rng);
    nn::he_normal(be, i_first_id.weight, e + features, rng);
    if (features > 0) {
      i_first_feat = std::make_unique<nn::Linear>(be, "item.0.features", features, 2 * e, DType::f32, rng,
                                                  Act::identity, false);
      nn::he_normal(be, i_first_feat->weight, e + features, rng);
    }
    // Created only with user features, so a model without them draws the same initial weights
    // as before they existed.
    if (user_features > 0) {
      u_first_feat = std::make_unique<nn::Linear>(be, "user.0.features", user_features, 2 * e, DType::f32, rng,
                                                  Act::identity, false);
      nn::he_normal(be, u_first_feat->weight, 2 * e + user_features, rng);
    }
    for (int k = 2; k <= layers; ++k) {
      u_tower.push_back(std::make_unique<nn::Linear>(be, "user." + std::to_string(k - 1), 2 * e, 2 * e,
                                                     DType::f32, rng, Act::relu));
      i_tower.push_back(std::make_unique<nn::Linear>(be, "item." + std::to_string(k - 1), 2 * e, 2 * e,
                                                     DType::f32, rng, Act::relu));
    }
    u_out = std::make_unique<nn::Linear>(be, "user.out", 2 * e, e, DType::f32, rng);
    i_out = std::make_unique<nn::Linear>(be, "item.out", 2 * e, e, DType::f32, rng);
  }

  // User vectors [B, e]: users i32 [B] (-1 = zero id embedding), hist i32 [B, L] (-1 = padding),
  // hist_weight f32 [B, 1, L] (1 / the row's history length at real entries, else 0), rows i32
  // [B] into the user feature table [users, G] (the example's user, never dropped; unused
  // without user features).
  nn::Var user_forward(nn::Tape& tape, const Tensor& users, const Tensor& hist, const Tensor& hist_weight,
                       const Tensor& rows, const Tensor& user_feature_table) {
    const std::int64_t B = users.dim(0);
    const nn::Var h = nn::matmul(tape.constant(hist_weight), history.forward(tape, hist));  // [B, 1, e]
    nn::Var z = nn::add(u_first_id.forward(tape, user_id.forward(tape, users)),
                        u_first_hist.forward(tape, nn::reshape(h, Shape{B, e})));
    if (u_first_feat) z = nn::add(z, u_first_feat->forward(tape, nn::gather(tape.constant(user_feature_table), rows)));
    z = nn::relu(z);
    for (auto& l : u_tower) z = l->forward(tape, z);
    return u_out->forward(tape, z);
  }

  // Item vectors [S, e]: ids i32 [S] (-1 = zero id embedding), rows i32 [S] into the feature
  // table [rows, F] (unused without features).
  nn::Var item_forward(nn::Tape& tape, const Tensor& ids, const Tensor& rows, const Tensor& feature_table) {
    nn::Var z = i_first_id.forward(tape, item_id.forward(tape, ids));
    if (i_first_feat) z = nn::add(z, i_first_feat->forward(tape, nn::gather(tape.constant(feature_table), rows)));
    z = nn::relu(z);
    for (auto& l : i_tower) z = l->forward(tape, z);
    return i_out->forward(tape, z);
  }

  void collect(std::vector<nn::Parameter*>& out) override {
    user_id.collect(out);
    history.collect(out);
    item_id.collect(out);
    u_first_id.collect(out);
    u_first_hist.collect(out);
    i_first_id.collect(out);
    if (i_first_feat) i_first_feat->collect(out);
    if (u_first_feat) u_first_feat->collect(out);
    for (auto& l : u_tower) l->collect(out);
    for (auto& l : i_tower) l->collect(out);
    u_out->collect(out);
    i_out->collect(out);
  }

  nn::Embedding user_id, history, item_id;
  nn::Linear u_first_id, u_first_hist, i_first_id;
  std::unique_ptr<nn::Linear> i_first_feat, u_first_feat;
  std::vector<std::unique_ptr<nn::Linear>> u_tower, i_tower;
  std::unique_ptr<nn::Linear> u_out, i_out;
  std::int64_t e;
  int features;
};

Matrix download(Backend& b, const nn::Parameter& p) {
  Matrix m(p.value.dim(0), p.value.rank() > 1 ? p.value.dim(1) : 1);
  if (m.size() > 0) b.download(p.value, m.data());
  return m;
}

Vector download_vector(Backend& b, const nn::Parameter& p) {
  Vector v(static_cast<Eigen::Index>(p.value.numel()));
  if (v.size() > 0) b.download(p.value, v.data());
  return v;
}

TowerWeights tower_weights(Backend& be, const nn::Linear& first_id, const nn::Linear* first_side,
                           const std::vector<std::unique_ptr<nn::Linear>>& hidden, const nn::Linear& out) {
  TowerWeights t;
  t.first_id = download(be, first_id.weight);
  t.first_bias = download_vector(be, first_id.bias);
  t.first_side = first_side ? download(be, first_side->weight) : Matrix::Zero(t.first_id.rows(), 0);
  for (const auto& l : hidden) {
    t.w.push_back(download(be, l->weight));
    t.b.push_back(download_vector(be, l->bias));
  }
  t.w.push_back(download(be, out.weight));
  t.b.push_back(download_vector(be, out.bias));
  return t;
}

// How the user features were encoded (ItemFeatures over the training users' UserMeta): the
// blocks of a feature row, in order, so that a user's row can be rebuilt from their description
// (the categorical values, the numbers) exactly as training built it. Empty without user features.
struct UserFeatureLayout {
  std::vector<std::string> categorical;          // field names, one multi-hot block each
  std::vector<std::uint64_t> vocabulary_sizes;   // per categorical field: its block's width
  std::vector<std::string> vocabulary;           // the blocks' values, concatenated
  std::vector<std::string> numeric;              // field names, one z-score column each
  std::vector<float> mean, deviation;            // per numeric field (deviation 0: the column is 0)

  std::int64_t dims() const { return static_cast<std::int64_t>(vocabulary.size() + numeric.size()); }
};

constexpr std::uint64_t kMaxUserFields = 4096;
constexpr std::uint64_t kMaxUserFeatureDims = std::uint64_t{1} << 20;

class TwoTower final : public EmbeddingModel {
 public:
  // Its model file section: factors, epochs, lr, reg, init_std, then batch, layers, dropout,
  // max_len, train_negatives, patience and the seed; then the embeddings (user and item vectors),
  // the history embeddings and user tower (fold-in) and the cold rows' item vectors; from version
  // 2 on, the user feature layout and the user tower's first-layer weights over the user
  // features ([2e, G], G = 0 without user features); from version 3 on, the item tower without
  // its id block ([2e, F] over the F item feature columns, the bias, the layers), so that an item
  // described after training embeds as a cold row would (item_vector_described()). Version 1
  // files load as models without user features, versions 1 and 2 without the item tower.
  static constexpr std::uint32_t kSectionVersion = 3;
  void save_section(SaveArchive& ar) const override;
  void load_section(LoadArchive& ar) override;
  ModelKind kind() const override { return ModelKind::two_tower; }
  bool reads_user_meta() const override { return true; }

  Hyper defaults() const override {
    // Chosen on a cold-item validation part of the ML-100K training items (models/README.md).
    Hyper h;
    h.factors = 64;
    h.layers = 1;
    h.epochs = 30;
    h.lr = 0.005f;
    h.reg = 0.0f;
    h.init_std = 0.05f;
    h.batch = 512;
    h.train_negatives = 512;
    h.dropout = 0.5f;
    h.max_len = 200;
    h.patience = 4;
    return h;
  }

  const Matrix* cold_item_factors() const override {
    const index_t cold = item_meta && item_meta->rows() > n_items() ? item_meta->rows() - n_items() : 0;
    if (cold == 0 || static_cast<index_t>(cold_.rows()) != cold || cold_.cols() != emb_.V.cols()) return nullptr;
    return &cold_;
  }

  // The user vector is a non-linear function of the history mean, so the score has no exact
  // per-item terms: as neumf, the served score is split in proportion to each history item's
  // positive cosine similarity to `item` in the item vector space (exact = false).
  Attribution explain(const std::vector<ItemValue>& history, index_t item, std::int64_t user) const override {
    if (item >= n_items()) throw Error("explain: item index out of range");
    RowVector u = RowVector::Zero(emb_.V.cols());
    float offset = 0.0f;
    if (user >= 0 && static_cast<std::uint64_t>(user) < n_users()) u = emb_.U.row(static_cast<Eigen::Index>(user));
    else if (!history.empty()) checked_fold_in(history, u, offset);
    return split_by_similarity(*this, history, item, u.dot(emb_.V.row(item)) + offset,
                               "the score split in proportion to each history item's positive cosine similarity to "
                               "the item in the two-tower item space (the towers are not additive over the history); "
                               "rest: the score when no history item is similar");
  }

 protected:
  void fit_impl(const Interactions& train, Backend& backend, const Progress& progress) override {
    EDGEREC_TRAINING_ONLY("training");
    const int e = *hyper.factors, layers = *hyper.layers;
    if (layers < 1 || layers > kMaxLayers)
      throw Error("two-tower: --layers must be in 1.." + std::to_string(kMaxLayers) + " (got " +
                  std::to_string(layers) + ")");
    const float drop = *hyper.dropout;
    if (!(drop >= 0.0f && drop < 1.0f))
      throw Error("two-tower: --dropout (the id-embedding dropout) must be in [0, 1) (got " + std::to_string(drop) + ")");
    if (*hyper.max_len < 1) throw Error("two-tower: --max-len must be at least 1");
    if (*hyper.batch < 1) throw Error("two-tower: --batch must be at least 1");
    if (*hyper.train_negatives < 0) throw Error("two-tower: --train-negatives must be >= 0");
    if (item_meta) {
      // Row r must be item r (align_item_meta against the training items), else the towers would
      // learn from another item's features.
      bool aligned = item_meta->rows() >= n_items();
      for (index_t r = 0; aligned && r < n_items(); ++r) aligned = item_meta->ids.id(r) == items.id(r);
      if (!aligned)
        throw Error("two-tower: the item metadata is not aligned to the training items (align_item_meta(meta, "
                    "train.items) before fit)");
    }

    // The feature table: one row per metadata row (the model's items, then the cold rows), or none.
    Matrix features;
    if (item_meta) features = ItemFeatures(*item_meta).matrix();
    const int F = static_cast<int>(features.cols());
    Tensor feature_table;
    if (F > 0) {
      feature_table = backend.alloc(Shape{features.rows(), F}, DType::f32);
      backend.upload(feature_table, features.data());
    }
    // The user feature table: one row per training user (align_user_meta), or none.
    Matrix user_features = Matrix::Zero(n_users(), 0);
    user_layout_ = UserFeatureLayout{};
    if (user_meta) {
      bool aligned = user_meta->rows() == n_users();
      for (index_t r = 0; aligned && r < n_users(); ++r) aligned = user_meta->ids.id(r) == users.id(r);
      if (!aligned)
        throw Error("two-tower: the user features are not aligned to the training users (align_user_meta(meta, "
                    "train.users) before fit)");
      const ItemFeatures uf(*user_meta);
      if (user_meta->vectors.cols() != 0)
        throw Error("two-tower: the user features carry content vectors, which the user tower does not read");
      if (uf.dims() == 0)
        throw Error("two-tower: the user features have no categorical or numeric field (only an id column?)");
      user_features = uf.matrix();
      for (const auto& f : user_meta->categorical) {
        user_layout_.categorical.push_back(f.name);
        user_layout_.vocabulary_sizes.push_back(f.vocabulary.size());
        user_layout_.vocabulary.insert(user_layout_.vocabulary.end(), f.vocabulary.begin(), f.vocabulary.end());
      }
      for (const auto& f : user_meta->numeric) user_layout_.numeric.push_back(f.name);
      user_layout_.mean = uf.numeric_mean();
      user_layout_.deviation = uf.numeric_std();
    }
    const int G = static_cast<int>(user_features.cols());
    Tensor user_feature_table;
    if (G > 0) {
      user_feature_table = backend.alloc(Shape{user_features.rows(), G}, DType::f32);
      backend.upload(user_feature_table, user_features.data());
    }

    Rng rng(mix_seed(hyper.seed, static_cast<std::uint64_t>(ModelKind::two_tower)));
    Net net(backend, n_users(), n_items(), e, layers, F, G, *hyper.init_std, rng);
    AdamStep adam;
    adam.lr = *hyper.lr;
    adam.weight_decay = *hyper.reg;
    adam.decoupled = true;
    const std::vector<nn::Parameter*> params = net.parameters();
    nn::Adam opt(backend, params, adam);
    const nn::LrSchedule schedule = nn::lr_schedule(hyper);
    std::int64_t step = 0;

    const nn::Holdout parts = nn::hold_out_last(train);
    {
      const nn::HeldOutHistory held(*this, parts.fit);
      const nn::Validation validation(parts, hyper.val_negatives.value_or(0), hyper.seed);
      std::vector<std::int32_t> ex_user, ex_item;
      std::vector<double> pop(n_items(), 0.0);
      for (index_t u = 0; u < seen.rows(); ++u)
        for (std::size_t k = 0; k < seen.row_size(u); ++k) {
          ex_user.push_back(static_cast<std::int32_t>(u));
          ex_item.push_back(static_cast<std::int32_t>(seen.row_indices(u)[k]));
          pop[seen.row_indices(u)[k]] += 1.0;
        }
      const std::size_t n = ex_user.size();
      if (n == 0) throw Error("two-tower: no training interactions");
      const auto B = static_cast<std::size_t>(*hyper.batch);
      const auto negatives = static_cast<std::size_t>(*hyper.train_negatives);
      const auto max_len = static_cast<std::size_t>(*hyper.max_len);
      // log Q: the expected count of each item in a batch's candidates.
      std::vector<float> log_q(n_items());
      for (index_t i = 0; i < n_items(); ++i)
        log_q[i] = static_cast<float>(std::log(static_cast<double>(std::min(B, n)) * pop[i] / static_cast<double>(n) +
                                               static_cast<double>(negatives) / n_items() + 1e-12));

      std::vector<std::int32_t> slot(n_items(), -1);
      const auto train_epoch = [&](int epoch) {
        const auto order = nn::epoch_order(n, hyper.seed, epoch, kOrderStream);
        double loss_sum = 0;
        std::size_t batches = 0;
        const std::size_t total = (n + B - 1) / B;
        for (std::size_t begin = 0; begin < n; begin += B, ++batches) {
          const std::size_t end = std::min(n, begin + B);
          const auto rows = static_cast<std::int64_t>(end - begin);
          Rng r(mix_seed(hyper.seed, static_cast<std::uint64_t>(epoch), kBatchStream + begin));
          // Candidates: the batch's positives, then uniform negatives, each once.
          std::vector<std::int32_t> cand, targets, users, user_rows, hist;
          std::vector<float> hist_w;
          for (std::size_t k = begin; k < end; ++k) {
            const auto i = ex_item[static_cast<std::size_t>(order[k])];
            if (slot[static_cast<std::size_t>(i)] < 0) {
              slot[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(cand.size());
              cand.push_back(i);
            }
            targets.push_back(slot[static_cast<std::size_t>(i)]);
          }
          for (std::size_t k = 0; k < negatives; ++k) {
            const auto i = static_cast<std::int32_t>(r.below(n_items()));
            if (slot[static_cast<std::size_t>(i)] < 0) {
              slot[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(cand.size());
              cand.push_back(i);
            }
          }
          const auto S = static_cast<std::int64_t>(cand.size());
          for (const auto i : cand) slot[static_cast<std::size_t>(i)] = -1;
          // Histories: the user's fit-part items but the example's own, at most max_len of them.
          std::size_t L = 1;
          std::vector<std::vector<std::int32_t>> h(static_cast<std::size_t>(rows));
          for (std::size_t k = begin; k < end; ++k) {
            const auto e_ = static_cast<std::size_t>(order[k]);
            const auto u = static_cast<index_t>(ex_user[e_]);
            auto& row = h[k - begin];
            for (std::size_t j = 0; j < seen.row_size(u); ++j)
              if (seen.row_indices(u)[j] != static_cast<index_t>(ex_item[e_]))
                row.push_back(static_cast<std::int32_t>(seen.row_indices(u)[j]));
            if (row.size() > max_len) {
              shuffle_prefix(row, max_len, r);
              row.resize(max_len);
            }
            L = std::max(L, row.size());
            users.push_back(r.uniform() < drop ? -1 : ex_user[e_]);
            user_rows.push_back(ex_user[e_]);
          }
          hist.assign(static_cast<std::size_t>(rows) * L, -1);
          hist_w.assign(static_cast<std::size_t>(rows) * L, 0.0f);
          for (std::size_t k = 0; k < h.size(); ++k)
            for (std::size_t j = 0; j < h[k].size(); ++j) {
              hist[k * L + j] = h[k][j];
              hist_w[k * L + j] = 1.0f / static_cast<float>(h[k].size());
            }
          // Item ids dropped per candidate; log Q correction and accidental hits per logit.
          std::vector<std::int32_t> ids(cand.size());
          for (std::size_t c = 0; c < cand.size(); ++c) ids[c] = r.uniform() < drop ? -1 : cand[c];
          std::vector<float> correction(static_cast<std::size_t>(rows * S));
          for (std::size_t k = begin; k < end; ++k) {
            const auto e_ = static_cast<std::size_t>(order[k]);
            const auto u = static_cast<index_t>(ex_user[e_]);
            float* c_row = correction.data() + (k - begin) * static_cast<std::size_t>(S);
            for (std::int64_t c = 0; c < S; ++c) {
              const auto item = static_cast<index_t>(cand[static_cast<std::size_t>(c)]);
              c_row[c] = (c != targets[k - begin] && seen.contains(u, item)) ? kMasked : -log_q[item];
            }
          }
          nn::Tape tape(backend, mix_seed(hyper.seed, static_cast<std::uint64_t>(epoch), begin));
          const nn::Var uv = net.user_forward(tape, make_tensor(backend, Shape{rows}, users),
                                              make_tensor(backend, Shape{rows, static_cast<std::int64_t>(L)}, hist),
                                              make_tensor(backend, Shape{rows, 1, static_cast<std::int64_t>(L)}, hist_w),
                                              G > 0 ? make_tensor(backend, Shape{rows}, user_rows) : Tensor{},
                                              user_feature_table);
          const nn::Var iv = net.item_forward(tape, make_tensor(backend, Shape{S}, ids), make_tensor(backend, Shape{S}, cand),
                                              feature_table);
          const nn::Var logits = nn::add(nn::matmul(uv, iv, false, true),
                                         tape.constant(make_tensor(backend, Shape{rows, S}, correction)));
          const nn::Var loss = nn::softmax_cross_entropy(logits, make_tensor(backend, Shape{rows}, targets));
          tape.backward(loss);
          opt.clip_grad_norm(kClipNorm);
          opt.lr = schedule.at(step++, static_cast<std::int64_t>(*hyper.epochs) * static_cast<std::int64_t>(total));
          opt.step();
          opt.zero_grad();
          loss_sum += static_cast<double>(to_vector<float>(backend, loss.value())[0]) * static_cast<double>(rows);
          if (progress) progress("two-tower", static_cast<int>(batches + 1), static_cast<int>(total));
        }
        return nn::EpochLoss{loss_sum / static_cast<double>(n), opt.lr};
      };
      const auto validate = [&] {
        publish(backend, net, features, user_features);
        return validation(*this, backend);
      };
      nn::run_epochs(backend, params, *hyper.epochs, *hyper.patience, train_epoch, validate, validation.name(),
                     progress, info);
    }
    // The held-out items are history again: the user vectors read the whole training part.
    publish(backend, net, features, user_features);
  }

  // The item tower over the description's feature row with a zero id embedding: exactly how
  // publish() embeds the metadata's cold rows (ItemFeatures over the model's item metadata, which
  // the file keeps, so the encoding is training's).
  bool item_vector_described(std::string_view description, float* out) const override {
    if (!item_meta || item_tower_.first_side.cols() == 0 || emb_.V.cols() == 0) return false;
    const ItemFeatures features(*item_meta);
    if (features.dims() != item_tower_.first_side.cols())
      throw Error("two-tower: the item metadata gives " + std::to_string(features.dims()) +
                  " feature columns, the item tower reads " + std::to_string(item_tower_.first_side.cols()));
    const std::vector<float> row = features.describe(description);
    const Matrix v = item_tower_.forward(Eigen::Map<const Matrix>(row.data(), 1, static_cast<Eigen::Index>(row.size())));
    if (!v.allFinite()) throw Error("two-tower: the described item's vector is not finite");
    for (Eigen::Index k = 0; k < v.cols(); ++k) out[k] = v(0, k);
    return true;
  }

  DescribedInputs described_inputs() const override {
    DescribedInputs d;
    for (std::size_t c = 0; c < user_layout_.categorical.size(); ++c)
      d.user_categorical.emplace_back(user_layout_.categorical[c], user_layout_.vocabulary_sizes[c]);
    d.user_numeric = user_layout_.numeric;
    d.item_tower = item_meta && item_tower_.first_side.cols() > 0;
    return d;
  }

  bool fold_in_vector_described(const std::vector<ItemValue>& history, const ItemMeta& users, std::int64_t row,
                                float* out, float* offset) const override {
    EDGEREC_TRAINING_ONLY("a new user's fold-in with user features");
    if (user_layout_.dims() == 0 || emb_.V.cols() == 0) return false;
    if (row < -1 || row >= static_cast<std::int64_t>(users.rows()))
      throw Error("two-tower: user feature row " + std::to_string(row) + " out of range (" +
                  std::to_string(users.rows()) + " rows)");
    const std::int64_t e = *hyper.factors;
    Matrix side = Matrix::Zero(1, e + user_layout_.dims());
    std::size_t count = 0;
    for (const auto& h : history)
      if (h.item < n_items()) {
        side.leftCols(e) += hist_.row(h.item);
        ++count;
      }
    if (count > 0) side.leftCols(e) /= static_cast<float>(count);
    if (row >= 0) {
      const Matrix g = encode_user(users, static_cast<index_t>(row));
      side.rightCols(user_layout_.dims()) = g;
    }
    TowerWeights full = user_tower_;
    full.first_side.resize(2 * e, e + user_layout_.dims());
    full.first_side << user_tower_.first_side, user_feature_weight_;
    const Matrix v = full.forward(side);
    if (!v.allFinite()) throw Error("two-tower: the folded-in user vector is not finite");
    for (std::int64_t k = 0; k < e; ++k) out[k] = v(0, k);
    *offset = 0.0f;
    return true;
  }

  // A new user is the user tower over the mean of their items' history embeddings, with a zero id
  // embedding and a zero user-feature row (nothing is known of them but their items): the user
  // feature block of the first layer adds nothing, so it is left out of the product.
  void fold_in(const std::vector<ItemValue>& history, RowVector& u, float& offset) const override {
    offset = 0.0f;
    Matrix mean = Matrix::Zero(1, hist_.cols());
    std::size_t count = 0;
    for (const auto& h : history)
      if (h.item < n_items()) {
        mean += hist_.row(h.item);
        ++count;
      }
    if (count > 0) mean /= static_cast<float>(count);
    const Matrix v = user_tower_.forward(mean);
    u = v.row(0);
  }

 private:
  // The serving form from the network: user vectors over each user's items (Model::seen, the
  // fit part while validating) and features, item vectors with ids, cold rows' vectors without.
  void publish(Backend& be, Net& net, const Matrix& features, const Matrix& user_features) {
    const std::int64_t e = *hyper.factors;
    user_tower_ = tower_weights(be, net.u_first_id, &net.u_first_hist, net.u_tower, *net.u_out);
    user_feature_weight_ = net.u_first_feat ? download(be, net.u_first_feat->weight) : Matrix::Zero(2 * e, 0);
    const TowerWeights item_tower = tower_weights(be, net.i_first_id, net.i_first_feat.get(), net.i_tower, *net.i_out);
    item_tower_ = item_tower;
    item_tower_.first_id = Matrix();  // serving embeds described items: a zero id block
    hist_ = download(be, net.history.weight);
    const Matrix user_id = download(be, net.user_id.weight), item_id = download(be, net.item_id.weight);
    Matrix means = Matrix::Zero(n_users(), e);
    for (index_t u = 0; u < n_users() && u < seen.rows(); ++u) {
      const std::size_t len = seen.row_size(u);
      for (std::size_t j = 0; j < len; ++j) means.row(u) += hist_.row(seen.row_indices(u)[j]);
      if (len > 0) means.row(u) /= static_cast<float>(len);
    }
    params_changed();
    if (user_features.cols() > 0) {
      // The first layer over [id | history mean | user features]: the history and feature blocks
      // side by side.
      TowerWeights full = user_tower_;
      full.first_side.resize(2 * e, e + user_features.cols());
      full.first_side << user_tower_.first_side, user_feature_weight_;
      Matrix side(n_users(), e + user_features.cols());
      side << means, user_features;
      emb_.U = full.forward_ids(user_id, side);
    } else {
      emb_.U = user_tower_.forward_ids(user_id, means);
    }
    const Matrix model_features = features.cols() > 0 ? Matrix(features.topRows(n_items())) : Matrix::Zero(n_items(), 0);
    emb_.V = item_tower.forward_ids(item_id, model_features);
    emb_.user_offset = Vector::Zero(n_users());
    emb_.factor_dims = static_cast<int>(e);
    const Eigen::Index cold = features.rows() - static_cast<Eigen::Index>(n_items());
    cold_ = cold > 0 ? item_tower.forward(Matrix(features.bottomRows(cold))) : Matrix(0, e);
    if (!emb_.U.allFinite() || !emb_.V.allFinite() || !cold_.allFinite())
      throw Error("two-tower diverged: non-finite vectors (try a smaller --lr)");
  }

  // Row `row` of `users` as training encoded its users (ItemFeatures with weights 1): per
  // categorical field of the layout, 1/sqrt(n) on each of the row's n values the layout knows;
  // per numeric field, its clipped z-score over sqrt(numeric fields); the row then unit length.
  // Fields are found by name; a field `users` lacks is zero.
  Matrix encode_user(const ItemMeta& users, index_t row) const {
    const UserFeatureLayout& l = user_layout_;
    Matrix g = Matrix::Zero(1, l.dims());
    std::int64_t at = 0;
    for (std::size_t c = 0; c < l.categorical.size(); ++c) {
      const auto width = static_cast<std::int64_t>(l.vocabulary_sizes[c]);
      std::vector<std::int64_t> hits;
      if (const ItemMeta::Categorical* f = users.field(l.categorical[c]))
        for (const std::string& v : users.values(*f, row))
          for (std::int64_t k = 0; k < width; ++k)
            if (l.vocabulary[static_cast<std::size_t>(at + k)] == v) hits.push_back(at + k);
      for (const std::int64_t h : hits) g(0, h) = 1.0f / std::sqrt(static_cast<float>(hits.size()));
      at += width;
    }
    const float num_scale = l.numeric.empty() ? 0.0f : 1.0f / std::sqrt(static_cast<float>(l.numeric.size()));
    for (std::size_t j = 0; j < l.numeric.size(); ++j, ++at) {
      if (!(l.deviation[j] > 0)) continue;
      for (const auto& f : users.numeric)
        if (f.name == l.numeric[j] && f.present[row]) {
          const float z = std::clamp(static_cast<float>((f.values[row] - l.mean[j]) / l.deviation[j]), -3.0f, 3.0f);
          g(0, at) = z * num_scale;
        }
    }
    const float norm = g.norm();
    if (norm > 0) g /= norm;
    return g;
  }

  Matrix hist_;              // [items, e] history embeddings (fold-in)
  TowerWeights user_tower_;  // without its id block (first_id) after a load: serving never reads it
  Matrix cold_;              // [cold rows, e] item tower over the cold rows' features
  UserFeatureLayout user_layout_;
  Matrix user_feature_weight_;  // [2e, G] the user tower's first layer over the user features
  TowerWeights item_tower_;     // without its id block: [2e, F] over the item features, F = 0 without

  friend class cereal::access;
  template <class Archive>
  void serialize(Archive& ar, std::uint32_t version) {
    constexpr bool loading = Archive::is_loading::value;
    io::section_start(ar, version, kSectionVersion, hyper,
                      io::kFactors | io::kEpochs | io::kLr | io::kReg | io::kInitStd);
    ar(cereal::make_nvp("batch", hyper.batch), cereal::make_nvp("layers", hyper.layers),
       cereal::make_nvp("dropout", hyper.dropout), cereal::make_nvp("max_len", hyper.max_len),
       cereal::make_nvp("train_negatives", hyper.train_negatives), cereal::make_nvp("patience", hyper.patience));
    if constexpr (loading) {
      if (!hyper.factors) ar.fail("hyper.factors", "is missing (two-tower needs its width)");
      if (!hyper.layers || *hyper.layers < 1 || *hyper.layers > kMaxLayers)
        ar.fail("layers", "must be present and in 1.." + std::to_string(kMaxLayers));
    }
    const std::int64_t e = *hyper.factors, layers = *hyper.layers;
    serialize_embeddings(ar);
    if constexpr (loading) {
      if (emb_.V.cols() != e || emb_.factor_dims != e) ar.fail("item_factors", "must be --factors wide for two-tower");
      user_tower_ = TowerWeights{};
      user_tower_.w.assign(static_cast<std::size_t>(layers), Matrix{});
      user_tower_.b.assign(static_cast<std::size_t>(layers), Vector{});
    }
    ar(cereal::make_nvp("history_embeddings", io::shaped(hist_, n_items(), e)),
       cereal::make_nvp("user_0_history_weight", io::shaped(user_tower_.first_side, 2 * e, e)),
       cereal::make_nvp("user_0_bias", io::shaped(user_tower_.first_bias, 2 * e)));
    static const char* const kUserLayers[2][kMaxLayers] = {
        {"user_1_weight", "user_2_weight", "user_3_weight", "user_out_weight"},
        {"user_1_bias", "user_2_bias", "user_3_bias", "user_out_bias"}};
    serialize_layers(ar, user_tower_, kUserLayers, layers, e);
    ar(cereal::make_nvp("cold_item_factors", io::shaped(cold_, -1, e)));
    if constexpr (loading) {
      const index_t cold = item_meta && item_meta->rows() > n_items() ? item_meta->rows() - n_items() : 0;
      if (cold_.rows() != 0 && static_cast<index_t>(cold_.rows()) != cold)
        ar.fail("cold_item_factors", "rows differ from the item metadata's cold rows");
    }
    if constexpr (loading) item_tower_ = TowerWeights{};  // versions 1 and 2: none
    if (version < 2) {
      // A version 1 file: a model trained before user features existed.
      if constexpr (loading) {
        user_layout_ = UserFeatureLayout{};
        user_feature_weight_ = Matrix::Zero(2 * e, 0);
      }
      return;
    }
    UserFeatureLayout& l = user_layout_;
    ar(cereal::make_nvp("user_feature_categorical", io::at_most(l.categorical, kMaxUserFields)),
       cereal::make_nvp("user_feature_vocabulary_sizes", io::at_most(l.vocabulary_sizes, kMaxUserFields)),
       cereal::make_nvp("user_feature_vocabulary", io::at_most(l.vocabulary, kMaxUserFeatureDims)),
       cereal::make_nvp("user_feature_numeric", io::at_most(l.numeric, kMaxUserFields)),
       cereal::make_nvp("user_feature_mean", io::at_most(l.mean, kMaxUserFields)),
       cereal::make_nvp("user_feature_std", io::at_most(l.deviation, kMaxUserFields)));
    if constexpr (loading) {
      if (l.vocabulary_sizes.size() != l.categorical.size())
        ar.fail("user_feature_vocabulary_sizes", "must have one entry per categorical field");
      std::uint64_t total = 0;
      for (const std::uint64_t n : l.vocabulary_sizes) {
        if (n > l.vocabulary.size() - total)
          ar.fail("user_feature_vocabulary_sizes", "add up to more than the vocabulary's " +
                                                      std::to_string(l.vocabulary.size()) + " values");
        total += n;
      }
      if (total != l.vocabulary.size())
        ar.fail("user_feature_vocabulary_sizes", "add up to " + std::to_string(total) + ", not the vocabulary's " +
                                                    std::to_string(l.vocabulary.size()) + " values");
      if (l.mean.size() != l.numeric.size() || l.deviation.size() != l.numeric.size())
        ar.fail("user_feature_mean", "mean and std must have one entry per numeric field");
      for (const float sd : l.deviation)
        if (!(sd >= 0)) ar.fail("user_feature_std", "must not be negative");
    }
    ar(cereal::make_nvp("user_0_features_weight", io::shaped(user_feature_weight_, 2 * e, l.dims())));
    if (version < 3) return;
    // The item tower as the user tower above: a u8 flag (0: nothing to describe an item with: a
    // model trained without item features, or loaded from a file without the tower and saved
    // again), then the first layer over the features (any width F > 0; F is checked against the
    // metadata when an item is described), layers 2..L, the output layer.
    std::uint8_t has_item_tower =
        item_tower_.w.size() == static_cast<std::size_t>(layers) && item_tower_.first_side.cols() > 0 ? 1 : 0;
    ar(cereal::make_nvp("item_tower", has_item_tower));
    if constexpr (loading) {
      if (has_item_tower > 1) ar.fail("item_tower", "presence flag must be 0 or 1");
      if (!has_item_tower) return;
      item_tower_.w.assign(static_cast<std::size_t>(layers), Matrix{});
      item_tower_.b.assign(static_cast<std::size_t>(layers), Vector{});
    } else if (!has_item_tower) {
      return;
    }
    ar(cereal::make_nvp("item_0_features_weight", io::shaped(item_tower_.first_side, 2 * e, -1)),
       cereal::make_nvp("item_0_bias", io::shaped(item_tower_.first_bias, 2 * e)));
    if constexpr (loading)
      if (item_tower_.first_side.cols() == 0) ar.fail("item_0_features_weight", "has no feature column");
    static const char* const kItemLayers[2][kMaxLayers] = {
        {"item_1_weight", "item_2_weight", "item_3_weight", "item_out_weight"},
        {"item_1_bias", "item_2_bias", "item_3_bias", "item_out_bias"}};
    serialize_layers(ar, item_tower_, kItemLayers, layers, e);
  }

  // A tower's layers 2..L (2e wide), then its output layer (e wide); `names` [0] the weights',
  // [1] the biases' (the output layer's is the last). `t.w` and `t.b` hold `layers` entries.
  template <class Archive>
  static void serialize_layers(Archive& ar, TowerWeights& t, const char* const (&names)[2][kMaxLayers],
                               std::int64_t layers, std::int64_t e) {
    for (std::int64_t k = 0; k < layers; ++k) {
      const bool out = k == layers - 1;
      const auto idx = static_cast<std::size_t>(k), name = out ? std::size_t{kMaxLayers - 1} : idx;
      ar(cereal::make_nvp(names[0][name], io::shaped(t.w[idx], out ? e : 2 * e, 2 * e)),
         cereal::make_nvp(names[1][name], io::shaped(t.b[idx], out ? e : 2 * e)));
    }
  }
};

}  // namespace
}  // namespace edgerec

EDGEREC_MODEL_SECTION(edgerec::TwoTower)

namespace edgerec {

std::unique_ptr<Model> make_two_tower() { return std::make_unique<TwoTower>(); }

}  // namespace edgerec
