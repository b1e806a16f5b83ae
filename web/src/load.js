// load() for browsers and workers (the package's default entry; Node gets node/index.js through
// the "node" export condition). No Node module is imported here, so bundlers see none. The wasm
// URL is written as `new URL('<literal>', import.meta.url)`, the pattern Vite, webpack and
// Parcel follow to copy edgerec.wasm into the build and rewrite the URL.
import createEdgerecModule from '../dist/edgerec.mjs';
import { EdgerecError } from './errors.js';
import { createLoader, toBytes } from './model.js';

// LoadOptions.wasm -> where the wasm comes from (see createLoader in model.js).
async function wasmSource(wasm) {
  if (wasm === undefined) return { url: new URL('../dist/edgerec.wasm', import.meta.url) };
  const bytes = toBytes(wasm);
  if (bytes) return { bytes };
  if (typeof wasm === 'string' || wasm instanceof URL) {
    return { url: new URL(String(wasm), globalThis.document?.baseURI ?? globalThis.location?.href) };
  }
  throw new EdgerecError('LoadOptions.wasm must be bytes or a URL');
}

/** Loads a model file into a new wasm-backed Model (see types/index.d.ts). */
export const load = createLoader(createEdgerecModule, wasmSource);
