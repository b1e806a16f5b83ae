// Model: a handle in a wasm instance of the core (see wasm/include/edgerec_c.h). One instance
// serves every model loaded with the same wasm; each model is its own handle, so nothing here
// is global state but the cached instance.
import { EdgerecError } from './errors.js';

const utf8 = new TextEncoder();

// A wasm instance and its scratch buffer for call arguments. If the instance itself fails (a
// trap, which the C ABI never lets a core error become, so only a bug or exhausted memory),
// it is marked dead: its models reject from then on and the next load() starts a new one.
class Runtime {
  constructor(mod) {
    this.mod = mod;
    this.dead = null;
    this.scratchPtr = 0;
    this.scratchSize = 0;
  }

  call(name, ...args) {
    if (this.dead) throw new EdgerecError(`the wasm instance stopped after an earlier failure: ${this.dead}`);
    try {
      return this.mod['_' + name](...args);
    } catch (e) {
      this.dead = e && e.message ? e.message : String(e);
      throw new EdgerecError(`the wasm instance failed in ${name}: ${this.dead}`);
    }
  }

  // Copies `parts` (Uint8Array / Uint32Array / Float32Array) into one reused heap buffer, each
  // 4-byte aligned, and returns their addresses. Valid until the next alloc().
  alloc(parts) {
    let total = 0;
    const offsets = parts.map((p) => {
      const at = total;
      total += (p.byteLength + 3) & ~3;
      return at;
    });
    if (total > this.scratchSize) {
      if (this.scratchPtr) this.call('free', this.scratchPtr);
      this.scratchSize = Math.max(total, 2 * this.scratchSize, 4096);
      this.scratchPtr = this.call('malloc', this.scratchSize);
      if (!this.scratchPtr) {
        this.scratchSize = 0;
        throw new EdgerecError('out of memory');
      }
    }
    const heap = this.mod.HEAPU8;
    return parts.map((p, i) => {
      const at = this.scratchPtr + offsets[i];
      heap.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
      return at;
    });
  }

  string(ptr) {
    return this.mod.UTF8ToString(ptr);
  }
}

export function toBytes(value) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return null;
}

// A dev server that answers every unknown path with 200 and its index.html hands a wrong model
// or wasm URL an HTML page; say so rather than let the parser report a bad magic number.
function isHtml(bytes, contentType) {
  if (contentType && /^\s*text\/html\b/i.test(contentType)) return true;
  let head = '';
  for (let i = 0, n = Math.min(bytes.length, 64); i < n; ++i) head += String.fromCharCode(bytes[i]);
  return /^(\xef\xbb\xbf)?\s*<(!doctype\s+html|html[\s>])/i.test(head);
}

/** Throws "NAME: not WHAT (got an HTML page: wrong URL?)" when `bytes` are an HTML page. */
export function refuseHtml(bytes, contentType, name, what) {
  if (isHtml(bytes, contentType)) throw new EdgerecError(`${name}: not ${what} (got an HTML page: wrong URL?)`);
  return bytes;
}

async function fetchBytes(url, name, what) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new EdgerecError(`${name}: ${e.message}`);
  }
  if (!response.ok) throw new EdgerecError(`${name}: HTTP ${response.status} ${response.statusText}`.trim());
  const bytes = new Uint8Array(await response.arrayBuffer());
  return refuseHtml(bytes, response.headers.get('content-type'), name, what);
}

// Bytes of a model file from a URL, a Response or bytes; paths (and file: URLs) go to
// `readLocal` (the Node entry's file reader; none in browsers, where they are URLs).
export async function readSource(source, what = 'model', readLocal = null) {
  const file = what === 'model' ? 'a model file' : `an ${what} file`;
  const direct = toBytes(source);
  if (direct) return refuseHtml(direct, null, what, file);
  if (typeof Response !== 'undefined' && source instanceof Response) {
    if (!source.ok) throw new EdgerecError(`${what}: HTTP ${source.status} ${source.statusText}`.trim());
    return refuseHtml(new Uint8Array(await source.arrayBuffer()), source.headers.get('content-type'), what, file);
  }
  if (typeof source === 'string' || source instanceof URL) {
    const text = String(source);
    if (readLocal && !/^(https?|data|blob):/i.test(text)) return refuseHtml(await readLocal(text), null, text, file);
    return fetchBytes(source, text, file);
  }
  throw new EdgerecError(`${what}: expected a URL, a path, a Response, an ArrayBuffer or a Uint8Array`);
}

// Instantiates the wasm at `url` for Emscripten's instantiateWasm hook: streamed when served as
// application/wasm, with a clear error for a missing file or an HTML page in its place.
async function instantiateUrl(url, imports) {
  const name = String(url);
  if (/^file:/i.test(name)) {
    throw new EdgerecError(`${name}: browsers cannot fetch from file: URLs; serve the page over http ` +
      "(e.g. node tools/serve-static.mjs DIR); in Node, import 'edgerec' (its node entry reads the wasm from disk)");
  }
  let response;
  try {
    response = await fetch(url, { credentials: 'same-origin' });
  } catch (e) {
    throw new EdgerecError(`${name}: ${e.message}`);
  }
  if (!response.ok) {
    throw new EdgerecError(`${name}: HTTP ${response.status} ${response.statusText}`.trim() +
      ' (edgerec.wasm is not served there: copy node_modules/edgerec/dist/edgerec.wasm to your site and pass its URL as LoadOptions.wasm)');
  }
  const type = response.headers.get('content-type') || '';
  if (/^\s*application\/wasm\b/i.test(type) && typeof WebAssembly.instantiateStreaming === 'function') {
    return WebAssembly.instantiateStreaming(response, imports);
  }
  const bytes = refuseHtml(new Uint8Array(await response.arrayBuffer()), type, name, 'a wasm file');
  return WebAssembly.instantiate(bytes, imports);
}

// A new wasm instance from the Emscripten factory and a wasm source (see createLoader). The
// 3.1.6 factory never settles when an instantiateWasm hook fails, so that failure is raced in.
async function createRuntime(factory, source) {
  if (source.bytes) return new Runtime(await factory({ wasmBinary: source.bytes }));
  if (!source.url) return new Runtime(await factory({}));
  let fail;
  const failed = new Promise((resolve, reject) => { fail = reject; });
  const mod = factory({
    instantiateWasm(imports, done) {
      instantiateUrl(source.url, imports).then((r) => done(r.instance, r.module), fail);
      return {};
    },
  });
  return new Runtime(await Promise.race([mod, failed]));
}

// The fold-in history cap of the core (kMaxFoldInHistory, EDGEREC_MAX_FOLD_IN_HISTORY).
const MAX_HISTORY = 1000;

function checkK(k, fallback) {
  if (k === undefined) return fallback;
  if (!Number.isInteger(k) || k < 0 || k > 0x7fffffff) throw new EdgerecError(`k must be an integer >= 0, got ${k}`);
  return k;
}

// Re-ranking options of recommend() / recommendFor() (edgerec_rerank in the C ABI): null when
// none is asked for.
const RERANKERS = { none: 0, mmr: 1, calibrated: 2, popularity: 3 };
function rerankOf(options) {
  if (options.rerank === undefined || options.rerank === null) return null;
  const kind = Object.prototype.hasOwnProperty.call(RERANKERS, options.rerank) ? RERANKERS[options.rerank] : undefined;
  if (kind === undefined) {
    throw new EdgerecError(`rerank must be 'none', 'mmr', 'calibrated' or 'popularity', got ${options.rerank}`);
  }
  const lambda = options.lambda === undefined ? 0.5 : options.lambda;
  if (typeof lambda !== 'number' || !(lambda >= 0 && lambda <= 1)) throw new EdgerecError(`lambda must be a number in [0, 1], got ${lambda}`);
  const pool = options.pool === undefined ? 10 : options.pool;
  if (!Number.isInteger(pool) || pool < 1 || pool > 1000) throw new EdgerecError(`pool must be an integer in [1, 1000], got ${pool}`);
  return kind === 0 ? null : { kind, lambda, pool };
}

function checkId(id, what) {
  if (typeof id !== 'string') throw new EdgerecError(`${what} id must be a string, got ${typeof id}`);
  return id;
}

// Interactions from an array, a Profile (anything with interactions()) or undefined.
function interactionsOf(source) {
  const list = source && typeof source.interactions === 'function' ? source.interactions() : source;
  if (!Array.isArray(list)) throw new EdgerecError('interactions must be an array of {item, value} or a Profile');
  return list;
}

const registry = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry(({ rt, handle }) => {
      if (!rt.dead) rt.call('edgerec_model_free', handle);
    })
  : null;

export class Model {
  #rt;
  #h;
  #ids = null;
  #meta;            // the item metadata as parsed from wasm: undefined = not read yet, null = none
  #idIndex = null;  // id -> index, built for long interaction lists only (see #history)
  #token = {};

  // Use load(); the constructor takes over a loaded handle.
  constructor(rt, handle) {
    this.#rt = rt;
    this.#h = handle;
    registry?.register(this, { rt, handle }, this.#token);
  }

  #handle() {
    if (!this.#h) throw new EdgerecError('the model was disposed');
    return this.#h;
  }

  // Calls a C function that reports through the handle's status, throwing its message.
  #checked(name, ...args) {
    const h = this.#handle();
    const rc = this.#rt.call(name, h, ...args);
    if (this.#rt.call('edgerec_model_status', h) !== 0) {
      throw new EdgerecError(this.#rt.string(this.#rt.call('edgerec_model_error', h)));
    }
    return rc;
  }

  #index(kind, id) {
    const bytes = utf8.encode(checkId(id, kind));
    const [ptr] = this.#rt.alloc([bytes]);
    return this.#rt.call(`edgerec_model_${kind}_index`, this.#handle(), ptr, bytes.length);
  }

  // Index of a known id, or the core's "unknown user id 'x'" error.
  #at(kind, id) {
    const bytes = utf8.encode(checkId(id, kind));
    const [ptr] = this.#rt.alloc([bytes]);
    return this.#checked(`edgerec_model_${kind}_at`, ptr, bytes.length);
  }

  // Known items of a list as indices and values, oldest first, cleaned as the core cleans a
  // fold-in history (Model::prepare_history) so that a long list costs one pass here and never
  // reaches wasm in full: unknown ids are skipped (as the core's Recommender does: a catalogue
  // can lose items between model versions), a repeated item keeps its last value, and only the
  // newest MAX_HISTORY known items are kept. Counts what it left out, for the history report.
  #history(list) {
    const entries = interactionsOf(list);
    const items = [];
    const values = [];
    // One call into wasm per id costs ~10 us; past a few thousand entries a JS map of the
    // catalogue's ids (built once per model) is cheaper.
    if (entries.length > 5000 && !this.#idIndex) this.#idIndex = new Map(this.items().map((id, i) => [id, i]));
    const index = entries.length > 5000 ? this.#idIndex : null;
    const met = new Uint8Array(this.#rt.call('edgerec_model_item_count', this.#handle()));
    let unknown = 0;
    let duplicates = 0;
    let dropped = 0;
    for (let j = entries.length - 1; j >= 0; --j) {
      const x = entries[j];
      const entry = typeof x === 'string' ? { item: x } : x;
      if (!entry || typeof entry.item !== 'string') throw new EdgerecError('each interaction needs an item id string');
      const value = entry.value === undefined ? 1 : entry.value;
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new EdgerecError(`interaction with item '${entry.item}' has a non-finite value`);
      }
      const i = index ? (index.get(entry.item) ?? -1) : this.#index('item', entry.item);
      if (i < 0) {
        ++unknown;
      } else if (met[i]) {
        ++duplicates;
      } else {
        met[i] = 1;
        if (items.length === MAX_HISTORY) {
          ++dropped;
        } else {
          items.push(i);
          values.push(value);
        }
      }
    }
    items.reverse();
    values.reverse();
    return { items: Uint32Array.from(items), values: Float32Array.from(values), skipped: { unknown, duplicates, dropped } };
  }

  // edgerec_result_info() of the last call, with what #history() left out added to its
  // history report.
  #info(skipped) {
    const info = JSON.parse(this.#rt.string(this.#rt.call('edgerec_result_info', this.#handle())));
    if (info.history && skipped) {
      const h = info.history;
      info.history = {
        given: h.given + skipped.unknown + skipped.duplicates + skipped.dropped, unknown: skipped.unknown,
        duplicates: h.duplicates + skipped.duplicates, dropped: h.dropped + skipped.dropped,
        clamped: h.clamped, used: h.used, maxUsed: h.maxUsed,
      };
    }
    return info;
  }

  #ids_of(list, what) {
    if (list === undefined || list === null) return null;
    if (!Array.isArray(list)) throw new EdgerecError(`${what} must be an array of item ids`);
    const out = [];
    for (const id of list) {
      const i = this.#index('item', checkId(id, 'item'));
      if (i >= 0) out.push(i);
    }
    return Uint32Array.from(out);
  }

  // Sets include/exclude for the next call; false when `include` names no known item (so
  // nothing may be returned).
  #filters(options) {
    const include = this.#ids_of(options.include, 'include');
    const exclude = this.#ids_of(options.exclude, 'exclude');
    if (include && include.length === 0 && options.include.length > 0) return false;
    if ((include && include.length) || (exclude && exclude.length)) {
      const inc = include || new Uint32Array(0);
      const exc = exclude || new Uint32Array(0);
      const [pi, pe] = this.#rt.alloc([inc, exc]);
      this.#checked('edgerec_filter_set', pi, inc.length, pe, exc.length);
    }
    return true;
  }

  #results(key) {
    // Read first (once per model): it allocates in wasm, which can move the heap views below.
    const meta = this.#metadata();
    const h = this.#handle();
    const n = this.#rt.call('edgerec_result_count', h);
    if (n === 0) return [];
    const items = this.#rt.call('edgerec_result_items', h) >>> 2;
    const scores = this.#rt.call('edgerec_result_scores', h) >>> 2;
    const u32 = this.#rt.mod.HEAPU32;
    const f32 = this.#rt.mod.HEAPF32;
    const out = new Array(n);
    for (let r = 0; r < n; ++r) out[r] = { item: this.#itemId(u32[items + r]), [key]: f32[scores + r] };
    // Titles and genres beside ids when the model has item metadata (rows = item indices).
    if (meta) {
      for (let r = 0; r < n; ++r) {
        const row = u32[items + r];
        if (!meta.described[row]) continue;
        if (meta.titles[row]) out[r].title = meta.titles[row];
        if (meta.genres) out[r].genres = meta.values(meta.genres, row);
      }
    }
    return out;
  }

  // The item metadata (see edgerec_model_item_meta_json), read from wasm once per model.
  #metadata() {
    if (this.#meta !== undefined) return this.#meta;
    const h = this.#handle();
    const text = this.#rt.string(this.#rt.call('edgerec_model_item_meta_json', h));
    if (!text) throw new EdgerecError(this.#rt.string(this.#rt.call('edgerec_model_error', h)) || 'cannot read the item metadata');
    const raw = JSON.parse(text);
    if (!raw) return (this.#meta = null);
    const ids = this.items().concat(raw.coldIds);
    const values = (field, row) => {
      const out = [];
      for (let k = field.offsets[row]; k < field.offsets[row + 1]; ++k) out.push(field.vocabulary[field.codes[k]]);
      return out;
    };
    this.#meta = { ...raw, ids, rowOf: new Map(ids.map((id, r) => [id, r])), values,
      genres: raw.categorical.find((f) => f.name === 'genres') || null, known: ids.length - raw.coldIds.length };
    return this.#meta;
  }

  #itemMeta(meta, row) {
    const out = { id: meta.ids[row], title: meta.titles[row] || null, interactions: row < meta.known,
      described: meta.described[row] === 1, fields: {}, numeric: {} };
    for (const f of meta.categorical) out.fields[f.name] = meta.values(f, row);
    for (const f of meta.numeric) out.numeric[f.name] = f.values[row];
    if (meta.genres) out.genres = out.fields.genres;
    return out;
  }

  /**
   * An item's metadata (see ItemMetadata in types/index.d.ts): title, genres, every categorical
   * field's values, numeric fields; null for a model without metadata or an id it does not
   * list. Items with metadata but no interactions (cold items) are listed too.
   */
  item(itemId) {
    const meta = this.#metadata();
    if (!meta) return null;
    const row = meta.rowOf.get(checkId(itemId, 'item'));
    return row === undefined ? null : this.#itemMeta(meta, row);
  }

  /**
   * The item metadata column by column (see ItemMetadataColumns in types/index.d.ts), or null
   * for a model without it: for pages that index a large catalogue themselves (the demo).
   * Shared with the model: do not modify it.
   */
  itemMetadata() {
    const meta = this.#metadata();
    if (!meta) return null;
    const { rows, source, ids, titles, described, categorical, numeric, vectorDims, known } = meta;
    return { rows, source, ids, titles, described, categorical, numeric, vectorDims, modelItems: known };
  }

  // Results whose items are metadata rows (the cold-start calls), with titles and genres.
  #rowResults() {
    const meta = this.#metadata();
    const h = this.#handle();
    const n = this.#rt.call('edgerec_result_count', h);
    const items = this.#rt.call('edgerec_result_items', h) >>> 2;
    const scores = this.#rt.call('edgerec_result_scores', h) >>> 2;
    const out = new Array(n);
    for (let r = 0; r < n; ++r) {
      const row = this.#rt.mod.HEAPU32[items + r];
      out[r] = { item: meta.ids[row], score: this.#rt.mod.HEAPF32[scores + r] };
      if (meta.described[row] && meta.titles[row]) out[r].title = meta.titles[row];
      if (meta.described[row] && meta.genres) out[r].genres = meta.values(meta.genres, row);
    }
    return out;
  }

  #needMeta() {
    const meta = this.#metadata();
    if (!meta) throw new EdgerecError('this model has no item metadata: train it with --item-meta FILE for content-based and cold-start serving');
    return meta;
  }

  /**
   * Items most similar by content (the cosine of metadata feature vectors; see "Item metadata
   * and cold start" in the main README) to an item of the metadata, cold items included, or,
   * with `{ features: 'genres=Action|Comedy;year=1995' }` instead of an id (pass null), to an
   * item known only by its metadata. A two-tower model ranks in its own item space instead: the
   * cosine of its item vectors, a cold item's and a description's from its item tower (as the
   * CLI's `similar` does).
   */
  async similarByContent(itemId, options = {}) {
    const k = checkK(options.k, 10);
    const meta = this.#needMeta();
    if (options.features !== undefined) {
      if (typeof options.features !== 'string' || !options.features) throw new EdgerecError('features must be a non-empty string');
      const bytes = utf8.encode(options.features);
      const [ptr] = this.#rt.alloc([bytes]);
      this.#checked('edgerec_similar_content', 0, ptr, bytes.length, k);
    } else {
      const row = meta.rowOf.get(checkId(itemId, 'item'));
      if (row === undefined) throw new EdgerecError(`unknown item id '${itemId}' (not in the model nor in its item metadata)`);
      this.#checked('edgerec_similar_content', row, 0, 0, k);
    }
    return this.#rowResults();
  }

  /**
   * Top-K for a new visitor over every item with metadata, cold items included: content scores
   * blended with the model's, w = n / (n + blendShrinkage) on the model's z-score for an item
   * with n interactions (default 20; 0 keeps the model's score for known items). `filter`
   * ('genres=Action') keeps items with one of those values: with no interactions, popularity
   * within it. Interactions may name cold items; unknown ids are skipped.
   */
  async recommendCold(interactions, options = {}) {
    const k = checkK(options.k, 10);
    const meta = this.#needMeta();
    const shrinkage = options.blendShrinkage === undefined ? 20 : options.blendShrinkage;
    if (typeof shrinkage !== 'number' || !(shrinkage >= 0) || !Number.isFinite(shrinkage)) {
      throw new EdgerecError(`blendShrinkage must be a number >= 0, got ${shrinkage}`);
    }
    const rows = [];
    const values = [];
    for (const x of interactionsOf(interactions)) {
      const row = meta.rowOf.get(x.item);
      if (row === undefined) continue;
      rows.push(row);
      values.push(x.value === undefined ? 1 : Number(x.value));
    }
    const filter = options.filter ? utf8.encode(String(options.filter)) : new Uint8Array(0);
    const [pr, pv, pf] = this.#rt.alloc([Uint32Array.from(rows), Float32Array.from(values), filter]);
    this.#checked('edgerec_recommend_cold', pr, pv, rows.length, k, options.excludeSeen === false ? 0 : 1, shrinkage,
      pf, filter.length);
    return this.#rowResults();
  }

  /** Every item with metadata, model items first (model order), then the cold items; [] without metadata. */
  catalogue() {
    const meta = this.#metadata();
    if (!meta) return [];
    const out = new Array(meta.rows);
    for (let r = 0; r < meta.rows; ++r) out[r] = this.#itemMeta(meta, r);
    return out;
  }

  #itemId(index) {
    if (this.#ids) return this.#ids[index];
    return this.#rt.string(this.#rt.call('edgerec_model_item_id', this.#handle(), index));
  }

  /** Model description (see ModelInfo in types/index.d.ts). */
  info() {
    const h = this.#handle();
    const json = this.#rt.string(this.#rt.call('edgerec_model_info_json', h));
    if (!json) throw new EdgerecError(this.#rt.string(this.#rt.call('edgerec_model_error', h)));
    const out = { ...JSON.parse(json), backend: 'wasm' };
    // search / searchSample are read when asked for, not by every info(): making the choice
    // builds the top-k index from a sample of queries (fold-ins, for a stripped model), which a
    // page's first recommendation should not wait for.
    let search = null;
    const read = () => {
      if (!search) {
        const text = this.#rt.string(this.#rt.call('edgerec_model_search_json', this.#handle()));
        if (!text) throw new EdgerecError(this.#rt.string(this.#rt.call('edgerec_model_error', h)));
        search = JSON.parse(text);
      }
      return search;
    };
    for (const key of ['search', 'searchSample']) {
      Object.defineProperty(out, key, { enumerable: true, configurable: true, get: () => read()[key] });
    }
    return out;
  }

  /** Item ids of the catalogue, in model order (a new array each call). */
  items() {
    if (!this.#ids) {
      const h = this.#handle();
      const n = this.#rt.call('edgerec_model_item_count', h);
      const ids = new Array(n);
      for (let i = 0; i < n; ++i) ids[i] = this.#rt.string(this.#rt.call('edgerec_model_item_id', h, i));
      this.#ids = ids;
    }
    return this.#ids.slice();
  }

  hasUser(userId) {
    return this.#index('user', userId) >= 0;
  }

  hasItem(itemId) {
    return this.#index('item', itemId) >= 0;
  }

  async recommend(userId, options = {}) {
    const k = checkK(options.k, 10);
    const rr = rerankOf(options);
    const user = this.#at('user', userId);
    if (!this.#filters(options)) return [];
    // Re-ranking picks k of the model's top pool x k (see edgerec_rerank).
    this.#checked('edgerec_recommend', user, rr ? Math.min(k * rr.pool, 0x7fffffff) : k, options.excludeSeen === false ? 0 : 1);
    if (rr) this.#checked('edgerec_rerank', rr.kind, rr.lambda, k, user, 0, 0);
    return this.#results('score');
  }

  async recommendFor(interactions, options = {}) {
    const k = checkK(options.k, 10);
    const rr = rerankOf(options);
    const { items, values, skipped } = this.#history(interactions);
    if (!this.#filters(options)) return [];
    const [pi, pv] = this.#rt.alloc([items, values]);
    this.#checked('edgerec_recommend_for', pi, pv, items.length, rr ? Math.min(k * rr.pool, 0x7fffffff) : k,
      options.excludeSeen === false ? 0 : 1);
    if (rr) this.#checked('edgerec_rerank', rr.kind, rr.lambda, k, -1, pi, items.length);
    const out = this.#results('score');
    const info = this.#info(skipped);
    out.history = info.history;
    if (info.fallback) out.fallback = info.fallback;
    return out;
  }

  async similar(itemId, options = {}) {
    const k = checkK(options.k, 10);
    const item = this.#at('item', itemId);
    this.#checked('edgerec_similar', item, k);
    return this.#results('score');
  }

  /** How itemId's served score splits over the user's items (see Explanation in types/index.d.ts). */
  async explain(user, itemId, options = {}) {
    const k = checkK(options.k, -1);
    const item = this.#at('item', itemId);
    let skipped = null;
    if (typeof user === 'string') {
      const u = this.#at('user', user);
      this.#checked('edgerec_explain', u, 0, 0, 0, item, k);
    } else {
      const history = this.#history(user);
      skipped = history.skipped;
      const [pi, pv] = this.#rt.alloc([history.items, history.values]);
      this.#checked('edgerec_explain', -1, pi, pv, history.items.length, item, k);
    }
    const weights = this.#results('weight');
    const info = this.#info(skipped);
    const out = { item: itemId, score: info.score, weights, others: info.others, rest: info.rest,
      residual: info.residual, exact: info.exact, note: info.note };
    if (info.history) out.history = info.history;
    if (info.fallback) out.fallback = info.fallback;
    return out;
  }

  /** The latent-factor columns of the item matrix (items x factors), copied out of wasm. */
  itemEmbeddings() {
    const h = this.#handle();
    const ptr = this.#rt.call('edgerec_model_item_matrix', h);
    const factors = this.#rt.call('edgerec_model_factor_dims', h);
    if (!ptr || factors === 0) return null;
    const dims = this.#rt.call('edgerec_model_dims', h);
    const rows = this.#rt.call('edgerec_model_item_count', h);
    const V = this.#rt.mod.HEAPF32.subarray(ptr >>> 2, (ptr >>> 2) + rows * dims);
    const data = new Float32Array(rows * factors);
    for (let i = 0; i < rows; ++i) data.set(V.subarray(i * dims, i * dims + factors), i * factors);
    return { rows, cols: factors, data };
  }

  /** The training interactions of a known user: [{ item, value }], as the model file holds them. */
  history(userId) {
    this.#checked('edgerec_user_history', this.#at('user', userId));
    return this.#results('value');
  }

  /** How many items the last recommend() / recommendFor() scored (for benchmarks). */
  lastScored() {
    return this.#rt.call('edgerec_last_scored', this.#handle());
  }

  /**
   * How the f32 recommend() / recommendFor() search (same results either way): 'auto' (the
   * default) as the model chose, 'visit' the norm-bounded visit, 'scan' scoring every item (what
   * ONNX Runtime does). For benchmarks; info().search says what 'auto' chose.
   */
  setSearch(mode) {
    const code = { auto: 0, visit: 1, scan: 2 }[mode];
    if (code === undefined) throw new EdgerecError(`search must be 'auto', 'visit' or 'scan', got '${mode}'`);
    this.#checked('edgerec_model_set_search', code);
  }

  /** The scoring vector of a known user or of interactions: score(i) = vector . V[i] + offset. */
  userVector(user) {
    if (typeof user === 'string') {
      this.#checked('edgerec_user_vector', this.#at('user', user), 0, 0, 0);
    } else {
      const { items, values } = this.#history(user);
      const [pi, pv] = this.#rt.alloc([items, values]);
      this.#checked('edgerec_user_vector', -1, pi, pv, items.length);
    }
    const h = this.#handle();
    const n = this.#rt.call('edgerec_result_count', h);
    const at = this.#rt.call('edgerec_result_scores', h) >>> 2;
    const all = this.#rt.mod.HEAPF32.slice(at, at + n);
    return { vector: all.subarray(0, n - 1), offset: all[n - 1] };
  }

  /** The full item matrix (items x dims, factor and bias columns) as ONNX export scores it. */
  itemMatrix() {
    const h = this.#handle();
    const ptr = this.#rt.call('edgerec_model_item_matrix', h);
    if (!ptr) return null;
    const cols = this.#rt.call('edgerec_model_dims', h);
    const rows = this.#rt.call('edgerec_model_item_count', h);
    return { rows, cols, data: this.#rt.mod.HEAPF32.slice(ptr >>> 2, (ptr >>> 2) + rows * cols) };
  }

  /**
   * A contextual bandit over this model's top candidates for a visitor, learning in wasm from
   * the rewards the page reports (see BanditOptions / Bandit in types/index.d.ts). With
   * `profile`, its state is restored from and saved to that Profile (on the device only).
   */
  async bandit(options = {}) {
    const policy = options.policy === undefined ? 'linucb' : options.policy;
    const code = BANDIT_POLICIES.indexOf(policy);
    if (code < 0) throw new EdgerecError(`policy must be one of ${BANDIT_POLICIES.join(', ')}, got '${policy}'`);
    const num = (name, fallback, ok) => {
      const v = options[name] === undefined ? fallback : options[name];
      if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new EdgerecError(`${name} out of range: ${v}`);
      return v;
    };
    const epsilon = num('epsilon', 0.02, (v) => v >= 0 && v <= 1);
    const alpha = num('alpha', 0.01, (v) => v >= 0);
    const v = num('v', 0.02, (x) => x >= 0);
    const candidates = checkK(options.candidates, 50);
    if (candidates < 1) throw new EdgerecError('candidates must be at least 1');
    const contextDims = num('contextDims', 8, (x) => Number.isInteger(x) && x >= 1);
    const seed = num('seed', 0, (x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff);
    const profile = options.profile || null;
    if (profile && (typeof profile.banditState !== 'function' || typeof profile.setBanditState !== 'function')) {
      throw new EdgerecError('profile must be a Profile (Profile.open())');
    }
    const h = this.#handle();
    const b = this.#rt.call('edgerec_bandit_new', h, code, epsilon, alpha, v, contextDims, seed);
    if (!b) throw new EdgerecError(this.#rt.string(this.#rt.call('edgerec_model_error', h)));
    const rt = this.#rt;
    const model = this;
    const api = {
      rt,
      handle: () => this.#handle(),
      checked: (name, ...args) => this.#checked(name, ...args),
      at: (kind, id) => this.#at(kind, id),
      history: (list) => this.#history(list),
      filters: (o) => this.#filters(o),
      itemId: (i) => this.#itemId(i),
      index: (id) => this.#index('item', id),
    };
    const key = options.key === undefined ? `${policy}:${contextDims}` : String(options.key);
    const bandit = new Bandit(api, model, b, { policy, candidates, profile, key });
    if (profile) bandit.restoreFromProfile();
    return bandit;
  }

  dispose() {
    if (!this.#h) return;
    registry?.unregister(this.#token);
    if (!this.#rt.dead) this.#rt.call('edgerec_model_free', this.#h);
    this.#h = 0;
    this.#ids = null;
    this.#meta = undefined;
    this.#idIndex = null;
  }
}

// The policy names in the C ABI's order (edgerec_bandit_new).
const BANDIT_POLICIES = ['egreedy', 'linucb', 'linucb-hybrid', 'thompson', 'greedy', 'random'];

const banditRegistry = typeof FinalizationRegistry === 'function'
  ? new FinalizationRegistry(({ rt, ptr }) => {
      if (!rt.dead) rt.call('edgerec_bandit_free', ptr);
    })
  : null;

// A bandit handle (wasm/include/edgerec_c.h) over one Model; made by Model.bandit().
export class Bandit {
  #api;
  #model;
  #b;
  #token = {};
  #options;
  #last = null;  // the last pick's candidate ids

  constructor(api, model, ptr, options) {
    this.#api = api;
    this.#model = model;  // keeps the model alive while the bandit is
    this.#b = ptr;
    this.#options = options;
    this.restored = false;
    this.restoreError = null;
    banditRegistry?.register(this, { rt: api.rt, ptr }, this.#token);
  }

  get policy() {
    return this.#options.policy;
  }

  #ptr() {
    if (!this.#b) throw new EdgerecError('the bandit was disposed');
    return this.#b;
  }

  // Loads the profile's saved state when there is one; a state the model cannot use (another
  // model or policy) is left alone and reported, and learning starts afresh.
  restoreFromProfile() {
    const bytes = this.#options.profile.banditState(this.#options.key);
    if (!bytes) return;
    try {
      this.restore(bytes);
      this.restored = true;
    } catch (e) {
      this.restoreError = e.message;
    }
  }

  /**
   * Picks an item for a visitor (a known user id, interactions, or a Profile; default: the
   * bandit's profile) among the model's top `candidates`.
   */
  async pick(visitor, options = {}) {
    const who = visitor === undefined ? this.#options.profile : visitor;
    if (who === undefined || who === null) throw new EdgerecError('pick() needs a visitor: a user id, interactions or a Profile');
    const a = this.#api;
    const k = checkK(options.candidates, this.#options.candidates);
    const seen = options.excludeSeen === false ? 0 : 1;
    const user = typeof who === 'string' ? a.at('user', who) : -1;
    const history = user >= 0 ? null : a.history(who);
    if (!a.filters(options)) throw new EdgerecError('include names no known item: nothing to pick from');
    let pick;
    if (user >= 0) {
      pick = a.checked('edgerec_bandit_choose', this.#ptr(), user, 0, 0, 0, k, seen);
    } else {
      const [pi, pv] = a.rt.alloc([history.items, history.values]);
      pick = a.checked('edgerec_bandit_choose', this.#ptr(), -1, pi, pv, history.items.length, k, seen);
    }
    const h = a.handle();
    const n = a.rt.call('edgerec_result_count', h);
    const ip = a.rt.call('edgerec_result_items', h) >>> 2;
    const sp = a.rt.call('edgerec_result_scores', h) >>> 2;
    const u32 = a.rt.mod.HEAPU32;
    const f32 = a.rt.mod.HEAPF32;
    const candidates = new Array(n);
    for (let r = 0; r < n; ++r) candidates[r] = { item: a.itemId(u32[ip + r]), score: f32[sp + r] };
    this.#last = candidates;
    return { item: candidates[pick].item, score: candidates[pick].score, candidates };
  }

  /**
   * Learns from the reward (e.g. 1 for a click, 0 for none) of showing `item`, one of the last
   * pick's candidates; then saves the state to the profile, when the bandit has one.
   */
  async reward(item, r) {
    const a = this.#api;
    if (typeof r !== 'number' || !Number.isFinite(r)) throw new EdgerecError(`reward of item '${item}' must be a finite number`);
    if (!this.#last) throw new EdgerecError('reward() before any pick()');
    const i = a.at('item', item);
    a.checked('edgerec_bandit_reward', this.#ptr(), i, r);
    if (this.#options.profile) await this.#options.profile.setBanditState(this.#options.key, this.state());
  }

  /** The learned state as bytes (to keep on the device; Profile does it when given). */
  state() {
    const a = this.#api;
    a.checked('edgerec_bandit_save', this.#ptr());
    const ptr = a.rt.call('edgerec_bandit_state', this.#ptr());
    const size = a.rt.call('edgerec_bandit_state_size', this.#ptr());
    return a.rt.mod.HEAPU8.slice(ptr, ptr + size);
  }

  /** Continues from state() bytes; refuses another policy's or another model's state. */
  restore(bytes) {
    const data = toBytes(bytes);
    if (!data) throw new EdgerecError('bandit state must be a Uint8Array or an ArrayBuffer');
    const a = this.#api;
    const [ptr] = a.rt.alloc([data]);
    a.checked('edgerec_bandit_load', this.#ptr(), ptr, data.length);
  }

  dispose() {
    if (!this.#b) return;
    banditRegistry?.unregister(this.#token);
    if (!this.#api.rt.dead) this.#api.rt.call('edgerec_bandit_free', this.#b);
    this.#b = 0;
    this.#last = null;
  }
}

// Returns load(source, options) over a wasm factory (the Emscripten module factory).
// `wasmSource(wasm)` maps LoadOptions.wasm (undefined: the default) to where the wasm comes
// from: { bytes }, { url } or {} (the single-file flavour, wasm inlined); `readLocal` reads a
// path (Node) or is null. The instance for the default wasm is created once and shared.
export function createLoader(factory, wasmSource, readLocal = null) {
  let shared = null;
  async function runtime(wasm) {
    if (wasm !== undefined) return createRuntime(factory, await wasmSource(wasm));
    if (!shared || (shared.done && shared.done.dead)) {
      const pending = (async () => createRuntime(factory, await wasmSource(undefined)))();
      shared = { pending, done: null };
      pending.then((rt) => { if (shared && shared.pending === pending) shared.done = rt; }, () => { shared = null; });
    }
    return shared.pending;
  }

  return async function load(source, options = {}) {
    if (options.quantize !== undefined && options.quantize !== 'int8' && options.quantize !== 'none') {
      throw new EdgerecError(`quantize must be 'int8' or 'none', got '${options.quantize}'`);
    }
    // Compile the wasm while the model downloads: both are on the path to the first result.
    const pendingRuntime = runtime(options.wasm);
    pendingRuntime.catch(() => {});  // reported below, after the model's own errors
    const bytes = await readSource(source, 'model', readLocal);
    const rt = await pendingRuntime;
    const [ptr] = rt.alloc([bytes]);
    const handle = rt.call('edgerec_model_load', ptr, bytes.length);
    if (!handle) throw new EdgerecError('out of memory while loading the model');
    if (rt.call('edgerec_model_status', handle) !== 0) {
      const message = rt.string(rt.call('edgerec_model_error', handle));
      rt.call('edgerec_model_free', handle);
      throw new EdgerecError(message);
    }
    // The scratch buffer held the whole file; give that memory back.
    if (rt.scratchSize > (1 << 20)) {
      rt.call('free', rt.scratchPtr);
      rt.scratchPtr = 0;
      rt.scratchSize = 0;
    }
    const model = new Model(rt, handle);
    if (options.quantize === 'int8') {
      if (rt.call('edgerec_model_quantize', handle, 1) !== 0) {
        const message = rt.string(rt.call('edgerec_model_error', handle));
        model.dispose();
        throw new EdgerecError(message);
      }
    }
    return model;
  };
}
