// Internal: one factory per model kind, each defined in that kind's own file.
#pragma once

#include <memory>

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

}  // namespace edgerec
