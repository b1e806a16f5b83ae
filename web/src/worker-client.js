// WorkerModel: the Model API with the model living in a worker, so loading and scoring never
// block the page. The class is the same for both hosts; how a worker starts and what may cross
// to it is each entry's own (worker-model.js: a module Web Worker; node/worker-model.js: a
// worker_threads worker), passed to workerModelClass().
import { EdgerecError } from './errors.js';

function plainInteractions(x) {
  return x && typeof x.interactions === 'function' ? x.interactions() : x;
}

// Bytes are copied, then transferred, so the caller keeps its own; a Response is read here.
// Everything else is the host's `resolveUrl(source)` (relative URLs against the page, or paths).
async function portable(source, resolveUrl) {
  if (source instanceof ArrayBuffer) return { value: source.slice(0), transfer: true };
  if (ArrayBuffer.isView(source)) {
    const copy = new Uint8Array(source.buffer, source.byteOffset, source.byteLength).slice();
    return { value: copy.buffer, transfer: true };
  }
  if (typeof Response !== 'undefined' && source instanceof Response) {
    if (!source.ok) throw new EdgerecError(`model: HTTP ${source.status} ${source.statusText}`.trim());
    return { value: await source.arrayBuffer(), transfer: true };
  }
  if (source instanceof URL) return { value: source.href, transfer: false };
  if (typeof source === 'string') return { value: resolveUrl(source), transfer: false };
  return { value: source, transfer: false };
}

/**
 * The WorkerModel class over a host: `start(workerUrl)` starts a worker running worker.js (the
 * default one when workerUrl is undefined) and returns { post, onMessage, onError, terminate,
 * busy }; `resolveUrl(string)` is what a string source becomes in the worker.
 */
export function workerModelClass(start, resolveUrl) {
  return class WorkerModel {
    #worker;
    #pending = new Map();
    #next = 1;
    #closed = null;

    constructor(worker) {
      this.#worker = worker;
      worker.onMessage((message) => {
        const entry = this.#pending.get(message.id);
        if (!entry) return;
        this.#pending.delete(message.id);
        if (this.#pending.size === 0) this.#worker.busy(false);
        if (message.error) entry.reject(new EdgerecError(message.error.message));
        else entry.resolve(message.result);
      });
      worker.onError((error) => this.#fail(error));
    }

    #fail(error) {
      this.#closed = error;
      for (const entry of this.#pending.values()) entry.reject(error);
      this.#pending.clear();
      this.#worker.terminate();
    }

    #call(method, args, transfer = []) {
      if (this.#closed) return Promise.reject(this.#closed);
      const id = this.#next++;
      return new Promise((resolve, reject) => {
        if (this.#pending.size === 0) this.#worker.busy(true);
        this.#pending.set(id, { resolve, reject });
        this.#worker.post({ id, method, args }, transfer);
      });
    }

    /** Starts a worker and loads the model there (see types/index.d.ts). */
    static async load(source, options = {}) {
      const { workerUrl, ...rest } = options;
      const model = new WorkerModel(await start(workerUrl));
      try {
        const src = await portable(source, resolveUrl);
        const transfer = src.transfer ? [src.value] : [];
        if (rest.wasm !== undefined) {
          const wasm = await portable(rest.wasm, resolveUrl);
          rest.wasm = wasm.value;
          if (wasm.transfer) transfer.push(wasm.value);
        }
        await model.#call('load', [src.value, rest], transfer);
      } catch (e) {
        model.dispose();
        throw e;
      }
      return model;
    }

    info() { return this.#call('info', []); }
    items() { return this.#call('items', []); }
    hasUser(userId) { return this.#call('hasUser', [userId]); }
    hasItem(itemId) { return this.#call('hasItem', [itemId]); }
    item(itemId) { return this.#call('item', [itemId]); }
    catalogue() { return this.#call('catalogue', []); }
    itemMetadata() { return this.#call('itemMetadata', []); }
    similarByContent(itemId, options) { return this.#call('similarByContent', [itemId, options]); }
    recommendCold(interactions, options) { return this.#call('recommendCold', [plainInteractions(interactions), options]); }
    recommend(userId, options) { return this.#call('recommend', [userId, options]); }
    recommendFor(interactions, options) { return this.#call('recommendFor', [plainInteractions(interactions), options]); }
    similar(itemId, options) { return this.#call('similar', [itemId, options]); }
    explain(user, itemId, options) { return this.#call('explain', [plainInteractions(user), itemId, options]); }
    itemEmbeddings() { return this.#call('itemEmbeddings', []); }
    userVector(user) { return this.#call('userVector', [plainInteractions(user)]); }

    /** Stops the worker; pending and later calls reject. */
    dispose() {
      if (this.#closed) return;
      this.#fail(new EdgerecError('the model was disposed'));
    }
  };
}
