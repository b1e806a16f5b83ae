// The worker side of WorkerModel (worker-model.js): holds one Model and answers its calls, so
// scoring runs off the page's main thread. Runs as a module Web Worker in browsers and as a
// worker_threads worker in Node. Messages: {id, method, args} in; {id, result} or
// {id, error: {message}} out.
import { load } from './index.js';

let model = null;

const methods = {
  async load(source, options) {
    if (model) model.dispose();
    model = null;
    model = await load(source, options);
    return model.info();
  },
  info: () => current().info(),
  items: () => current().items(),
  hasUser: (id) => current().hasUser(id),
  hasItem: (id) => current().hasItem(id),
  recommend: (user, options) => current().recommend(user, options),
  recommendFor: (interactions, options) => current().recommendFor(interactions, options),
  similar: (item, options) => current().similar(item, options),
  explain: (user, item, options) => current().explain(user, item, options),
  itemEmbeddings: () => current().itemEmbeddings(),
  userVector: (user) => current().userVector(user),
  dispose() {
    if (model) model.dispose();
    model = null;
    return null;
  },
};

function current() {
  if (!model) throw new Error('no model loaded in this worker');
  return model;
}

// Large typed arrays go back by transfer, not by copy.
function transferables(result) {
  if (result && result.data instanceof Float32Array) return [result.data.buffer];
  if (result && result.vector instanceof Float32Array) return [result.vector.buffer];
  return [];
}

async function answer(message, post) {
  const { id, method, args } = message || {};
  try {
    const fn = Object.prototype.hasOwnProperty.call(methods, method) ? methods[method] : null;
    if (!fn) throw new Error(`unknown method '${method}'`);
    const result = await fn(...(args || []));
    post({ id, result }, transferables(result));
  } catch (e) {
    post({ id, error: { message: e && e.message ? e.message : String(e) } }, []);
  }
}

if (typeof self === 'object' && typeof self.postMessage === 'function' && typeof WorkerGlobalScope !== 'undefined') {
  self.addEventListener('message', (event) => answer(event.data, (reply, transfer) => self.postMessage(reply, transfer)));
} else {
  const { parentPort } = await import('node:worker_threads');
  if (!parentPort) throw new Error('edgerec/worker.js is a worker script: start it with WorkerModel.load()');
  parentPort.on('message', (data) => answer(data, (reply, transfer) => parentPort.postMessage(reply, transfer)));
}
