// The worker_threads worker that WorkerModel starts in Node (edgerec/worker under the "node"
// condition).
import { parentPort } from 'node:worker_threads';

import { workerHost } from '../worker-host.js';
import { load } from './index.js';

if (!parentPort) throw new Error('edgerec/worker is a worker script: start it with WorkerModel.load()');
const answer = workerHost(load);
parentPort.on('message', (data) => answer(data, (reply, transfer) => parentPort.postMessage(reply, transfer)));
