// edgerec — on-device recommendations in the browser, a web worker or Node.
//
// All scoring runs in WebAssembly on the user's device: nothing is sent anywhere. A Model owns
// a handle in its wasm module (one module instance serves every model loaded with the same
// wasm); call dispose() when done (it is also released when garbage collected, but not
// promptly). Errors from the core arrive as `EdgerecError` with the core's message (the same
// text the native CLI prints); a model stays usable after an error. Methods that compute
// return promises; they run synchronously in the calling thread (use WorkerModel to keep the
// page responsive with large catalogues).
//
// Entry points (package.json "exports"; each has its own declarations):
//   `edgerec`         this file. Browsers and bundlers get src/index.js (no Node module, the
//                     wasm found by `new URL('../dist/edgerec.wasm', import.meta.url)`); Node
//                     gets src/node/index.js (the "node" condition; reads the wasm from disk).
//   `edgerec/onnx`    loadOnnx(): the same API scored by ONNX Runtime (onnx.d.ts); needs the
//                     optional peer dependency onnxruntime-web (or pass `ort`).
//   `edgerec/worker`  the worker script WorkerModel starts (worker.d.ts; no exports).
//   `edgerec/single`  dist/edgerec.single.js: the wasm inlined and this API included, one file
//                     that works as a classic <script> (also from file:// pages in webviews)
//                     and as a module import; it sets `globalThis.edgerec` (single.d.ts).

/** Error raised by the edgerec core (bad model file, unknown id, bad argument). */
export class EdgerecError extends Error {
  name: 'EdgerecError';
}

/** One recommended (or similar) item with its score (higher is better). */
export interface ScoredItem {
  item: string;
  score: number;
  /** The item's title, when the model has item metadata that gives one (train --item-meta). */
  title?: string;
  /** The item's genres (the metadata's categorical field named "genres"), when it has one. */
  genres?: string[];
}

/** One of the user's items and how much it contributed to a recommended item's score. */
export interface Contribution {
  item: string;
  weight: number;
  title?: string;
  genres?: string[];
}

/**
 * An item's metadata as the model file keeps it (train --item-meta / --item-vectors): Model.item()
 * and Model.catalogue(). Cold items (metadata but no interactions) have interactions: false; the
 * model's own scores never rank them.
 */
export interface ItemMetadata {
  id: string;
  /** null when the metadata gives none. */
  title: string | null;
  /** The "genres" field's values, when the metadata has such a field. */
  genres?: string[];
  /** true for the model's items, false for cold items. */
  interactions: boolean;
  /** false for a model item the metadata file does not list (empty fields). */
  described: boolean;
  /** Every categorical field's values, by field name. */
  fields: Record<string, string[]>;
  /** Every numeric field's value, null where missing. */
  numeric: Record<string, number | null>;
}

/** How a new user's interactions were used by recommendFor() / explain(). */
export interface HistoryReport {
  /** Interactions passed in. */
  given: number;
  /** Of those, with item ids the model does not know (ignored). */
  unknown: number;
  /** Dropped because a later interaction names the same item (the last value counts). */
  duplicates: number;
  /** Distinct items dropped, oldest first, beyond maxUsed (the fold-in uses the most recent ones). */
  dropped: number;
  /** Values moved into the model's rating range (rating models). */
  clamped: number;
  /** Interactions the fold-in used. */
  used: number;
  /** The cap on used (1000). */
  maxUsed: number;
}

/** recommendFor()'s result: the items, and how the interactions were used. */
export interface RecommendForResult extends Array<ScoredItem> {
  history: HistoryReport;
  /** Set when no interaction named a known item: the items are the popularity list. */
  fallback?: 'popularity';
}

/**
 * How an item's served score splits over the user's items: score = sum of weights + others +
 * rest (to double rounding). Exact for itemknn, the baselines, popularity (all in rest) and
 * iALS fold-ins; for iALS known users, SVD, SVD++ and BPR the user parameters are not a linear
 * function of the items, so `exact` is false, the weights split a closed-form stand-in (see
 * `note`) and `residual` is the part they leave unexplained.
 */
export interface Explanation {
  item: string;
  /** What recommend() / recommendFor() serve for the item. */
  score: number;
  /** One per history item, largest first (the k largest when options.k is given). */
  weights: Contribution[];
  /** The sum of the weights left out by k (0 without k). */
  others: number;
  /** score minus all weights: biases, offsets and what is not attributed. */
  rest: number;
  /** The part of rest that is no bias or offset term (float rounding when exact). */
  residual: number;
  exact: boolean;
  /** What the weights are and what rest holds. */
  note: string;
  /** For interactions (not a known user): how they were used. */
  history?: HistoryReport;
  /** Set when no interaction named a known item (the score is the item's popularity). */
  fallback?: 'popularity';
}

/** A user's own interaction: the item's id and a value (rating, or 1 for implicit feedback). */
export interface Interaction {
  item: string;
  value?: number;
}

export interface RecommendOptions {
  /** How many items (default 10; an integer >= 0). */
  k?: number;
  /** Skip the user's own items: training items for recommend(), the given ones for recommendFor() (default true). */
  excludeSeen?: boolean;
  /** Only these item ids may be returned (unknown ids are ignored; a list of only unknown ids allows nothing). */
  include?: string[];
  /** These item ids are never returned (unknown ids are ignored). */
  exclude?: string[];
  /**
   * Re-rank the model's top `pool` x k to k (see "Diversity, novelty, calibration and
   * re-ranking" in the main README): 'mmr' for diversity (item factors, else metadata content),
   * 'calibrated' for the genre proportions of the user's items (needs metadata with genres),
   * 'popularity' for a long-tail boost (smooth xQuAD); 'none' (the default) keeps the model's order.
   */
  rerank?: 'none' | 'mmr' | 'calibrated' | 'popularity';
  /** The trade-off in [0, 1] (default 0.5): mmr's weight of the score (1 = no change); calibrated's and popularity's weight of calibration / the long tail (0 = no change). */
  lambda?: number;
  /** Candidates re-ranked: the model's top pool x k (an integer in [1, 1000], default 10). */
  pool?: number;
}

export interface ModelInfo {
  kind: string;
  users: number;
  items: number;
  /** Width of the scoring vectors (latent factors plus bias columns); 0 for non-embedding models. */
  dims: number;
  factors: number;
  predictsRatings: boolean;
  /** A rating model's training rating range [min, max]: its recommendation scores are predicted ratings clipped to it (as the CLI and eval do); null for other models. */
  ratingRange: [number, number] | null;
  trainRows: number;
  /** The model file's format version (files of every older version load). */
  formatVersion: number;
  /** How the file stored the item matrix: 'int8' (`edgerec strip --int8`: scores from the dequantised matrix), 'f32', or null for itemknn. */
  fileItemMatrix: 'f32' | 'int8' | null;
  version: string;
  /** Scoring kernel compiled in: "wasm-simd128" or "generic". */
  kernels: string;
  /** "f32" or "int8" (see LoadOptions.quantize). */
  precision: 'f32' | 'int8';
  /**
   * How recommend() / recommendFor() find the top k in f32 (absent for itemknn, which scores
   * every item): 'visit' by decreasing item norm, stopping once no item left can enter the top k,
   * or 'scan' scoring every item. The model chooses when its index is built, from a sample of its
   * own queries (searchSample), keeping the visit only where it costs at most half a scan.
   * Read lazily: info() itself builds nothing; the first read of search or searchSample makes
   * the choice if no query has yet.
   */
  search?: 'visit' | 'scan';
  /** What the choice was made from: known users' vectors or, for a stripped model, fold-ins of popularity-drawn histories; the mean share of the items the visit scored on them; its estimated mean cost in plain scans. */
  searchSample?: { source: string; queries: number; scored: number; cost: number };
  /** Which engine scores: "wasm" (edgerec), or ONNX Runtime for an OnnxModel (edgerec/onnx). */
  backend: 'wasm' | 'onnxruntime-web' | 'onnxruntime-node';
}

export interface LoadOptions {
  /**
   * 'none' (default, f32): recommend() and recommendFor() are exact — the same items and scores
   * as scoring every item — and either visit items by decreasing norm, stopping once no
   * unvisited item can enter the top k, or scan every item, whichever a sample of the model's own
   * queries says is faster (an index of 8 bytes per item, built on the first call; info().search).
   * 'int8': they rank candidates with an int8 copy of the item matrix (per-row scale, a quarter
   * of the bytes, stored in visit order), keep the best k + k/8 + 2 and re-score those in f32:
   * scores are f32 scores, faster, but an item the codes rank low can be missed (top-10
   * overlap with f32 >= 0.99). Refused for models without an item matrix (itemknn).
   */
  quantize?: 'int8' | 'none';
  /**
   * The wasm binary: bytes, a URL, or (Node) a path. Default: dist/edgerec.wasm of the package,
   * which Vite and webpack copy into the build on their own; with a bundler that does not
   * follow `new URL(..., import.meta.url)` (esbuild), serve dist/edgerec.wasm and pass its URL.
   * Models loaded with the default share one wasm instance; each other value gets its own.
   */
  wasm?: ArrayBuffer | Uint8Array | string | URL;
}

/** A user's scoring vector: score(item i) = dot(vector, itemMatrix row i) + offset. */
export interface UserVector {
  vector: Float32Array;
  offset: number;
}

/** A row-major float matrix copied out of wasm. */
export interface FloatMatrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

/**
 * What every model object answers: Model (wasm, in this thread), WorkerModel (in a worker) and
 * OnnxModel (edgerec/onnx). Code written against it awaits every result, so it takes any of
 * them; each class narrows the return types (Model's info() is synchronous, WorkerModel's is a
 * promise).
 */
export interface Recommender {
  info(): ModelInfo | Promise<ModelInfo>;
  /** Item ids of the catalogue, in model order. */
  items(): string[] | Promise<string[]>;
  hasUser(userId: string): boolean | Promise<boolean>;
  hasItem(itemId: string): boolean | Promise<boolean>;
  /** Top-K for a user the model was trained with. Rejects an unknown user id. */
  recommend(userId: string, options?: RecommendOptions): Promise<ScoredItem[]>;
  /** Top-K for an anonymous or new user from interactions held on the device (fold-in). */
  recommendFor(interactions: Interaction[] | Profile, options?: RecommendOptions): Promise<ScoredItem[]>;
  /** The k items most similar to an item. */
  similar(itemId: string, options?: { k?: number }): Promise<ScoredItem[]>;
  /** How `itemId`'s served score splits over the user's items (k: keep the k largest weights). */
  explain(user: string | Interaction[] | Profile, itemId: string, options?: { k?: number }): Promise<Explanation>;
  /** Item embeddings (items x factors, row-major, bias columns left out) for maps; null for models without latent factors (itemknn, popularity, baselines). */
  itemEmbeddings(): FloatMatrix | null | Promise<FloatMatrix | null>;
  /** A known user's scoring vector, or a new user's from interactions (fold-in; needs at least one known item). Throws for itemknn. */
  userVector(user: string | Interaction[] | Profile): UserVector | Promise<UserVector>;
  /** Releases the model. Further calls reject (or throw, for the synchronous ones); calling it again does nothing. */
  dispose(): void;
}

/** Options of recommendCold(). */
export interface ColdOptions {
  k?: number;
  excludeSeen?: boolean;
  /** "field=v1|v2": only items with one of these values of a categorical field. */
  filter?: string;
  /** Interactions at which an item's content and model scores weigh the same (default 20; 0: known items keep the model's score). */
  blendShrinkage?: number;
}

/** The item metadata column by column (Model.itemMetadata()): row r < modelItems is the model's item r. */
export interface ItemMetadataColumns {
  rows: number;
  /** The metadata file's name as train --item-meta was given it. */
  source: string;
  /** The model's items (model order), then the cold items. */
  ids: string[];
  /** "" where there is none. */
  titles: string[];
  /** 1 where the metadata file listed the row. */
  described: number[];
  /** Each field's values of row r: vocabulary[codes[k]] for k in [offsets[r], offsets[r + 1]). */
  categorical: { name: string; vocabulary: string[]; offsets: number[]; codes: number[] }[];
  numeric: { name: string; values: (number | null)[] }[];
  vectorDims: number;
  modelItems: number;
}

export class Model implements Recommender {
  /** Not for direct use: call load(). */
  private constructor();
  info(): ModelInfo;
  /** Item ids of the catalogue, in model order. */
  items(): string[];
  /** An item's metadata (cold items included); null without metadata or for an id it does not list. */
  item(itemId: string): ItemMetadata | null;
  /** Every item with metadata: the model's items in model order, then the cold items; [] without metadata. */
  catalogue(): ItemMetadata[];
  /** The metadata column by column, null without metadata (cheap for large catalogues). */
  itemMetadata(): ItemMetadataColumns | null;
  /** Items most similar by metadata content to an item (cold items too), or to `features` ("genres=Action|Comedy;year=1995") with itemId null; a two-tower model ranks by the cosine in its item space (its item tower embeds cold items and descriptions). */
  similarByContent(itemId: string | null, options?: { k?: number; features?: string }): Promise<ScoredItem[]>;
  /** Top-K over every item with metadata (cold items included): content blended with the model's scores; `filter` "field=v1|v2". */
  recommendCold(interactions: Interaction[] | Profile, options?: ColdOptions): Promise<ScoredItem[]>;
  hasUser(userId: string): boolean;
  hasItem(itemId: string): boolean;
  /** Top-K for a user the model was trained with. Rejects an unknown user id. */
  recommend(userId: string, options?: RecommendOptions): Promise<ScoredItem[]>;
  /**
   * Top-K for an anonymous or new user from interactions held on the device (fold-in), taken as
   * oldest first: an item given more than once counts once (its last value), only the 1000 most
   * recent distinct items are used, rating models clamp values to their rating range; the
   * result's `history` says so, and `fallback` marks the popularity list (no known item).
   */
  recommendFor(interactions: Interaction[] | Profile, options?: RecommendOptions): Promise<RecommendForResult>;
  /** The k items most similar to an item. */
  similar(itemId: string, options?: { k?: number }): Promise<ScoredItem[]>;
  /** How `itemId`'s served score splits over the user's items (k: keep the k largest weights). */
  explain(user: string | Interaction[] | Profile, itemId: string, options?: { k?: number }): Promise<Explanation>;
  /** Item embeddings (items x factors, row-major, bias columns left out) for maps; null for models without latent factors (itemknn, popularity, baselines). */
  itemEmbeddings(): FloatMatrix | null;
  /** The whole item matrix the scores use (items x dims, factor and bias columns); null for itemknn. */
  itemMatrix(): FloatMatrix | null;
  /** A known user's scoring vector, or a new user's from interactions (fold-in; needs at least one known item). Throws for itemknn. */
  userVector(user: string | Interaction[] | Profile): UserVector;
  /** A known user's training interactions, as the model file holds them. */
  history(userId: string): Interaction[];
  /** How many items the last recommend() / recommendFor() scored (items() length when it scanned them all). For benchmarks. */
  lastScored(): number;
  /** How the f32 top-k searches (same results): 'auto' (default) as the model chose (info().search), 'visit' or 'scan' (every item, as ONNX Runtime does). For benchmarks. */
  setSearch(mode: 'auto' | 'visit' | 'scan'): void;
  /**
   * A contextual bandit that picks among this model's top candidates for a visitor and learns
   * from the rewards the page reports, in wasm (edgerec/bandit.hpp). With `profile`, its state
   * is restored from and saved to that Profile after every reward (IndexedDB on the device;
   * never sent anywhere) and erased with it. Models without embeddings (itemknn) refuse.
   */
  bandit(options?: BanditOptions): Promise<Bandit>;
  /** Releases the wasm memory. Further calls reject (or throw, for the synchronous ones); calling it again does nothing. */
  dispose(): void;
}

/** Loads a model file (URL, Response, ArrayBuffer or bytes) into a new wasm-backed Model. */
/** linucb-hybrid is a CLI policy only: the wasm build leaves it out for its size. */
export type BanditPolicy = 'linucb' | 'thompson' | 'egreedy' | 'greedy' | 'random';

export interface BanditOptions {
  /** Default 'linucb' (disjoint: one ridge model per item, Li et al. 2010). */
  policy?: BanditPolicy;
  /** linucb / linucb-hybrid: width of the confidence bound, >= 0 (default 0.01). */
  alpha?: number;
  /** egreedy: exploration probability in [0, 1] (default 0.02). */
  epsilon?: number;
  /** thompson: posterior scale v (covariance v² B⁻¹), >= 0 (default 0.02). */
  v?: number;
  /** How many of the model's top items a pick chooses among (default 50). */
  candidates?: number;
  /** Principal directions of the item factors in the arm features (default 8). */
  contextDims?: number;
  /** The policy's random stream (egreedy, thompson, random), an integer in [0, 2^32) (default 0). */
  seed?: number;
  /** Restore the state from this profile and save it there after every reward. */
  profile?: Profile;
  /** The name the state is stored under in the profile (default `${policy}:${contextDims}`). */
  key?: string;
}

export interface BanditPick {
  /** The item to show. */
  item: string;
  /** Its score under the policy (UCB for linucb, the ridge or posterior-mean estimate otherwise). */
  score: number;
  /** Every candidate, best base-model score first, with the policy's score. */
  candidates: { item: string; score: number }[];
}

export class Bandit {
  readonly policy: BanditPolicy;
  /** True when a state from the profile was restored. */
  readonly restored: boolean;
  /** Why the profile's state could not be used (another model or policy), else null; learning then starts afresh. */
  readonly restoreError: string | null;
  /** Picks for a visitor: a known user id, interactions or a Profile (default: the bandit's profile). */
  pick(visitor?: string | Interaction[] | Profile,
       options?: { candidates?: number; include?: string[]; exclude?: string[]; excludeSeen?: boolean }): Promise<BanditPick>;
  /** Learns from reward r (e.g. 1 click, 0 none) of showing `item`, one of the last pick's candidates. */
  reward(item: string, r: number): Promise<void>;
  /** The learned state as bytes. */
  state(): Uint8Array;
  /** Continues from state() bytes; throws for another policy's or another model's state. */
  restore(bytes: Uint8Array | ArrayBuffer): void;
  /** Releases the wasm memory of the bandit. */
  dispose(): void;
}

export function load(source: string | URL | Response | ArrayBuffer | Uint8Array, options?: LoadOptions): Promise<Model>;

export interface ProfileOptions {
  /** Storage: "indexeddb" (default in browsers) or "memory" (fallback, and in Node). */
  storage?: 'indexeddb' | 'memory';
  /** IndexedDB database name (default "edgerec"). */
  database?: string;
}

/** The user's own interactions, kept on the device only (IndexedDB, with a memory fallback). */
export class Profile {
  /** Opens (creating when new) the profile `name` (default "default"). Falls back to memory when IndexedDB is missing or refuses. */
  static open(name?: string, options?: ProfileOptions): Promise<Profile>;
  readonly name: string;
  readonly storage: 'indexeddb' | 'memory';
  /** Sets the item's value (a rating): rating an item again replaces the old value. */
  rate(item: string, value: number): Promise<void>;
  /** Counts an event on the item (implicit feedback: a play, a view): adds `weight` (default 1) to its value. */
  addEvent(item: string, weight?: number): Promise<void>;
  /** @deprecated add() sums like addEvent(), its new name; use rate() for ratings (set, not sum). */
  add(item: string, weight?: number): Promise<void>;
  /** The item's value, or undefined when the profile does not hold it. */
  get(item: string): number | undefined;
  remove(item: string): Promise<void>;
  /** The interactions in the order they were first added, as recommendFor() takes them. */
  interactions(): Interaction[];
  /** JSON the user can download: {"name", "format": 2, "interactions": [{item, value, time}]} (time in ms since the epoch). */
  export(): string;
  /** Replaces this profile's interactions with those of export()'s JSON (of any profile; an item listed twice keeps its last value). */
  import(json: string): Promise<void>;
  /** The bandit state stored under `key` (Model.bandit({ profile })), or undefined. */
  banditState(key: string): Uint8Array | undefined;
  /** Stores a bandit state under `key` with the profile (on the device only). */
  setBanditState(key: string, bytes: Uint8Array): Promise<void>;
  /** Erases every stored interaction and bandit state of this profile. */
  erase(): Promise<void>;
}

/**
 * The same API, with the model in a Web Worker (a worker_threads worker in Node) so loading
 * and scoring never block the page. Bytes are copied once and transferred (the caller's stay
 * usable); relative URLs are resolved against the page. Profiles are sent as their
 * interactions. Every method returns a promise. Bundlers (Vite, webpack) bundle the worker
 * script themselves: the package creates it as `new Worker(new URL('./worker.js',
 * import.meta.url), { type: 'module' })`.
 */
export class WorkerModel implements Recommender {
  /** workerUrl: where edgerec's worker script (`edgerec/worker`, src/worker.js) is served, when not beside this module. */
  static load(source: string | URL | Response | ArrayBuffer | Uint8Array, options?: LoadOptions & { workerUrl?: string | URL }): Promise<WorkerModel>;
  private constructor();
  info(): Promise<ModelInfo>;
  items(): Promise<string[]>;
  item(itemId: string): Promise<ItemMetadata | null>;
  catalogue(): Promise<ItemMetadata[]>;
  itemMetadata(): Promise<ItemMetadataColumns | null>;
  similarByContent(itemId: string | null, options?: { k?: number; features?: string }): Promise<ScoredItem[]>;
  recommendCold(interactions: Interaction[] | Profile, options?: ColdOptions): Promise<ScoredItem[]>;
  hasUser(userId: string): Promise<boolean>;
  hasItem(itemId: string): Promise<boolean>;
  itemEmbeddings(): Promise<FloatMatrix | null>;
  userVector(user: string | Interaction[] | Profile): Promise<UserVector>;
  recommend(userId: string, options?: RecommendOptions): Promise<ScoredItem[]>;
  recommendFor(interactions: Interaction[] | Profile, options?: RecommendOptions): Promise<RecommendForResult>;
  similar(itemId: string, options?: { k?: number }): Promise<ScoredItem[]>;
  explain(user: string | Interaction[] | Profile, itemId: string, options?: { k?: number }): Promise<Explanation>;
  /** Stops the worker; pending and later calls reject. */
  dispose(): void;
}

/** The package version, which is the CMake project version of the core it was built from. */
export const version: string;
