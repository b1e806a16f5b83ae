// The shared training loop of the neural kinds (edgerec/nn/train.hpp): schedules, the seeded
// epoch order, the held-out validation part, best-epoch parameters and early stopping.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <set>

#include "edgerec/nn/train.hpp"
#include "nn_test_util.hpp"

using namespace edgerec;
using namespace nn_test;

TEST_CASE("learning-rate schedules: warm-up, constant, linear and cosine decay", "[nn][loop]") {
  nn::LrSchedule s;
  s.lr = 0.1;
  CHECK(s.at(0, 10) == Approx(0.1));
  CHECK(s.at(9, 10) == Approx(0.1));
  s.kind = nn::LrSchedule::Kind::linear;
  s.final_fraction = 0.1;
  CHECK(s.at(0, 11) == Approx(0.1));
  CHECK(s.at(5, 11) == Approx(0.055));
  CHECK(s.at(10, 11) == Approx(0.01));
  s.kind = nn::LrSchedule::Kind::cosine;
  CHECK(s.at(0, 11) == Approx(0.1));
  CHECK(s.at(5, 11) == Approx(0.055));
  CHECK(s.at(10, 11) == Approx(0.01));
  s.warmup = 4;
  CHECK(s.at(0, 20) == Approx(0.025));
  CHECK(s.at(3, 20) == Approx(0.1));
  CHECK(s.at(4, 20) == Approx(0.1));
  CHECK(s.at(19, 20) == Approx(0.01));
}

TEST_CASE("epoch order: a permutation, fixed by seed and epoch", "[nn][loop]") {
  const auto a = nn::epoch_order(1000, 7, 1), b = nn::epoch_order(1000, 7, 1);
  const auto c = nn::epoch_order(1000, 7, 2), d = nn::epoch_order(1000, 8, 1);
  CHECK(a == b);
  CHECK(a != c);
  CHECK(a != d);
  CHECK(std::set<std::int32_t>(a.begin(), a.end()).size() == 1000);
  CHECK(*std::min_element(a.begin(), a.end()) == 0);
  CHECK(*std::max_element(a.begin(), a.end()) == 999);
  CHECK(nn::epoch_order(0, 1, 1).empty());
}

namespace {

Interactions tiny_sequences() {
  // Users 0..2; user 2 has a single interaction and keeps it for training.
  Interactions d;
  d.source = "tiny";
  d.has_time = true;
  for (const char* u : {"a", "b", "c"}) d.users.add(u);
  for (const char* i : {"x", "y", "z", "w"}) d.items.add(i);
  d.rows = {{0, 0, 1.0f, 1}, {0, 1, 1.0f, 2}, {0, 2, 1.0f, 3},
            {1, 3, 1.0f, 5}, {1, 0, 1.0f, 4}, {2, 1, 1.0f, 9}};
  return d;
}

}  // namespace

TEST_CASE("hold_out_last: each user's last interaction by time; single-interaction users train", "[nn][loop]") {
  const auto h = nn::hold_out_last(tiny_sequences());
  REQUIRE(h.validation.rows.size() == 2);
  std::set<std::pair<index_t, index_t>> v;
  for (const auto& r : h.validation.rows) v.insert({r.user, r.item});
  CHECK(v == std::set<std::pair<index_t, index_t>>{{0, 2}, {1, 3}});
  CHECK(h.fit.rows.size() == 4);

  Interactions one = tiny_sequences();
  one.rows = {{0, 0, 1.0f, 1}, {1, 1, 1.0f, 2}};
  CHECK_THROWS_WITH(nn::hold_out_last(one), Catch::Contains("no user has two training interactions"));
}

TEST_CASE("HeldOutHistory swaps the model's seen items and sequences and puts them back", "[nn][loop]") {
  const Interactions all = tiny_sequences();
  auto model = make_model(ModelKind::popularity);
  auto backend = make_cpu_backend();
  model->fit(all, {}, *backend);
  model->sequences = Sequences::by_user(all);
  const auto h = nn::hold_out_last(all);
  const auto seen_before = model->seen.row_size(0);
  {
    nn::HeldOutHistory scope(*model, h.fit);
    CHECK(model->seen.row_size(0) == seen_before - 1);
    REQUIRE(model->sequences);
    CHECK(model->sequences->row_size(0) == 2);
  }
  CHECK(model->seen.row_size(0) == seen_before);
  CHECK(model->sequences->row_size(0) == 3);
}

TEST_CASE("run_epochs keeps the best epoch's parameters and stops after `patience`", "[nn][loop]") {
  auto be = make_cpu_backend();
  nn::Parameter p = nn::make_parameter(*be, "w", Shape{3}, DType::f32);
  // Each epoch writes its number into the parameter; the validation scores peak at epoch 3.
  const std::vector<double> scores{0.1, 0.3, 0.5, 0.4, 0.45, 0.2, 0.9};
  int epoch_seen = 0;
  std::vector<EpochRecord> records;
  TrainInfo info;
  const Progress progress({}, [&](const EpochRecord& r) { records.push_back(r); });
  nn::run_epochs(
      *be, {&p}, 7, 2,
      [&](int e) {
        be->fill(p.value, e);
        epoch_seen = e;
        return nn::EpochLoss{1.0 / e, 0.01};
      },
      [&] { return scores[static_cast<std::size_t>(epoch_seen - 1)]; }, "val", progress, info);
  CHECK(epoch_seen == 5);  // epochs 4 and 5 did not beat epoch 3
  CHECK(info.epochs_run == 5);
  CHECK(info.best_epoch == 3);
  CHECK(info.loss.size() == 5);
  CHECK(to_vector<float>(*be, p.value) == std::vector<float>{3, 3, 3});
  REQUIRE(records.size() == 5);
  CHECK(records[2].best);
  CHECK_FALSE(records[3].best);
  CHECK(records[4].value == Approx(0.45));
  CHECK(records[0].metric == "val");
  CHECK(records[0].epochs == 7);

  SECTION("patience 0 runs every epoch; a NaN score is never best") {
    TrainInfo all;
    int e_seen = 0;
    nn::run_epochs(
        *be, {&p}, 4, 0, [&](int e) { be->fill(p.value, e); e_seen = e; return nn::EpochLoss{1, 0}; },
        [&] { return e_seen == 4 ? std::numeric_limits<double>::quiet_NaN() : 0.1 * e_seen; }, "val", {},
        all);
    CHECK(all.epochs_run == 4);
    CHECK(all.best_epoch == 3);
    CHECK(to_vector<float>(*be, p.value) == std::vector<float>{3, 3, 3});
  }
  SECTION("a non-finite loss stops training with an error naming the epoch") {
    TrainInfo bad;
    CHECK_THROWS_WITH(nn::run_epochs(
                          *be, {&p}, 4, 0,
                          [&](int e) { return nn::EpochLoss{e == 2 ? std::nan("") : 1.0, 0}; },
                          [] { return 0.0; }, "val", {}, bad),
                      Catch::Contains("diverged at epoch 2"));
  }
}

TEST_CASE("run_epochs with a start score keeps the starting parameters unless an epoch beats them",
          "[nn][loop]") {
  auto be = make_cpu_backend();
  nn::Parameter p = nn::make_parameter(*be, "w", Shape{2}, DType::f32);
  be->fill(p.value, -1);  // the start: "pre-trained" parameters
  int seen = 0;
  const auto epoch = [&](int e) {
    be->fill(p.value, e);
    seen = e;
    return nn::EpochLoss{1, 0};
  };
  SECTION("no epoch beats the start: it is restored, best_epoch 0, patience counts from it") {
    TrainInfo info;
    const double best = nn::run_epochs(*be, {&p}, 5, 2, epoch, [&] { return 0.5 - 0.1 * seen; }, "val", {},
                                       info, 0.6);
    CHECK(seen == 2);
    CHECK(info.epochs_run == 2);
    CHECK(info.best_epoch == 0);
    CHECK(best == Approx(0.6));
    CHECK(to_vector<float>(*be, p.value) == std::vector<float>{-1, -1});
  }
  SECTION("an epoch that beats the start is kept") {
    TrainInfo info;
    const double best =
        nn::run_epochs(*be, {&p}, 3, 0, epoch, [&] { return seen == 2 ? 0.7 : 0.1; }, "val", {}, info, 0.6);
    CHECK(info.best_epoch == 2);
    CHECK(best == Approx(0.7));
    CHECK(to_vector<float>(*be, p.value) == std::vector<float>{2, 2});
  }
}
