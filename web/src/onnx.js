// loadOnnx: the Model API scored by ONNX Runtime (onnxruntime-web in browsers, or any object
// with the same API, such as onnxruntime-node) over a graph written by `edgerec export-onnx`.
//
// The graph (see native/include/edgerec/onnx_export.hpp) maps user vectors to the top k item
// indices and scores: inputs user_vector [batch, dims], k [1] and, for rating models,
// offset [batch, 1]. It knows nothing of users or ids, so the wasm Model passed in still holds
// the catalogue: it supplies the user's vector (a known user's row, or the fold-in of a new
// user's interactions), the user's seen items and the item ids.
//
// Filters (excludeSeen, include, exclude) are applied to the graph's output. The graph's k is
// a run-time input, so a query asks for k + |seen| + |exclude| items, drops the filtered ones
// and keeps k: exact, because at most that many of the best can be dropped. With `include`
// the wanted items may rank anywhere, so k doubles until k of them are found (at worst one run
// over every item). A mask input was the alternative, but it would cost an Add over every
// item and a copy of the whole mask into the runtime on every query, where this costs a
// larger k only when filters are in use.
//
// similar(), explain(), itemEmbeddings() and userVector() are the wasm Model's (the graph scores
// users only), as is recommendFor() with no known item (the core then ranks by popularity, which
// has no user vector).
//
// This is the entry 'edgerec/onnx' (node/onnx.js under Node), apart from 'edgerec' because of
// its `import('onnxruntime-web')`: onnxruntime-web is an optional peer dependency, and a bundler
// must not meet that import in an app that does not use ONNX Runtime.
import { EdgerecError } from './errors.js';
import { readSource } from './model.js';

// ---- the ONNX file's metadata_props, read without a protobuf library ----------------------

function readVarint(bytes, at) {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; ++i) {
    if (at.pos >= bytes.length) throw new EdgerecError('ONNX file: truncated');
    const b = bytes[at.pos++];
    value += (b & 0x7f) * scale;
    if (b < 0x80) return value;
    scale *= 128;
  }
  throw new EdgerecError('ONNX file: malformed varint');
}

// Calls visit(field, start, end) for each length-delimited field of the message in
// bytes[start, end) and skips the others.
function eachField(bytes, start, end, visit) {
  const at = { pos: start };
  while (at.pos < end) {
    const key = readVarint(bytes, at);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) readVarint(bytes, at);
    else if (wire === 1) at.pos += 8;
    else if (wire === 5) at.pos += 4;
    else if (wire === 2) {
      const len = readVarint(bytes, at);
      if (at.pos + len > end) throw new EdgerecError('ONNX file: truncated');
      visit(field, at.pos, at.pos + len);
      at.pos += len;
    } else throw new EdgerecError(`ONNX file: unsupported wire type ${wire}`);
  }
  if (at.pos !== end) throw new EdgerecError('ONNX file: truncated');
}

const utf8Decoder = new TextDecoder();

/** ModelProto.metadata_props (field 14) as a plain object. */
export function onnxMetadata(bytes) {
  const out = {};
  eachField(bytes, 0, bytes.length, (field, start, end) => {
    if (field !== 14) return;
    let key = '';
    let value = '';
    eachField(bytes, start, end, (f, s, e) => {
      if (f === 1) key = utf8Decoder.decode(bytes.subarray(s, e));
      else if (f === 2) value = utf8Decoder.decode(bytes.subarray(s, e));
    });
    out[key] = value;
  });
  return out;
}

// CRC-32 (zlib's), to match edgerec.item_ids_crc32 against the Model's item ids.
let crcTable = null;
function crc32(bytes, crc = 0) {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; ++n) {
      let c = n;
      for (let k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; ++i) c = crcTable[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function itemIdsCrc(ids) {
  const enc = new TextEncoder();
  let crc = 0;
  const newline = new Uint8Array([10]);
  for (const id of ids) crc = crc32(newline, crc32(enc.encode(id), crc));
  return crc.toString(16).padStart(8, '0');
}

// ---- options ---------------------------------------------------------------------------------

function checkK(k) {
  if (k === undefined) return 10;
  if (!Number.isInteger(k) || k < 0 || k > 0x7fffffff) throw new EdgerecError(`k must be an integer >= 0, got ${k}`);
  return k;
}

function idList(list, what) {
  if (list === undefined || list === null) return null;
  if (!Array.isArray(list)) throw new EdgerecError(`${what} must be an array of item ids`);
  for (const id of list) if (typeof id !== 'string') throw new EdgerecError(`item id must be a string, got ${typeof id}`);
  return list;
}

function interactionList(source) {
  const list = source && typeof source.interactions === 'function' ? source.interactions() : source;
  if (!Array.isArray(list)) throw new EdgerecError('interactions must be an array of {item, value} or a Profile');
  return list.map((x) => (typeof x === 'string' ? { item: x } : x));
}

// onnxruntime-web: single-threaded unless the page is cross-origin isolated (threads need
// SharedArrayBuffer); its wasm files come from `wasmPaths` when given (copies of
// ort-wasm-simd-threaded.{mjs,wasm} served beside the page), else from beside ort's own module.
function configureWeb(ort, options) {
  const wasm = ort.env && ort.env.wasm;
  if (!wasm) return;
  if (options.wasmPaths !== undefined) wasm.wasmPaths = options.wasmPaths;
  const isolated = typeof crossOriginIsolated === 'boolean' && crossOriginIsolated;
  if (options.numThreads !== undefined) wasm.numThreads = options.numThreads;
  else if (!isolated) wasm.numThreads = 1;
}

async function resolveOrt(options) {
  if (options.ort) return options.ort;
  if (typeof globalThis.ort === 'object' && globalThis.ort && globalThis.ort.InferenceSession) return globalThis.ort;
  try {
    // A bare specifier: resolves in Node, bundlers and pages with an import map. onnxruntime-web
    // is an optional peer dependency of edgerec: installed only by apps that use this entry.
    return await import('onnxruntime-web');
  } catch (e) {
    throw new EdgerecError('loadOnnx: onnxruntime-web is not available: install it (npm install onnxruntime-web), ' +
      `pass { ort }, load ort.min.js first, or map 'onnxruntime-web' in an import map (${e.message})`);
  }
}

// ---- the model -------------------------------------------------------------------------------

class OnnxModel {
  #model;
  #ort;
  #session;
  #engine;
  #hasOffset;
  #dims;
  #ids;
  #queue = Promise.resolve();

  constructor(model, ort, session, engine, dims) {
    this.#model = model;
    this.#ort = ort;
    this.#session = session;
    this.#engine = engine;
    this.#hasOffset = session.inputNames.includes('offset');
    this.#dims = dims;
    this.#ids = model.items();
  }

  #live() {
    if (!this.#session) throw new EdgerecError('the model was disposed');
    return this.#session;
  }

  // One run at a time: onnxruntime-web refuses overlapping runs on one session.
  #run(feeds) {
    const session = this.#live();
    const next = this.#queue.then(() => session.run(feeds));
    this.#queue = next.catch(() => {});
    return next;
  }

  // The top `k` (item index, score) of one user vector, best first.
  async #topk(vector, offset, k) {
    const ort = this.#ort;
    const feeds = {
      user_vector: new ort.Tensor('float32', Float32Array.from(vector), [1, this.#dims]),
      k: new ort.Tensor('int64', BigInt64Array.from([BigInt(k)]), [1]),
    };
    if (this.#hasOffset) feeds.offset = new ort.Tensor('float32', Float32Array.from([offset]), [1, 1]);
    let result;
    try {
      result = await this.#run(feeds);
    } catch (e) {
      throw new EdgerecError(`onnxruntime: ${e && e.message ? e.message : e}`);
    }
    const scores = result.scores.data;
    const indices = result.indices.data;
    // Graphs without an offset input come from models whose offset is 0; should one not be,
    // adding it here keeps scores right (a per-user constant does not change the ranking).
    const add = this.#hasOffset ? 0 : offset;
    const out = new Array(indices.length);
    for (let j = 0; j < indices.length; ++j) out[j] = { index: Number(indices[j]), score: scores[j] + add };
    return out;
  }

  // Top-k of a vector with item indices in `skip` removed and, when `include` is a Set, only
  // its indices kept (see the file comment for why asking for more is exact).
  async #filtered(vector, offset, k, skip, include) {
    const n = this.#ids.length;
    if (k === 0 || (include && include.size === 0)) return [];
    let want = Math.min(n, k + skip.size);
    for (;;) {
      const top = await this.#topk(vector, offset, want);
      const out = [];
      for (const t of top) {
        if (skip.has(t.index) || (include && !include.has(t.index))) continue;
        out.push({ item: this.#ids[t.index], score: t.score });
        if (out.length === k) break;
      }
      if (out.length === k || want === n) return out;
      want = Math.min(n, want * 2);
    }
  }

  #indexSet(ids) {
    const set = new Set();
    if (!ids) return set;
    const index = this.#index();
    for (const id of ids) {
      const i = index.get(id);
      if (i !== undefined) set.add(i);
    }
    return set;
  }

  #indexMap = null;
  #index() {
    if (!this.#indexMap) this.#indexMap = new Map(this.#ids.map((id, i) => [id, i]));
    return this.#indexMap;
  }

  #filters(options) {
    const include = idList(options.include, 'include');
    const exclude = idList(options.exclude, 'exclude');
    return {
      skip: this.#indexSet(exclude),
      include: include && include.length > 0 ? this.#indexSet(include) : null,
    };
  }

  info() {
    this.#live();
    return { ...this.#model.info(), precision: 'f32', backend: this.#engine };
  }

  items() {
    return this.#ids.slice();
  }

  hasUser(userId) {
    return this.#model.hasUser(userId);
  }

  hasItem(itemId) {
    return this.#model.hasItem(itemId);
  }

  /** Top-K for a known user, scored by ONNX Runtime. Rejects an unknown user id. */
  async recommend(userId, options = {}) {
    this.#live();
    const k = checkK(options.k);
    const { vector, offset } = this.#model.userVector(userId);
    const { skip, include } = this.#filters(options);
    if (k === 0 || (include && include.size === 0)) return [];
    if (options.excludeSeen !== false) {
      if (typeof this.#model.history !== 'function') {
        throw new EdgerecError('loadOnnx: excludeSeen needs Model.history() (edgerec_user_history); this build lacks it');
      }
      for (const h of this.#model.history(userId)) {
        const i = this.#index().get(h.item);
        if (i !== undefined) skip.add(i);
      }
    }
    return this.#filtered(vector, offset, k, skip, include);
  }

  /** Top-K for a new user from interactions on the device: fold-in by the wasm core, scoring by ONNX Runtime. */
  async recommendFor(interactions, options = {}) {
    this.#live();
    const k = checkK(options.k);
    const list = interactionList(interactions);
    const known = list.filter((x) => x && typeof x.item === 'string' && this.#index().has(x.item));
    if (known.length === 0) return this.#model.recommendFor(list, options);
    const { vector, offset } = this.#model.userVector(list);
    const { skip, include } = this.#filters(options);
    if (options.excludeSeen !== false) for (const x of known) skip.add(this.#index().get(x.item));
    return this.#filtered(vector, offset, k, skip, include);
  }

  similar(itemId, options) {
    this.#live();
    return this.#model.similar(itemId, options);
  }

  explain(user, itemId, options) {
    this.#live();
    return this.#model.explain(user, itemId, options);
  }

  itemEmbeddings() {
    this.#live();
    return this.#model.itemEmbeddings();
  }

  /** The scoring vector the graph is fed: the wasm Model's. */
  userVector(user) {
    this.#live();
    return this.#model.userVector(user);
  }

  /** Releases the ONNX Runtime session; the wasm Model passed to loadOnnx stays the caller's. */
  dispose() {
    const session = this.#session;
    if (!session) return;
    this.#session = null;
    this.#ids = [];
    this.#indexMap = null;
    if (typeof session.release === 'function') this.#queue.then(() => session.release()).catch(() => {});
  }
}

/**
 * Runs an exported ONNX scoring graph (`edgerec export-onnx`) with ONNX Runtime, returning an
 * object with the Model API. `model` is the wasm Model of the same model file: it must have
 * the same items (checked against the file's edgerec.item_ids_crc32) and supplies user vectors.
 * Options: ort (the onnxruntime module; default: globalThis.ort or import('onnxruntime-web')),
 * wasmPaths and numThreads (onnxruntime-web's env.wasm settings; numThreads defaults to 1
 * unless the page is cross-origin isolated), sessionOptions (passed to InferenceSession.create).
 * `readLocal` reads paths (the Node entry's reader) or is null (browsers: strings are URLs).
 */
export function onnxLoader(readLocal) {
  return async function loadOnnx(onnx, model, options = {}) {
    if (!model || typeof model.userVector !== 'function' || typeof model.items !== 'function') {
      throw new EdgerecError('loadOnnx: the second argument must be the wasm Model loaded from the same model file');
    }
    const bytes = await readSource(onnx, 'ONNX model', readLocal);
    const meta = onnxMetadata(bytes);
    if (!meta['edgerec.items']) throw new EdgerecError('loadOnnx: not an edgerec export (no edgerec.* metadata); write it with `edgerec export-onnx`');
    const info = model.info();
    if (Number(meta['edgerec.items']) !== info.items || Number(meta['edgerec.dims']) !== info.dims) {
      throw new EdgerecError(`loadOnnx: the ONNX file (${meta['edgerec.items']} items x ${meta['edgerec.dims']} dims) ` +
        `does not belong to this model (${info.items} items x ${info.dims} dims)`);
    }
    if (meta['edgerec.item_ids_crc32'] !== itemIdsCrc(model.items())) {
      throw new EdgerecError('loadOnnx: the ONNX file was exported from a model with other item ids');
    }
    const ort = await resolveOrt(options);
    const engine = ort.env && ort.env.versions && ort.env.versions.node ? 'onnxruntime-node' : 'onnxruntime-web';
    if (engine === 'onnxruntime-web') configureWeb(ort, options);
    const sessionOptions = { graphOptimizationLevel: 'all', ...(options.sessionOptions || {}) };
    if (engine === 'onnxruntime-web' && !sessionOptions.executionProviders) sessionOptions.executionProviders = ['wasm'];
    if (engine === 'onnxruntime-node' && sessionOptions.intraOpNumThreads === undefined) {
      sessionOptions.intraOpNumThreads = options.numThreads ?? 1;
    }
    let session;
    try {
      session = await ort.InferenceSession.create(bytes, sessionOptions);
    } catch (e) {
      throw new EdgerecError(`onnxruntime could not load the ONNX file: ${e && e.message ? e.message : e}`);
    }
    for (const name of ['user_vector', 'k']) {
      if (!session.inputNames.includes(name)) throw new EdgerecError(`loadOnnx: the graph has no '${name}' input`);
    }
    return new OnnxModel(model, ort, session, engine, info.dims);
  };
}

/** loadOnnx for browsers (paths are URLs). */
export const loadOnnx = onnxLoader(null);
