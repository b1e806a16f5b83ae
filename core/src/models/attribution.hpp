// Internal: explanation helpers shared by model kinds whose score is not additive over the
// user's items (neumf, two-tower). Defined in models/attribution.cpp.
#pragma once

#include <vector>

#include "edgerec/model.hpp"

namespace edgerec {

// `score` (the served score of `item`) split over `history` in proportion to each history item's
// positive similarity to `item` (model.similar(item); items no more similar than orthogonal get
// 0, and with none similar the whole score is rest). exact = false, note = `note`. An empty
// history gives no weights and base = score. Throws Error for an item out of range.
Attribution split_by_similarity(const Model& model, const std::vector<ItemValue>& history, index_t item, float score,
                                const char* note);

}  // namespace edgerec
