// The worker side of WorkerModel, for either host: holds one Model and answers its calls, so
// scoring runs off the page's main thread. Messages: {id, method, args} in; {id, result} or
// {id, error: {message}} out. worker.js (module Web Worker) and node/worker.js (worker_threads)
// connect it to their message channel.

// Large typed arrays go back by transfer, not by copy.
function transferables(result) {
  if (result && result.data instanceof Float32Array) return [result.data.buffer];
  if (result && result.vector instanceof Float32Array) return [result.vector.buffer];
  return [];
}

/** Returns answer(message, post) over `load` (the entry's load()). */
export function workerHost(load) {
  let model = null;
  const current = () => {
    if (!model) throw new Error('no model loaded in this worker');
    return model;
  };
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
    item: (id) => current().item(id),
    catalogue: () => current().catalogue(),
    itemMetadata: () => current().itemMetadata(),
    similarByContent: (item, options) => current().similarByContent(item, options),
    recommendCold: (interactions, options) => current().recommendCold(interactions, options),
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
  return async function answer(message, post) {
    const { id, method, args } = message || {};
    try {
      const fn = Object.prototype.hasOwnProperty.call(methods, method) ? methods[method] : null;
      if (!fn) throw new Error(`unknown method '${method}'`);
      const result = await fn(...(args || []));
      post({ id, result }, transferables(result));
    } catch (e) {
      post({ id, error: { message: e && e.message ? e.message : String(e) } }, []);
    }
  };
}
