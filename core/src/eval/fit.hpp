// Internal: how every evaluation protocol fits the model it measures.
#pragma once

#include <memory>

#include "edgerec/eval.hpp"
#include "edgerec/item_meta.hpp"

namespace edgerec::detail {

// A model of `kind` fitted on `train` as `edgerec train` fits one: the evaluation's item metadata
// (options.item_meta), aligned to the training items, is set before fitting, so a kind that reads
// it while training (two-tower's item tower) is measured as it is trained; other kinds ignore it.
// The user features (options.user_meta) likewise, aligned to the training users; a kind that does
// not read them refuses them in fit().
inline std::unique_ptr<Model> fit_for_eval(ModelKind kind, const Interactions& train, const Hyper& hyper,
                                           const EvalOptions& options, Backend& backend,
                                           const Progress& progress = {}) {
  auto model = make_model(kind);
  if (options.item_meta) model->item_meta = std::make_shared<const ItemMeta>(align_item_meta(*options.item_meta, train.items));
  if (options.user_meta) model->user_meta = std::make_shared<const UserMeta>(align_user_meta(*options.user_meta, train.users));
  model->fit(train, hyper, backend, progress);
  return model;
}

}  // namespace edgerec::detail
