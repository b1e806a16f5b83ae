// edgerec — on-device recommendations in the browser, a web worker or Node.
//
// All scoring runs in WebAssembly on the user's device: nothing is sent anywhere. A Model owns
// a handle in its wasm module; call dispose() when done (it is also released when garbage
// collected, but not promptly). Errors from the core arrive as `EdgerecError` with the core's
// message; a model stays usable after an error.

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
  /** How many items (default 10). */
  k?: number;
  /** Skip the user's own items (default true). */
  excludeSeen?: boolean;
  /** Only these item ids may be returned. */
  include?: string[];
  /** These item ids are never returned. */
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
  formatVersion: number;
  version: string;
  /** Scoring kernel compiled in: "wasm-simd128" or "generic". */
  kernels: string;
  /** "f32" or "int8" (see LoadOptions.quantize). */
  precision: 'f32' | 'int8';
  /** Which engine scores: "wasm" (edgerec) or "onnxruntime-web". */
  backend: 'wasm' | 'onnxruntime-web';
}

export interface LoadOptions {
  /** Score with an int8-quantised item matrix (smaller, faster; top-10 overlap >= 0.99). */
  quantize?: 'int8' | 'none';
  /** Pre-loaded wasm bytes or a URL of edgerec.wasm (default: beside the module). */
  wasm?: ArrayBuffer | Uint8Array | string | URL;
}

export class Model {
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
  /** Item embeddings (items x factors, row-major) for maps; null for non-embedding models. */
  itemEmbeddings(): { rows: number; cols: number; data: Float32Array } | null;
  /** Releases the wasm memory. Further calls reject. */
  dispose(): void;
}

/** Loads a model file (URL, Response, ArrayBuffer or bytes) into a new wasm-backed Model. */
export function load(source: string | URL | Response | ArrayBuffer | Uint8Array, options?: LoadOptions): Promise<Model>;

/** Runs an exported ONNX scoring graph with onnxruntime-web instead (see `edgerec export-onnx`). */
export function loadOnnx(onnx: string | URL | ArrayBuffer | Uint8Array, model: Model, options?: { ort?: unknown }): Promise<Model>;

export interface ProfileOptions {
  /** Storage: "indexeddb" (default in browsers) or "memory" (fallback, and in Node). */
  storage?: 'indexeddb' | 'memory';
  /** IndexedDB database name (default "edgerec"). */
  database?: string;
}

/** The user's own interactions, kept on the device only (IndexedDB, with a memory fallback). */
export class Profile {
  static open(name?: string, options?: ProfileOptions): Promise<Profile>;
  readonly name: string;
  readonly storage: 'indexeddb' | 'memory';
  /** Adds (or updates, summing weights) an interaction. */
  add(item: string, weight?: number): Promise<void>;
  remove(item: string): Promise<void>;
  interactions(): Interaction[];
  /** JSON the user can download: {"name", "interactions": [{item, value, time}]}. */
  export(): string;
  import(json: string): Promise<void>;
  /** Erases every stored interaction of this profile. */
  erase(): Promise<void>;
}

/** The same API, scoring in a Web Worker so the page never blocks. */
export class WorkerModel {
  static load(source: string | URL | ArrayBuffer | Uint8Array, options?: LoadOptions & { workerUrl?: string | URL }): Promise<WorkerModel>;
  info(): Promise<ModelInfo>;
  recommend(userId: string, options?: RecommendOptions): Promise<ScoredItem[]>;
  recommendFor(interactions: Interaction[] | Profile, options?: RecommendOptions): Promise<ScoredItem[]>;
  similar(itemId: string, options?: { k?: number }): Promise<ScoredItem[]>;
  explain(user: string | Interaction[] | Profile, itemId: string, options?: { k?: number }): Promise<Contribution[]>;
  dispose(): void;
}

export const version: string;
