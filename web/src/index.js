// edgerec — on-device recommendations in the browser, a Web Worker or Node. The API is
// documented in ../types/index.d.ts; README.md has examples.
import createEdgerecModule from '../dist/edgerec.mjs';
import { EdgerecError } from './errors.js';
import { createLoader } from './model.js';

export { EdgerecError } from './errors.js';
export { Model } from './model.js';
export { Profile } from './profile.js';
export { WorkerModel } from './worker-model.js';
export { loadOnnx } from './onnx.js';
export { version } from '../dist/version.js';

const IS_NODE = typeof process === 'object' && typeof process.versions === 'object' &&
  typeof process.versions.node === 'string';

// Factory arguments for LoadOptions.wasm. By default browsers fetch edgerec.wasm beside
// edgerec.mjs; Node reads it from disk, because Emscripten 3.1.6 would try Node's fetch() on a
// file path.
async function moduleArgs(wasm) {
  if (wasm === undefined) {
    if (!IS_NODE) return {};
    const { readFile } = await import('node:fs/promises');
    return { wasmBinary: await readFile(new URL('../dist/edgerec.wasm', import.meta.url)) };
  }
  if (wasm instanceof ArrayBuffer || ArrayBuffer.isView(wasm)) {
    const bytes = wasm instanceof ArrayBuffer ? new Uint8Array(wasm) : new Uint8Array(wasm.buffer, wasm.byteOffset, wasm.byteLength);
    return { wasmBinary: bytes };
  }
  if (typeof wasm === 'string' || wasm instanceof URL) {
    const url = String(wasm);
    if (IS_NODE && !/^https?:/i.test(url)) {
      const { readFile } = await import('node:fs/promises');
      return { wasmBinary: await readFile(/^file:/i.test(url) ? new URL(url) : url) };
    }
    return { locateFile: () => url };
  }
  throw new EdgerecError('LoadOptions.wasm must be bytes, a URL or a path');
}

/** Loads a model file into a new wasm-backed Model (see types/index.d.ts). */
export const load = createLoader(createEdgerecModule, moduleArgs);
