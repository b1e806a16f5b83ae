// WorkerModel in browsers: a module Web Worker running worker.js. The worker is created with
// the literal `new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })`, the
// pattern Vite, webpack and Parcel recognise to bundle worker.js (and what it imports) as a
// worker chunk of their own.
import { EdgerecError } from './errors.js';
import { workerModelClass } from './worker-client.js';

function start(workerUrl) {
  const worker = workerUrl === undefined
    ? new Worker(new URL('./worker.js', import.meta.url), { type: 'module' })
    : new Worker(workerUrl, { type: 'module' });
  return {
    post: (message, transfer) => worker.postMessage(message, transfer),
    onMessage: (fn) => worker.addEventListener('message', (e) => fn(e.data)),
    onError: (fn) => worker.addEventListener('error', (e) => {
      fn(new EdgerecError(`worker failed: ${e.message || 'could not start (see workerUrl)'}`));
    }),
    terminate: () => worker.terminate(),
    busy: () => {},
  };
}

// Relative URLs are resolved against the page: the worker's own base is its script's URL.
const resolveUrl = (url) => new URL(url, globalThis.document?.baseURI ?? globalThis.location?.href).href;

export const WorkerModel = workerModelClass(start, resolveUrl);
