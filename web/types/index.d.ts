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
// Entry points: `edgerec` (this file; dist/edgerec.mjs + dist/edgerec.wasm), `edgerec/worker`
// (the worker script WorkerModel starts), `edgerec/single` (dist/edgerec.single.js: the wasm
// inlined and this API included, one file that works as a classic <script> — also from
// file:// pages in webviews — and as an ES module import; it sets `globalThis.edgerec` to
// { load, Model, Profile, EdgerecError, version }).

/** Error raised by the edgerec core (bad model file, unknown id, bad argument). */
export class EdgerecError extends Error {
  name: 'EdgerecError';
}

/** One recommended (or similar) item with its score (higher is better). */
export interface ScoredItem {
  item: string;
  score: number;
}

/** One of the user's items and how much it contributed to a recommended item's score. */
export interface Contribution {
  item: string;
  weight: number;
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
}

export interface ModelInfo {
  kind: string;
  users: number;
  items: number;
  /** Width of the scoring vectors (latent factors plus bias columns); 0 for non-embedding models. */
  dims: number;
  factors: number;
  predictsRatings: boolean;
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
   */
  search?: 'visit' | 'scan';
  /** What the choice was made from: known users' vectors or, for a stripped model, fold-ins of popularity-drawn histories; the mean share of the items the visit scored on them; its estimated mean cost in plain scans. */
  searchSample?: { source: string; queries: number; scored: number; cost: number };
  /** Which engine scores: "wasm" (edgerec) or "onnxruntime-web". */
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
   * The wasm binary: bytes, a URL, or (Node) a path. Default: edgerec.wasm beside
   * edgerec.mjs. Models loaded with the default share one wasm instance; each other value
   * gets its own.
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

export class Model {
  /** Not for direct use: call load(). */
  private constructor();
  info(): ModelInfo;
  /** Item ids of the catalogue, in model order. */
  items(): string[];
  hasUser(userId: string): boolean;
  hasItem(itemId: string): boolean;
  /** Top-K for a user the model was trained with. Rejects an unknown user id. */
  recommend(userId: string, options?: RecommendOptions): Promise<ScoredItem[]>;
  /** Top-K for an anonymous or new user from interactions held on the device (fold-in). */
  recommendFor(interactions: Interaction[] | Profile, options?: RecommendOptions): Promise<ScoredItem[]>;
  /** The k items most similar to an item. */
  similar(itemId: string, options?: { k?: number }): Promise<ScoredItem[]>;
  /** Which of the user's items made `itemId` score high, largest first. */
  explain(user: string | Interaction[] | Profile, itemId: string, options?: { k?: number }): Promise<Contribution[]>;
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
  /** Releases the wasm memory. Further calls reject (or throw, for the synchronous ones); calling it again does nothing. */
  dispose(): void;
}

/** Loads a model file (URL, Response, ArrayBuffer or bytes) into a new wasm-backed Model. */
export function load(source: string | URL | Response | ArrayBuffer | Uint8Array, options?: LoadOptions): Promise<Model>;

/** Runs an exported ONNX scoring graph with onnxruntime-web instead (see `edgerec export-onnx`). */
export function loadOnnx(
  onnx: string | URL | ArrayBuffer | Uint8Array,
  model: Model,
  options?: {
    /** The onnxruntime module (onnxruntime-web in browsers, onnxruntime-node in Node). */
    ort?: unknown;
    /** Where onnxruntime-web's ort-wasm-simd-threaded.{mjs,wasm} are served from. */
    wasmPaths?: string;
    /** Intra-op threads (1 unless the page is cross-origin isolated). */
    numThreads?: number;
    sessionOptions?: Record<string, unknown>;
  },
): Promise<Model>;

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
  /** Adds (or updates, summing weights) an interaction; weight defaults to 1. */
  add(item: string, weight?: number): Promise<void>;
  remove(item: string): Promise<void>;
  /** The interactions in the order they were first added, as recommendFor() takes them. */
  interactions(): Interaction[];
  /** JSON the user can download: {"name", "interactions": [{item, value, time}]} (time in ms since the epoch). */
  export(): string;
  /** Replaces this profile's interactions with those of export()'s JSON (of any profile). */
  import(json: string): Promise<void>;
  /** Erases every stored interaction of this profile. */
  erase(): Promise<void>;
}

/**
 * The same API, with the model in a Web Worker (a worker_threads worker in Node) so loading
 * and scoring never block the page. Bytes are copied once and transferred (the caller's stay
 * usable); relative URLs are resolved against the page. Profiles are sent as their
 * interactions. Every method returns a promise.
 */
export class WorkerModel {
  /** workerUrl: where edgerec's src/worker.js is served (default: beside this module). */
  static load(source: string | URL | Response | ArrayBuffer | Uint8Array, options?: LoadOptions & { workerUrl?: string | URL }): Promise<WorkerModel>;
  info(): Promise<ModelInfo>;
  items(): Promise<string[]>;
  hasUser(userId: string): Promise<boolean>;
  hasItem(itemId: string): Promise<boolean>;
  itemEmbeddings(): Promise<FloatMatrix | null>;
  userVector(user: string | Interaction[] | Profile): Promise<UserVector>;
  recommend(userId: string, options?: RecommendOptions): Promise<ScoredItem[]>;
  recommendFor(interactions: Interaction[] | Profile, options?: RecommendOptions): Promise<ScoredItem[]>;
  similar(itemId: string, options?: { k?: number }): Promise<ScoredItem[]>;
  explain(user: string | Interaction[] | Profile, itemId: string, options?: { k?: number }): Promise<Contribution[]>;
  /** Stops the worker; pending and later calls reject. */
  dispose(): void;
}

/** The package version, which is the CMake project version of the core it was built from. */
export const version: string;
