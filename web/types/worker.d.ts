// edgerec/worker — the worker script WorkerModel starts (a module Web Worker in browsers, a
// worker_threads worker in Node). It exports nothing: serve it and pass its URL as
// WorkerModel.load(source, { workerUrl }) when it is not beside the package's own module.
export {};
