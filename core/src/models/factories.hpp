// Internal: one factory per model kind, each defined in that kind's own file.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "edgerec/model.hpp"

namespace edgerec {

std::unique_ptr<Model> make_popularity();
std::unique_ptr<Model> make_mean_baseline();
std::unique_ptr<Model> make_baseline();
std::unique_ptr<Model> make_svd();
std::unique_ptr<Model> make_svdpp();
std::unique_ptr<Model> make_ials();
std::unique_ptr<Model> make_bpr();
std::unique_ptr<Model> make_itemknn();
std::unique_ptr<Model> make_neumf();
// sequence_model.cpp
std::unique_ptr<Model> make_gru4rec();
std::unique_ptr<Model> make_lstm();
std::unique_ptr<Model> make_sasrec();
std::unique_ptr<Model> make_two_tower();

// For test_neumf: the largest relative difference between neumf's hand-written fold-in gradient
// (used where there is no backward pass: the wasm) and an nn::Tape's, for `items` with `labels`.
double neumf_fold_in_gradient_error(const Model& model, const std::vector<std::int32_t>& items,
                                    const std::vector<float>& labels);

}  // namespace edgerec
