/* edgerec_c.h — the C ABI over the edgerec core, used by the WebAssembly bindings.
 *
 * Handle-based: every model lives in an `edgerec_model` that the caller creates with
 * edgerec_model_load() and releases with edgerec_model_free(). There is no global state: each
 * handle keeps its own last error and result buffers.
 *
 * Errors: functions return a status (EDGEREC_OK = 0, negative on failure); the handle's
 * message is then at edgerec_model_error(). No C++ exception crosses this boundary, and a
 * handle stays usable after an error.
 *
 * Results: recommend/similar/explain fill the handle's result buffers, read with
 * edgerec_result_count(), edgerec_result_items() (u32 item indices) and
 * edgerec_result_scores() (f32). They stay valid until the next call on the same handle.
 * Scores of recommend/recommend_for/similar are those of the core's Recommender (the same,
 * within float rounding, as the native CLI gives for the same model file); ties are broken by
 * item index, ascending.
 * Item indices map to the user's ids with edgerec_model_item_id().
 *
 * Strings are UTF-8 with explicit byte lengths (not NUL-terminated on input). Integers are
 * sized (wasm32 has a 4-byte size_t) and at most 32 bits wide: JavaScript passes an int64 as
 * two halves (or a BigInt), and dense indices fit in 31 bits anyway, since a model with 2^31
 * ids cannot fit in wasm32 memory. Signed indices use -1 for "none". Thread-safety: one
 * thread per handle.
 */
#ifndef EDGEREC_C_H
#define EDGEREC_C_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EDGEREC_OK 0
#define EDGEREC_ERROR -1

typedef struct edgerec_model edgerec_model;

/* Parses a model file held in memory (the bytes are copied). Never returns NULL unless memory
 * is exhausted; check edgerec_model_status(). Free the handle in every case. */
edgerec_model* edgerec_model_load(const uint8_t* bytes, uint32_t size);
void edgerec_model_free(edgerec_model* model);
int32_t edgerec_model_status(const edgerec_model* model);
/* The last error's message ("" when none). Valid until the next call on the handle. */
const char* edgerec_model_error(const edgerec_model* model);

/* Model description as a JSON object (kind, users, items, dims, version ...). Cheap: it builds
 * nothing. */
const char* edgerec_model_info_json(edgerec_model* model);
/* How the f32 top-k searches, as a JSON object: for models with an index, "search": the
 * choice, "visit" or "scan", and "searchSample": what it was chosen from: { source, queries,
 * scored (mean share of the items the visit scored), cost (estimated mean cost of the visit in
 * plain scans) }; {} for models without one. The first call builds the index and makes the
 * choice (for a stripped model from fold-ins, the first of which computes the item Gramian),
 * as the first query would. */
const char* edgerec_model_search_json(edgerec_model* model);
uint32_t edgerec_model_item_count(const edgerec_model* model);
uint32_t edgerec_model_user_count(const edgerec_model* model);
/* The external id of item `index` (NUL-terminated); "" when out of range. */
const char* edgerec_model_item_id(const edgerec_model* model, uint32_t index);
/* Dense index of an id, or -1 when unknown. */
int32_t edgerec_model_item_index(const edgerec_model* model, const char* id, uint32_t id_len);
int32_t edgerec_model_user_index(const edgerec_model* model, const char* id, uint32_t id_len);
/* Like the above, but an unknown id is an error with the core's message ("unknown user id
 * 'x'"), returned as -1 with the message at edgerec_model_error(). */
int32_t edgerec_model_user_at(edgerec_model* model, const char* id, uint32_t id_len);
int32_t edgerec_model_item_at(edgerec_model* model, const char* id, uint32_t id_len);

/* Width of the scoring vectors (latent factors plus bias columns) and how many leading columns
 * are latent factors; both 0 for models without embeddings (itemknn). */
uint32_t edgerec_model_dims(const edgerec_model* model);
uint32_t edgerec_model_factor_dims(const edgerec_model* model);
/* The item matrix V (item_count x dims f32, row-major) inside the model, or NULL for models
 * without embeddings. Read-only; valid until edgerec_model_free(). */
const float* edgerec_model_item_matrix(const edgerec_model* model);

/* Scoring precision. f32 (the default) is exact: recommend and recommend_for return what
 * scoring every item would. How they get there is the model's choice (see NormIndex in
 * edgerec/topk.hpp; made when the index is built, on the first call or on info): a visit of the
 * items by decreasing norm that stops once no unvisited item can enter the top k, where a
 * sample of the model's own queries says it costs at most half a plain scan, else a plain scan.
 * 1 switches to the int8 flavour: an int8 copy of the item matrix (per-row scale, 1/4 of the f32
 * bytes) ranks the candidates by the same visit, the best k + k/8 + 2 of them are re-scored in
 * f32, so scores are f32 scores but an item the codes ranked low can be missed. 0 drops the int8
 * copy. Models without embeddings (itemknn) refuse 1. */
int32_t edgerec_model_quantize(edgerec_model* model, int32_t int8);
/* 1 while the int8 copy is in use, else 0. */
int32_t edgerec_model_precision_int8(const edgerec_model* model);
/* How the f32 top-k searches: 0 as the model chose (the default), 1 always the norm-bounded
 * visit, 2 always a plain scan of every item. Results are the same in all three; 1 and 2 are
 * for benchmarks (a plain scan is what ONNX Runtime does) and tests. Models without an index
 * (itemknn) always scan. Returns EDGEREC_ERROR for another mode. */
int32_t edgerec_model_set_search(edgerec_model* model, int32_t mode);
/* How many items the last recommend / recommend_for call scored (item_count when it scanned
 * them all). For benchmarks and profiling. */
uint32_t edgerec_last_scored(const edgerec_model* model);

/* Filters for the next recommend, recommend_for or similar call, as item indices; that call
 * consumes them, whether it succeeds or not. `include` empty = all items. */
int32_t edgerec_filter_set(edgerec_model* model, const uint32_t* include, uint32_t n_include,
                           const uint32_t* exclude, uint32_t n_exclude);

/* Top-k for a known user (by index). exclude_seen: 1 skips the user's training items. k is
 * clamped to item_count (a huge k costs no memory). */
int32_t edgerec_recommend(edgerec_model* model, uint32_t user, int32_t k, int32_t exclude_seen);
/* Top-k for a new user from (item index, value) pairs held by the caller (fold-in). The pairs
 * are taken as oldest first and cleaned as the core's Model::prepare_history() does: an item
 * given more than once counts once, with its last value; only the 1000 most recent distinct
 * items are used (EDGEREC_MAX_FOLD_IN_HISTORY); rating models clamp values to their rating
 * range. edgerec_result_info() then says what was done, and marks an empty history (which gets
 * the popularity list) with "fallback":"popularity". A history whose fold-in is not finite
 * (a model with huge factors) is an error, never an empty list. */
#define EDGEREC_MAX_FOLD_IN_HISTORY 1000
int32_t edgerec_recommend_for(edgerec_model* model, const uint32_t* items, const float* values,
                              uint32_t n, int32_t k, int32_t exclude_seen);
/* The k items most similar to `item`. */
int32_t edgerec_similar(edgerec_model* model, uint32_t item, int32_t k);
/* How `item`'s served score (what edgerec_recommend / edgerec_recommend_for return for it, in
 * the handle's current precision) splits over the user's items: the result items and scores are
 * the weights, largest first, the k largest (k < 0: all); user < 0 uses the (items, values)
 * history, cleaned as for edgerec_recommend_for. edgerec_result_info() holds
 * {"score", "others" (the weights left out by k), "rest" (score minus all weights: biases and
 * what is not attributed), "residual" (the unexplained part of rest), "exact", "note"} and, for
 * a new user, "history" as after edgerec_recommend_for; score = sum(weights) + others + rest.
 * Which kinds split exactly is documented at ScoreExplanation in edgerec/recommender.hpp. */
int32_t edgerec_explain(edgerec_model* model, int32_t user, const uint32_t* items,
                        const float* values, uint32_t n, uint32_t item, int32_t k);

/* The model's item metadata (edgerec/item_meta.hpp) as one JSON document, or "null" for a
 * model without it: {"rows": R, "source": the metadata file's name, "coldIds": [ids of rows item_count..R-1: items with metadata
 * but no interactions], "described": [0/1 per row], "titles": [R strings], "categorical":
 * [{"name", "vocabulary": [...], "offsets": [R+1], "codes": [...]}], "numeric": [{"name",
 * "values": [R numbers, null where missing]}], "vectorDims": D}. Rows below item_count are the
 * model's items in index order. Built on each call (the caller parses and keeps it); "" on
 * error (out of memory). Unlike the other calls it leaves the last call's results and
 * edgerec_result_info() as they are. Valid until the next call on the handle. */
const char* edgerec_model_item_meta_json(edgerec_model* model);
/* Item cold start over the model's item metadata (edgerec::ColdStart in edgerec/item_meta.hpp;
 * an error for a model without metadata). Result items are metadata ROWS, not item indices:
 * rows below item_count are the model's items, the rest the cold items (coldIds of
 * edgerec_model_item_meta_json, in order).
 * edgerec_similar_content: the k rows most similar by content (cosine of the feature vectors) to
 * metadata row `row` (itself excluded), or, when features_len > 0, to an item described only by
 * `features` ("genres=Action|Comedy;year=1995"; an unknown field is an error). */
int32_t edgerec_similar_content(edgerec_model* model, uint32_t row, const char* features,
                                uint32_t features_len, int32_t k);
/* Top-k rows for a new user from (metadata row, value) pairs, cold items included: content
 * scores blended with the model's as documented at blend_scores(), with `shrinkage`
 * (BlendOptions; 0 = known items keep the model's score). `filter` ("genres=Action", filter_len
 * 0 = none) keeps only rows with one of those values; exclude_seen skips the given rows. */
int32_t edgerec_recommend_cold(edgerec_model* model, const uint32_t* rows, const float* values,
                               uint32_t n, int32_t k, int32_t exclude_seen, float shrinkage,
                               const char* filter, uint32_t filter_len);
/* A JSON object describing the last call beyond its items and scores (see edgerec_explain and
 * edgerec_recommend_for; "{}" for other calls). Valid until the next call on the handle. */
const char* edgerec_result_info(const edgerec_model* model);

/* The scoring vector of a known user (user >= 0) or of a new user folded in from (items,
 * values) (user < 0), such that score(i) = dot(vector, V row i) + offset: the result scores
 * hold the dims floats of the vector followed by the offset (dims + 1 floats). An empty history
 * is refused (it has no vector: recommend_for falls back to popularity). Models without
 * embeddings refuse. */
int32_t edgerec_user_vector(edgerec_model* model, int32_t user, const uint32_t* items,
                            const float* values, uint32_t n);

/* The training interactions of known user `user`: result items are their item indices
 * (ascending), result scores their values (the ONNX path filters seen items with them). */
int32_t edgerec_user_history(edgerec_model* model, uint32_t user);

/* ---- Contextual bandits on the device (edgerec/bandit.hpp) -------------------------------
 * A bandit picks among the model's top candidates for a visitor and learns online from the
 * rewards the page reports. It belongs to one model handle (which must outlive it) and reports
 * errors through that handle (edgerec_model_status / edgerec_model_error). Its state never
 * leaves the caller's memory unless the caller saves it (edgerec_bandit_save).
 *
 * policy: 0 egreedy, 1 linucb (disjoint), 2 linucb-hybrid (refused: not in this build, for its
 * size), 3 thompson, 4 greedy, 5 random.
 * epsilon, alpha, v: as the CLI's --epsilon, --ucb-alpha, --ts-v; context_dims: D, the
 * principal directions of the item factors in the arm features (at most the factor count);
 * seed: the policy's RNG. Returns NULL (with the handle's error) on bad options or a model
 * without embeddings. */
typedef struct edgerec_bandit edgerec_bandit;
edgerec_bandit* edgerec_bandit_new(edgerec_model* model, int32_t policy, double epsilon, double alpha,
                                   double v, int32_t context_dims, uint32_t seed);
void edgerec_bandit_free(edgerec_bandit* bandit);
/* Picks for a visitor: a known user (user >= 0) or the (items, values) history (user < 0,
 * cleaned as for edgerec_recommend_for; an empty history has no vector and gets the popularity
 * list). The candidates are the model's top `candidates` items (exclude_seen: not the history's
 * or the user's training items; the pending filters apply); the result items are the candidates,
 * best base score first, and the result scores the policy's scores of them (see
 * Policy::scores). Returns the position of the pick among the result items, or EDGEREC_ERROR.
 * The candidates and their features are kept for edgerec_bandit_reward. */
int32_t edgerec_bandit_choose(edgerec_model* model, edgerec_bandit* bandit, int32_t user, const uint32_t* items,
                              const float* values, uint32_t n, int32_t candidates, int32_t exclude_seen);
/* Learns from the reward of showing `item`, one of the last choose's candidates (any of them:
 * the visitor may click another item of the list than the pick). */
int32_t edgerec_bandit_reward(edgerec_model* model, edgerec_bandit* bandit, uint32_t item, double reward);
/* The bandit's learned state as bytes (edgerec_bandit_state / _state_size, valid until the next
 * call on the bandit), and back: load refuses the state of another policy kind or of another
 * model (or context_dims) with the handle's error, leaving the bandit as it was. */
int32_t edgerec_bandit_save(edgerec_model* model, edgerec_bandit* bandit);
const uint8_t* edgerec_bandit_state(const edgerec_bandit* bandit);
uint32_t edgerec_bandit_state_size(const edgerec_bandit* bandit);
int32_t edgerec_bandit_load(edgerec_model* model, edgerec_bandit* bandit, const uint8_t* bytes, uint32_t size);

/* ---- Re-ranking (edgerec/rerank.hpp) ----------------------------------------------------
 * Re-ranks the result list of the last edgerec_recommend / edgerec_recommend_for call (best
 * first: ask those for the candidate pool, e.g. 10 x k items) to k of its items, in place:
 * kind 0 none (its first k), 1 mmr (maximal marginal relevance over the model's item factors,
 * else the content of its item metadata), 2 calibrated (Steck 2018, over the metadata's
 * "genres"), 3 popularity (long-tail boost, smooth xQuAD as Abdollahpouri et al. 2019). lambda
 * in [0, 1] as the CLI's --rerank-lambda (mmr: the weight of the score, 1 = no change; the
 * others: the weight of calibration / the long tail, 0 = no change). The user's items
 * (calibrated's target, popularity's P(head | user)): a known user's training items when
 * user >= 0, else the n item indices given. Result items keep their model scores;
 * edgerec_result_info() is the recommend call's. On error (another kind, what the kind needs is
 * missing: "--rerank mmr needs item vectors ...") the results are cleared. */
int32_t edgerec_rerank(edgerec_model* model, int32_t kind, double lambda, int32_t k, int32_t user,
                       const uint32_t* items, uint32_t n);

uint32_t edgerec_result_count(const edgerec_model* model);
const uint32_t* edgerec_result_items(const edgerec_model* model);
const float* edgerec_result_scores(const edgerec_model* model);

/* Library version string, e.g. "0.1.0". */
const char* edgerec_version(void);

#ifdef __cplusplus
}
#endif
#endif /* EDGEREC_C_H */
