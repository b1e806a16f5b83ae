// edgerec/edgerec.hpp — the whole public API in one include.
#pragma once
#include "edgerec/version.hpp"
#include "edgerec/error.hpp"
#include "edgerec/data.hpp"
#include "edgerec/backend.hpp"
#include "edgerec/model.hpp"
#include "edgerec/model_file.hpp"
#include "edgerec/metrics.hpp"
#include "edgerec/split.hpp"
#include "edgerec/eval.hpp"
#include "edgerec/tune.hpp"
#include "edgerec/recommender.hpp"
#include "edgerec/kernels.hpp"
