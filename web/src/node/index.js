// edgerec in Node (the "node" condition of the package's exports): the API of ../index.js, with
// the wasm read from disk beside the glue and model paths read from the file system. Browser
// builds never see this file, so the Node modules it imports never reach a bundle.
import { readFile } from 'node:fs/promises';

import createEdgerecModule from '../../dist/edgerec.mjs';
import { EdgerecError } from '../errors.js';
import { createLoader, toBytes } from '../model.js';

export { EdgerecError } from '../errors.js';
export { Model } from '../model.js';
export { Profile } from '../profile.js';
export { WorkerModel } from './worker-model.js';
export { version } from '../../dist/version.js';

/** Reads a path or file: URL into bytes, with a one-line error naming the file. */
export async function readLocal(file) {
  try {
    return new Uint8Array(await readFile(/^file:/i.test(file) ? new URL(file) : file));
  } catch (e) {
    throw new EdgerecError(`${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
}

// LoadOptions.wasm -> where the wasm comes from (see createLoader in ../model.js): by default
// dist/edgerec.wasm read from disk, since Node's fetch() cannot read files.
async function wasmSource(wasm) {
  if (wasm === undefined) return { bytes: await readLocal(new URL('../../dist/edgerec.wasm', import.meta.url).href) };
  const bytes = toBytes(wasm);
  if (bytes) return { bytes };
  if (typeof wasm === 'string' || wasm instanceof URL) {
    const text = String(wasm);
    return /^https?:/i.test(text) ? { url: text } : { bytes: await readLocal(text) };
  }
  throw new EdgerecError('LoadOptions.wasm must be bytes, a URL or a path');
}

/** Loads a model file (a path, URL, Response or bytes) into a new wasm-backed Model. */
export const load = createLoader(createEdgerecModule, wasmSource, readLocal);
