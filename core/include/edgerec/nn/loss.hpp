// edgerec/nn/loss.hpp — training losses, each a scalar Var (one element) ready for
// Tape::backward. All are means over the examples they count, and numerically stable: they are
// built from softplus and log-softmax, never from log(sigmoid(x)) or log(softmax(x)).
//
// Index tensors are i32; an entry of -1 marks padding and is left out of the loss and its mean.
#pragma once

#include "edgerec/nn/autodiff.hpp"

namespace edgerec::nn {

// mean((pred - target)^2); target has pred's element count (explicit ratings).
Var mse(const Var& pred, const Tensor& target);

// Binary cross-entropy from logits: mean(softplus(x) - x y) = mean(-y log sig(x) - (1 - y)
// log(1 - sig(x))), targets y in [0, 1] with the logits' element count (NCF's pointwise loss).
Var bce_with_logits(const Var& logits, const Tensor& targets);

// Full softmax cross-entropy: logits [R, C], targets i32 [R] (class per row, -1 = row left out):
// mean over the kept rows of -log_softmax(logits)[r, target_r]. Throws Error when no row is kept.
Var softmax_cross_entropy(const Var& logits, const Tensor& targets);

// Sampled softmax cross-entropy (many negatives per positive, as in SASRec trained with
// cross-entropy, Klenitskiy & Vasilev 2023): for every row r, the logits are
// query[r] . items[candidates[r, c]] over c in [0, 1 + N), column 0 being the positive item and
// the others sampled negatives; the loss is the mean over rows of -log_softmax(logits)[r, 0].
// query [R, d]; items the item table [V, d] (its gradient is a scatter-add into the rows used);
// candidates i32 [R, 1 + N]. A negative of -1 is left out of its row's softmax; a row whose
// positive is -1 is left out of the loss. The caller samples the negatives (and decides whether
// to drop accidental hits of the positive).
Var sampled_softmax_cross_entropy(const Var& query, const Var& items, const Tensor& candidates);

// Sampled softmax cross-entropy with negatives shared by every row, for training next-item
// models on many positions at once: the logits of row r are query[r] . items[positives[r]]
// (column 0) and query[r] . items[negatives[n]] for n in [0, N), so the negatives' logits are one
// GEMM [R, d] x [d, N] instead of a gather of R x N item rows. The loss is the mean over rows of
// -log_softmax(logits)[r, 0]. query [R, d]; items [V, d]; positives i32 [R] (-1 = row left out of
// the loss); negatives i32 [N], N >= 1, in [0, V). A negative equal to the row's positive (an
// accidental hit of uniform sampling) is left out of that row's softmax, so the loss never
// pushes a row's own target down. Throws Error when every row is left out.
Var shared_sampled_softmax_cross_entropy(const Var& query, const Var& items, const Tensor& positives,
                                         const Tensor& negatives);

// Bayesian personalised ranking (Rendle et al. 2009): mean(-log sig(pos - neg)) =
// mean(softplus(neg - pos)); pos and neg have one element count.
Var bpr(const Var& pos, const Var& neg);

}  // namespace edgerec::nn
