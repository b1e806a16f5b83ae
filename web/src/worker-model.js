// WorkerModel: the Model API with the model living in a Web Worker (worker.js), so loading and
// scoring never block the page. In Node it uses a worker_threads worker the same way.
import { EdgerecError } from './errors.js';

const IS_NODE = typeof process === 'object' && typeof process.versions === 'object' &&
  typeof process.versions.node === 'string';

// A thin adapter so the rest speaks one interface for both kinds of worker.
async function startWorker(url) {
  if (typeof Worker === 'function' && !IS_NODE) {
    const worker = new Worker(url, { type: 'module', name: 'edgerec' });
    return {
      post: (message, transfer) => worker.postMessage(message, transfer),
      onMessage: (fn) => worker.addEventListener('message', (e) => fn(e.data)),
      onError: (fn) => worker.addEventListener('error', (e) => fn(new EdgerecError(`worker failed: ${e.message || 'could not start'}`))),
      terminate: () => worker.terminate(),
      busy: () => {},
    };
  }
  const { Worker: NodeWorker } = await import('node:worker_threads');
  const worker = new NodeWorker(url instanceof URL ? url : new URL(String(url)));
  // An idle worker must not keep Node running; one with calls in flight must.
  worker.unref();
  return {
    post: (message, transfer) => worker.postMessage(message, transfer),
    onMessage: (fn) => worker.on('message', fn),
    onError: (fn) => worker.on('error', (e) => fn(new EdgerecError(`worker failed: ${e.message}`))),
    terminate: () => worker.terminate(),
    busy: (yes) => (yes ? worker.ref() : worker.unref()),
  };
}

// What can cross to the worker: bytes (copied, then transferred so the caller keeps its own),
// absolute URLs (relative ones resolved against the page) and plain interaction arrays.
async function portable(source) {
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
  if (typeof source === 'string') {
    if (!IS_NODE && typeof location === 'object' && location.href) return { value: new URL(source, location.href).href, transfer: false };
    return { value: source, transfer: false };
  }
  return { value: source, transfer: false };
}

function plainInteractions(x) {
  return x && typeof x.interactions === 'function' ? x.interactions() : x;
}

export class WorkerModel {
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
    const worker = await startWorker(workerUrl ? workerUrl : new URL('./worker.js', import.meta.url));
    const model = new WorkerModel(worker);
    try {
      const src = await portable(source);
      const transfer = src.transfer ? [src.value] : [];
      if (rest.wasm !== undefined) {
        const wasm = await portable(rest.wasm);
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
}
