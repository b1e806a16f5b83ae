// Internal: the item metadata section of the model file (format version 4; layout in
// edgerec/model_file.hpp). Called by the common part's reader and writer (io/model_file.cpp).
#pragma once

#include "edgerec/model.hpp"
#include "io/archive.hpp"

namespace edgerec {

// Writes the u8 presence flag and, when the model has metadata, the section (its own cereal
// class version). Refuses metadata whose first rows do not match the model's item ids.
void save_item_meta_section(SaveArchive& ar, const Model& m);
// Reads what save_item_meta_section() wrote into m.item_meta (null when absent); checks every
// size, code and id against the model's id maps.
void load_item_meta_section(LoadArchive& ar, Model& m);

}  // namespace edgerec
