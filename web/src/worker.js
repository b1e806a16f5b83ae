// The module Web Worker that WorkerModel starts in browsers (edgerec/worker). It imports load()
// alone, not the package entry, so a bundler building this worker never meets the
// `new Worker(...)` of worker-model.js again; and it has no top-level await, so bundlers may
// emit it in any format (Vite's default for workers is an IIFE).
import { load } from './load.js';
import { workerHost } from './worker-host.js';

const answer = workerHost(load);
self.addEventListener('message', (event) => answer(event.data, (reply, transfer) => self.postMessage(reply, transfer)));
