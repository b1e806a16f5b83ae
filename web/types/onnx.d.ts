// edgerec/onnx — an exported ONNX scoring graph (`edgerec export-onnx`) run by ONNX Runtime:
// onnxruntime-web in browsers, onnxruntime-node or onnxruntime-web in Node. onnxruntime-web is
// an optional peer dependency of edgerec: install it to use this entry with a bundler (which
// resolves the entry's `import('onnxruntime-web')`); without one, pass `ort` or load
// ort.min.js first. Apps that never import edgerec/onnx never reference it.
import type {
  Explanation, FloatMatrix, Interaction, Model, ModelInfo, Profile, RecommendOptions, Recommender, ScoredItem, UserVector,
} from './index.js';

export interface OnnxOptions {
  /** The onnxruntime module (onnxruntime-web in browsers, onnxruntime-node in Node). Default: globalThis.ort, else import('onnxruntime-web'). */
  ort?: unknown;
  /** Where onnxruntime-web's ort-wasm-simd-threaded.{mjs,wasm} are served from. */
  wasmPaths?: string;
  /** Intra-op threads (1 unless the page is cross-origin isolated). */
  numThreads?: number;
  /** Passed to InferenceSession.create. */
  sessionOptions?: Record<string, unknown>;
}

/**
 * The Recommender API over an ONNX Runtime session. recommend() and recommendFor() score with
 * the graph; the user's vector (fold-in included), similar(), explain() and itemEmbeddings()
 * come from the wasm Model passed to loadOnnx, which stays the caller's. It has no history(),
 * itemMatrix() or lastScored(): use that Model's.
 */
export interface OnnxModel extends Recommender {
  /** The wasm Model's info, with backend 'onnxruntime-web' or 'onnxruntime-node' and precision 'f32'. */
  info(): ModelInfo;
  items(): string[];
  hasUser(userId: string): boolean;
  hasItem(itemId: string): boolean;
  recommend(userId: string, options?: RecommendOptions): Promise<ScoredItem[]>;
  recommendFor(interactions: Interaction[] | Profile, options?: RecommendOptions): Promise<ScoredItem[]>;
  similar(itemId: string, options?: { k?: number }): Promise<ScoredItem[]>;
  explain(user: string | Interaction[] | Profile, itemId: string, options?: { k?: number }): Promise<Explanation>;
  itemEmbeddings(): FloatMatrix | null;
  userVector(user: string | Interaction[] | Profile): UserVector;
  /** Releases the ONNX Runtime session (not the wasm Model). */
  dispose(): void;
}

/**
 * Loads the graph (URL, bytes, or a path in Node) for `model`, the wasm Model of the same model
 * file (its item ids are checked against the graph's edgerec.item_ids_crc32).
 */
export function loadOnnx(onnx: string | URL | Response | ArrayBuffer | Uint8Array, model: Model, options?: OnnxOptions): Promise<OnnxModel>;

/** The ONNX file's metadata_props as a plain object (edgerec.items, edgerec.dims, ...). */
export function onnxMetadata(bytes: Uint8Array): Record<string, string>;
