// edgerec — on-device recommendations in the browser and in Web Workers (the default entry;
// Node resolves 'edgerec' to node/index.js, the same API). The API is documented in
// ../types/index.d.ts; README.md has examples. ONNX Runtime scoring is the separate entry
// 'edgerec/onnx', so pages that do not use it never reference onnxruntime-web.
export { EdgerecError } from './errors.js';
export { Model, Bandit } from './model.js';
export { Profile } from './profile.js';
export { WorkerModel } from './worker-model.js';
export { load } from './load.js';
export { version } from '../dist/version.js';
