// edgerec in Node (the "node" condition of the package's exports): the API of ../index.js, with
// the wasm read from disk beside the glue and model paths read from the file system. Browser
// builds never see this file, so the Node modules it imports never reach a bundle.
import { open, stat } from 'node:fs/promises';

import createEdgerecModule from '../../dist/edgerec.mjs';
import { EdgerecError } from '../errors.js';
import { createLoader, toBytes } from '../model.js';

export { EdgerecError } from '../errors.js';
export { Model, Bandit } from '../model.js';
export { Profile } from '../profile.js';
export { WorkerModel } from './worker-model.js';
export { version } from '../../dist/version.js';

// The most bytes readLocal() reads: the wasm heap's maximum (EDGEREC_WASM_MAX_MEMORY in
// wasm/CMakeLists.txt), which a model must fit in with its copy.
const MAX_FILE_BYTES = 2 ** 31;

// A regular file only (a device such as /dev/zero or a pipe would be read without end) of at
// most MAX_FILE_BYTES, read into one buffer of its size. The path is checked before opening it,
// since opening a FIFO blocks until a writer comes.
async function readLocalFile(file, name) {
  const check = (st) => {
    if (st.isDirectory()) throw new EdgerecError(`${name}: it is a directory`);
    if (!st.isFile()) throw new EdgerecError(`${name}: not a regular file (a device, pipe or socket)`);
    if (st.size > MAX_FILE_BYTES) {
      throw new EdgerecError(`${name}: ${st.size} bytes is more than the ${MAX_FILE_BYTES}-byte limit of a model file here`);
    }
  };
  check(await stat(file));
  const handle = await open(file, 'r');
  try {
    const st = await handle.stat();  // the file opened may not be the one checked
    check(st);
    const bytes = new Uint8Array(st.size);
    let at = 0;
    while (at < bytes.length) {
      const { bytesRead } = await handle.read(bytes, at, bytes.length - at, at);
      if (bytesRead === 0) break;  // shrunk meanwhile: the reader reports the truncation
      at += bytesRead;
    }
    return at === bytes.length ? bytes : bytes.subarray(0, at);
  } finally {
    await handle.close();
  }
}

/** Reads a path or file: URL into bytes, with a one-line error naming the file. */
export async function readLocal(file) {
  try {
    return await readLocalFile(/^file:/i.test(file) ? new URL(file) : file, file);
  } catch (e) {
    if (e instanceof EdgerecError) throw e;
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
