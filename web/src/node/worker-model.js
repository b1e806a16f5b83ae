// WorkerModel in Node: a worker_threads worker running node/worker.js.
import { Worker } from 'node:worker_threads';

import { EdgerecError } from '../errors.js';
import { workerModelClass } from '../worker-client.js';

function start(workerUrl) {
  const worker = new Worker(workerUrl === undefined ? new URL('./worker.js', import.meta.url)
    : workerUrl instanceof URL ? workerUrl : new URL(String(workerUrl)));
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

// Strings stay as they are: the worker reads paths from the same file system.
export const WorkerModel = workerModelClass(start, (source) => source);
