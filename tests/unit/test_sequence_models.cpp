// The sequence model kinds (sasrec, gru4rec, lstm; core/src/models/sequence_model.cpp): they
// learn a predictable next item, are deterministic, survive the model file, fold a new history
// in with the same forward pass as a known user's query, explain, and refuse damaged files.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "edgerec/nn/train.hpp"
#include "test_util.hpp"

using namespace edgerec;

namespace {

constexpr int kItems = 24;
constexpr index_t kNone = static_cast<index_t>(-1);

// Each user walks a cycle: item i is followed by (i + 1) mod kItems in two thirds of the users
// and by (i + 5) mod kItems in the others (user id parity by thirds), from a seeded start, 8 to
// 12 steps (no wrap back to a seen item). The next item is a function of the last two items'
// step, which a sequence model reads and a bag of items does not.
Interactions cyclic(int users, std::uint64_t seed) {
  Interactions d;
  d.file_order = true;
  d.source = "cyclic";
  for (int i = 0; i < kItems; ++i) d.items.add("i" + std::to_string(i));
  Rng rng(seed);
  std::int64_t t = 0;
  for (int u = 0; u < users; ++u) {
    const index_t user = d.users.add("u" + std::to_string(u));
    const int step = u % 3 == 2 ? 5 : 1;
    const int len = 8 + static_cast<int>(rng.below(5));
    int item = static_cast<int>(rng.below(kItems));
    std::vector<int> used;
    for (int j = 0; j < len; ++j) {
      if (std::find(used.begin(), used.end(), item) != used.end()) break;
      used.push_back(item);
      d.rows.push_back({user, static_cast<index_t>(item), 1.0f, ++t});
      item = (item + step) % kItems;
    }
  }
  return d;
}

Hyper small_hyper(ModelKind kind) {
  Hyper h;
  h.factors = 16;
  h.epochs = 40;
  h.lr = 0.01f;
  h.batch = 32;
  h.dropout = 0.0f;
  h.max_len = 10;
  h.train_negatives = 12;
  h.patience = 0;
  h.heads = kind == ModelKind::sasrec ? 2 : 1;
  h.seed = 11;
  return h;
}

const std::vector<ModelKind> kSeqKinds = {ModelKind::sasrec, ModelKind::gru4rec, ModelKind::lstm};

struct Trained {
  Interactions train;
  std::vector<index_t> next;  // each user's held-out last item, or kNone
  std::unique_ptr<Model> model;
};

// Trains `kind` on every user's sequence but the last item (held out for the test).
const Trained& trained(ModelKind kind) {
  static std::map<ModelKind, Trained> cache;
  Trained& t = cache[kind];
  if (!t.model) {
    const Interactions all = cyclic(240, 4);
    const Split s = leave_last_out(all);
    t.train = s.train;
    t.next.assign(all.n_users(), kNone);
    for (const auto& r : s.test.rows) t.next[r.user] = r.item;
    t.model = make_model(kind);
    auto backend = make_cpu_backend();
    t.model->fit(t.train, small_hyper(kind), *backend);
  }
  return t;
}

std::vector<ItemValue> as_history(const std::vector<int>& items) {
  std::vector<ItemValue> h;
  for (int i : items) h.push_back({static_cast<index_t>(i), 1.0f});
  return h;
}

void put_le(std::string& b, std::size_t at, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b[at + static_cast<std::size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFFu);
}
void reseal(std::string& file) {
  put_le(file, 16, file.size() - kModelHeaderBytes - 4, 8);
  put_le(file, file.size() - 4, crc32(file.data(), file.size() - 4), 4);
}
std::string load_error(const std::string& bytes) {
  try {
    model_from_bytes(bytes.data(), bytes.size(), "seq.edgerec");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("sequence kinds learn a predictable next item", "[models][sequence]") {
  for (ModelKind kind : kSeqKinds) {
    INFO(kind_name(kind));
    const Trained& t = trained(kind);
    const Model& m = *t.model;
    CHECK(m.needs_sequences());
    REQUIRE(m.sequences);
    CHECK(m.info.epochs_run == 40);
    // Known users: the best unseen item is the held-out next item.
    int hits = 0, cases = 0;
    std::vector<float> scratch(m.n_items());
    for (index_t u = 0; u < m.n_users(); ++u) {
      if (t.next[u] == kNone) continue;
      std::vector<std::uint8_t> skip(m.n_items(), 0);
      for (std::size_t j = 0; j < m.seen.row_size(u); ++j) skip[m.seen.row_indices(u)[j]] = 1;
      const auto top = m.top_k(u, 1, skip.data(), scratch.data());
      ++cases;
      hits += top.at(0).item == t.next[u] ? 1 : 0;
    }
    // Chance is about 1 in 14 unseen items.
    CHECK(static_cast<double>(hits) / cases > 0.6);
    // A new visitor: the step-5 cycle 3, 8, 13, 18 continues with 23.
    const auto top = m.top_k_new(as_history({3, 8, 13, 18}), 1, nullptr, scratch.data());
    CHECK(top.at(0).item == 23);
  }
}

TEST_CASE("sequence kinds: same seed, same bytes; another seed, another model", "[models][sequence]") {
  for (ModelKind kind : kSeqKinds) {
    INFO(kind_name(kind));
    const Trained& t = trained(kind);
    auto again = make_model(kind);
    auto backend = make_cpu_backend();
    again->fit(t.train, small_hyper(kind), *backend);
    again->info.fit_seconds = t.model->info.fit_seconds;
    CHECK(model_to_bytes(*again) == model_to_bytes(*t.model));
    Hyper other = small_hyper(kind);
    other.seed = 12;
    other.epochs = 2;
    auto different = make_model(kind);
    different->fit(t.train, other, *backend);
    CHECK(different->embeddings()->V != t.model->embeddings()->V);
  }
}

TEST_CASE("sequence kinds: --lr-schedule and --warmup set each step's learning rate", "[models][sequence]") {
  const Trained& t = trained(ModelKind::gru4rec);
  auto backend = make_cpu_backend();
  const auto lrs = [&](Hyper h) {
    std::vector<double> out;
    const Progress progress({}, [&](const EpochRecord& r) { out.push_back(r.lr); });
    auto m = make_model(ModelKind::gru4rec);
    m->fit(t.train, h, *backend, progress);
    return std::make_pair(out, Matrix(m->embeddings()->V));
  };
  Hyper h = small_hyper(ModelKind::gru4rec);
  h.epochs = 4;
  const auto plain = lrs(h);
  h.lr_schedule = 0;  // constant: the same model as no schedule
  h.warmup = 0;
  const auto constant = lrs(h);
  CHECK(constant.second == plain.second);
  for (const double lr : constant.first) CHECK(lr == Approx(0.01));
  h.lr_schedule = 2;  // cosine to 0 at the last step of epoch 4: each epoch's last rate falls
  const auto cosine = lrs(h);
  REQUIRE(cosine.first.size() == 4);
  for (std::size_t e = 1; e < 4; ++e) CHECK(cosine.first[e] < cosine.first[e - 1]);
  CHECK(cosine.first[3] == Approx(0.0).margin(1e-9));
  CHECK(cosine.second != plain.second);
  h.lr_schedule = 0;
  h.warmup = 1 << 20;  // warm-up longer than training: still rising at the end
  const auto warm = lrs(h);
  for (std::size_t e = 1; e < warm.first.size(); ++e) CHECK(warm.first[e] > warm.first[e - 1]);
  CHECK(warm.first.back() < 0.001);
  h.lr_schedule = 3;
  CHECK_THROWS_AS(lrs(h), Error);
}

TEST_CASE("sequence kinds: save/load keeps scores, and fold-in is the forward pass", "[models][sequence]") {
  for (ModelKind kind : kSeqKinds) {
    INFO(kind_name(kind));
    const Model& m = *trained(kind).model;
    const std::string bytes = model_to_bytes(m);
    const auto loaded = model_from_bytes(bytes.data(), bytes.size(), "seq.edgerec");
    REQUIRE(loaded->kind() == kind);
    std::vector<float> a(m.n_items()), b(m.n_items());
    for (index_t u = 0; u < m.n_users(); ++u) {
      m.score(u, a.data());
      loaded->score(u, b.data());
      REQUIRE(a == b);
    }
    CHECK(model_to_bytes(*loaded) == bytes);
    // A known user's stored query is the forward pass over their sequence; the loaded model
    // (no backend given, its own serial one) folds the same items in to the same vector.
    const int dim = static_cast<int>(m.embeddings()->V.cols());
    for (index_t u = 0; u < 5; ++u) {
      std::vector<ItemValue> h;
      for (std::size_t j = 0; j < m.sequences->row_size(u); ++j) h.push_back({m.sequences->row(u)[j], 1.0f});
      std::vector<float> q(static_cast<std::size_t>(dim));
      float offset = 1.0f;
      REQUIRE(loaded->fold_in_vector(h, q.data(), &offset));
      CHECK(offset == 0.0f);
      for (int c = 0; c < dim; ++c) CHECK(q[c] == Approx(m.embeddings()->U(u, c)).margin(1e-5));
      std::vector<float> s1(m.n_items()), s2(m.n_items());
      m.score_new(h, s1.data());
      loaded->score_new(h, s2.data());
      CHECK(s1 == s2);
    }
    // Only the last max_len items are read: older ones do not change the query.
    std::vector<float> q1(static_cast<std::size_t>(dim)), q2(static_cast<std::size_t>(dim));
    float o = 0;
    const std::vector<int> recent = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    std::vector<int> longer = {20, 21};
    longer.insert(longer.end(), recent.begin(), recent.end());
    REQUIRE(loaded->fold_in_vector(as_history(recent), q1.data(), &o));
    REQUIRE(loaded->fold_in_vector(as_history(longer), q2.data(), &o));
    CHECK(q1 == q2);
    // The int8 item matrix: the network reads the same dequantised table it scores with.
    SaveOptions int8;
    int8.int8_items = true;
    const std::string small8 = model_to_bytes(m, int8);
    const auto q8 = model_from_bytes(small8.data(), small8.size(), "int8.edgerec");
    CHECK(q8->embeddings()->items_int8);
    std::vector<float> s8(m.n_items());
    const auto top8 = q8->top_k_new(as_history({3, 8, 13, 18}), 1, nullptr, s8.data());
    CHECK(top8.at(0).item == 23);
    // Dropping the users keeps what serves new visitors.
    auto stripped = model_from_bytes(bytes.data(), bytes.size(), "seq.edgerec");
    stripped->drop_users();
    const std::string small = model_to_bytes(*stripped);
    const auto reloaded = model_from_bytes(small.data(), small.size(), "small.edgerec");
    std::vector<float> q3(static_cast<std::size_t>(dim));
    REQUIRE(reloaded->fold_in_vector(as_history(recent), q3.data(), &o));
    CHECK(q3 == q1);
  }
}

TEST_CASE("sequence kinds: explanations have one weight per history entry", "[models][sequence][explain]") {
  for (ModelKind kind : kSeqKinds) {
    INFO(kind_name(kind));
    const Model& m = *trained(kind).model;
    const auto history = as_history({3, 8, 13, 18});
    const Attribution a = m.explain(history, 23, -1);
    REQUIRE(a.weights.size() == history.size());
    CHECK_FALSE(a.exact);
    CHECK_FALSE(a.note.empty());
    for (std::size_t j = 0; j < history.size(); ++j) CHECK(a.weights[j].item == history[j].item);
    if (kind == ModelKind::sasrec) {
      double sum = 0;
      for (const auto& w : a.weights) {
        CHECK(w.weight >= 0.0f);
        sum += w.weight;
      }
      CHECK(sum == Approx(1.0).margin(1e-5));  // attention weights of the last position
    } else {
      // Occlusion: leaving out the whole history leaves a zero query, score 0.
      bool some = false;
      for (const auto& w : a.weights) some = some || w.weight != 0.0f;
      CHECK(some);
    }
    // A known user: weights for their own history, in its order.
    const auto own = m.history(0);
    const Attribution b = m.explain(own, 0, 0);
    REQUIRE(b.weights.size() == own.size());
    for (std::size_t j = 0; j < own.size(); ++j) CHECK(b.weights[j].item == own[j].item);
    CHECK_THROWS_AS(m.explain(history, kItems, -1), Error);
  }
}

TEST_CASE("sequence kinds: damaged files are refused with the field named", "[models][sequence][model_file]") {
  const Model& m = *trained(ModelKind::sasrec).model;
  const std::string good = model_to_bytes(m);
  // Every truncation of the payload (resealed, so the parser sees it) is a clean Error.
  for (std::size_t cut = kModelHeaderBytes + 1; cut + 4 < good.size(); cut += 997) {
    std::string bad = good.substr(0, cut) + std::string(4, '\0');
    reseal(bad);
    CHECK_FALSE(load_error(bad).empty());
  }
  std::string bad = good.substr(0, good.size() - 200) + std::string(4, '\0');
  reseal(bad);
  CHECK(load_error(bad).find("sasrec.network") != std::string::npos);
  // The positions table's shape [max_len, factors] = [10, 16] changed to [11, 16].
  std::string rows(16, '\0');
  put_le(rows, 0, 10, 8);
  put_le(rows, 8, 16, 8);
  const std::size_t at = good.find(rows);
  REQUIRE(at != std::string::npos);
  std::string shape = good;
  put_le(shape, at, 11, 8);
  reseal(shape);
  const std::string e = load_error(shape);
  INFO(e);
  CHECK(e.find("positions.weight") != std::string::npos);
}

TEST_CASE("sequence kinds: training leaves the whole training part as history", "[models][sequence]") {
  const Trained& t = trained(ModelKind::gru4rec);
  const Sequences full = Sequences::by_user(t.train);
  CHECK(t.model->sequences->items == full.items);
  CHECK(t.model->sequences->offsets == full.offsets);
  CHECK(t.model->seen.indices == Csr::by_user(t.train).indices);
}

TEST_CASE("sequence kinds: bad hyper-parameters are refused", "[models][sequence]") {
  const Interactions d = cyclic(20, 1);
  auto backend = make_cpu_backend();
  Hyper h = small_hyper(ModelKind::sasrec);
  h.heads = 3;
  CHECK_THROWS_WITH(make_model(ModelKind::sasrec)->fit(d, h, *backend), Catch::Contains("divisible by --heads"));
  h = small_hyper(ModelKind::gru4rec);
  h.layers = 0;
  CHECK_THROWS_WITH(make_model(ModelKind::gru4rec)->fit(d, h, *backend), Catch::Contains("--layers"));
}

TEST_CASE("sequence kinds: fold-in and explain from many threads at once", "[models][sequence]") {
  const Model& m = *trained(ModelKind::sasrec).model;
  const int dim = static_cast<int>(m.embeddings()->V.cols());
  std::vector<std::vector<float>> expected(8, std::vector<float>(static_cast<std::size_t>(dim)));
  std::vector<Attribution> explained(8);
  float o = 0;
  for (int j = 0; j < 8; ++j) {
    REQUIRE(m.fold_in_vector(as_history({j, j + 3, j + 6}), expected[j].data(), &o));
    explained[j] = m.explain(as_history({j, j + 3, j + 6}), 20, -1);
  }
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::vector<float> q(static_cast<std::size_t>(dim));
      float offset = 0;
      for (int rep = 0; rep < 20; ++rep)
        for (int j = 0; j < 8; ++j) {
          m.fold_in_vector(as_history({j, j + 3, j + 6}), q.data(), &offset);
          if (q != expected[j]) ++mismatches[t];
          const Attribution a = m.explain(as_history({j, j + 3, j + 6}), 20, -1);
          for (std::size_t k = 0; k < a.weights.size(); ++k)
            if (a.weights[k].weight != explained[j].weights[k].weight) ++mismatches[t];
        }
    });
  for (auto& th : threads) th.join();
  CHECK(mismatches == std::vector<int>(4, 0));
}
